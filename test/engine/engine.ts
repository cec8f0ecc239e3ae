/**
 * The real Pulumi engine for tests (DESIGN.md, "Testing layers", item 7): the CLI and the
 * provider plugins from `.engine/bin` (scripts/build-engine.sh), driven through the
 * Automation API with an inline program, a `file://` backend in a temp dir and
 * passphrase secrets. Nothing is downloaded (`PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION`).
 *
 * The CLI runs in its own mount namespace whose /etc/hosts adds the test hosts' names
 * (`puck.incus`, ...), so a stack can address a machine by name and later by IP, as an
 * operator does, without touching the machine's own /etc/hosts. Its children (the
 * provider plugins) inherit that view; nothing else changes.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import {
  type EngineEvent,
  LocalWorkspace,
  type OpType,
  type PreviewResult,
  PulumiCommand,
  type PulumiFn,
  type Stack,
  type UpResult,
} from "@pulumi/pulumi/automation";
import { ADDRESSES, DOMAIN, HOST_NAMES } from "../e2e/harness/layout";

const REPO = resolve(__dirname, "../..");
const run = promisify(execFile);

/** Where the engine's binaries are: `.engine/bin` of this checkout, or `pulumi` on PATH (README). */
export function engineBin(): string {
  const own = process.env.PULUMI_ENGINE_DIR ? join(process.env.PULUMI_ENGINE_DIR, "bin") : join(REPO, ".engine", "bin");
  if (existsSync(join(own, "pulumi"))) return own;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "pulumi"))) return dir;
  }
  throw new Error(`no Pulumi engine: run scripts/build-engine.sh (it fills ${own}), or put a pulumi CLI with the plugins on PATH (engine/README.md)`);
}

/** One resource operation the engine reported (from its event stream). */
export interface Step {
  readonly op: OpType;
  /** The logical name (last URN segment). */
  readonly name: string;
  readonly type: string;
  /** Keys the provider said differ (update/replace). */
  readonly diffs: readonly string[];
}

export interface Outcome {
  /** Resource operations, in event order; `same` included. */
  readonly steps: readonly Step[];
  /** Everything the engine printed (stdout and the engine's diagnostics). */
  readonly log: string;
  readonly summary: Readonly<Record<string, number>>;
}

/** Each operation of an outcome → the names of the resources it touched, sorted. */
export function ops(o: Outcome): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of o.steps) (out[s.op] ??= []).push(s.name);
  for (const v of Object.values(out)) v.sort();
  return out;
}

export interface EngineStack {
  readonly stack: Stack;
  /** The backend directory (`file://` URL points here). */
  readonly stateDir: string;
  preview(program: PulumiFn): Promise<Outcome>;
  up(program: PulumiFn): Promise<Outcome>;
  /** `up` that is expected to fail: returns the outcome with the error's text appended to `log`. */
  upFailing(program: PulumiFn): Promise<Outcome & { readonly error: string }>;
  destroy(program: PulumiFn): Promise<Outcome>;
  /** `pulumi stack export` as text. */
  exported(): Promise<string>;
  /** Every file the backend wrote (checkpoints, history, backups), concatenated. */
  onDisk(): string;
  dispose(): void;
}

function lastSegment(urn: string): string {
  return urn.slice(urn.lastIndexOf("::") + 2);
}

/** The /etc/hosts the CLI sees: the machine's own plus the test hosts' names. */
function hostsFile(dir: string): string {
  const file = join(dir, "hosts");
  const own = readFileSync("/etc/hosts", "utf8");
  const fleet = HOST_NAMES.map((h) => `${ADDRESSES[h]}\t${h}.${DOMAIN}`).join("\n");
  writeFileSync(file, `${own.replace(/\n?$/, "\n")}# pulumi-fleet engine tests\n${fleet}\n`, { mode: 0o644 });
  return file;
}

/**
 * A PulumiCommand root whose `bin/pulumi` runs the real CLI in a private mount
 * namespace with `hosts` bound over /etc/hosts.
 */
function wrapperRoot(dir: string, realBin: string, hosts: string): string {
  const root = join(dir, "cli");
  mkdirSync(join(root, "bin"), { recursive: true });
  const script = [
    "#!/bin/sh",
    `exec unshare -m --propagation private /bin/sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh '${hosts}' '${join(realBin, "pulumi")}' "$@"`,
    "",
  ].join("\n");
  writeFileSync(join(root, "bin", "pulumi"), script);
  chmodSync(join(root, "bin", "pulumi"), 0o755);
  return root;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/** A fresh stack `test` of project `projectName` in its own temp backend. */
export async function engineStack(projectName: string, program: PulumiFn): Promise<EngineStack> {
  const bin = engineBin();
  const dir = mkdtempSync(join(tmpdir(), "fleet-engine-"));
  const stateDir = join(dir, "state");
  const workDir = join(dir, "work");
  mkdirSync(stateDir);
  mkdirSync(workDir);
  const cliRoot = wrapperRoot(dir, bin, hostsFile(dir));
  const pulumiCommand = await PulumiCommand.get({ root: cliRoot, skipVersionCheck: true });
  const envVars: Record<string, string> = {
    PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    PULUMI_CONFIG_PASSPHRASE: "fleet-engine-tests",
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_HOME: join(dir, "home"),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
  };
  const stack = await LocalWorkspace.createStack(
    { stackName: "test", projectName, program },
    {
      workDir,
      pulumiCommand,
      envVars,
      projectSettings: { name: projectName, runtime: "nodejs", backend: { url: `file://${stateDir}` } },
    },
  );

  function recorder(): { steps: Step[]; lines: string[]; onEvent: (e: EngineEvent) => void; onOutput: (s: string) => void } {
    const steps: Step[] = [];
    const lines: string[] = [];
    return {
      steps,
      lines,
      onOutput: (s) => lines.push(s),
      onEvent: (e) => {
        // Each step the engine starts (same ones included): what it does to the resource.
        const meta = e.resourcePreEvent?.metadata;
        if (meta) steps.push({ op: meta.op, name: lastSegment(meta.urn), type: meta.type, diffs: meta.diffs ?? [] });
        // What an operator sees: not the engine's debug diagnostics, which only `--debug`
        // prints. (Those carry the SDK's "RegisterResource RPC finished" lines with secret
        // values unwrapped, an upstream behaviour: never keep a debug log or event log.)
        if (e.diagnosticEvent && String(e.diagnosticEvent.severity) !== "debug") lines.push(e.diagnosticEvent.message);
      },
    };
  }

  function summaryOf(r: PreviewResult | UpResult): Record<string, number> {
    const s = "changeSummary" in r ? r.changeSummary : (r.summary.resourceChanges ?? {});
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Number(v)]));
  }

  return {
    stack,
    stateDir,
    async preview(p) {
      const rec = recorder();
      const r = await stack.preview({
        program: p,
        diff: true,
        color: "never",
        onOutput: rec.onOutput,
        onEvent: rec.onEvent,
      });
      return { steps: rec.steps, log: `${rec.lines.join("")}${r.stdout}${r.stderr}`, summary: summaryOf(r) };
    },
    async up(p) {
      const rec = recorder();
      const r = await stack.up({ program: p, diff: true, color: "never", onOutput: rec.onOutput, onEvent: rec.onEvent });
      return { steps: rec.steps, log: `${rec.lines.join("")}${r.stdout}${r.stderr}`, summary: summaryOf(r) };
    },
    async upFailing(p) {
      const rec = recorder();
      try {
        await stack.up({ program: p, diff: true, color: "never", onOutput: rec.onOutput, onEvent: rec.onEvent });
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        return { steps: rec.steps, log: `${rec.lines.join("")}${error}`, summary: {}, error };
      }
      throw new Error("pulumi up succeeded, but it was expected to fail");
    },
    async destroy(p) {
      const rec = recorder();
      stack.workspace.program = p;
      const r = await stack.destroy({ color: "never", onOutput: rec.onOutput, onEvent: rec.onEvent });
      return { steps: rec.steps, log: `${rec.lines.join("")}${r.stdout}${r.stderr}`, summary: Object.fromEntries(Object.entries(r.summary.resourceChanges ?? {}).map(([k, v]) => [k, Number(v)])) };
    },
    async exported() {
      // Not stack.exportStack(): the Automation API exports with --show-secrets.
      const { stdout } = await run(join(cliRoot, "bin", "pulumi"), ["stack", "export", "--stack", "test", "--non-interactive"], {
        cwd: workDir,
        env: { ...process.env, ...envVars },
        maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    },
    onDisk() {
      return listFiles(stateDir)
        .map((f) => readFileSync(f, "latin1"))
        .join("\n");
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
