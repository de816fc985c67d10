-- GET /cases/{id} (and /cases/{id}/possible-duplicates: data.suffix) for a case drawn at random
-- among all N loaded (ids are a function of n).
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

local function case_id(n)
  local x = data.base_ms + n
  local h = string.format("%06x%06x", math.floor(x / 16777216), x % 16777216) .. data.tail
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-" .. h:sub(13, 16) .. "-" .. h:sub(17, 20)
    .. "-" .. h:sub(21)
end

function init(args)
  data = dofile(args[1])
  math.randomseed(os.time() * 1000 + tid)
  headers = {["Authorization"] = data.auth}
  bad, codes = 0, ""
end

function request()
  local path = "/api/v1/cases/" .. case_id(math.random(1, data.n)) .. data.suffix
  return wrk.format("GET", path, headers)
end
