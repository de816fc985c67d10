-- POST /cases/{id}/transitions {"action": "decide", "decision": "on_hold", ...} with If-Match.
-- Each thread owns a disjoint slice of the target cases and keeps case -> version: the ETag of
-- each 2xx answer is the case's next version. The answer is matched to its case through
-- X-Request-ID (the service echoes the caller's when it is a UUID). A case is never sent twice
-- at once; a case whose answer was not 2xx is dropped (a 412 means this bookkeeping is wrong).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

-- The service keeps a caller's X-Request-ID only if it is a UUID, so the case's index travels
-- in the first field and a sequence number in the last: iiiiiiii-0000-4000-8000-ssssssssssss.
local ID_MIDDLE = "-0000-4000-8000-"

local function request_id(i, n)
  return string.format("%08x" .. ID_MIDDLE .. "%012x", i, n)
end

-- The case index an answer's X-Request-ID carries, or nil if this script did not make it.
-- Plain comparisons, no pattern: in a Lua pattern "-" is a quantifier, not a hyphen.
local function case_of(rid)
  if #rid ~= 36 or rid:sub(9, 8 + #ID_MIDDLE) ~= ID_MIDDLE then return nil end
  return tonumber(rid:sub(1, 8), 16)
end

function init(args)
  data = dofile(args[1])
  local nthreads = tonumber(args[2])
  mine, versions, busy, dead = {}, {}, {}, {}
  for i = tid, #data.cases, nthreads do
    mine[#mine + 1] = i
    versions[i] = data.versions[i]
  end
  pos, seq, bad, codes = 0, 0, 0, ""
  -- wrk calls request() once on the first thread to check the script before it connects
  -- (script_verify_request): that request is never sent, so it must not take a case.
  checking = tid == 1
  headers = {
    ["Authorization"] = data.auth,
    ["Content-Type"] = "application/json",
  }
end

function request()
  if checking then
    checking = false
    return wrk.format("POST", "/api/v1/cases/" .. data.cases[mine[1]] .. "/transitions",
                      headers, data.body)
  end
  for _ = 1, #mine do
    pos = pos % #mine + 1
    local i = mine[pos]
    if not busy[i] and not dead[i] then
      busy[i] = true
      seq = seq + 1
      headers["If-Match"] = '"' .. versions[i] .. '"'
      headers["X-Request-ID"] = request_id(i, seq)
      return wrk.format("POST", "/api/v1/cases/" .. data.cases[i] .. "/transitions",
                        headers, data.body)
    end
  end
  local in_flight, failed = 0, 0
  for _, i in ipairs(mine) do
    if busy[i] then in_flight = in_flight + 1 elseif dead[i] then failed = failed + 1 end
  end
  error(string.format("every case of this thread is in flight (%d) or failed (%d; statuses: %s)",
                      in_flight, failed, codes))
end

function response(status, headers, body)
  local rid = headers["x-request-id"] or headers["X-Request-ID"] or ""
  local i = case_of(rid)
  if not i then
    -- the case stays in flight for ever: stop now, saying why, rather than starve later
    error(string.format("a %d answer carries X-Request-ID '%s', not one this script sent",
                        status, rid))
  end
  busy[i] = nil
  local etag = headers["etag"] or headers["ETag"]
  local version = etag and etag:match("(%d+)")
  if status >= 200 and status < 300 and version then
    versions[i] = version
  else
    dead[i] = true
    count_status(status)
  end
end
