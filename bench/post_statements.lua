-- wrk script for `custody bench http`: single-statement POSTs of pre-signed bodies.
--
--   wrk -t T -c C -d D --latency --timeout 10s -s bench/post_statements.lua URL -- BODIES T
--
-- BODIES is a file of lines "<API token>\t<envelope JSON>", written by the benchmark.
-- Thread k of T sends lines k, k+T, k+2T, … exactly once each (a statement may be
-- appended only once: a resent one would be a 409 replay), so the file must hold more
-- statements than the run will send. When a thread runs out it stops, and `done`
-- reports "exhausted" so the caller can tell a short run from a slow server.
--
-- `done` prints ONE line "WRK_JSON {…}" with requests, duration, errors by kind, the
-- responses by status, and latency percentiles in microseconds (wrk's own HdrHistogram).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local tokens, bodies = {}, {}
local position = 0
local headers = {}

function init(args)
  local path, step = args[1], tonumber(args[2])
  local number = 0
  for line in io.lines(path) do
    if number % step == id then
      local tab = line:find("\t", 1, true)
      tokens[#tokens + 1] = "Bearer " .. line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    number = number + 1
  end
  statuses = {}
  exhausted = 0
  headers["Content-Type"] = "application/json"
end

function request()
  position = position + 1
  if position > #bodies then
    exhausted = 1
    wrk.thread:stop()
    position = #bodies
  end
  headers["Authorization"] = tokens[position]
  return wrk.format("POST", "/api/v1/statements", headers, bodies[position])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

local function json_table(t)
  local parts = {}
  for k, v in pairs(t) do
    parts[#parts + 1] = string.format('"%s": %d', k, v)
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local total, ran_out = {}, 0
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("statuses")) do
      total[k] = (total[k] or 0) + v
    end
    ran_out = ran_out + thread:get("exhausted")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "statuses": %s, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"threads_exhausted": %d, "latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, '
      .. '"p99": %d, "p999": %d, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, json_table(total),
    e.connect, e.read, e.write, e.status, e.timeout, ran_out,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
