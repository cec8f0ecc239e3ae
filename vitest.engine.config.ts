import { defineConfig } from "vitest/config";

// The real Pulumi engine (test/engine): the CLI and provider plugins from .engine/bin
// (scripts/build-engine.sh) against the end-to-end test hosts (test/e2e/harness). Needs
// root, the Debian packages .ci/run installs, and the engine. One file at a time: the
// files share the hosts' lock and the steps of a stack run in order.
export default defineConfig({
  test: {
    include: ["test/engine/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
  },
});
