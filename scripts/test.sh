#!/usr/bin/env bash
# Runs every test against one build directory and ends with the line
# "N passed, N failed". Unit tests (cmocka, through meson) count their cases;
# end-to-end tests (node --test) count theirs.
set -uo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

passed=0
failed=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

echo "== unit tests ($build)"
meson test -C "$build" --suite unit --print-errorlogs --verbose >"$log/unit.txt" 2>&1
unit_rc=$?
grep -E '^\[ *(OK|FAILED|PASSED|RUN) *\]|^\[  ERROR' "$log/unit.txt" | grep -vE 'RUN' || true
up=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log/unit.txt" | awk '{s+=$4} END {print s+0}')
uf=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log/unit.txt" | awk '{s+=$4} END {print s+0}')
if [ "$unit_rc" -ne 0 ] && [ "$uf" -eq 0 ]; then
  # A test program crashed or a sanitizer stopped it before cmocka's summary.
  tail -40 "$log/unit.txt"
  uf=1
fi
passed=$((passed + up))
failed=$((failed + uf))

echo "== end-to-end tests ($build)"
# The reference signature libraries the e2e tests check against (npm).
if [ -f tests/e2e/package-lock.json ] && [ ! -d tests/e2e/node_modules ]; then
  npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error || { echo "0 passed, 1 failed"; exit 1; }
fi
DESKHOOK_BIN="$root/$build/deskhook" DESKHOOK_SHIM="$root/$build/tests/libdhshim.so" \
  node --test --test-concurrency=2 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$log/e2e.tap" \
    tests/e2e/
e2e_rc=$?
ep=$(grep -E '^# pass ' "$log/e2e.tap" | awk '{print $3}' | tail -1)
ef=$(grep -E '^# fail ' "$log/e2e.tap" | awk '{print $3}' | tail -1)
ep=${ep:-0}
ef=${ef:-0}
if [ "$e2e_rc" -ne 0 ] && [ "$ef" -eq 0 ]; then ef=1; fi
passed=$((passed + ep))
failed=$((failed + ef))

# Every fuzzer for a short bounded run (FUZZ_SECONDS each, 10 by default;
# 0 replays the seed corpora only). Each target counts as one test.
if [ "${FUZZ_SECONDS:-10}" != "skip" ]; then
  echo "== fuzzers (${FUZZ_SECONDS:-10} s each)"
  bash scripts/fuzz.sh "${FUZZ_SECONDS:-10}" >"$log/fuzz.txt" 2>&1
  fuzz_rc=$?
  grep -E '^fuzz |crash file|same input' "$log/fuzz.txt" || tail -20 "$log/fuzz.txt"
  fp=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/fuzz.txt" | tail -1 | awk '{print $1}')
  ff=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/fuzz.txt" | tail -1 | awk '{print $3}')
  fp=${fp:-0}
  ff=${ff:-0}
  if [ "$fuzz_rc" -ne 0 ] && [ "$ff" -eq 0 ]; then ff=1; fi
  passed=$((passed + fp))
  failed=$((failed + ff))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
