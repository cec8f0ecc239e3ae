/**
 * A real Docker engine on puck (DESIGN.md, "Testing layers", item 8): Debian's dockerd
 * inside puck's network and mount namespaces, docker compose v2 as a CLI plugin built by
 * scripts/build-compose.sh, and Debian's docker-registry on puck's address.
 *
 * Why it is shaped this way:
 * - dockerd must never run in the root network namespace: it sets the iptables FORWARD
 *   policy to DROP there, which silently cuts the test bridge. Its rules stay inside
 *   puck's namespace; `forwardPolicy()` is asserted before and after it starts.
 * - puck's sshd is started through `ip netns exec`, which remounts /sys, so the cgroup
 *   hierarchies are gone inside puck ("Devices cgroup isn't mounted"). They are mounted
 *   again inside puck's private mount namespace, the same hierarchies as the machine's.
 * - dockerd runs in puck's mount namespace (not just its network namespace) so that the
 *   bind-mount paths of a compose file (/opt/<app>/...) are the ones a script over SSH
 *   wrote, and its socket is puck's /run/docker.sock, the docker CLI's default.
 * - Containers live in their own PID and network namespaces, out of reach of the
 *   teardown's "kill everything in fleet-*": they are found by their cgroup
 *   (`--cgroup-parent /fleet-e2e-docker`) and SIGKILLed, also after a crashed run.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ADDRESSES } from "./layout";
import { runCmd } from "./proc";

/** The registry on puck, as an image reference prefix: `10.231.0.14:5000`. */
export const REGISTRY_PORT = 5000;
export const REGISTRY = `${ADDRESSES.puck}:${REGISTRY_PORT}`;
/** Absolute cgroup parent of every container the fleet's dockerd starts. */
export const DOCKER_CGROUP_PARENT = "fleet-e2e-docker";
/** docker's socket inside puck (the CLI's default, so SSH commands need no DOCKER_HOST). */
export const DOCKER_SOCKET = "/run/docker.sock";

/** The compose plugin scripts/build-compose.sh installs (override: FLEET_COMPOSE_PLUGIN). */
export function composePluginPath(): string {
  const fromEnv = process.env.FLEET_COMPOSE_PLUGIN;
  const path = fromEnv ?? resolve(__dirname, "../../../.engine/docker/cli-plugins/docker-compose");
  if (!existsSync(path)) {
    throw new Error(`the docker compose v2 plugin is missing at ${path}: run scripts/build-compose.sh (or set FLEET_COMPOSE_PLUGIN)`);
  }
  return path;
}

interface CgroupMount {
  readonly type: "tmpfs" | "cgroup" | "cgroup2";
  readonly path: string;
  readonly options: string;
}

/** The machine's cgroup mounts under /sys/fs/cgroup, as this (root-namespace) process sees them. */
export function cgroupMounts(): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const [, path, type, options] = line.split(" ");
    if (!path || !options || !(path === "/sys/fs/cgroup" || path.startsWith("/sys/fs/cgroup/"))) continue;
    if (type === "tmpfs" || type === "cgroup" || type === "cgroup2") out.push({ type, path, options });
  }
  if (!out.some((m) => m.type !== "tmpfs")) throw new Error("no cgroup hierarchy is mounted under /sys/fs/cgroup: dockerd cannot run here");
  return out;
}

/** Shell lines (run in puck's new mount namespace) that mount the same cgroup hierarchies again. */
export function cgroupMountLines(mounts: readonly CgroupMount[]): string[] {
  const lines: string[] = [];
  for (const m of mounts) {
    // Only the options that select a hierarchy (and tmpfs's mode); rw/relatime are defaults.
    const opts = m.options.split(",").filter((o) => !["rw", "relatime", "nosuid", "nodev", "noexec", "seclabel"].includes(o));
    if (!/^[\w=,./-]*$/.test(opts.join(",")) || !/^[\w/.-]+$/.test(m.path)) throw new Error(`unexpected cgroup mount: ${JSON.stringify(m)}`);
    lines.push(`mkdir -p ${m.path}`);
    if (m.type === "tmpfs") lines.push(`mount -t tmpfs -o ${opts.length ? opts.join(",") : "mode=755"} cgroup ${m.path}`);
    else if (m.type === "cgroup2") lines.push(`mount -t cgroup2 cgroup2 ${m.path}`);
    else lines.push(`mount -t cgroup -o ${opts.join(",")} cgroup ${m.path}`);
  }
  return lines;
}

/** dockerd's command line inside puck. Data and exec roots live in the fleet's work dir. */
export function dockerdArgv(dir: string): string[] {
  return [
    "dockerd",
    "--data-root",
    join(dir, "docker", "data"),
    "--exec-root",
    join(dir, "docker", "exec"),
    "-H",
    `unix://${DOCKER_SOCKET}`,
    "--pidfile",
    "/run/docker.pid",
    "--cgroup-parent",
    `/${DOCKER_CGROUP_PARENT}`,
    "--storage-driver",
    "overlay2",
    "--insecure-registry",
    REGISTRY,
    "--ip6tables=false",
    "--log-level",
    "warn",
  ];
}

/** Debian docker-registry (distribution 2.8) on puck's address, plain HTTP, deletes allowed. */
export function registryConfig(storage: string): string {
  return `# pulumi-fleet e2e harness: registry on puck
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: ${REGISTRY}
`;
}

/** The root network namespace's iptables FORWARD policy, e.g. `ACCEPT`. */
export async function forwardPolicy(): Promise<string> {
  const r = await runCmd("iptables", ["-S", "FORWARD"], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`iptables -S FORWARD failed (exit ${r.code}; is scripts/docker-deps.sh installed?): ${r.stderr.trim()}`);
  const m = /^-P FORWARD (\S+)/m.exec(r.stdout);
  if (!m?.[1]) throw new Error(`iptables -S FORWARD printed no policy: ${r.stdout.trim()}`);
  return m[1];
}

/** Throws unless the root namespace still forwards (what the test bridge relies on). */
export async function assertForwardAccept(when: string): Promise<void> {
  const policy = await forwardPolicy();
  if (policy !== "ACCEPT") {
    throw new Error(
      `${when}: the root namespace's iptables FORWARD policy is ${policy}, not ACCEPT; a dockerd started in the root ` +
        "namespace does this and cuts the test bridge (stop it, then `iptables -P FORWARD ACCEPT`)",
    );
  }
}

/** Every cgroup directory `/<hierarchy>/fleet-e2e-docker/...`, deepest first. */
function dockerCgroupDirs(): string[] {
  const dirs: string[] = [];
  const walk = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(dir, e));
    dirs.push(dir);
  };
  let mounts: CgroupMount[];
  try {
    mounts = cgroupMounts();
  } catch {
    return [];
  }
  for (const m of mounts) if (m.type !== "tmpfs") walk(join(m.path, DOCKER_CGROUP_PARENT));
  return dirs;
}

/** Pids of every process in the fleet dockerd's containers (found by cgroup, any run). */
export function containerPids(): number[] {
  const pids = new Set<number>();
  for (const dir of dockerCgroupDirs()) {
    try {
      for (const tok of readFileSync(join(dir, "cgroup.procs"), "utf8").split(/\s+/)) {
        const pid = Number(tok);
        if (Number.isInteger(pid) && pid > 1) pids.add(pid);
      }
    } catch {
      // gone meanwhile
    }
  }
  return [...pids];
}

/** Remove the (now empty) container cgroups; returns the ones that would not go. */
export function removeContainerCgroups(): string[] {
  const left: string[] = [];
  for (const dir of dockerCgroupDirs()) {
    try {
      rmdirSync(dir);
    } catch (e) {
      left.push(`${dir}: ${(e as Error).message}`);
    }
  }
  return left;
}
