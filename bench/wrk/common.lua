-- Shared by every benchmark script: per-thread ids, and one machine-readable summary line.
-- Each script is run as: wrk -t T -c C -d D -s bench/wrk/<op>.lua URL -- <data.lua> <threads>
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

-- Count a non-2xx answer by status (wrk itself counts only status >= 400).
function count_status(status)
  bad = (bad or 0) + 1
  codes = (codes or "") .. status .. " "
end

function done(summary, latency, requests)
  local bad_total, codes_all = 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
    codes_all = codes_all .. (thread:get("codes") or "")
  end
  local statuses = {}
  for code in codes_all:gmatch("%d+") do statuses[code] = (statuses[code] or 0) + 1 end
  local parts = {}
  for code, n in pairs(statuses) do parts[#parts + 1] = string.format('"%s": %d', code, n) end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "status_errors": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, "lua_non_2xx": %d, ' ..
    '"lua_statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, bad_total,
    table.concat(parts, ", ")))
end
