/**
 * A team's state backend in S3-compatible storage (docs/runbook-state-backend.md), with
 * the real CLI against moto's S3 server on loopback (scripts/s3-deps.sh installs it):
 * `pulumi login s3://…?endpoint=…&use_path_style=true`, a passphrase secrets provider,
 * two `up`s at once (the second refused by the lock, state intact), and an `up` killed
 * mid-run (refused until `pulumi cancel`, then refresh and up recover it).
 *
 * The program is a local command that sleeps: the second `up` and the kill happen while
 * the first is provably inside its update (its command has written a marker file and the
 * lock object is in the bucket), never after a fixed wait.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cli, cli, cliEnv, ENGINE_BIN, REPO, requireEngine } from "./pulumi";
import { freePort } from "../helpers/net";

const MOTO = path.join(REPO, ".venv-moto", "bin", "moto_server");
const BUCKET = "fleet-state";
const work = mkdtempSync(path.join(os.tmpdir(), "fleet-s3-"));
let moto: ChildProcess | undefined;
let endpoint = "";
let c: Cli;
let env: Record<string, string> = {};
const marker = (run: string) => path.join(work, `started-${run}`);


/** Poll `probe` until it holds; the test's own timeout bounds the wait. */
async function until(what: string, probe: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 2400; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Keys under `prefix` in the bucket (ListObjectsV2; moto does not check signatures). */
async function keys(prefix: string): Promise<string[]> {
  const r = await fetch(`${endpoint}/${BUCKET}?list-type=2&prefix=${encodeURIComponent(prefix)}`);
  const body = await r.text();
  return [...body.matchAll(/<Key>([^<]+)<\/Key>/g)].map((m) => m[1]!);
}

/** `pulumi up` as a child we can kill (its own process group: the plugins die with it). */
function startUp(run: string, seconds: number): { child: ChildProcess; done: Promise<{ code: number | null; out: string }> } {
  const child = spawn(path.join(ENGINE_BIN, "pulumi"), ["up", "--yes", "--non-interactive", "--color", "never"], {
    cwd: c.dir,
    env: { ...env, RUN: run, SLEEP: String(seconds), MARK: marker(run) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; out: string }>((resolve) => child.on("close", (code) => resolve({ code, out })));
  return { child, done };
}

interface Exported {
  deployment: { resources?: { type: string; outputs?: Record<string, unknown> }[]; pending_operations?: unknown[] };
}

async function exported(): Promise<Exported> {
  const r = await c.ok(["stack", "export"]);
  return JSON.parse(r.stdout) as Exported;
}

beforeAll(async () => {
  requireEngine();
  if (!existsSync(MOTO)) throw new Error(`${MOTO} is missing: run scripts/s3-deps.sh`);
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  moto = spawn(MOTO, ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  await until("moto to answer", async () => fetch(`${endpoint}/`).then((r) => r.ok, () => false));
  expect((await fetch(`${endpoint}/${BUCKET}`, { method: "PUT" })).status).toBe(200);

  const dir = path.join(work, "project");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "Pulumi.yaml"), "name: s3state\nruntime: nodejs\n");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "s3state", main: "index.js" }));
  writeFileSync(
    path.join(dir, "index.js"),
    [
      'const command = require("@pulumi/command");',
      "// RUN changes the trigger (a new command each run); MARK says the command has started.",
      'new command.local.Command("slow", { create: `touch "${process.env.MARK}"; sleep ${process.env.SLEEP}; echo done`, triggers: [process.env.RUN] });',
      "",
    ].join("\n"),
  );
  symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  const home = path.join(work, "home");
  mkdirSync(home);
  const aws = { AWS_ACCESS_KEY_ID: "fleet-test", AWS_SECRET_ACCESS_KEY: "fleet-test-secret", AWS_REGION: "us-east-1" };
  c = cli(dir, home, aws);
  env = cliEnv(home, aws);

  await c.ok(["login", `s3://${BUCKET}?endpoint=${endpoint}&use_path_style=true&region=us-east-1`]);
  await c.ok(["stack", "init", "dev", "--secrets-provider", "passphrase"]);
}, 300_000);

afterAll(async () => {
  moto?.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  rmSync(work, { recursive: true, force: true });
});

describe("state in S3-compatible storage (moto on loopback)", () => {
  it("keeps the stack in the bucket, its secrets under the passphrase", async () => {
    const first = startUp("first", 0);
    expect((await first.done).code).toBe(0);
    const stacks = await keys(".pulumi/stacks/");
    const file = stacks.find((k) => /^\.pulumi\/stacks\/(organization\/)?s3state\/dev\.json$/.test(k));
    expect(file, `stack files in the bucket: ${stacks.join(", ")}`).toBeDefined();
    const state = (await exported()) as Exported & { deployment: { secrets_providers?: { type: string } } };
    expect(state.deployment.secrets_providers?.type).toBe("passphrase");
  });

  it("refuses a second up while one runs; the first completes and the state is intact", async () => {
    const a = startUp("a", 15);
    await until("the first up's command to start", () => existsSync(marker("a")));
    expect((await keys(".pulumi/locks/")).length).toBe(1);
    const b = await c.run(["up", "--yes"]);
    expect(b.code).not.toBe(0);
    expect(b.stdout + b.stderr).toContain("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.");
    expect(b.stdout + b.stderr).toMatch(/s3:\/\/fleet-state\/\.pulumi\/locks\/organization\/s3state\/dev\/[0-9a-f-]+\.json\?endpoint=\S+: created by \S+ \(pid \d+\) at /);
    const ra = await a.done;
    expect({ code: ra.code, tail: ra.out.slice(-400) }).toMatchObject({ code: 0 });
    expect(await keys(".pulumi/locks/")).toEqual([]);
    const state = await exported();
    const cmd = state.deployment.resources?.find((r) => r.type === "command:local:Command");
    expect(cmd?.outputs?.stdout).toBe("done");
    expect(state.deployment.pending_operations ?? []).toEqual([]);
    const again = startUp("a", 15);
    const ra2 = await again.done;
    expect(ra2.code).toBe(0);
    expect(ra2.out).toContain("2 unchanged");
  });

  it("an up killed mid-run: refused by its lock until pulumi cancel, then refresh and up recover", async () => {
    const k = startUp("k", 300);
    await until("the doomed up's command to start", () => existsSync(marker("k")));
    process.kill(-k.child.pid!, "SIGKILL");
    await k.done;
    expect((await keys(".pulumi/locks/")).length).toBe(1);

    const refused = await c.run(["up", "--yes"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain("the stack is currently locked by 1 lock(s)");

    const cancel = await c.ok(["cancel", "--yes"]);
    expect(cancel.stdout).toContain("The currently running update for 'dev' has been canceled!");
    expect(await keys(".pulumi/locks/")).toEqual([]);

    await c.ok(["refresh", "--yes", "--clear-pending-creates"]);
    const up = startUp("k2", 1);
    const r = await up.done;
    expect({ code: r.code, tail: r.out.slice(-600) }).toMatchObject({ code: 0 });
    const state = await exported();
    expect(state.deployment.pending_operations ?? []).toEqual([]);
    expect(state.deployment.resources?.filter((x) => x.type === "command:local:Command").map((x) => x.outputs?.stdout)).toEqual(["done"]);
    const quiet = startUp("k2", 1);
    const q = await quiet.done;
    expect(q.code).toBe(0);
    expect(q.out).toContain("2 unchanged");
  });
});
