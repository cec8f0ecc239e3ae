/**
 * The scripts of the one remote primitive (DESIGN.md, "Remote work: one primitive").
 * Pure functions from a typed spec to POSIX sh text; the Pulumi side lives in
 * `./command.ts`. Every value goes through `sh()`.
 *
 * A managed file's script:
 *   1. reads the new content from stdin into a temp file beside the target
 *      (umask 077, so a secret is never readable by others, even briefly);
 *   2. takes the per-host, per-service lock;
 *   3. exits without touching anything when bytes, owner and mode are unchanged;
 *   4. keeps the previous version, swaps the new one in, re-assembles derived files,
 *      validates the whole config and reloads;
 *   5. on any failure restores the previous file (and derived files), reloads again,
 *      and exits non-zero with the validator's output.
 */
import { type Daemon } from "./daemons";
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

/** Where the version of `path` from before the first deploy is kept (see writeFileScript). */
export function originalPath(path: string): string {
  return `${dirname(path)}/.${basename(path)}.fleet-orig`;
}

export interface ScriptContext {
  /** Directory for lock files on the host. */
  readonly lockDir: string;
  /** Wrap in `sudo -n` (non-root login users). */
  readonly sudo: boolean;
  /** Seconds to wait for the lock before failing. @default 300 */
  readonly lockTimeoutSeconds?: number;
}

const HEADER = "set -eu";

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `stat -c %a` prints modes without the leading zero. */
function statMode(mode: string): string {
  return parseInt(mode, 8).toString(8);
}

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

/**
 * The shared tail of write and delete: assemble, validate, reload, and the restore
 * path. Expects `restore()` to be defined by the caller's script.
 */
function applyLines(target: FileTarget, daemon: Daemon, action: string): string[] {
  const lines: string[] = [];
  const where = sh(target.path);
  if (target.assemble) {
    lines.push(
      `if ! out=$( { ${target.assemble}; } 2>&1 ); then`,
      `  restore`,
      `  printf '%s\\n' "$out" >&2`,
      `  echo "fleet: assembling derived files failed after ${action} "${where}"; previous version restored" >&2`,
      `  exit 1`,
      `fi`,
    );
  }
  if (daemon.validate) {
    lines.push(
      `if ! out=$( { ${daemon.validate}; } 2>&1 ); then`,
      `  restore`,
      `  printf '%s\\n' "$out" >&2`,
      `  echo "fleet: validation failed after ${action} "${where}"; previous version restored, daemon not reloaded" >&2`,
      `  exit 1`,
      `fi`,
    );
  }
  if (daemon.reload) {
    lines.push(
      `if ! out=$( { ${daemon.reload}; } 2>&1 ); then`,
      `  restore`,
      `  again=$( { ${daemon.reload}; } 2>&1 ) || printf '%s\\n' "$again" >&2`,
      `  printf '%s\\n' "$out" >&2`,
      `  echo "fleet: reload failed after ${action} "${where}"; previous version restored and reloaded" >&2`,
      `  exit 1`,
      `fi`,
    );
  }
  return lines;
}

/**
 * Script that installs stdin as `target`, validated and reloaded through `daemon`.
 * Idempotent: identical bytes, owner and mode exit 0 with "unchanged" and no reload.
 */
export interface WriteOptions {
  /**
   * This is the resource's first write (the provider's `create`): keep the file found
   * there, if any, as `.NAME.fleet-orig`, for delete to put back (docs/destroy.md).
   * An existing record is never overwritten: it is the version from before the stack.
   */
  readonly recordOriginal?: boolean;
}

export function writeFileScript(target: FileTarget, daemon: Daemon, ctx: ScriptContext, opts: WriteOptions = {}): string {
  const dir = dirname(target.path);
  const name = basename(target.path);
  const next = `${dir}/.${name}.fleet-new`;
  const prev = `${dir}/.${name}.fleet-prev`;
  const ownership = `${target.owner}:${target.group}`;
  const where = sh(target.path);
  // Every write is checked explicitly: `set -e` does not stop inside `if`, `&&` or `||`
  // lists, and a full disk must never leave a truncated live file behind a success.
  const body = [
    HEADER,
    "umask 077",
    `target=${sh(target.path)}; next=${sh(next)}; prev=${sh(prev)}`,
    `fail() { rm -f "$next"; echo "fleet: $1 "${where}"$2" >&2; exit 1; }`,
    // Parents are created world-readable (daemons must traverse them); the file itself is not.
    `(umask 022 && mkdir -p ${sh(dir)}) || fail 'cannot create the directory of' ''`,
    ...lockLines(ctx, daemon.lock),
    ...(opts.recordOriginal
      ? [
          `orig=${sh(originalPath(target.path))}`,
          `if [ -e "$target" ] && [ ! -e "$orig" ]; then`,
          `  cp -p "$target" "$orig" && cmp -s "$target" "$orig" || { rm -f "$orig"; fail 'could not keep the version from before the first deploy of' ' (disk full?); live file untouched'; }`,
          `fi`,
        ]
      : []),
    `cat > "$next" || fail 'could not write the new version of' ' (disk full?); live file untouched'`,
    `chown ${sh(ownership)} "$next" && chmod ${sh(target.mode)} "$next" || fail 'could not set owner and mode of the new version of' '; live file untouched'`,
    `if [ -f "$target" ] && cmp -s "$next" "$target" && [ "$(stat -c '%U:%G %a' "$target")" = ${sh(`${ownership} ${statMode(target.mode)}`)} ]; then`,
    `  rm -f "$next"`,
    `  echo ${sh(`fleet: unchanged ${target.path}`)}`,
    `  exit 0`,
    `fi`,
    `had=0`,
    `if [ -e "$target" ]; then`,
    `  cp -p "$target" "$prev" && cmp -s "$target" "$prev" || { rm -f "$prev"; fail 'could not back up' ' (disk full?); live file untouched'; }`,
    `  had=1`,
    `fi`,
    // A restore that fails keeps the backup and says where it is.
    target.inPlace
      ? `restore() { if [ "$had" = 1 ]; then if cat "$prev" > "$target" && cmp -s "$prev" "$target"; then rm -f "$prev"; else echo "fleet: RESTORE FAILED for "${where}"; the previous version is kept in $prev" >&2; fi; else rm -f "$target"; fi; rm -f "$next"; ${target.assemble ? `${target.assemble} || true; ` : ""}}`
      : `restore() { if [ "$had" = 1 ]; then mv -f "$prev" "$target" || echo "fleet: RESTORE FAILED for "${where}"; the previous version is kept in $prev" >&2; else rm -f "$target"; fi; rm -f "$next"; ${target.assemble ? `${target.assemble} || true; ` : ""}}`,
    target.inPlace
      ? // Same inode: overwrite the bytes, check them, then fix owner and mode on the live file.
        `if [ "$had" = 1 ]; then if cat "$next" > "$target" && cmp -s "$next" "$target" && chown ${sh(ownership)} "$target" && chmod ${sh(target.mode)} "$target"; then rm -f "$next"; else restore; echo "fleet: could not write "${where}" in place (disk full?); previous version restored" >&2; exit 1; fi; else mv -f "$next" "$target" || fail 'could not move the new version into place:' ''; fi`
      : `mv -f "$next" "$target" || { rm -f "$prev"; fail 'could not move the new version into place:' '; live file untouched'; }`,
    ...applyLines(target, daemon, "writing"),
    `rm -f "$prev"`,
    `echo ${sh(`fleet: updated ${target.path}`)}`,
  ];
  return wrap(body.join("\n"), ctx);
}

/**
 * Script that takes `target` back to what it was before the first deploy, the same
 * careful way (validate, reload, restore on failure): the version kept by the first
 * write (`.NAME.fleet-orig`) is put back; without one the file is removed, unless the
 * daemon needs it (`keepWithoutOriginal`), in which case it stays as last deployed.
 */
export function deleteFileScript(target: FileTarget, daemon: Daemon, ctx: ScriptContext): string {
  const dir = dirname(target.path);
  const name = basename(target.path);
  const prev = `${dir}/.${name}.fleet-prev`;
  const where = sh(target.path);
  const putBack = target.inPlace ? `cat "$orig" > "$target" && cmp -s "$orig" "$target" && chown --reference="$orig" "$target" && chmod --reference="$orig" "$target"` : `cp -p "$orig" "$target"`;
  const body = [
    HEADER,
    "umask 077",
    `target=${sh(target.path)}; prev=${sh(prev)}; next=''; orig=${sh(originalPath(target.path))}`,
    ...lockLines(ctx, daemon.lock),
    `if [ ! -e "$target" ] && [ ! -e "$orig" ]; then echo ${sh(`fleet: already absent ${target.path}`)}; exit 0; fi`,
    ...(target.keepWithoutOriginal
      ? [
          `if [ ! -e "$orig" ]; then`,
          `  echo ${sh(`fleet: kept ${target.path} as last deployed: the daemon needs it and there is no version from before the first deploy to restore`)}`,
          `  exit 0`,
          `fi`,
        ]
      : []),
    `had=0`,
    `if [ -e "$target" ]; then`,
    `  cp -p "$target" "$prev" && cmp -s "$target" "$prev" || { rm -f "$prev"; echo "fleet: could not back up "${where}" before removing it (disk full?); file left in place" >&2; exit 1; }`,
    `  had=1`,
    `fi`,
    target.inPlace
      ? `restore() { if [ "$had" = 1 ]; then if cat "$prev" > "$target" && cmp -s "$prev" "$target"; then rm -f "$prev"; else echo "fleet: RESTORE FAILED for "${where}"; the previous version is kept in $prev" >&2; fi; else rm -f "$target"; fi; ${target.assemble ? `${target.assemble} || true; ` : ""}}`
      : `restore() { if [ "$had" = 1 ]; then mv -f "$prev" "$target" || echo "fleet: RESTORE FAILED for "${where}"; the previous version is kept in $prev" >&2; else rm -f "$target"; fi; ${target.assemble ? `${target.assemble} || true; ` : ""}}`,
    `if [ -e "$orig" ]; then`,
    `  action='restoring the version from before the first deploy of'`,
    `  ${putBack} || { restore; echo "fleet: could not put back the version from before the first deploy of "${where}" (disk full?); left as last deployed" >&2; exit 1; }`,
    `else`,
    `  action='removing'`,
    `  rm -f "$target" || { rm -f "$prev"; echo "fleet: could not remove "${where} >&2; exit 1; }`,
    `fi`,
    ...applyLines(target, daemon, "$action"),
    `rm -f "$prev" "$orig"`,
    `if [ "$action" = removing ]; then echo ${sh(`fleet: removed ${target.path}`)}; else echo ${sh(`fleet: restored ${target.path} as it was before the first deploy`)}; fi`,
  ];
  return wrap(body.join("\n"), ctx);
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

/** Script for a one-off or triggered command. */
export function taskScript(task: TaskScript, ctx: ScriptContext): string {
  const lines = [HEADER];
  for (const name of task.secretNames ?? []) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`secret variable name ${JSON.stringify(name)} must match [A-Z_][A-Z0-9_]*`);
    lines.push(`IFS= read -r __line || [ -n "$__line" ]; ${name}=$(printf '%s' "$__line" | base64 -d)`);
  }
  if (task.secretNames?.length) lines.push("unset __line");
  if (task.lock) lines.push(...lockLines(ctx, task.lock));
  lines.push(task.body);
  return wrap(lines.join("\n"), ctx);
}

/** stdin payload for `taskScript`: one base64 line per secret, in `secretNames` order. */
export function taskStdin(values: readonly string[]): string {
  return values.map((v) => Buffer.from(v, "utf8").toString("base64")).join("\n") + "\n";
}
