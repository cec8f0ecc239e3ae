/**
 * Arguments of AppDeployment: one app deployed the one way every stack deploys apps
 * (source checkout at a ref → compose project or systemd service → route → checks →
 * scrape job, with one-time tasks around it). The children's args are the child
 * components' own Args types, so every option of ComposeStack, CaddyRoute,
 * HAProxyRoute, NginxSite, HealthCheck, RemoteTask, SystemdUnit and PrometheusScrape
 * is there; this file adds what ties them together (ordering, re-run triggers) and
 * the rules for it. Plain data + zod; no Pulumi value import.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type CaddyRouteArgs } from "../caddy/args";
import { type ComposeStackArgs } from "../compose/args";
import { type HAProxyRouteArgs } from "../haproxy/args";
import { type HealthCheckArgs } from "../health/args";
import { type directoriesSchema, type systemUserSchema } from "../host/system";
import { type NginxSiteArgs } from "../nginx/args";
import { type PrometheusScrapeArgs } from "../prometheus/args";
import { type SystemdUnitArgs } from "../systemd/args";
import { type RemoteTaskArgs } from "../task/args";
import { type CommandTransform } from "../../remote/command";
import { type TreeKind } from "../../git/files";
import { type Host } from "../../remote/host";
import { type Transform } from "../../transform";
import { absolutePath, envName, fileMode, gitCommit, gitRef, gitUrl, slug, unixName } from "../../validation/primitives";

/**
 * Steps of the deployment a check, a task or the route can wait for:
 * - `source`: the checkout of `source` at its ref;
 * - `up`: the compose project's `up` (or the systemd service's unit and restart);
 * - `deployment`: the whole compose project, its tasks included (or the service);
 * - `route`: the route;
 * - `env`: the app's own `.env` (`envFile`);
 * - `site`: the app's web server on its host (`site`).
 * Besides these, the key of a task in `tasks` waits for that task, and a check may
 * wait for a check declared before it.
 */
export const APP_STEPS = ["source", "up", "deployment", "route", "env", "site"] as const;
export type AppStep = (typeof APP_STEPS)[number];

/**
 * What re-runs a check or a task besides its own settings: `revision` (the source's
 * `<url>#<ref>`, `@<commit>` added when pinned), `compose` (the compose file as
 * deployed, images pinned), `images` (the pinned image per service), `env` (the app's
 * `.env`, as a secret hash), `service` (the systemd unit's content hash).
 */
export const APP_RERUN_ON = ["revision", "compose", "images", "env", "service"] as const;
export type AppRerunOn = (typeof APP_RERUN_ON)[number];

/** Child roles the component names itself (`<name>-<role>`); check and task keys must differ from them. */
export const APP_RESERVED_ROLES = ["user", "checkout", "data", "env", "compose", "service", "site", "route", "scrape"] as const;
export type AppChildRole = (typeof APP_RESERVED_ROLES)[number];

/** A key of `checks` or `tasks`: the child is named `<name>-<key>`. */
export const appRole = slug.refine((v) => !(APP_RESERVED_ROLES as readonly string[]).includes(v), {
  error: `must not be one of the component's own child roles (${APP_RESERVED_ROLES.join(", ")})`,
});

export const appSourceSchema = z.strictObject({
  /** Repository URL (https or ssh); the host must be able to fetch it. */
  url: gitUrl,
  /** Pinned tag, branch or commit. A change re-fetches and redeploys. */
  ref: gitRef,
  /**
   * The commit `ref` named when it was resolved (at preview, `src/git/refs.ts`): the
   * checkout refuses a ref that has moved to a commit it cannot fetch, and the revision
   * becomes `<url>#<ref>@<commit>`, so a branch that moved redeploys.
   * @default whatever `ref` names when the checkout runs
   */
  commit: gitCommit.optional(),
  /**
   * Where the repository is checked out (the tree itself: `.git` inside it). Untracked
   * files beside the tracked ones (`.env`, a ComposeStack's `.src`) are kept. Without
   * it nothing is checked out: the revision only names what is deployed (say, a compose
   * file fetched from the repository) and re-runs what depends on it.
   * @default no checkout
   */
  directory: absolutePath.optional(),
  /**
   * Make the directory (`install -d -m 0750`) before checking out into it. `false`: the
   * directory is one of `data` (made there, with its owner and mode, before the
   * checkout) and the checkout only enters it.
   * @default true
   */
  createDirectory: z.boolean().optional(),
  /**
   * Serialise the checkout with this lock; `false`: with nothing.
   * @default the compose project's lock, `compose-<project>`; none for a service
   */
  lock: z.union([slug, z.literal(false)]).optional(),
  /** Run the checkout as this user. @default root */
  user: unixName.optional(),
  /**
   * The repository's files at `commit`, read at preview (`resolveSources`): the checks
   * that need the app's own files run on them before anything is registered (the
   * compose file fetched from this repository: every `${VAR}` set, the route's port
   * published, its external networks created before `up`). A path missing here was not
   * in the repository. Omit it when the files were not read (an offline render).
   * @default not read: those checks run on the host during `up`
   */
  files: z.record(z.string(), z.string()).optional(),
  /**
   * Every path of the repository at `commit` and its kind (`git ls-tree`, read at preview
   * with `files`): the compose project's builds from the checkout (`directory`) are then
   * checked on it before anything is registered (a context a directory there, reached
   * through no symbolic link or submodule; its Dockerfile a file).
   * @default not read: only where the contexts resolve is checked
   */
  tree: z.custom<ReadonlyMap<string, TreeKind>>((v) => v instanceof Map, { error: "must be the tree read at preview (a Map of path → kind)" }).optional(),
});
export type AppSourceInput = z.input<typeof appSourceSchema>;
export type AppSource = z.output<typeof appSourceSchema>;

/** The order and re-run settings of a check, a task or the route. */
export const appAfterSchema = z.array(z.string()).max(16);
export const appRerunOnSchema = z.array(z.enum(APP_RERUN_ON, { error: `must be one of ${APP_RERUN_ON.join(", ")}` })).max(3);
export const appPhaseSchema = z.enum(["before", "after"], { error: "must be before (the deployment waits for it) or after (it waits for the deployment)" });

/** `<url>#<ref>` (`@<commit>` added when pinned): the revision deployed, as a trigger. */
export function appRevision(source: { readonly url: string; readonly ref: string; readonly commit?: string | undefined }): string {
  return `${source.url}#${source.ref}${source.commit !== undefined ? `@${source.commit}` : ""}`;
}

export type SystemUserInput = z.input<typeof systemUserSchema>;

/**
 * The app's own `.env` (child `-env`): `KEY='value'` lines, sorted, written 0600 and
 * stored as a secret, for a systemd unit's `EnvironmentFile=` or a compose service's
 * `env_file`. Its hash restarts the service (or rebuilds the compose project) and
 * re-runs what lists `rerunOn: ["env"]`.
 */
export const appEnvFileSchema = z.strictObject({
  /** Where the file goes. A change moves it (the old file is removed). */
  path: absolutePath,
  /** @default "root" */
  owner: unixName.optional(),
  /** @default the owner */
  group: unixName.optional(),
  /** @default "0600" */
  mode: fileMode.optional(),
  /** Serialise writes with this lock. @default the app's name */
  lock: slug.optional(),
});
export type AppEnvFile = z.output<typeof appEnvFileSchema>;
export interface AppEnvFileArgs extends z.input<typeof appEnvFileSchema> {
  /**
   * The variables (`KEY: value`); names and plain values are checked before anything
   * is registered, Output values when they resolve.
   * @example { APP_ENV: "production", DATABASE_URL: db.url }
   */
  values: Record<string, pulumi.Input<string>>;
}

/** The app's web server on its own host: NginxSite's args without the host. */
export type AppSiteArgs = Omit<NginxSiteArgs, "host"> & {
  /**
   * Steps it waits for, or task keys (not `route`: the route may wait for the site).
   * @default ["up"]
   * @example ["frontend"]
   */
  after?: string[];
};


export type DirectoriesArgs = z.input<typeof directoriesSchema> & { host: Host; transform?: { command?: CommandTransform } };

/** A health check of the app: HealthCheck's args, its host defaulting to the app's. */
export interface AppCheckArgs extends Omit<HealthCheckArgs, "host"> {
  /** Where the check runs. @default the app's host */
  host?: Host;
  /**
   * Steps it waits for (see {@link AppStep}), task keys, or keys of checks declared
   * before it.
   * @default ["up"]
   * @example ["deployment", "route"]
   */
  after?: string[];
  /**
   * What else re-runs it (see {@link AppRerunOn}); added before `triggers`.
   * @default []
   * @example ["revision", "compose"]
   */
  rerunOn?: AppRerunOn[];
}

/** A one-time task of the app: RemoteTask's args, its host defaulting to the app's. */
export interface AppTaskArgs extends Omit<RemoteTaskArgs, "host"> {
  /** Where the task runs. @default the app's host */
  host?: Host;
  /**
   * `before`: the deployment (`up`, or the service's restart) waits for it;
   * `after`: it waits for the deployment.
   * @default "after"
   */
  phase?: "before" | "after";
  /**
   * Steps it waits for (see {@link AppStep}), or keys of tasks declared before it; not
   * `route` or `site` (they may wait for a task).
   * @default ["deployment"] after, [] before (plus `source` when there is a source)
   */
  after?: string[];
  /**
   * What else re-runs it (see {@link AppRerunOn}); added before `triggers`.
   * @default []
   * @example ["revision", "env"]
   */
  rerunOn?: AppRerunOn[];
}

/** Where requests reach the app: exactly one kind. */
export type AppRouteArgs = (
  | { caddy: CaddyRouteArgs; haproxy?: never; nginx?: never }
  | { haproxy: HAProxyRouteArgs; caddy?: never; nginx?: never }
  | { nginx: NginxSiteArgs; caddy?: never; haproxy?: never }
) & {
  /**
   * Steps the route waits for, task keys, or keys of checks that do not wait for the
   * route: by default it is switched once the app is up and every such check passed
   * (a new version that is not healthy is never routed to), and, on delete, unrouted
   * before the app goes down.
   * @default ["up", ...every check that does not wait for the route]
   */
  after?: string[];
};

export interface AppDeploymentArgs {
  /** The host the app runs on. */
  host: Host;
  /**
   * The system user the app runs as (child `-user`: SystemUser's args without the host),
   * made before `data` and the checkout.
   * @example { name: "daedalus", home: "/srv/daedalus" }
   */
  user?: SystemUserInput;
  /**
   * The app's repository at a pinned ref, checked out into `source.directory`
   * (child `-checkout`; no checkout without a directory). The revision re-runs the checkout, rebuilds/restarts the
   * compose project or service, and re-runs what lists `rerunOn: ["revision"]`.
   */
  source?: AppSourceInput;
  /** Directories made before the app (child `-data`, after `-user`): data roots, layouts. */
  data?: DirectoriesArgs["directories"];
  /**
   * The app's own `.env` (child `-env`, after `-data`): see {@link AppEnvFileArgs}. The
   * service's restart (or the compose project) waits for it and its hash re-runs them.
   */
  envFile?: AppEnvFileArgs;
  /**
   * The app as a compose project (child `-compose`): ComposeStack's args without the
   * host. With `source`, the directory waits for the checkout and the revision is
   * the first of its `triggers`. Exactly one of `compose` and `service`.
   */
  compose?: Omit<ComposeStackArgs, "host">;
  /** The app as a systemd service (child `-service`): SystemdUnit's args without the host. */
  service?: Omit<SystemdUnitArgs, "host">;
  /**
   * Secret `.env` values of the compose project (`KEY: value`), marked secret and
   * merged before `compose.env` (a key in both is an error).
   */
  secrets?: Record<string, pulumi.Input<string>>;
  /**
   * The app's web server on its host (child `-site`): an nginx site serving built
   * static files and proxying to the service. The public route (`route`) is separate.
   */
  site?: AppSiteArgs;
  /** The route (child `-route`): a Caddy route, an HAProxy route or an nginx site. */
  route?: AppRouteArgs;
  /** Health checks after each deployment (child `-<key>` each), e.g. `health`, `health-via-caddy`. */
  checks?: Record<string, AppCheckArgs>;
  /** One-time tasks around the deployment (child `-<key>` each), e.g. `migrate`. */
  tasks?: Record<string, AppTaskArgs>;
  /** The Prometheus scrape job (child `-scrape`), on the Prometheus host. */
  scrape?: PrometheusScrapeArgs;
  /**
   * Other names for the children the component names itself, for an app whose
   * resources already exist under other names (renaming a resource that writes files
   * changes what a deployment records; with `aliases` it is kept, but its name shows
   * everywhere). Each must be the app's name or start with `<name>-`.
   * @default `<name>-<role>`
   * @example { compose: "mnemosyne" }
   */
  names?: Partial<Record<AppChildRole, string>>;
  /** One hook per child (SST style): a partial object merged into its args, or a callback that may change args and options (e.g. `aliased(...)`). */
  transform?: {
    /** The system user. */
    user?: Transform<SystemUserInput & { host: Host; transform?: { command?: CommandTransform } }>;
    /** The `.env` file's command. */
    env?: CommandTransform;
    /** The checkout task. */
    checkout?: Transform<RemoteTaskArgs>;
    /** The directories. */
    data?: Transform<DirectoriesArgs>;
    /** The compose project. */
    compose?: Transform<ComposeStackArgs>;
    /** The systemd service. */
    service?: Transform<SystemdUnitArgs>;
    /** The site on the app's host. */
    site?: Transform<NginxSiteArgs>;
    /** The route, whichever kind (a callback: the kinds' args differ). */
    route?: (args: CaddyRouteArgs | HAProxyRouteArgs | NginxSiteArgs, opts: pulumi.CustomResourceOptions, name: string) => void;
    /** The scrape job. */
    scrape?: Transform<PrometheusScrapeArgs>;
    /** Each check, by key. */
    checks?: Record<string, Transform<HealthCheckArgs>>;
    /** Each task, by key. */
    tasks?: Record<string, Transform<RemoteTaskArgs>>;
  };
}

/** Keys a secret may have. */
export const appSecretName = envName;
