#!/usr/bin/env bash
# Builds every libFuzzer target in tests/fuzz/ and runs each for a while.
#
# usage: scripts/fuzz.sh [SECONDS]
#
# SECONDS (default $FUZZ_SECONDS, else 10) is the run time of each target;
# 0 runs each target over its seeds once and stops (a quick regression check).
# Everything goes to build-fuzz/: the objects of src/ (compiled once, with
# coverage and sanitizers, and linked into every target), the generated
# preset table, the binaries, a scratch copy of each seed corpus (libFuzzer
# adds its finds there, not to tests/fuzz/corpus/), one log per target and
# the artifacts of any failure. Prints one line per target and ends with
# "N passed, M failed"; exits 1 when a target fails, 2 when the build does.
set -uo pipefail

secs=${1:-${FUZZ_SECONDS:-10}}
case $secs in
'' | *[!0-9]*)
  echo "usage: $0 [SECONDS]   (0: only replay the seeds)" >&2
  exit 2
  ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=build-fuzz
CC=${CC:-clang}
# The version string meson.build gives the code.
version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" meson.build | head -n 1)
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -fno-strict-aliasing -D_GNU_SOURCE -std=gnu11 -DDH_VERSION="\"${version:-0}\""
        -Isrc -I"$out/gen")
# $FUZZ_LDLIBS: more libraries, should src/ come to need them.
LIBS=(-ljansson -lcrypto -lsqlite3 -lyaml -lmicrohttpd -lcurl -lm -lpthread ${FUZZ_LDLIBS:-})

mkdir -p "$out/gen" "$out/obj" "$out/bin" "$out/corpus" "$out/artifacts" "$out/logs" "$out/tmp"

# ---- build ----

# The presets are compiled in, as meson.build does.
python3 scripts/embed.py dh_presets_embedded "$out/gen/presets_embed.c" providers/*.json ||
  exit 2

# Every source of the library (all of src/ but the command line), one
# object each, compiled in parallel.
srcs=()
while IFS= read -r f; do
  srcs+=("$f")
done < <(find src -name '*.c' ! -path 'src/cli/*' | sort)
srcs+=("$out/gen/presets_embed.c")

rm -f "$out"/obj/*.o
export CC out
printf '%s\n' "${srcs[@]}" |
  xargs -P "$(nproc 2>/dev/null || echo 2)" -I{} sh -c '
    f="$1"; shift
    o="$out/obj/$(echo "$f" | tr / _ | sed "s/\.c$/.o/")"
    "$CC" "$@" -c "$f" -o "$o" || { echo "fuzz: cannot compile $f" >&2; exit 255; }
  ' sh {} "${CFLAGS[@]}" || exit 2
objs=("$out"/obj/*.o)

targets=()
for t in tests/fuzz/fuzz_*.c; do
  name=$(basename "$t" .c)
  if ! "$CC" "${CFLAGS[@]}" "$t" "${objs[@]}" "${LIBS[@]}" -o "$out/bin/$name"; then
    echo "fuzz: cannot build $name" >&2
    exit 2
  fi
  targets+=("$name")
done

# ---- run ----

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# Targets that need a file make it under $TMPDIR; a crash leaves it here.
export TMPDIR="$root/$out/tmp"
rm -f "$TMPDIR"/deskhook-fuzz-*
passed=0
failed=0
for name in "${targets[@]}"; do
  short=${name#fuzz_}
  corpus="$out/corpus/$short"
  art="$out/artifacts/$short/"
  log="$out/logs/$name.log"
  rm -rf "$corpus" "$art"
  mkdir -p "$corpus" "$art"
  if [ -d "tests/fuzz/corpus/$short" ]; then
    cp -R "tests/fuzz/corpus/$short/." "$corpus/"
  fi
  opts=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art")
  if [ "$secs" -eq 0 ]; then
    opts+=(-runs=0)
  else
    opts+=(-max_total_time="$secs")
  fi
  if [ -f "tests/fuzz/$short.dict" ]; then
    opts+=(-dict="tests/fuzz/$short.dict")
  fi
  "$out/bin/$name" "${opts[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $name: ok (${execs:-0} execs)"
    passed=$((passed + 1))
  else
    echo "fuzz $name: FAILED"
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    grep -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|==[0-9]+== ERROR)' "$log" |
      sed 's/^/  /'
    echo "  crash file: ${crash:-none (see $log)}"
    # A failure the corpus already keeps (a crash-* seed awaiting its fix).
    if [ -n "$crash" ] && [ -f "$crash" ] && [ -d "tests/fuzz/corpus/$short" ]; then
      for seed in "tests/fuzz/corpus/$short"/*; do
        if cmp -s "$crash" "$seed"; then
          echo "  same input as $seed"
          break
        fi
      done
    fi
    echo "  log: $log"
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
