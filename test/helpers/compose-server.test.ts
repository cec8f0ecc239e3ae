/**
 * The pre-loaded docker-compose (compose-server.ts) is docker-compose: through the
 * shim the suite's PATH holds, an invocation gives the real binary's stdout, stderr
 * and exit status, reads its environment and working directory, and no run leaks
 * into the next.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { runProcessSync } from "./spawn";
import { tempTree } from "./validators";

const SHIM = path.join(__dirname, "compose-shim", "docker-compose");
const REAL = process.env.FLEET_COMPOSE_REAL ?? "";

const FILE = "services:\n  web:\n    image: busybox\n    environment:\n      GREETING: ${GREETING}\n      FIXED: '${FROM_ENV_FILE}'\n";

describe("docker-compose through the test server", () => {
  it("is what `docker-compose` on the suite's PATH runs, backed by a running server", () => {
    expect(REAL).toMatch(/\/docker-compose$/);
    expect(process.env.PATH?.split(":")[0]).toBe(path.dirname(SHIM));
    expect(process.env.FLEET_COMPOSE_SOCKET).toBeTruthy();
    // Through the server: falling back to a real start would exec /nonexistent and fail.
    const r = runProcessSync(SHIM, ["version", "--short"], { env: { ...process.env, FLEET_COMPOSE_REAL: "/nonexistent" } });
    expect(r).toEqual({ code: 0, stdout: "1.29.2\n", stderr: "" });
  });

  it("gives the real binary's output and status: a valid project with a warning, a broken one, an unknown command", () => {
    const dir = tempTree({ "docker-compose.yaml": FILE, ".env": "FROM_ENV_FILE=from-env-file\n", "broken.yaml": `${FILE}  nope\n` });
    for (const args of [["config"], ["-f", "broken.yaml", "config", "-q"], ["frobnicate"]]) {
      const env = { ...process.env, COMPOSE_PROJECT_NAME: "same" };
      const viaServer = runProcessSync("docker-compose", args, { cwd: dir, env });
      const real = runProcessSync(REAL, args, { cwd: dir, env });
      expect({ args, ...viaServer }).toEqual({ args, ...real });
    }
  });

  it("runs each invocation in a fresh copy: the environment and directory of one do not reach the next", () => {
    const a = tempTree({ "docker-compose.yaml": FILE, ".env": "FROM_ENV_FILE=a\n" });
    const b = tempTree({ "docker-compose.yaml": FILE, ".env": "FROM_ENV_FILE=b\n" });
    const first = runProcessSync("docker-compose", ["config"], { cwd: a, env: { ...process.env, GREETING: "hello" } });
    writeFileSync(path.join(b, "marker"), "");
    const second = runProcessSync("docker-compose", ["config"], { cwd: b, env: { ...process.env } });
    expect(first.stdout).toContain("GREETING: hello");
    expect(first.stdout).toContain("FIXED: a");
    expect(first.stderr).toBe("");
    expect(second.stdout).toContain("GREETING: ''");
    expect(second.stdout).toContain("FIXED: b");
    expect(second.stderr).toContain("The GREETING variable is not set. Defaulting to a blank string.");
  });
});
