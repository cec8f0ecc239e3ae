/**
 * Tearing the fleet down: kill every process in the fleet's network namespaces (and
 * the ones we track), delete the namespaces, veths and bridge, remove the work dir.
 *
 * Written once as a generator of steps so the same plan runs asynchronously (normal
 * teardown) and synchronously (process "exit" handler, where nothing can be awaited).
 */
import { rmSync } from "node:fs";
import { containerPids, removeContainerCgroups } from "./docker";
import { BRIDGE, NETNS_PREFIX, VETH_PREFIX } from "./layout";
import { type CmdResult, isAlive, runCmd, runCmdSync, signal, sleep, sleepSync } from "./proc";

type Step = { readonly kind: "cmd"; readonly file: string; readonly args: readonly string[] } | { readonly kind: "sleep"; readonly ms: number };
type Plan<R = void> = Generator<Step, R, CmdResult | undefined>;

function* cmd(file: string, ...args: string[]): Plan<CmdResult> {
  const r = yield { kind: "cmd", file, args };
  return r ?? { code: 1, stdout: "", stderr: "no result" };
}

function* pause(ms: number): Plan {
  yield { kind: "sleep", ms };
}

export function driveSync<R>(plan: Plan<R>): R {
  let next = plan.next();
  while (!next.done) {
    const step = next.value;
    if (step.kind === "cmd") {
      next = plan.next(runCmdSync(step.file, step.args));
    } else {
      sleepSync(step.ms);
      next = plan.next(undefined);
    }
  }
  return next.value;
}

export async function driveAsync<R>(plan: Plan<R>): Promise<R> {
  let next = plan.next();
  while (!next.done) {
    const step = next.value;
    if (step.kind === "cmd") {
      let r: CmdResult;
      try {
        r = await runCmd(step.file, step.args, { timeoutMs: 10_000 });
      } catch (e) {
        r = { code: 124, stdout: "", stderr: (e as Error).message };
      }
      next = plan.next(r);
    } else {
      await sleep(step.ms);
      next = plan.next(undefined);
    }
  }
  return next.value;
}

export interface CleanupInput {
  /** Pids we started and that are still our children (sshd); checked for liveness first. */
  readonly pids: () => readonly number[];
  /** Directory to delete at the end, if any. */
  readonly workDir?: string;
  /** Problems are appended here (teardown never throws half-way). */
  readonly problems: string[];
}

function* fleetNamespaces(): Plan<string[]> {
  const r = yield* cmd("ip", "netns", "list");
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

function* fleetLinks(): Plan<string[]> {
  const r = yield* cmd("ip", "-o", "link", "show");
  const names: string[] = [];
  for (const line of r.stdout.split("\n")) {
    // "7: vf-puck@if2: <BROADCAST,...>" or "5: fleetbr0: <...>"
    const m = /^\d+:\s+([^:@\s]+)/.exec(line);
    const name = m?.[1];
    if (name && (name.startsWith(VETH_PREFIX) || name === BRIDGE)) names.push(name);
  }
  // veths first, the bridge last
  return names.sort((a, b) => Number(a === BRIDGE) - Number(b === BRIDGE));
}

function* pidsIn(namespaces: readonly string[], extra: readonly number[]): Plan<number[]> {
  const pids = new Set<number>(extra);
  for (const ns of namespaces) {
    const r = yield* cmd("ip", "netns", "pids", ns);
    for (const tok of r.stdout.split(/\s+/)) {
      const pid = Number(tok);
      if (Number.isInteger(pid) && pid > 1) pids.add(pid);
    }
  }
  pids.delete(process.pid);
  return [...pids].filter(isAlive);
}

/**
 * Containers of puck's dockerd live in their own namespaces (not in fleet-*), found by
 * their cgroup; a container's init ignores SIGTERM, and these are throwaway: SIGKILL.
 */
function* killContainers(problems: string[]): Plan {
  let containers = containerPids();
  for (const pid of containers) signal(pid, "SIGKILL");
  for (let waited = 0; containers.length > 0 && waited < 3_000; waited += 100) {
    yield* pause(100);
    containers = containerPids().filter(isAlive);
  }
  if (containers.length > 0) problems.push(`container processes still alive after SIGKILL: ${containers.join(" ")}`);
}

/**
 * Everything the fleet (or a crashed earlier run) left: containers of puck's dockerd, processes in `fleet-*`
 * namespaces, the namespaces, `vf-*` veths, the bridge and the work dir.
 */
export function* cleanupPlan(input: CleanupInput): Plan {
  yield* killContainers(input.problems);
  const namespaces = yield* fleetNamespaces();
  let pids = yield* pidsIn(namespaces, input.pids());
  for (const pid of pids) signal(pid, "SIGTERM");
  for (let waited = 0; pids.length > 0 && waited < 5_000; waited += 100) {
    yield* pause(100);
    pids = yield* pidsIn(namespaces, input.pids());
  }
  if (pids.length > 0) {
    for (const pid of pids) signal(pid, "SIGKILL");
    for (let waited = 0; pids.length > 0 && waited < 3_000; waited += 100) {
      yield* pause(100);
      pids = yield* pidsIn(namespaces, input.pids());
    }
    if (pids.length > 0) input.problems.push(`processes still alive after SIGKILL: ${pids.join(" ")}`);
  }
  // Again: dockerd may have restarted a container (restart policies) before it died.
  yield* killContainers(input.problems);
  // Empty once their processes are gone (a cgroup can lag a moment behind its last exit).
  let cgroupsLeft = removeContainerCgroups();
  for (let waited = 0; cgroupsLeft.length > 0 && waited < 2_000; waited += 100) {
    yield* pause(100);
    cgroupsLeft = removeContainerCgroups();
  }
  if (cgroupsLeft.length > 0) input.problems.push(`container cgroups left: ${cgroupsLeft.join("; ")}`);
  for (const ns of namespaces) {
    const r = yield* cmd("ip", "netns", "del", ns);
    if (r.code !== 0) input.problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  for (const link of yield* fleetLinks()) {
    const r = yield* cmd("ip", "link", "del", link);
    // a veth disappears on its own once its peer's namespace is gone
    if (r.code !== 0 && !/Cannot find device|No such device/.test(r.stderr)) input.problems.push(`ip link del ${link}: ${r.stderr.trim()}`);
  }
  if (input.workDir) {
    try {
      rmSync(input.workDir, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      input.problems.push(`rm -rf ${input.workDir}: ${(e as Error).message}`);
    }
  }
}
