import type * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../../hash";
import { childName } from "../../naming";
import { remoteFile, remoteTask } from "../../remote/command";
import { type Daemon } from "../../remote/daemons";
import { sh, shArgs } from "../../remote/quote";
import { validated } from "../../validated";
import { ConfigError, parseOrThrow } from "../../validation/errors";
import { sha256Digest } from "../../validation/primitives";
import { type ComposeStackArgs, type ComposeStackSpec, composeStackSchema, fileRole } from "./args";
import { lookupReason, registryOf, registryReader } from "./digests";
import { externalNetworks } from "./inspect";
import { composeCommand, composeLock, composeProject } from "./project";
import { type ComposePlan, envProblems, PLACEHOLDER_DIGEST, pinnedImage, prepareCompose, renderEnvFile } from "./render";
import { adoptBody, type ComposeLayout, decodeSource, directoryBody, downBody, gitSourceBody, lastGoodFile, parentDirs, sourceDir, taskRunBody, upBody } from "./scripts";

/**
 * A Docker Compose project on a host: the project directory, the `.env` file, extra
 * files, the compose file with images pinned by digest, `up` with a bounded wait for
 * health, and one-shot tasks after it.
 *
 * Order: directory → extra files and `.env` → compose file (each file validated with
 * `compose config -q` on the whole project, restored on failure) → pull/up/wait →
 * tasks, one after the other. Deleting the stack runs `down` (volumes are kept unless
 * `deleteVolumes`) and removes the files; the directory itself is left in place. A deploy
 * whose services do not come up fails naming them with their last log lines, and the
 * last deploy that came up is brought back (see `upBody`).
 *
 * :::caution Renaming the component (or its `up` child) without an alias deletes the
 * old `up` task after the new one ran, and its delete is `down`: add `aliases`. :::
 *
 * Every `${VAR}` the compose file references without a default must be set in `env`:
 * inline content is checked before anything is created (or inside `apply` when it is
 * an Output); a compose file from git is fetched on the host first, printed back,
 * and checked the same way before `.env` or the compose file is written.
 *
 * #### Mnemosyne: inline compose file, pinned image, migrations after every deploy
 * ```ts
 * new ComposeStack("mnemosyne", {
 *   host: puck,
 *   project: "mnemosyne",
 *   directory: "/opt/mnemosyne",
 *   compose: { content: renderTemplate("mnemosyne/docker-compose.yaml.njk", {}) },
 *   env: { SECRET_KEY: cfg.requireSecret("mnemosyneSecretKey"), DB_HOST: "portia.incus" },
 *   files: [{ path: "nginx/mnemosyne.conf", content: nginxConf, restart: ["web"] }],
 *   images: { app: { image: "git.helu.ca/r/mnemosyne:latest" } },
 *   tasks: [{ name: "migrate", run: ["run", "--rm", "-T", "app", "migrate"] }],
 * });
 * ```
 *
 * #### Peregrine: compose.cloud.yml from the app repository at a tag
 * ```ts
 * new ComposeStack("peregrine-cloud", {
 *   host: menagerie,
 *   project: "peregrine-cloud",
 *   directory: "/opt/peregrine-cloud",
 *   composeFile: "compose.cloud.yml",
 *   compose: { git: { url: "https://git.example.com/circuitforge/peregrine.git", ref: "v2.3.0", path: "compose.cloud.yml" } },
 *   env: { CLOUD_MODE: "true", CF_SERVER_SECRET: serverSecret },
 * });
 * ```
 *
 * #### Roll back: pin an earlier digest
 * ```ts
 * images: { app: { image: "git.helu.ca/r/mnemosyne:latest", digest: cfg.require("mnemosyneDigest") } }
 * ```
 */
export class ComposeStack extends pulumi.ComponentResource {
  /** Compose project name. */
  public readonly project: string;
  /** Project directory on the host. */
  public readonly directory: string;
  /** Absolute path of the deployed compose file. */
  public readonly composeFilePath: string;
  /** The compose file as deployed (images pinned by digest). */
  public readonly composeContent: pulumi.Output<string>;
  /** Pinned image reference per service in `images`, e.g. `{ app: "repo@sha256:…" }`. */
  public readonly images: pulumi.Output<Record<string, string>>;
  /** stdout of each task with `captureStdout`, as a secret. */
  public readonly taskOutputs: Readonly<Record<string, pulumi.Output<string>>>;
  /** The raw children. */
  public readonly nodes: {
    readonly directory: command.remote.Command;
    readonly source?: command.remote.Command;
    readonly files: Readonly<Record<string, command.remote.Command>>;
    readonly env: command.remote.Command;
    readonly compose: command.remote.Command;
    readonly adopt?: command.remote.Command;
    readonly up: command.remote.Command;
    readonly tasks: Readonly<Record<string, command.remote.Command>>;
  };

  constructor(name: string, args: ComposeStackArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `ComposeStack "${name}"`;
    const spec = checkComposeStack(name, args);
    super(ComposeStack.__pulumiType, name, {}, opts);
    const parent = this;
    const { host, transform: hooks } = args;
    const layout: ComposeLayout = { directory: spec.directory, project: spec.project, file: spec.composeFile, envFile: spec.envFile, ...(spec.projectDirectory ? { projectDirectory: spec.projectDirectory } : {}) };
    const lock = composeLock(spec.project);
    const daemon = composeProject(host.spec, layout);
    // Default: the registry read by the docker provider, without a Docker daemon here.
    let reader: docker.Provider | undefined;
    const resolve =
      args.resolveDigest ??
      ((image: string): pulumi.Input<string> => {
        reader ??= registryReader(childName(name, "registry"), host.spec, { parent });
        return docker.getRegistryImage({ name: image }, { parent, provider: reader }).then(
          (r) => r.sha256Digest,
          (e: unknown) => {
            throw new pulumi.ResourceError(`${subject}: cannot resolve the digest of ${image}: registry ${registryOf(image)}: ${lookupReason(e)} (or pin it: images.<service>.digest)`, parent, true);
          },
        );
      });

    const digests = normalizeDigests();
    const directory = createDirectory();
    const source = spec.compose.git ? createSource() : undefined;
    const composeText = normalizeCompose();
    const envText = normalizeEnv();
    const files = createFiles();
    const env = createEnv();
    const composeFile = createCompose();
    const deployTriggers = normalizeDeployTriggers();
    const adopt = spec.adopt ? createAdopt(spec.adopt) : undefined;
    const up = createUp();
    const { tasks, taskOutputs } = createTasks();

    this.project = spec.project;
    this.directory = spec.directory;
    this.composeFilePath = `${spec.directory}/${spec.composeFile}`;
    this.composeContent = composeText;
    this.images = digests.apply((d) => mapValues(d, (digest, service) => pinnedImage(spec.images[service]!.image, digest)));
    this.taskOutputs = taskOutputs;
    this.nodes = { directory, ...(source ? { source } : {}), files, env, compose: composeFile, ...(adopt ? { adopt } : {}), up, tasks };
    this.registerOutputs({ project: this.project, directory: this.directory, composeContent: this.composeContent, images: this.images });

    /** Digest per service in `images`: pinned in config, or resolved from the registry (checked). */
    function normalizeDigests(): pulumi.Output<Record<string, string>> {
      const services = Object.keys(spec.images).sort();
      const values = services.map((service) => {
        const img = spec.images[service]!;
        if (img.digest) return pulumi.output(img.digest);
        return pulumi.output(resolve(img.image)).apply((digest) => {
          if (!sha256Digest.safeParse(digest).success) {
            throw new pulumi.ResourceError(`${subject}: images/${service}: the registry gave ${JSON.stringify(digest)} for ${img.image}, not sha256:<64 hex digits>`, parent);
          }
          return digest;
        });
      });
      return pulumi.all(values).apply((ds) => Object.fromEntries(services.map((s, i) => [s, ds[i]!])));
    }

    /** The compose file as deployed: from inline content or the fetched file, pinned and checked. */
    function normalizeCompose(): pulumi.Output<string> {
      const raw: pulumi.Output<string> = source
        ? source.stdout.apply(decodeSource)
        : validated(spec.compose.content!, (text) => {
            if (typeof text !== "string") throw new pulumi.ResourceError(`${subject}: compose/content: must be a string`, parent);
          });
      return pulumi.all([raw, digests]).apply(([text, ds]) => {
        try {
          return prepareCompose(text, planOf(spec, ds, args), subject);
        } catch (e) {
          throw e instanceof ConfigError ? new pulumi.ResourceError(e.message, parent) : e;
        }
      });
    }

    /** The `.env` text, values checked; written only once the compose file passed its check. */
    function normalizeEnv(): pulumi.Output<string> {
      const keys = Object.keys(spec.env).sort();
      const rendered = pulumi.all(keys.map((k) => pulumi.output(spec.env[k]!))).apply((values) => {
        try {
          return renderEnvFile(Object.fromEntries(keys.map((k, i) => [k, values[i]!])), subject, host.spec.compose);
        } catch (e) {
          throw e instanceof ConfigError ? new pulumi.ResourceError(e.message, parent) : e;
        }
      });
      return pulumi.all([rendered, composeText]).apply(([text]) => text);
    }

    function normalizeDeployTriggers(): pulumi.Input<unknown>[] {
      const filesHash = pulumi
        .all(spec.files.map((f) => pulumi.all([f.path, f.mode, pulumi.output(f.content)])))
        .apply((entries) => sha256(JSON.stringify(entries)));
      return [
        composeText.apply(sha256),
        envText.apply(sha256),
        filesHash,
        digests.apply((d) => Object.keys(d).sort().map((s) => `${s}=${d[s]}`)),
        ...spec.triggers,
      ];
    }

    function createDirectory() {
      return remoteTask(
        childName(name, "directory"),
        { host, run: { body: directoryBody(spec.directory, spec.directoryMode, parentDirs(spec.files.map((f) => f.path)), spec.directoryOwner) }, transform: hooks?.directory },
        { parent },
      );
    }

    function createSource() {
      const git = spec.compose.git!;
      return remoteTask(
        childName(name, "source"),
        {
          host,
          run: { body: gitSourceBody(spec.directory, git) },
          onDelete: { body: `rm -rf ${sh(sourceDir(spec.directory))}` },
          triggers: [git.url, git.ref, git.path, git.sparse],
          transform: hooks?.source,
        },
        { parent, dependsOn: [directory] },
      );
    }

    function createFiles(): Record<string, command.remote.Command> {
      const out: Record<string, command.remote.Command> = {};
      for (const f of spec.files) {
        const fileDaemon: Daemon = f.restart.length
          ? {
              ...daemon,
              reload: `if [ -f ${sh(`${spec.directory}/${spec.composeFile}`)} ]; then cd ${sh(spec.directory)} && ${composeCommand(host.spec, layout)} restart ${shArgs(f.restart)}; fi`,
            }
          : daemon;
        out[f.path] = remoteFile(
          childName(name, fileRole(f.path)),
          {
            host,
            // In place: compose bind-mounts files like nginx configs, and a mount keeps the old inode.
            target: { path: `${spec.directory}/${f.path}`, owner: "root", group: "root", mode: f.mode, inPlace: true },
            daemon: fileDaemon,
            content: f.content,
            secret: f.secret,
            transform: hooks?.file,
          },
          { parent, dependsOn: [directory] },
        );
      }
      return out;
    }

    function createEnv() {
      return remoteFile(
        childName(name, "env"),
        {
          host,
          target: { path: `${spec.directory}/${spec.envFile}`, owner: "root", group: "root", mode: "0600" },
          daemon,
          content: envText,
          // Always: any value may be a secret, and a hint of which ones are is a leak too.
          secret: true,
          transform: hooks?.env,
        },
        { parent, dependsOn: [directory, ...(source ? [source] : [])] },
      );
    }

    function createCompose() {
      return remoteFile(
        childName(name, "compose"),
        {
          host,
          target: { path: `${spec.directory}/${spec.composeFile}`, owner: "root", group: "root", mode: "0644" },
          daemon,
          content: composeText,
          transform: hooks?.compose,
        },
        // After .env and the mounted files: its `config -q` then checks the whole project.
        { parent, dependsOn: [directory, env, ...Object.values(files), ...(source ? [source] : [])] },
      );
    }

    function createUp() {
      return remoteTask(
        childName(name, "up"),
        {
          host,
          run: {
            body: upBody(host.spec, layout, {
              pull: spec.pull,
              build: spec.build,
              timeoutSeconds: spec.wait.timeoutSeconds,
              composeWait: spec.wait.composeWait,
              networks: networksOf(spec),
              ...(args.upChecks?.length ? { checks: args.upChecks, hostName: host.name } : {}),
            }),
            lock,
          },
          onDelete: { body: downBody(host.spec, layout, spec.deleteVolumes), lock },
          // Not triggers: a changed trigger replaces the command, and the replaced one's
          // delete (`down`) would then run right after the new `up`.
          revision: deployTriggers,
          transform: hooks?.up,
        },
        { parent, dependsOn: [composeFile, env, ...Object.values(files), ...(adopt ? [adopt] : [])] },
      );
    }

    /** Back up and remove what a hand-made deployment left under the project's names, before the first `up`. */
    function createAdopt(a: NonNullable<ComposeStackSpec["adopt"]>) {
      return remoteTask(
        childName(name, "adopt"),
        {
          host,
          // A container already in the project counts as hand-made until `up` first kept a good deploy here.
          run: { body: adoptBody(spec.project, a, spec.wait.timeoutSeconds > 0 ? lastGoodFile(spec.directory) : undefined), lock },
          // Once per set of names: a later deploy finds only the project's own.
          triggers: [spec.project, ...a.containers, ...a.networks, a.backupDir],
          transform: hooks?.adopt,
        },
        { parent, dependsOn: [composeFile, env, ...Object.values(files)] },
      );
    }

    function createTasks() {
      const tasks: Record<string, command.remote.Command> = {};
      const taskOutputs: Record<string, pulumi.Output<string>> = {};
      let previous: command.remote.Command = up;
      for (const t of spec.tasks) {
        const secretNames = Object.keys(t.secrets ?? {}).sort();
        const triggers = [...(t.triggers ?? []), ...(t.onDeploy && !t.once ? deployTriggers : [])];
        const cmd = remoteTask(
          childName(name, `task-${t.name}`),
          {
            host,
            run: { body: taskRunBody(host.spec, layout, t.run), secretNames },
            secrets: secretNames.map((n) => t.secrets![n]!),
            triggers,
            once: t.once,
            secretOutput: t.captureStdout,
            transform: hooks?.task,
          },
          { parent, dependsOn: [previous] },
        );
        tasks[t.name] = cmd;
        if (t.captureStdout) taskOutputs[t.name] = pulumi.secret(cmd.stdout);
        previous = cmd;
      }
      return { tasks, taskOutputs };
    }
  }

  static readonly __pulumiType = "fleet:compose:Stack";
}

/**
 * Every rule ComposeStack checks before it registers anything: the args, the env
 * values known now, and a plain compose file against them. Throws one ConfigError
 * (subject `ComposeStack "<name>"`). Exported so a component that builds a
 * ComposeStack as a child (AppDeployment) can refuse bad input before it registers
 * itself.
 */
export function checkComposeStack(name: string, args: ComposeStackArgs): ComposeStackSpec {
  const subject = `ComposeStack "${name}"`;
  const spec = parseOrThrow(subject, composeStackSchema, specOf(args));
  // Rules that depend on which compose reads the env file, for the values known now.
  const plainEnv = Object.fromEntries(Object.entries(spec.env).filter((e): e is [string, string] => typeof e[1] === "string"));
  const envIssues = envProblems(plainEnv, args.host.spec.compose);
  if (envIssues.length) throw new ConfigError(subject, envIssues);
  const checkIssues = (args.upChecks ?? []).flatMap((c, i) => [
    ...(/^[a-z][a-z0-9-]{0,62}$/.test(c.name) ? [] : [{ path: `upChecks/${i}/name`, message: "must be lowercase letters, digits and '-', starting with a letter" }]),
    ...(c.body.trim() === "" ? [{ path: `upChecks/${i}/body`, message: "must be a shell body that fails when the version is not healthy" }] : []),
    ...(spec.wait.timeoutSeconds === 0 ? [{ path: `upChecks/${i}`, message: "needs wait/timeoutSeconds above 0: the checks run once the containers settle" }] : []),
  ]);
  if (checkIssues.length) throw new ConfigError(subject, checkIssues);
  // A plain compose file is checked before anything exists (digests are not known
  // yet and do not matter to the check: a placeholder stands in).
  if (typeof spec.compose.content === "string") {
    prepareCompose(spec.compose.content, planOf(spec, mapValues(spec.images, () => PLACEHOLDER_DIGEST), args), subject);
  }
  return spec;
}

/** The external networks `up` makes sure of: `networks`, plus those a plain inline compose file declares. */
function networksOf(spec: ComposeStackSpec): string[] {
  const inline = typeof spec.compose.content === "string" ? externalNetworks(spec.compose.content, plainEnv(spec)) : [];
  return [...new Set([...spec.networks, ...inline])].sort();
}

function plainEnv(spec: ComposeStackSpec): Record<string, string> {
  return Object.fromEntries(Object.entries(spec.env).filter((e): e is [string, string] => typeof e[1] === "string"));
}

function specOf(args: ComposeStackArgs): unknown {
  const { host: _host, resolveDigest: _resolve, transform: _transform, upChecks: _checks, buildTrees: _trees, buildFix: _fix, ...spec } = args;
  return spec;
}

function mapValues<T, U>(record: Readonly<Record<string, T>>, fn: (value: T, key: string) => U): Record<string, U> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v, k)]));
}

/** What the compose file is checked against: env names, pinned images, services named by files, where builds may read (and what the roots hold, when read). */
function planOf(spec: ComposeStackSpec, digests: Readonly<Record<string, string>>, args: Pick<ComposeStackArgs, "buildTrees" | "buildFix">): ComposePlan {
  const services: Record<string, string> = {};
  spec.files.forEach((f, i) => f.restart.forEach((s, j) => (services[`files/${i}/restart/${j}`] = s)));
  const projectDirectory = spec.projectDirectory ?? spec.directory;
  return {
    env: Object.keys(spec.env),
    pins: mapValues(digests, (digest, service) => pinnedImage(spec.images[service]!.image, digest)),
    services,
    build: {
      build: spec.build,
      project: spec.project,
      tag: spec.buildTag,
      projectDirectory,
      envDirectory: spec.directory,
      roots: [
        { directory: projectDirectory, label: `the project directory ${projectDirectory}` },
        ...spec.buildRoots.map((d) => ({ directory: d, label: d })),
      ].map((r) => {
        const t = args.buildTrees && Object.hasOwn(args.buildTrees, r.directory) ? args.buildTrees[r.directory] : undefined;
        return t ? { directory: r.directory, label: t.label, tree: t.tree } : r;
      }),
      env: plainEnv(spec),
      fix: args.buildFix ?? "build from a directory inside projectDirectory or buildRoots (never the directory holding the .env), or pin a prebuilt image for the service (images)",
    },
  };
}
