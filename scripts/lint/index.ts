/**
 * `npm test`'s lint: `eslint .` with the same config, files and output, except that a
 * file is not linted again while its key (scripts/lint/keys.ts: the file, every
 * project file it imports, the project's globals, the lint setup) is one it linted
 * clean with before. The clean keys live in .cache/eslint/clean.json; without it
 * (a fresh clone, CI) every file is linted. Files with any message are never
 * recorded, so their messages are printed on every run. `npm run lint` stays the
 * plain `eslint .`.
 *
 * The type-aware rules get their types from one TypeScript program of tsconfig.json
 * (scripts/lint/program.ts). With `--typecheck` the same program is also `npm test`'s
 * typecheck: it prints what `tsc --noEmit -p tsconfig.json --incremental` prints (build
 * info in .cache/typecheck.tsbuildinfo), so the files are parsed and checked once for
 * both instead of once by tsc and again by the lint. Under `npm test` (FLEET_SHARED_BUILD
 * and FLEET_SHARED_BUILD_RUN set by scripts/test.sh) the same program also emits the
 * package build for the library consumer test (scripts/lint/shared-build.ts).
 *
 *   npx tsx scripts/lint/index.ts [--typecheck]   # FLEET_LINT_CACHE=0 lints everything
 */
import * as path from "node:path";
import { check } from "./check";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== "--typecheck");
  if (unknown.length) throw new Error(`unknown argument ${JSON.stringify(unknown[0])} (usage: scripts/lint/index.ts [--typecheck])`);
  const root = path.resolve(__dirname, "../..");
  // Set by scripts/test.sh: emit the package build for the consumer test (scripts/lint/shared-build.ts).
  const stampFile = process.env.FLEET_SHARED_BUILD;
  const run = process.env.FLEET_SHARED_BUILD_RUN;
  const sharedBuild = stampFile && run ? { buildTsconfig: path.join(root, "tsconfig.build.json"), stampFile, run } : undefined;
  const r = await check({ root, typecheck: args.includes("--typecheck"), useCache: process.env.FLEET_LINT_CACHE !== "0", write: (t) => process.stdout.write(t), sharedBuild });
  return r.typeErrors > 0 || r.lintErrors > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`lint: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 2;
  },
);
