/**
 * Program evaluation under mocks (no engine): for each stack, the time to build its
 * whole resource graph with src/testing/mocks.ts's runProgram (what the tests and
 * `npm run render` do), the resources it registers, and the time per resource against
 * the mock floor: the same number of bare `remote.Command` registrations under the same
 * mocks. Then how evaluation grows with the number of apps on one host
 * (N × (NginxSite + HAProxyRoute)).
 */
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import { HAProxyRoute } from "../../../src/components/haproxy";
import { NginxSite } from "../../../src/components/nginx";
import { defineHost } from "../../../src/remote/host";
import { runProgram, TEST_HOST_KEY, TEST_PRIVATE_KEY, type RunOptions } from "../../../src/testing/mocks";
import { knownStacks, renderGit, renderRunOptions, stackDefinition } from "../../../stacks/render";
import { type BenchOptions, type BenchSection, median, msSince, table } from "../types";

interface Timed {
  readonly ms: number[];
  readonly resources: number;
}

/** One untimed run (module loading, JIT), then `repeat` timed ones. */
async function measure(what: string, repeat: number, program: () => unknown, opts: RunOptions): Promise<Timed> {
  process.stderr.write(`bench: ${what} ...\n`);
  const warm = await runProgram(program, opts);
  const ms: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const start = process.hrtime.bigint();
    const run = await runProgram(program, opts);
    ms.push(msSince(start));
    if (run.resources.length !== warm.resources.length) throw new Error(`the program registered ${run.resources.length} resources, then ${warm.resources.length}: not deterministic`);
  }
  return { ms, resources: warm.resources.length };
}


/** `n` resources in total (the root stack is one): n - 1 bare commands. */
function floorProgram(n: number): () => void {
  return () => {
    const connection = { host: "floor.example.internal", user: "root", privateKey: pulumi.secret(TEST_PRIVATE_KEY) };
    for (let i = 1; i < n; i++) new remote.Command(`floor-${i}`, { connection, create: "true", stdin: `file ${i}\n` });
  };
}

/** One host, `apps` apps, each an nginx site on the host and its HAProxy route. */
function appsProgram(apps: number): () => void {
  return () => {
    const host = defineHost("bench", { address: "bench.example.internal", hostKey: TEST_HOST_KEY }, TEST_PRIVATE_KEY);
    for (let i = 0; i < apps; i++) {
      const name = `app${i}`;
      new NginxSite(`${name}-site`, { host, site: name, listen: 20000 + i, locations: [{ path: "/", proxyPass: `http://127.0.0.1:${30000 + i}` }] });
      new HAProxyRoute(`${name}-route`, { host, backend: name, domains: [`${name}.example.com`], healthPath: "/health", servers: [{ name: "web", address: "bench.example.internal", port: 20000 + i }] });
    }
  };
}

const fmt = (ms: number): string => ms.toFixed(1);
const ratio = (x: number): string => `${x.toFixed(2)}x`;

export const mockSection: BenchSection = {
  name: "mock",
  title: "Program evaluation under mocks (src/testing/mocks.ts runProgram)",
  async run(opts: BenchOptions) {
    const floorOpts: RunOptions = { project: "bench", stack: "floor" };
    const stacks: Record<string, { ms: number[]; medianMs: number; resources: number; floorMs: number[]; floorMedianMs: number; perResourceMs: number; floorPerResourceMs: number; vsFloor: number }> = {};
    const rows: string[][] = [["stack", "resources", "eval ms", "ms/resource", "floor ms", "floor ms/res", "vs floor"]];
    for (const stack of knownStacks()) {
      const def = stackDefinition(stack);
      const prog = await measure(`stack ${stack}`, opts.repeat, () => def.program(renderGit), renderRunOptions(stack));
      const floor = await measure(`floor of ${prog.resources}`, opts.repeat, floorProgram(prog.resources), floorOpts);
      const m = median(prog.ms);
      const f = median(floor.ms);
      const entry = { ms: prog.ms, medianMs: m, resources: prog.resources, floorMs: floor.ms, floorMedianMs: f, perResourceMs: m / prog.resources, floorPerResourceMs: f / floor.resources, vsFloor: m / f };
      stacks[stack] = entry;
      rows.push([stack, String(prog.resources), fmt(m), (m / prog.resources).toFixed(2), fmt(f), (f / floor.resources).toFixed(2), ratio(m / f)]);
    }

    const scale: { apps: number; resources: number; ms: number[]; medianMs: number; perAppMs: number; floorMedianMs: number; vsFloor: number }[] = [];
    const srows: string[][] = [["apps", "resources", "eval ms", "ms/app", "per app vs N=1", "floor ms", "vs floor"]];
    for (const apps of opts.scale) {
      const r = await measure(`${apps} apps`, opts.repeat, appsProgram(apps), { project: "bench", stack: "scale" });
      const floor = await measure(`floor of ${r.resources}`, opts.repeat, floorProgram(r.resources), floorOpts);
      const m = median(r.ms);
      const f = median(floor.ms);
      scale.push({ apps, resources: r.resources, ms: r.ms, medianMs: m, perAppMs: m / apps, floorMedianMs: f, vsFloor: m / f });
    }
    const perApp1 = scale[0]!.perAppMs;
    for (const s of scale) srows.push([String(s.apps), String(s.resources), fmt(s.medianMs), fmt(s.perAppMs), ratio(s.perAppMs / perApp1), fmt(s.floorMedianMs), ratio(s.vsFloor)]);
    const first = scale[0]!;
    const last = scale[scale.length - 1]!;
    // Growth exponent k in t ~ N^k between the smallest and largest N (1 = linear).
    const exponent = Math.log(last.medianMs / first.medianMs) / Math.log(last.apps / first.apps);

    const report = [
      `median of ${opts.repeat} runs after one warm-up run, in one process; "vs floor" = eval time / time of as many bare remote.Command registrations`,
      ...table(rows),
      "",
      `apps on one host (each: NginxSite + HAProxyRoute), N = ${opts.scale.join(", ")}:`,
      ...table(srows),
      `growth: t(${last.apps}) / t(${first.apps}) = ${ratio(last.medianMs / first.medianMs)} for ${last.apps / first.apps}x the apps; t ~ N^${exponent.toFixed(2)}`,
    ];
    return { report, data: { stacks, scale, growthExponent: exponent } };
  },
};
