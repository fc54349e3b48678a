-- wrk script for bench/drain.sh: stores exactly DRAIN_N events as fast as
-- possible through POST /webhooks/<source>/batch, DRAIN_BATCH unique events
-- per request.
--
--   DRAIN_N=200000 DRAIN_BATCH=100 wrk -t1 -c16 -d600s -s bench/drain/load_batch.lua \
--       http://127.0.0.1:18280/webhooks/drain/batch
--
-- Environment:
--   DRAIN_N            events to store over all threads (default 200000)
--   DRAIN_BATCH        events per request (default 100; deskhook takes up to 1000)
--   DRAIN_RUN          a tag that makes bodies unique across runs (default: the clock)
--   DRAIN_PAD          bytes of padding in each event's description (default 200)
--   DRAIN_HEALTH_PATH  what a connection asks once its thread's events are
--                      all sent (default /health)
--   DRAIN_THREADS      the -t given to wrk (default 1), to split DRAIN_N
--   DRAIN_DONE_DIR     each thread creates thread-<n>.done here when it stops
--
-- wrk sends requests for a duration, not a count. Each thread therefore
-- sends its share of batches and then only cheap GETs of DRAIN_HEALTH_PATH,
-- and stops itself (wrk.thread:stop()) once every one of its batches has
-- been answered. wrk itself still waits for -d (an upper bound) unless it
-- gets SIGINT: drain.sh sends that once every thread has left its
-- DRAIN_DONE_DIR marker. A batch answer is recognised by the
-- "created_count" in its body, so the GETs are not counted.
--
-- done() prints one line starting with "DRAIN_LOAD": batches sent and
-- answered, events created, failed and duplicate (summed from the answers),
-- and batch answers that were not 200.

local total   = tonumber(os.getenv("DRAIN_N") or "") or 200000
local batch   = tonumber(os.getenv("DRAIN_BATCH") or "") or 100
local run     = os.getenv("DRAIN_RUN") or tostring(os.time())
local padlen  = tonumber(os.getenv("DRAIN_PAD") or "") or 200
local health  = os.getenv("DRAIN_HEALTH_PATH") or "/health"
local done_dir = os.getenv("DRAIN_DONE_DIR")
local stopped = false

-- Per thread, set from setup(): its first event number and how many.
thread_id = 0
first_event = 0
quota = 0

-- Per thread counters, read by done() through thread:get().
sent_events = 0
sent_batches = 0
answered = 0
created = 0
failed = 0
duplicates = 0
bad_status = 0

local pad = string.rep("x", padlen)
local priorities = { "low", "medium", "high", "urgent" }

local function event_json(n)
  return string.format(
    '{"event":"ticket.created","ticket_id":"D-%s-%d","subject":"Drain test %d",'
    .. '"description":"Event %d of run %s. %s","status":"open","priority":"%s",'
    .. '"customer_email":"customer%d@bench.example","tags":["bench","drain"]}',
    run, n, n, n, run, pad, priorities[n % 4 + 1], n)
end

local post_head = nil
local get_req = nil

local function heads()
  local host = wrk.headers["Host"] or wrk.host
  if wrk.port and wrk.port ~= "" then host = host .. ":" .. wrk.port end
  post_head = "POST " .. wrk.path .. " HTTP/1.1\r\n"
    .. "Host: " .. host .. "\r\n"
    .. "Content-Type: application/json\r\n"
    .. "User-Agent: deskhook-bench-drain\r\n"
    .. "Content-Length: "
  get_req = "GET " .. health .. " HTTP/1.1\r\nHost: " .. host
    .. "\r\nUser-Agent: deskhook-bench-drain\r\n\r\n"
end

-- wrk (4.x) calls request() once in the first thread's state before the
-- run to check the request, and throws the result away. The first call in
-- every thread therefore returns the cheap GET, so no batch is lost; in the
-- other threads that GET really goes out, and its answer is ignored.
local first_call = true

function request()
  if post_head == nil then heads() end
  if first_call then
    first_call = false
    return get_req
  end
  if sent_events >= quota then return get_req end
  local n = math.min(batch, quota - sent_events)
  local parts = {}
  for i = 1, n do parts[i] = event_json(first_event + sent_events + i - 1) end
  sent_events = sent_events + n
  sent_batches = sent_batches + 1
  local body = "[" .. table.concat(parts, ",") .. "]"
  return post_head .. #body .. "\r\n\r\n" .. body
end

function response(status, headers, body)
  local c = body and string.match(body, '"created_count":%s*(%d+)')
  if c then
    answered = answered + 1
    created = created + tonumber(c)
    failed = failed + tonumber(string.match(body, '"failed_count":%s*(%d+)') or "0")
    duplicates = duplicates + tonumber(string.match(body, '"duplicate_count":%s*(%d+)') or "0")
  elseif status ~= 200 then
    -- A refused batch (413, 429, 503, ...): answered, nothing created.
    answered = answered + 1
    bad_status = bad_status + 1
  end
  if sent_events >= quota and answered >= sent_batches and not stopped then
    stopped = true
    if done_dir then
      local f = io.open(string.format("%s/thread-%d.done", done_dir, thread_id), "w")
      if f then f:close() end
    end
    wrk.thread:stop()
  end
end

local threads = {}

function setup(thread)
  local i = #threads
  local nthreads = tonumber(os.getenv("DRAIN_THREADS") or "") or 1
  local share = math.floor(total / nthreads)
  local extra = (i < total % nthreads) and 1 or 0
  local first = i * share + math.min(i, total % nthreads)
  thread:set("thread_id", i)
  thread:set("first_event", first)
  thread:set("quota", share + extra)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local s = { sent_batches = 0, sent_events = 0, answered = 0, created = 0, failed = 0,
              duplicates = 0, bad_status = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(s) do s[k] = s[k] + t:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    "DRAIN_LOAD batches=%d events_sent=%d answered=%d created=%d failed=%d duplicates=%d "
    .. "bad_status=%d requests=%d duration_us=%d err_connect=%d err_read=%d err_write=%d "
    .. "err_timeout=%d\n",
    s.sent_batches, s.sent_events, s.answered, s.created, s.failed, s.duplicates, s.bad_status,
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout))
end
