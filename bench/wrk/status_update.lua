-- POST /cases/{id}/transitions {"action": "decide", "decision": "on_hold", ...} with If-Match.
-- Each thread owns a disjoint slice of the target cases and keeps case -> version: the ETag of
-- each 2xx answer is the case's next version. The answer is matched to its case through
-- X-Request-ID (the service echoes the caller's). A case is never sent twice at once; a case
-- whose answer was not 2xx is dropped (a 412 means this bookkeeping is wrong).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
  data = dofile(args[1])
  local nthreads = tonumber(args[2])
  mine, versions, busy, dead = {}, {}, {}, {}
  for i = tid, #data.cases, nthreads do
    mine[#mine + 1] = i
    versions[i] = data.versions[i]
  end
  pos, seq, bad, codes = 0, 0, 0, ""
  headers = {
    ["Authorization"] = data.auth,
    ["Content-Type"] = "application/json",
  }
end

function request()
  for _ = 1, #mine do
    pos = pos % #mine + 1
    local i = mine[pos]
    if not busy[i] and not dead[i] then
      busy[i] = true
      seq = seq + 1
      headers["If-Match"] = '"' .. versions[i] .. '"'
      -- the service keeps only a UUID as the request id: the case's index is its first field
      headers["X-Request-ID"] = string.format("%08x-0000-4000-8000-%012x", i, seq)
      return wrk.format("POST", "/api/v1/cases/" .. data.cases[i] .. "/transitions",
                        headers, data.body)
    end
  end
  error("every case of this thread is in flight or failed")
end

function response(status, headers, body)
  local rid = headers["x-request-id"] or headers["X-Request-ID"] or ""
  local hex = rid:match("^(%x+)-0000-4000-8000-%x+$")
  local i = hex and tonumber(hex, 16)
  if i then busy[i] = nil end
  local etag = headers["etag"] or headers["ETag"]
  local version = etag and etag:match("(%d+)")
  if status >= 200 and status < 300 and i and version then
    versions[i] = version
  else
    if i then dead[i] = true end
    count_status(status)
  end
end
