/**
 * Process helpers for the end-to-end harness: bounded child processes (async and
 * sync), bounded polling, log tails and liveness checks. Only node:child_process.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

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

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (SIGNALS[signal] ?? 0) : 0);
}

/** Render a command line for error messages. */
export function describeCmd(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/**
 * Run a command to completion, bounded by `timeoutMs`. Resolves with the exit code
 * (never rejects on a non-zero exit); rejects when it cannot start or times out.
 */
export function runCmd(file: string, args: readonly string[], opts: CmdOptions = {}): Promise<CmdResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise<CmdResult>((resolve, reject) => {
    const child = spawn(file, [...args], {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? BASE_ENV,
    });
    liveChildren.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let timedOut = false;
    let grace: NodeJS.Timeout | undefined;
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      liveChildren.delete(child);
      const result = {
        code: exitCode(code, signal),
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      };
      if (timedOut) {
        reject(
          new Error(
            `timed out after ${timeoutMs} ms: ${describeCmd(file, args)}\n--- stdout ---\n${lastLines(result.stdout)}\n--- stderr ---\n${lastLines(result.stderr)}`,
          ),
        );
      } else {
        resolve(result);
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(new Error(`cannot run ${describeCmd(file, args)}: ${e.message}`));
    });
    // "close" waits for stdio to close, which a daemonising grandchild may hold open:
    // after "exit", give the pipes a moment, then settle regardless.
    child.on("exit", (code, signal) => {
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, 2_000);
    });
    child.on("close", (code, signal) => finish(code, signal));
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on("error", () => undefined); // EPIPE when the child exits early
      child.stdin.end(opts.input);
    }
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
  const r = spawnSync(file, [...args], { encoding: "utf8", timeout: timeoutMs, env: BASE_ENV, stdio: ["ignore", "pipe", "pipe"] });
  if (r.error) return { code: 127, stdout: "", stderr: r.error.message };
  return { code: exitCode(r.status, r.signal), stdout: r.stdout, stderr: r.stderr };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The last `n` lines of a text. */
export function lastLines(text: string, n = 30): string {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.slice(-n).join("\n");
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
