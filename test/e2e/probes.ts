/**
 * What the daemons themselves say, for the end-to-end assertions: worker pids (a
 * reload replaces them), Prometheus's reload timestamp, targets and rules, files on
 * disk (bytes, inode, mtime), and requests through HAProxy. Every wait is bounded.
 */
import { ADDRESSES, type CurlResult, type Fleet, type HostName } from "./harness";
import { eventually } from "./program";

/** Output of a command run directly in the host's namespaces; throws on a non-zero exit. */
async function execText(fleet: Fleet, host: HostName, script: string): Promise<string> {
  const r = await fleet.exec(host, ["/bin/sh", "-c", script]);
  if (r.code !== 0) throw new Error(`${host}: ${script} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function pidList(text: string): number[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .sort((a, b) => a - b);
}

/** Children of the process in `pidFile`: HAProxy's and nginx's workers. */
export async function workers(fleet: Fleet, host: HostName, pidFile: string): Promise<number[]> {
  const out = await execText(fleet, host, `pgrep -P "$(cat ${pidFile})" || true`);
  return pidList(out);
}

/** HAProxy's workers once a reload has settled (the old worker has left). */
export function haproxyWorkers(fleet: Fleet): Promise<number[]> {
  return eventually("HAProxy to run exactly one worker", 20_000, () => workers(fleet, "titania", "/run/haproxy.pid"), (w) => w.length === 1);
}

/** nginx's workers once a reload has settled (old workers have exited). */
export async function nginxWorkers(fleet: Fleet): Promise<number[]> {
  const expected = Number((await execText(fleet, "puck", "nproc")).trim());
  // worker_processes auto: one per CPU. Old workers finishing requests also show up.
  return eventually(`nginx to run ${expected} worker(s)`, 20_000, () => workers(fleet, "puck", "/run/nginx.pid"), (w) => w.length === expected);
}

export const PROMETHEUS = `http://${ADDRESSES.prospero}:9090`;

/** A sample of Prometheus's own metrics (`/metrics`), as a number. */
export async function promSelfMetric(fleet: Fleet, name: string): Promise<number> {
  const r = await fleet.curl("prospero", `${PROMETHEUS}/metrics`);
  if (r.status !== 200) throw new Error(`Prometheus /metrics answered ${r.status}`);
  const line = r.body.split("\n").find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`Prometheus exposes no ${name}`);
  return Number(line.slice(name.length + 1));
}

/** When Prometheus last loaded its config successfully (seconds since the epoch). */
export function promLastReload(fleet: Fleet): Promise<number> {
  return promSelfMetric(fleet, "prometheus_config_last_reload_success_timestamp_seconds");
}

async function promApi(fleet: Fleet, path: string): Promise<unknown> {
  const r = await fleet.curl("prospero", `${PROMETHEUS}${path}`);
  if (r.status !== 200) throw new Error(`Prometheus ${path} answered ${r.status}: ${r.body}`);
  const parsed = JSON.parse(r.body) as { status?: string; data?: unknown };
  if (parsed.status !== "success") throw new Error(`Prometheus ${path}: ${r.body}`);
  return parsed.data;
}

export interface PromTarget {
  readonly job: string;
  readonly instance: string;
  readonly health: string;
  readonly lastError: string;
}

export async function promTargets(fleet: Fleet): Promise<PromTarget[]> {
  const data = (await promApi(fleet, "/api/v1/targets?state=active")) as {
    activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
  };
  return data.activeTargets.map((t) => ({ job: t.labels.job ?? "", instance: t.labels.instance ?? "", health: t.health, lastError: t.lastError }));
}

export interface PromRule {
  readonly group: string;
  readonly file: string;
  readonly name: string;
  readonly query: string;
  readonly health: string;
}

export async function promRules(fleet: Fleet): Promise<PromRule[]> {
  const data = (await promApi(fleet, "/api/v1/rules")) as {
    groups: { name: string; file: string; rules: { name: string; query: string; health: string }[] }[];
  };
  return data.groups.flatMap((g) => g.rules.map((r) => ({ group: g.name, file: g.file, name: r.name, query: r.query, health: r.health })));
}

export interface FileState {
  readonly path: string;
  /** Absent files have no other fields. */
  readonly exists: boolean;
  readonly content?: string;
  /** `inode mtime(ns) owner:group mode` */
  readonly meta?: string;
}

/** Bytes and metadata of files on a host (read directly in its mount namespace). */
export async function files(fleet: Fleet, host: HostName, paths: readonly string[]): Promise<FileState[]> {
  const out: FileState[] = [];
  for (const path of paths) {
    const meta = await fleet.exec(host, ["stat", "-c", "%i %.9Y %U:%G %a", "--", path]);
    if (meta.code !== 0) {
      out.push({ path, exists: false });
      continue;
    }
    const content = await fleet.exec(host, ["cat", "--", path]);
    if (content.code !== 0) throw new Error(`${host}: cannot read ${path}: ${content.stderr}`);
    out.push({ path, exists: true, content: content.stdout, meta: meta.stdout.trim() });
  }
  return out;
}

/** One file's text; throws when it is absent. */
export async function fileText(fleet: Fleet, host: HostName, path: string): Promise<string> {
  const [f] = await files(fleet, host, [path]);
  if (!f?.exists || f.content === undefined) throw new Error(`${host}: ${path} does not exist`);
  return f.content;
}

/** Names of the entries of a directory (sorted; hidden ones included). */
export async function listDir(fleet: Fleet, host: HostName, dir: string): Promise<string[]> {
  const r = await fleet.exec(host, ["ls", "-A", "--", dir]);
  if (r.code !== 0) throw new Error(`${host}: ls ${dir} exited ${r.code}: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).sort();
}

/** A request to HAProxy on titania for `domain`, made from prospero (another host on the bridge). */
export function viaHaproxy(fleet: Fleet, domain: string, path = "/"): Promise<CurlResult> {
  return fleet.curl("prospero", `http://titania.incus${path}`, { headers: { Host: domain }, timeoutMs: 5_000 });
}

const ADMIN_SOCKET_CLIENT = String.raw`
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    out += d
sys.stdout.write(out.decode())
`;

/** A command on HAProxy's admin socket (the HAProxyFrontend's default path), answered by the live worker. */
export async function haproxyAdmin(fleet: Fleet, command: string, socket = "/run/haproxy/admin.sock"): Promise<string> {
  const r = await fleet.exec("titania", ["python3", "-c", ADMIN_SOCKET_CLIENT, socket, command]);
  if (r.code !== 0) throw new Error(`HAProxy admin socket: ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** The host map as the live HAProxy worker has it loaded: `domain backend` lines, sorted. */
export async function haproxyLiveMap(fleet: Fleet, map = "/etc/haproxy/hosts.map"): Promise<string> {
  const out = await haproxyAdmin(fleet, `show map ${map}`);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/).slice(1).join(" "))
    .filter(Boolean)
    .sort()
    .map((l) => `${l}\n`)
    .join("");
}
