-- wrk script for the intake benchmark: every request POSTs one structured-mode CloudEvent of about
-- 2 KB with an id that no other request of the run repeats (run tag, thread number, counter), so
-- the server has to store every event instead of answering cheap duplicates.
--
-- Usage: wrk ... -s post-cloudevent.lua <url> -- <run-tag> [body-bytes] [ascending|random]
-- Ids ascend by default (run tag, thread, counter). With `random` a random hex part follows the run
-- tag, so ids sort in no particular order, as UUIDs do: every insert lands on another page of the
-- server's dedupe index.
-- done() prints one line for the harness to parse:
--   BENCH_STATUS {"2xx":N,"non2xx":N,"statuses":{"202":N,...}}

local threads = {}
local next_thread = 1

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

-- Per-thread state. The counters are globals because done() reads them with thread:get().
local run_tag
local target_bytes
local counter = 0
local random_ids = false
local padding = ""
ok_count = 0
bad_count = 0
statuses = {}
local headers = { ["Content-Type"] = "application/cloudevents+json" }

-- The fixed part of the body, before the padding is sized.
local function body_for(id, time, pad)
  return '{"specversion":"1.0","type":"com.example.bench","source":"bench/wrk",'
    .. '"id":"' .. id .. '","time":"' .. time .. '","datacontenttype":"application/json",'
    .. '"data":{"repository":"example/service","branch":"main",'
    .. '"commit":"3f786850e387550fdab836ed7e6dc881de23001b","actor":"bench",'
    .. '"labels":["bench","load","intake"],"padding":"' .. pad .. '"}}'
end

function init(args)
  run_tag = args[1] or "run"
  target_bytes = tonumber(args[2] or "2048")
  random_ids = args[3] == "random"
  math.randomseed(os.time() * 1000 + thread_no)
  -- Size the padding once so that the whole body is about target_bytes long.
  local random_part = random_ids and "0123456789abcdef-" or ""
  local sample = body_for(run_tag .. "-" .. random_part .. thread_no .. "-" .. 1000000, "2026-01-01T00:00:00Z", "")
  local need = target_bytes - #sample
  if need < 0 then need = 0 end
  padding = string.rep("x", need)
end

function request()
  counter = counter + 1
  local random_part = ""
  if random_ids then
    random_part = string.format("%08x%08x-", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  end
  local id = run_tag .. "-" .. random_part .. thread_no .. "-" .. counter
  local body = body_for(id, os.date("!%Y-%m-%dT%H:%M:%SZ"), padding)
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok_count = ok_count + 1
  else
    bad_count = bad_count + 1
  end
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local ok, bad, merged = 0, 0, {}
  for _, thread in ipairs(threads) do
    ok = ok + (thread:get("ok_count") or 0)
    bad = bad + (thread:get("bad_count") or 0)
    local counts = thread:get("statuses")
    if counts then
      for status, n in pairs(counts) do
        merged[status] = (merged[status] or 0) + n
      end
    end
  end
  local parts = {}
  for status, n in pairs(merged) do
    table.insert(parts, '"' .. status .. '":' .. n)
  end
  table.sort(parts)
  io.write(string.format(
    'BENCH_STATUS {"2xx":%d,"non2xx":%d,"statuses":{%s},"durationUs":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d}\n',
    ok, bad, table.concat(parts, ","), summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
