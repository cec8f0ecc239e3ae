/**
 * Daemons on the host itself (systemd units or processes with pid files): for each, the
 * command that validates the *whole* config and the command that reloads it. Pure:
 * shell text built with the quoting helper; nothing runs here.
 */
import { sh } from "../quote";
import { containerCaddy } from "./container";
import { type Daemon, type HostDaemonSettings } from "./types";

/** Signal the process in a pid file, failing clearly when it is not running. */
function signalPidFile(signal: string, pidFile: string, what: string): string {
  return (
    `pid=$(cat ${sh(pidFile)} 2>/dev/null) && kill -0 "$pid" 2>/dev/null ` +
    `|| { echo ${sh(`fleet: ${what} is not running (no live pid in ${pidFile})`)} >&2; exit 1; }; ` +
    `kill -${signal} "$pid"`
  );
}

export interface HaproxyPaths {
  /** Main config. @default "/etc/haproxy/haproxy.cfg" */
  readonly config: string;
  /** Directory of per-owner fragments loaded after the main config. @default "/etc/haproxy/conf.d" */
  readonly fragments: string;
}

export const haproxyDefaults: HaproxyPaths = { config: "/etc/haproxy/haproxy.cfg", fragments: "/etc/haproxy/conf.d" };

/**
 * The whole-config check, run under the host's HAProxy lock once per route change: first
 * with one extra `global` line on stdin, `httpclient.ssl.verify none`, which spares it
 * the parse of every system CA certificate (HAProxy 2.6 loads `@system-ca` for its HTTP
 * client at start: about 30 of the 40 ms of CPU a check costs, measured with Debian's
 * 2.6.12; no fleet config uses that client, and a CA store that does not load only
 * disables it). When that call fails (a refused config, or a HAProxy that lacks the
 * keyword), the plain check runs and its verdict and its lines are what count, so an
 * operator reads HAProxy's own messages about the real files. No -q: in 2.6 it also hides
 * the [ALERT] lines an operator needs on failure.
 */
export function haproxyCheck(paths: HaproxyPaths): string {
  const plain = `haproxy -c -f ${sh(paths.config)} -f ${sh(paths.fragments)}`;
  return `{ printf 'global\\n    httpclient.ssl.verify none\\n' | ${plain} -f /dev/stdin; } >/dev/null 2>&1 || ${plain}`;
}

export function haproxy(host: HostDaemonSettings, paths: HaproxyPaths = haproxyDefaults): Daemon {
  // The master pid: systemd's MainPID, or the pid file of a directly managed master.
  const master =
    host.services === "systemd"
      ? `master=$(systemctl show -p MainPID --value haproxy)`
      : `master=$(cat ${sh(host.pidFiles.haproxy)} 2>/dev/null || true)`;
  const signal = host.services === "systemd" ? "systemctl reload haproxy" : `kill -USR2 "$master"`;
  return {
    lock: "haproxy",
    service: "haproxy",
    checker: "haproxy -c",
    validate: haproxyCheck(paths),
    // A reload is only done when the master has forked a new worker: USR2 (and
    // `systemctl reload`, which just sends it) returns at once, and a second USR2 that
    // arrives while the master re-executes is lost. Holding the lock until the new
    // worker exists serialises reloads of parallel route changes.
    reload: [
      master,
      `if [ -z "$master" ] || [ "$master" = 0 ] || ! kill -0 "$master" 2>/dev/null; then echo 'fleet: haproxy master is not running' >&2; exit 1; fi`,
      `before=" $(pgrep -P "$master" | tr '\n' ' ')"`,
      signal,
      `i=0`,
      `while :; do`,
      `  fresh=''; for p in $(pgrep -P "$master"); do case "$before " in *" $p "*) ;; *) fresh=$p ;; esac; done`,
      `  [ -n "$fresh" ] && break`,
      `  i=$((i + 1)); if [ "$i" -ge 150 ]; then echo 'fleet: haproxy started no new worker within 15s of the reload' >&2; exit 1; fi`,
      `  sleep 0.1`,
      `done`,
    ].join("\n"),
  };
}

export function nginx(host: HostDaemonSettings): Daemon {
  return {
    lock: "nginx",
    service: "nginx",
    checker: "nginx -t",
    validate: "nginx -t -q",
    reload: host.services === "systemd" ? "systemctl reload nginx" : "nginx -s reload",
  };
}

export interface CaddyOptions {
  /** Caddyfile path as the caddy process sees it. @default "/etc/caddy/Caddyfile" */
  readonly config: string;
  /**
   * When caddy runs in a container (e.g. `caddy-proxy`), validation and reload run in it
   * and the reload is a restart: a bind-mounted file keeps the old inode otherwise.
   */
  readonly container?: string;
}

export function caddy(host: HostDaemonSettings, opts: CaddyOptions = { config: "/etc/caddy/Caddyfile" }): Daemon {
  const validate = `caddy validate --config ${sh(opts.config)} --adapter caddyfile`;
  if (opts.container) return containerCaddy(opts.container, validate);
  return {
    lock: "caddy",
    service: "caddy",
    checker: "caddy validate",
    validate,
    reload:
      host.services === "systemd"
        ? "systemctl reload caddy"
        : `caddy reload --config ${sh(opts.config)} --adapter caddyfile`,
  };
}

export interface PrometheusPaths {
  /** The assembled config Prometheus reads. @default "/etc/prometheus/prometheus.yml" */
  readonly config: string;
}

export function prometheus(host: HostDaemonSettings, paths: PrometheusPaths = { config: "/etc/prometheus/prometheus.yml" }): Daemon {
  return {
    lock: "prometheus",
    service: "prometheus",
    checker: "promtool check config",
    // `check config` also loads and checks every rule file the config references.
    validate: `promtool check config ${sh(paths.config)}`,
    reload:
      host.services === "systemd"
        ? "systemctl reload prometheus"
        : signalPidFile("HUP", host.pidFiles.prometheus, "prometheus"),
  };
}

export function alertmanager(host: HostDaemonSettings, config = "/etc/prometheus/alertmanager.yml"): Daemon {
  return {
    lock: "alertmanager",
    service: "alertmanager",
    checker: "amtool check-config",
    validate: `amtool check-config ${sh(config)}`,
    reload:
      host.services === "systemd"
        ? "systemctl reload prometheus-alertmanager"
        : signalPidFile("HUP", host.pidFiles.alertmanager, "alertmanager"),
  };
}

/** A file no daemon reads directly (a dashboard, a map source): locked, not validated or reloaded. */
export function plain(lock: string): Daemon {
  return { lock };
}

/**
 * A Prometheus rule file: checked on its own (`promtool check rules`, skipped when the
 * file is being removed) and then with the whole config (`check config` loads every
 * rule file the `rule_files` globs match), then Prometheus reloads.
 */
export function prometheusRules(host: HostDaemonSettings, rulesFile: string, paths: PrometheusPaths = { config: "/etc/prometheus/prometheus.yml" }): Daemon {
  const whole = prometheus(host, paths);
  return {
    ...whole,
    checker: "promtool check rules/config",
    validate: `{ [ ! -e ${sh(rulesFile)} ] || promtool check rules ${sh(rulesFile)}; } && ${whole.validate ?? "true"}`,
  };
}

export interface SystemdVerifyOptions {
  /**
   * Verify against an alternate root (`systemd-analyze verify --root`): units, and the
   * executables they start, are looked up under it. For offline checks (tests, images);
   * `unitPath` is then the path inside that root.
   */
  readonly root?: string;
  /**
   * Units that must be installed for this one to work, e.g. the service a timer starts:
   * `verify` accepts a timer whose unit is missing, systemd then refuses to start it.
   */
  readonly requireUnits?: readonly string[];
}

/** Where systemd looks for unit files (system units; /etc first). */
const UNIT_DIRS = ["/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"];

/**
 * A systemd unit file, verified strictly: `systemd-analyze verify` exits 0 on many
 * problems it merely warns about ("Unknown key ..., ignoring", "Failed to parse calendar
 * specification, ignoring"), so any line it prints about this very file is a failure too.
 * Warnings about other units (dependencies shipped by the distribution) are not ours to fix
 * and do not block. `verify` also fails when an Exec*= binary does not exist yet: deploy
 * the code before the unit (`dependsOn`). Then `daemon-reload`; restarts are the unit's own
 * step. A removed unit (delete) is not verified.
 */
export function systemdUnitStrict(unitPath: string, opts: SystemdVerifyOptions = {}): Daemon {
  const shown = opts.root ? `${opts.root.replace(/\/+$/, "")}${unitPath}` : unitPath;
  // Flags are literal text: sh() (shescape's flag protection) strips leading dashes.
  const verify = `systemd-analyze verify --man=no ${opts.root ? `--root=${sh(opts.root)} ` : ""}${sh(shown)}`;
  const root = opts.root ? opts.root.replace(/\/+$/, "") : "";
  const required = (opts.requireUnits ?? []).map((u) => {
    const found = UNIT_DIRS.map((d) => `[ -e ${sh(`${root}${d}/${u}`)} ]`).join(" || ");
    return `{ ${found} || { echo ${sh(`fleet: ${unitPath} needs ${u}, which is not installed; deploy it first (dependsOn)`)}; exit 1; }; }; `;
  });
  const check =
    required.join("") +
    `v=$(${verify} 2>&1) || { printf '%s\\n' "$v"; exit 1; }; ` +
    `if printf '%s\\n' "$v" | grep -F -q -- ${sh(`${shown}:`)}; then printf '%s\\n' "$v"; ` +
    `echo ${sh(`fleet: systemd-analyze verify warned about ${unitPath}; fix the lines above`)}; exit 1; fi`;
  return {
    lock: "systemd",
    service: "systemd",
    checker: "systemd-analyze verify",
    // On delete the helper checks the config without the file: nothing to verify then
    // (verify would say "Unit ... not found"), only the daemon-reload.
    validate: `if [ -e ${sh(shown)} ]; then ${check}; fi`,
    reload: "systemctl daemon-reload",
  };
}

/**
 * Grafana's dashboard provisioning config. Grafana reads provider files only at start,
 * so a changed provider restarts it (`try-restart`: only when it is running). Dashboard
 * JSON files themselves need nothing: Grafana rescans the provider's directory.
 */
export function grafanaProvisioning(host: HostDaemonSettings): Daemon {
  return host.services === "systemd" ? { lock: "grafana", service: "grafana", reload: "systemctl try-restart grafana-server" } : { lock: "grafana", service: "grafana" };
}

/**
 * A shell script the host runs (a backup or migration script): syntax-checked with
 * `sh -n` before it replaces the previous one. On delete the file helper checks the
 * config without the file, which is then gone: nothing to check, and destroy must not
 * fail on it.
 */
export function shellScript(lock: string, path: string): Daemon {
  return { lock, validate: `[ ! -e ${sh(path)} ] || sh -n ${sh(path)}` };
}
