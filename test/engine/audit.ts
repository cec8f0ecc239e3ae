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
