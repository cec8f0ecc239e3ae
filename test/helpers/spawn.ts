/**
 * The one way tests and the end-to-end harness start a child process and feed it
 * stdin. A child may exit before it reads its input (a script that fails early, a
 * "no-op" path that never reads stdin): the write then fails with EPIPE, and an
 * `error` event nobody listens to is an uncaught exception that fails the whole
 * vitest run at random, more often on a loaded machine. Here stdin write errors are
 * expected and ignored; what the child did is told by its exit code and output.
 *
 * - `runProcess`: async, bounded; resolves on any exit code, rejects when the
 *   program cannot start or the timeout kills it.
 * - `runProcessSync`: the same contract for code that cannot await (exit handlers,
 *   synchronous validators). spawnSync returns EPIPE as `error` beside the exit
 *   status; that case is an exit code here, not a failure.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";

export interface ProcessResult {
  /** Exit code; 128 + signal number when killed by a signal. */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * The limit for a child that hangs, not an expectation of speed (performance goes to
 * `npm run bench`): on the loaded 2-core machine a child that loads the program (tsx,
 * Pulumi's runner, npm) took over 180 s (scripts/stress-tests.sh at load 30), so shorter
 * limits failed healthy runs. Below vitest's 600 s test timeout, so a hung child is
 * reported with its output rather than as a bare test timeout.
 */
export const HANG_LIMIT_MS = 540_000;

export interface ProcessOptions {
  /** Written to the child's stdin, which is then closed. Without it stdin is /dev/null. */
  readonly input?: string | Buffer;
  /** Hard limit; the child is SIGKILLed and the call fails when it is exceeded. @default HANG_LIMIT_MS */
  readonly timeoutMs?: number;
  /** Full environment of the child. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Called with the child right after it started (e.g. to track it for a teardown), and again with `null` when it is done. */
  readonly track?: (child: ChildProcess, running: boolean) => void;
  /**
   * After the child exits, how long to wait for its stdout/stderr to close before
   * settling anyway (a daemonising grandchild may hold them open). @default 2_000
   */
  readonly pipeGraceMs?: number;
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (SIGNALS[signal] ?? 0) : 0);
}

/** Render a command line for error messages. */
export function describeCmd(file: string, args: readonly string[]): string {
  return [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** The last `n` lines of `text`, for error messages. */
export function lastLines(text: string, n = 30): string {
  const lines = text.replace(/\n$/, "").split("\n");
  return lines.slice(-n).join("\n");
}

/** Errors of writing to a child's stdin that only mean "the child did not read it all". */
const EXPECTED_STDIN_ERRORS = new Set(["EPIPE", "ECONNRESET", "ERR_STREAM_DESTROYED"]);

/** Write `input` to the child's stdin and close it; a child that exits first is not an error. */
function feed(child: ChildProcess, input: string | Buffer, fail: (e: Error) => void): void {
  const stdin = child.stdin;
  if (!stdin) return;
  stdin.on("error", (e: NodeJS.ErrnoException) => {
    if (!EXPECTED_STDIN_ERRORS.has(e.code ?? "")) fail(new Error(`writing stdin: ${e.message}`));
  });
  stdin.end(input);
}

/**
 * Run a program to completion, bounded by `timeoutMs`. Resolves with the exit code
 * and output (never rejects on a non-zero exit); rejects when it cannot start or
 * times out, with the tail of its output.
 */
export function runProcess(file: string, args: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  const timeoutMs = opts.timeoutMs ?? HANG_LIMIT_MS;
  return new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(file, [...args], {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    opts.track?.(child, true);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let timedOut = false;
    let grace: NodeJS.Timeout | undefined;
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    const done = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      if (grace) clearTimeout(grace);
      opts.track?.(child, false);
      return true;
    };
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (!done()) return;
      const result = { code: exitCode(code, signal), stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
      if (timedOut) {
        reject(new Error(`timed out after ${timeoutMs} ms: ${describeCmd(file, args)}\n--- stdout ---\n${lastLines(result.stdout)}\n--- stderr ---\n${lastLines(result.stderr)}`));
      } else {
        resolve(result);
      }
    };
    const fail = (e: Error): void => {
      if (!done()) return;
      child.kill("SIGKILL");
      reject(new Error(`cannot run ${describeCmd(file, args)}: ${e.message}`));
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", fail);
    // "close" waits for stdio to close, which a daemonising grandchild may hold open:
    // after "exit", give the pipes a moment, then settle regardless.
    child.on("exit", (code, signal) => {
      grace = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, opts.pipeGraceMs ?? 2_000);
    });
    child.on("close", (code, signal) => finish(code, signal));
    if (opts.input !== undefined) feed(child, opts.input, fail);
  });
}

/**
 * Synchronous variant. Returns the exit code and output on any exit; throws when the
 * program cannot start (ENOENT names the program) or the timeout kills it.
 */
export function runProcessSync(file: string, args: readonly string[], opts: Omit<ProcessOptions, "track" | "pipeGraceMs"> = {}): ProcessResult {
  const timeoutMs = opts.timeoutMs ?? HANG_LIMIT_MS;
  const r = spawnSync(file, [...args], {
    stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    env: opts.env ?? process.env,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    killSignal: "SIGKILL",
  });
  // spawnSync reports EPIPE on the input pipe as an error, yet still waits for the
  // child and gives its status: a child that exited without reading is not an error.
  if (r.error && !((r.error as NodeJS.ErrnoException).code === "EPIPE" && (r.status !== null || r.signal !== null))) {
    const e = r.error as NodeJS.ErrnoException;
    if (e.code === "ETIMEDOUT") throw new Error(`timed out after ${timeoutMs} ms: ${describeCmd(file, args)}\n--- stderr ---\n${lastLines(r.stderr ?? "")}`);
    throw Object.assign(new Error(`cannot run ${describeCmd(file, args)}: ${e.message}`), { code: e.code });
  }
  return { code: exitCode(r.status, r.signal), stdout: r.stdout, stderr: r.stderr };
}

/** Run `script` with `/bin/sh -c`, feeding `input` (async). */
export function runShell(script: string, opts: ProcessOptions = {}): Promise<ProcessResult> {
  return runProcess("/bin/sh", ["-c", script], opts);
}

/** Run `script` with `/bin/sh -c`, feeding `input` (sync). */
export function runShellSync(script: string, opts: Omit<ProcessOptions, "track" | "pipeGraceMs"> = {}): ProcessResult {
  return runProcessSync("/bin/sh", ["-c", script], opts);
}
