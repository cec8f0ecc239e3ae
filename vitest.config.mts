import { defineConfig } from "vitest/config";

// Unit, validator, component and stack tests. The end-to-end suite (real sshd and
// daemons in network namespaces) has its own config: vitest.e2e.config.ts; real Docker:
// vitest.docker.config.ts.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/e2e/**", "test/docker/**", "test/cli/**", "node_modules/**"],
    // Pulumi's runtime keeps global state (mocks, config, stack): one file per worker.
    pool: "forks",
    isolate: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
