#!/usr/bin/env bash
# Benchmark: three receivers of the same HMAC-signed Freshdesk webhooks.
#
#   nginx           returns 200 without doing anything (the ceiling)
#   deskhook        build/deskhook serve, SQLite store
#   fastapi-memory  FastAPI: verify HMAC, parse JSON, dedupe in a dict
#   fastapi-sqlite  FastAPI: verify, parse, commit each event to SQLite
#                   (WAL, synchronous=FULL) before answering
#
# Usage: bash bench/run.sh [server ...]
#
# Knobs (environment):
#   SERVERS       servers to run, space separated; "fastapi" = both modes
#                 (default: "nginx deskhook fastapi-memory fastapi-sqlite";
#                 arguments on the command line take precedence)
#   DURATION      measured load per server, wrk syntax (default 10s)
#   WARMUP        warm-up load per server before the measurement (default 3s)
#   CONNECTIONS   concurrent connections (default 64)
#   THREADS       wrk threads (default 1)
#   SERVER_CPU    CPU the server is pinned to (default 1)
#   CLIENT_CPU    CPU wrk is pinned to (default 0)
#   BASE_PORT     first port; each server takes the next two free ports (default 18180)
#   BENCH_SECRET  HMAC secret shared by wrk and the receivers
#   BENCH_COUNT_STATUS  1 (default): count every answer by status class in
#                 wrk's Lua; 0: rely on wrk's count of statuses >= 400
#   BENCH_TMPDIR  where the temporary dir (nginx prefix, SQLite files) is made
#                 (default ${TMPDIR:-/tmp}); SQLite numbers depend on its disk
#   DESKHOOK_BIN  deskhook binary (default build/deskhook, built if absent)
#   PYTHON        interpreter with fastapi + uvicorn (default: /usr/bin/python3)
#   WAIT_QUIET    before each server, wait up to this many seconds for the
#                 machine to be quiet (default 20; 0 = don't wait)
#   NO_INSTALL=1  never call apt-get; fail if something is missing
#   KEEP_TMP=1    keep the temporary dir (databases, nginx config) at the end
#
# Output: a table on stdout; raw wrk outputs, server logs and a summary in
# bench/results/<timestamp>/.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
BASE_PORT=${BASE_PORT:-18180}
export BENCH_SECRET=${BENCH_SECRET:-bench-secret-0123456789}
export BENCH_COUNT_STATUS=${BENCH_COUNT_STATUS:-1}
LUA="$BENCH_DIR/signed_freshdesk.lua"
PATH_WEBHOOK=/webhooks/freshdesk
ALL_SERVERS="nginx deskhook fastapi-memory fastapi-sqlite"

if [ $# -gt 0 ]; then SERVERS="$*"; fi
SERVERS=${SERVERS:-$ALL_SERVERS}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- servers list
selected=()
for s in $SERVERS; do
  case "$s" in
    fastapi) selected+=(fastapi-memory fastapi-sqlite) ;;
    nginx|deskhook|fastapi-memory|fastapi-sqlite) selected+=("$s") ;;
    *) die "unknown server '$s' (known: $ALL_SERVERS, fastapi)" ;;
  esac
done
# dedupe, keep order
declare -A _seen_srv=()
servers=()
for s in "${selected[@]}"; do
  [ -n "${_seen_srv[$s]:-}" ] && continue
  _seen_srv[$s]=1; servers+=("$s")
done
[ ${#servers[@]} -gt 0 ] || die "no server selected"
wants() { [ -n "${_seen_srv[$1]:-}" ]; }
wants_fastapi() { wants fastapi-memory || wants fastapi-sqlite; }

# ---------------------------------------------------------------- dependencies
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0
apt_install() {
  [ $# -eq 0 ] && return 0
  if [ "${NO_INSTALL:-0}" = 1 ]; then die "missing packages: $* (NO_INSTALL=1)"; fi
  command -v apt-get >/dev/null || die "missing packages: $* and no apt-get"
  log "installing with apt-get: $*"
  # Keep the Debian nginx package from starting a system-wide nginx on :80;
  # the benchmark runs its own instance from a generated config.
  if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY_RC" >/dev/null
    $SUDO chmod 755 "$POLICY_RC"; POLICY_RC_OURS=1
  fi
  local rc=0
  { $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >&2 || rc=$?
  if [ "$POLICY_RC_OURS" = 1 ]; then $SUDO rm -f "$POLICY_RC"; POLICY_RC_OURS=0; fi
  [ $rc -eq 0 ] || die "apt-get install failed: $*"
}

NGINX_BIN=""
find_nginx() { NGINX_BIN=$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true); }

pick_python() {
  local c
  for c in "${PYTHON:-}" /usr/bin/python3 python3; do
    [ -n "$c" ] || continue
    if "$c" -c 'import fastapi, uvicorn' >/dev/null 2>&1; then echo "$c"; return 0; fi
  done
  return 1
}

ensure_deps() {
  local pkgs=()
  command -v wrk >/dev/null || pkgs+=(wrk)
  command -v taskset >/dev/null || pkgs+=(util-linux)
  command -v curl >/dev/null || pkgs+=(curl)
  command -v openssl >/dev/null || pkgs+=(openssl)
  # wrk's Lua script signs through LuaJIT FFI into OpenSSL's libcrypto.
  if ! ldconfig -p 2>/dev/null | grep -q 'libcrypto\.so\.3'; then pkgs+=(libssl3); fi
  if wants nginx; then find_nginx; [ -n "$NGINX_BIN" ] || pkgs+=(nginx); fi
  if wants_fastapi; then
    local py
    if ! py=$(pick_python); then
      pkgs+=(python3 python3-fastapi python3-uvicorn uvicorn python3-uvloop python3-httptools)
    elif [ "$py" = /usr/bin/python3 ] && ! "$py" -c 'import uvloop, httptools' >/dev/null 2>&1; then
      # uvicorn's fast event loop and HTTP parser, as a production deployment has
      pkgs+=(python3-uvloop python3-httptools)
    fi
  fi
  apt_install "${pkgs[@]}"
  if wants nginx; then find_nginx; [ -n "$NGINX_BIN" ] || die "nginx not found"; fi
  if wants_fastapi; then
    PY=$(pick_python) || die "no python with fastapi+uvicorn (set PYTHON=...)"
  fi
}

# ---------------------------------------------------------------- deskhook build
DESKHOOK_BIN=${DESKHOOK_BIN:-$ROOT/build/deskhook}
# Debian packages deskhook's build needs (tools, then pkg-config modules as
# named in meson.build).
ensure_build_deps() {
  local pkgs=() m
  command -v cc >/dev/null || pkgs+=(gcc libc6-dev)
  command -v make >/dev/null || pkgs+=(make)
  command -v meson >/dev/null || pkgs+=(meson)
  command -v ninja >/dev/null || pkgs+=(ninja-build)
  command -v pkg-config >/dev/null || pkgs+=(pkg-config)
  command -v python3 >/dev/null || pkgs+=(python3)
  for m in libmicrohttpd:libmicrohttpd-dev jansson:libjansson-dev libcrypto:libssl-dev \
           sqlite3:libsqlite3-dev yaml-0.1:libyaml-dev; do
    if ! command -v pkg-config >/dev/null || ! pkg-config --exists "${m%%:*}" 2>/dev/null; then
      pkgs+=("${m#*:}")
    fi
  done
  apt_install "${pkgs[@]}"
}
ensure_deskhook() {
  [ -x "$DESKHOOK_BIN" ] && return 0
  if [ "$DESKHOOK_BIN" != "$ROOT/build/deskhook" ]; then
    log "DESKHOOK_BIN=$DESKHOOK_BIN is not an executable"; return 1
  fi
  ensure_build_deps
  if [ -f "$ROOT/Makefile" ]; then
    log "build/deskhook not found: running 'make' at the repo root"
    make -C "$ROOT" >&2 || return 1
  elif [ -f "$ROOT/meson.build" ]; then
    log "build/deskhook not found and no Makefile: building with meson into build/"
    if [ ! -f "$ROOT/build/build.ninja" ]; then
      meson setup "$ROOT/build" "$ROOT" >&2 || return 1
    fi
    meson compile -C "$ROOT/build" >&2 || return 1
  else
    log "build/deskhook not found and nothing to build it with"
    return 1
  fi
  [ -x "$DESKHOOK_BIN" ]
}

# ---------------------------------------------------------------- temp + cleanup
TS=$(date +%Y%m%d-%H%M%S)
RESULTS="$BENCH_DIR/results/$TS"
TMP=""
PIDS=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ "$POLICY_RC_OURS" = 1 ]; then $SUDO rm -f "$POLICY_RC"; fi
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "${KEEP_TMP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_pid() {
  local p=$1 i
  kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

forget_pid() {
  local p=$1 keep=() q
  for q in "${PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() {  # url pid timeout_s
  local url=$1 pid=$2 t=$3 i
  for i in $(seq 1 $((t * 10))); do
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# CPU accounting. The server's share is the user+system time of its process
# tree, wrk's is the time of the shell's waited-for children across the wrk
# run (bash's `times`, which must run in this shell, not in a subshell), and
# "other" is what every other task on the machine used in the meantime.
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
now_ns() { date +%s%N; }
proc_tree() { local c; echo "$1"; for c in $(pgrep -P "$1" 2>/dev/null); do proc_tree "$c"; done; }
tree_ticks() {
  local p t total=0
  for p in $(proc_tree "$1"); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
machine_task_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4; exit }' /proc/stat; }
times_children_ms() {  # file written by `times`
  awk 'NR == 2 { ms = 0
         for (i = 1; i <= NF; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); ms += (a[1] * 60 + a[2]) * 1000 }
         printf "%.0f", ms }' "$1"
}
# Busy share of one core (everything but idle and iowait, so interrupt and
# softirq work of the loopback traffic counts): "busy_ticks total_ticks".
core_sample() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}
core_pct() {  # before after
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]
    if (d <= 0) print "-"; else printf "%.0f", 100 * (y[1] - x[1]) / d }'
}
pct() {  # amount_seconds elapsed_ns
  awk -v a="$1" -v e="$2" 'BEGIN { if (e <= 0) print "-"; else printf "%.0f", 100 * a / (e / 1e9) }'
}

# ---------------------------------------------------------------- server starters
# Each sets SRV_PID and SRV_URL (webhook URL) and SRV_HEALTH; returns non-zero
# when the server cannot be started.
SRV_PID=""; SRV_URL=""; SRV_HEALTH=""; SRV_VERIFIES=1

start_nginx() {
  local port=$1 dir="$TMP/nginx"
  mkdir -p "$dir/logs"
  cat > "$dir/nginx.conf" <<EOF
# generated by bench/run.sh
worker_processes 1;
daemon off;
master_process on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  default_type application/json;
  server {
    listen 127.0.0.1:$port;
    location = /health { return 200 '{"status":"ok"}'; }
    location = $PATH_WEBHOOK {
      if (\$request_method != POST) { return 405; }
      return 200 '{"status":"accepted"}';
    }
    location / { return 404; }
  }
}
EOF
  cp "$dir/nginx.conf" "$RESULTS/nginx.conf"
  "$NGINX_BIN" -t -q -c "$dir/nginx.conf" -p "$dir/" -e "$dir/logs/error.log" >>"$RESULTS/nginx.server.log" 2>&1 \
    || { log "nginx -t failed, see $RESULTS/nginx.server.log"; return 1; }
  taskset -c "$SERVER_CPU" "$NGINX_BIN" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/logs/error.log" \
    >>"$RESULTS/nginx.server.log" 2>&1 &
  SRV_PID=$!; PIDS+=("$SRV_PID")
  SRV_URL="http://127.0.0.1:$port$PATH_WEBHOOK"
  SRV_HEALTH="http://127.0.0.1:$port/health"
  SRV_VERIFIES=0
}

start_deskhook() {
  local port=$1 admin=$2 dir="$TMP/deskhook"
  mkdir -p "$dir"
  ensure_deskhook || { log "deskhook could not be built"; return 1; }
  if ! "$DESKHOOK_BIN" check -c "$BENCH_DIR/deskhook-bench.yaml" >>"$RESULTS/deskhook.server.log" 2>&1; then
    log "deskhook rejects bench/deskhook-bench.yaml:"; tail -n 5 "$RESULTS/deskhook.server.log" >&2
    return 1
  fi
  (cd "$ROOT" && exec taskset -c "$SERVER_CPU" "$DESKHOOK_BIN" serve \
      -c "$BENCH_DIR/deskhook-bench.yaml" \
      --listen "127.0.0.1:$port" --admin-listen "127.0.0.1:$admin" \
      --store "sqlite:$dir/bench.db") >>"$RESULTS/deskhook.server.log" 2>&1 &
  SRV_PID=$!; PIDS+=("$SRV_PID")
  SRV_URL="http://127.0.0.1:$port$PATH_WEBHOOK"
  SRV_HEALTH="http://127.0.0.1:$port/health"
  SRV_VERIFIES=1
}

start_fastapi() {
  local mode=$1 port=$2 dir="$TMP/fastapi-$1" extra=()
  mkdir -p "$dir"
  if "$PY" -c 'import uvloop' >/dev/null 2>&1; then extra+=(--loop uvloop); fi
  if "$PY" -c 'import httptools' >/dev/null 2>&1; then extra+=(--http httptools); fi
  BENCH_RECEIVER_MODE=$mode BENCH_DB="$dir/events.db" PYTHONDONTWRITEBYTECODE=1 \
    taskset -c "$SERVER_CPU" "$PY" -m uvicorn --app-dir "$BENCH_DIR" fastapi_receiver:app \
      --host 127.0.0.1 --port "$port" --workers 1 --log-level warning --no-access-log \
      "${extra[@]}" >>"$RESULTS/fastapi-$mode.server.log" 2>&1 &
  SRV_PID=$!; PIDS+=("$SRV_PID")
  SRV_URL="http://127.0.0.1:$port$PATH_WEBHOOK"
  SRV_HEALTH="http://127.0.0.1:$port/health"
  SRV_VERIFIES=1
}

# ---------------------------------------------------------------- checks
# Signatures written by the Lua script (BENCH_DUMP) are recomputed with openssl.
check_signatures() {  # dir
  local dir=$1 n=0 f want got
  for f in "$dir"/*.body; do
    [ -e "$f" ] || continue
    want=$(openssl dgst -sha256 -hmac "$BENCH_SECRET" -r < "$f" | cut -d' ' -f1)
    got=$(cat "${f%.body}.sig")
    if [ "$want" != "$got" ]; then log "signature mismatch for $f: lua=$got openssl=$want"; return 1; fi
    n=$((n + 1))
  done
  [ $n -gt 0 ] || { log "no sample bodies were dumped in $dir"; return 1; }
  return 0
}

# Sends one fresh body (a dumped sample with new ids, signed here with
# openssl) with its signature (expects 2xx) and, for the receivers that
# verify, with a corrupted signature (expects 4xx).
smoke_test() {  # name url dir verifies
  local name=$1 url=$2 dir=$3 verifies=$4 f sig code bad uniq
  f=$(ls "$dir"/*.body | head -1)
  uniq="9$(date +%s%N | tail -c 12)"
  sed -e "s/\"ticket_id\":[0-9]*/\"ticket_id\":$uniq/" \
      -e "s/\"delivery_id\":\"[^\"]*\"/\"delivery_id\":\"smoke-$uniq\"/" "$f" > "$dir/smoke.body"
  sig=$(openssl dgst -sha256 -hmac "$BENCH_SECRET" -r < "$dir/smoke.body" | cut -d' ' -f1)
  code=$(curl -s -o "$dir/smoke.out" -w '%{http_code}' --max-time 5 \
           -H 'Content-Type: application/json' -H "X-Webhook-Signature: $sig" \
           --data-binary "@$dir/smoke.body" "$url") || true
  case "$code" in 2??) ;; *) log "$name: signed request answered $code: $(head -c 300 "$dir/smoke.out")"; return 1 ;; esac
  if [ "$verifies" = 1 ]; then
    bad=$(printf '%s' "$sig" | tr '0-9a-f' '1-9a-f0')
    sed -e "s/smoke-$uniq/smoke-bad-$uniq/" "$dir/smoke.body" > "$dir/smoke-bad.body"
    code=$(curl -s -o "$dir/smoke-bad.out" -w '%{http_code}' --max-time 5 \
             -H 'Content-Type: application/json' -H "X-Webhook-Signature: $bad" \
             --data-binary "@$dir/smoke-bad.body" "$url") || true
    case "$code" in 4??) ;; *) log "$name: WRONG signature answered $code (expected 4xx)"; return 1 ;; esac
  fi
  return 0
}

# ---------------------------------------------------------------- one server
declare -A R_RPS R_P50 R_P99 R_NON2XX R_SOCKERR R_SRVCPU R_CLICPU R_OTHER R_CORE_CLI R_CORE_SRV R_NOTE

run_wrk() {  # url duration id_base out [extra env]
  local url=$1 dur=$2 base=$3 out=$4 wp rc=0; shift 4
  # In the background and waited for, so that a signal reaches the trap at
  # once instead of after the load.
  env BENCH_ID_BASE="$base" "$@" taskset -c "$CLIENT_CPU" \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" --latency -s "$LUA" "$url" >"$out" 2>&1 &
  wp=$!; PIDS+=("$wp")
  wait "$wp" || rc=$?
  forget_pid "$wp"
  return $rc
}

field() { sed -n 's/^BENCH_RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

bench_server() {
  local name=$1 port=$2
  log "---- $name"
  SRV_PID=""
  case "$name" in
    nginx)          start_nginx "$port" ;;
    deskhook)       start_deskhook "$port" $((port + 1)) ;;
    fastapi-memory) start_fastapi memory "$port" ;;
    fastapi-sqlite) start_fastapi sqlite "$port" ;;
  esac || { R_NOTE[$name]="did not start"; return 1; }

  local t0=$SECONDS
  if ! wait_http "$SRV_HEALTH" "$SRV_PID" 30; then
    log "$name: not healthy after 30 s ($SRV_HEALTH); log tail:"
    tail -n 20 "$RESULTS/$name.server.log" >&2 || true
    R_NOTE[$name]="not healthy"; stop_pid "$SRV_PID"; forget_pid "$SRV_PID"; return 1
  fi
  log "$name: healthy after $((SECONDS - t0)) s at $SRV_HEALTH (pid $SRV_PID, cpu $SERVER_CPU)"

  local samples="$RESULTS/samples/$name"
  mkdir -p "$samples"
  log "$name: warm-up $WARMUP"
  run_wrk "$SRV_URL" "$WARMUP" 10000000000 "$RESULTS/$name.warmup.txt" BENCH_DUMP="$samples" || true
  if ! grep -q '^BENCH_RESULT' "$RESULTS/$name.warmup.txt"; then
    log "$name: warm-up failed:"; cat "$RESULTS/$name.warmup.txt" >&2
    R_NOTE[$name]="warm-up failed"; stop_pid "$SRV_PID"; forget_pid "$SRV_PID"; return 1
  fi
  if ! check_signatures "$samples"; then
    R_NOTE[$name]="bad signatures"; stop_pid "$SRV_PID"; forget_pid "$SRV_PID"; return 1
  fi
  if ! smoke_test "$name" "$SRV_URL" "$samples" "$SRV_VERIFIES"; then
    R_NOTE[$name]="smoke test failed"; stop_pid "$SRV_PID"; forget_pid "$SRV_PID"; return 1
  fi
  local w_non2xx
  w_non2xx=$(field "$RESULTS/$name.warmup.txt" non2xx)
  log "$name: warm-up $(field "$RESULTS/$name.warmup.txt" rps) req/s, signatures ok (openssl), signed/unsigned probe ok${w_non2xx:+, non-2xx(>=400) $w_non2xx}"

  log "$name: load $DURATION, $CONNECTIONS connections, $THREADS wrk thread(s) on cpu $CLIENT_CPU"
  local s0 s1 m0 m1 t0 t1 w0 w1 out="$RESULTS/$name.wrk.txt"
  local k0 k1 q0 q1
  s0=$(tree_ticks "$SRV_PID"); m0=$(machine_task_ticks)
  k0=$(core_sample "$CLIENT_CPU"); q0=$(core_sample "$SERVER_CPU"); t0=$(now_ns)
  times > "$TMP/times.0"
  run_wrk "$SRV_URL" "$DURATION" 20000000000 "$out" || true
  times > "$TMP/times.1"
  t1=$(now_ns); k1=$(core_sample "$CLIENT_CPU"); q1=$(core_sample "$SERVER_CPU")
  m1=$(machine_task_ticks); s1=$(tree_ticks "$SRV_PID")
  w0=$(times_children_ms "$TMP/times.0"); w1=$(times_children_ms "$TMP/times.1")
  if ! kill -0 "$SRV_PID" 2>/dev/null; then log "$name: server died during the load"; R_NOTE[$name]="died"; fi
  stop_pid "$SRV_PID"; forget_pid "$SRV_PID"
  if ! grep -q '^BENCH_RESULT' "$out"; then
    log "$name: wrk failed:"; cat "$out" >&2; R_NOTE[$name]="wrk failed"; return 1
  fi

  local req s2 non2xx
  req=$(field "$out" requests); s2=$(field "$out" s2xx)
  if [ -n "$s2" ]; then non2xx=$((req - s2)); else non2xx=$(field "$out" non2xx); fi
  R_RPS[$name]=$(field "$out" rps)
  R_P50[$name]=$(field "$out" p50_us)
  R_P99[$name]=$(field "$out" p99_us)
  R_NON2XX[$name]=$non2xx
  R_SOCKERR[$name]=$(( $(field "$out" err_connect) + $(field "$out" err_read) + $(field "$out" err_write) + $(field "$out" err_timeout) ))
  local srv_s wrk_s other_s
  srv_s=$(awk -v a="$s0" -v b="$s1" -v hz="$CLK_TCK" 'BEGIN { print (b - a) / hz }')
  wrk_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN { print (b - a) / 1000 }')
  other_s=$(awk -v a="$m0" -v b="$m1" -v hz="$CLK_TCK" -v s="$srv_s" -v w="$wrk_s" \
              'BEGIN { o = (b - a) / hz - s - w; print (o < 0 ? 0 : o) }')
  R_SRVCPU[$name]=$(pct "$srv_s" $((t1 - t0)))
  R_CLICPU[$name]=$(pct "$wrk_s" $((t1 - t0)))
  R_OTHER[$name]=$(pct "$other_s" $((t1 - t0)))
  R_CORE_CLI[$name]=$(core_pct "$k0" "$k1")
  R_CORE_SRV[$name]=$(core_pct "$q0" "$q1")
  log "$name: ${R_RPS[$name]} req/s, p50 ${R_P50[$name]} us, p99 ${R_P99[$name]} us, non-2xx $non2xx, server cpu ${R_SRVCPU[$name]}%, wrk cpu ${R_CLICPU[$name]}%, other processes ${R_OTHER[$name]}% of a core; core $SERVER_CPU busy ${R_CORE_SRV[$name]}%, core $CLIENT_CPU busy ${R_CORE_CLI[$name]}%"
  return 0
}

# ---------------------------------------------------------------- main
ensure_deps
if [ "$(nproc)" -le "$SERVER_CPU" ] || [ "$(nproc)" -le "$CLIENT_CPU" ]; then
  die "need cpus $CLIENT_CPU and $SERVER_CPU, this machine has $(nproc)"
fi
mkdir -p "$RESULTS"
TMP=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/deskhook-bench.XXXXXX")
chmod 755 "$TMP"   # nginx workers drop privileges when started as root

fstype=$(df -PT "$TMP" 2>/dev/null | awk 'NR == 2 { print $2 }')
fstype=${fstype:-$(stat -f -c %T "$TMP" 2>/dev/null || echo unknown)}
{
  echo "date: $(date -Is)"
  echo "servers: ${servers[*]}"
  echo "duration: $DURATION  warmup: $WARMUP  connections: $CONNECTIONS  wrk threads: $THREADS"
  echo "server cpu: $SERVER_CPU  client cpu: $CLIENT_CPU"
  echo "kernel: $(uname -srm)"
  echo "cpu: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
  echo "tmp dir filesystem: $fstype ($TMP)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  if wants nginx; then echo "nginx: $("$NGINX_BIN" -v 2>&1)"; fi
  if wants_fastapi; then
    echo "python: $PY $("$PY" -c 'import sys; print(sys.version.split()[0])')"
    "$PY" -c '
import fastapi, uvicorn, sqlite3
def v(m):
    try:
        return __import__(m).__version__
    except Exception:
        return "absent"
print("fastapi", fastapi.__version__, "uvicorn", uvicorn.__version__,
      "uvloop", v("uvloop"), "httptools", v("httptools"), "sqlite", sqlite3.sqlite_version)'
  fi
  if wants deskhook; then
    echo "deskhook: $( [ -x "$DESKHOOK_BIN" ] && { "$DESKHOOK_BIN" version 2>/dev/null || "$DESKHOOK_BIN" --version 2>&1; } | head -1 || echo 'not built yet')"
    echo "git: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit') $(git -C "$ROOT" status --porcelain 2>/dev/null | grep -q . && echo '(dirty tree)')"
  fi
} > "$RESULTS/env.txt"
log "results in $RESULTS"
sed 's/^/[bench]   /' "$RESULTS/env.txt" >&2
case "$fstype" in
  tmpfs|ramfs) log "WARNING: $TMP is on $fstype: fsync costs nothing there, SQLite numbers are not those of a disk (set BENCH_TMPDIR)";;
esac

# Is the machine quiet? Other busy processes float onto the pinned cores.
# "pid ticks name" for every process
proc_snapshot() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{
    l = $0; o = index(l, "("); c = 0
    for (i = length(l); i > 0; i--) if (substr(l, i, 1) == ")") { c = i; break }
    name = substr(l, o + 1, c - o - 1); gsub(/ /, "_", name)
    n = split(substr(l, c + 2), f, " "); print $1, f[12] + f[13], name }'
}
proc_snapshot > "$TMP/procs.0"; m0=$(machine_task_ticks); sleep 1
m1=$(machine_task_ticks); proc_snapshot > "$TMP/procs.1"
idle_busy=$(( (m1 - m0) * 100 / CLK_TCK ))
busiest=$(awk -v hz="$CLK_TCK" 'NR == FNR { t[$1] = $2; next }
            ($1 in t) && $2 > t[$1] { printf "%6d %4.0f%% %s\n", $1, 100 * ($2 - t[$1]) / hz, $3 }' \
            "$TMP/procs.0" "$TMP/procs.1" | sort -k2 -nr | head -5)
{ echo "other load before the run: ${idle_busy}% of a core"
  [ -z "$busiest" ] || printf '%s\n' "$busiest"; } >> "$RESULTS/env.txt"
if [ "$idle_busy" -ge 10 ]; then
  log "WARNING: the machine is not idle (${idle_busy}% of a core busy before the run); busiest processes:"
  [ -z "$busiest" ] || printf '%s\n' "$busiest" | sed 's/^/[bench]   /' >&2
fi

# Before each server, wait (up to WAIT_QUIET seconds) for a second in which
# other processes use less than 5% of a core.
wait_quiet() {
  local limit=${WAIT_QUIET:-20} start=$SECONDS a b busy=0
  [ "$limit" -gt 0 ] || return 0
  while :; do
    a=$(machine_task_ticks); sleep 1; b=$(machine_task_ticks)
    busy=$(( (b - a) * 100 / CLK_TCK ))
    [ "$busy" -lt 5 ] && return 0
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      log "machine still busy (${busy}% of a core) after ${limit} s of waiting; going on"
      return 0
    fi
  done
}

failed=0
port=$BASE_PORT
for s in "${servers[@]}"; do
  while port_busy "$port" || port_busy $((port + 1)); do port=$((port + 2)); done
  wait_quiet
  bench_server "$s" "$port" || failed=1
  port=$((port + 2))
done

# ---------------------------------------------------------------- table
ratio() {  # value reference
  if [ -z "$1" ] || [ -z "$2" ]; then echo "-"; return; fi
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
}
ms() { [ -n "$1" ] && awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }' || echo "-"; }

ref_nginx=${R_RPS[nginx]:-}
ref_fsql=${R_RPS[fastapi-sqlite]:-}
{
  printf '%-15s %10s %9s %9s %8s %8s %9s %17s %8s %8s\n' \
    server 'req/s' 'p50 ms' 'p99 ms' non-2xx 'sock err' 'vs nginx' 'vs fastapi-sqlite' 'srv cpu' 'wrk cpu'
  for s in "${servers[@]}"; do
    if [ -z "${R_RPS[$s]:-}" ]; then
      printf '%-15s %10s   (%s)\n' "$s" '-' "${R_NOTE[$s]:-no result}"
      continue
    fi
    printf '%-15s %10.0f %9s %9s %8s %8s %9s %17s %7s%% %7s%%%s\n' \
      "$s" "${R_RPS[$s]}" "$(ms "${R_P50[$s]}")" "$(ms "${R_P99[$s]}")" \
      "${R_NON2XX[$s]}" "${R_SOCKERR[$s]}" \
      "$(ratio "${R_RPS[$s]}" "$ref_nginx")" "$(ratio "${R_RPS[$s]}" "$ref_fsql")" \
      "${R_SRVCPU[$s]}" "${R_CLICPU[$s]}" "${R_NOTE[$s]:+  (${R_NOTE[$s]})}"
  done
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (after a $WARMUP warm-up), server on cpu $SERVER_CPU, wrk on cpu $CLIENT_CPU;"
  echo "unique ~1.5 KB signed Freshdesk bodies; srv/wrk cpu = CPU time of the server / of wrk over the load, in % of one core."
  for s in "${servers[@]}"; do
    [ -n "${R_RPS[$s]:-}" ] || continue
    if [ "${R_CORE_CLI[$s]}" != "-" ] && [ "${R_CORE_CLI[$s]}" -ge 90 ] \
       && [ "${R_CORE_SRV[$s]}" != "-" ] && [ "${R_CORE_SRV[$s]}" -lt 90 ]; then
      echo "note: $s: wrk's core was ${R_CORE_CLI[$s]}% busy, the server's ${R_CORE_SRV[$s]}%: its req/s is bounded by the load generator."
    fi
    if [ "${R_OTHER[$s]}" != "-" ] && [ "${R_OTHER[$s]}" -ge 10 ]; then
      echo "WARNING: $s: other processes used ${R_OTHER[$s]}% of a core during its load: this row is disturbed."
    fi
  done
} | tee "$RESULTS/summary.txt"

{
  printf 'server\trps\tp50_us\tp99_us\tnon2xx\tsock_err\tvs_nginx\tvs_fastapi_sqlite\tserver_cpu_pct\twrk_cpu_pct\tother_cpu_pct\tserver_core_busy_pct\tclient_core_busy_pct\tnote\n'
  for s in "${servers[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "${R_RPS[$s]:-}" "${R_P50[$s]:-}" \
      "${R_P99[$s]:-}" "${R_NON2XX[$s]:-}" "${R_SOCKERR[$s]:-}" \
      "$(ratio "${R_RPS[$s]:-}" "$ref_nginx")" "$(ratio "${R_RPS[$s]:-}" "$ref_fsql")" \
      "${R_SRVCPU[$s]:-}" "${R_CLICPU[$s]:-}" "${R_OTHER[$s]:-}" "${R_CORE_SRV[$s]:-}" "${R_CORE_CLI[$s]:-}" "${R_NOTE[$s]:-}"
  done
} > "$RESULTS/summary.tsv"

log "raw outputs: $RESULTS"
exit $failed
