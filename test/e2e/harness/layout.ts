/**
 * The fixed shape of the test fleet: names, addresses, network names, the
 * directories bind-mounted into each host, and the initial config files.
 */

export type HostName = "titania" | "portia" | "prospero" | "puck";

export const HOST_NAMES: readonly HostName[] = ["titania", "portia", "prospero", "puck"];

export const SUBNET = "10.231.0.0/24";
export const BRIDGE = "fleetbr0";
export const BRIDGE_ADDRESS = "10.231.0.1";
export const NETNS_PREFIX = "fleet-";
/** Root-namespace end of each host's veth (the host end is `eth0` inside the netns). */
export const VETH_PREFIX = "vf-";
export const DOMAIN = "incus";

export const ADDRESSES: Readonly<Record<HostName, string>> = {
  titania: "10.231.0.11",
  portia: "10.231.0.12",
  prospero: "10.231.0.13",
  puck: "10.231.0.14",
};

export function netnsName(host: HostName): string {
  return `${NETNS_PREFIX}${host}`;
}

export function vethName(host: HostName): string {
  return `${VETH_PREFIX}${host}`;
}

/**
 * Directories every host gets its own copy of (mounted over the real path inside the
 * host's mount namespace). /run is handled separately: it is mounted last.
 */
export const PRIVATE_DIRS = [
  "/etc/haproxy",
  "/etc/nginx",
  "/etc/caddy",
  "/etc/prometheus",
  "/srv",
  "/opt",
  "/var/lib/prometheus",
  "/var/log/nginx",
  "/var/lib/caddy",
  // root's home: a fresh Debian one per host (the machine's own ~/.bashrc may run
  // slow or odd things on every SSH command, and hosts should not share ~).
  "/root",
  // Where the remote primitive installs its file helpers (src/remote/helper.ts HELPER_DIR).
  "/var/lib/fleet",
] as const;

/**
 * A second port every sshd listens on: the engine suite re-addresses a host to it (same
 * machine, another SSH port) and proves nothing is removed or restarted.
 */
export const SSH_ALT_PORT = 2222;

export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";
export const POSTGRES_PORT = 5432;

export function hostsFile(): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
    "",
    ...HOST_NAMES.map((h) => `${ADDRESSES[h]}\t${h}.${DOMAIN} ${h}`),
  ];
  return lines.join("\n") + "\n";
}

export interface SshdPaths {
  readonly hostKey: string;
  readonly authorizedKeys: string;
}

export function sshdConfig(host: HostName, p: SshdPaths): string {
  return [
    `# pulumi-fleet e2e harness: sshd for ${host}`,
    `ListenAddress ${ADDRESSES[host]}:22`,
    `ListenAddress ${ADDRESSES[host]}:${SSH_ALT_PORT}`,
    `HostKey ${p.hostKey}`,
    `AuthorizedKeysFile ${p.authorizedKeys}`,
    // Inside the host's private /run.
    "PidFile /run/sshd.pid",
    "UsePAM no",
    "StrictModes no",
    "PubkeyAuthentication yes",
    "AuthenticationMethods publickey",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
    // No AcceptEnv line: sshd then accepts no client environment at all
    // ("AcceptEnv none" would only accept a variable literally named "none").
    "PermitUserEnvironment no",
    "PrintMotd no",
    "PrintLastLog no",
    "UseDNS no",
    "X11Forwarding no",
    // Pulumi opens many connections at once; don't drop them as a flood.
    "MaxStartups 200:30:400",
    "MaxSessions 100",
    "LoginGraceTime 30",
    "LogLevel VERBOSE",
    "",
  ].join("\n");
}

/** Listens on titania; unknown hosts get 503 from `no_route`. */
export function haproxyConfig(): string {
  return `# pulumi-fleet e2e harness: minimal HAProxy (master-worker, started with -W -D)
global
    stats socket /run/haproxy-admin.sock mode 600 level admin
    stats timeout 30s

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http
    bind ${ADDRESSES.titania}:80
    use_backend %[req.hdr(host),lower,word(1,:),map(/etc/haproxy/hosts.map)]
    default_backend no_route

backend no_route
    http-request return status 503 content-type text/plain string "no route"
`;
}

export function prometheusConfig(): string {
  return `# pulumi-fleet e2e harness: minimal Prometheus
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files:
  - /etc/prometheus/rules.d/*.yml
scrape_configs: []
`;
}

export function alertmanagerConfig(): string {
  return `# pulumi-fleet e2e harness: minimal Alertmanager (no receivers reach anything)
route:
  receiver: "null"
receivers:
  - name: "null"
`;
}

export const HEALTH_BODY = '{"status": "ok"}';

export function nginxSite(): string {
  return `# pulumi-fleet e2e harness site
server {
    listen ${ADDRESSES.puck}:8080;
    server_name _;

    location = /health {
        default_type application/json;
        return 200 '${HEALTH_BODY}';
    }

    location = /fail {
        return 500;
    }

    location / {
        return 404;
    }
}
`;
}

export const CADDY_BODY = "caddy ok";

export function caddyfile(): string {
  return `# pulumi-fleet e2e harness: minimal Caddyfile (plain HTTP, no ACME)
{
\tadmin localhost:2019
\tauto_https off
}

http://${ADDRESSES.puck}:8081 {
\tbind ${ADDRESSES.puck}
\trespond "${CADDY_BODY}" 200
}
`;
}

export function postgresqlConf(): string {
  return `
# --- pulumi-fleet e2e harness ---
listen_addresses = '${ADDRESSES.portia},127.0.0.1'
port = ${POSTGRES_PORT}
unix_socket_directories = '/run/postgresql'
external_pid_file = '/run/postgresql/15-main.pid'
max_connections = 50
shared_buffers = 32MB
# Throwaway data: trade durability for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
`;
}

export function pgHba(): string {
  return `# pulumi-fleet e2e harness
# TYPE  DATABASE  USER      ADDRESS          METHOD
local   all       postgres                   trust
local   all       all                        peer
host    all       all       127.0.0.1/32     scram-sha-256
host    all       all       ${SUBNET}    scram-sha-256
`;
}
