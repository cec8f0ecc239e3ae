/**
 * What the hosts themselves saw: every SSH session sshd started (its log runs at
 * `LogLevel VERBOSE`, which records "Starting session: command for root from ..." for
 * each command a client runs). This is the proof that a preview or a no-op `up` ran
 * nothing, independent of what Pulumi reports.
 *
 * The tests' own probes enter the hosts with `nsenter` (Fleet.exec), never over SSH, so
 * every session counted here came from the engine's providers.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Fleet, type HostName } from "../e2e/harness";

export type Sessions = Readonly<Partial<Record<HostName, number>>>;

function sshdLog(fleet: Fleet, host: HostName): string[] {
  const log = join(fleet.hosts[host].logDir, "sshd.log");
  if (!existsSync(log)) throw new Error(`no sshd log for ${host} at ${log}`);
  return readFileSync(log, "utf8").split("\n");
}

function count(fleet: Fleet, host: HostName): number {
  return sshdLog(fleet, host).filter((l) => l.includes("Starting session: command for ")).length;
}

/** Connections sshd accepted on `address:port` ("Connection from ... on ADDRESS port PORT"). */
export function connectionsOn(fleet: Fleet, host: HostName, address: string, port: number): number {
  return sshdLog(fleet, host).filter((l) => l.includes("Connection from ") && l.includes(` on ${address} port ${port}`)).length;
}

/** Command sessions per started host so far. */
export function sessions(fleet: Fleet): Sessions {
  return Object.fromEntries(fleet.names.map((h) => [h, count(fleet, h)]));
}

/** Sessions per host since `before` (only hosts with at least one). */
export function since(fleet: Fleet, before: Sessions): Sessions {
  const now = sessions(fleet);
  return Object.fromEntries(fleet.names.flatMap((h) => ((now[h] ?? 0) > (before[h] ?? 0) ? [[h, (now[h] ?? 0) - (before[h] ?? 0)]] : [])));
}

/** Daemons whose reloads the counters see, and the host each runs on in the test fleet. */
export const COUNTED: Readonly<Record<"haproxy" | "nginx", HostName>> = { haproxy: "titania", nginx: "puck" };
export type Counted = keyof typeof COUNTED;

/**
 * Count reloads on the hosts themselves: a shim bind-mounted over the daemon's binary, in
 * the host's own mount namespace only, logs every call and runs the real binary.
 * HAProxy's master re-executes argv[0] on each reload (with -sf and the old workers);
 * nginx here reloads through `nginx -s reload`. Returns the reloads counted so far.
 */
export async function installReloadCounters(fleet: Fleet): Promise<(daemon: Counted) => Promise<number>> {
  const dirs: Partial<Record<Counted, string>> = {};
  for (const [daemon, h] of Object.entries(COUNTED) as [Counted, HostName][]) {
    const dir = `/tmp/fleet-reloads-${h}-${process.pid}`;
    const script = [
      "set -eu",
      `mkdir -p ${dir}`,
      `cp /usr/sbin/${daemon} ${dir}/${daemon}.real`,
      // argv[0] stays /usr/sbin/<daemon>: HAProxy's master re-executes argv[0] on every reload,
      // so each reload passes through the shim again (bash: POSIX sh has no exec -a).
      `printf '#!/bin/bash\\nprintf "%%s\\\\n" "$*" >> ${dir}/calls\\nexec -a /usr/sbin/${daemon} ${dir}/${daemon}.real "$@"\\n' > ${dir}/shim`,
      `chmod 0755 ${dir}/shim`,
      `: > ${dir}/calls`,
      `mount --bind ${dir}/shim /usr/sbin/${daemon}`,
    ].join("\n");
    const r = await fleet.exec(h, ["/bin/sh", "-c", script]);
    if (r.code !== 0) throw new Error(`installing the ${daemon} reload counter on ${h} failed: ${r.stderr}`);
    dirs[daemon] = dir;
  }
  return async (daemon) => {
    const r = await fleet.exec(COUNTED[daemon], ["cat", `${dirs[daemon]!}/calls`]);
    if (r.code !== 0) throw new Error(`reading the ${daemon} reload counter failed: ${r.stderr}`);
    const calls = r.stdout.split("\n");
    return daemon === "haproxy" ? calls.filter((l) => / -sf /.test(` ${l} `)).length : calls.filter((l) => /(^| )-s reload( |$)/.test(l)).length;
  };
}
