#!/usr/bin/env bash
# Stability under load: run the README's test command several times in a row while
# two `yes > /dev/null` keep the CPUs busy, and report each run. A flaky test (an
# unhandled EPIPE, a race, a timeout that only bites on a loaded machine) shows up
# here long before it shows up in CI.
#
#   bash scripts/stress-tests.sh            # 5 runs of `npm test`
#   bash scripts/stress-tests.sh 3          # 3 runs
#   STRESS_CMD="npx vitest run test/remote" bash scripts/stress-tests.sh 10
#   STRESS_LOAD=0 bash scripts/stress-tests.sh   # no extra load: the machine is busy already
#
# Logs go to .stress/run-<n>.log (git-ignored). Exits non-zero if any run failed.
# The load processes are stopped on any exit (including Ctrl-C).
set -uo pipefail
cd "$(dirname "$0")/.."

runs="${1:-5}"
cmd="${STRESS_CMD:-npm test}"
extra="${STRESS_LOAD:-2}"
logs=.stress
mkdir -p "$logs"

load=()
stop_load() {
  for pid in "${load[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${load[@]}"; do wait "$pid" 2>/dev/null || true; done
  load=()
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT
trap 'stop_load; exit 143' TERM

for _ in $(seq 1 "$extra"); do
  yes > /dev/null &
  load+=("$!")
done
echo "stress: ${runs} runs of \`${cmd}\` with ${extra} x \`yes > /dev/null\` (pids ${load[*]:-none}); $(uptime)"

passed=0
failed=0
for i in $(seq 1 "$runs"); do
  log="$logs/run-$i.log"
  start=$(date +%s)
  if bash -c "$cmd" > "$log" 2>&1; then status=PASS; passed=$((passed + 1)); else status=FAIL; failed=$((failed + 1)); fi
  took=$(( $(date +%s) - start ))
  # vitest's summary lines, without colour codes.
  summary=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^ *(Test Files|Tests|Errors) ' | tr -s ' ' | paste -sd ';' -)
  echo "run $i/$runs: $status in ${took} s; ${summary:-no vitest summary}; load $(cut -d' ' -f1-3 /proc/loadavg); log $log"
  if [ "$status" = FAIL ]; then
    sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'FAIL|Error|error TS|✗|×' | head -20 | sed 's/^/    /'
  fi
done

echo "stress: ${passed} passed, ${failed} failed (runs)"
[ "$failed" -eq 0 ]
