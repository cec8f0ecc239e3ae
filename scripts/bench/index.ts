/**
 * npm run bench [-- --only <section>[,<section>] --repeat N --scale 1,10,30,100 --out FILE]
 *
 * Performance goes here, not into timed tests. Every section runs in this one process;
 * each prints its report (ratios first), and the raw figures of all go to one JSON
 * file: .bench/results.json by default (git-ignored). bench/baseline.json is a committed
 * run to compare against: `npm run bench -- --out bench/baseline.json` to refresh it.
 *
 * To add a section: write scripts/bench/sections/<name>.ts exporting a BenchSection
 * (scripts/bench/types.ts) and add it to SECTIONS below.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import { mockSection } from "./sections/mock";
import { type BenchOptions, type BenchSection } from "./types";

const SECTIONS: readonly BenchSection[] = [mockSection];

const ROOT = path.resolve(__dirname, "../..");
const BASELINE = path.join(ROOT, "bench/baseline.json");

interface Args {
  readonly only: readonly string[] | undefined;
  readonly out: string;
  readonly opts: BenchOptions;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--only ${SECTIONS.map((s) => s.name).join(",")}] [--repeat N] [--scale 1,10,30,100] [--out FILE]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  let only: string[] | undefined;
  let out = path.join(ROOT, ".bench/results.json");
  let repeat = 5;
  let scale = [1, 10, 30, 100];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => argv[++i] ?? usage(`${arg} needs a value`);
    if (arg === "--only") only = value().split(",");
    else if (arg === "--out") out = path.resolve(process.env.INIT_CWD ?? process.cwd(), value());
    else if (arg === "--repeat") repeat = Number(value());
    else if (arg === "--scale") scale = value().split(",").map(Number);
    else usage(`unexpected argument ${JSON.stringify(arg)}`);
  }
  if (!Number.isInteger(repeat) || repeat < 1) usage("--repeat must be a positive integer");
  if (scale.length < 2 || scale.some((n) => !Number.isInteger(n) || n < 1)) usage("--scale must list at least two positive integers");
  for (const name of only ?? []) if (!SECTIONS.some((s) => s.name === name)) usage(`unknown section "${name}"; known: ${SECTIONS.map((s) => s.name).join(", ")}`);
  return { only, out, opts: { repeat, scale } };
}

/** The baseline's figure at `keys`, when there is one. */
function baselineValue(baseline: unknown, keys: readonly string[]): number | undefined {
  let v: unknown = baseline;
  for (const k of keys) v = v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
  return typeof v === "number" ? v : undefined;
}

async function main(): Promise<void> {
  const { only, out, opts } = parseArgs(process.argv.slice(2));
  const baseline: unknown = existsSync(BASELINE) && path.resolve(out) !== BASELINE ? JSON.parse(readFileSync(BASELINE, "utf8")) : undefined;
  const results: Record<string, unknown> = {};
  const started = new Date().toISOString();
  const load = loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(`bench: ${cpus().length} CPUs, load ${load}, node ${process.version}, ${started}`);
  for (const section of SECTIONS.filter((s) => !only || only.includes(s.name))) {
    console.log(`\n== ${section.name}: ${section.title}`);
    const r = await section.run(opts);
    for (const line of r.report) console.log(line);
    results[section.name] = r.data;
    if (baseline !== undefined) {
      // Each stack's evaluation time against the committed baseline.
      const stacks = (r.data as { stacks?: Record<string, { medianMs: number }> }).stacks ?? {};
      const cmp = Object.entries(stacks).map(([name, s]) => {
        const was = baselineValue(baseline, ["sections", section.name, "stacks", name, "medianMs"]);
        return was === undefined ? undefined : `${name} ${(s.medianMs / was).toFixed(2)}x`;
      }).filter((x): x is string => x !== undefined);
      if (cmp.length) console.log(`against bench/baseline.json (eval time now / then): ${cmp.join(", ")}`);
    }
  }
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ started, cpus: cpus().length, loadavg: loadavg(), node: process.version, options: opts, sections: results }, null, 2)}\n`);
  console.log(`\nbench: raw figures in ${path.relative(process.cwd(), out) || out}`);
  // Pulumi's runtime keeps handles open after the last program; the results are written.
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
