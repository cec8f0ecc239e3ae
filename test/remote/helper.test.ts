/**
 * The file helper's critical section (issue 15 item 3: serial only where a daemon needs it):
 * a put reads and stages its content before it takes the daemon's lock, so the lock covers
 * only the swap, the check and the journal. Run for real through /bin/sh in a temp dir, the
 * helper called by its path as on a host; the lock is held by the test through flock(1), and
 * the kernel's /proc/locks says when a call is waiting for it.
 */
import { type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Daemon } from "../../src/remote/daemons";
import { bundlePart, type FileHelper, putArgs } from "../../src/remote/helper";
import { sh } from "../../src/remote/quote";
import { installHelperIn } from "../helpers/inputs";
import { WaitAborted, waitFor } from "../e2e/harness/proc";
import { type FileTarget, helperForFiles, type ScriptContext } from "../../src/remote/scripts";
import { type ProcessResult, runProcess, runShellSync } from "../helpers/spawn";

let dir: string;
let etc: string;
let daemon: Daemon;
let holder: Promise<ProcessResult> | undefined;
const ctx = (extra: Partial<ScriptContext> = {}): ScriptContext => ({ lockDir: path.join(dir, "lock"), sudo: false, host: "testhost", ...extra });
const lockFile = () => path.join(dir, "lock", "fleet-app.lock");
const file = (name: string): FileTarget => ({ path: path.join(etc, name), owner: "root", group: "root", mode: "0640" });
const read = (name: string): string | undefined => (existsSync(path.join(etc, name)) ? readFileSync(path.join(etc, name), "utf8") : undefined);
/** The helper's temp files (and any other bookkeeping) beside the targets. */
const leftovers = () => readdirSync(etc).filter((f) => f.includes(".fleet-"));
const staged = (name: string) => readdirSync(etc).filter((f) => f.startsWith(`.${name}.`) && f.endsWith(".fleet-new"));

/** Writes `h` as an executable file in the temp dir (once); its path. */
const install = (h: FileHelper): string => installHelperIn(dir, h);

/** One `put --bundled` call of `files` (the shape `remoteFiles` runs); `track` sees the helper's process. */
function putAll(files: readonly [FileTarget, string][], opts: { defer?: boolean; ctx?: ScriptContext; track?: (child: ChildProcess, running: boolean) => void } = {}): Promise<ProcessResult> {
  const targets = files.map(([t]) => t);
  const exe = install(helperForFiles(targets, daemon, opts.ctx ?? ctx()));
  // exec: the process `track` sees is the helper itself.
  return runProcess("/bin/sh", ["-c", `exec ${sh(exe)} ${putArgs(targets, false, opts.defer ?? true, true)}`], { input: files.map(([t, c]) => bundlePart(t.path, c)).join(""), ...(opts.track ? { track: opts.track } : {}) });
}

/** Poll `probe` every 20 ms until it holds (at most 120 s, the bound it always had); a WaitAborted stops it at once. */
const until = (what: string, probe: () => boolean): Promise<void> =>
  waitFor(what, 120_000, () => Promise.resolve(probe() ? { ok: true as const, value: undefined } : { ok: false as const, detail: "not yet" }), () => "", 20);

/** Wait until `n` calls wait for the lock; a call that ends before that fails the wait at once. */
async function waiting(n: number, calls: readonly Promise<ProcessResult>[]): Promise<void> {
  const ended: ProcessResult[] = [];
  for (const c of calls) void c.then((r) => ended.push(r));
  await until(`${n} call(s) to wait for the lock`, () => {
    if (ended.length > 0) throw new WaitAborted(`a call ended before waiting for the lock: ${JSON.stringify(ended[0])}`);
    return locks().waiting === n;
  });
}

/** The flock(2) locks on the lock file, from the kernel: the holder's and the waiters' ("->"). */
function locks(): { held: number; waiting: number } {
  if (!existsSync(lockFile())) return { held: 0, waiting: 0 };
  // /proc/locks names the file as MAJOR:MINOR:INODE, the device numbers in hex.
  const { dev, ino } = statSync(lockFile());
  const major = ((dev >> 8) & 0xfff).toString(16).padStart(2, "0");
  const minor = ((dev & 0xff) | ((dev >> 12) & 0xfff00)).toString(16).padStart(2, "0");
  const id = ` ${major}:${minor}:${ino} `;
  const mine = readFileSync("/proc/locks", "utf8")
    .split("\n")
    .filter((l) => l.includes(" FLOCK ") && l.includes(id));
  return { held: mine.filter((l) => !l.includes("->")).length, waiting: mine.filter((l) => l.includes("->")).length };
}

/** Hold the daemon's lock from outside (as another call would) until `release()`. */
async function holdLock(): Promise<void> {
  mkdirSync(path.dirname(lockFile()), { recursive: true });
  const fifo = path.join(dir, "release");
  runShellSync(`mkfifo ${sh(fifo)}`);
  holder = runProcess("flock", [lockFile(), "sh", "-c", `read x < ${sh(fifo)}`]);
  await until("the test to hold the lock", () => locks().held === 1);
}
async function release(): Promise<void> {
  writeFileSync(path.join(dir, "release"), "go\n");
  expect((await holder!).code).toBe(0);
  holder = undefined;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "fleet-helper-"));
  etc = path.join(dir, "etc");
  mkdirSync(etc);
  daemon = {
    lock: "app",
    service: "appd",
    checker: "appd -t",
    validate: `if cat ${sh(etc)}/*.conf 2>/dev/null | grep -q BROKEN; then echo "appd: BROKEN is not a directive" >&2; exit 1; fi`,
    reload: `cat ${sh(etc)}/*.conf | tr '\\n' ' ' >> ${sh(path.join(dir, "reloads"))}; echo >> ${sh(path.join(dir, "reloads"))}`,
  };
});

afterEach(async () => {
  if (holder) await release();
  rmSync(dir, { recursive: true, force: true });
});

describe("put stages its content before the lock", () => {
  it("while another call holds the lock, the new versions wait beside their targets with owner and mode set, the live files untouched; then they land", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    writeFileSync(a.path, "a0\n");
    await holdLock();
    const call = putAll([[a, "a1\n"], [b, "b1\n"]]);
    await waiting(1, [call]);
    for (const [name, content] of [["a.conf", "a1\n"], ["b.conf", "b1\n"]] as const) {
      const temp = staged(name);
      expect(temp).toHaveLength(1);
      expect(readFileSync(path.join(etc, temp[0]!), "utf8")).toBe(content);
      expect((statSync(path.join(etc, temp[0]!)).mode & 0o777).toString(8)).toBe("640");
    }
    expect([read("a.conf"), read("b.conf")]).toEqual(["a0\n", undefined]);
    await release();
    expect(await call).toMatchObject({ code: 0, stdout: `fleet: updated ${a.path}; appd reload pending\nfleet: updated ${b.path}; appd reload pending\n` });
    expect([read("a.conf"), read("b.conf")]).toEqual(["a1\n", "b1\n"]);
    expect(leftovers()).toEqual([".a.conf.fleet-live"]);
  });

  it("two calls for the same file stage apart (each its own temp file) and both land, one after the other", async () => {
    const a = file("a.conf");
    await holdLock();
    const calls = [putAll([[a, "first\n"]], { defer: false }), putAll([[a, "second\n"]], { defer: false })];
    await waiting(2, calls);
    expect(staged("a.conf").map((f) => readFileSync(path.join(etc, f), "utf8")).sort()).toEqual(["first\n", "second\n"]);
    await release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    expect(results.map((r) => r.stdout)).toEqual([`fleet: updated ${a.path}\n`, `fleet: updated ${a.path}\n`]);
    // Each call reloaded with its own version; the one that went second is live.
    const loaded = readFileSync(path.join(dir, "reloads"), "utf8").split("\n").filter(Boolean);
    expect([...loaded].sort()).toEqual(["first ", "second "]);
    expect(`${read("a.conf")!.trimEnd()} `).toBe(loaded[1]);
    expect(leftovers()).toEqual([]);
  });

  it("two calls for different files of one daemon both land, each validated with the other's file once it is in", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    await holdLock();
    const calls = [putAll([[a, "a1\n"]]), putAll([[b, "b1\n"]])];
    await waiting(2, calls);
    await release();
    expect((await Promise.all(calls)).map((r) => r.code)).toEqual([0, 0]);
    expect([read("a.conf"), read("b.conf")]).toEqual(["a1\n", "b1\n"]);
    expect(readFileSync(path.join(dir, "lock", "fleet-app.pending"), "utf8").split("\n").filter(Boolean).map((l) => l.split("\t")[3]).sort()).toEqual([a.path, b.path]);
  });

  it("a failure while staging (an owner that does not exist) leaves every live file as it was and no temp file, without waiting for the lock", async () => {
    const a = file("a.conf");
    const b = { ...file("b.conf"), owner: "fleet-no-such-user" };
    writeFileSync(a.path, "a0\n");
    const inode = statSync(a.path).ino;
    // The lock is held throughout: a call that failed only after taking it would never return.
    await holdLock();
    // A short lock timeout: a helper that took the lock before staging fails on it at once.
    const r = await putAll([[a, "a1\n"], [b, "b1\n"]], { ctx: ctx({ lockTimeoutSeconds: 1 }) });
    expect(r.code).toBe(1);
    // chown's own complaint, then the helper's one line (nothing restored: nothing was changed).
    expect(r.stderr.trimEnd().split("\n").at(-1)).toBe(`fleet: could not set owner fleet-no-such-user:root and mode 0640 on the new version of ${b.path} on testhost; live file untouched`);
    expect([read("a.conf"), statSync(a.path).ino, read("b.conf")]).toEqual(["a0\n", inode, undefined]);
    expect(leftovers()).toEqual([]);
  });

  it("a lock that never comes leaves the live file and no temp file", async () => {
    const a = file("a.conf");
    writeFileSync(a.path, "a0\n");
    await holdLock();
    const r = await putAll([[a, "a1\n"]], { ctx: ctx({ lockTimeoutSeconds: 1 }) });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`fleet: timed out after 1s waiting for ${lockFile()} on testhost (another deploy of appd?)\n`);
    expect(read("a.conf")).toBe("a0\n");
    expect(leftovers()).toEqual([]);
  });

  it("a call stopped (SIGTERM) while it waits for the lock removes its temp file and touches nothing", async () => {
    const a = file("a.conf");
    writeFileSync(a.path, "a0\n");
    await holdLock();
    let helperProcess: ChildProcess | undefined;
    const call = putAll([[a, "a1\n"]], { track: (child, running) => (helperProcess = running ? child : helperProcess) });
    await waiting(1, [call]);
    expect(staged("a.conf")).toHaveLength(1);
    helperProcess!.kill("SIGTERM");
    // The shell runs its trap once flock returns: here, when the lock is released.
    await release();
    const r = await call;
    expect(r.code).toBe(143);
    expect(r.stdout).toBe("");
    expect(read("a.conf")).toBe("a0\n");
    expect(leftovers()).toEqual([]);
  });
});
