import { defineConfig } from "vitest/config";

// End-to-end: real sshd, HAProxy, nginx, Caddy, Prometheus and PostgreSQL in
// network namespaces (see test/e2e/harness). Needs root and the Debian packages
// that .ci/run installs. Files run one after another: they share the hosts.
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 300_000,
  },
});
