import { createServer, type Server } from "node:http";
import { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheck, healthCheckSchema, healthCheckScript } from "../../src/components/health";
import { taskScript, taskStdin } from "../../src/remote/scripts";
import { testHost } from "../helpers/hosts";
import { leaves, runProgram } from "../helpers/pulumi";
import { refused } from "../helpers/inputs";
import { runShell } from "../helpers/spawn";

let server: Server;
let base: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === "/ok") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status": "ok"}');
    } else if (req.url === "/degraded") {
      res.writeHead(200);
      res.end('{"status": "degraded"}');
    } else if (req.url === "/auth") {
      const want = `Basic ${Buffer.from('daedalus-service:p@ss w:rd#%"\\x').toString("base64")}`;
      res.writeHead(req.headers.authorization === want ? 200 : 401);
      res.end(req.headers.authorization === want ? "[]" : "denied");
    } else {
      res.writeHead(502);
      res.end("bad gateway");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Run the exact script the component would send, locally through /bin/sh. */
function run(input: Record<string, unknown>, secrets: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const spec = healthCheckSchema.parse(input);
  const script = taskScript({ body: healthCheckScript(spec), secretNames: secrets.length ? ["PASSWORD"] : [] }, { lockDir: "/tmp", sudo: false });
  return runShell(script, { input: secrets.length ? taskStdin(secrets) : "" });
}

describe("health check script (run for real against a loopback server)", () => {
  it("passes on the right status and body", async () => {
    const r = await run({ url: `${base}/ok`, bodyMatch: '"status": ?"ok"' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("answered 200");
  });

  it("fails on a wrong body with what was expected and what came back, within its bounded attempts", async () => {
    hits = 0;
    const r = await run({ url: `${base}/degraded`, bodyMatch: '"status": ?"ok"', attempts: 3, initialDelaySeconds: 0 });
    expect(r.code).not.toBe(0);
    expect(hits).toBe(3);
    expect(r.stderr).toContain(`health check failed for ${base}/degraded after 3 attempt(s)`);
    expect(r.stderr).toContain('expected status 200 and a body matching /"status": ?"ok"/');
    expect(r.stderr).toContain('got status 200 and body: {"status": "degraded"}');
  });

  it("fails on a wrong status", async () => {
    const r = await run({ url: `${base}/nope`, attempts: 2, initialDelaySeconds: 0 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("expected status 200; got status 502 and body: bad gateway");
  });

  it("reports a refused connection as status 000 with curl's message", async () => {
    const r = await run({ url: "http://127.0.0.1:1/x", attempts: 1 });
    expect(r.stderr).toContain("got status 000");
    expect(r.stderr).toContain("(curl: curl: (7)");
  });

  it("sends basic auth from a secret on stdin, never on the command line", async () => {
    const password = 'p@ss w:rd#%"\\x';
    const spec = healthCheckSchema.parse({ url: `${base}/auth`, basicAuthUser: "daedalus-service" });
    expect(healthCheckScript(spec)).not.toContain(password);
    const r = await run({ url: `${base}/auth`, basicAuthUser: "daedalus-service", attempts: 1 }, [password]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("HealthCheck component", () => {
  it("is one remote command, re-run when its triggers change, password on stdin as a secret", async () => {
    const run = await runProgram(() => {
      new HealthCheck("svc-account", {
        host: testHost("prospero"),
        url: "https://mnemosyne.ouranos.helu.ca/library/api/workspaces/",
        basicAuthUser: "daedalus-service",
        password: "hunter2-secret",
        triggers: ["rev-1"],
      });
    });
    expect(run.names()).toEqual(["svc-account", "svc-account-check"]);
    const cmd = run.get("svc-account-check");
    expect(cmd.inputs.triggers).toEqual(["https://mnemosyne.ouranos.helu.ca/library/api/workspaces/", "rev-1"]);
    expect(String(cmd.inputs.create)).not.toContain("hunter2-secret");
    const stdin = (await leaves(cmd.props)).find((l) => l.path === "stdin");
    expect(stdin?.secret).toBe(true);
    expect(cmd.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
  });

  it.each([
    [{ url: "http://$(id)/x" }, "url: must be an http:// or https:// URL without spaces or quotes"],
    [{ url: "http://ok/x", attempts: 1000 }, "attempts: must be at most 60: bound the wait"],
    [{ url: "http://ok/x", headers: { "X Bad": "1" } }, "headers/X Bad: header names must be letters, digits and '-'"],
    [{ url: "http://ok/x", bodyMatch: "a\nb" }, "bodyMatch: must be one line without control characters"],
  ])("refuses %j", async (input, message) => {
    const r = await refused(() => new HealthCheck("bad", { host: testHost("puck"), ...(input) }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain(`HealthCheck "bad": ${message}`);
  });
});
