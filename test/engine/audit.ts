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

/** What a daemon's binary was asked to do on its host so far. */
export interface DaemonCounts {
  /** Reloads: HAProxy's master re-executing itself with `-sf`, an `nginx -s reload`. */
  readonly reloads: number;
  /** Whole-config checks: `haproxy -c`, `nginx -t`. */
  readonly checks: number;
}

/** Host-side counters: per daemon, its reloads and checks so far. */
export type DaemonCounters = (daemon: Counted) => Promise<DaemonCounts>;

/**
 * One timed event on a host, from the shims (`--trace`): `flock` waits, validator runs,
 * and how long the caller held the lock it took (`held`: from the lock taken to the exit
 * of the process that took it, which releases it).
 */
export interface TraceEvent {
  /** Seconds since the epoch, the host's (= this machine's) clock. */
  readonly start: number;
  readonly end: number;
  readonly what: "flock" | "check" | "held";
  /** The SSH client port of the session that ran it (`SSH_CLIENT`), or 0 outside SSH. */
  readonly port: number;
}

/** A check is the validator's own flag: `haproxy -c …`, `nginx -t …`. */
const CHECK_FLAG: Readonly<Record<Counted, string>> = { haproxy: "-c", nginx: "-t" };

/**
 * Under the host's own root directory (the harness's work dir, removed at teardown), never
 * the machine's /tmp (STYLE 54): each shim dir holds a copy of the daemon's binary.
 */
function shimDir(fleet: Fleet, h: HostName): string {
  return `${fleet.hosts[h].rootDir}/fleet-counters`;
}

/**
 * Count reloads and checks on the hosts themselves: a shim bind-mounted over the daemon's
 * binary, in the host's own mount namespace only, logs every call and runs the real binary.
 * HAProxy's master re-executes argv[0] on each reload (with -sf and the old workers);
 * nginx here reloads through `nginx -s reload`. A check (`haproxy -c`, `nginx -t`) runs the
 * real binary as the shim's child and is logged with its start and end. With `trace`, a
 * shim over `flock` on the same hosts logs how long each caller waited for its lock
 * (the helper's `flock -w T 9`: the child locks the helper's open file, which keeps the
 * lock after the child exits), each with the SSH client port of its session.
 */
export async function installDaemonCounters(fleet: Fleet, opts: { readonly trace?: boolean } = {}): Promise<DaemonCounters & { trace(host: HostName): Promise<TraceEvent[]> }> {
  // bash: POSIX sh has no exec -a, and $EPOCHREALTIME stamps without starting a process.
  const timed = (dir: string, what: TraceEvent["what"], real: string) =>
    [`t0=$EPOCHREALTIME`, `${real} "$@"`, `rc=$?`, `printf '%s %s ${what} %s\\n' "$t0" "$EPOCHREALTIME" "\${SSH_CLIENT:-x 0 0}" >> ${dir}/trace`, `exit $rc`];
  const install = async (h: HostName, what: string, lines: readonly string[]) => {
    const r = await fleet.exec(h, ["/bin/sh", "-c", lines.join("\n")]);
    if (r.code !== 0) throw new Error(`installing the ${what} counter on ${h} failed: ${r.stderr}`);
  };
  // Each shim's text goes on stdin: `cat > FILE` writes it as it is.
  const shim = async (h: HostName, file: string, text: readonly string[]) => {
    const r = await fleet.exec(h, ["/bin/sh", "-c", `cat > ${file} && chmod 0755 ${file}`], { stdin: ["#!/bin/bash", ...text].join("\n") + "\n" });
    if (r.code !== 0) throw new Error(`writing ${file} on ${h} failed: ${r.stderr}`);
  };
  for (const [daemon, h] of Object.entries(COUNTED) as [Counted, HostName][]) {
    const dir = shimDir(fleet, h);
    await install(h, daemon, ["set -eu", `mkdir -p ${dir}`, `cp /usr/sbin/${daemon} ${dir}/${daemon}.real`, `: > ${dir}/calls`, `: > ${dir}/trace`]);
    // argv[0] stays /usr/sbin/<daemon>: HAProxy's master re-executes argv[0] on every reload,
    // so each reload passes through the shim again. A check runs as the shim's child, timed.
    await shim(h, `${dir}/shim`, [
      `printf '%s\\n' "$*" >> ${dir}/calls`,
      `case " $* " in *" ${CHECK_FLAG[daemon]} "*) ;; *) exec -a /usr/sbin/${daemon} ${dir}/${daemon}.real "$@" ;; esac`,
      ...timed(dir, "check", `${dir}/${daemon}.real`),
    ]);
    await install(h, daemon, [`mount --bind ${dir}/shim /usr/sbin/${daemon}`]);
    if (opts.trace) {
      await install(h, "flock", [`cp /usr/bin/flock ${dir}/flock.real`]);
      // After the lock is taken, a watcher stamps the taker's exit (its parent, the helper's
      // shell; `tail --pid` checks every 10 ms without starting a process). It closes fd 9,
      // the lock's, and its stdio, so it holds neither the lock nor the SSH session.
      await shim(h, `${dir}/flock`, [
        ...timed(dir, "flock", `${dir}/flock.real`).slice(0, -1),
        `if [ "$rc" = 0 ]; then t1=$EPOCHREALTIME; taker=$PPID; ( tail --pid="$taker" -s 0.01 -f /dev/null; printf '%s %s held %s\n' "$t1" "$EPOCHREALTIME" "\${SSH_CLIENT:-x 0 0}" >> ${dir}/trace ) 9>&- </dev/null >/dev/null 2>&1 & fi`,
        `exit $rc`,
      ]);
      await install(h, "flock", [`mount --bind ${dir}/flock /usr/bin/flock`]);
    }
  }
  const read = async (h: HostName, file: string) => {
    const r = await fleet.exec(h, ["cat", `${shimDir(fleet, h)}/${file}`]);
    if (r.code !== 0) throw new Error(`reading the ${file} counter on ${h} failed: ${r.stderr}`);
    return r.stdout.split("\n").filter((l) => l !== "");
  };
  const counters = async (daemon: Counted): Promise<DaemonCounts> => {
    const calls = await read(COUNTED[daemon], "calls");
    const has = (l: string, word: string) => ` ${l} `.includes(` ${word} `);
    return {
      reloads: daemon === "haproxy" ? calls.filter((l) => has(l, "-sf")).length : calls.filter((l) => /(^| )-s reload( |$)/.test(l)).length,
      checks: calls.filter((l) => has(l, CHECK_FLAG[daemon])).length,
    };
  };
  const trace = async (h: HostName): Promise<TraceEvent[]> =>
    (await read(h, "trace")).map((l) => {
      const [start, end, what, , port] = l.split(" ");
      return { start: Number(start), end: Number(end), what: what as TraceEvent["what"], port: Number(port) };
    });
  return Object.assign(counters, { trace });
}

/** Reloads only (`installDaemonCounters`). */
export async function installReloadCounters(fleet: Fleet): Promise<(daemon: Counted) => Promise<number>> {
  const counters = await installDaemonCounters(fleet);
  return async (daemon) => (await counters(daemon)).reloads;
}

/** One SSH session as sshd logged it, stamped by `watchSessions`. */
export interface SessionTimes {
  /** The client's port: the key the shims' trace lines carry too. */
  readonly port: number;
  /** sshd accepted the TCP connection. */
  readonly connected?: number;
  /** The command's session started (keys exchanged, authenticated). */
  readonly started?: number;
  /** The client disconnected (the command had ended). */
  readonly ended?: number;
}

/**
 * Stamp sshd's log lines on `host` as they appear (sshd's `-E` log has no times): polled
 * every 20 ms, so each time is at most that late. For a trace of a benchmark run, not for
 * tests. `stop()` ends the polling and returns each session by client port.
 */
export function watchSessions(fleet: Fleet, host: HostName): { stop(): SessionTimes[] } {
  const log = join(fleet.hosts[host].logDir, "sshd.log");
  let seen = existsSync(log) ? readFileSync(log, "utf8").length : 0;
  const byPort = new Map<number, { port: number; connected?: number; started?: number; ended?: number }>();
  const poll = () => {
    const text = readFileSync(log, "utf8");
    const now = Date.now() / 1000;
    const fresh = text.slice(seen, text.lastIndexOf("\n") + 1);
    seen += fresh.length;
    for (const line of fresh.split("\n")) {
      // The end is whichever comes first: OpenSSH's client says goodbye ("Received
      // disconnect"), the command provider's Go client closes ("Connection closed by",
      // "Disconnected from user").
      const m = /^(Connection from|Starting session: command for \S+ from|Received disconnect from|Connection closed by|Disconnected from user \S+) \S+ port (\d+)/.exec(line);
      if (!m) continue;
      const port = Number(m[2]);
      const s = byPort.get(port) ?? { port };
      byPort.set(port, s);
      if (m[1] === "Connection from") s.connected ??= now;
      else if (m[1]!.startsWith("Starting session")) s.started ??= now;
      else s.ended ??= now;
    }
  };
  const timer = setInterval(poll, 20);
  return {
    stop() {
      clearInterval(timer);
      poll();
      return [...byPort.values()];
    },
  };
}
