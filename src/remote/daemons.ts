/**
 * The daemons whose config we manage: for each, the command that validates the
 * *whole* config and the command that reloads it, on a given host. Pure: returns
 * shell text built with the quoting helper; nothing runs here.
 */
import { type HostSpec } from "../config/hosts";
import { sh, shArgs } from "./quote";

/** What the primitive needs to apply a file safely: a lock name, a validator and a reload. */
export interface Daemon {
  /** Lock name: one flock per host and service (`<lockDir>/fleet-<lock>.lock`). */
  readonly lock: string;
  /** Validates the whole config; non-zero exit with the tool's own message on failure. */
  readonly validate?: string;
  /** Makes the daemon pick up the new config. */
  readonly reload?: string;
}

type HostDaemonSettings = Pick<HostSpec, "services" | "pidFiles" | "compose">;

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

export function haproxy(host: HostDaemonSettings, paths: HaproxyPaths = haproxyDefaults): Daemon {
  return {
    lock: "haproxy",
    validate: `haproxy -c -q -f ${sh(paths.config)} -f ${sh(paths.fragments)}`,
    reload:
      host.services === "systemd"
        ? "systemctl reload haproxy"
        : // master-worker mode: USR2 makes the master re-read the config and start new workers.
          signalPidFile("USR2", host.pidFiles.haproxy, "haproxy"),
  };
}

export function nginx(host: HostDaemonSettings): Daemon {
  return {
    lock: "nginx",
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
  const validate = shArgs(["caddy", "validate", "--config", opts.config, "--adapter", "caddyfile"]);
  if (opts.container) {
    return {
      lock: `caddy-${opts.container}`,
      validate: `docker exec ${sh(opts.container)} ${validate}`,
      reload: `docker restart ${sh(opts.container)} >/dev/null`,
    };
  }
  return {
    lock: "caddy",
    validate,
    reload:
      host.services === "systemd"
        ? "systemctl reload caddy"
        : shArgs(["caddy", "reload", "--config", opts.config, "--adapter", "caddyfile"]),
  };
}

export interface PrometheusPaths {
  /** The assembled config Prometheus reads. @default "/etc/prometheus/prometheus.yml" */
  readonly config: string;
}

export function prometheus(host: HostDaemonSettings, paths: PrometheusPaths = { config: "/etc/prometheus/prometheus.yml" }): Daemon {
  return {
    lock: "prometheus",
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
    validate: `amtool check-config ${sh(config)}`,
    reload:
      host.services === "systemd"
        ? "systemctl reload prometheus-alertmanager"
        : signalPidFile("HUP", host.pidFiles.alertmanager, "alertmanager"),
  };
}

/** A systemd unit file: verified offline, then `daemon-reload`. Restarts are the unit's own step. */
export function systemdUnit(unitPath: string): Daemon {
  return {
    lock: "systemd",
    validate: `systemd-analyze verify ${sh(unitPath)}`,
    reload: "systemctl daemon-reload",
  };
}

/** A compose project: `config -q` checks the file with its env file and interpolation. */
export function compose(host: HostDaemonSettings, projectDir: string, project: string): Daemon {
  return {
    lock: `compose-${project}`,
    validate: `cd ${sh(projectDir)} && ${host.compose} --project-name ${sh(project)} config -q`,
  };
}

/** A file no daemon reads directly (a dashboard, a map source): locked, not validated or reloaded. */
export function plain(lock: string): Daemon {
  return { lock };
}
