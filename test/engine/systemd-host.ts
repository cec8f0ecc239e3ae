/**
 * A test host with systemd as PID 1 that the real engine reaches over SSH: this machine's
 * `/usr` booted by test/e2e/systemd.ts in a harness host's network namespace, with its own
 * sshd on {@link SYSTEMD_SSH_PORT} (a transient unit, so sshd's log is its journal) and
 * nginx under its Debian unit (`systemctl reload nginx`, as on a production host). The
 * rest of the root is a fresh tmpfs per boot: nothing of the machine's /etc, /srv or /var
 * is seen or written (STYLE 54), and the container's processes end with it.
 *
 * Root only; needs what test/e2e/systemd.ts needs, plus the machine's openssh-server and nginx.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defineHost, type Host } from "../../src/remote/host";
import { ADDRESSES, type Fleet, type HostName, netnsName } from "../e2e/harness";
import { type Bind, type BootedSystemd, bootSystemd } from "../e2e/systemd";

/** The container's sshd (the harness's own sshd has 22 in the same namespace). */
export const SYSTEMD_SSH_PORT = 2200;

export interface SystemdHost {
  /** The booted container (commands through nsenter, never counted as SSH sessions). */
  readonly systemd: BootedSystemd;
  /** The host as a stack defines it: `services: "systemd"`, the container's sshd. */
  readonly host: Host;
  /** Run `script` as root in the container; throws with its output when it fails. */
  run(script: string): Promise<string>;
  /** Command sessions the container's sshd started so far (its journal at LogLevel VERBOSE: STYLE 42). */
  sessions(): Promise<number>;
  stop(): Promise<void>;
}

/** nginx's main config on the test host: conf.d only (the stack's sites), no default site. */
const NGINX_CONF = `# pulumi-fleet engine tests: nginx on the systemd test host
user nobody nogroup;
worker_processes 1;
pid /run/nginx.pid;
error_log /var/log/nginx/error.log;
events {
    worker_connections 64;
}
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    include /etc/nginx/conf.d/*.conf;
}
`;

/**
 * Boot the systemd host in `netns`'s network namespace, named `logical` for the stack
 * (`puck`: the messages name it), with `binds` (plus /etc/ssh and /etc/nginx of its own,
 * made in `dir`), and `setup` run as root before sshd starts.
 */
export async function systemdHost(fleet: Fleet, netns: HostName, logical: string, dir: string, binds: readonly Bind[], setup = ""): Promise<SystemdHost> {
  const ssh = join(dir, "ssh");
  const nginx = join(dir, "nginx");
  mkdirSync(ssh, { mode: 0o700 });
  mkdirSync(join(nginx, "conf.d"), { recursive: true });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-systemd-host", "-f", join(ssh, "host_key")]);
  const hostKey = readFileSync(join(ssh, "host_key.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  writeFileSync(join(ssh, "authorized_keys"), readFileSync(`${fleet.hosts[netns].identityFile}.pub`), { mode: 0o600 });
  writeFileSync(
    join(ssh, "sshd_config"),
    [
      "# systemd test host",
      `Port ${SYSTEMD_SSH_PORT}`,
      `ListenAddress ${ADDRESSES[netns]}`,
      "HostKey /etc/ssh/host_key",
      "AuthorizedKeysFile /etc/ssh/authorized_keys",
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  writeFileSync(join(nginx, "nginx.conf"), NGINX_CONF);
  copyFileSync("/etc/nginx/mime.types", join(nginx, "mime.types"));

  const systemd = await bootSystemd(`fleet-engine-${logical}-${process.pid}`, [{ source: ssh, target: "/etc/ssh", readOnly: true }, { source: nginx, target: "/etc/nginx" }, ...binds], {
    netns: netnsName(netns),
  });
  const run = async (script: string): Promise<string> => {
    const r = await systemd.run(script);
    if (r.code !== 0) throw new Error(`on the systemd host: ${script}\nexit ${r.code}\n${r.stdout}${r.stderr}\n${systemd.console().slice(-2000)}`);
    return r.stdout;
  };
  try {
    await run(
      [
        "set -eu",
        // Debian's packages make these users in their postinst; the fresh root has sysusers' only.
        "useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd",
        // sysusers leaves root's password locked ("!"), which sshd refuses even for a key: no password instead.
        "usermod -p '*' root",
        "mkdir -p /run/sshd /var/log/nginx /var/lib/nginx",
        setup,
        "systemctl start nginx.service",
        "systemd-run --quiet --unit=fleet-sshd --property=Restart=no /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config",
        // Bounded wait for sshd's socket.
        `i=0; until ss -Hltn 'sport = :${SYSTEMD_SSH_PORT}' | grep -q LISTEN; do i=$((i+1)); [ "$i" -lt 100 ] || { journalctl -u fleet-sshd -o cat --no-pager >&2; exit 1; }; sleep 0.1; done`,
      ].join("\n"),
    );
  } catch (e) {
    await systemd.stop();
    throw e;
  }
  const host = defineHost(logical, { address: ADDRESSES[netns], port: SYSTEMD_SSH_PORT, user: "root", hostKey, services: "systemd" }, fleet.hosts[netns].privateKey);
  return {
    systemd,
    host,
    run,
    async sessions() {
      const out = await run("journalctl -u fleet-sshd -o cat --no-pager | grep -c 'Starting session: command for ' || true");
      return Number(out.trim());
    },
    stop: () => systemd.stop(),
  };
}
