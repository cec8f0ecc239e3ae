#!/usr/bin/env bash
# Where `npm test`'s vitest time goes: runs the same suite (vitest.profile.config.mts =
# vitest.config.mts + a per-file CPU recorder) and prints each file's wall seconds, its
# worker's CPU seconds and its children's (validators, tsc, tsx), slowest CPU first.
# CPU seconds are the number to compare on a shared machine (STYLE 40): wall time
# depends on what else runs. Raw rows: .cache/profile/files.jsonl, vitest's JSON
# report: .cache/profile/report.json.
#   bash scripts/test-profile.sh                 # whole suite
#   bash scripts/test-profile.sh test/stacks     # a part (vitest filters)
set -euo pipefail
cd "$(dirname "$0")/.."
out=.cache/profile
mkdir -p "$out"
rm -f "$out/files.jsonl"
start=$(date +%s.%N)
status=0
FLEET_TEST_PROFILE="$PWD/$out/files.jsonl" /usr/bin/time -f "%e %U %S" -o "$out/time" \
  npx vitest run --config vitest.profile.config.mts --reporter=default --reporter=json --outputFile.json="$out/report.json" "$@" || status=$?
read -r wall user sys < "$out/time"
node -e '
const fs = require("node:fs");
const [file, report, wall, user, sys, load] = process.argv.slice(1);
const rows = fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const tests = new Map(JSON.parse(fs.readFileSync(report, "utf8")).testResults.map((r) => [r.name.replace(process.cwd() + "/", ""), r.assertionResults.length]));
rows.sort((a, b) => b.selfCpuS + b.childCpuS - (a.selfCpuS + a.childCpuS));
const sum = (k) => rows.reduce((s, r) => s + r[k], 0);
console.log("\nfile".padEnd(52) + "tests  wall s  worker cpu s  child cpu s  total cpu s");
for (const r of rows) console.log(r.file.padEnd(51) + String(tests.get(r.file) ?? "?").padStart(6) + r.wallS.toFixed(1).padStart(8) + r.selfCpuS.toFixed(1).padStart(14) + r.childCpuS.toFixed(1).padStart(13) + (r.selfCpuS + r.childCpuS).toFixed(1).padStart(13));
console.log("sum of files".padEnd(57) + sum("wallS").toFixed(1).padStart(8) + sum("selfCpuS").toFixed(1).padStart(14) + sum("childCpuS").toFixed(1).padStart(13) + (sum("selfCpuS") + sum("childCpuS")).toFixed(1).padStart(13));
console.log(`vitest run: ${wall} s wall, ${(Number(user) + Number(sys)).toFixed(1)} CPU s (user ${user}, sys ${sys}); load before ${load}`);
' "$out/files.jsonl" "$out/report.json" "$wall" "$user" "$sys" "$(cut -d" " -f1-3 /proc/loadavg)"
exit "$status"
