/**
 * The harness removes its namespaces and processes even when things go wrong: a test
 * that fails, a test that overruns its timeout in the middle of an SSH command, a run
 * terminated by a signal, and (by the next run) a run killed outright. The failing runs
 * are child processes running the fixtures in ./fixtures.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCmd, startHosts } from "./harness";
import { eventually } from "./program";
import { alive, processesMentioning } from "./procs";

const VITEST = join(process.cwd(), "node_modules/vitest/vitest.mjs");
const ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C.UTF-8" };

interface FixtureFleet {
  readonly workDir: string;
  readonly pids: number[];
}

async function fleetLeftovers(): Promise<string[]> {
  const netns = (await runCmd("ip", ["netns", "list"])).stdout.split("\n").filter((l) => l.startsWith("fleet-"));
  const links = (await runCmd("ip", ["-o", "link", "show"])).stdout.split("\n").filter((l) => /\d+: (fleetbr0|vf-)/.test(l));
  return [...netns, ...links];
}

async function expectGone(f: FixtureFleet): Promise<void> {
  expect(f.pids.length).toBeGreaterThan(0);
  expect(await fleetLeftovers()).toEqual([]);
  expect(f.pids.filter(alive)).toEqual([]);
  expect(processesMentioning(f.workDir)).toEqual([]);
  expect(existsSync(f.workDir)).toBe(false);
}

function readFixture(path: string): FixtureFleet {
  return JSON.parse(readFileSync(path, "utf8")) as FixtureFleet;
}

function exited(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Start the killed.fixture.ts process and wait (bounded) until its fleet is up. */
async function startKillable(out: string): Promise<{ child: ChildProcess; fleet: FixtureFleet }> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/e2e/fixtures/killed.fixture.ts", out], { env: ENV, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  try {
    await eventually("the fixture process to start its fleet", 60_000, () => Promise.resolve(existsSync(out) && readFileSync(out, "utf8").length > 0), (ok) => ok || child.exitCode !== null);
    if (child.exitCode !== null) throw new Error(`the fixture exited ${child.exitCode}: ${stderr}`);
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
  return { child, fleet: readFixture(out) };
}

describe("harness cleanup when things go wrong", () => {
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "fleet-e2e-teardown-"));
    expect(await fleetLeftovers()).toEqual([]);
  });

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  it("removes namespaces and processes after a failing and a timed-out test", async () => {
    const out = join(scratch, "failing.json");
    const r = await runCmd(process.execPath, [VITEST, "run", "--config", "test/e2e/fixtures/vitest.fixture.config.ts"], {
      env: { ...ENV, FLEET_FIXTURE_OUT: out },
      timeoutMs: 150_000,
    });
    const output = r.stdout + r.stderr;
    expect(r.code, output).toBe(1);
    expect(output).toContain("fails an assertion after talking to a host");
    expect(output).toContain("overruns its timeout while an SSH command runs");
    expect(output).toMatch(/Tests\s.*2 failed/);
    await expectGone(readFixture(out));
  });

  it("removes them when the test process is terminated by a signal mid-command", async () => {
    const out = join(scratch, "terminated.json");
    const { child, fleet } = await startKillable(out);
    expect(await fleetLeftovers()).not.toEqual([]);
    child.kill("SIGTERM");
    const how = await exited(child, 30_000);
    expect(how.signal).toBe("SIGTERM");
    await expectGone(fleet);
  });

  it("a run killed outright leaves its fleet behind, and the next start removes it", async () => {
    const out = join(scratch, "killed.json");
    const { child, fleet } = await startKillable(out);
    child.kill("SIGKILL");
    expect((await exited(child, 30_000)).signal).toBe("SIGKILL");
    // Nothing can run in a SIGKILLed process: the fleet is still there ...
    expect(await fleetLeftovers()).not.toEqual([]);
    expect(existsSync(fleet.workDir)).toBe(true);

    // ... until the next run takes the lock from the dead owner and cleans up first.
    const next = await startHosts({ names: ["puck"] });
    try {
      expect(fleet.pids.filter(alive)).toEqual([]);
      expect(processesMentioning(fleet.workDir)).toEqual([]);
      expect(existsSync(fleet.workDir)).toBe(false);
      expect((await next.run("puck", "hostname")).stdout).toBe("puck\n");
    } finally {
      await next.teardown();
    }
    expect(await fleetLeftovers()).toEqual([]);
  });
});
