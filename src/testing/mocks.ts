/**
 * Run a Pulumi program in-process under strict mocks. Used by this project's tests
 * and by `npm run render`; exported as `pulumi-fleet/testing` for other programs'
 * tests.
 *
 * Strict Pulumi mocks (pulumi-awsx style): every registered resource is recorded
 * with its resolved inputs (from the mock monitor) and its raw props and options
 * (from a stack transformation); unknown invokes throw.
 */
import * as pulumi from "@pulumi/pulumi";
import { managedFiles, type ManagedFileRecord } from "../remote/command";

export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly custom: boolean;
  /** Inputs as the engine saw them (secrets unwrapped by the mock monitor). */
  inputs: Record<string, unknown>;
  /** Props as the program passed them (Outputs intact: check secretness here). */
  readonly props: Record<string, unknown> | undefined;
  readonly opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
  readonly parentName: string | undefined;
  /**
   * For a managed file's command: what `remoteFile` recorded (host, target path, owner,
   * group, mode, secret, content). Assert on this, not on the helper call's shell text.
   */
  readonly file: ManagedFileRecord | undefined;
  /** Every file the command writes, in order (several for `remoteFiles`); `file` is the first. */
  readonly files: readonly ManagedFileRecord[];
}

export interface MockRun {
  readonly resources: RecordedResource[];
  readonly outputs: Record<string, unknown> | undefined;
  byType(type: string): RecordedResource[];
  /** The one resource with this logical name; throws listing names when absent. */
  get(name: string): RecordedResource;
  find(name: string): RecordedResource | undefined;
  names(): string[];
  /** Failures inside `apply` (only with `collectFailures`; otherwise runProgram throws). */
  readonly failures: readonly string[];
}

export interface RunOptions {
  readonly project?: string;
  readonly stack?: string;
  /** Pulumi config, keys fully qualified ("fleet:hosts"); objects are JSON-encoded. */
  readonly config?: Record<string, unknown>;
  /** Config keys that are secret. */
  readonly secretKeys?: readonly string[];
  /** Values returned by `call` mocks, keyed by invoke token. */
  readonly calls?: Record<string, (args: Record<string, unknown>) => Record<string, unknown>>;
  readonly preview?: boolean;
  /** What mocked `random.RandomPassword`/`RandomBytes` results are, by resource name. @default mockPassword */
  readonly randomValue?: (name: string, type: string) => string;
  /** stdout a mocked `command:remote:Command` reports (e.g. a fetched file), by resource name. @default "" */
  readonly commandStdout?: (name: string, inputs: Record<string, unknown>) => string | undefined;
  /** Report failures inside `apply` in `failures` instead of throwing (to assert what was registered). */
  readonly collectFailures?: boolean;
}

/** Resolve an Output/Promise tree to plain values (secret wrappers removed). */
export async function unwrap(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const inner = await new Promise<unknown>((resolve) => (value).apply((v) => resolve(v)));
    return unwrap(inner);
  }
  if (value instanceof Promise) return unwrap(await value);
  if (Array.isArray(value)) return Promise.all(value.map(unwrap));
  if (value !== null && typeof value === "object" && !(value instanceof pulumi.Resource)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await unwrap(v);
    return out;
  }
  return value;
}

/**
 * Every leaf string reachable from `value`, with whether it was behind a secret Output.
 */
export async function leaves(value: unknown, secret = false, path = ""): Promise<{ path: string; value: string; secret: boolean }[]> {
  if (pulumi.Output.isInstance(value)) {
    const out = value;
    const isSecret = secret || (await pulumi.isSecret(out));
    const inner = await new Promise<unknown>((resolve) => out.apply((v) => resolve(v)));
    return leaves(inner, isSecret, path);
  }
  if (value instanceof Promise) return leaves(await value, secret, path);
  if (Array.isArray(value)) return (await Promise.all(value.map((v, i) => leaves(v, secret, `${path}[${i}]`)))).flat();
  if (value instanceof pulumi.Resource) return [];
  if (value !== null && typeof value === "object") {
    return (await Promise.all(Object.entries(value).map(([k, v]) => leaves(v, secret, path ? `${path}.${k}` : k)))).flat();
  }
  if (typeof value === "string") return [{ path, value, secret }];
  if (typeof value === "number" || typeof value === "boolean") return [{ path, value: String(value), secret }];
  return [];
}

/**
 * Who gets unhandled rejections: runs in progress, and each finished run for a second
 * after. One process listener serves them all, so many runs in a row in one worker
 * (vitest runs files in a shared process) do not pile up listeners.
 */
const strayCollectors = new Set<(reason: unknown) => void>();
const dispatchStray = (reason: unknown): void => {
  for (const collect of strayCollectors) collect(reason);
};

function collectStrays(collect: (reason: unknown) => void): () => void {
  if (strayCollectors.size === 0) process.on("unhandledRejection", dispatchStray);
  strayCollectors.add(collect);
  return () => {
    strayCollectors.delete(collect);
    if (strayCollectors.size === 0) process.off("unhandledRejection", dispatchStray);
  };
}

/**
 * Run `program` under mocks and return every resource it registered, with inputs
 * resolved. Mocks return the inputs as state (plus an id).
 */
export async function runProgram(program: () => unknown, options: RunOptions = {}): Promise<MockRun> {
  const project = options.project ?? "fleet";
  const stack = options.stack ?? "test";
  const resources: RecordedResource[] = [];
  const byName = new Map<string, RecordedResource>();
  const pendingInputs = new Map<string, Record<string, unknown>>();

  await pulumi.runtime.setMocks(
    {
      newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
        const inputs = args.inputs as Record<string, unknown>;
        const rec = byName.get(`${args.type}::${args.name}`);
        if (rec) rec.inputs = inputs;
        else pendingInputs.set(`${args.type}::${args.name}`, inputs);
        const state: Record<string, unknown> = { ...inputs };
        if (args.type === "command:remote:Command") {
          state.stdout = options.commandStdout?.(args.name, inputs) ?? "";
          state.stderr = "";
        }
        if (args.type === "random:index/randomPassword:RandomPassword") {
          // A recognisable stand-in, so leak tests can look for it everywhere.
          state.result = (options.randomValue ?? mockPassword)(args.name, args.type);
        }
        if (args.type === "random:index/randomBytes:RandomBytes") {
          const v = (options.randomValue ?? mockPassword)(args.name, args.type);
          state.base64 = options.randomValue ? v : Buffer.from(v.padEnd(32, "x").slice(0, 32)).toString("base64");
          state.hex = options.randomValue ? v : Buffer.from(v.padEnd(32, "x").slice(0, 32)).toString("hex");
        }
        return { id: `${args.name}-id`, state };
      },
      call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
        const fn = options.calls?.[args.token];
        if (!fn) throw new Error(`Mock not implemented: ${args.token}`);
        return fn(args.inputs as Record<string, unknown>);
      },
    },
    project,
    stack,
    options.preview ?? false,
  );
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.config ?? {})) config[k] = typeof v === "string" ? v : JSON.stringify(v);
  pulumi.runtime.setAllConfig(config, [...(options.secretKeys ?? [])]);

  // A failed apply leaves a trail of unhandled rejections, each holding the whole
  // resource graph; left alone they hang the test worker. Collect them while the
  // program runs and fail once, with the first message.
  // The managed-file records this run adds (the registry lives for the process).
  const filesFrom = managedFiles().length;
  const filesOf = (type: string, name: string): ManagedFileRecord[] =>
    type === "command:remote:Command" ? managedFiles().slice(filesFrom).filter((f) => f.resourceName === name) : [];
  const stray: unknown[] = [];
  const stopCollecting = collectStrays((reason) => stray.push(reason));
  let outputs: Record<string, unknown> | undefined;
  try {
    outputs = await runStack();
    // Let every registration round-trip through the mock monitor.
    for (let i = 0; i < 50 && resources.some((r) => r.custom && Object.keys(r.inputs).length === 0 && r.props && Object.keys(r.props).length > 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (options.collectFailures) await new Promise((resolve) => setTimeout(resolve, 100));
    // Wait for every outstanding registration (some start late, inside applies) before
    // returning: the next runProgram in this process installs a new mock monitor, and a
    // straggler of this run reaching it fails that run ("unknown resource urn:...").
    await pulumi.runtime.disconnect();
  } finally {
    // Late rejections of the same failure keep arriving for a moment.
    setTimeout(stopCollecting, 1000).unref();
  }
  const failures = stray.map((r) => (r instanceof Error ? r.message : String(r)));
  if (failures.length > 0 && !options.collectFailures) {
    throw new Error(`program failed: ${failures[0]!.split("\n")[0]}`);
  }

  function runStack(): Promise<Record<string, unknown> | undefined> {
    return pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((t) => {
        const rec: RecordedResource = {
          type: t.type,
          name: t.name,
          custom: t.resource instanceof pulumi.CustomResource,
          inputs: pendingInputs.get(`${t.type}::${t.name}`) ?? {},
          props: t.props,
          opts: t.opts,
          parentName: t.opts.parent ? (t.opts.parent as unknown as { __name?: string }).__name : undefined,
          file: filesOf(t.type, t.name)[0],
          files: filesOf(t.type, t.name),
        };
        resources.push(rec);
        byName.set(`${t.type}::${t.name}`, rec);
        return undefined;
      });
      return (await program()) as Record<string, unknown> | undefined;
    });
  }
  for (const r of resources) {
    const late = pendingInputs.get(`${r.type}::${r.name}`);
    if (late && Object.keys(r.inputs).length === 0) r.inputs = late;
  }

  return {
    resources,
    outputs: outputs,
    byType: (type) => resources.filter((r) => r.type === type),
    get(name) {
      const matches = resources.filter((r) => r.name === name);
      if (matches.length !== 1) {
        throw new Error(`expected one resource named ${name}, found ${matches.length}; names: ${resources.map((r) => r.name).join(", ")}`);
      }
      return matches[0]!;
    },
    find: (name) => resources.find((r) => r.name === name),
    names: () => resources.map((r) => r.name),
    failures,
  };
}

/** The value the mocks give `random.RandomPassword` named `name`. */
export function mockPassword(name: string): string {
  return `MockPw-${name}-Zq9`;
}

/** A throwaway ed25519 host key line for tests. */
export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHfleetTestHostKeyOnlyForUnitTestsAAAAAAAAAAAA";
export const TEST_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nTEST-ONLY-NOT-A-REAL-KEY\n-----END OPENSSH PRIVATE KEY-----\n";
