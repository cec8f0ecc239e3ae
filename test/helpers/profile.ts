/**
 * Per-file CPU seconds for `scripts/test-profile.sh` (a setup file of its config only;
 * `npm test` does not load it). A worker runs one file at a time, so the delta of its
 * own CPU time plus its waited-for children's (validators, tsc, tsx: /proc/self/stat
 * utime+stime+cutime+cstime) from the file's setup to its last hook is that file's
 * cost, imports included, whatever else loads the machine. Child processes are also
 * counted per program: synchronous ones with their CPU seconds, asynchronous ones by
 * number only (their CPU lands in the file's total when they are reaped).
 */
import { appendFileSync, readFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import * as path from "node:path";
import { afterAll } from "vitest";

const TICKS_PER_SECOND = 100;

function cpuSeconds(): { self: number; children: number } {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after "(comm)": state is field 3, utime 14, stime 15, cutime 16, cstime 17.
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
  return { self: (f[11]! + f[12]!) / TICKS_PER_SECOND, children: (f[13]! + f[14]!) / TICKS_PER_SECOND };
}

const out = process.env.FLEET_TEST_PROFILE;
const start = cpuSeconds();
const wallStart = performance.now();
const programs: Record<string, { n: number; cpuS: number }> = {};

/** `sh -c "haproxy -c …"` counts as `sh:haproxy`: the first word of the script. */
function programName(file: string, args: readonly unknown[] | undefined): string {
  const base = path.basename(file);
  if ((base === "sh" || base === "bash") && Array.isArray(args)) {
    const i = args.indexOf("-c");
    const script = i >= 0 ? String(args[i + 1] ?? "") : "";
    const word = script.replace(/^set -eu\n/, "").replace(/^[{(\s]+/, "").split(/[\s;]/)[0] ?? "";
    return `${base}:${path.basename(word) || "?"}`;
  }
  if (base === "npx" && Array.isArray(args)) return `npx:${String(args[0])}`;
  return base;
}

// Wrap only once per worker: with isolate off the setup file runs again for every file.
interface Wrapped { __fleetProfile?: Record<string, { n: number; cpuS: number }> }
const g = globalThis as Wrapped;
if (out && !g.__fleetProfile) {
  // The CommonJS module object (the ESM namespace is frozen); syncBuiltinESMExports updates the namespace.
  const cp = process.getBuiltinModule("node:child_process") as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const fn of ["spawnSync", "execFileSync", "execSync"]) {
    const original = cp[fn]!;
    cp[fn] = (...a: unknown[]) => {
      const name = fn === "execSync" ? `sh:${String(a[0]).split(" ")[0]}` : programName(String(a[0]), a[1] as unknown[]);
      const before = cpuSeconds().children;
      try {
        return original(...a);
      } finally {
        const row = (g.__fleetProfile![name] ??= { n: 0, cpuS: 0 });
        row.n++;
        row.cpuS += cpuSeconds().children - before;
      }
    };
  }
  const spawn = cp.spawn!;
  cp.spawn = (...a: unknown[]) => {
    const row = (g.__fleetProfile![`${programName(String(a[0]), a[1] as unknown[])} (async)`] ??= { n: 0, cpuS: 0 });
    row.n++;
    return spawn(...a);
  };
  syncBuiltinESMExports();
}
if (out) g.__fleetProfile = programs;

// Vitest reads the first parameter as a fixture pattern and requires destructuring; the file is the second.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, suite) => {
  if (!out) return;
  const end = cpuSeconds();
  const file = "filepath" in suite ? String(suite.filepath) : suite.name;
  const row = {
    file: file.replace(`${process.cwd()}/`, ""),
    pid: process.pid,
    wallS: (performance.now() - wallStart) / 1000,
    selfCpuS: end.self - start.self,
    childCpuS: end.children - start.children,
    programs,
  };
  appendFileSync(out, `${JSON.stringify(row)}\n`);
});
