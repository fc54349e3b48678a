#!/usr/bin/env bash
# Benchmark: outbound delivery. deskhook with one endpoint (Standard Webhooks
# signing) pointing at a local nginx that answers 200 to every POST.
#
#   drain  pause the endpoint, store N events (POST /webhooks/drain/batch,
#          BATCH events per request, driven by wrk), wait until /api/stats
#          shows N pending deliveries, resume the endpoint and time how long
#          it takes until nothing is pending, in flight or waiting for a
#          retry. Reports deliveries/s, checks that nginx logged N requests
#          with N distinct webhook-ids and that /api/stats shows N delivered.
#   peer   the same drain done by a hand-rolled Python outbox worker
#          (bench/drain/outbox_peer.py: SQLite outbox table, asyncio + httpx,
#          Standard Webhooks signing, same receiver, same max in flight, on
#          the same core): stores N events, then times the drain alone.
#          Reports deliveries/s, checks nginx's log as for drain and, when
#          drain ran too, prints the ratio deskhook/peer.
#   mixed  the ingest load of bench/run.sh (signed Freshdesk webhooks,
#          bench/signed_freshdesk.lua) for MIXED_DURATION against a gateway
#          whose endpoint is active: ingest req/s, deliveries/s during the
#          load, the backlog at its end, and how long the backlog then takes
#          to drain.
#   load   only store N events through the batch path and check the count,
#          with bench/drain/deskhook-load.yaml (no endpoints): the loading
#          step on its own, and the batch ingest rate without delivery.
#
# Usage: bash bench/drain.sh [drain|peer|mixed|load ...]   (default: drain peer mixed)
#
# Knobs (environment):
#   N                 events for the drain (default 200000)
#   BATCH             events per batch request (default 100, at most 1000)
#   MAX_IN_FLIGHT     the endpoint's max_in_flight (default 256)
#   GLOBAL_MAX_IN_FLIGHT  delivery.max_in_flight (default 4096)
#   LOAD_CONNECTIONS  wrk connections while loading the drain's events (default 8)
#   MIXED_DURATION    mixed load, wrk syntax (default 30s)
#   CONNECTIONS       wrk connections of the mixed load (default 64)
#   THREADS           wrk threads (default 1)
#   SERVER_CPU        core for deskhook and for the peer (default 1)
#   CLIENT_CPU        core for wrk and the nginx receiver (default 0)
#   POLL_INTERVAL     seconds between /api/stats polls (default 0.5)
#   LOAD_TIMEOUT      seconds the loading may take (default 600)
#   FILL_TIMEOUT      seconds to wait for N pending after loading (default 60)
#   DRAIN_TIMEOUT     seconds a drain may take (default 900)
#   BASE_PORT         first local port tried (default 18280)
#   BENCH_TMPDIR      where the temporary dir (database, nginx) is made
#   DESKHOOK_BIN      deskhook binary (default build/deskhook)
#   DRAIN_CONFIG      config of drain and mixed (default bench/drain/deskhook-drain.yaml)
#   LOAD_CONFIG       config of load (default bench/drain/deskhook-load.yaml)
#   PYTHON            interpreter of the peer (default /usr/bin/python3)
#   PEER_CLIENT       the peer's HTTP client: auto (aiohttp, the faster, else
#                     httpx), aiohttp or httpx (default auto)
#   PEER_FETCH        pending rows the peer reads per query (default 1000)
#   PEER_FLUSH        outcomes the peer writes per transaction (default 500)
#   KEEP_TMP=1        keep the temporary dir
#
# Output: a summary on stdout; logs, wrk outputs, /api/stats samples
# (stats.*.tsv) and summary.txt in bench/results/drain-<timestamp>/.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
DRAIN_DIR="$BENCH_DIR/drain"

N=${N:-200000}
BATCH=${BATCH:-100}
MAX_IN_FLIGHT=${MAX_IN_FLIGHT:-256}
GLOBAL_MAX_IN_FLIGHT=${GLOBAL_MAX_IN_FLIGHT:-4096}
LOAD_CONNECTIONS=${LOAD_CONNECTIONS:-8}
MIXED_DURATION=${MIXED_DURATION:-30s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
POLL_INTERVAL=${POLL_INTERVAL:-0.5}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}
FILL_TIMEOUT=${FILL_TIMEOUT:-60}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-900}
BASE_PORT=${BASE_PORT:-18280}
DESKHOOK_BIN=${DESKHOOK_BIN:-$ROOT/build/deskhook}
DRAIN_CONFIG=${DRAIN_CONFIG:-$DRAIN_DIR/deskhook-drain.yaml}
LOAD_CONFIG=${LOAD_CONFIG:-$DRAIN_DIR/deskhook-load.yaml}
ENDPOINT=sink
if [ -z "${PYTHON:-}" ]; then
  if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi
PEER_CLIENT=${PEER_CLIENT:-auto}
PEER_FETCH=${PEER_FETCH:-1000}
PEER_FLUSH=${PEER_FLUSH:-500}
export DESKHOOK_ADMIN_TOKEN=${DESKHOOK_ADMIN_TOKEN:-bench-admin-token}
export BENCH_SECRET=${BENCH_SECRET:-bench-secret-0123456789}
export BENCH_COUNT_STATUS=${BENCH_COUNT_STATUS:-1}
export DRAIN_SECRET=${DRAIN_SECRET:-whsec_ZHJhaW4tYmVuY2gtc2VjcmV0LTAxMjM0NTY3ODk=}
export DRAIN_MAX_IN_FLIGHT=$MAX_IN_FLIGHT
export DRAIN_GLOBAL_MAX_IN_FLIGHT=$GLOBAL_MAX_IN_FLIGHT
export DESKHOOK_ALLOW_PRIVATE=127.0.0.0/8

MODES=${*:-drain peer mixed}

log() { printf '[drain] %s\n' "$*" >&2; }
die() { printf '[drain] error: %s\n' "$*" >&2; exit 1; }

for m in $MODES; do
  case "$m" in drain|peer|mixed|load) ;; *) die "unknown mode '$m' (drain, peer, mixed, load)" ;; esac
done
case "$N" in ''|*[!0-9]*) die "N must be a number" ;; esac
case "$BATCH" in ''|*[!0-9]*) die "BATCH must be a number" ;; esac
[ "$N" -gt 0 ] || die "N must be positive"
if [ "$BATCH" -lt 1 ] || [ "$BATCH" -gt 1000 ]; then die "BATCH must be 1 to 1000"; fi
case "$PEER_CLIENT" in auto|httpx|aiohttp) ;; *) die "PEER_CLIENT must be auto, httpx or aiohttp" ;; esac

# ---------------------------------------------------------------- dependencies
NGINX_BIN=$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v taskset >/dev/null || missing+=(util-linux)
command -v python3 >/dev/null || missing+=(python3)
case " $MODES " in *" drain "*|*" peer "*|*" mixed "*) [ -n "$NGINX_BIN" ] || missing+=(nginx) ;; esac
alternative=""
case " $MODES " in
  *" peer "*)
    if ! command -v "$PYTHON" >/dev/null; then
      missing+=(python3)
    else
      # The peer's HTTP client, from Debian (python3-httpx, python3-aiohttp).
      case "$PEER_CLIENT" in
        auto) "$PYTHON" -c 'import aiohttp' 2>/dev/null || "$PYTHON" -c 'import httpx' 2>/dev/null || {
                missing+=(python3-aiohttp); alternative="; python3-httpx works instead of python3-aiohttp"; } ;;
        httpx) "$PYTHON" -c 'import httpx' 2>/dev/null || missing+=(python3-httpx) ;;
        aiohttp) "$PYTHON" -c 'import aiohttp' 2>/dev/null || missing+=(python3-aiohttp) ;;
      esac
    fi ;;
esac
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (Debian: apt-get install ${missing[*]}$alternative; bash bench/run.sh installs wrk, nginx and curl too)"
case " $MODES " in
  *" drain "*|*" mixed "*|*" load "*) [ -x "$DESKHOOK_BIN" ] || die "$DESKHOOK_BIN does not exist: build it first (make)" ;;
esac
if [ "$(nproc)" -le "$SERVER_CPU" ] || [ "$(nproc)" -le "$CLIENT_CPU" ]; then
  die "need cpus $CLIENT_CPU and $SERVER_CPU, this machine has $(nproc)"
fi

# ---------------------------------------------------------------- temp + cleanup
TS=$(date +%Y%m%d-%H%M%S)
RESULTS="$BENCH_DIR/results/drain-$TS"
TMP=""
PIDS=()

stop_pid() {
  local p=$1 _i
  kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
  kill -TERM "$p" 2>/dev/null || true
  for _i in $(seq 1 100); do
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "pid $p did not stop within 10 s: SIGKILL"
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

forget_pid() {
  local p=$1 keep=() q
  for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$p"; done
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$RESULTS"
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/deskhook-drain.XXXXXX")
chmod 755 "$TMP"   # nginx workers drop privileges when started as root

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
NEXT_PORT=$BASE_PORT
PORT=""
next_port() {  # sets PORT to a port nobody listens on, from NEXT_PORT up
  while port_busy "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
  PORT=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1))
}

wait_http() {  # url pid timeout_s
  local url=$1 pid=$2 t=$3 _i
  for _i in $(seq 1 $((t * 10))); do
    kill -0 "$pid" 2>/dev/null || return 1
    curl -fsS -o /dev/null --noproxy '*' --max-time 1 "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

now_ns() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; }

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
proc_tree() { local c; echo "$1"; for c in $(pgrep -P "$1" 2>/dev/null); do proc_tree "$c"; done; }
tree_ticks() {
  local p t total=0
  for p in $(proc_tree "$1"); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
cpu_pct() {  # ticks_before ticks_after ns_before ns_after
  awk -v a="$1" -v b="$2" -v t0="$3" -v t1="$4" -v hz="$CLK_TCK" \
    'BEGIN { e = (t1 - t0) / 1e9; if (e <= 0) print "-"; else printf "%.0f", 100 * (b - a) / hz / e }'
}

# ---------------------------------------------------------------- servers
NGINX_PID=""; RECV_PORT=""; RECV_LOG=""
start_nginx() {  # tag
  local tag=$1 dir="$TMP/nginx-$1"
  mkdir -p "$dir/logs"
  next_port; RECV_PORT=$PORT
  sed -e "s|@PREFIX@|$dir|g" -e "s|@PORT@|$RECV_PORT|g" "$DRAIN_DIR/nginx.conf.in" > "$dir/nginx.conf"
  cp "$dir/nginx.conf" "$RESULTS/nginx.$tag.conf"
  "$NGINX_BIN" -t -q -c "$dir/nginx.conf" -p "$dir/" -e "$dir/logs/error.log" >>"$RESULTS/nginx.$tag.log" 2>&1 \
    || die "nginx -t failed, see $RESULTS/nginx.$tag.log"
  taskset -c "$CLIENT_CPU" "$NGINX_BIN" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/logs/error.log" \
    >>"$RESULTS/nginx.$tag.log" 2>&1 &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
  RECV_LOG="$dir/logs/hook.log"
  wait_http "http://127.0.0.1:$RECV_PORT/health" "$NGINX_PID" 15 || die "nginx did not start (see $RESULTS/nginx.$tag.log)"
  log "receiver: nginx on 127.0.0.1:$RECV_PORT (pid $NGINX_PID, cpu $CLIENT_CPU)"
}

# nginx writes its buffered access log when it stops.
stop_nginx() {
  [ -n "$NGINX_PID" ] || return 0
  stop_pid "$NGINX_PID"; forget_pid "$NGINX_PID"; NGINX_PID=""
}

DH_PID=""; DH_PORT=""; ADMIN=""
start_deskhook() {  # tag config
  local tag=$1 config=$2 dir="$TMP/deskhook-$1" admin_port
  mkdir -p "$dir"
  next_port; DH_PORT=$PORT
  next_port; admin_port=$PORT
  export DRAIN_RECEIVER_PORT=${RECV_PORT:-9}
  if ! "$DESKHOOK_BIN" check -c "$config" >>"$RESULTS/deskhook.$tag.log" 2>&1; then
    tail -n 20 "$RESULTS/deskhook.$tag.log" >&2
    die "deskhook check rejects $config"
  fi
  (cd "$dir" && exec taskset -c "$SERVER_CPU" "$DESKHOOK_BIN" serve -c "$config" \
      --listen "127.0.0.1:$DH_PORT" --admin-listen "127.0.0.1:$admin_port" \
      --store "sqlite:$dir/drain.db") >>"$RESULTS/deskhook.$tag.log" 2>&1 &
  DH_PID=$!; PIDS+=("$DH_PID")
  ADMIN="http://127.0.0.1:$admin_port"
  wait_http "http://127.0.0.1:$DH_PORT/health" "$DH_PID" 30 || {
    tail -n 20 "$RESULTS/deskhook.$tag.log" >&2; die "deskhook did not start"; }
  log "deskhook on 127.0.0.1:$DH_PORT, admin $ADMIN (pid $DH_PID, cpu $SERVER_CPU)"
}

stop_deskhook() {
  [ -n "$DH_PID" ] || return 0
  stop_pid "$DH_PID"; forget_pid "$DH_PID"; DH_PID=""
}

# ---------------------------------------------------------------- admin API
api() {  # method path -> body on stdout; fails on a non-2xx answer
  curl -fsS --noproxy '*' --max-time 10 -X "$1" -H "Authorization: Bearer $DESKHOOK_ADMIN_TOKEN" \
    "$ADMIN$2"
}

# "pending in_flight retry_wait delivered dead" from GET /api/stats.
STATS_PY='
import json, sys
d = json.load(sys.stdin).get("deliveries")
if not isinstance(d, dict):
    sys.exit("GET /api/stats has no \"deliveries\" object")
print(*(int(d.get(k) or 0) for k in ("pending", "in_flight", "retry_wait", "delivered", "dead")))
'
delivery_stats() { api GET /api/stats | python3 -c "$STATS_PY"; }

# Events stored so far, summed over the sources' counters in /api/stats.
ACCEPTED_PY='
import json, sys
s = json.load(sys.stdin).get("sources") or {}
items = s.values() if isinstance(s, dict) else s
n = 0
for v in items:
    if isinstance(v, dict):
        n += int(v.get("accepted") or 0)
print(n)
'

endpoint_action() {  # pause|resume
  api POST "/api/endpoints/$ENDPOINT/$1" >"$TMP/$1.json" \
    || die "POST /api/endpoints/$ENDPOINT/$1 failed: $(cat "$TMP/$1.json" 2>/dev/null)"
}

# ---------------------------------------------------------------- loading
load_events() {  # tag -> sets LOAD_SECONDS
  local tag=$1 wp rc=0 t0 t1 created answered batches bad
  local out="$RESULTS/load.$tag.txt"
  local nbatches=$(( (N + BATCH - 1) / BATCH ))
  log "loading $N events: $nbatches batch requests of up to $BATCH, $LOAD_CONNECTIONS connections"
  local marks="$TMP/load-$tag.markers"
  mkdir -p "$marks"
  t0=$(now_ns)
  env DRAIN_N="$N" DRAIN_BATCH="$BATCH" DRAIN_THREADS="$THREADS" DRAIN_RUN="$TS-$tag" \
      DRAIN_DONE_DIR="$marks" \
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$LOAD_CONNECTIONS" -d"${LOAD_TIMEOUT}s" \
      --timeout 30s -s "$DRAIN_DIR/load_batch.lua" "http://127.0.0.1:$DH_PORT/webhooks/drain/batch" \
      >"$out" 2>&1 &
  wp=$!; PIDS+=("$wp")
  # Each wrk thread stops once its batches are answered and leaves a
  # marker; wrk itself would sleep out -d, so it gets SIGINT, after which it
  # prints its summary as usual. wrk installs its SIGINT handler only after
  # starting its threads, and until then the signal is ignored (a
  # background job), so it is repeated until wrk is gone.
  while kill -0 "$wp" 2>/dev/null; do
    if [ -z "${t1:-}" ] && [ "$(find "$marks" -type f -name 'thread-*.done' | wc -l)" -ge "$THREADS" ]; then
      t1=$(now_ns)
    fi
    [ -z "${t1:-}" ] || kill -INT "$wp" 2>/dev/null || true
    sleep 0.05
  done
  wait "$wp" || rc=$?
  forget_pid "$wp"
  [ -n "${t1:-}" ] || t1=$(now_ns)
  LOAD_SECONDS=$(secs "$t0" "$t1")
  [ $rc -eq 0 ] && grep -q '^DRAIN_LOAD' "$out" || { cat "$out" >&2; die "wrk (loading) failed"; }
  lfield() { sed -n 's/^DRAIN_LOAD //p' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
  created=$(lfield created); answered=$(lfield answered); batches=$(lfield batches); bad=$(lfield bad_status)
  log "loaded: $created events created in $LOAD_SECONDS s ($(rate "$created" "$LOAD_SECONDS") events/s); $answered of $batches batches answered, failed elements $(lfield failed), duplicates $(lfield duplicates), refused batches $bad"
  [ "$answered" = "$batches" ] || die "only $answered of $batches batch requests were answered before the ${LOAD_TIMEOUT}s limit (see $out)"
  [ "$created" = "$N" ] || die "$created events were created, not $N (see $out)"
}

# ---------------------------------------------------------------- receiver log
# "requests distinct-ids answered-200 first-to-last-s mean-body-bytes"
# from nginx's log ($msec status method webhook-id content_length), once
# nginx has stopped and written it out.
receiver_counts() {
  local lines ids
  lines=$(wc -l <"$RECV_LOG")
  ids=$(awk '{ print $4 }' "$RECV_LOG" | sort -u | wc -l)
  awk -v lines="$lines" -v ids="$ids" '
    NR == 1 { a = $1 } { b = $1; if ($2 == 200) ok++; len += $5 }
    END { printf "%d %d %d %.2f %.0f\n", lines, ids, ok, (NR ? b - a : 0), (NR ? len / NR : 0) }' "$RECV_LOG"
}

last_request_after() {  # t0 (unix seconds) -> seconds from t0 to the last logged request
  awk -v t0="$1" '{ if ($1 > b) b = $1 } END { if (NR) printf "%.2f", b - t0; else print "-" }' "$RECV_LOG"
}

# ---------------------------------------------------------------- modes
declare -A SUMMARY=()
DRAIN_RATE=""; DRAIN_EXACT_RATE=""; PEER_RATE=""; PEER_EXACT_RATE=""

mode_load() {
  log "==== load: $N events, no delivery involved"
  start_deskhook load "$LOAD_CONFIG"
  local before after
  before=$(api GET /api/stats | python3 -c "$ACCEPTED_PY")
  load_events load
  after=$(api GET /api/stats | python3 -c "$ACCEPTED_PY")
  log "/api/stats: accepted went from $before to $after"
  [ $((after - before)) -eq "$N" ] || die "/api/stats counts $((after - before)) accepted events, not $N"
  SUMMARY[load]="load: $N events stored in $LOAD_SECONDS s ($(rate "$N" "$LOAD_SECONDS") events/s, batches of $BATCH, $LOAD_CONNECTIONS connections)"
  stop_deskhook
}

mode_drain() {
  log "==== drain: $N events, endpoint max_in_flight $MAX_IN_FLIGHT"
  start_nginx drain
  start_deskhook drain "$DRAIN_CONFIG"
  endpoint_action pause
  log "endpoint $ENDPOINT paused"
  load_events drain

  # Every event has its delivery, written with it; wait until all show.
  local st p f r d x t0 t1 deadline c0 c1 tsv="$RESULTS/stats.drain.tsv"
  deadline=$((SECONDS + FILL_TIMEOUT))
  while :; do
    st=$(delivery_stats) || die "cannot read /api/stats"
    read -r p f r d x <<<"$st"
    [ "$p" -eq "$N" ] && break
    [ "$p" -gt "$N" ] && die "/api/stats shows $p pending deliveries, more than $N"
    [ $SECONDS -lt $deadline ] || die "after ${FILL_TIMEOUT}s /api/stats shows $p pending deliveries, not $N ($st)"
    sleep "$POLL_INTERVAL"
  done
  log "$N deliveries pending; resuming $ENDPOINT"

  printf 't_s\tpending\tin_flight\tretry_wait\tdelivered\tdead\n' >"$tsv"
  c0=$(tree_ticks "$DH_PID"); t0=$(now_ns)
  endpoint_action resume
  deadline=$((SECONDS + DRAIN_TIMEOUT))
  while :; do
    sleep "$POLL_INTERVAL"
    st=$(delivery_stats) || die "cannot read /api/stats"
    read -r p f r d x <<<"$st"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(secs "$t0" "$(now_ns)")" "$p" "$f" "$r" "$d" "$x" >>"$tsv"
    [ $((p + f + r)) -eq 0 ] && break
    kill -0 "$DH_PID" 2>/dev/null || die "deskhook died during the drain"
    [ $SECONDS -lt $deadline ] || die "not drained after ${DRAIN_TIMEOUT}s: $st (pending in_flight retry_wait delivered dead)"
  done
  t1=$(now_ns); c1=$(tree_ticks "$DH_PID")
  local drain_s cpu
  drain_s=$(secs "$t0" "$t1"); cpu=$(cpu_pct "$c0" "$c1" "$t0" "$t1")
  log "drained in $drain_s s (polled every $POLL_INTERVAL s): delivered $d, dead $x; deskhook cpu $cpu%"

  stop_deskhook
  stop_nginx
  local lines ids ok span exact bytes
  read -r lines ids ok span bytes <<<"$(receiver_counts)"
  # From the resume to the last request nginx logged (both wall clock):
  # the drain time without the polling's granularity.
  exact=$(last_request_after "$(awk -v t="$t0" 'BEGIN { printf "%.6f", t / 1e9 }')")
  log "receiver: $lines requests, $ids distinct webhook-ids, mean body $bytes bytes, first to last request $span s, resume to last request $exact s"

  local problems=""
  [ "$lines" -eq "$N" ] || problems+=" receiver got $lines requests, not $N;"
  [ "$ids" -eq "$N" ] || problems+=" $ids distinct webhook-ids, not $N;"
  [ "$ok" -eq "$lines" ] || problems+=" $((lines - ok)) requests were not answered 200;"
  [ "$x" -eq 0 ] || problems+=" $x deliveries dead;"
  SUMMARY[drain]=$(printf '%s\n  %s\n  %s' \
    "drain: $N deliveries in $drain_s s = $(rate "$N" "$drain_s") deliveries/s (resume until /api/stats shows nothing left, polled every $POLL_INTERVAL s; endpoint max_in_flight $MAX_IN_FLIGHT, deskhook cpu $cpu% of core $SERVER_CPU)" \
    "receiver: $lines requests, $ids distinct webhook-ids, mean body $bytes bytes; resume to last request $exact s = $(rate "$N" "$exact") deliveries/s; /api/stats: delivered $d, dead $x" \
    "loading: $N events in $LOAD_SECONDS s ($(rate "$N" "$LOAD_SECONDS") events/s, batches of $BATCH)${problems:+
  PROBLEMS:$problems}")
  [ -z "$problems" ] || { log "drain problems:$problems"; return 1; }
  DRAIN_RATE=$(rate "$N" "$drain_s"); DRAIN_EXACT_RATE=$(rate "$N" "$exact")
}

mode_peer() {
  log "==== peer: Python outbox worker, $N events, max in flight $MAX_IN_FLIGHT"
  start_nginx peer
  local dir="$TMP/peer" out="$RESULTS/peer.txt" pp rc=0
  mkdir -p "$dir"
  # Pinned like deskhook: the whole worker on SERVER_CPU, nginx on CLIENT_CPU.
  # Its loading is local inserts (no HTTP); timeout bounds the whole run.
  timeout -s TERM "$((LOAD_TIMEOUT + DRAIN_TIMEOUT + 60))" \
    taskset -c "$SERVER_CPU" "$PYTHON" "$DRAIN_DIR/outbox_peer.py" \
      --db "$dir/outbox.db" --url "http://127.0.0.1:$RECV_PORT/hook" --n "$N" --batch "$BATCH" \
      --run "$TS-peer" --secret "$DRAIN_SECRET" --max-in-flight "$MAX_IN_FLIGHT" \
      --fetch "$PEER_FETCH" --flush "$PEER_FLUSH" --client "$PEER_CLIENT" \
      --drain-timeout "$DRAIN_TIMEOUT" >"$out" 2>"$RESULTS/peer.log" &
  pp=$!; PIDS+=("$pp")
  log "peer: $(basename "$PYTHON") $DRAIN_DIR/outbox_peer.py (pid $pp, cpu $SERVER_CPU), progress in $RESULTS/peer.log"
  wait "$pp" || rc=$?
  forget_pid "$pp"
  stop_nginx
  grep -q '^OUTBOX_RESULT' "$out" || { tail -n 20 "$RESULTS/peer.log" >&2; die "the peer failed (exit $rc, see $RESULTS/peer.log)"; }
  grep -v '^\[outbox\] drain: [0-9]' "$RESULTS/peer.log" >&2 || true   # all but the progress lines
  pf() { sed -n 's/^OUTBOX_RESULT //p' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
  local drain_s load_s t0 delivered dead cpu client
  drain_s=$(awk -v s="$(pf drain_s)" 'BEGIN { printf "%.2f", s }')
  load_s=$(awk -v s="$(pf load_s)" 'BEGIN { printf "%.2f", s }')
  t0=$(pf drain_t0); delivered=$(pf db_delivered); dead=$(pf dead)
  cpu=$(awk -v c="$(pf drain_cpu_s)" -v s="$(pf drain_s)" 'BEGIN { if (s > 0) printf "%.0f", 100 * c / s; else print "-" }')
  client="$(pf client) $(pf client_version), $(pf loop), Python $(pf python), SQLite $(pf sqlite)"
  log "peer drained in $drain_s s: delivered $delivered, dead $dead, failed attempts $(pf failed_attempts); cpu $cpu%"

  local lines ids ok span exact bytes
  read -r lines ids ok span bytes <<<"$(receiver_counts)"
  exact=$(last_request_after "$t0")
  log "receiver: $lines requests, $ids distinct webhook-ids, mean body $bytes bytes, first to last request $span s, drain start to last request $exact s"

  local problems=""
  [ "$rc" -eq 0 ] || problems+=" the peer exited with status $rc;"
  [ "$delivered" = "$N" ] || problems+=" $delivered deliveries marked delivered, not $N;"
  [ "$lines" -eq "$N" ] || problems+=" receiver got $lines requests, not $N;"
  [ "$ids" -eq "$N" ] || problems+=" $ids distinct webhook-ids, not $N;"
  [ "$ok" -eq "$lines" ] || problems+=" $((lines - ok)) requests were not answered 200;"
  SUMMARY[peer]=$(printf '%s\n  %s\n  %s' \
    "peer: $N deliveries in $drain_s s = $(rate "$N" "$drain_s") deliveries/s (Python outbox worker: $client; first read of pending rows to the commit of the last outcome; max in flight $MAX_IN_FLIGHT, cpu $cpu% of core $SERVER_CPU)" \
    "receiver: $lines requests, $ids distinct webhook-ids, mean body $bytes bytes; drain start to last request $exact s = $(rate "$N" "$exact") deliveries/s; SQLite: delivered $delivered, dead $dead" \
    "loading (not compared): $N events in $load_s s ($(rate "$N" "$load_s") events/s, $BATCH per transaction, no HTTP)${problems:+
  PROBLEMS:$problems}")
  [ -z "$problems" ] || { log "peer problems:$problems"; return 1; }
  PEER_RATE=$(rate "$N" "$drain_s"); PEER_EXACT_RATE=$(rate "$N" "$exact")
}

mode_mixed() {
  log "==== mixed: ingest for $MIXED_DURATION with the endpoint active"
  start_nginx mixed
  start_deskhook mixed "$DRAIN_CONFIG"
  local out="$RESULTS/mixed.wrk.txt" tsv="$RESULTS/stats.mixed.tsv" sampler wp rc=0
  local st p f r d x d0 x0 t0 t1 c0 c1
  st=$(delivery_stats) || die "cannot read /api/stats (does this deskhook deliver?)"
  read -r _ _ _ d0 x0 <<<"$st"

  # /api/stats once a second in the background, for the record.
  printf 't_s\tpending\tin_flight\tretry_wait\tdelivered\tdead\n' >"$tsv"
  t0=$(now_ns)
  ( while :; do
      s=$(delivery_stats 2>/dev/null) || s="- - - - -"
      printf '%s\t%s\n' "$(secs "$t0" "$(now_ns)")" "$(tr ' ' '\t' <<<"$s")" >>"$tsv"
      sleep 1
    done ) &
  sampler=$!; PIDS+=("$sampler")

  c0=$(tree_ticks "$DH_PID")
  env BENCH_ID_BASE=30000000000 taskset -c "$CLIENT_CPU" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$MIXED_DURATION" --latency -s "$BENCH_DIR/signed_freshdesk.lua" \
      "http://127.0.0.1:$DH_PORT/webhooks/freshdesk" >"$out" 2>&1 &
  wp=$!; PIDS+=("$wp")
  wait "$wp" || rc=$?
  forget_pid "$wp"
  t1=$(now_ns); c1=$(tree_ticks "$DH_PID")
  st=$(delivery_stats) || die "cannot read /api/stats"
  read -r p f r d x <<<"$st"
  [ $rc -eq 0 ] && grep -q '^BENCH_RESULT' "$out" || { cat "$out" >&2; die "wrk (mixed) failed"; }

  field() { sed -n 's/^BENCH_RESULT //p' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }
  local el rps reqs s2 non2xx delivered dps backlog cpu
  el=$(secs "$t0" "$t1")
  rps=$(field rps); reqs=$(field requests); s2=$(field s2xx)
  if [ -n "$s2" ]; then non2xx=$((reqs - s2)); else non2xx=$(field non2xx); fi
  delivered=$((d - d0))
  dps=$(rate "$delivered" "$el")
  backlog="$((p + f + r)) (pending $p, in flight $f, retry_wait $r)"
  cpu=$(cpu_pct "$c0" "$c1" "$t0" "$t1")
  log "mixed: ingest $rps req/s (non-2xx $non2xx), $delivered delivered in $el s = $dps deliveries/s; backlog at the end: $backlog; dead $((x - x0)); deskhook cpu $cpu%"

  # How long the backlog then takes, with no more ingest.
  local t2 deadline drained="not measured"
  deadline=$((SECONDS + DRAIN_TIMEOUT))
  while [ $((p + f + r)) -gt 0 ]; do
    sleep "$POLL_INTERVAL"
    st=$(delivery_stats) || break
    read -r p f r d x <<<"$st"
    if [ $SECONDS -ge $deadline ]; then drained="still $((p + f + r)) after ${DRAIN_TIMEOUT}s"; break; fi
  done
  if [ $((p + f + r)) -eq 0 ]; then t2=$(now_ns); drained="$(secs "$t1" "$t2") s"; fi
  stop_pid "$sampler"; forget_pid "$sampler"
  stop_deskhook
  stop_nginx
  # wrk does not count the requests it cuts short when its time is up; the
  # gateway may have stored them all the same, so the receiver is compared
  # with /api/stats' delivered count, not with wrk's.
  local lines ids check="ok"
  lines=$(wc -l <"$RECV_LOG")
  ids=$(awk '{ print $4 }' "$RECV_LOG" | sort -u | wc -l)
  if [ "$lines" -ne "$d" ] || [ "$ids" -ne "$lines" ]; then check="MISMATCH"; fi
  log "backlog drained after the load in $drained; delivered $d, dead $x; receiver: $lines requests, $ids distinct webhook-ids ($check)"

  SUMMARY[mixed]=$(printf '%s\n  %s\n  %s' \
    "mixed: $MIXED_DURATION of signed ingest at $CONNECTIONS connections: $rps req/s ingest (non-2xx $non2xx), p50 $(field p50_us) us, p99 $(field p99_us) us" \
    "deliveries during the load: $delivered in $el s = $dps deliveries/s; backlog at the end: $backlog" \
    "backlog drained after the load in $drained; delivered $d, dead $x; receiver: $lines requests, $ids distinct webhook-ids ($check); deskhook cpu $cpu% of core $SERVER_CPU during the load")
  [ "$check" = ok ] || return 1
}

# ---------------------------------------------------------------- main
{
  echo "date: $(date -Is)"
  echo "modes: $MODES"
  echo "N: $N  batch: $BATCH  endpoint max_in_flight: $MAX_IN_FLIGHT  delivery.max_in_flight: $GLOBAL_MAX_IN_FLIGHT"
  echo "load connections: $LOAD_CONNECTIONS  mixed: $MIXED_DURATION at $CONNECTIONS connections  wrk threads: $THREADS"
  echo "server cpu: $SERVER_CPU  client + receiver cpu: $CLIENT_CPU"
  echo "kernel: $(uname -srm)"
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc)"
  echo "tmp dir filesystem: $(df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 }') ($TMP)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  [ -z "$NGINX_BIN" ] || echo "nginx: $("$NGINX_BIN" -v 2>&1)"
  echo "deskhook: $("$DESKHOOK_BIN" version 2>&1 | head -1)"
  echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit') $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty tree)')"
  echo "config: $DRAIN_CONFIG (drain, mixed), $LOAD_CONFIG (load)"
  case " $MODES " in
    *" peer "*)
      echo "peer: $PYTHON ($("$PYTHON" --version 2>&1)), client $PEER_CLIENT ($("$PYTHON" -c '
import importlib
out = []
for m in ("httpx", "aiohttp", "uvloop"):
    try:
        out.append("%s %s" % (m, importlib.import_module(m).__version__))
    except Exception:
        out.append("%s not installed" % m)
print(", ".join(out))
' 2>&1)), fetch $PEER_FETCH, flush $PEER_FLUSH" ;;
  esac
} >"$RESULTS/env.txt"
log "results in $RESULTS"

failed=0
for m in $MODES; do
  "mode_$m" || failed=1
done

{
  for m in $MODES; do
    [ -n "${SUMMARY[$m]:-}" ] && printf '%s\n' "${SUMMARY[$m]}" || printf '%s: no result\n' "$m"
  done
  if [ -n "$DRAIN_RATE" ] && [ -n "$PEER_RATE" ]; then
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "-" }'; }
    printf 'deskhook/peer: %s (%s vs %s deliveries/s); from start to the last request nginx logged: %s (%s vs %s)\n' \
      "$(ratio "$DRAIN_RATE" "$PEER_RATE")" "$DRAIN_RATE" "$PEER_RATE" \
      "$(ratio "$DRAIN_EXACT_RATE" "$PEER_EXACT_RATE")" "$DRAIN_EXACT_RATE" "$PEER_EXACT_RATE"
  fi
} | tee "$RESULTS/summary.txt"
exit $failed
