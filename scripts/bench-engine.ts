/**
 * Benchmark (not a test): the real engine's no-op runs, against its own floor and the
 * Ansible anchor (../shared/anchors/ansible-noop). Root, the engine (scripts/build-engine.sh)
 * and Debian's ansible-core and bc (`apt-get install -y ansible-core bc`) are needed.
 *
 *   npx tsx scripts/bench-engine.ts [--runs N]
 *
 * 1. The engine suite's program (test/engine/program.ts: HAProxy, nginx, Caddy,
 *    Prometheus, tasks, checks, a PostgreSQL database) on the test hosts: first `up`,
 *    then no-op `preview` and `up` (median of N).
 * 2. The engine's floor: the same number of resources that do nothing (local commands
 *    `true`), no-op `preview` and `up`; the program's times as ratios of it.
 * 4. N apps (`--apps 1,10,30,60`; issue 15): each an NginxSite on puck and an HAProxyRoute
 *    on titania behind one HAProxyFrontend. First `up`, no-op `up` (median of N runs) and
 *    `destroy`, each against the floor (the same number of resources as local do-nothing
 *    commands), with what the hosts saw: SSH sessions (sshd's log) and daemon reloads
 *    (counted by a shim in front of /usr/sbin/haproxy and /usr/sbin/nginx in each host's
 *    mount namespace: a master re-exec with -sf, an `nginx -s reload`). Each host's half
 *    alone (the N sites on puck; the frontend and N routes on titania, not waiting for the
 *    sites): first `up` and `destroy` of the whole against the slower half (about 1x when
 *    the hosts work in parallel) and against their sum (what one-after-the-other costs).
 *    `--only apps` runs this section alone and prints the raw JSON after the ratios;
 *    `--parallel N` sets the engine's operations at once (PULUMI_PARALLEL) for every stack.
 *    Per phase it prints, counted on the hosts, SSH sessions, reloads and whole-config
 *    checks (`haproxy -c`, `nginx -t`): figures load cannot blur (test/engine/counts.test.ts
 *    pins them for 3 apps), and the CPU seconds of the engine side (this process and the CLI,
 *    program and plugins it waited for) in the first up and the
 *    floor's. `--trace` adds titania's lock chain in the first up: per helper call the SSH
 *    handshake, the helper's shell before the lock, the wait, the time held and the
 *    `haproxy -c` in it (sshd's log stamped as it appears, shims over flock and haproxy).
 *    `--rtt MS` puts a delaying relay (test/engine/latency.ts; the kernel here has no
 *    netem) between the engine and titania's and puck's sshd, so each round trip costs MS
 *    and the CPU is no longer the only bound: it prints the first up against the sum of
 *    its commands' own times (each SSH connection's, less its wait for a host's lock) and
 *    against the critical path (the stack's dependency depth in commands, from its state,
 *    times the median command) and against the floor's first up plus that path (the engine's
 *    own cost, then the longest chain of remote work), with each host's lock chain (issue 15
 *    item 3).
 *    `--processes` splits the first up's CPU by program (the CLI, the command provider,
 *    this process with the inline program, the rest), polled from /proc.
 * 3. The Ansible anchor's job as a Pulumi program of this project's components: one
 *    HAProxyFrontend and six HAProxyRoutes (each validated with haproxy -c), six
 *    PrometheusScrapes with alert rules (promtool), six 0600 env files, a health probe;
 *    first and no-op `up`, beside the anchor's own run.sh (Ansible, the same job over
 *    real SSH), in the same run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, resolve } from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { HealthCheck } from "../src/components/health";
import { HAProxyFrontend, HAProxyRoute } from "../src/components/haproxy";
import { PrometheusScrape, PrometheusServer } from "../src/components/prometheus";
import { fleetProgram, remoteFile } from "../src/remote/command";
import { defineHost } from "../src/remote/host";
import { startDns } from "../test/e2e/dns";
import { ADDRESSES, type Fleet, type HostName, startHosts } from "../test/e2e/harness";
import { PID_FILES } from "../test/e2e/program";
import { appsProgram, expectNoop, median, type Phase, PHASES, phases, timed } from "../test/engine/apps";
import { installDaemonCounters, type SessionTimes, type Sessions, type TraceEvent, watchSessions } from "../test/engine/audit";
import { engineStack, type EngineStack } from "../test/engine/engine";
import { commandDepth, type DelayedLinks, delayedLinks } from "../test/engine/latency";
import { engineProgram, INITIAL, installCertificate } from "../test/engine/program";

const ANCHOR = resolve(__dirname, "../../shared/anchors/ansible-noop");
const APPS = ["daedalus", "mnemosyne", "peregrine", "falcon", "city", "agents"];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

interface NoopTimes {
  readonly resources: number;
  readonly first: number;
  readonly preview: number;
  readonly up: number;
}

async function measure(name: string, program: PulumiFn, runs: number): Promise<NoopTimes> {
  const stack: EngineStack = await engineStack(name, program);
  try {
    const [first, created] = await timed(() => stack.up(program));
    const previews: number[] = [];
    const ups: number[] = [];
    for (let i = 0; i < runs; i++) {
      const [tp, p] = await timed(() => stack.preview(program));
      expectNoop(`${name} preview`, p);
      previews.push(tp);
      const [tu, u] = await timed(() => stack.up(program));
      expectNoop(`${name} up`, u);
      ups.push(tu);
    }
    await stack.destroy(program);
    return { resources: created.steps.length, first, preview: median(previews), up: median(ups) };
  } finally {
    stack.dispose();
  }
}

/**
 * `count` resources in all that do nothing, as the floor of the engine: the stack, the
 * command provider, one component and local commands `true`.
 */
function floorProgram(count: number): PulumiFn {
  return () => {
    const parent = new pulumi.ComponentResource("bench:floor:Group", "floor");
    for (let i = 3; i < count; i++) new command.local.Command(`noop-${i}`, { create: "true" }, { parent });
    return Promise.resolve({});
  };
}

/** The anchor's job (play.yml) with this project's components. */
function anchorJob(fleet: Fleet): PulumiFn {
  return fleetProgram(() => {
    const key = pulumi.secret(fleet.hosts.titania.privateKey);
    const host = (name: HostName) =>
      defineHost(name, { address: ADDRESSES[name], hostKey: fleet.hosts[name].hostKey, services: "direct", pidFiles: { ...PID_FILES } }, key);
    const titania = host("titania");
    const prospero = host("prospero");
    const puck = host("puck");
    const frontend = new HAProxyFrontend("titania", { host: titania, httpBind: `${ADDRESSES.titania}:80`, nameservers: [{ address: "127.0.0.1", port: 53 }] });
    const server = new PrometheusServer("prospero", { host: prospero, alertmanagers: ["prospero.incus:9093"] });
    const routes = APPS.map(
      (app, i) =>
        new HAProxyRoute(app, { host: titania, backend: app, domains: [`${app}.fleet.test`], healthPath: "/health", servers: [{ name: "puck", address: "puck.incus", port: 8080 + i }] }, { dependsOn: [frontend] }),
    );
    for (const app of APPS) {
      new PrometheusScrape(
        `${app}-metrics`,
        { host: prospero, jobName: app, targets: [`puck.incus:9100`], alerts: [{ name: `${app[0]!.toUpperCase()}${app.slice(1)}Down`, expr: `up{job="${app}"} == 0`, for: "1m", severity: "critical", summary: `${app} is down` }] },
        { dependsOn: [server] },
      );
      remoteFile(
        `${app}-env`,
        { host: puck, target: { path: `/srv/bench/env/${app}.env`, owner: "root", group: "root", mode: "0600" }, daemon: { lock: "bench-env" }, content: pulumi.secret(`SECRET_KEY=abc${app}\n`), secret: true },
        {},
      );
    }
    new HealthCheck("probe", { host: titania, url: "http://puck.incus:8080/health", attempts: 3 }, { dependsOn: routes });
    return Promise.resolve({});
  });
}

interface AppsRun {
  readonly apps: number;
  readonly resources: number;
  readonly first: number;
  readonly noop: number;
  readonly destroy: number;
  readonly floor: { readonly first: number; readonly noop: number; readonly destroy: number };
  /** SSH sessions on all hosts per phase (sshd's log), and per host. */
  readonly sessions: { readonly first: number; readonly noop: number; readonly destroy: number };
  readonly sessionsByHost: Readonly<Record<Phase, Sessions>>;
  /** Daemon reloads per phase, counted on the hosts (a shim in front of each binary). */
  readonly reloads: Readonly<Record<Phase, Readonly<Record<string, number>>>>;
  /** Whole-config checks per phase (`haproxy -c`, `nginx -t`), counted on the hosts. */
  readonly checks: Readonly<Record<Phase, Readonly<Record<string, number>>>>;
  /** First up and destroy of each host's half alone (parallel across hosts: the whole takes about the slower one). */
  readonly alone: { readonly puck: { readonly first: number; readonly destroy: number }; readonly titania: { readonly first: number; readonly destroy: number } };
  /** The machine's 1-minute load average before and after this N's runs (the cores are shared). */
  readonly load: { readonly before: number; readonly after: number };
  /** CPU seconds of the engine's side (this process, the CLI, its plugins and the program; `cpuSeconds`) in the whole stack's first up and in the floor's. */
  readonly cpu: { readonly first: number; readonly floorFirst: number };
  /** `--trace`: titania's lock chain in the first up (see `lockProfile`). */
  readonly trace?: LockProfile;
  /** `--processes`: the first up's and the floor's CPU seconds by program. */
  readonly processes?: { readonly first: ProcessSplit; readonly floorFirst: ProcessSplit };
  /** `--rtt`: the first up over links with that round-trip time, against its commands' sum and its critical path. */
  readonly latency?: LatencyRun;
}

/**
 * The first up over delayed links (`--rtt`): every SSH connection's time as the client saw
 * it (the relay's accept to its close), their sum (what one after the other would take),
 * and the critical path: the stack's dependency depth in commands (`commandDepth`, from the
 * state) times the median command's time.
 */
interface LatencyRun {
  readonly rtt: number;
  readonly connections: number;
  /** Every connection's time summed, as the client saw it (waits for a host's lock included). */
  readonly sumWithWaits: number;
  /** Every command's own time summed: its connection's time less its wait for the host's lock (the flock shim). */
  readonly sum: number;
  /** The median command's own time. */
  readonly median: number;
  readonly depth: number;
  readonly criticalPath: number;
  /** Per host, the time its daemon's lock was held in all (the serial part on that host). */
  readonly lockHeld: Readonly<Partial<Record<HostName, number>>>;
}

/**
 * CPU seconds of this process and of the children it has waited for: the engine's CLI after
 * each run, with the language host, the program and the provider plugins it waited for
 * (/proc/self/stat: utime, stime, cutime, cstime). Not the hosts' side (sshd is reaped at
 * teardown): that is what `--trace` shows. Other engineers' jobs are not in it.
 */
function cpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // After "pid (comm) ", proc(5)'s field 3 (state) is index 0: fields 14-17 are 11-14.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields.slice(11, 15).map(Number).reduce((a, b) => a + b, 0) / 100;
}

/** CPU seconds by program: the CLI, the command provider, this process (the inline program and the Automation API), the rest. */
type ProcessSplit = Readonly<Record<"cli" | "provider" | "self" | "other", number>>;

/**
 * `--processes`: where the engine side's CPU goes, by process. Every 100 ms, each descendant
 * of this process is read from /proc (utime + stime at its last sighting; one that lives
 * less than 100 ms can be missed), by program. The polling's own CPU is in `self`: use it to
 * see the split, not for the ratio runs.
 */
function watchProcesses(): { stop(): ProcessSplit } {
  const hz = 100;
  const self0 = selfSeconds();
  const seen = new Map<number, { kind: "cli" | "provider" | "other"; cpu: number }>();
  const stat = (pid: string) => {
    try {
      const text = readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return { comm, ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / hz };
    } catch {
      return undefined;
    }
  };
  const poll = () => {
    const all = new Map<number, { comm: string; ppid: number; cpu: number }>();
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const st = stat(pid);
      if (st) all.set(Number(pid), st);
    }
    const mine = new Set([process.pid]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, st] of all) {
        if (!mine.has(pid) && mine.has(st.ppid)) {
          mine.add(pid);
          grew = true;
        }
      }
    }
    mine.delete(process.pid);
    for (const pid of mine) {
      const st = all.get(pid)!;
      const kind = st.comm === "pulumi" ? "cli" : st.comm.startsWith("pulumi-resource") ? "provider" : "other";
      const prev = seen.get(pid);
      if (!prev || st.cpu > prev.cpu) seen.set(pid, { kind, cpu: st.cpu });
    }
  };
  const timer = setInterval(poll, 100);
  return {
    stop() {
      clearInterval(timer);
      poll();
      const by = { cli: 0, provider: 0, self: selfSeconds() - self0, other: 0 };
      for (const { kind, cpu } of seen.values()) by[kind] += cpu;
      return by;
    },
  };
}

/** This process's own CPU seconds (not its children's). */
function selfSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Titania's helper calls in a first up, from the host's side: per SSH session that took a
 * lock (sshd's log stamped as it appears; the flock and validator shims' own stamps), the
 * handshake (TCP accept → session start), the time before `flock` (the helper's shell),
 * the wait for the lock, the time it was held (lock taken → client gone) and the checks
 * run while holding it (`held`: lock taken → the helper's exit, stamped on the host), and
 * from that exit to sshd seeing the client go. Sums are seconds of the phase; `held`
 * summed is the serial chain.
 */
interface LockProfile {
  readonly calls: number;
  readonly wall: number;
  readonly sum: Readonly<Record<"handshake" | "beforeLock" | "wait" | "held" | "check" | "afterRelease", number>>;
  readonly mean: Readonly<Record<"handshake" | "beforeLock" | "wait" | "held" | "check" | "afterRelease", number>>;
  /** Sessions on titania without a lock (installers) and their mean length. */
  readonly other: { readonly sessions: number; readonly mean: number };
}

function lockProfile(wall: number, times: readonly SessionTimes[], events: readonly TraceEvent[]): LockProfile {
  const sum = { handshake: 0, beforeLock: 0, wait: 0, held: 0, check: 0, afterRelease: 0 };
  let calls = 0;
  let others = 0;
  let otherTime = 0;
  for (const s of times) {
    const { started, ended } = s;
    if (started === undefined || ended === undefined) continue;
    const own = events.filter((e) => e.port === s.port && e.start >= started - 0.05 && e.start <= ended + 0.05);
    const lock = own.find((e) => e.what === "flock");
    if (!lock) {
      others++;
      otherTime += ended - started;
      continue;
    }
    calls++;
    sum.handshake += s.connected === undefined ? 0 : started - s.connected;
    sum.beforeLock += Math.max(0, lock.start - started);
    sum.wait += lock.end - lock.start;
    const held = own.find((e) => e.what === "held");
    sum.held += held ? held.end - held.start : Math.max(0, ended - lock.end);
    sum.afterRelease += held ? Math.max(0, ended - held.end) : 0;
    sum.check += own.filter((e) => e.what === "check").reduce((a, e) => a + e.end - e.start, 0);
  }
  const per = (x: number) => (calls ? x / calls : 0);
  return {
    calls,
    wall,
    sum,
    mean: { handshake: per(sum.handshake), beforeLock: per(sum.beforeLock), wait: per(sum.wait), held: per(sum.held), check: per(sum.check), afterRelease: per(sum.afterRelease) },
    other: { sessions: others, mean: others ? otherTime / others : 0 },
  };
}

async function appsSection(fleet: Fleet, scale: readonly number[], runs: number, trace: boolean, delayed?: DelayedLinks, processes = false): Promise<AppsRun[]> {
  // Over delayed links the flock shim tells each command's own time from its wait for a lock.
  const counters = await installDaemonCounters(fleet, { trace: trace || delayed !== undefined });
  const out: AppsRun[] = [];
  const links = delayed?.links;
  for (const n of scale) {
    const loadBefore = loadavg()[0]!;
    let watch: { stop(): SessionTimes[] } | undefined;
    let traced: { wall: number; times: SessionTimes[]; from: number } | undefined;
    let cpu0 = 0;
    let cpuFirst = 0;
    let t0 = 0;
    let t1 = 0;
    let depth = 0;
    let procWatch: { stop(): ProcessSplit } | undefined;
    let procFirst: ProcessSplit | undefined;
    let procFloor: ProcessSplit | undefined;
    const real = await phases(fleet, `bench-apps-${n}`, appsProgram(fleet, n, undefined, links), runs, counters, {
      before: (p) => {
        if (p !== "first") return;
        cpu0 = cpuSeconds();
        t0 = Date.now() / 1000;
        if (processes) procWatch = watchProcesses();
        if (trace) watch = watchSessions(fleet, "titania");
      },
      after: (p) => {
        if (p !== "first") return;
        cpuFirst = cpuSeconds() - cpu0;
        t1 = Date.now() / 1000;
        procFirst = procWatch?.stop();
        if (watch) traced = { wall: t1 - t0, times: watch.stop(), from: t0 };
      },
      afterFirst: async (stack) => {
        if (delayed) depth = commandDepth(await stack.exported());
      },
    });
    let latency: LatencyRun | undefined;
    if (delayed) {
      const hosts: HostName[] = ["titania", "puck"];
      const events = Object.fromEntries(
        await Promise.all(hosts.map(async (h) => [h, (await counters.trace(h)).filter((e) => e.start >= t0 && e.end <= t1 + 1)] as const)),
      ) as Record<HostName, TraceEvent[]>;
      const conns = delayed.connections().filter((c) => c.opened >= t0 * 1000 && c.opened <= t1 * 1000);
      const wait = (c: { host: string; port: number }) => events[c.host as HostName].filter((e) => e.what === "flock" && e.port === c.port).reduce((a, e) => a + e.end - e.start, 0);
      const own = conns.map((c) => (c.last - c.opened) / 1000 - wait(c));
      const mid = median(own);
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      latency = {
        rtt: delayed.rtt,
        connections: conns.length,
        sumWithWaits: sum(conns.map((c) => (c.last - c.opened) / 1000)),
        sum: sum(own),
        median: mid,
        depth,
        criticalPath: depth * mid,
        lockHeld: Object.fromEntries(hosts.map((h) => [h, sum(events[h].filter((e) => e.what === "held").map((e) => e.end - e.start))])),
      };
    }
    let cpuFloor = 0;
    const floor = await phases(fleet, `bench-apps-floor-${n}`, floorProgram(real.resources), runs, undefined, {
      before: (p) => {
        if (p !== "first") return;
        cpu0 = cpuSeconds();
        if (processes) procWatch = watchProcesses();
      },
      after: (p) => {
        if (p !== "first") return;
        cpuFloor = cpuSeconds() - cpu0;
        procFloor = procWatch?.stop();
      },
    });
    const puckAlone = await phases(fleet, `bench-apps-puck-${n}`, appsProgram(fleet, n, "puck", links), 0);
    const titaniaAlone = await phases(fleet, `bench-apps-titania-${n}`, appsProgram(fleet, n, "titania", links), 0);
    const total = (s: Sessions) => Object.values(s).reduce((a, b) => a + (b ?? 0), 0);
    const per = (k: "reloads" | "checks"): Record<Phase, Record<string, number>> => ({ first: real.hosts.first[k], noop: real.hosts.noop[k], destroy: real.hosts.destroy[k] });
    const run: AppsRun = {
      apps: n,
      resources: real.resources,
      ...real.seconds,
      floor: floor.seconds,
      sessions: { first: total(real.hosts.first.sessions), noop: total(real.hosts.noop.sessions), destroy: total(real.hosts.destroy.sessions) },
      sessionsByHost: { first: real.hosts.first.sessions, noop: real.hosts.noop.sessions, destroy: real.hosts.destroy.sessions },
      reloads: per("reloads"),
      checks: per("checks"),
      alone: { puck: { first: puckAlone.seconds.first, destroy: puckAlone.seconds.destroy }, titania: { first: titaniaAlone.seconds.first, destroy: titaniaAlone.seconds.destroy } },
      load: { before: loadBefore, after: loadavg()[0]! },
      cpu: { first: cpuFirst, floorFirst: cpuFloor },
      ...(latency ? { latency } : {}),
      ...(procFirst && procFloor ? { processes: { first: procFirst, floorFirst: procFloor } } : {}),
      ...(traced ? { trace: lockProfile(traced.wall, traced.times, (await counters.trace("titania")).filter((e) => e.start >= traced!.from)) } : {}),
    };
    const slower = (k: "first" | "destroy") => Math.max(run.alone.puck[k], run.alone.titania[k]);
    const sum = (k: "first" | "destroy") => run.alone.puck[k] + run.alone.titania[k];
    const f = (x: number) => `${x.toFixed(2)} s`;
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    const counts = (p: Phase) =>
      `${p} ${run.sessions[p]} ssh, haproxy ${run.checks[p].haproxy} -c/${run.reloads[p].haproxy} reload, nginx ${run.checks[p].nginx} -t/${run.reloads[p].nginx} reload`;
    const lines = [
      `apps ${String(n).padStart(2)} (${run.resources} resources): first up ${f(run.first)} (${ratio(run.first, floor.seconds.first)} floor ${f(floor.seconds.first)}; CPU ${f(run.cpu.first)} vs floor ${f(run.cpu.floorFirst)}), ` +
        `no-op up ${f(run.noop)} (${ratio(run.noop, floor.seconds.noop)} floor ${f(floor.seconds.noop)}), destroy ${f(run.destroy)} (${ratio(run.destroy, floor.seconds.destroy)} floor ${f(floor.seconds.destroy)}); load ${run.load.before.toFixed(1)} → ${run.load.after.toFixed(1)}`,
      `  on the hosts: ${PHASES.map(counts).join("; ")}`,
      `  hosts alone (puck/titania) first up ${f(run.alone.puck.first)}/${f(run.alone.titania.first)}: whole ${ratio(run.first, slower("first"))} the slower, ${ratio(run.first, sum("first"))} the sum; ` +
        `destroy ${f(run.alone.puck.destroy)}/${f(run.alone.titania.destroy)}: whole ${ratio(run.destroy, slower("destroy"))} the slower, ${ratio(run.destroy, sum("destroy"))} the sum`,
    ];
    if (run.processes) {
      const split = (x: ProcessSplit) => `CLI ${f(x.cli)}, command provider ${f(x.provider)}, this process (inline program, Automation API) ${f(x.self)}, other ${f(x.other)}`;
      lines.push(`  CPU by process, first up: ${split(run.processes.first)}; the floor's: ${split(run.processes.floorFirst)}`);
    }
    if (run.latency) {
      const l = run.latency;
      lines.push(
        `  over links with ${l.rtt} ms round trips: ${l.connections} SSH connections in the first up; commands' own times (less their lock waits) summed ${f(l.sum)} ` +
          `(with the waits ${f(l.sumWithWaits)}; median command ${(l.median * 1000).toFixed(0)} ms); dependency depth ${l.depth} commands, critical path ${l.depth} x ${(l.median * 1000).toFixed(0)} ms = ${f(l.criticalPath)}; ` +
          `locks held (serial per host) titania ${f(l.lockHeld.titania ?? 0)}, puck ${f(l.lockHeld.puck ?? 0)}; first up ${f(run.first)} = ${ratio(run.first, l.sum)} the sum, ${ratio(run.first, l.criticalPath)} the critical path, ` +
          // What the engine costs by itself (the floor: as many do-nothing resources) and then the
          // remote work's longest chain: the first up's time if only the chain were serial.
          `${ratio(run.first, floor.seconds.first + l.criticalPath)} the floor's first up plus the critical path (${f(floor.seconds.first + l.criticalPath)})`,
      );
    }
    if (run.trace) {
      const t = run.trace;
      const ms = (x: number) => `${(x * 1000).toFixed(0)} ms`;
      lines.push(
        `  titania's lock chain in the first up (${t.calls} helper calls in ${f(t.wall)}): held ${f(t.sum.held)} in all (mean ${ms(t.mean.held)}, of it haproxy -c ${ms(t.mean.check)}), ` +
          `waited ${f(t.sum.wait)} (mean ${ms(t.mean.wait)}); per call before the lock: ssh handshake ${ms(t.mean.handshake)}, helper's shell ${ms(t.mean.beforeLock)}; ` +
            `after the helper's exit until sshd saw the client go ${ms(t.mean.afterRelease)}; ${t.other.sessions} other sessions (mean ${ms(t.other.mean)})`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    out.push(run);
  }
  return out;
}

function ansibleAnchor(): string {
  if (!existsSync(join(ANCHOR, "run.sh"))) return `anchor not found at ${ANCHOR}`;
  for (const tool of ["ansible-playbook", "bc"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} missing: apt-get install -y ansible-core bc`;
  }
  const r = spawnSync("bash", [join(ANCHOR, "run.sh")], { encoding: "utf8", timeout: 600_000 });
  return r.status === 0 ? r.stdout.trim() : `run.sh failed (exit ${r.status}): ${(r.stdout + r.stderr).slice(-2000)}`;
}

async function main(): Promise<void> {
  const runs = arg("--runs", 3);
  const i = process.argv.indexOf("--apps");
  const scale = (i >= 0 ? (process.argv[i + 1] ?? "") : "1,10,30,60").split(",").map(Number);
  if (scale.some((n) => !Number.isInteger(n) || n < 1)) throw new Error("--apps takes a list of positive whole numbers, e.g. 1,10,30,60");
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
  // The engine's resource operations at once (the CLI's --parallel; default 4 per core).
  // The Automation API passes no --parallel, so the CLI reads PULUMI_PARALLEL.
  const parallel = arg("--parallel", 0);
  if (!Number.isInteger(parallel) || parallel < 0) throw new Error("--parallel takes a whole number of operations, e.g. 32");
  if (parallel > 0) process.env.PULUMI_PARALLEL = String(parallel);
  const trace = process.argv.includes("--trace");
  // Round-trip time (ms) between the engine and the hosts, through delaying relays
  // (test/engine/latency.ts): the N-apps section only.
  const rtt = arg("--rtt", 0);
  if (!Number.isFinite(rtt) || rtt < 0) throw new Error("--rtt takes a round-trip time in ms, e.g. 40");
  const fleet = await startHosts({ names: ["titania", "portia", "prospero", "puck"] });
  const lines: string[] = [];
  let delayed: DelayedLinks | undefined;
  try {
    await startDns(fleet, "titania");
    if (rtt > 0) delayed = await delayedLinks({ titania: { address: ADDRESSES.titania, port: 22 }, puck: { address: ADDRESSES.puck, port: 22 } }, rtt);
    if (only === "apps") {
      const apps = await appsSection(fleet, scale, runs, trace, delayed, process.argv.includes("--processes"));
      process.stdout.write(`${JSON.stringify({ loadavg: loadavg(), runs, parallel: process.env.PULUMI_PARALLEL ?? "default (4 per core)", rtt: rtt || undefined, apps })}\n`);
      return;
    }
    await installCertificate(fleet);

    const program = await measure("bench-engine", engineProgram(fleet, INITIAL), runs);
    const floor = await measure("bench-floor", floorProgram(program.resources), runs);
    const job = await measure("bench-anchor-job", anchorJob(fleet), runs);
    await appsSection(fleet, scale, runs, trace, delayed);
    const f = (x: number) => `${x.toFixed(2)} s`;
    lines.push(
      `engine program (${program.resources} resources): first up ${f(program.first)}, no-op preview ${f(program.preview)}, no-op up ${f(program.up)} (median of ${runs})`,
      `engine floor   (${floor.resources} do-nothing resources): no-op preview ${f(floor.preview)}, no-op up ${f(floor.up)}`,
      `ratio to floor: preview ${(program.preview / floor.preview).toFixed(2)}x, up ${(program.up / floor.up).toFixed(2)}x`,
      `anchor job as components (${job.resources} resources): first up ${f(job.first)}, no-op up ${f(job.up)}, no-op preview ${f(job.preview)}`,
    );
  } finally {
    await delayed?.close();
    await fleet.teardown();
  }
  // After teardown: run.sh builds its own namespace and sshd (10.201.0.0/24).
  lines.push(`ansible anchor (run.sh, same run): ${ansibleAnchor().replace(/\n/g, "; ")}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench-engine: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
