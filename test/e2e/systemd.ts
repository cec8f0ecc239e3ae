/**
 * A real systemd for tests: `systemd-nspawn --boot` of this machine's own `/usr`
 * (`--volatile=yes`: the root is a fresh tmpfs, `/usr` is the host's, read-only), with
 * a private network (or a harness host's network namespace), this machine's PAM configuration and test directories bound in. Scripts run inside its namespaces
 * through `nsenter` with an empty environment, as an SSH session's `sh -c` would run them,
 * so `systemctl`, `systemd-analyze` and `runuser` talk to this systemd as PID 1.
 *
 * Root only. Needs Debian's `systemd-container` (systemd-nspawn) and util-linux's nsenter.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { runProcess } from "../helpers/spawn";

export interface Bind {
  /** Directory on this machine. */
  readonly source: string;
  /** Where the container sees it. */
  readonly target: string;
  /** Bound read-only. @default false */
  readonly readOnly?: boolean;
}

export interface BootOptions {
  /**
   * The network namespace the container joins (`/run/netns/<name>`: a harness host's, so
   * the engine reaches a daemon in it over SSH). @default a private network of its own
   */
  readonly netns?: string;
  /** Bound on the boot. @default 120_000 */
  readonly bootTimeoutMs?: number;
}

export interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface BootedSystemd {
  /** The container's PID 1 (systemd), as seen from here. */
  readonly pid: number;
  /** Run `sh -c script` inside the container as root with `stdin`, environment as an SSH session gets it. */
  run(script: string, stdin?: string): Promise<ScriptResult>;
  /** Halt the container and wait for nspawn to exit. */
  stop(): Promise<void>;
  /** nspawn's and the container's console output so far (for failure messages). */
  console(): string;
}

/** A program's command as the tests pull it out of a mock run: its create script and stdin. */
export interface ProgramCommand {
  readonly create: string;
  readonly stdin: string;
}

/**
 * Run the program's command `name` inside the container as the engine would: the file
 * helper it calls (a `puck-fleet-*` installer) first, then the command itself. Resolves with
 * the command's result, whatever its exit; an installer that fails throws.
 */
export async function runProgramCommand(systemd: BootedSystemd, cmds: ReadonlyMap<string, ProgramCommand>, name: string): Promise<ScriptResult> {
  const c = cmds.get(name);
  if (!c) throw new Error(`no command ${name}; have ${[...cmds.keys()].join(", ")}`);
  for (const [n, inst] of cmds) {
    if (/^puck-fleet-/.test(n) && c.create.includes(inst.create.match(/\/var\/lib\/fleet\/bin\/fleet-[a-z0-9-]+/)?.[0] ?? "\0")) {
      const r = await systemd.run(inst.create, inst.stdin);
      if (r.code !== 0) throw new Error(`${n}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    }
  }
  return systemd.run(c.create, c.stdin);
}

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** The container's init: the first `systemd` among nspawn's descendants. */
function findInit(root: number): number | undefined {
  const queue = [root];
  while (queue.length) {
    const p = queue.shift()!;
    for (const c of childrenOf(p)) {
      if (comm(c) === "systemd") return c;
      queue.push(c);
    }
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Boot systemd in a container; resolves once `systemctl is-system-running --wait` has returned. */
export async function bootSystemd(name: string, binds: readonly Bind[], opts: BootOptions = {}): Promise<BootedSystemd> {
  const bootTimeoutMs = opts.bootTimeoutMs ?? 120_000;
  const args = [
    "--quiet",
    "--volatile=yes",
    "--directory=/",
    "--register=no",
    "--keep-unit",
    opts.netns !== undefined ? `--network-namespace-path=/run/netns/${opts.netns}` : "--private-network",
    `--machine=${name}`,
    "--console=pipe",
    // The root is empty but for /usr: a host's PAM config (runuser needs it) comes from here.
    "--bind-ro=/etc/pam.d",
    "--bind-ro=/etc/security",
    ...binds.map((b) => `--bind${b.readOnly ? "-ro" : ""}=${b.source}:${b.target}`),
    "--boot",
    // An empty /etc would start the first-boot wizard, which waits for a key.
    "systemd.firstboot=off",
    // Stop at basic.target: the host's own services (its nginx, sshd, the network's
    // wait-online with its 2-minute timeout) have no business here; a test starts its units.
    "systemd.unit=basic.target",
  ];
  const child: ChildProcess = spawn("systemd-nspawn", args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  let exited = false;
  // A spawn that fails (systemd-nspawn not installed: ENOENT) emits `error` and never `exit`.
  child.on("error", (e: Error) => ((output += `${e.message}\n`), (exited = true)));
  const done = new Promise<void>((resolve) => child.on("exit", () => ((exited = true), resolve())));

  const deadline = Date.now() + bootTimeoutMs;
  let pid: number | undefined;
  while (!pid) {
    if (exited) throw new Error(`systemd-nspawn exited before systemd started:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`systemd did not start in the container within ${bootTimeoutMs} ms:\n${output}`);
    }
    pid = findInit(child.pid!);
    if (!pid) await sleep(100);
  }
  const init = pid;

  const run = async (script: string, stdin?: string): Promise<ScriptResult> => {
    const r = await runProcess(
      "nsenter",
      ["--target", String(init), "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--", "env", "-i", `PATH=${PATH}`, "HOME=/root", "/bin/sh", "-c", script],
      { input: stdin ?? "", timeoutMs: 180_000 },
    );
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  };

  // `--wait` returns when the boot has finished (running, or degraded: some unit of the
  // host's presets failed, which is no concern of the tests).
  // The bus socket appears a moment after PID 1 starts: retry until systemctl connects.
  const state = await run(
    'i=0; while :; do s=$(systemctl is-system-running --wait 2>/dev/null); case "$s" in running|degraded) break;; esac; i=$((i+1)); [ "$i" -lt 600 ] || break; sleep 0.2; done; echo "$s"',
  );
  if (!/^(running|degraded)\s*$/.test(state.stdout)) {
    child.kill("SIGKILL");
    await done;
    throw new Error(`systemd in the container is ${state.stdout.trim() || "unreachable"}: ${state.stderr}\n${output}`);
  }

  return {
    pid: init,
    run,
    console: () => output,
    async stop() {
      if (exited) return;
      // nspawn turns SIGTERM into a clean halt of the container's systemd.
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      await done;
      clearTimeout(timer);
    },
  };
}
