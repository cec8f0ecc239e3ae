/**
 * Arguments of ComposeStack. Plain data + zod; no Pulumi value import.
 *
 * Values that may be Pulumi Outputs (env values, file contents, inline compose
 * content, task secrets) are checked here when they are plain strings and inside
 * `apply` otherwise (see `inputOf`).
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type CommandTransform } from "../../remote/command";
import { type TreeKind } from "../../git/files";
import { type Host } from "../../remote/host";
import { absolutePath, CONTROL, containerName, envName, envValue, fileMode, gitCommit, gitRef, gitUrl, imageRef, sha256Digest, slug, unixName } from "../../validation/primitives";

/** True for a value that is only known later: a Pulumi Output or a Promise. */
export function isDeferred(value: unknown): boolean {
  if (value instanceof Promise) return true;
  return typeof value === "object" && value !== null && typeof (value as { apply?: unknown }).apply === "function";
}

/**
 * A `pulumi.Input<T>`: a plain value is checked with `schema` now; an Output or
 * Promise passes here and is checked by the component inside `apply`.
 */
export function inputOf<T>(schema: z.ZodType<T>) {
  return z.custom<pulumi.Input<T>>(() => true).superRefine((value, ctx) => {
    if (isDeferred(value)) return;
    const result = schema.safeParse(value);
    if (result.success) return;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    }
  });
}

/** Check the keys of a record with `key`, reporting the bad key by name. */
function keysOf(key: z.ZodType<string>) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    for (const k of Object.keys(value)) {
      const r = key.safeParse(k);
      if (!r.success) ctx.addIssue({ code: "custom", path: [k], message: r.error.issues.map((i) => i.message).join("; ") });
    }
  };
}

/** A compose service name as compose accepts it. */
export const serviceName = z
  .string()
  .max(63, { error: "must be at most 63 characters" })
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, { error: "must be a compose service name: letters, digits, '_', '.' and '-', starting with a letter or digit" });

/** A compose file name inside the project directory. */
export const composeFileName = z
  .string()
  .max(255, { error: "must be at most 255 characters" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml$/, {
    error: "must be a file name ending in .yaml or .yml (letters, digits, '.', '_', '-'), such as compose.cloud.yml",
  });

/** A path below the project directory: `nginx/mnemosyne.conf`. No `..`, no hidden segments. */
export const projectPath = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/, {
    error: "must be a relative path such as nginx/app.conf: segments of letters, digits, '.', '_', '-', none starting with '.' or '-', no leading '/'",
  });

/** A file path inside a git repository: relative, no `.`/`..` segments. */
export const repoPath = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(/^[A-Za-z0-9._][A-Za-z0-9._-]*(\/[A-Za-z0-9._][A-Za-z0-9._-]*)*$/, {
    error: "must be a relative path inside the repository such as deploy/docker-compose.yaml (letters, digits, '.', '_', '-')",
  })
  .refine((v) => v.split("/").every((s) => s !== "." && s !== ".."), { error: "must not contain '.' or '..' segments" });


/** One argument of a task's argv after `compose`. Quoted for the shell, so any printable text is fine. */
const taskArgText = z
  .string()
  .max(4096, { error: "must be at most 4096 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters (newlines, tabs, NUL)" });

/** A task argv element: literal text, or `{ secret: NAME }` replaced by that task secret's value. */
export type ComposeTaskArg = string | { readonly secret: string };

const taskArg = z
  .custom<ComposeTaskArg>(
    (v) => typeof v === "string" || (typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { secret?: unknown }).secret === "string" && Object.keys(v).length === 1),
    { error: "must be a string or { secret: NAME }" },
  )
  .superRefine((v, ctx) => {
    const r = typeof v === "string" ? taskArgText.safeParse(v) : envName.safeParse(v.secret);
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: typeof v === "string" ? [] : ["secret"], message: issue.message });
  });

/** Shell variables a task secret must not replace: the script itself relies on them. */
const RESERVED_SHELL_NAMES = new Set(["PATH", "HOME", "IFS", "PWD", "OLDPWD", "SHELL", "USER", "LOGNAME", "ENV", "CDPATH", "LANG", "TERM", "OPTIND", "OPTARG", "PPID", "LINENO", "PS1", "PS2", "PS4"]);

/** A shell variable name for a task secret. */
const secretName = envName
  .refine((v) => !RESERVED_SHELL_NAMES.has(v) && !/^(LC_|DOCKER_|COMPOSE_|__)/.test(v), {
    error: "must not be a variable the shell, docker or compose relies on (PATH, HOME, IFS, LC_*, DOCKER_*, COMPOSE_*, __*)",
  });

export const composeTaskSchema = z
  .strictObject({
    /**
     * Task name; the child is `${name}-task-<name>`. Renaming re-runs the task.
     * @example "migrate"
     */
    name: slug,
    /**
     * Argv after the compose command (project, directory, file and env file are added
     * for you). Each element is quoted; `{ secret: "NAME" }` becomes that secret's value.
     * @example ["run", "--rm", "-T", "app", "migrate"]
     */
    run: z.array(taskArg).min(1, { error: "must name a compose subcommand such as run or exec" }).max(256, { error: "must have at most 256 elements" }),
    /** Extra values whose change re-runs the task (content hashes, versions; never timestamps). */
    triggers: z.array(z.custom<pulumi.Input<unknown>>(() => true)).max(64).optional(),
    /**
     * Re-run the task whenever the stack is redeployed (compose, env, files or digests
     * changed), like `run --rm app migrate` after every upgrade. Ignored with `once`.
     * @default true
     */
    onDeploy: z.boolean().default(true),
    /**
     * Run exactly once, never again (its output, e.g. a generated signing key, is kept).
     * :::caution Changing anything of a once-task afterwards has no effect. :::
     * @default false
     */
    once: z.boolean().default(false),
    /**
     * Secret values by shell variable name, sent on stdin (never in command text);
     * reference them in `run` with `{ secret: "NAME" }`. They do appear in the argv of
     * the compose process on the host while it runs, as they would with a shell.
     */
    secrets: z.record(z.string(), inputOf(z.string().max(65536, { error: "must be at most 64 KiB" }))).superRefine(keysOf(secretName)).optional(),
    /** Keep stdout as a secret output (`taskOutputs[name]`), never logged. @default false */
    captureStdout: z.boolean().default(false),
  })
  .superRefine((t, ctx) => {
    const first = t.run[0];
    if (typeof first !== "string" || !/^[a-z][a-z-]*$/.test(first)) {
      ctx.addIssue({ code: "custom", path: ["run", 0], message: "must be a compose subcommand such as run, exec or restart (global options are set by the stack)" });
    }
    const declared = new Set(Object.keys(t.secrets ?? {}));
    const used = new Set<string>();
    t.run.forEach((arg, i) => {
      if (typeof arg === "string") return;
      used.add(arg.secret);
      if (!declared.has(arg.secret)) ctx.addIssue({ code: "custom", path: ["run", i, "secret"], message: `names no secret; declare secrets.${arg.secret}` });
    });
    for (const name of declared) {
      if (!used.has(name)) ctx.addIssue({ code: "custom", path: ["secrets", name], message: `is never used; reference it in run as { secret: "${name}" } or remove it` });
    }
  });

export const composeGitSchema = z.strictObject({
  /** Repository URL (https or ssh); the host must be able to fetch it (deploy key, token in its git config). */
  url: gitUrl,
  /**
   * Pinned tag or commit. A change re-fetches and redeploys. A branch name is
   * fetched again only when this value changes, not when the branch moves.
   * @example "v1.4.2"
   */
  ref: gitRef,
  /** The compose file inside the repository. @example "docker-compose.yaml" */
  path: repoPath,
  /** Check out only `path` (sparse checkout). @default false */
  sparse: z.boolean().default(false),
  /**
   * The commit `ref` named at preview (`src/git/sources.ts`): the host fetches this
   * commit even if the ref has moved since, so the file deployed is the one checked.
   * @default whatever `ref` names when the host fetches it
   */
  commit: gitCommit.optional(),
});

/** A Docker network name. */
export const networkName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, { error: "must be a Docker network name: letters, digits, '_', '.' and '-', starting with a letter or digit" });

export const composeSourceSchema = z
  .strictObject({
    /** Compose YAML rendered by the caller (e.g. from `templates/<app>/`). */
    content: inputOf(z.string().max(1048576, { error: "must be at most 1 MiB" })).optional(),
    /** Compose file kept in an application repository, fetched on the host at a pinned ref. */
    git: composeGitSchema.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.content === undefined) === (v.git === undefined)) {
      ctx.addIssue({ code: "custom", path: [], message: "give exactly one of content or git" });
    }
  });

export const composeImageSchema = z.strictObject({
  /**
   * The image and tag the service runs; the deployed compose file references it by digest.
   * @example "git.helu.ca/r/mnemosyne:latest"
   */
  image: imageRef.refine((v) => !v.includes("@"), { error: "must not contain a digest; set digest instead" }),
  /**
   * Pin this digest instead of resolving the tag (rollback: pin an earlier digest in config).
   * @default none (resolved from the registry at preview time)
   */
  digest: sha256Digest.optional(),
});

export const composeFileSchema = z.strictObject({
  /** Path below the project directory. @example "nginx/mnemosyne.conf" */
  path: projectPath,
  /** The file's bytes. */
  content: inputOf(z.string().max(1048576, { error: "must be at most 1 MiB" })),
  /** @default "0644" */
  mode: fileMode.default("0644"),
  /** The content holds secrets: stored as a secret, never logged. @default false */
  secret: z.boolean().default(false),
  /**
   * Services restarted when the file changes, e.g. `["web"]` for an nginx config it
   * mounts (a daemon reads its config at start; the file is replaced in place so a
   * bind mount keeps seeing it). A failed restart restores the previous file.
   * @default []
   */
  restart: z.array(serviceName).max(64).default([]),
});

/** Where a file lands as a resource-name role: `nginx/app.conf` → `file-nginx-app.conf`. */
export function fileRole(path: string): string {
  return `file-${path.replace(/\//g, "-")}`;
}

export const composeStackSchema = z
  .strictObject({
    /**
     * Compose project name (`--project-name`). Changing it starts a second project.
     * @example "mnemosyne"
     */
    project: slug,
    /**
     * Project directory on the host, created with `directoryMode` and `directoryOwner`.
     * A git-sourced compose file is checked out in `<directory>/.src`.
     * @example "/opt/mnemosyne"
     */
    directory: absolutePath.refine((v) => v !== "/" && v.split("/").length >= 3, { error: "must be a dedicated directory at least two levels deep, such as /opt/app" }),
    /** Mode of the project directory and of the subdirectories holding `files`. @default "0750" */
    directoryMode: fileMode.default("0750"),
    /**
     * Owner and group of the project directory and those subdirectories (the files in
     * it stay root's). Set it when the directory is also an app's home, as in Daedalus'
     * dev variant under /srv/daedalus.
     * @default { user: "root", group: "root" }
     */
    directoryOwner: z.strictObject({ user: unixName.default("root"), group: unixName.default("root") }).default({ user: "root", group: "root" }),
    /** The compose file: inline content or a file in a git repository. */
    compose: composeSourceSchema,
    /** Name of the deployed compose file in the project directory. @default "docker-compose.yaml" */
    composeFile: composeFileName.default("docker-compose.yaml"),
    /**
     * Name of the env file compose reads (`--env-file`) in the project directory. Change
     * it when something else owns `.env` there (e.g. an app that reads its own `.env`).
     * @default ".env"
     */
    envFile: z
      .string()
      .max(255, { error: "must be at most 255 characters" })
      .regex(/^\.?[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: "must be a file name such as .env or .compose.env (letters, digits, '.', '_', '-')" })
      .refine((v) => v !== ".src", { error: "must not be .src (the git checkout of a git-sourced compose file)" })
      .default(".env"),
    /**
     * Variables for compose interpolation, written to `<directory>/<envFile>` (mode 0600,
     * always a secret, values single-quoted). Every `${VAR}` without a default in the
     * compose file must be here.
     * @default {}
     */
    env: z.record(z.string(), inputOf(envValue)).superRefine(keysOf(envName)).default({}),
    /** Extra files below the directory, e.g. an nginx config the compose file mounts. @default [] */
    files: z.array(composeFileSchema).max(256).default([]),
    /**
     * Services whose image is pinned by digest in the deployed compose file.
     * @example { app: { image: "git.helu.ca/r/mnemosyne:latest" } }
     * @default {}
     */
    images: z.record(z.string(), composeImageSchema).superRefine(keysOf(serviceName)).default({}),
    /**
     * External networks the compose file needs (`networks: {x: {external: true}}`):
     * created on the host when missing, before `up` (compose refuses to start without
     * them); never removed (other projects may use them). Those an inline compose file
     * declares are added by the component.
     * @default []
     */
    networks: z.array(networkName).max(64).default([]),
    /** `pull` before `up` (refreshes images not pinned through `images`). @default false */
    pull: z.boolean().default(false),
    /**
     * `up --build`: build the services that have a `build:` section (except those of
     * `images`, run from their prebuilt image with their `build:` removed). Each build
     * context, Dockerfile and additional context must lie inside `projectDirectory` or
     * `buildRoots`, and never be (or hold) `directory`, which holds the `.env`: anything
     * else is refused before the compose file is written, naming the service and the
     * context. Without it, a service with a `build:` section that `images` does not pin
     * is refused (nothing would build it).
     * @default false
     */
    build: z.boolean().default(false),
    /**
     * Tag of the images built (`build`): each built service gets `image:
     * <project>-<service>:<buildTag>` in the deployed file, e.g. the commit it is built
     * from, so every commit's image stays apart and a rollback runs the image it built.
     * @default none (compose's own `<project>-<service>` name)
     * @example "3f2a9c1d0b7e"
     */
    buildTag: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: "must be an image tag: letters, digits, '_', '.' and '-', at most 128, such as a commit id" })
      .optional(),
    /**
     * Where compose resolves the compose file's relative paths (`--project-directory`):
     * build contexts, bind mounts. Set it to the app's checkout when that is not
     * `directory` (which holds the `.env`, the compose file and nothing of the app).
     * @default `directory`
     * @example "/opt/peregrine-cloud/src/peregrine"
     */
    projectDirectory: absolutePath.optional(),
    /**
     * Other directories builds may read from besides `projectDirectory`: declared
     * sibling checkouts (e.g. `/opt/peregrine-cloud/src/circuitforge-core` for a
     * context `../circuitforge-core`).
     * @default []
     */
    buildRoots: z.array(absolutePath).max(16).default([]),
    /**
     * Also remove the project's named volumes when the stack is deleted (`down --volumes`).
     * :::caution Deleting the stack then deletes the data in those volumes. :::
     * @default false (volumes are kept: a later deploy of the same project finds its data)
     */
    deleteVolumes: z.boolean().default(false),
    /**
     * Extra values whose change re-runs `up` and the `onDeploy` tasks, e.g. the source
     * revision a `build:` service is built from. Content hashes or versions, never timestamps.
     * @default []
     */
    triggers: z.array(z.custom<pulumi.Input<unknown>>(() => true)).max(64).default([]),
    /**
     * Bounded wait after `up`: every service with a healthcheck healthy, one-shot services
     * exited 0, nothing else restarting. `0` does not wait.
     * @default { timeoutSeconds: 300, composeWait: true }
     */
    wait: z
      .strictObject({
        timeoutSeconds: z
          .number({ error: "must be a number" })
          .int({ error: "must be a whole number of seconds" })
          .min(0, { error: "must be between 0 and 3600 seconds" })
          .max(3600, { error: "must be between 0 and 3600 seconds" })
          .default(300),
        /**
         * On compose v2 hosts, also pass `up --wait --wait-timeout`. Turn off for a
         * compose release whose `--wait` fails on one-shot services that exit 0; the
         * container check runs either way.
         * @default true
         */
        composeWait: z.boolean().default(true),
      })
      .default({ timeoutSeconds: 300, composeWait: true }),
    /** One-shot commands run after `up`, in order. @default [] */
    tasks: z.array(composeTaskSchema).max(64).default([]),
    /**
     * Adopt a deployment made by hand before this project (child `-adopt`, run before
     * `up`): each container named here that exists outside the project is backed up
     * (`docker inspect` and a tar of each of its volumes, taken while it is stopped, into
     * `backupDir/<container>-<UTC time>/`), then removed, so compose creates its own under
     * the same name on the volumes it already had (reused by name). Each network named
     * here that exists without being the project's is removed once no container uses it,
     * or the adoption fails naming the containers still on it. A listed container that is
     * already in the project counts as made by hand too while `up` has never come up here
     * (no `<directory>/.fleet/last-good.yaml`; with `wait.timeoutSeconds` above 0). Nothing
     * happens when nothing foreign runs, so it is safe on every deploy.
     * :::caution The old containers are removed after their backup: their data must live
     * in volumes or bind mounts (a container's own writable layer is in the backup's
     * `docker inspect` only, not copied). :::
     * @default none
     * @example { containers: ["daarion-postgres"], networks: ["daarion_net"], backupDir: "/opt/microdao-daarion/backups/adopted" }
     */
    adopt: z
      .strictObject({
        containers: z.array(containerName).min(1, { error: "must name at least one container" }).max(128),
        networks: z.array(containerName).max(16).default([]),
        backupDir: absolutePath,
      })
      .optional(),
  })
  .superRefine((v, ctx) => {
    if (v.envFile === v.composeFile) ctx.addIssue({ code: "custom", path: ["envFile"], message: `must differ from composeFile (${v.composeFile})` });
    const roles = new Map<string, number>();
    v.files.forEach((f, i) => {
      if (f.path === v.composeFile) ctx.addIssue({ code: "custom", path: ["files", i, "path"], message: `is the compose file itself (composeFile: ${v.composeFile})` });
      if (f.path === v.envFile) ctx.addIssue({ code: "custom", path: ["files", i, "path"], message: `is the env file itself (envFile: ${v.envFile})` });
      const role = fileRole(f.path);
      const prev = roles.get(role);
      if (prev !== undefined) ctx.addIssue({ code: "custom", path: ["files", i, "path"], message: `maps to the same resource name as files/${prev}/path (${role}); rename one` });
      else roles.set(role, i);
    });
    const names = new Set<string>();
    v.tasks.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: "custom", path: ["tasks", i, "name"], message: `duplicate task name "${t.name}"` });
      names.add(t.name);
    });
  });

export type ComposeStackSpecInput = z.input<typeof composeStackSchema>;
export type ComposeStackSpec = z.output<typeof composeStackSchema>;
export type ComposeTaskSpec = z.output<typeof composeTaskSchema>;
export type ComposeGitSpec = z.output<typeof composeGitSchema>;

export interface ComposeGitSource {
  readonly url: string;
  readonly ref: string;
  readonly path: string;
  readonly sparse?: boolean;
  /** The commit `ref` named at preview; the host fetches exactly it. @default what `ref` names on the host */
  readonly commit?: string;
}

/** Inline content, or a file in a git repository fetched on the host. */
export type ComposeSource = { readonly content: pulumi.Input<string> } | { readonly git: ComposeGitSource };

/** A build root's tree at its commit and how messages name the root (`ComposeStackArgs.buildTrees`). */
export interface BuildTree {
  /** E.g. `the checkout of https://…/peregrine.git at v2.3.0 (3f2a…)`. */
  readonly label: string;
  /** Every path at the commit and its kind. @default not read: only the label is used */
  readonly tree?: ReadonlyMap<string, TreeKind> | undefined;
}

export interface ComposeStackArgs extends Omit<ComposeStackSpecInput, "compose"> {
  /** The Docker host. `host.spec.compose` picks `docker compose` (v2) or `docker-compose` (v1). */
  host: Host;
  /** The compose file: `{ content }` rendered by the caller, or `{ git: { url, ref, path } }`. */
  compose: ComposeSource;
  /**
   * Resolve an image tag to its digest. Libraries and tests inject their own.
   * @default the registry's digest through the docker provider's `getRegistryImage`, read by a provider that needs no Docker daemon (`<name>-registry`, created when an image has no pinned digest)
   */
  resolveDigest?: (image: string) => pulumi.Input<string>;
  /**
   * What the build roots hold at the commits they are checked out at, read at preview
   * (`git ls-tree`, `src/git/files.ts`), by directory (`projectDirectory` or one of
   * `buildRoots`), and how messages name each root. With a root's tree, a build context or
   * additional context there must be a directory at that commit reached through no symbolic
   * link or submodule, and its Dockerfile a file there; anything else is refused before
   * anything is registered. AppDeployment gives its checkout's (`source.tree`).
   * @default none: only where the contexts resolve is checked
   * @example { "/opt/peregrine-cloud/src/circuitforge-core": { label: "sibling circuitforge-core", tree } }
   */
  buildTrees?: Readonly<Record<string, BuildTree>>;
  /**
   * The fix a refused build names, e.g. in the caller's config keys; `<service>` stands for
   * the service.
   * @default "build from a directory inside projectDirectory or buildRoots (never the directory holding the .env), or pin a prebuilt image for the service (images)"
   */
  buildFix?: string;
  /**
   * Checks of a new version that `up` runs on the host once its containers settle (POSIX
   * sh bodies, non-zero exit = not healthy, e.g. `healthCheckScript`; AppDeployment passes
   * its checks that run on the app's host before the route). The first that fails rolls
   * the project back to the last deploy that came up, like a service that did not come
   * up, and `up` fails naming the check and the host. Changing them re-runs nothing by
   * itself. Needs `wait.timeoutSeconds` above 0.
   * @default none
   */
  upChecks?: readonly { readonly name: string; readonly body: string }[];
  transform?: {
    /** The task creating the project directory. */
    directory?: CommandTransform;
    /** The task fetching the compose file from git. */
    source?: CommandTransform;
    /** The `.env` file. */
    env?: CommandTransform;
    /** The compose file. */
    compose?: CommandTransform;
    /** Every extra file (the callback gets the child name). */
    file?: CommandTransform;
    /** The pull/up/wait task (its delete runs `down`). */
    up?: CommandTransform;
    /** Every task (the callback gets the child name). */
    task?: CommandTransform;
    /** The adoption of a hand-made deployment (with `adopt`). */
    adopt?: CommandTransform;
  };
}
