/**
 * N apps (issue 15): each an NginxSite on puck and an HAProxyRoute to it on titania behind
 * one HAProxyFrontend, and what the hosts did in each phase of its life (first `up`, no-op
 * `up`, `destroy`): SSH sessions (sshd's log), reloads and whole-config checks (the shims
 * of `installDaemonCounters`). Shared by the engine benchmark (scripts/bench-engine.ts) and
 * the engine suite (test/engine/counts.test.ts), so the figures the benchmark prints are
 * the ones a test pins.
 */
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { HAProxyFrontend, HAProxyRoute } from "../../src/components/haproxy";
import { NginxSite } from "../../src/components/nginx";
import { fleetProgram } from "../../src/remote/command";
import { defineHost } from "../../src/remote/host";
import { ADDRESSES, type Fleet, type HostName } from "../e2e/harness";
import { PID_FILES } from "../e2e/program";
import { COUNTED, type Counted, type DaemonCounters, sessions, type Sessions } from "./audit";
import { engineStack, type EngineStack, type Outcome } from "./engine";
import { type DelayedLinks } from "./latency";

/**
 * N apps: an nginx site on puck and an HAProxy route to it on titania each, one frontend.
 * `only` builds one host's half alone (the routes then do not wait for the sites): what
 * each host costs by itself, for the critical path of the whole. `links` connects to a
 * host somewhere else than its sshd (a delaying relay, ./latency.ts).
 */
export function appsProgram(fleet: Fleet, n: number, only?: "puck" | "titania", links?: DelayedLinks["links"]): PulumiFn {
  return fleetProgram(() => {
    const key = pulumi.secret(fleet.hosts.titania.privateKey);
    const host = (name: HostName) =>
      defineHost(
        name,
        { address: links?.[name]?.address ?? ADDRESSES[name], ...(links?.[name] ? { port: links[name].port } : {}), hostKey: fleet.hosts[name].hostKey, services: "direct", pidFiles: { ...PID_FILES } },
        key,
      );
    const titania = host("titania");
    const puck = host("puck");
    const frontend = only === "puck" ? undefined : new HAProxyFrontend("titania", { host: titania, httpBind: `${ADDRESSES.titania}:80`, nameservers: [{ address: "127.0.0.1", port: 53 }] });
    for (let i = 0; i < n; i++) {
      const app = `app${i}`;
      const port = 18000 + i;
      const site =
        only === "titania" ? undefined : new NginxSite(`${app}-site`, { host: puck, site: app, listen: port, address: ADDRESSES.puck, locations: [{ path: "/", returnStatus: 200, returnBody: `${app} via nginx on puck` }] });
      if (frontend) {
        new HAProxyRoute(app, { host: titania, backend: app, domains: [`${app}.fleet.test`], healthPath: "/", servers: [{ name: "puck", address: "puck.incus", port }] }, { dependsOn: site ? [frontend, site] : [frontend] });
      }
    }
    return Promise.resolve({});
  });
}

export type Phase = "first" | "noop" | "destroy";
export const PHASES: readonly Phase[] = ["first", "noop", "destroy"];

/** What the hosts did in one phase: SSH sessions per host, and per daemon its reloads and checks. */
export interface HostCounts {
  readonly sessions: Sessions;
  readonly reloads: Readonly<Record<Counted, number>>;
  readonly checks: Readonly<Record<Counted, number>>;
}

export interface PhaseRun {
  readonly resources: number;
  /** Wall seconds: first up, no-op up (median of `runs`), destroy. */
  readonly seconds: Readonly<Record<Phase, number>>;
  /** Host-side counts per phase (the no-op's over all its runs). */
  readonly hosts: Readonly<Record<Phase, HostCounts>>;
}

/** `f`'s result and the wall seconds it took. */
export async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const v = await f();
  return [Number(process.hrtime.bigint() - t0) / 1e9, v];
}

/** The middle value (the upper one of an even count); NaN for none. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export function expectNoop(what: string, o: Outcome): void {
  const changed = o.steps.filter((s) => s.op !== "same");
  if (changed.length) throw new Error(`${what} was not a no-op: ${changed.map((s) => `${s.op} ${s.name}`).join(", ")}`);
}

/**
 * A stack's first `up`, `runs` no-op `up`s and `destroy`, timed, with what the hosts did in
 * each phase when `counters` are given. `around` runs just before and after each phase
 * (a trace's start and stop), outside the timed part.
 */
export async function phases(
  fleet: Fleet,
  name: string,
  program: PulumiFn,
  runs: number,
  counters?: DaemonCounters,
  around?: { before(phase: Phase): void; after(phase: Phase): void; afterFirst?(stack: EngineStack): Promise<void> },
): Promise<PhaseRun> {
  const stack = await engineStack(name, program);
  const snaps: { s: Sessions; d: Record<Counted, { reloads: number; checks: number }> }[] = [];
  const snap = async () => {
    if (!counters) return;
    const d = Object.fromEntries(await Promise.all((Object.keys(COUNTED) as Counted[]).map(async (k) => [k, await counters(k)] as const)));
    snaps.push({ s: sessions(fleet), d: d as Record<Counted, { reloads: number; checks: number }> });
  };
  const phase = async <T>(p: Phase, f: () => Promise<T>): Promise<T> => {
    around?.before(p);
    try {
      return await f();
    } finally {
      around?.after(p);
    }
  };
  try {
    await snap();
    const [first, created] = await phase("first", () => timed(() => stack.up(program)));
    await snap();
    await around?.afterFirst?.(stack);
    const ups = await phase("noop", async () => {
      const out: number[] = [];
      for (let i = 0; i < runs; i++) {
        const [t, u] = await timed(() => stack.up(program));
        expectNoop(`${name} up`, u);
        out.push(t);
      }
      return out;
    });
    await snap();
    const [destroy] = await phase("destroy", () => timed(() => stack.destroy(program)));
    await snap();
    const between = (a: number): HostCounts => {
      const [x, y] = [snaps[a]!, snaps[a + 1]!];
      const perHost = Object.fromEntries(fleet.names.flatMap((h) => ((y.s[h] ?? 0) > (x.s[h] ?? 0) ? [[h, (y.s[h] ?? 0) - (x.s[h] ?? 0)]] : [])));
      const per = (k: "reloads" | "checks") => Object.fromEntries((Object.keys(COUNTED) as Counted[]).map((d) => [d, y.d[d][k] - x.d[d][k]])) as Record<Counted, number>;
      return { sessions: perHost, reloads: per("reloads"), checks: per("checks") };
    };
    const empty: HostCounts = { sessions: {}, reloads: { haproxy: 0, nginx: 0 }, checks: { haproxy: 0, nginx: 0 } };
    return {
      resources: created.steps.length,
      seconds: { first, noop: median(ups), destroy },
      hosts: counters ? { first: between(0), noop: between(1), destroy: between(2) } : { first: empty, noop: empty, destroy: empty },
    };
  } finally {
    stack.dispose();
  }
}
