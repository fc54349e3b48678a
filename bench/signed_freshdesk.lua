-- wrk script: every request is a unique, HMAC-signed Freshdesk-style webhook.
--
--   wrk -t1 -c64 -d10s --latency -s bench/signed_freshdesk.lua \
--       http://127.0.0.1:18082/webhooks/freshdesk
--
-- Environment:
--   BENCH_SECRET        HMAC-SHA256 secret (default bench-secret-0123456789)
--   BENCH_HEADER        signature header (default X-Webhook-Signature)
--   BENCH_BODY_BYTES    target body size in bytes (default 1500)
--   BENCH_ID_BASE       first ticket id of this run; give each wrk run against
--                       the same server a different base so ids never repeat
--                       (default derived from the clock)
--   BENCH_COUNT_STATUS  1 = count every response by status class in
--                       response() (small per-request cost); otherwise only
--                       wrk's own count of statuses > 399 is reported
--   BENCH_DUMP          directory: the first requests built by each Lua state
--                       are written there as <tag>-<n>.body / .sig so the
--                       signatures can be checked with openssl or python
--
-- done() prints one machine-readable line starting with "BENCH_RESULT".
--
-- Uniqueness: ticket_id = base + thread * 10^8 + counter, and the delivery id
-- carries base, thread and counter, so several wrk threads (and several wrk
-- runs with distinct BENCH_ID_BASE) never produce the same body.

local ffi = require("ffi")

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n,
                    unsigned char *md, unsigned int *md_len);
]]

local function load_crypto()
  local errs = {}
  for _, name in ipairs({ "crypto", "libcrypto.so.3", "libcrypto.so" }) do
    local ok, lib = pcall(ffi.load, name)
    if ok then return lib end
    errs[#errs + 1] = tostring(lib)
  end
  error("signed_freshdesk.lua: cannot load OpenSSL libcrypto: " .. table.concat(errs, "; "))
end

local crypto   = load_crypto()
local sha256   = crypto.EVP_sha256()
local secret   = os.getenv("BENCH_SECRET") or "bench-secret-0123456789"
local sig_hdr  = os.getenv("BENCH_HEADER") or "X-Webhook-Signature"
local target   = tonumber(os.getenv("BENCH_BODY_BYTES") or "") or 1500
local id_base  = tonumber(os.getenv("BENCH_ID_BASE") or "")
                 or (os.time() % 100000) * 1e9
local dump_dir = os.getenv("BENCH_DUMP")
local count_status = os.getenv("BENCH_COUNT_STATUS") == "1"

local md     = ffi.new("unsigned char[32]")
local md_len = ffi.new("unsigned int[1]")
local hexbuf = ffi.new("char[64]")
local HEX    = ffi.new("const char[17]", "0123456789abcdef")

local function hmac_hex(body)
  crypto.HMAC(sha256, secret, #secret, body, #body, md, md_len)
  for i = 0, 31 do
    local b = md[i]
    hexbuf[2 * i]     = HEX[bit.rshift(b, 4)]
    hexbuf[2 * i + 1] = HEX[bit.band(b, 15)]
  end
  return ffi.string(hexbuf, 64)
end

-- Set per thread from setup(); the main Lua state keeps 0.
thread_id = 0
local counter = 0

local statuses = { "Open", "Pending", "Resolved", "Waiting on Customer" }
local priorities = { "Low", "Medium", "High", "Urgent" }
local names = { "Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra",
                "Barbara Liskov", "Donald Knuth", "Margaret Hamilton", "Ken Thompson" }

-- Everything but the description padding; %s slots are filled per request.
local TEMPLATE = '{"freshdesk_webhook":{'
  .. '"ticket_id":%.0f,'
  .. '"ticket_subject":"Order #%.0f arrived damaged, requesting a replacement",'
  .. '"ticket_description":"<div>Hello support team,<br><br>The parcel for order #%.0f '
  ..   'arrived with a cracked casing. %s</div>",'
  .. '"ticket_url":"https://bench.freshdesk.com/helpdesk/tickets/%.0f",'
  .. '"ticket_portal_url":"https://support.bench.example/support/tickets/%.0f",'
  .. '"ticket_status":"%s",'
  .. '"ticket_priority":"%s",'
  .. '"ticket_source":"Email",'
  .. '"ticket_type":"Incident",'
  .. '"ticket_tags":"shipping,damaged,replacement",'
  .. '"ticket_group_name":"Tier 1",'
  .. '"ticket_agent_name":"Support Agent",'
  .. '"ticket_agent_email":"agent@bench.example",'
  .. '"ticket_contact_name":"%s",'
  .. '"ticket_contact_email":"customer%.0f@bench.example",'
  .. '"ticket_contact_phone":"+1 555 0100",'
  .. '"ticket_company_name":"Bench Corp",'
  .. '"ticket_created_at":"2024-05-14T09:21:07Z",'
  .. '"ticket_updated_at":"2024-05-14T09:%02d:%02dZ",'
  .. '"ticket_due_by_time":"2024-05-17T09:21:07Z",'
  .. '"triggered_event":"{ticket_action:created}",'
  .. '"delivery_id":"%.0f-%d-%d"'
  .. '}}'

local FILLER = "Steps taken so far: photographed the box, kept the packaging, "
  .. "checked the serial label on the underside of the unit. "

local filler = ""

local function build(tid, n)
  local id = id_base + tid * 1e8 + n
  return string.format(TEMPLATE, id, id, id, filler, id, id,
    statuses[n % #statuses + 1], priorities[n % #priorities + 1],
    names[n % #names + 1], id, math.floor(n / 60) % 60, n % 60,
    id_base, tid, n)
end

-- Size the description padding once so bodies come out at ~target bytes.
do
  local base_len = #build(0, 0)
  local need = target - base_len
  if need > 0 then
    filler = string.rep(FILLER, math.ceil(need / #FILLER)):sub(1, need)
  end
end

local dumped = 0
local function dump(body, sig)
  if not dump_dir or dumped >= 3 then return end
  dumped = dumped + 1
  local tag = string.format("%s/t%d-%d", dump_dir, thread_id, dumped)
  local f = assert(io.open(tag .. ".body", "wb")); f:write(body); f:close()
  f = assert(io.open(tag .. ".sig", "wb")); f:write(sig); f:close()
end

-- The request head is assembled by plain concatenation: wrk.format() walks
-- the header table with pairs(), which LuaJIT cannot compile, and that alone
-- costs a visible share of the client's CPU at these rates.
local head = nil

local function request_head()
  local host = wrk.headers["Host"] or wrk.host
  if wrk.port and not (wrk.headers["Host"]) and wrk.port ~= "" then
    local default = (wrk.scheme == "https" and "443") or "80"
    if tostring(wrk.port) ~= default then host = host .. ":" .. wrk.port end
  end
  return "POST " .. wrk.path .. " HTTP/1.1\r\n"
    .. "Host: " .. host .. "\r\n"
    .. "Content-Type: application/json\r\n"
    .. "User-Agent: deskhook-bench\r\n"
    .. sig_hdr .. ": "
end

function request()
  counter = counter + 1
  local body = build(thread_id, counter)
  local sig = hmac_hex(body)
  if dump_dir then dump(body, sig) end
  head = head or request_head()
  return head .. sig .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

-- Status counting (only when BENCH_COUNT_STATUS=1: wrk skips header/body
-- parsing entirely when response is nil after init()).
c2xx, c3xx, c4xx, c5xx, cother = 0, 0, 0, 0, 0

local function count(status)
  if status < 300 then
    if status >= 200 then c2xx = c2xx + 1 else cother = cother + 1 end
  elseif status < 400 then c3xx = c3xx + 1
  elseif status < 500 then c4xx = c4xx + 1
  elseif status < 600 then c5xx = c5xx + 1
  else cother = cother + 1 end
end

function response(status, headers, body)
  count(status)
end

function init(args)
  if not count_status then response = nil end
end

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local e = summary.errors
  local line = string.format(
    "BENCH_RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d "
    .. "max_us=%d non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d body_bytes=%d",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, #build(0, 1))
  if count_status then
    local s = { 0, 0, 0, 0, 0 }
    for _, t in ipairs(threads) do
      s[1] = s[1] + t:get("c2xx"); s[2] = s[2] + t:get("c3xx")
      s[3] = s[3] + t:get("c4xx"); s[4] = s[4] + t:get("c5xx")
      s[5] = s[5] + t:get("cother")
    end
    line = line .. string.format(" s2xx=%d s3xx=%d s4xx=%d s5xx=%d sother=%d",
      s[1], s[2], s[3], s[4], s[5])
  end
  io.write(line, "\n")
end
