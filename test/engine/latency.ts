/**
 * Links with a round-trip time between the engine and the test hosts (issue 15 item 3: a
 * first `up` takes about its critical path where the CPU is not the bound). Each host gets
 * a delaying relay on loopback (./latency-relay.ts, its own process) in front of its sshd;
 * a program that connects through `links[host]` pays `rtt` per round trip, and every
 * connection's time as the client saw it is recorded.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

/**
 * One SSH connection through a relay (epoch ms): the client connected, the last bytes went
 * either way (the command's end as the client saw it: exit status, channel close), the
 * connection closed (the command provider leaves it open, idle, until it exits).
 */
export interface LinkConnection {
  readonly host: string;
  readonly opened: number;
  readonly last: number;
  readonly closed: number;
  /** The client port the host saw (sshd's log, `SSH_CLIENT`): the relay's own, towards it. */
  readonly port: number;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export interface DelayedLinks {
  /** Where to connect to reach each target through its delayed link (127.0.0.1, a port of the relay's). */
  readonly links: Readonly<Partial<Record<string, Endpoint>>>;
  /** The round-trip time each link adds, ms. */
  readonly rtt: number;
  /** Connections that were closed so far, in the order they closed. */
  connections(): readonly LinkConnection[];
  close(): Promise<void>;
}

const RELAY = resolve(__dirname, "latency-relay.ts");
const TSX = resolve(__dirname, "../../node_modules/.bin/tsx");

/**
 * A relay per target (a test host's sshd: `{ titania: { address: ADDRESSES.titania, port: 22 } }`)
 * adding `rtt` ms per round trip. `close()` ends the relay process.
 */
export async function delayedLinks(targets: Readonly<Record<string, Endpoint>>, rtt: number): Promise<DelayedLinks> {
  if (!Number.isFinite(rtt) || rtt <= 0) throw new Error(`delayedLinks: rtt must be a positive number of ms, got ${rtt}`);
  const names = Object.keys(targets);
  const child: ChildProcess = spawn(TSX, [RELAY, String(rtt / 2), ...names.map((h) => `${h}=${targets[h]!.address}:${targets[h]!.port}`)], { stdio: ["pipe", "pipe", "inherit"] });
  const links: Partial<Record<string, Endpoint>> = {};
  const done: LinkConnection[] = [];
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((ok, fail) => {
    child.once("error", fail);
    child.once("exit", (code) => fail(new Error(`latency relay exited (${code}) before it listened`)));
    lines.on("line", (line) => {
      const [what, host, a, b, c, d] = line.split(" ") as [string, string, string, string?, string?, string?];
      if (what === "listen") {
        links[host] = { address: "127.0.0.1", port: Number(a) };
        if (names.every((h) => links[h])) ok();
      } else if (what === "conn") done.push({ host, opened: Number(a), last: Number(b), closed: Number(c), port: Number(d) });
    });
  });
  child.removeAllListeners("exit");
  return {
    links,
    rtt,
    connections: () => [...done],
    close: () =>
      new Promise<void>((ok) => {
        if (child.exitCode !== null) return ok();
        child.once("exit", () => ok());
        child.stdin!.end();
      }),
  };
}

interface StateResource {
  readonly urn: string;
  readonly custom?: boolean;
  readonly type: string;
  readonly parent?: string;
  readonly dependencies?: readonly string[];
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/**
 * The dependency depth of a deployed stack in SSH commands (`pulumi stack export` text):
 * the most remote commands with a `create` that must run one after the other, following
 * each resource's dependencies and its ancestors' (a component named there stands for
 * every command under it). A `remote.Command` without `create` (a daemon's last-reload marker) runs nothing
 * on create and counts 0. Times the per-command time, the critical path of a first `up`.
 */
export function commandDepth(exported: string): number {
  const resources = (JSON.parse(exported) as { deployment: { resources?: StateResource[] } }).deployment.resources ?? [];
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string, string[]>();
  for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r.urn]);
  const weight = (r: StateResource) => (r.type === "command:remote:Command" && typeof r.inputs?.create === "string" && r.inputs.create !== "" ? 1 : 0);
  /** A dependency as the custom resources it stands for. */
  const customs = (urn: string): string[] => {
    const r = byUrn.get(urn);
    if (!r) return [];
    if (r.custom) return [urn];
    return (children.get(urn) ?? []).flatMap(customs);
  };
  /**
   * What a resource waits for: its own dependencies and its ancestors' (the engine
   * registers a component after what its `dependsOn` names, and its children after it).
   */
  const waitsFor = (r: StateResource): string[] => {
    const parent = r.parent ? byUrn.get(r.parent) : undefined;
    return [...(r.dependencies ?? []), ...(parent ? waitsFor(parent) : [])];
  };
  const memo = new Map<string, number>();
  const depth = (urn: string, seen: ReadonlySet<string>): number => {
    const known = memo.get(urn);
    if (known !== undefined) return known;
    if (seen.has(urn)) throw new Error(`commandDepth: a dependency cycle through ${urn}`);
    const r = byUrn.get(urn)!;
    const next = new Set(seen).add(urn);
    const before = waitsFor(r).flatMap(customs).reduce((m, d) => Math.max(m, depth(d, next)), 0);
    const d = before + weight(r);
    memo.set(urn, d);
    return d;
  };
  return resources.filter((r) => r.custom).reduce((m, r) => Math.max(m, depth(r.urn, new Set())), 0);
}
