/**
 * Releases of an app run from a git checkout (Capistrano/Kamal style): each commit is
 * built into `<root>/releases/<commit12>` beside the live one, `<root>/current` is a
 * symbolic link swapped atomically (`ln -sfn` to a new name, then `mv -T` over the old
 * one), the service and the web server reach the code only through `current`, and the
 * last `keep` releases stay on the host for a rollback. Shared files (the `.env`) stay
 * in the root. Pure: shell lines built with the quoting helper; nothing runs here.
 *
 * The steps, each a task of the app:
 * 1. {@link releaseCreateScript} (as the app's user, after the checkout): the checkout's
 *    commit exported into its release directory, named in `releases/.target`; on the
 *    first run `current` is made (adopting an in-place tree, see {@link ReleaseLayout}).
 * 2. builds and migrations in the directory {@link releaseLines} names (the live release
 *    keeps serving meanwhile);
 * 3. {@link releaseActivateScript} (as root, once the unit is installed): `current` swapped
 *    to the target, the service restarted, its checks run; a failing check swaps `current`
 *    back, restarts the previous release and fails naming the check, the host and what
 *    was restored.
 */
import { sh } from "./quote";

export interface ReleaseLayout {
  /** The app's root: `releases/`, `current` and the shared files. @example "/srv/daedalus" */
  readonly root: string;
  /** The working tree of the source checkout releases are exported from. @example "/srv/daedalus/repo" */
  readonly repository: string;
  /** Releases kept on the host, the live one and the one before it included (at least 2). */
  readonly keep: number;
  /**
   * An earlier in-place deployment in `root` (its git tree at `root/.git`, these parts
   * beside it): with no `current` yet, it is adopted as release `<commit12>-inplace`,
   * whose parts are symbolic links to the in-place ones (a virtualenv cannot move), so the
   * first `up` only restarts the service through `current` before the new release is
   * activated, and a failed activation goes back to the in-place code.
   * @example { parts: ["backend", "frontend", "venv"] }
   */
  readonly legacy?: { readonly parts: readonly string[] };
}

/** A release of a failed activation leaves this file for the operator (the migrations' state, say). */
export const ROLLBACK_NOTE = ".fleet-rollback-note";

const dirOf = (l: ReleaseLayout) => `${l.root}/releases`;

/** A shell variable in {@link say}: `"$name"`, or `"${name:-fallback}"`. */
interface Var {
  readonly v: string;
  readonly orElse?: string;
}
const v = (name: string, orElse?: string): Var => ({ v: name, ...(orElse !== undefined ? { orElse } : {}) });

/** One shell word: literal parts quoted by `sh`, variables expanded in double quotes. */
function words(...parts: (string | Var)[]): string {
  return parts.map((p) => (typeof p === "string" ? sh(p) : p.orElse !== undefined ? `"\${${p.v}:-${p.orElse}}"` : `"$${p.v}"`)).join("");
}

/** `echo` of a message (to stderr with `err`). */
function say(parts: (string | Var)[], err = false): string {
  return `echo ${words(...parts)}${err ? " >&2" : ""}`;
}

/**
 * Lines that set `$release` to the directory of the release being deployed (the one
 * {@link releaseCreateScript} named), or fail saying why.
 */
export function releaseLines(l: ReleaseLayout): string[] {
  const target = `${dirOf(l)}/.target`;
  return [
    `release=$(cat ${sh(target)} 2>/dev/null || true)`,
    `case "$release" in ''|*[!0-9a-f]*) echo ${sh(`fleet: ${target} names no release: the release step did not run; run up again`)} >&2; exit 1 ;; esac`,
    `release=${sh(dirOf(l))}/"$release"`,
  ];
}

/** `current` pointed at `releases/$1` in one rename (readers see the old or the new link, never none). */
function linkLines(l: ReleaseLayout): string[] {
  const cur = `${l.root}/current`;
  return [`fleet_link() {`, `  ln -sfn "releases/$1" ${sh(`${cur}.new`)} && mv -T ${sh(`${cur}.new`)} ${sh(cur)}`, `}`];
}

/**
 * The release step (POSIX sh, `set -eu`; run as the app's user after the checkout): the
 * checkout's commit exported (`git archive`, no `.git`) into `releases/<commit12>` through
 * a `.new` directory renamed into place, named as the target; an existing release
 * directory is kept as it is (build steps skip what they built before: Daedalus's
 * markers). With no `current` yet, `current` is pointed at the adopted in-place tree
 * ({@link ReleaseLayout.legacy}) or, on a fresh host, at this release. A `current` that
 * is not a symbolic link is refused.
 */
export function releaseCreateScript(l: ReleaseLayout): string {
  const rel = dirOf(l);
  const cur = `${l.root}/current`;
  const lines = [
    "set -eu",
    `install -d -m 0755 ${sh(rel)}`,
    `commit=$(git -C ${sh(l.repository)} rev-parse 'HEAD^{commit}')`,
    `name=$(printf '%s' "$commit" | cut -c1-12)`,
    `release=${sh(rel)}/"$name"`,
    `if [ -d "$release" ]; then`,
    `  ${say(["fleet: release ", v("name"), " is on the host already; kept as it is"])}`,
    `else`,
    `  rm -rf -- "$release.new" "$release.tar"`,
    `  mkdir -- "$release.new"`,
    `  git -C ${sh(l.repository)} archive --format=tar -o "$release.tar" "$commit"`,
    `  tar -x -f "$release.tar" -C "$release.new"`,
    `  rm -f -- "$release.tar"`,
    `  mv -T -- "$release.new" "$release"`,
    `  ${say(["fleet: release ", v("name"), ` exported from ${l.repository}`])}`,
    `fi`,
    `printf '%s\\n' "$name" > ${sh(`${rel}/.target.new`)}`,
    `mv -f ${sh(`${rel}/.target.new`)} ${sh(`${rel}/.target`)}`,
    `cd ${sh(l.root)}`,
    ...linkLines(l),
    `if [ ! -L ${sh(cur)} ]; then`,
    `  if [ -e ${sh(cur)} ]; then ${say([`fleet: ${cur} exists and is not a symbolic link; move it away so releases can be switched`], true)}; exit 1; fi`,
  ];
  const first = `  ${say(["fleet: first release ", v("name"), "; current points at it"])}`;
  const legacy = l.legacy;
  if (legacy && legacy.parts.length) {
    lines.push(
      `  if [ -d ${sh(`${l.root}/.git`)} ] && [ -e ${sh(`${l.root}/${legacy.parts[0]}`)} ]; then`,
      `    old=$(git -C ${sh(l.root)} rev-parse 'HEAD^{commit}' | cut -c1-12)`,
      `    adopted="$old-inplace"`,
      `    mkdir -p -- "releases/$adopted"`,
      ...legacy.parts.map((p) => `    if [ -e ${sh(`${l.root}/${p}`)} ]; then ln -sfn ${sh(`${l.root}/${p}`)} "releases/$adopted/"${sh(p)}; fi`),
      `    fleet_link "$adopted"`,
      `    ${say([`fleet: adopted the in-place deployment in ${l.root} (commit `, v("old"), ") as release ", v("adopted"), "; current points at it until release ", v("name"), " is activated"])}`,
      `  else`,
      `    fleet_link "$name"`,
      `  ${first}`,
      `  fi`,
    );
  } else {
    lines.push(`  fleet_link "$name"`, first);
  }
  lines.push(`fi`);
  return lines.join("\n");
}

export interface ReleaseActivation {
  /** What the messages name: the app. @example "Daedalus" */
  readonly app: string;
  /** The host's name, for the messages. */
  readonly hostName: string;
  /** The shell command that restarts the service on the new `current`. @example "systemctl restart -- 'daedalus-api.service'" */
  readonly restart: string;
  /** Checks of the new release (shell bodies that fail when it is not healthy), in order. */
  readonly checks: readonly { readonly name: string; readonly body: string }[];
}

/**
 * The activation (POSIX sh, `set -eu`; run as root after the unit is installed): `current`
 * swapped to the target release, the service restarted, every check run. All pass: the
 * release is live (its directory touched, the releases beyond `keep` pruned, the live and
 * the previous one never). One fails: `current` swapped back, the service restarted on the
 * previous release and checked, and the script fails with one screen: the check, the host,
 * the release restored (or that nothing could be), and the release's {@link ROLLBACK_NOTE}
 * (what its migrations left in the database). Run again on the live release, it only
 * runs the checks.
 */
export function releaseActivateScript(l: ReleaseLayout, a: ReleaseActivation): string {
  const on = ` on ${a.hostName}`;
  const app = a.app;
  return [
    "set -eu",
    ...releaseLines(l),
    `name=\${release##*/}`,
    `cd ${sh(l.root)}`,
    `live=$(readlink current 2>/dev/null || true); live=\${live#releases/}`,
    ...linkLines(l),
    `fleet_failed_check=`,
    `fleet_checks() {`,
    // Bodies go in unindented: a multi-line quoted string in them must keep its bytes.
    ...a.checks.flatMap((c) => [`  fleet_failed_check=${sh(c.name)}`, "  (", c.body, "  ) || return 1"]),
    `  fleet_failed_check=`,
    `}`,
    // Keep `keep` releases: the live one, the one before it, then the newest others.
    `fleet_prune() {`,
    `  previous=$(cat releases/.previous 2>/dev/null || true)`,
    `  n=0`,
    `  for d in $(ls -1t releases); do`,
    `    case "$d" in *.new|*.tar) continue ;; esac`,
    `    [ -d "releases/$d" ] && [ ! -L "releases/$d" ] || continue`,
    `    if [ "$d" = "$name" ] || [ "$d" = "$previous" ]; then continue; fi`,
    `    n=$((n + 1))`,
    `    if [ "$n" -gt ${l.keep - 2} ]; then`,
    `      rm -rf -- "releases/$d"`,
    `      case "$d" in`,
    `        *-inplace) ${say(["fleet: pruned release ", v("d"), ` (adopted from the in-place deployment: ${l.root}'s own backend, frontend, venv and .git are no longer used)`])} ;;`,
    `        *) ${say(["fleet: pruned release ", v("d")])} ;;`,
    `      esac`,
    `    fi`,
    `  done`,
    `}`,
    `if [ "$live" = "$name" ]; then`,
    `  if fleet_checks; then fleet_prune; ${say([`fleet: ${app}: release `, v("name"), ` is live and healthy${on}`])}; exit 0; fi`,
    `  ${say(["fleet: check ", v("fleet_failed_check"), ` failed${on}: release `, v("name"), ` of ${app} is the live one; there is no other release to go back to`], true)}`,
    `  exit 1`,
    `fi`,
    `[ -d "releases/$name" ] || { ${say(["fleet: ", v("release"), " is missing: the release step did not finish; run up again"], true)}; exit 1; }`,
    `fleet_link "$name"`,
    say([`fleet: ${app}: current -> release `, v("name"), " (was ", v("live", "none"), `)${on}; restarting`]),
    `if ${a.restart} && fleet_checks; then`,
    `  printf '%s\\n' "$live" > releases/.previous.new && mv -f releases/.previous.new releases/.previous`,
    `  touch "releases/$name"`,
    `  fleet_prune`,
    `  ${say([`fleet: ${app}: release `, v("name"), ` is live and healthy${on}`])}`,
    `  exit 0`,
    `fi`,
    `failed=$fleet_failed_check`,
    `if [ -n "$failed" ]; then`,
    `  ${say(["fleet: check ", v("failed"), ` failed${on}: release `, v("name"), ` of ${app} is not healthy`], true)}`,
    `else`,
    `  ${say([`fleet: the restart failed${on} (${a.restart.replace(/\s+/g, " ")}): release `, v("name"), ` of ${app} did not start`], true)}`,
    `fi`,
    `if [ -n "$live" ] && [ -d "releases/$live" ]; then`,
    `  fleet_link "$live"`,
    `  if ${a.restart} && fleet_checks; then`,
    `    ${say([`fleet: ${app}: rolled back: current -> release `, v("live"), " again, restarted; release ", v("live"), " serves"], true)}`,
    `  else`,
    `    ${say([`fleet: ${app}: rolled back to release `, v("live"), ", but it is not healthy either (check ", v("fleet_failed_check", "restart"), ")"], true)}`,
    `  fi`,
    `else`,
    `  ${say([`fleet: ${app}: no earlier release on the host to go back to; release `, v("name"), " stays in place, not healthy"], true)}`,
    `fi`,
    `if [ -f "releases/$name/${ROLLBACK_NOTE}" ]; then cat "releases/$name/${ROLLBACK_NOTE}" >&2; fi`,
    `exit 1`,
  ].join("\n");
}
