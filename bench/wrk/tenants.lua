-- bench/wrk/tenants.lua: wrk script for bench/tenants.sh. Picks the Host header of each
-- request; the generated app I answers on host appI.test.
--
-- Environment:
--   TENANTS_MODE   zipf   host of app K-1 with probability proportional to 1/K^TENANTS_S
--                          (Zipf over TENANTS_APPS apps; a cumulative table built once, then a
--                          binary search per request)
--                  cycle  app 0, 1, ..., TENANTS_APPS-1, 0, ... in turn (per wrk thread)
--                  paced  always TENANTS_HOST, each connection waiting TENANTS_DELAY_MS before
--                          each request (an approximately fixed rate; wrk does not count the
--                          wait in the latency)
--   TENANTS_APPS   number of apps (zipf, cycle)
--   TENANTS_S      Zipf exponent (default 1.0)
--   TENANTS_SEED   random seed (default 1)
--
-- done() prints one line with what wrk's own summary lacks:
--   TENANTS requests=N p50_us=N p99_us=N p999_us=N max_us=N err_status=N err_timeout=N ...

local mode = os.getenv("TENANTS_MODE") or "zipf"
local apps = tonumber(os.getenv("TENANTS_APPS") or "1")
local s = tonumber(os.getenv("TENANTS_S") or "1.0")
local fixed_host = os.getenv("TENANTS_HOST") or "app0.test"
local delay_ms = tonumber(os.getenv("TENANTS_DELAY_MS") or "0")

local hosts = {}
for i = 1, apps do hosts[i] = "app" .. (i - 1) .. ".test" end

local cdf = {}
if mode == "zipf" then
  local sum = 0
  for k = 1, apps do
    sum = sum + 1 / (k ^ s)
    cdf[k] = sum
  end
  for k = 1, apps do cdf[k] = cdf[k] / sum end
  cdf[apps] = 1
end

-- Pre-formatted requests, one per app, so the per-request cost is the choice alone.
local requests = {}
local next_app = 0

function init(args)
  math.randomseed(tonumber(os.getenv("TENANTS_SEED") or "1"))
  for i = 1, apps do
    requests[i] = wrk.format("GET", "/", { Host = hosts[i] })
  end
  if mode == "paced" then
    requests[1] = wrk.format("GET", "/", { Host = fixed_host })
  end
end

local function zipf_index()
  local r = math.random()
  local lo, hi = 1, apps
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if cdf[mid] < r then lo = mid + 1 else hi = mid end
  end
  return lo
end

function request()
  if mode == "zipf" then
    return requests[zipf_index()]
  elseif mode == "cycle" then
    next_app = next_app % apps + 1
    return requests[next_app]
  end
  return requests[1]
end

if mode == "paced" then
  function delay() return delay_ms end
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    "TENANTS requests=%d duration_us=%d p50_us=%d p99_us=%d p999_us=%d max_us=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
