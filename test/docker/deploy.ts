/**
 * Deploying a program's remote commands to the test hosts step by step, the way the
 * command provider would act on a diff: a command new in `next` runs `create`, one
 * whose inputs changed runs `update` (a remote.Command with an `update` script is
 * updated, not replaced, when its triggers change), one whose inputs are equal runs
 * nothing, and inputs listed in the resource's `ignoreChanges` are not compared
 * (a `once` task). The scripts are the components' own, from the program built under
 * mocks (../e2e/program.ts); nothing here writes a script.
 *
 * This is the diff the engine makes; the engine suite proves the engine makes it.
 */
import { type Fleet, type RunResult } from "../e2e/harness";
import { type Built, describeResult, type RemoteCommand } from "../e2e/program";

const COMPARED = ["create", "update", "delete", "stdin", "triggers", "connection"] as const;

/** The inputs that decide whether the provider runs `update`, without the ignored ones. */
function compared(built: Built<unknown>, cmd: RemoteCommand): string {
  const ignored = new Set(built.run.get(cmd.name).opts.ignoreChanges ?? []);
  return JSON.stringify(COMPARED.filter((k) => !ignored.has(k)).map((k) => [k, cmd.inputs[k] ?? null]));
}

/** Names of the commands of `next` the provider would run (create or update) after `prev`. */
export function changedCommands(prev: Built<unknown> | undefined, next: Built<unknown>): string[] {
  return next.commands
    .filter((cmd) => {
      const before = prev?.commands.find((c) => c.name === cmd.name);
      return before === undefined || compared(prev!, before) !== compared(next, cmd);
    })
    .map((c) => c.name);
}

/** Where scripts run: the fleet's hosts over SSH, or another SSH endpoint (a booted container). */
export type Runner = Pick<Fleet, "run">;

export interface Applied {
  /** The component's commands that ran, in order (file-helper installers run too, unlisted). */
  readonly ran: readonly string[];
  /** Result of each command that ran. */
  readonly results: Readonly<Record<string, RunResult>>;
}

/**
 * Run the commands of `next` that changed since `prev`, in registration order (the
 * order dependsOn gives a ComposeStack's children). Stops at the first failure and
 * throws with its output, like `pulumi up`. Commands `skip` names are left out (a
 * test host lacks what they need, e.g. systemd); the caller lists and asserts them.
 */
export async function applyDiff(fleet: Runner, prev: Built<unknown> | undefined, next: Built<unknown>, timeoutMs = 240_000, skip: ReadonlySet<string> = new Set()): Promise<Applied> {
  const names = new Set(changedCommands(prev, next).filter((n) => !skip.has(n)));
  const ran: string[] = [];
  const results: Record<string, RunResult> = {};
  for (const cmd of next.commands) {
    if (!names.has(cmd.name)) continue;
    const isNew = prev?.commands.find((c) => c.name === cmd.name) === undefined;
    const script = isNew ? cmd.create : (cmd.update ?? cmd.create);
    const r = await fleet.run(cmd.host, script, cmd.stdin, timeoutMs);
    // File-helper installers (docs/remote-primitive.md) run first, as the engine orders
    // them, but are not the component's own commands.
    if (!cmd.installer) ran.push(cmd.name);
    results[cmd.name] = r;
    if (r.code !== 0) throw new DeployError(cmd, r, ran);
  }
  return { ran, results };
}

export class DeployError extends Error {
  constructor(
    readonly command: RemoteCommand,
    readonly result: RunResult,
    readonly ran: readonly string[],
  ) {
    super(describeResult(command, result));
  }
}

/** Run every `delete` script of `built` but those `skip` names, last registered first (the engine deletes dependents first). */
export async function destroyAll(fleet: Runner, built: Built<unknown>, skip: ReadonlySet<string> = new Set()): Promise<string[]> {
  const ran: string[] = [];
  for (const cmd of [...built.commands].reverse()) {
    if (cmd.delete === undefined || skip.has(cmd.name)) continue;
    const r = await fleet.run(cmd.host, cmd.delete, undefined, 120_000);
    if (r.code !== 0) throw new Error(describeResult(cmd, r));
    ran.push(cmd.name);
  }
  return ran;
}
