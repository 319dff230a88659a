-- bench/wrk/suite.lua: wrk script for bench/suite.sh.
--
-- Request: GET by default. With WRK_BODY_FILE set, POST that file's contents as
-- application/json (the JSON echo handler).
--
-- Report: wrk's own --latency table stops at p99, so done() prints one extra
-- line with the figures the suite needs, in microseconds, including p99.9:
--   SUITE requests=N duration_us=N p50_us=N p99_us=N p999_us=N max_us=N ...
-- followed by wrk's error counts (connect, read, write, status = non-2xx/3xx,
-- timeout).

local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "SUITE requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
