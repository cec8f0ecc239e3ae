/**
 * Programs for the end-to-end suite: build a Pulumi program from the real components
 * under mocks (`runProgram`), pick out every `command:remote:Command` with the inputs
 * exactly as the command provider would receive them (`create`, `delete`, `stdin`,
 * `connection`), and run those scripts over real SSH against the test hosts.
 *
 * Nothing here writes a script: the text that runs on a host is always the component's
 * own, taken from the resolved inputs of the program built under mocks.
 */
import * as pulumi from "@pulumi/pulumi";
import { defineHost, type Host } from "../../src/remote/host";
import { type MockRun, runProgram, type RunOptions, unwrap } from "../../src/testing/mocks";
import { bundlePart } from "../../src/remote/helper";
import { bundleParts } from "../helpers/inputs";
import { ADDRESSES, type Fleet, HOST_NAMES, type HostName, type RunResult } from "./harness";

const COMMAND = "command:remote:Command";

/** The pid files the harness's daemons write (src/config/hosts.ts `pidFiles`). */
export const PID_FILES = {
  haproxy: "/run/haproxy.pid",
  prometheus: "/run/prometheus.pid",
  alertmanager: "/run/alertmanager.pid",
} as const;

/** One remote command as the provider would get it. */
export interface RemoteCommand {
  /** Pulumi logical name, e.g. `app-backend`. */
  readonly name: string;
  /** Parent component's logical name. */
  readonly parent: string | undefined;
  /** The test host its `connection.host` points at. */
  readonly host: HostName;
  readonly create: string;
  readonly update: string | undefined;
  readonly delete: string | undefined;
  readonly stdin: string | undefined;
  /** The raw resolved inputs, for assertions on anything else. */
  readonly inputs: Readonly<Record<string, unknown>>;
  /**
   * The commands it depends on that install its file helper (src/remote/command.ts): the
   * engine runs those first, and so does `create` here.
   */
  readonly installers: readonly RemoteCommand[];
  /** This command installs a file helper (`<host>-fleet-<service>-<hash>`). */
  readonly installer: boolean;
}

export interface Built<T> {
  readonly run: MockRun;
  /** What the program function returned (the components). */
  readonly value: T;
  /** Every remote command, in registration order. */
  readonly commands: readonly RemoteCommand[];
  /** The command with this logical name; throws listing the names otherwise. */
  command(name: string): RemoteCommand;
}

/** A `Host` per started test host, exactly as a stack would define it from config. */
export function fleetHosts(fleet: Fleet): Readonly<Partial<Record<HostName, Host>>> {
  const hosts: Partial<Record<HostName, Host>> = {};
  for (const name of fleet.names) {
    const h = fleet.hosts[name];
    hosts[name] = defineHost(
      name,
      { address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, services: "direct", pidFiles: { ...PID_FILES } },
      h.privateKey,
    );
  }
  return hosts;
}

/** The `Host` for `name`; throws when that host was not started. */
export function hostOf(hosts: Readonly<Partial<Record<HostName, Host>>>, name: HostName): Host {
  const h = hosts[name];
  if (!h) throw new Error(`host ${name} was not started`);
  return h;
}

function hostByAddress(address: unknown): HostName {
  const found = HOST_NAMES.find((n) => ADDRESSES[n] === address);
  if (!found) throw new Error(`connection.host ${JSON.stringify(address)} is not a test host (${HOST_NAMES.map((n) => ADDRESSES[n]).join(", ")})`);
  return found;
}

/**
 * Inputs as the provider gets them: the mock monitor passes secret inputs (the whole
 * `connection`, whose private key is secret; a secret file's stdin) in their wire
 * wrapper `{[specialSigKey]: specialSecretSig, value}`. The provider sees the value.
 */
export function reveal(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reveal);
  if (value !== null && typeof value === "object") {
    const rec = value as Record<string, unknown>;
    if (rec[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return reveal(rec.value);
    return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, reveal(v)]));
  }
  return value;
}

function optionalString(inputs: Record<string, unknown>, key: string, name: string): string | undefined {
  const v = inputs[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new Error(`${name}: input ${key} is ${typeof v}, expected a string`);
  return v;
}

function toCommand(name: string, parent: string | undefined, inputs: Record<string, unknown>, installers: readonly RemoteCommand[] = []): RemoteCommand {
  const connection = inputs.connection;
  if (connection === null || typeof connection !== "object") throw new Error(`${name}: no connection input`);
  const create = optionalString(inputs, "create", name);
  if (create === undefined) throw new Error(`${name}: no create script`);
  return {
    name,
    parent,
    host: hostByAddress((connection as Record<string, unknown>).host),
    create,
    update: optionalString(inputs, "update", name),
    delete: optionalString(inputs, "delete", name),
    stdin: optionalString(inputs, "stdin", name),
    inputs,
    installers,
    installer: parent === undefined && /-fleet-[a-z0-9-]+-[0-9a-f]{12}$/.test(name),
  };
}

/**
 * Run `program` under mocks (as `pulumi up` would build it) and collect its remote
 * commands with resolved inputs.
 */
export async function build<T>(program: () => T, options: RunOptions = {}): Promise<Built<T>> {
  let value: T | undefined;
  let built = false;
  const run = await runProgram(() => {
    value = program();
    built = true;
  }, options);
  if (!built) throw new Error("the program did not finish");
  const records = run.byType(COMMAND);
  const installers = new Map(
    records.map((r) => toCommand(r.name, r.parentName, reveal(r.inputs) as Record<string, unknown>)).filter((c) => c.installer).map((c) => [c.name, c]),
  );
  const depNames = (deps: unknown): string[] => (Array.isArray(deps) ? deps : deps ? [deps] : []).map((d) => (d as { __name?: string }).__name ?? "");
  const commands = records.map(
    (r) =>
      installers.get(r.name) ??
      toCommand(r.name, r.parentName, reveal(r.inputs) as Record<string, unknown>, depNames(r.opts.dependsOn).flatMap((n) => installers.get(n) ?? [])),
  );
  return {
    run,
    value: value as T,
    commands,
    command(name) {
      const c = commands.find((x) => x.name === name);
      if (!c) throw new Error(`no remote command named ${name}; commands: ${commands.map((x) => x.name).join(", ")}`);
      return c;
    },
  };
}

/** Resolve an Output (secret or not) to its plain value. */
export async function plain<T>(value: pulumi.Output<T>): Promise<T> {
  return (await unwrap(value)) as T;
}

/**
 * Run a command's `create` script over SSH with its `stdin`, as the provider does on
 * create, after the helper installers it depends on (as the engine orders them).
 */
export async function create(fleet: Fleet, cmd: RemoteCommand, timeoutMs = 120_000): Promise<RunResult> {
  for (const installer of cmd.installers) {
    const r = await fleet.run(installer.host, installer.create, installer.stdin, timeoutMs);
    if (r.code !== 0) throw new Error(describeResult(installer, r));
  }
  return fleet.run(cmd.host, cmd.create, cmd.stdin, timeoutMs);
}

/**
 * Run a command's `update` script (its `create` when it has none) over SSH with its
 * `stdin`, as the provider does for a resource that already exists: a re-run, or a
 * changed input. A managed file's create also keeps the file it finds as the version
 * to restore on delete (docs/destroy.md); an update never does.
 */
export async function update(fleet: Fleet, cmd: RemoteCommand, timeoutMs = 120_000): Promise<RunResult> {
  for (const installer of cmd.installers) {
    const r = await fleet.run(installer.host, installer.create, installer.stdin, timeoutMs);
    if (r.code !== 0) throw new Error(describeResult(installer, r));
  }
  return fleet.run(cmd.host, cmd.update ?? cmd.create, cmd.stdin, timeoutMs);
}

/** Update commands one after another, failing with the script's output on the first non-zero exit. */
export async function updateAll(fleet: Fleet, cmds: readonly RemoteCommand[]): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const cmd of cmds) {
    const r = await update(fleet, cmd);
    if (r.code !== 0) throw new Error(describeResult(cmd, r));
    results.push(r);
  }
  return results;
}

/** Run a command's `delete` script over SSH, as the provider does on delete (no stdin). */
export function destroy(fleet: Fleet, cmd: RemoteCommand, timeoutMs = 120_000): Promise<RunResult> {
  if (cmd.delete === undefined) throw new Error(`${cmd.name} has no delete script`);
  return fleet.run(cmd.host, cmd.delete, undefined, timeoutMs);
}

/** Human-readable result for assertion messages. */
export function describeResult(cmd: RemoteCommand, r: RunResult): string {
  return `${cmd.name} on ${cmd.host} exited ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** Apply commands one after another, failing with the script's output on the first non-zero exit. */
export async function createAll(fleet: Fleet, cmds: readonly RemoteCommand[]): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const cmd of cmds) {
    const r = await create(fleet, cmd);
    if (r.code !== 0) throw new Error(describeResult(cmd, r));
    results.push(r);
  }
  return results;
}

/** Mutate a remote command's stdin in a transform hook (fault injection), keeping it an Input. */
export function mapStdin(args: { stdin?: pulumi.Input<string> }, f: (text: string) => string): void {
  const stdin = args.stdin;
  if (stdin === undefined) throw new Error("the command has no stdin to change");
  args.stdin = pulumi.output(stdin).apply(f);
}

/** Change one file's part of a bundle on stdin (`remoteFiles`), as `mapStdin` changes a whole stdin. */
export function mapPart(args: { stdin?: pulumi.Input<string> }, path: string, f: (text: string) => string): void {
  mapStdin(args, (bundle) => {
    const parts = bundleParts(bundle);
    if (!parts.has(path)) throw new Error(`the bundle has no part for ${path}`);
    return [...parts].map(([p, c]) => bundlePart(p, p === path ? f(c) : c)).join("");
  });
}

/** Poll `check` until it holds or `timeoutMs` passes; the error says what was awaited and the last state. */
export async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T>, ok: (v: T) => boolean, intervalMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (ok(last)) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= end) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const detail = lastError !== undefined ? `last error: ${(lastError as Error).message}` : `last value: ${JSON.stringify(last)?.slice(0, 2000)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${detail}`);
}
