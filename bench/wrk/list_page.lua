-- A keyset page starting at a random case: GET /cases?status=submitted&limit=50&cursor=… as a
-- resettlement officer, or a search (GET /cases?q=…&limit=50&cursor=…) as a caseworker; the
-- path up to the cursor comes from the data file (cursors made by the service's own encoder,
-- drawn from all N).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
  data = dofile(args[1])
  math.randomseed(os.time() * 1000 + tid)
  headers = {["Authorization"] = data.auth}
  bad, codes = 0, ""
end

function request()
  local cursor = data.cursors[math.random(1, #data.cursors)]
  return wrk.format("GET", data.path .. cursor, headers)
end
