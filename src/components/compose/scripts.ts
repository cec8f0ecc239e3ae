/**
 * Shell bodies of a compose stack's tasks (POSIX sh; wrapped, locked and sudo'ed by
 * `remoteTask`). Pure text; every value goes through `sh()`.
 */
import { type HostSpec } from "../../config/hosts";
import { gitCheckoutLines } from "../../remote/checkout";
import { sh, shArgs } from "../../remote/quote";
import { type ComposeGitSpec, type ComposeTaskArg } from "./args";
import { composeCommand, type ComposeProjectFiles, projectOptions } from "./project";

type ComposeHost = Pick<HostSpec, "services" | "pidFiles" | "compose">;

export interface ComposeLayout extends ComposeProjectFiles {
  readonly file: string;
  readonly envFile: string;
}

/** Directory of the git checkout of a git-sourced compose file. */
export function sourceDir(directory: string): string {
  return `${directory}/.src`;
}

/** Create the project directory and the subdirectories of its files with `mode` (root-owned unless told). */
export function directoryBody(directory: string, mode: string, subdirs: readonly string[], owner = { user: "root", group: "root" }): string {
  const dirs = [directory, ...[...new Set(subdirs)].sort().map((d) => `${directory}/${d}`)];
  return `install -d -o ${sh(owner.user)} -g ${sh(owner.group)} -m ${sh(mode)} ${shArgs(dirs)}`;
}

/** Parent directories of relative file paths: `a/b/c.conf` → `a`, `a/b`. */
export function parentDirs(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const parts = p.split("/").slice(0, -1);
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join("/"));
  }
  return [...out].sort();
}

/**
 * Fetch `git.path` at the pinned ref into `<directory>/.src` (shallow, optionally
 * sparse) and print the file base64-encoded on stdout (the provider trims output;
 * base64 keeps the bytes exact). The component decodes it, checks it and deploys it
 * as the compose file through the validating file primitive.
 */
export function gitSourceBody(directory: string, git: ComposeGitSpec): string {
  return [
    "umask 027",
    ...gitCheckoutLines({ url: git.url, ref: git.ref, directory: sourceDir(directory), ...(git.sparse ? { sparsePath: git.path } : {}), ...(git.commit ? { commit: git.commit } : {}) }),
    `if [ ! -f ${sh(git.path)} ]; then echo ${sh(`fleet: ${git.path} is not a file in ${git.url} at ${git.ref}`)} >&2; exit 1; fi`,
    `base64 < ${sh(git.path)} | tr -d '\\n'`,
  ].join("\n");
}

/** Decode what `gitSourceBody` printed. */
export function decodeSource(stdout: string): string {
  return Buffer.from(stdout.trim(), "base64").toString("utf8");
}

/** Seconds between two looks at the containers in `fleet_wait` (UpOptions.pollSeconds). */
export const DEFAULT_POLL_SECONDS = 2;

/**
 * Shell functions over the project's containers (compose's own labels, so compose v1
 * and v2 alike; one-off `run` containers are ignored):
 * - `fleet_check`: one look; sets `fleet_states` (a line per container: service,
 *   status, exit code, health) and `fleet_verdict` (`ok`, `failed <services>` or
 *   `pending <services>`); returns 0 when every container is running and healthy (or
 *   running without a healthcheck) or exited 0 (one-shot services such as `static-init`).
 * - `fleet_wait`: until settled; fails at once on a non-zero exit and at the deadline,
 *   printing the state of every container.
 * - `fleet_unsettled`: the services of the last look that are not settled, one a line.
 *
 * `pollSeconds` is the pause between looks (see {@link UpOptions.pollSeconds}).
 */
export function waitLines(project: string, timeoutSeconds: number, pollSeconds: number = DEFAULT_POLL_SECONDS): string[] {
  if (!(Number.isFinite(pollSeconds) && pollSeconds > 0 && pollSeconds <= 60)) throw new Error(`waitLines: pollSeconds must be a number of seconds in (0, 60], got ${pollSeconds}`);
  const filters = `--filter ${sh(`label=com.docker.compose.project=${project}`)} --filter ${sh("label=com.docker.compose.oneoff=False")}`;
  const format = sh('{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}');
  const settled = '($2 == "exited" && $3 == 0) || ($2 == "running" && ($4 == "healthy" || $4 == "none"))';
  const verdict = sh(
    [
      '$2 == "exited" && $3 != 0 { failed = failed " " $1 " (exited " $3 ")"; next }',
      '$2 == "exited" { next }',
      '$2 == "running" && ($4 == "healthy" || $4 == "none") { next }',
      '{ pending = pending " " $1 " (" $2 ", health " $4 ")" }',
      'END { if (failed != "") print "failed" failed; else if (pending != "") print "pending" pending; else print "ok" }',
    ].join("\n"),
  );
  return [
    `fleet_states=`,
    `fleet_check() {`,
    `  ids=$(docker ps -a -q ${filters})`,
    `  if [ -z "$ids" ]; then fleet_states=; fleet_verdict=none; return 1; fi`,
    `  fleet_states=$(docker inspect --format ${format} $ids)`,
    `  fleet_verdict=$(printf '%s\\n' "$fleet_states" | awk ${verdict})`,
    `  [ "$fleet_verdict" = ok ]`,
    `}`,
    `fleet_unsettled() {`,
    `  printf '%s\\n' "$fleet_states" | awk ${sh(`NF && !(${settled}) { print $1 }`)} | sort -u`,
    `}`,
    `fleet_wait() {`,
    `  deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
    `  while :; do`,
    `    if fleet_check; then echo ${sh(`fleet: project ${project} is up: every service healthy, running or completed`)}; return 0; fi`,
    `    case "$fleet_verdict" in`,
    `      none) echo ${sh(`fleet: project ${project} has no containers after up`)} >&2; return 1 ;;`,
    `      failed*) printf '%s\\n' "$fleet_states" >&2; echo ${sh(`fleet: project ${project} failed:`)}"\${fleet_verdict#failed}" >&2; return 1 ;;`,
    `    esac`,
    `    if [ "$(date +%s)" -ge "$deadline" ]; then printf '%s\\n' "$fleet_states" >&2; echo ${sh(`fleet: project ${project} not ready after ${timeoutSeconds}s:`)}"\${fleet_verdict#pending}" >&2; return 1; fi`,
    `    sleep ${pollSeconds}`,
    `  done`,
    `}`,
  ];
}

export interface UpOptions {
  readonly pull: boolean;
  /** `up --build`. @default false */
  readonly build?: boolean;
  readonly timeoutSeconds: number;
  /**
   * Seconds between two looks at the containers while waiting (fractions allowed: the
   * tests that run the wait against a stand-in `docker` look every 0.1 s instead of
   * sleeping whole seconds). Not a component arg: every deploy uses the default.
   * @default 2
   */
  readonly pollSeconds?: number;
  /** Pass `--wait --wait-timeout` on compose v2 hosts. @default true */
  readonly composeWait?: boolean;
  /** External networks created when missing before `up`. @default [] */
  readonly networks?: readonly string[];
  /**
   * Checks of the new version once its containers settle (shell bodies that exit non-zero
   * on failure, e.g. `healthCheckScript`), in order; the first that fails rolls the
   * project back like a service that did not come up. @default []
   */
  readonly checks?: readonly UpCheck[];
  /** The host's name, for the failure message. */
  readonly hostName?: string;
}

/** A check `up` runs once the containers settle, before the deploy counts as good. */
export interface UpCheck {
  /** Its name in the failure message (the AppDeployment check's key). */
  readonly name: string;
  /** POSIX sh; run in a subshell; non-zero exit = the new version is not healthy. */
  readonly body: string;
}

/**
 * `fleet_checks`: the checks in order, each in a subshell; `fleet_failed_check` holds
 * the name of the one that failed (empty when all passed or none ran).
 */
function checkLines(checks: readonly UpCheck[]): string[] {
  if (checks.length === 0) return [];
  return [
    "fleet_failed_check=",
    "fleet_checks() {",
    // Bodies go in unindented: a multi-line quoted string in them must keep its bytes.
    ...checks.flatMap((c) => [`  fleet_failed_check=${sh(c.name)}`, "  (", c.body, "  ) || return 1"]),
    "  fleet_failed_check=",
    "}",
  ];
}

/** Lines that create each external network the project needs when it is missing (never removed). */
export function networkLines(networks: readonly string[]): string[] {
  return [...new Set(networks)].sort().map((n) => `docker network inspect ${sh(n)} >/dev/null 2>&1 || docker network create ${sh(n)} >/dev/null || { echo ${sh(`fleet: cannot create the external network ${n} the compose file needs`)} >&2; exit 1; }`);
}

/** Where `up` keeps the compose and env files of the last deploy that came up healthy. */
export function lastGoodDir(directory: string): string {
  return `${directory}/.fleet`;
}

/** The compose file of the last deploy that came up healthy (`up` keeps it; `adopt` reads whether it exists). */
export function lastGoodFile(directory: string): string {
  return `${lastGoodDir(directory)}/last-good.yaml`;
}

/** How many log lines of each failed service `up` prints. */
export const FAILED_LOG_LINES = 20;

/**
 * `pull` (optional), `up -d --remove-orphans`, then the bounded wait: `--wait
 * --wait-timeout N` where compose v2 has it, and in every case the container check
 * of `waitLines` (the only wait on v1; on v2 it also confirms one-shot services
 * exited 0, which `--wait` does not check on every v2 release).
 *
 * A deploy that comes up settled is kept as the last good one (`.fleet/`: the compose
 * and env files, 0600). One that does not fails naming each unsettled service with its
 * last log lines, and the project is brought back up from the last good files (the
 * previous digests and settings), so the old version serves again while the new one
 * is fixed; the next `up` tries the new files again.
 */
export function upBody(host: ComposeHost, layout: ComposeLayout, opts: UpOptions): string {
  const c = composeCommand(host, layout);
  const wait = opts.timeoutSeconds > 0;
  const waitFlag = wait && host.compose === "docker compose" && opts.composeWait !== false ? ` --wait --wait-timeout ${opts.timeoutSeconds}` : "";
  const good = lastGoodDir(layout.directory);
  const goodFile = lastGoodFile(layout.directory);
  const goodEnv = `${good}/last-good.env`;
  const previous = `${projectOptions(host, layout)} -f ${sh(goodFile)} --env-file ${sh(goodEnv)}`;
  // The rollback never builds: its images were built (and tagged) when it came up, and a
  // build now would build the new checkout under the old files.
  const up = (cmd: string, buildFlag = opts.build ? " --build" : ""): string => `${cmd} up -d --remove-orphans${buildFlag}${waitFlag}${wait ? " && fleet_wait" : ""}`;
  const networks = networkLines(opts.networks ?? []);
  const checks = opts.checks ?? [];
  const on = opts.hostName ? ` on ${opts.hostName}` : "";
  if (!wait) {
    return [`cd ${sh(layout.directory)}`, ...networks, ...(opts.pull ? [`${c} pull -q`] : []), up(c)].join("\n");
  }
  const file = `${layout.directory}/${layout.file}`;
  const envFile = `${layout.directory}/${layout.envFile}`;
  return [
    `cd ${sh(layout.directory)}`,
    ...waitLines(layout.project, opts.timeoutSeconds, opts.pollSeconds),
    ...networks,
    ...(opts.pull ? [`${c} pull -q`] : []),
    ...checkLines(checks),
    `if ${up(c)}${checks.length ? " && fleet_checks" : ""}; then`,
    `  (umask 077 && mkdir -p ${sh(good)} && cp ${sh(file)} ${sh(`${goodFile}.new`)} && cp ${sh(envFile)} ${sh(`${goodEnv}.new`)} && mv -f ${sh(`${goodFile}.new`)} ${sh(goodFile)} && mv -f ${sh(`${goodEnv}.new`)} ${sh(goodEnv)})`,
    `else`,
    ...(checks.length
      ? [
          // The containers settled but a check of the new version failed: no service to blame.
          `  if [ -n "$fleet_failed_check" ]; then`,
          `    echo ${sh("fleet: check ")}"$fleet_failed_check"${sh(` failed${on}: project ${layout.project} came up, but the new version is not healthy`)} >&2`,
          `  else`,
        ]
      : []),
    `  if [ -z "$fleet_states" ]; then fleet_check || true; fi`,
    `  for s in $(fleet_unsettled); do`,
    `    echo ${sh("fleet: service ")}"$s"${sh(` of project ${layout.project} did not come up; its last ${FAILED_LOG_LINES} log lines:`)} >&2`,
    `    ${c} logs --no-color --tail ${FAILED_LOG_LINES} "$s" >&2 || true`,
    `  done`,
    ...(checks.length ? [`  fi`] : []),
    `  if [ -f ${sh(goodFile)} ] && [ -f ${sh(goodEnv)} ]; then`,
    `    echo ${sh(`fleet: project ${layout.project}: rolling back to the last deploy that came up (${goodFile})`)} >&2`,
    `    fleet_states=`,
    `    if ${up(previous, opts.build ? " --no-build" : "")} >&2; then echo ${sh(`fleet: project ${layout.project}: rolled back; the previous version serves`)} >&2; else echo ${sh(`fleet: project ${layout.project}: the rollback did not come up either`)} >&2; fi`,
    `  else`,
    `    echo ${sh(`fleet: project ${layout.project}: no earlier deploy came up, nothing to roll back to`)} >&2`,
    `  fi`,
    `  exit 1`,
    `fi`,
  ].join("\n");
}

/** Stop and remove the project's containers and networks; volumes are kept unless `volumes`. */
export function downBody(host: ComposeHost, layout: ComposeLayout, volumes = false): string {
  const file = `${layout.directory}/${layout.file}`;
  const envFile = `${layout.directory}/${layout.envFile}`;
  const v = volumes ? " --volumes" : "";
  const withoutEnv = `${projectOptions(host, layout)} -f ${sh(file)}`;
  return [
    `if [ ! -f ${sh(file)} ]; then echo ${sh(`fleet: ${file} is gone; nothing to take down`)}; exit 0; fi`,
    `cd ${sh(layout.directory)}`,
    // Without its env file compose still knows the project's containers; v2 refuses a missing --env-file.
    `if [ -f ${sh(envFile)} ]; then ${composeCommand(host, layout)} down --remove-orphans${v}; else ${withoutEnv} down --remove-orphans${v}; fi`,
    // The last good files (a copy of .env among them) belong to the deployed project.
    `rm -rf ${sh(lastGoodDir(layout.directory))}`,
  ].join("\n");
}

/** One task: the compose command, the argv quoted, secrets expanded from their shell variables, stdin closed. */
export function taskRunBody(host: ComposeHost, layout: ComposeLayout, run: readonly ComposeTaskArg[]): string {
  const argv = run.map((a) => (typeof a === "string" ? sh(a) : `"$${a.secret}"`)).join(" ");
  return [`cd ${sh(layout.directory)}`, `${composeCommand(host, layout)} ${argv} </dev/null`].join("\n");
}

/**
 * Adopt what a hand-made deployment left under the project's names (ComposeStack's
 * `adopt`): every listed container that exists outside `project` is inspected, stopped,
 * its volumes tarred from the host (`docker volume` mountpoints) into
 * `<backupDir>/<container>-<UTC time>/`, and removed (its volumes stay, for compose to
 * reuse by name); every listed network that is not the project's is removed once no
 * container is attached, or the adoption fails naming the ones that are. A failed backup
 * leaves the container stopped but in place, and fails.
 *
 * With `lastGood` (the file `up` keeps once the project came up, see `lastGoodDir`), a
 * listed container that already carries the project's own name is adopted the same way
 * while that file does not exist: the stack has never brought the project up there, so
 * an operator made it by hand under that project name (the seeds' own `docker compose -p
 * <project> up -d`); `up` would otherwise recreate it without a backup.
 */
export function adoptBody(project: string, adopt: { readonly containers: readonly string[]; readonly networks: readonly string[]; readonly backupDir: string }, lastGood?: string): string {
  const label = sh('{{index .Config.Labels "com.docker.compose.project"}}');
  const netLabel = sh('{{index .Labels "com.docker.compose.project"}}');
  const mounts = sh('{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{.Source}}{{println}}{{end}}{{end}}');
  return [
    `for name in ${shArgs(adopt.containers)}; do`,
    `  docker container inspect "$name" >/dev/null 2>&1 || continue`,
    `  owner=$(docker container inspect --format ${label} "$name")`,
    ...(lastGood === undefined
      ? [`  [ "$owner" != ${sh(project)} ] || continue`]
      : [
          `  if [ "$owner" = ${sh(project)} ]; then`,
          `    [ ! -f ${sh(lastGood)} ] || continue`,
          `    why=${sh(`is in project ${project}, which this stack has never brought up here (no ${lastGood})`)}`,
          `  else`,
          `    why="runs outside project "${sh(project)}" (project '\${owner:-none}')"`,
          `  fi`,
        ]),
    `  dir=${sh(adopt.backupDir)}/"$name-$(date -u +%Y%m%dT%H%M%SZ)"`,
    ...(lastGood === undefined
      ? [`  echo "fleet: container $name runs outside project "${sh(project)}" (project '\${owner:-none}'): backing it up into $dir, then adopting it" >&2`]
      : [`  echo "fleet: container $name $why: backing it up into $dir, then adopting it" >&2`]),
    `  (umask 077 && mkdir -p "$dir")`,
    `  docker container inspect "$name" > "$dir/container.json"`,
    `  docker stop "$name" >/dev/null`,
    `  docker container inspect --format ${mounts} "$name" > "$dir/volumes.txt"`,
    `  while read -r vol src; do`,
    `    [ -n "$vol" ] || continue`,
    `    tar -C "$src" -czf "$dir/volume-$vol.tar.gz" . || { echo "fleet: backup of volume $vol of $name failed; $name is stopped, not removed" >&2; exit 1; }`,
    `  done < "$dir/volumes.txt"`,
    `  docker rm "$name" >/dev/null`,
    `  echo "fleet: $name backed up into $dir and removed; its volumes are kept for project "${sh(project)} >&2`,
    `done`,
    ...(adopt.networks.length
      ? [
          `for net in ${shArgs(adopt.networks)}; do`,
          `  docker network inspect "$net" >/dev/null 2>&1 || continue`,
          `  owner=$(docker network inspect --format ${netLabel} "$net")`,
          `  [ "$owner" != ${sh(project)} ] || continue`,
          `  users=$(docker network inspect --format ${sh("{{range .Containers}}{{.Name}} {{end}}")} "$net")`,
          `  if [ -n "$users" ]; then echo "fleet: network $net was made outside project "${sh(project)}" and containers still use it: $users; adopt them too, or declare the network external" >&2; exit 1; fi`,
          `  docker network rm "$net" >/dev/null`,
          `  echo "fleet: network $net (made outside project "${sh(project)}") removed; compose creates it again" >&2`,
          `done`,
        ]
      : []),
  ].join("\n");
}
