/**
 * Process helpers for the end-to-end harness: bounded child processes (async and
 * sync), bounded polling, log tails and liveness checks. Only node:child_process.
 */
import { type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describeCmd, lastLines, runProcess, runProcessSync } from "../../helpers/spawn";

export { describeCmd, lastLines };

export interface CmdResult {
  /** Exit code; 128 + signal number when killed by a signal. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CmdOptions {
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  readonly input?: string;
  /** Hard limit; the child is SIGKILLed and the promise rejects when it is exceeded. @default 60_000 */
  readonly timeoutMs?: number;
  /** Full environment of the child. @default a minimal root environment */
  readonly env?: NodeJS.ProcessEnv;
}

/** A clean environment so nothing from the test runner leaks into daemons and scripts. */
export const BASE_ENV: NodeJS.ProcessEnv = {
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  HOME: "/root",
  LANG: "C.UTF-8",
  LC_ALL: "C.UTF-8",
};

/** Children currently running, so a teardown can kill them (ssh clients, nsenter, ...). */
export const liveChildren = new Set<ChildProcess>();

/**
 * Run a command to completion, bounded by `timeoutMs`. Resolves with the exit code
 * (never rejects on a non-zero exit); rejects when it cannot start or times out.
 * test/helpers/spawn.ts does the work (stdin EPIPE when the child exits early is
 * not an error); here the child is tracked in `liveChildren` for the teardown.
 */
export function runCmd(file: string, args: readonly string[], opts: CmdOptions = {}): Promise<CmdResult> {
  return runProcess(file, args, {
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    timeoutMs: opts.timeoutMs ?? 60_000,
    env: opts.env ?? BASE_ENV,
    track: (child, running) => (running ? liveChildren.add(child) : liveChildren.delete(child)),
  });
}

/** Run a command and fail with its output unless it exits 0. */
export async function mustRun(file: string, args: readonly string[], opts: CmdOptions & { what?: string } = {}): Promise<CmdResult> {
  const r = await runCmd(file, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${opts.what ? `${opts.what}: ` : ""}${describeCmd(file, args)} exited ${r.code}\n--- stdout ---\n${lastLines(r.stdout)}\n--- stderr ---\n${lastLines(r.stderr)}`,
    );
  }
  return r;
}

/** Synchronous, bounded variant (exit handlers cannot wait for promises). */
export function runCmdSync(file: string, args: readonly string[], timeoutMs = 10_000): CmdResult {
  try {
    return runProcessSync(file, args, { timeoutMs, env: BASE_ENV });
  } catch (e) {
    return { code: 127, stdout: "", stderr: (e as Error).message };
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The last lines of a log file, labelled, for failure messages. */
export function tailFile(path: string, n = 30): string {
  if (!existsSync(path)) return `--- ${path} (missing) ---`;
  try {
    return `--- tail of ${path} ---\n${lastLines(readFileSync(path, "utf8"), n)}`;
  } catch (e) {
    return `--- ${path} (unreadable: ${(e as Error).message}) ---`;
  }
}

/** Thrown by a probe to stop waiting at once (the awaited process died). */
export class WaitAborted extends Error {}

/** A probe's answer: ready with a value, or not yet with a reason for the error message. */
export type Probe<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly detail: string };

/**
 * Poll `probe` until it reports ready or `timeoutMs` passes. The error says what was
 * awaited, the last reason it was not ready, and the diagnostics (log tails).
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<Probe<T>>,
  diagnostics: () => string = () => "",
  intervalMs = 100,
): Promise<T> {
  const start = Date.now();
  let last = "never probed";
  for (;;) {
    try {
      const r = await probe();
      if (r.ok) return r.value;
      last = r.detail;
    } catch (e) {
      if (e instanceof WaitAborted) throw new Error(`gave up waiting for ${what}: ${e.message}\n${diagnostics()}`);
      last = (e as Error).message;
    }
    if (Date.now() - start >= timeoutMs) break;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nlast attempt: ${last}\n${diagnostics()}`);
}

/** Whether a pid is a live (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Single-quote a word for sh. */
export function shq(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
