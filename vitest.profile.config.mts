import { defineConfig, mergeConfig } from "vitest/config";
import base from "./vitest.config.mts";

// scripts/test-profile.sh: the `npm test` suite with a per-file CPU recorder (test/helpers/profile.ts).
export default mergeConfig(base, defineConfig({ test: { setupFiles: ["test/helpers/profile.ts"] } }));
