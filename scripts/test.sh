#!/usr/bin/env bash
# `npm test`: type-check and lint (one process, one TypeScript program) beside vitest, so
# the two cores stay busy (the check is single-threaded and vitest has serial stretches).
# Each one's output is printed whole; the run fails if either failed.
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
# The typecheck (what `tsc --noEmit -p tsconfig.json --incremental` reports, build info in
# .cache/typecheck.tsbuildinfo) and `eslint .` from one TypeScript program, parsed and
# checked once for both (scripts/lint/program.ts); the lint skips a file whose key (the
# file, every project file it imports, the globals, the lint setup) linted clean before
# (none cached on a fresh clone). `npm run typecheck` and `npm run lint` stay plain.
# The same program emits the package build (tsconfig.build.json) into dist/ with a stamp
# proving what it is; test/library/consumer.test.ts waits for this run's stamp and packs it
# instead of building src/ again beside the typecheck (scripts/lint/shared-build.ts).
export FLEET_SHARED_BUILD="$PWD/.cache/shared-build/stamp.json" FLEET_SHARED_BUILD_RUN="$$-$start-$RANDOM"
npx tsx scripts/lint/index.ts --typecheck > "$logs/check" 2>&1 &
check=$!
pids+=("$check")
export FLEET_SHARED_BUILD_PID="$check"

npx vitest run "$@"
vitest=$?

wait "$check"; ck=$?
pids=()

echo "── typecheck and lint (tsc --noEmit and eslint ., one program: scripts/lint/index.ts --typecheck): exit $ck"
cat "$logs/check"
echo "── npm test: typecheck and lint exit $ck, vitest exit $vitest; $(( $(date +%s) - start )) s"
[ "$ck" -eq 0 ] && [ "$vitest" -eq 0 ]
