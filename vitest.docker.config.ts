import { defineConfig } from "vitest/config";

// Real Docker (DESIGN.md, "Testing layers", item 8): dockerd, compose v2 and a registry
// on the e2e harness's puck (test/e2e/harness/docker.ts). Needs root, the Debian packages
// of scripts/e2e-deps.sh and scripts/docker-deps.sh, and scripts/build-compose.sh.
// Files run one after another: they share the machine-wide e2e lock.
export default defineConfig({
  test: {
    include: ["test/docker/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
