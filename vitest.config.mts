import { enableCompileCache } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The files that take longest (they run tsc, ts-node or the render CLI in child
 * processes) start first, so the workers finish together instead of one waiting on a
 * long file picked last. Vitest orders by past durations when it has them
 * (node_modules/.vite); a fresh checkout has none, hence this list: without it vitest
 * takes the largest files first and the small ones last.
 *
 * After them, the files that mostly wait on stand-in services (releases: python's
 * http.server restarted per release, ≈ 8 s wall for ≈ 3 CPU s; compose.scripts: git and
 * docker-compose stand-ins), so their waits overlap the other workers' computing instead
 * of ending the run: by its size releases came last, and in the clean-clone run at
 * 1577590 it held one worker alone for 19 s of the 117 s.
 */
const LONGEST_FIRST = [
  "test/library/consumer.test.ts",
  "test/render/ouranos.render.test.ts",
  "test/program/runner.test.ts",
  "test/stacks/daarion.test.ts",
  "test/remote/releases.test.ts",
  "test/components/compose.scripts.test.ts",
];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification): number => {
      const i = LONGEST_FIRST.findIndex((name) => f.moduleId.endsWith(name));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

// V8's code cache for every module Node compiles, on disk (Node 22's module compile cache):
// set here, it is inherited by the workers and every Node child they start (Pulumi's
// runner, tsx, tsc, npm), which otherwise compile typescript.js, @pulumi/pulumi and the
// program's module graph from source in every process. Keyed by V8 on each module's
// source text, so a changed file is compiled afresh; a stale entry is never used.
process.env.NODE_COMPILE_CACHE ??= path.join(path.dirname(fileURLToPath(import.meta.url)), ".cache/node-compile");
enableCompileCache(process.env.NODE_COMPILE_CACHE);

// `npm test`: unit, validator, component and stack tests; everything that needs no root.
// Suites with their own config and command: end to end over SSH (vitest.e2e.config.ts,
// `npm run e2e`), real Docker (vitest.docker.config.ts, `npm run e2e:docker`), the Pulumi
// CLI (vitest.cli.config.ts, `npm run cli-test`), the real engine (vitest.engine.config.ts,
// `npm run engine`). .ci/run runs them all.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "test/docker/**", "test/cli/**", "test/engine/**", "node_modules/**"],
    // One pre-loaded docker-compose for the whole run (test/helpers/compose-server.ts).
    globalSetup: ["test/helpers/global-setup.ts"],
    // Per worker and file: cheap stack traces for Pulumi's promise bookkeeping (test/helpers/stack-traces.ts).
    setupFiles: ["test/helpers/setup.ts"],
    pool: "forks",
    // Files share a worker process and its module cache: @pulumi/pulumi and the program's
    // module graph load once per worker instead of once per file (a third of the suite's
    // CPU time). Safe because Pulumi's global state (mocks, config, stack) is set afresh
    // by every runProgram, which files already call many times in a row.
    isolate: false,
    // Vitest defaults to cores - 1 workers, i.e. one on a 2-core machine. Many tests wait
    // (on stand-in services, on the compose server, on the typecheck's build for the
    // library consumer test), so three workers on two cores: while one waits, two compute.
    // Measured on fresh clones back to back (docs/testing.md, session 7, 8B): the same CPU
    // (a third worker's module graph costs no measurable CPU s) and far fewer idle core
    // seconds (25.9 vs 100.8 with two workers, sampled at load 11-17).
    maxWorkers: 3,
    sequence: { sequencer: LongestFirst },
    // Limits for a hung test, not expectations of speed: on a loaded 2-core machine a
    // test that runs tsc, ts-node or a stack build in a child takes minutes (the library
    // test's strict tsc passed 300 s at load 16 under scripts/stress-tests.sh).
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
