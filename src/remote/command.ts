/**
 * The Pulumi side of the one remote primitive. This is the only module that
 * constructs `command.remote.Command`; components call `remoteFile` and `remoteTask`.
 *
 * Inputs are deterministic (scripts are pure text, triggers are content and target
 * identities, never timestamps), so an unchanged program previews empty and runs nothing.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../hash";
import { transform, type Transform } from "../transform";
import { type Daemon } from "./daemons";
import { type Host } from "./host";
import { bundlePart, type FileHelper, installerStdin, installHelperScript } from "./helper";
import { type FileTarget, helperForFiles, holdCommand, putCommand, reloadCommand, removeCommand, type RunStamp, runStdin, type TaskScript, taskScript, taskStdin, wrap } from "./scripts";

export type CommandTransform = Transform<command.remote.CommandArgs>;

/**
 * What the program intends to put on hosts, for review and tests: every managed
 * file registered in this process (`npm run render` writes them out). Read-only
 * bookkeeping; it changes nothing that is deployed.
 */
export interface ManagedFileRecord {
  readonly resourceName: string;
  readonly host: string;
  readonly target: FileTarget;
  readonly secret: boolean;
  readonly content: pulumi.Input<string>;
}

const managed: ManagedFileRecord[] = [];

/** Managed files registered so far in this process, in registration order. */
export function managedFiles(): readonly ManagedFileRecord[] {
  return managed;
}

export interface RemoteFileArgs {
  readonly host: Host;
  readonly target: FileTarget;
  /** Validator and reload for the service that reads the file. */
  readonly daemon: Daemon;
  /** The file's bytes, sent on stdin. */
  readonly content: pulumi.Input<string>;
  /** The content holds secrets: stored as a secret, never logged. */
  readonly secret?: boolean;
  readonly transform?: CommandTransform;
}

/**
 * What identifies the place a command acts on, for `triggers` (which the command
 * provider replaces on): the host's name in config, never its address or SSH port.
 * Re-addressing a machine (name → IP, another port) changes only `connection`, which
 * the command provider treats as an update; the update script finds the bytes unchanged
 * and does nothing, so nothing is removed or restarted (issue 9, item 2). Moving to
 * another host or path changes the identity: the resource is replaced, created in the new
 * place first, then deleted from the old one, which is a different place.
 */
function identity(host: Host, ...parts: string[]): string[] {
  return [`host=${host.name}`, ...parts];
}

/**
 * Helper installers registered in this program, by `<host>-<helper>`. Keyed by the
 * program's stack resource: one process may run several programs (the Automation API's
 * inline programs, tests), each of which must register its own installers, even when
 * they share `Host` objects.
 */
const installers = new WeakMap<object, Map<string, command.remote.Command>>();
const noStack = {};

/**
 * The resource that puts `helper` on `host`: one per host and helper, shared by every
 * file that uses it, created with the first. Its stdin is the helper's text (compressed:
 * `installerStdin`), so a new library version shows up in a preview once per host and
 * service, as a new installer
 * (a new name: the old helper stays on the host for resources still pointing at it).
 * It has no delete: helpers are inert, content-addressed files that another program
 * managing the same host may share (docs/remote-primitive.md).
 */
function helperInstaller(host: Host, helper: FileHelper): command.remote.Command {
  const program: object = pulumi.runtime.getStackResource() ?? noStack;
  let registered = installers.get(program);
  if (!registered) {
    registered = new Map();
    installers.set(program, registered);
  }
  const name = `${host.name}-${helper.name}`;
  let installer = registered.get(name);
  if (!installer) {
    installer = new command.remote.Command(name, {
      connection: host.connection,
      create: wrap(installHelperScript(helper), host.scripts),
      stdin: installerStdin(helper),
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    });
    registered.set(name, installer);
  }
  return installer;
}

/** `opts.dependsOn` plus `extra`, whatever shape `dependsOn` was given in. */
function dependingAlsoOn(opts: pulumi.CustomResourceOptions, extra: pulumi.Resource): pulumi.CustomResourceOptions["dependsOn"] {
  const existing = opts.dependsOn;
  if (existing === undefined) return [extra];
  if (Array.isArray(existing)) return [...existing, extra];
  if (pulumi.Resource.isInstance(existing)) return [existing, extra];
  // A Promise or Output of one resource or a list of them.
  return pulumi.output(existing as pulumi.Input<pulumi.Resource | pulumi.Input<pulumi.Resource>[]>).apply((d) => [...(Array.isArray(d) ? d : [d]), extra]);
}

/**
 * Daemons (by lock) whose reload is batched: one reload per host and daemon per deploy.
 * Not systemd (a unit's restart step needs its daemon-reload first), not compose (no
 * reload), not daemons in containers (their restart is part of the project's lifecycle).
 */
const BATCHED_LOCKS: ReadonlySet<string> = new Set(["haproxy", "nginx", "caddy", "prometheus", "alertmanager"]);

/** The deploy's one reload of a daemon on a host, and the files that wait for it. */
interface ReloadBatch {
  readonly files: command.remote.Command[];
  /** `sha256  path` of each file's content: the reload's stdin, so it runs when one changes. */
  readonly lines: pulumi.Output<string>[];
  readonly reload: command.remote.Command;
  /**
   * `<host>-<lock>-last-reload`: nothing on create; its delete is the reload after the last
   * removal of a destroy. Every file of the batch depends on it, so the engine deletes it
   * after all of them (dependents first), as it deletes `reload` (which holds the daemon's
   * reloads) before all of them.
   */
  readonly lastReload: command.remote.Command;
}

/** Reload batches of this program by `<host>/<lock>`, keyed by the program's stack resource (see `installers`). */
const batches = new WeakMap<object, Map<string, ReloadBatch>>();

/**
 * Programs run through `fleetProgram`, by stack resource: the promise that settles when
 * the program function has (its batches close then, before Pulumi awaits the outputs).
 */
const programEnds = new WeakMap<object, ProgramEnd>();

interface ProgramEnd {
  readonly promise: Promise<void>;
  /** Set when the program function has settled, before `promise` resolves. */
  done: boolean;
}

/**
 * Runs `program` as a Pulumi program whose daemon reloads are batched: one reload per host
 * and daemon per deploy (docs/remote-primitive.md). The batches close when `program`'s
 * promise settles, so every file it registers, directly or awaited, belongs to them; the
 * outputs it returns are awaited by Pulumi only after that, so a stack may export what a
 * check found (a `HealthCheck`'s `result`) or anything that depends on a reload.
 *
 * A program not run through it (or a file registered after `program` settled, inside a late
 * `apply`) reloads each file on its own: always correct, one reload per file. The one rule
 * left: `program` itself must not await a value of a resource that runs after the reloads
 * (a check's result) before it returns: the reloads wait for `program` to return.
 *
 * ```ts
 * // stacks/index.ts (Pulumi's runner awaits the exported promise)
 * export = fleetProgram(async () => { ...components...; return { url } })();
 * // Automation API
 * LocalWorkspace.createStack({ stackName, projectName, program: fleetProgram(main) });
 * ```
 */
export function fleetProgram<T>(program: () => T | Promise<T>): () => Promise<T> {
  return async () => {
    const stack = pulumi.runtime.getStackResource();
    if (stack === undefined) throw new Error("fleetProgram: the program must run as a Pulumi program (inside its stack), not before it");
    if (programEnds.has(stack)) throw new Error("fleetProgram: this stack already runs a fleetProgram; a program says where it ends once");
    let end: () => void = () => undefined;
    const state: ProgramEnd = {
      promise: new Promise<void>((resolve) => {
        end = resolve;
      }),
      done: false,
    };
    programEnds.set(stack, state);
    try {
      return await program();
    } finally {
      state.done = true;
      end();
    }
  };
}

/** The batches of the running program, or undefined when its reloads are not batched (not a `fleetProgram`, outside a stack). */
function programBatches(): { readonly ended: ProgramEnd; readonly batches: Map<string, ReloadBatch> } | undefined {
  const stack = pulumi.runtime.getStackResource();
  if (stack === undefined) return undefined;
  const ended = programEnds.get(stack);
  if (ended === undefined) return undefined;
  let registered = batches.get(stack);
  if (!registered) {
    registered = new Map();
    batches.set(stack, registered);
  }
  return { ended, batches: registered };
}

/**
 * The batch `file` joins, creating the daemon's reload resource with the first file:
 * `<host>-<lock>-reload`, `<helper> reload`, after every file of the batch (its
 * `dependsOn` and stdin resolve when the program has returned). Undefined when the
 * daemon's reloads are not batched, outside a stack, or after the program returned.
 */
function batchFor(host: Host, daemon: Daemon, helper: FileHelper, installer: command.remote.Command): ReloadBatch | undefined {
  if (daemon.reload === undefined || !BATCHED_LOCKS.has(daemon.lock)) return undefined;
  const program = programBatches();
  if (program === undefined) return undefined;
  const key = `${host.name}/${daemon.lock}`;
  // The program has returned: a file registered now (in a late apply) reloads on its own.
  if (program.ended.done) return undefined;
  const existing = program.batches.get(key);
  if (existing) return existing;
  const files: command.remote.Command[] = [];
  const lines: pulumi.Output<string>[] = [];
  const returned = program.ended.promise;
  const after: Promise<pulumi.Input<pulumi.Resource>[]> = returned.then(() => files);
  const reload = new command.remote.Command(
    `${host.name}-${daemon.lock}-reload`,
    {
      connection: host.connection,
      create: reloadCommand(helper, host.scripts),
      update: reloadCommand(helper, host.scripts),
      // Deleted before every file of the batch (it depends on them): the removals that
      // follow wait for `lastReload`'s one reload instead of reloading each.
      delete: holdCommand(helper, host.scripts),
      // Sorted: the order components register in is not part of what changed.
      stdin: pulumi.output(returned.then(() => true)).apply(() => pulumi.all(lines).apply((ls) => `${[...ls].sort().join("\n")}\n`)),
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { dependsOn: after },
  );
  const lastReload = new command.remote.Command(
    `${host.name}-${daemon.lock}-last-reload`,
    {
      connection: host.connection,
      delete: reloadCommand(helper, host.scripts),
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { dependsOn: [installer] },
  );
  const batch: ReloadBatch = { files, lines, reload, lastReload };
  program.batches.set(key, batch);
  return batch;
}

/**
 * The reload resources of the running program so far: what a check of served content
 * (`RemoteTaskArgs.afterReloads`) runs after. A task depending on them must not be one a
 * file of the same program depends on (that would be a cycle), nor be awaited by the
 * program function before it returns (the batches close when it has: `fleetProgram`).
 */
export function reloadsSoFar(): command.remote.Command[] {
  const program = programBatches();
  return program === undefined ? [] : [...program.batches.values()].map((b) => b.reload);
}

/**
 * A file on a host, applied by validate → swap → reload → restore-on-failure through
 * the host's file helper (`./helper.ts`). The command is one line (`<helper> put PATH
 * --owner … --mode …`) and the content is stdin, so a preview of a changed file shows the
 * content change. A change of content or mode is an update (the helper runs again); a
 * change of host (by name) or path replaces the resource, so the old file is removed from
 * the old place. A change of the host's address or port is an update that changes nothing.
 */
export function remoteFile(name: string, args: RemoteFileArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const { target, content, ...rest } = args;
  return remoteFiles(name, { ...rest, files: [{ target, content }] }, opts);
}

export interface RemoteFilesArgs extends Omit<RemoteFileArgs, "target" | "content"> {
  /**
   * The files, written in this order and removed in the reverse order, each time by one
   * helper call (a transaction: the whole config validated once with all of them, all put
   * back when it is refused). At most one of them has an assemble step (it runs once for
   * all). The first one names the resource's place
   * (`triggers`): moving it replaces the resource; moving a later one is an update that
   * writes the new place and leaves the old file where it was.
   */
  readonly files: readonly { readonly target: FileTarget; readonly content: pulumi.Input<string> }[];
}

/**
 * Several files of one daemon on one host as one resource: one SSH session per create,
 * update or delete instead of one per file, and one whole-config check instead of one per
 * file. The command is one helper call (`<helper> put PATH … --bundled --and PATH2 …
 * --bundled`) and stdin is the bundle: per file a `#fleet-file BYTES PATH` line, then its
 * content (`bundlePart`), so a preview still shows which file's content changed. The files
 * are one transaction: all written, the config validated once with all of them; a refusal
 * puts every one back and names each, the daemon's message under it. One file is exactly
 * `remoteFile`.
 */
export function remoteFiles(name: string, args: RemoteFilesArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const { host, daemon, files } = args;
  const first = files[0];
  if (first === undefined) throw new Error(`remoteFiles "${name}": no files`);
  const paths = files.map((f) => f.target.path);
  const twice = paths.find((p, i) => paths.indexOf(p) !== i);
  if (twice !== undefined) throw new Error(`remoteFiles "${name}": ${twice} is listed twice`);
  const bundled = files.length > 1;
  const targets = files.map((f) => f.target);
  // One helper call for all the files: one transaction, one whole-config check.
  const helper = helperForFiles(targets, daemon, host.scripts);
  const installer = helperInstaller(host, helper);
  const installers = [installer];
  const batch = batchFor(host, daemon, helper, installer);
  const deferReload = batch !== undefined;
  // The first write keeps what was there before, for delete to put back (docs/destroy.md).
  // Several files are one set: a file whose path moved (an update) is removed with the write.
  const create = putCommand(targets, daemon, host.scripts, { recordOriginal: true, deferReload, bundled, set: bundled });
  const update = putCommand(targets, daemon, host.scripts, { deferReload, bundled, set: bundled });
  const remove = removeCommand([...targets].reverse(), daemon, host.scripts, { deferReload, set: bundled });
  const content: pulumi.Input<string> = bundled ? pulumi.all(files.map((f) => f.content)).apply((cs) => cs.map((c, i) => bundlePart(paths[i]!, c)).join("")) : first.content;
  const secret = args.secret === true;
  for (const f of files) managed.push({ resourceName: name, host: host.name, target: f.target, secret, content: f.content });
  const withInstallers = installers.reduce<pulumi.CustomResourceOptions>((o, i) => ({ ...o, dependsOn: dependingAlsoOn(o, i) }), opts);
  const file = new command.remote.Command(
    ...transform(
      args.transform,
      name,
      {
        connection: host.connection,
        create,
        update,
        delete: remove,
        stdin: secret ? pulumi.secret(content) : content,
        triggers: identity(host, `path=${first.target.path}`),
        addPreviousOutputInEnv: false,
        logging: secret ? "none" : "stdoutAndStderr",
      },
      {
        ...opts,
        dependsOn: batch ? dependingAlsoOn(withInstallers, batch.lastReload) : withInstallers.dependsOn,
        replaceOnChanges: [...(opts.replaceOnChanges ?? []), "triggers"],
        additionalSecretOutputs: secret ? ["stdout", "stderr"] : opts.additionalSecretOutputs,
      },
    ),
  );
  if (batch) {
    batch.files.push(file);
    for (const f of files) batch.lines.push(pulumi.output(f.content).apply((c) => `${sha256(c)}  ${f.target.path}`));
  }
  return file;
}

export interface RemoteTaskArgs {
  readonly host: Host;
  /** What runs on create and on every change of `triggers` or the script. */
  readonly run: TaskScript;
  /** Optional script run when the resource is deleted. */
  readonly onDelete?: TaskScript;
  /** Secret values, read by the script from stdin into the variables `run.secretNames` names. */
  readonly secrets?: readonly pulumi.Input<string>[];
  /** Values whose change re-runs the task (content hashes, refs, versions). */
  readonly triggers?: readonly pulumi.Input<unknown>[];
  /**
   * Values whose change re-runs the task as an *update*: their hash is a comment line of
   * the script. Use it instead of `triggers` for a task with `onDelete`: the command
   * provider (v1.2.1, measured with the real engine) replaces a command whose triggers
   * change even when it has an update script, and the replaced one's delete then runs
   * after the new create (a compose `down` right after `up`). Secret values keep the
   * script secret.
   */
  readonly revision?: readonly pulumi.Input<unknown>[];
  /**
   * Run exactly once: never re-run on a change of script, triggers or connection,
   * so a one-time output (a generated key) is never lost or regenerated.
   */
  readonly once?: boolean;
  /** stdout holds a secret: marked secret, never logged. */
  readonly secretOutput?: boolean;
  /**
   * Run after every batched daemon reload of this deploy registered so far (a check of
   * what a daemon serves: a route, a site, a certificate). See `reloadsSoFar`.
   */
  readonly afterReloads?: boolean;
  readonly transform?: CommandTransform;
}

/**
 * `logging` for a task whose stdin may turn secret at run time (a fingerprint over a
 * secret trigger): nothing is logged when it does, everything otherwise.
 */
function quietWhenSecret(stdin: pulumi.Input<string>): Promise<"none" | "stdoutAndStderr"> {
  return pulumi.isSecret(pulumi.output(stdin)).then((secret) => (secret ? "none" : "stdoutAndStderr"));
}

export function remoteTask(name: string, args: RemoteTaskArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const { host } = args;
  const names = args.run.secretNames ?? [];
  const secrets = args.secrets ?? [];
  if (names.length !== secrets.length) {
    throw new Error(`remoteTask "${name}": ${names.length} secret names but ${secrets.length} secret values`);
  }
  const hasSecrets = secrets.length > 0;
  const quiet = hasSecrets || args.secretOutput === true;
  const payload: pulumi.Input<string> | undefined = hasSecrets ? pulumi.secret(pulumi.all([...secrets]).apply((values) => taskStdin(values))) : undefined;
  // A re-addressed host changes only `connection`, which the provider runs as an update:
  // the update skips the body when the host's stamp says this exact run already happened
  // (scripts.ts RunStamp), so nothing re-runs and nothing restarts (issue 9, item 2).
  // Not for `once` tasks (they ignore every change) nor captured output (a skipped run
  // would replace it with the skip message).
  const stamped = args.once !== true && args.secretOutput !== true;
  const stampPath = `${host.scripts.lockDir}/fleet-run-${name.replace(/[^A-Za-z0-9._-]/g, "_")}.sha256`;
  // A revision changes the script's text (a comment line), so a new revision is an update.
  const scriptOf = (stamp?: RunStamp): pulumi.Input<string> =>
    args.revision?.length
      ? pulumi.all([...args.revision]).apply((values) => taskScript({ ...args.run, body: `${args.run.body}\n# fleet revision: ${sha256(JSON.stringify(values))}` }, host.scripts, stamp))
      : taskScript(args.run, host.scripts, stamp);
  const create = stamped ? scriptOf({ path: stampPath, skipIfSame: false, name }) : scriptOf();
  const update = stamped ? scriptOf({ path: stampPath, skipIfSame: true, name }) : create;
  const stdin: pulumi.Input<string> | undefined = stamped
    ? pulumi
        .all([create, pulumi.all([...(args.triggers ?? [])]), payload ?? ""])
        .apply(([script, triggers, secretLines]) => runStdin(sha256(JSON.stringify([script, triggers, secretLines])), secretLines))
    : payload;
  const cmdArgs: command.remote.CommandArgs = {
    connection: host.connection,
    create,
    update,
    ...(args.onDelete ? { delete: taskScript(args.onDelete, host.scripts) } : {}),
    ...(stdin !== undefined ? { stdin } : {}),
    // A task that cleans up after itself moves like a file: on another host it is
    // replaced, so its delete runs where it ran. Re-addressing is an update (see identity()).
    ...(args.triggers?.length || args.onDelete ? { triggers: [...(args.triggers ?? []), ...(args.onDelete ? identity(host) : [])] } : {}),
    addPreviousOutputInEnv: false,
    logging: quiet ? "none" : stdin === undefined ? "stdoutAndStderr" : quietWhenSecret(stdin),
  };
  const reloads = args.afterReloads ? reloadsSoFar() : [];
  const cmdOpts: pulumi.CustomResourceOptions = {
    ...opts,
    ...(reloads.length > 0 ? { dependsOn: reloads.reduce<pulumi.CustomResourceOptions["dependsOn"]>((deps, r) => dependingAlsoOn({ dependsOn: deps }, r), opts.dependsOn) } : {}),
    // A stamped task's fingerprint is secret when a trigger is (an env file's hash): its
    // output is stored as a secret too, and `logging` goes quiet (quietWhenSecret).
    additionalSecretOutputs: quiet || stamped ? ["stdout", "stderr"] : opts.additionalSecretOutputs,
    ...(args.once ? { ignoreChanges: [...(opts.ignoreChanges ?? []), "create", "update", "delete", "stdin", "triggers", "connection"] } : {}),
  };
  return new command.remote.Command(...transform(args.transform, name, cmdArgs, cmdOpts));
}
