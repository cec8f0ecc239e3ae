#!/usr/bin/env bash
# `npm test`: type-check, lint and vitest, started together so the two cores stay busy
# (tsc and eslint are single-threaded and vitest has serial stretches). Each one's
# output is printed whole, in that order; the run fails if any of the three failed.
#   npm test                      # everything
#   npm test -- test/remote       # vitest filters pass through (tsc and eslint still run whole)
set -uo pipefail
cd "$(dirname "$0")/.."

logs=$(mktemp -d "${TMPDIR:-/tmp}/fleet-test-XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s)
# Incremental: a repeated run re-checks only what changed (.cache/ is git-ignored).
npx tsc --noEmit -p tsconfig.json --incremental --tsBuildInfoFile .cache/typecheck.tsbuildinfo > "$logs/typecheck" 2>&1 &
typecheck=$!
pids+=("$typecheck")
# `eslint .` that skips a file whose key (the file, every project file it imports, the
# globals, the lint setup) linted clean before (scripts/lint; none cached on a fresh clone).
npx tsx scripts/lint/index.ts > "$logs/lint" 2>&1 &
lint=$!
pids+=("$lint")

npx vitest run "$@"
vitest=$?

wait "$typecheck"; tc=$?
wait "$lint"; li=$?
pids=()

echo "── typecheck (tsc --noEmit): exit $tc"
cat "$logs/typecheck"
echo "── lint (eslint ., scripts/lint/index.ts): exit $li"
cat "$logs/lint"
echo "── npm test: typecheck exit $tc, lint exit $li, vitest exit $vitest; $(( $(date +%s) - start )) s"
[ "$tc" -eq 0 ] && [ "$li" -eq 0 ] && [ "$vitest" -eq 0 ]
