-- The same request every time (the funnel report, sign-in): method, path, headers and body
-- come from the data file.
dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "common.lua")

function init(args)
  data = dofile(args[1])
  bad, codes = 0, ""
  prepared = wrk.format(data.method, data.path, data.headers, data.body)
end

function request()
  return prepared
end
