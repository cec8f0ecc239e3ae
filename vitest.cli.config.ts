import { defineConfig } from "vitest/config";

// The Pulumi CLI as a user runs it (test/cli): `pulumi preview` of the stacks with the
// engine scripts/build-engine.sh installs in .engine/bin, and a docker-registry on
// loopback. Not part of `npm test`: `npm run cli-test` (.ci/run calls it).
export default defineConfig({
  test: {
    include: ["test/cli/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 180_000,
  },
});
