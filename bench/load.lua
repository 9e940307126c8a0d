-- wrk script for the benchmarks: one method, path, bearer token and body for every request.
-- Arguments (after `--`): METHOD PATH TOKEN [BODY]; "{uniq}" in BODY becomes a value unique
-- to the request (thread and counter), so that creates never collide on a unique name.
-- done() prints one line, "BENCH_JSON {...}", which bench/wrk.py parses.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

local method, path, body_template
local counter = 0
local headers = {}
failures = ""  -- "status," per failed answer, read by done() through thread:get

function response(status, headers, body)
  if status >= 400 then
    failures = failures .. status .. ","
  end
end

function init(args)
  method, path = args[1], args[2]
  if args[3] ~= nil and args[3] ~= "" then
    headers["Authorization"] = "Bearer " .. args[3]
  end
  body_template = args[4]
  if body_template ~= nil then
    headers["Content-Type"] = "application/json"
  end
end

function request()
  counter = counter + 1
  local body = nil
  if body_template ~= nil then
    local uniq = string.format("%d-%d", thread_id or 0, counter)
    body = string.gsub(body_template, "{uniq}", uniq)
  end
  return wrk.format(method, path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local failed = ""
  for _, thread in ipairs(threads) do
    failed = failed .. thread:get("failures")
  end
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"failed_statuses": "%s"}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), failed))
end
