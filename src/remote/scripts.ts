/**
 * The scripts of the one remote primitive (DESIGN.md, "Remote work: one primitive").
 * Pure functions from a typed spec to POSIX sh text; the Pulumi side lives in
 * `./command.ts`, the file helper's program in `./helper.ts`. Every value goes
 * through `sh()`.
 *
 * A managed file is applied by the host's file helper (`put`, `rm`): see `./helper.ts`
 * for the steps and guarantees. A task is a script of its own (`taskScript`).
 */
import { type Daemon } from "./daemons";
import { type FileHelper, fileHelper, putArgs, rmArgs, sudoPrefix } from "./helper";
import { sh } from "./quote";

export interface FileTarget {
  /** Absolute path of the file on the host. */
  readonly path: string;
  readonly owner: string;
  readonly group: string;
  /** Octal mode, e.g. "0644". */
  readonly mode: string;
  /**
   * Replace the file's bytes in place (same inode) instead of renaming over it.
   * Needed where the file is bind-mounted into a container (Caddy in Docker).
   */
  readonly inPlace?: boolean;
  /**
   * Shell run after the swap and again after a restore, to rebuild files derived
   * from fragments (e.g. the HAProxy host map from `hosts.d/*.map`).
   */
  readonly assemble?: string;
  /**
   * The daemon cannot run without this file (its main config). On delete, when no
   * version from before the first deploy was kept, the file stays as last deployed
   * instead of being removed, so `pulumi destroy` completes and the daemon keeps
   * serving (docs/destroy.md).
   */
  readonly keepWithoutOriginal?: boolean;
}

/** Where the version of `path` from before the first deploy is kept (see `put --keep-original`). */
export function originalPath(path: string): string {
  const i = path.lastIndexOf("/");
  return `${i <= 0 ? "" : path.slice(0, i)}/.${path.slice(i + 1)}.fleet-orig`;
}

export interface WriteOptions {
  /**
   * This is the resource's first write (the provider's `create`): keep the file found
   * there, if any, as `.NAME.fleet-orig`, for delete to put back (docs/destroy.md).
   * An existing record is never overwritten: it is the version from before the stack.
   */
  readonly recordOriginal?: boolean;
  /**
   * Write and validate the whole config, but leave the reload to the deploy's one reload
   * of this daemon (`reloadCommand`): the file is recorded as waiting for it on the host
   * (docs/remote-primitive.md, "One reload per daemon per deploy").
   */
  readonly deferReload?: boolean;
  /**
   * The content is a bundle on stdin (`bundlePart` per file): several files of one
   * resource, written by one helper call in one SSH session (`remoteFiles`).
   */
  readonly bundled?: boolean;
  /**
   * The files are one set (`remoteFiles`): the helper records their paths beside the
   * first, and a file the set held before but not now (its path moved) is removed in the
   * same transaction; delete forgets the record.
   */
  readonly set?: boolean;
}

export interface ScriptContext {
  /** Directory for lock files on the host. */
  readonly lockDir: string;
  /** Wrap in `sudo -n` (non-root login users). */
  readonly sudo: boolean;
  /** Seconds to wait for the lock before failing. @default 300 */
  readonly lockTimeoutSeconds?: number;
  /** The host's logical name, named in failure messages. @default "this host" */
  readonly host?: string;
}

const HEADER = "set -eu";

function lockLines(ctx: ScriptContext, lock: string): string[] {
  const timeout = ctx.lockTimeoutSeconds ?? 300;
  const lockFile = `${ctx.lockDir}/fleet-${lock}.lock`;
  return [
    `mkdir -p ${sh(ctx.lockDir)}`,
    `exec 9>>${sh(lockFile)}`,
    `flock -w ${timeout} 9 || { echo ${sh(`fleet: timed out after ${timeout}s waiting for ${lockFile}`)} >&2; exit 1; }`,
  ];
}

/** Run `body` on the host as a self-contained `sh -c` word, through sudo when needed. */
export function wrap(body: string, ctx: Pick<ScriptContext, "sudo">): string {
  const runner = ctx.sudo ? "sudo -n /bin/sh -c" : "/bin/sh -c";
  return `${runner} ${sh(body)}`;
}

/** The file helper that applies `target` through `daemon` on this host (see `./helper.ts`). */
export function helperFor(target: FileTarget, daemon: Daemon, ctx: ScriptContext): FileHelper {
  return fileHelper({
    host: ctx.host ?? "this host",
    daemon,
    lockDir: ctx.lockDir,
    ...(target.assemble ? { assemble: target.assemble } : {}),
    ...(ctx.lockTimeoutSeconds !== undefined ? { lockTimeoutSeconds: ctx.lockTimeoutSeconds } : {}),
  });
}

/**
 * The one file helper that applies several files of `daemon` in one call (a transaction):
 * the helper of a file with an assemble step, which runs once for all of them. Files with
 * two different assemble steps cannot share a call.
 */
export function helperForFiles(targets: FileTarget | readonly FileTarget[], daemon: Daemon, ctx: ScriptContext): FileHelper {
  const list: readonly FileTarget[] = Array.isArray(targets) ? targets : [targets as FileTarget];
  const first = list[0];
  if (first === undefined) throw new Error("helperForFiles: no files");
  const assembles = [...new Set(list.flatMap((t) => (t.assemble ? [t.assemble] : [])))];
  if (assembles.length > 1) throw new Error(`${list.map((t) => t.path).join(", ")}: files with different assemble steps cannot be written in one call`);
  return helperFor(assembles[0] === undefined ? first : { ...first, assemble: assembles[0] }, daemon, ctx);
}

/**
 * The short command a file resource runs: the installed helper's `put`, content on stdin.
 * The helper must be installed first (`installHelperScript`). Several targets are one
 * helper call, one transaction (`put A … --and B …`, content a bundle: `opts.bundled`).
 */
export function putCommand(target: FileTarget | readonly FileTarget[], daemon: Daemon, ctx: ScriptContext, opts: WriteOptions = {}): string {
  return `${sudoPrefix(ctx)}${sh(helperForFiles(target, daemon, ctx).path)} ${putArgs(target, opts.recordOriginal === true, opts.deferReload === true, opts.bundled === true, opts.set === true)}`;
}

/**
 * The short command of a daemon's one reload per deploy: every file written with
 * `deferReload` since the last reload goes live at once (or all are put back when the
 * reload fails). Nothing waiting: it does nothing.
 */
export function reloadCommand(helper: FileHelper, ctx: Pick<ScriptContext, "sudo">): string {
  return `${sudoPrefix(ctx)}${sh(helper.path)} reload`;
}

/**
 * The delete of a daemon's reload resource (a destroy, or every file of the daemon
 * removed): the removals that follow (`removeCommand` with `deferReload`) wait for one
 * reload, the one `reloadCommand` runs when the last of them is done.
 */
export function holdCommand(helper: FileHelper, ctx: Pick<ScriptContext, "sudo">): string {
  return `${sudoPrefix(ctx)}${sh(helper.path)} hold`;
}

/**
 * The short command that removes a managed file through its installed helper. With
 * `deferReload`, a removal while the daemon's reloads are held (`holdCommand`) waits for
 * the one reload after the last removal; any other removal reloads at once.
 */
export function removeCommand(target: FileTarget | readonly FileTarget[], daemon: Daemon, ctx: ScriptContext, opts: Pick<WriteOptions, "deferReload" | "set"> = {}): string {
  return `${sudoPrefix(ctx)}${sh(helperForFiles(target, daemon, ctx).path)} ${rmArgs(target, opts.deferReload === true, opts.set === true)}`;
}

/**
 * Self-contained form of `putCommand`: the helper's text itself runs as `sh -c TEXT`,
 * nothing installed. Idempotent: identical bytes, owner and mode exit 0 with
 * "unchanged" and no reload. For tests, and for one-off use without an installer.
 */
export function writeFileScript(target: FileTarget, daemon: Daemon, ctx: ScriptContext, opts: WriteOptions = {}): string {
  return `${wrap(helperFor(target, daemon, ctx).text, ctx)} fleet ${putArgs(target, opts.recordOriginal === true, opts.deferReload === true)}`;
}

/**
 * Self-contained form of `removeCommand`: takes `target` back to what it was before the
 * first deploy, the same careful way (validate, reload, restore on failure): the version
 * kept by the first write (`.NAME.fleet-orig`) is put back; without one the file is
 * removed, unless the daemon needs it (`keepWithoutOriginal`): then it stays as last deployed.
 */
export function deleteFileScript(target: FileTarget, daemon: Daemon, ctx: ScriptContext): string {
  return `${wrap(helperFor(target, daemon, ctx).text, ctx)} fleet ${rmArgs(target)}`;
}

export interface TaskScript {
  /** The shell body; secrets are available as shell variables named by `secretNames`. */
  readonly body: string;
  /**
   * Names of shell variables read from stdin, one base64 line each, in this order.
   * Secrets never appear on the command line or in the environment of `ssh`.
   */
  readonly secretNames?: readonly string[];
  /** Optional lock name, to serialise with file changes of the same service. */
  readonly lock?: string;
}

/**
 * A task's record of its last successful run, so that an update which changed nothing
 * but the connection (a re-addressed host) runs nothing. The fingerprint of what the
 * task runs (script, triggers, secrets) arrives as the first line of stdin (`runStdin`),
 * so the script text stays free of secrets; the host keeps it in `path`.
 */
export interface RunStamp {
  /** File on the host holding the fingerprint of the last successful run. */
  readonly path: string;
  /** The provider's `update`: exit without running when the stamp holds this fingerprint. */
  readonly skipIfSame: boolean;
  /** Named in the skip message. */
  readonly name: string;
}

/** Script for a one-off or triggered command. */
export function taskScript(task: TaskScript, ctx: ScriptContext, stamp?: RunStamp): string {
  const lines = [HEADER];
  // Without a fingerprint (the script run by hand, no stdin) it runs and records nothing.
  if (stamp) lines.push(`IFS= read -r __run || true`);
  for (const name of task.secretNames ?? []) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`secret variable name ${JSON.stringify(name)} must match [A-Z_][A-Z0-9_]*`);
    lines.push(`IFS= read -r __line || [ -n "$__line" ]; ${name}=$(printf '%s' "$__line" | base64 -d)`);
  }
  if (task.secretNames?.length) lines.push("unset __line");
  if (task.lock) lines.push(...lockLines(ctx, task.lock));
  if (!stamp) {
    lines.push(task.body);
    return wrap(lines.join("\n"), ctx);
  }
  if (stamp.skipIfSame) {
    lines.push(
      `if [ -n "$__run" ] && [ "$(cat ${sh(stamp.path)} 2>/dev/null || true)" = "$__run" ]; then echo ${sh(`fleet: ${stamp.name}: nothing but the connection changed since its last run; not run again`)}; exit 0; fi`,
    );
  }
  // The body in a subshell: its own `exit` ends the body, not the record of the run.
  lines.push("(", task.body, ")", `if [ -n "$__run" ]; then mkdir -p ${sh(stamp.path.slice(0, stamp.path.lastIndexOf("/")) || "/")} && printf '%s\\n' "$__run" > ${sh(stamp.path)}; fi`);
  return wrap(lines.join("\n"), ctx);
}

/** stdin of a stamped task: the run's fingerprint, then the secrets (`taskStdin`), if any. */
export function runStdin(fingerprint: string, secrets: string): string {
  return `${fingerprint}\n${secrets}`;
}

/** stdin payload for `taskScript`: one base64 line per secret, in `secretNames` order. */
export function taskStdin(values: readonly string[]): string {
  return values.map((v) => Buffer.from(v, "utf8").toString("base64")).join("\n") + "\n";
}
