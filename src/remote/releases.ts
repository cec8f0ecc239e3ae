/**
 * Releases of an app run from a git checkout (Capistrano/Kamal style). A release is a
 * commit *and* its env: each commit is built once into `<root>/releases/<commit12>` (the
 * build) beside the live one, and each env the app runs a build with is a release
 * `<root>/releases/<commit12>-<env12>`: the build's parts as symbolic links and a copy of
 * the env file as `.env` (0600). `<root>/current` is a symbolic link to a release, swapped
 * atomically (`ln -sfn` to a new name, then `mv -T` over the old one); the service and the
 * web server reach the code and the env only through `current` (the unit's
 * `EnvironmentFile=<root>/current/.env`), so a new commit and a new env alike go live by
 * one swap and one restart, and a rollback restores the old code and the old env
 * together. The last `keep` releases stay on the host; a build goes with the last release
 * that uses it. Pure: shell lines built with the quoting helper; nothing runs here.
 *
 * The steps, each a task of the app:
 * 1. {@link releaseCreateScript} (as the app's user, after the checkout and the env file):
 *    the checkout's commit exported into its build directory, the release of that build
 *    and the env made, named in `releases/.target`; on the first run `current` is made
 *    (adopting an in-place tree, see {@link ReleaseLayout}).
 * 2. builds and migrations in the build directory {@link releaseLines} names (the live
 *    release keeps serving meanwhile);
 * 3. {@link releaseActivateScript} (as root, once the unit is installed): `current` swapped
 *    to the target, the service restarted (the only restart of the deploy: the unit is
 *    not restarted on its own), its checks run; a failing check swaps `current` back,
 *    restarts the previous release and fails naming the check, the host and what was
 *    restored.
 */
import { sh } from "./quote";

export interface ReleaseLayout {
  /** The app's root: `releases/`, `current` and the env file. @example "/srv/daedalus" */
  readonly root: string;
  /** The working tree of the source checkout releases are exported from. @example "/srv/daedalus/repo" */
  readonly repository: string;
  /** Releases kept on the host, the live one and the one before it included (at least 2). */
  readonly keep: number;
  /**
   * The env file the stack writes (the next release's env): each release holds a copy as
   * `.env`, mode 0600, and a release's name carries a keyed hash of it, so a changed env
   * is a new release. The hash's key is the host's own (`releases/.env-key`, 0600): a
   * release name says nothing about the secrets in the env.
   * @example "/srv/daedalus/.env"
   */
  readonly envFile: string;
  /** The build's parts a release links to (and the in-place parts an adoption links to). @example ["backend", "frontend", "venv"] */
  readonly parts: readonly string[];
  /**
   * Adopt an earlier in-place deployment in `root` (its git tree at `root/.git`, the
   * parts beside it): with no `current` yet, it is adopted as release `<commit12>-inplace`,
   * whose parts are symbolic links to the in-place ones (a virtualenv cannot move) and
   * whose `.env` is a copy of the env file, so the first `up` only restarts the service
   * once, on the new release, and a failed activation goes back to the in-place code.
   */
  readonly legacy?: boolean;
}

/** A build of a failed activation leaves this file for the operator (the migrations' state, say). */
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
 * Lines that set `$release_id` to the release being deployed (`<commit12>-<env12>`, the
 * one {@link releaseCreateScript} named) and `$release` to the directory of its build
 * (`releases/<commit12>`, where the build steps and migrations work), or fail saying why.
 */
export function releaseLines(l: ReleaseLayout): string[] {
  const target = `${dirOf(l)}/.target`;
  return [
    `release_id=$(cat ${sh(target)} 2>/dev/null || true)`,
    `if ! printf '%s\\n' "$release_id" | grep -Eqx '[0-9a-f]{12}-[0-9a-f]{12}'; then echo ${sh(`fleet: ${target} names no release: the release step did not run; run up again`)} >&2; exit 1; fi`,
    `release=${sh(dirOf(l))}/"\${release_id%-*}"`,
  ];
}

/** `current` pointed at `releases/$1` in one rename (readers see the old or the new link, never none). */
function linkLines(l: ReleaseLayout): string[] {
  const cur = `${l.root}/current`;
  return [`fleet_link() {`, `  ln -sfn "releases/$1" ${sh(`${cur}.new`)} && mv -T ${sh(`${cur}.new`)} ${sh(cur)}`, `}`];
}

/**
 * The release step (POSIX sh, `set -eu`; run as the app's user after the checkout and the
 * env file): the checkout's commit exported (`git archive`, no `.git`) into the build
 * `releases/<commit12>` through a `.new` directory renamed into place (an existing build is
 * kept as it is: build steps skip what they built before, Daedalus's markers); then the
 * release of that build and the env file as it is now, `releases/<commit12>-<env12>` (the
 * build's parts as symbolic links, the env copied as `.env` 0600), named as the target. A
 * live release from before releases carried their env gets a copy of the env file, so a
 * rollback to it starts. With no `current` yet, `current` is pointed at the adopted
 * in-place tree ({@link ReleaseLayout.legacy}) or, on a fresh host, at this release. A
 * `current` that is not a symbolic link is refused.
 */
export function releaseCreateScript(l: ReleaseLayout): string {
  const rel = dirOf(l);
  const cur = `${l.root}/current`;
  const key = `${rel}/.env-key`;
  const lines = [
    "set -eu",
    `install -d -m 0755 ${sh(rel)}`,
    `[ -f ${sh(l.envFile)} ] && [ -r ${sh(l.envFile)} ] || { ${say([`fleet: ${l.envFile} is missing: the env file is written before the release step; run up again`], true)}; exit 1; }`,
    `commit=$(git -C ${sh(l.repository)} rev-parse 'HEAD^{commit}')`,
    `name=$(printf '%s' "$commit" | cut -c1-12)`,
    `build=${sh(rel)}/"$name"`,
    `if [ -d "$build" ]; then`,
    `  ${say(["fleet: the build of commit ", v("name"), " is on the host already; kept as it is"])}`,
    `else`,
    `  rm -rf -- "$build.new" "$build.tar"`,
    `  mkdir -- "$build.new"`,
    `  git -C ${sh(l.repository)} archive --format=tar -o "$build.tar" "$commit"`,
    `  tar -x -f "$build.tar" -C "$build.new"`,
    `  rm -f -- "$build.tar"`,
    `  mv -T -- "$build.new" "$build"`,
    `  ${say(["fleet: commit ", v("name"), ` exported from ${l.repository}`])}`,
    `fi`,
    // The env's id: a hash keyed by a secret of the host's own, so the name leaks nothing.
    `if [ ! -s ${sh(key)} ]; then`,
    `  (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > ${sh(`${key}.new`)})`,
    `  mv -f ${sh(`${key}.new`)} ${sh(key)}`,
    `fi`,
    `env_key=$(cat ${sh(key)})`,
    `env_sum=$(sha256sum < ${sh(l.envFile)})`,
    `env_id=$(printf '%s %s' "$env_key" "$env_sum" | sha256sum | cut -c1-12)`,
    `id="$name-$env_id"`,
    `target=${sh(rel)}/"$id"`,
    `if [ -d "$target" ]; then`,
    `  ${say(["fleet: release ", v("id"), " (commit ", v("name"), " with this env) is on the host already"])}`,
    `else`,
    `  rm -rf -- "$target.new"`,
    `  mkdir -m 0755 -- "$target.new"`,
    ...l.parts.map((p) => `  ln -s "../$name/"${sh(p)} "$target.new/"${sh(p)}`),
    `  install -m 0600 ${sh(l.envFile)} "$target.new/.env"`,
    `  cmp -s ${sh(l.envFile)} "$target.new/.env" || { ${say(["fleet: could not copy ", l.envFile, " into release ", v("id")], true)}; exit 1; }`,
    `  mv -T -- "$target.new" "$target"`,
    `  ${say(["fleet: release ", v("id"), ": commit ", v("name"), ` with ${l.envFile} as it is now`])}`,
    `fi`,
    `printf '%s\\n' "$id" > ${sh(`${rel}/.target.new`)}`,
    `mv -f ${sh(`${rel}/.target.new`)} ${sh(`${rel}/.target`)}`,
    `cd ${sh(l.root)}`,
    ...linkLines(l),
    // A live release made before releases carried their env (the shared env file then).
    `live=$(readlink current 2>/dev/null || true); live=\${live#releases/}`,
    `if [ -n "$live" ] && [ -d "releases/$live" ] && [ ! -e "releases/$live/.env" ]; then`,
    `  install -m 0600 ${sh(l.envFile)} "releases/$live/.env"`,
    `  ${say(["fleet: release ", v("live"), ` (from before releases carried their env) has ${l.envFile} as it is now as its .env`])}`,
    `fi`,
    `if [ ! -L ${sh(cur)} ]; then`,
    `  if [ -e ${sh(cur)} ]; then ${say([`fleet: ${cur} exists and is not a symbolic link; move it away so releases can be switched`], true)}; exit 1; fi`,
  ];
  const first = `  ${say(["fleet: first release ", v("id"), "; current points at it"])}`;
  if (l.legacy && l.parts.length) {
    lines.push(
      `  if [ -d ${sh(`${l.root}/.git`)} ] && [ -e ${sh(`${l.root}/${l.parts[0]}`)} ]; then`,
      `    old=$(git -C ${sh(l.root)} rev-parse 'HEAD^{commit}' | cut -c1-12)`,
      `    adopted="$old-inplace"`,
      `    mkdir -p -- "releases/$adopted"`,
      ...l.parts.map((p) => `    if [ -e ${sh(`${l.root}/${p}`)} ]; then ln -sfn ${sh(`${l.root}/${p}`)} "releases/$adopted/"${sh(p)}; fi`),
      `    install -m 0600 ${sh(l.envFile)} "releases/$adopted/.env"`,
      `    fleet_link "$adopted"`,
      `    ${say([`fleet: adopted the in-place deployment in ${l.root} (commit `, v("old"), ") as release ", v("adopted"), "; current points at it until release ", v("id"), " is activated"])}`,
      `  else`,
      `    fleet_link "$id"`,
      `  ${first}`,
      `  fi`,
    );
  } else {
    lines.push(`  fleet_link "$id"`, first);
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
  /**
   * The service's unit file, when the activation is the service's only restart (the unit
   * is installed without a restart of its own): a run on the live release restarts it
   * when the file changed since the last restart (its hash kept in `releases/.unit`), so
   * a changed unit is one restart too, checked. Without: a run on the live release only
   * checks. @example "/etc/systemd/system/daedalus-api.service"
   */
  readonly unitFile?: string;
}

/**
 * The activation (POSIX sh, `set -eu`; run as root after the unit is installed): `current`
 * swapped to the target release, the service restarted once, every check run. All pass:
 * the release is live (its directory touched, the releases beyond `keep` pruned, the live
 * and the previous one never, and the builds no kept release uses). One fails: `current`
 * swapped back (the previous code and its env), the service restarted on the previous
 * release and checked, and the script fails with one screen: the check, the host, the
 * release restored (or that nothing could be), and the build's {@link ROLLBACK_NOTE} (what
 * its migrations left in the database). Run again on the live release, it only runs the
 * checks, after a restart when the unit file changed ({@link ReleaseActivation.unitFile}).
 */
export function releaseActivateScript(l: ReleaseLayout, a: ReleaseActivation): string {
  const on = ` on ${a.hostName}`;
  const app = a.app;
  const unit = a.unitFile;
  return [
    "set -eu",
    ...releaseLines(l),
    `name=$release_id`,
    `build=\${release##*/}`,
    `cd ${sh(l.root)}`,
    `live=$(readlink current 2>/dev/null || true); live=\${live#releases/}`,
    ...linkLines(l),
    // The unit file the service runs with, once restarted here.
    ...(unit
      ? [
          `unit_sum=$(sha256sum < ${sh(unit)})`,
          `fleet_restart() {`,
          `  ${a.restart} || return 1`,
          `  printf '%s\\n' "$unit_sum" > releases/.unit.new && mv -f releases/.unit.new releases/.unit`,
          `}`,
        ]
      : [`fleet_restart() {`, `  ${a.restart}`, `}`]),
    `fleet_failed_check=`,
    `fleet_checks() {`,
    // Bodies go in unindented: a multi-line quoted string in them must keep its bytes.
    ...a.checks.flatMap((c) => [`  fleet_failed_check=${sh(c.name)}`, "  (", c.body, "  ) || return 1"]),
    `  fleet_failed_check=`,
    `}`,
    // Keep `keep` releases: the live one, the one before it, then the newest others; then
    // the builds no kept release uses (a release <commit12>-<env12> uses build <commit12>).
    `fleet_prune() {`,
    `  previous=$(cat releases/.previous 2>/dev/null || true)`,
    `  n=0`,
    `  for d in $(ls -1t releases); do`,
    `    case "$d" in *.new|*.tar) continue ;; *-*) ;; *) continue ;; esac`,
    `    [ -d "releases/$d" ] && [ ! -L "releases/$d" ] || continue`,
    `    if [ "$d" = "$name" ] || [ "$d" = "$previous" ]; then continue; fi`,
    `    n=$((n + 1))`,
    `    if [ "$n" -gt ${l.keep - 2} ]; then`,
    `      rm -rf -- "releases/$d"`,
    `      case "$d" in`,
    `        *-inplace) ${say(["fleet: pruned release ", v("d"), ` (adopted from the in-place deployment: ${l.root}'s own ${l.parts.join(", ")} and .git are no longer used)`])} ;;`,
    `        *) ${say(["fleet: pruned release ", v("d")])} ;;`,
    `      esac`,
    `    fi`,
    `  done`,
    `  for d in $(ls -1 releases); do`,
    `    case "$d" in *.new|*.tar|*-*) continue ;; esac`,
    `    [ -d "releases/$d" ] && [ ! -L "releases/$d" ] || continue`,
    `    if [ "$d" = "$name" ] || [ "$d" = "$previous" ]; then continue; fi`,
    `    used=`,
    `    for r in releases/"$d"-*; do if [ -d "$r" ]; then used=$r; fi; done`,
    `    if [ -z "$used" ]; then rm -rf -- "releases/$d"; ${say(["fleet: pruned build ", v("d"), " (no release kept uses it)"])}; fi`,
    `  done`,
    `}`,
    `if [ "$live" = "$name" ]; then`,
    ...(unit
      ? [
          `  if [ -f releases/.unit ] && [ "$(cat releases/.unit)" != "$unit_sum" ]; then`,
          `    ${say([`fleet: ${app}: ${unit} changed since the last restart; restarting release `, v("name"), on])}`,
          `    if fleet_restart && fleet_checks; then fleet_prune; ${say([`fleet: ${app}: release `, v("name"), ` is live and healthy${on}`])}; exit 0; fi`,
          `  else`,
          // No hash yet: the unit's own first start (enable) ran this very file.
          `    if [ ! -f releases/.unit ]; then printf '%s\\n' "$unit_sum" > releases/.unit.new && mv -f releases/.unit.new releases/.unit; fi`,
          `    if fleet_checks; then fleet_prune; ${say([`fleet: ${app}: release `, v("name"), ` is live and healthy${on}`])}; exit 0; fi`,
          `  fi`,
        ]
      : [`  if fleet_checks; then fleet_prune; ${say([`fleet: ${app}: release `, v("name"), ` is live and healthy${on}`])}; exit 0; fi`]),
    `  ${say(["fleet: check ", v("fleet_failed_check", "restart"), ` failed${on}: release `, v("name"), ` of ${app} is the live one; there is no other release to go back to`], true)}`,
    `  exit 1`,
    `fi`,
    `[ -d "releases/$name" ] || { ${say([`fleet: ${dirOf(l)}/`, v("name"), " is missing: the release step did not finish; run up again"], true)}; exit 1; }`,
    `fleet_link "$name"`,
    say([`fleet: ${app}: current -> release `, v("name"), " (was ", v("live", "none"), `)${on}; restarting`]),
    `if fleet_restart && fleet_checks; then`,
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
    `  if fleet_restart && fleet_checks; then`,
    `    ${say([`fleet: ${app}: rolled back: current -> release `, v("live"), " again (its code and its env), restarted; release ", v("live"), " serves"], true)}`,
    `  else`,
    `    ${say([`fleet: ${app}: rolled back to release `, v("live"), ", but it is not healthy either (check ", v("fleet_failed_check", "restart"), ")"], true)}`,
    `  fi`,
    `else`,
    `  ${say([`fleet: ${app}: no earlier release on the host to go back to; release `, v("name"), " stays in place, not healthy"], true)}`,
    `fi`,
    `if [ -f "releases/$build/${ROLLBACK_NOTE}" ]; then cat "releases/$build/${ROLLBACK_NOTE}" >&2; fi`,
    `exit 1`,
  ].join("\n");
}
