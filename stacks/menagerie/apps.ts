/**
 * The apps of the menagerie cloud (the Peregrine seed's "Adding a New App to the
 * Cloud"): the per-app config entry and what every app of one cloud shares, the rules
 * between them, and each app as an {@link AppDeployment} of the library — the app's
 * `compose.cloud.yml` from its repository at a pinned ref as compose project
 * `<slug>-cloud`, with `CLOUD_MODE=true`, `CLOUD_DATA_ROOT` and the cloud's shared
 * secrets in its `.env`; a Caddy `handle /<slug>*` route on the shared site proxying to
 * the app's port with the session cookie passed as `X-CF-Session`; the data root; and
 * health checks on the port and through Caddy. The public demo is one more
 * AppDeployment ({@link demoApp}).
 *
 * The seed's "Adding a New App to the Cloud" has six steps. Steps 1–3 are changes to
 * the app's code, not infrastructure, and must be in the ref deployed:
 * 1. `resolve_session("<slug>")` at the top of each page (`cloud_session.py`);
 * 2. `get_db_path()` instead of `DEFAULT_DB`;
 * 3. `app/telemetry.py` and `log_usage_event()` at key actions.
 * Step 4 (`compose.cloud.yml` with the port, `CLOUD_MODE=true` and the data mount) is
 * also the app's: the file must publish `port` on an address the Caddy container
 * reaches through `upstreamHost` (e.g. `"8506:8501"`, not `127.0.0.1:8506:8501`) and
 * bind-mount `${CLOUD_DATA_ROOT}`. Every `${VAR}` it uses must be set (checked on
 * the host before anything is written). Step 5 is the route added here; step 6
 * (`<data_root>/<user-id>/<slug>/`) the app does on first login.
 *
 * With `build` (the default) the repository is checked out into `<directory>/src/<slug>`
 * at the commit its ref named at preview, and compose runs with that checkout as its
 * project directory (build contexts and relative mounts resolve there), while the
 * project directory `<directory>` keeps `.env`, the compose file and nothing of the
 * app's tree: a build context never holds the `.env`. Every build context must lie in
 * the checkout or in a declared sibling checkout (`siblings`, `<directory>/src/<name>`,
 * each at its own pinned ref); built images are tagged `<project>-<service>:<commit12>`.
 * `build: false` runs prebuilt images (`images`) instead, and builds nothing. Both mix in
 * one app: with `build`, a service pinned in `images` runs that image (its `build:`
 * section, if any, dropped) while the other services with a `build:` section are built.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { AppDeployment, type AppDeploymentArgs } from "../../src/components/app";
import { type CaddyRouteArgs } from "../../src/components/caddy/args";
import { type AppTaskArgs, appRevision } from "../../src/components/app/args";
import { projectNames } from "../../src/components/compose/inspect";
import { type BuildTree, composeFileName, composeStackSchema } from "../../src/components/compose/args";
import { composeLock } from "../../src/components/compose/project";
import { type TreeKind } from "../../src/git/files";
import { type ResolvedSource } from "../../src/git/sources";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { type Host } from "../../src/remote/host";
import { aliased } from "../../src/transform";
import { type Problem } from "../../src/validation/errors";
import { routeLimitsSchema } from "../../src/validation/limits";
import {
  absolutePath,
  containerName,
  domainName,
  envName,
  envValue,
  fileMode,
  gitRef,
  gitUrl,
  hostname,
  oneLine,
  port,
  slug,
  unixName,
  urlPath,
} from "../../src/validation/primitives";

// ---------------------------------------------------------------------------
// Small rules.

/**
 * An app slug: the route `/<slug>*`, the compose project `<slug>-cloud`, the app's
 * directory under the data root (`<data_root>/<user-id>/<slug>/`, made by the app).
 */
export const appSlug = z
  .string()
  .min(2, { error: "must be 2 to 32 characters" })
  .max(32, { error: "must be 2 to 32 characters" })
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, {
    error: "must be lowercase letters and digits in words joined by single '-', starting with a letter (e.g. falcon)",
  });

/** The host port an app publishes: unprivileged, so no app takes 80/443 from Caddy. */
export const appPort = z
  .number({ error: "must be a number" })
  .int({ error: "must be an integer" })
  .min(1024, { error: "must be between 1024 and 65535 (an unprivileged port; 80 and 443 belong to Caddy)" })
  .max(65535, { error: "must be between 1024 and 65535 (an unprivileged port; 80 and 443 belong to Caddy)" });

/** Directories a data root must not be, or be under: the system's own. */
const SYSTEM_DIRS = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var/run", "/var/lib/docker"];

/** True when `path` is `dir` or below it. */
export function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir.replace(/\/+$/, "")}/`);
}

/**
 * What is wrong with a directory that holds user data or an app: the root, a
 * top-level directory such as /opt, a system directory, or anything below one.
 */
export function dataPathProblems(path: string): string[] {
  const out: string[] = [];
  const segments = path.split("/").filter((s) => s !== "");
  if (segments.length < 2) out.push("must be a dedicated directory at least two levels deep, such as /devl/menagerie-data");
  const system = SYSTEM_DIRS.find((d) => isWithin(path, d));
  if (system) out.push(`must not be in ${system} (a system directory)`);
  if (path.length > 1 && path.endsWith("/")) out.push("must not end with '/'");
  return out;
}

/** A directory for user data or an app (absolute, not a system directory). */
export const dataPath = absolutePath.superRefine((v, ctx) => {
  for (const message of dataPathProblems(v)) ctx.addIssue({ code: "custom", message });
});

/**
 * Plain settings for an app's `.env` (`KEY: value`), each name checked as an
 * environment variable name; the demo's `env` as it is, an app's with one more rule.
 */
export const envSettings = z
  .record(z.string(), envValue)
  .default({})
  .superRefine((v, ctx) => {
    for (const k of Object.keys(v)) {
      const r = envName.safeParse(k);
      if (!r.success) ctx.addIssue({ code: "custom", path: [k], message: r.error.issues.map((i) => i.message).join("; ") });
    }
  });

/**
 * Adopting what already runs on the first `up` (issue 13 item 9): each container the
 * project's compose file names (its `container_name:`, else `<project>-<service>-1`)
 * and each one listed here that exists outside the project is backed up (`docker
 * inspect` + a tar of each volume, taken stopped), removed and replaced by the project's
 * own on the same volumes; a network of the file's made outside the project is
 * replaced. A no-op when nothing foreign runs.
 */
export const adoptSchema = z
  .strictObject({
    /** Adopt on every `up` (a no-op once adopted). @default true */
    enabled: z.boolean().default(true),
    /**
     * Other names of containers that run the app now (a hand-made `docker run`, an
     * older project), adopted too. @default []
     * @example ["peregrine"]
     */
    containers: z.array(containerName).max(32).default([]),
    /** Where the backups go (`<dir>/<container>-<UTC time>/`). @default "/var/backups/fleet/<project>" */
    backupDir: dataPath.optional(),
  })
  .prefault({});
export type AdoptConfig = z.output<typeof adoptSchema>;

/** The compose project's names the first `up` takes over, and the backup directory: `adopt` of ComposeStack, or none. */
export function adoption(adopt: AdoptConfig, project: string, composeText: string | undefined, env: Readonly<Record<string, string>>): { containers: string[]; networks: string[]; backupDir: string } | undefined {
  if (!adopt.enabled) return undefined;
  // Known when the compose file was read at preview; otherwise only the listed names.
  const own = composeText !== undefined ? projectNames(composeText, project, env) : { containers: [], networks: [] };
  const containers = [...new Set([...own.containers, ...adopt.containers])];
  if (containers.length === 0) return undefined;
  return { containers, networks: own.networks, backupDir: adopt.backupDir ?? `/var/backups/fleet/${project}` };
}

/**
 * The name of a sibling checkout: the directory beside the app's checkout that a build
 * context of the compose file names (`../<name>`).
 */
export const siblingName = z
  .string()
  .max(40, { error: "must be at most 40 characters" })
  .regex(/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, { error: "must be a directory name of lowercase letters and digits in words joined by single '-' (the context's ../<name>)" });

/** Variables the component writes itself; `env` must not set them. */
export const MANAGED_ENV = ["CLOUD_MODE", "CLOUD_DATA_ROOT", "DIRECTUS_JWT_SECRET", "CF_SERVER_SECRET", "PLATFORM_DB_URL"] as const;

// ---------------------------------------------------------------------------
// Per app.

export const menagerieAppEntrySchema = z.strictObject({
  /**
   * The app's slug. Changing it moves the app: a new route, project and directory.
   * @example "falcon"
   */
  slug: appSlug,
  /** The app repository and the ref deployed. */
  repo: z.strictObject({
    /** Repository URL (https or ssh); the Docker host must be able to fetch it. @example "https://git.circuitforge.tech/pyr0ball/falcon.git" */
    url: gitUrl,
    /**
     * Pinned tag or commit. A change re-fetches, rebuilds and redeploys the app.
     * @example "v1.0.0"
     */
    ref: gitRef,
  }),
  /**
   * Host port the app's compose file publishes; Caddy proxies `/<slug>*` to it.
   * Changing it re-renders the route and restarts Caddy.
   * @example 8506
   */
  port: appPort,
  /**
   * The compose file in the repository's root, deployed under the same name.
   * @default "compose.cloud.yml"
   */
  composeFile: composeFileName.default("compose.cloud.yml"),
  /**
   * Project directory on the Docker host (`.env`, the compose file; the checkout in `src/<slug>`).
   * @default "/opt/<slug>-cloud"
   */
  directory: dataPath.optional(),
  /**
   * Compose project name: compose names the app's containers `<project>-<service>-1`
   * and its volumes `<project>_<volume>`. Set it to the project that already runs the
   * app to take its containers and volumes over. Changing it starts a second project.
   * @default "<slug>-cloud"
   */
  project: slug.optional(),
  /** Adopting what already runs the app on the first `up` (see {@link adoptSchema}). @default { enabled: true, containers: [] } */
  adopt: adoptSchema,
  /**
   * Build the app from the repository: the repository is checked out into
   * `<directory>/src/<slug>` at the commit `repo.ref` names at preview (build contexts
   * and relative mounts of the compose file resolve there, never in `<directory>`,
   * which holds `.env`) and `up --build` runs on every deploy; each built image is
   * tagged `<slug>-cloud-<service>:<commit12>`. A build context outside the checkout
   * and `siblings` is refused at preview. Services pinned in `images` are not built:
   * they run their registry image (one app may build one service and pull another).
   * `false` builds nothing: pin every service with a `build:` section in `images`.
   * @default true
   */
  build: z.boolean().default(true),
  /**
   * Other repositories the app's build reads, each checked out at its own pinned ref
   * beside the app's checkout (`<directory>/src/<name>`), so a context `../<name>` of
   * the compose file resolves into it. Each ref is resolved to a commit at preview, like
   * `repo.ref`; a change re-fetches it and rebuilds. Only with `build`.
   * @default {}
   * @example { "circuitforge-core": { url: "https://git.circuitforge.tech/pyr0ball/circuitforge-core.git", ref: "v0.4.1" } }
   */
  siblings: z
    .record(z.string(), z.strictObject({ url: gitUrl, ref: gitRef }))
    .default({})
    .superRefine((v, ctx) => {
      for (const k of Object.keys(v)) {
        const r = siblingName.safeParse(k);
        if (!r.success) ctx.addIssue({ code: "custom", path: [k], message: r.error.issues.map((i) => i.message).join("; ") });
      }
    }),
  /**
   * Services run from a registry image, pinned by digest (resolved at preview unless
   * `digest` is given): the deployed file gets `image: <repo>@<digest>` and loses the
   * service's `build:` section, so it is never built, with `build` or without.
   * @default {}
   * @example { worker: { image: "registry.circuitforge.tech/falcon-worker:1.2" } }
   */
  images: composeStackSchema.shape.images,
  /**
   * More variables for the app's `.env` (plain settings; secrets of the cloud are
   * set by the component). Every `${VAR}` of the compose file must be set.
   * @default {}
   */
  env: envSettings.superRefine((v, ctx) => {
    for (const k of Object.keys(v)) {
      if ((MANAGED_ENV as readonly string[]).includes(k)) {
        ctx.addIssue({ code: "custom", path: [k], message: `is set by the component (${MANAGED_ENV.join(", ")}); remove it` });
      }
    }
  }),
  /**
   * Secret variables the app reads besides the cloud's (DIRECTUS_JWT_SECRET,
   * CF_SERVER_SECRET, PLATFORM_DB_URL), e.g. its session key: each is generated once
   * (32 letters and digits), protected and never rotated, and written only into the app's
   * 0600 `.env`, so the app never falls back to a default of its own. To use an existing
   * value instead, leave it out here and set it in `env` encrypted:
   * `pulumi config set --secret --path 'fleet:menagerie.apps[0].env.NAME' VALUE`.
   * @default []
   * @example ["SESSION_SECRET"]
   */
  secrets: z
    .array(envName)
    .max(32)
    .default([])
    .describe(
      "Secret variables the app reads besides the cloud's (DIRECTUS_JWT_SECRET, CF_SERVER_SECRET, PLATFORM_DB_URL): each generated once, protected, never rotated, written only into the app's 0600 .env. To provide a value instead, set it in env encrypted: pulumi config set --secret --path 'fleet:menagerie.apps[0].env.NAME' VALUE.",
    ),
  /**
   * The request limits of the app's Caddy route (and of its demo's): the largest upload
   * and how long Caddy waits on the app.
   * @default { maxBodySize: "256m", readTimeout: "300s", sendTimeout: "300s" }
   * @example { maxBodySize: "1g", readTimeout: "10m" }
   */
  limits: routeLimitsSchema.prefault({}),
  /** The app's health checks after each deploy. */
  health: z
    .strictObject({
      /**
       * Path requested, directly on the port and through Caddy; it must be under the
       * app's route. Streamlit answers its base path with a redirect to `/<slug>/`.
       * @default "/<slug>/"
       */
      path: urlPath.optional(),
      /** Status codes that count as healthy. @default [200] */
      expectStatus: z.array(z.number().int().min(100).max(599)).min(1).max(16).default([200]),
      /** Extended regular expression the body must match. @default none */
      bodyMatch: oneLine.optional(),
      /** Also check through Caddy (from the Caddy host, `https://<domain>/<path>`). @default true */
      viaCaddy: z.boolean().default(true),
    })
    .prefault({}),
});
export type MenagerieAppEntryInput = z.input<typeof menagerieAppEntrySchema>;
export type MenagerieAppEntry = z.output<typeof menagerieAppEntrySchema>;

// ---------------------------------------------------------------------------
// Shared by the apps of one cloud.

export const menagerieCloudSchema = z.strictObject({
  /**
   * The shared site's address: where the check through Caddy goes.
   * @example "menagerie.circuitforge.tech"
   */
  domain: domainName,
  /**
   * Host directory of the per-user data trees (`CLOUD_DATA_ROOT`), bind-mounted by
   * the app's compose file; the app creates `<user-id>/<slug>/` in it on first login.
   * @example "/devl/menagerie-data"
   */
  dataRoot: dataPath,
  /**
   * Owner and mode of the data root. The app's container user must be able to
   * create directories in it; nobody else needs to read it.
   * @default { owner: "root", group: "root", mode: "0700" }
   */
  data: z
    .strictObject({
      owner: unixName.default("root"),
      group: unixName.default("root"),
      mode: fileMode.default("0700"),
    })
    .prefault({}),
  /**
   * How Caddy reaches the apps' ports. `host.docker.internal` is the Docker host of
   * the Caddy container (it needs `extra_hosts: host.docker.internal:host-gateway`).
   * @default "host.docker.internal"
   */
  upstreamHost: hostname.default("host.docker.internal"),
  /** Where the check through Caddy connects on the Caddy host. @default { address: "127.0.0.1", port: 443 } */
  caddyCheck: z.strictObject({ address: hostname.default("127.0.0.1"), port: port.default(443) }).prefault({}),
});
export type MenagerieCloudInput = z.input<typeof menagerieCloudSchema>;
export type MenagerieCloud = z.output<typeof menagerieCloudSchema>;

/** The project directory of an app: configured, or `/opt/<slug>-cloud`. */
export function appDirectory(app: Pick<MenagerieAppEntry, "slug" | "directory">): string {
  return app.directory ?? `/opt/${app.slug}-cloud`;
}

/** The checkouts of an app that builds: `<directory>/src`, the app's at `<slug>` and each sibling's at its name. */
export function checkoutsDir(directory: string): string {
  return `${directory}/src`;
}

/** Where an app that builds is checked out: `<directory>/src/<slug>` (compose's project directory). */
export function appCheckout(directory: string, slug: string): string {
  return `${checkoutsDir(directory)}/${slug}`;
}

/** The path an app is checked at: configured, or `/<slug>/`. */
export function appHealthPath(app: Pick<MenagerieAppEntry, "slug" | "health">): string {
  return app.health.path ?? `/${app.slug}/`;
}

/** Rules between an app's own settings and the cloud's, as problems at their paths. */
export function appRules(app: MenagerieAppEntry, cloud: Pick<MenagerieCloud, "dataRoot">): Problem[] {
  const problems: Problem[] = [];
  const dir = appDirectory(app);
  // Only for a data root that is itself acceptable (a bad one is reported on its own).
  if (dataPath.safeParse(cloud.dataRoot).success && (isWithin(dir, cloud.dataRoot) || isWithin(cloud.dataRoot, dir))) {
    problems.push({
      path: "directory",
      message: `${dir} overlaps the data root ${cloud.dataRoot}: the app's checkout and .env (secrets) must not share a tree with user data; use a directory outside it`,
    });
  }
  for (const k of Object.keys(app.siblings)) {
    if (!app.build) problems.push({ path: `siblings/${k}`, message: "is only checked out to build from (build: true); remove it, or build the app" });
    else if (k === app.slug) problems.push({ path: `siblings/${k}`, message: `is the app's own checkout (${appCheckout(dir, app.slug)}); give the sibling the directory name its build context uses` });
  }
  app.secrets.forEach((k, i) => {
    if ((MANAGED_ENV as readonly string[]).includes(k)) problems.push({ path: `secrets/${i}`, message: `is set by the component (${MANAGED_ENV.join(", ")}); remove it` });
    else if (Object.hasOwn(app.env, k)) problems.push({ path: `secrets/${i}`, message: `is also set in env: a secret variable is either generated (secrets) or provided (env, stored with --secret); remove one` });
    else if (app.secrets.indexOf(k) !== i) problems.push({ path: `secrets/${i}`, message: "is listed twice" });
  });
  const health = appHealthPath(app);
  // Caddy's `/<slug>*` matches every path that starts with /<slug>.
  if (!health.startsWith(`/${app.slug}`)) {
    problems.push({ path: "health/path", message: `must be under the app's route /${app.slug}* (got ${health}), or the check through Caddy gets the site's fallback` });
  }
  return problems;
}

export const menagerieAppSchema = menagerieAppEntrySchema.extend(menagerieCloudSchema.shape).superRefine((v, ctx) => {
  for (const p of appRules(v, v)) ctx.addIssue({ code: "custom", path: p.path.split("/"), message: p.message });
});
export type MenagerieAppSpecInput = z.input<typeof menagerieAppSchema>;
export type MenagerieAppSpec = z.output<typeof menagerieAppSchema>;

// ---------------------------------------------------------------------------
// Two apps of one cloud.

/** What two apps must not share. */
export interface AppIdentity {
  /** How the app is named in messages: `MenagerieApp "peregrine"`, `apps/0 (peregrine)`. */
  readonly label: string;
  readonly slug: string;
  /** The compose project. */
  readonly project: string;
  readonly port: number;
  /** The Docker host's name. */
  readonly host: string;
  /** Where Caddy sends requests (`host.docker.internal`). */
  readonly upstreamHost: string;
  readonly directory: string;
}

/**
 * Where `b` collides with `a`, as problems at `b`'s paths naming `a`: one path
 * (the slug), one port on one Docker host or upstream, one project directory.
 */
export function appClashes(a: AppIdentity, b: AppIdentity): Problem[] {
  const out: Problem[] = [];
  if (a.slug === b.slug) {
    out.push({ path: "slug", message: `the path /${b.slug}* is already routed to ${a.label}; give each app its own slug` });
  }
  // Two apps of one slug already clash on it (and on the project named after it).
  if (a.project === b.project && a.host === b.host && a.slug !== b.slug) {
    out.push({ path: "project", message: `${b.project} is already the compose project of ${a.label} on host ${a.host}; give each app its own project` });
  }
  if (a.port === b.port && (a.host === b.host || a.upstreamHost === b.upstreamHost)) {
    const where = a.host === b.host ? `on host ${a.host}` : `behind ${a.upstreamHost}`;
    out.push({ path: "port", message: `${b.port} is already the port of ${a.label} ${where}; give each app its own port` });
  }
  if (a.host === b.host && a.slug !== b.slug && (isWithin(a.directory, b.directory) || isWithin(b.directory, a.directory))) {
    out.push({ path: "directory", message: `${b.directory} overlaps the project directory ${a.directory} of ${a.label}; give each app its own directory` });
  }
  return out;
}

/** Values every app of the cloud shares; they reach the host only in the app's 0600 `.env`. */
export interface MenagerieSecrets {
  /** `DIRECTUS_JWT_SECRET`: Directus' signing secret (owned by the website's Directus). */
  readonly directusJwtSecret: pulumi.Input<string>;
  /**
   * `CF_SERVER_SECRET`: derives every user's SQLCipher key (`HMAC(secret, user_id)`).
   * :::caution Never rotate it: every existing user database becomes unreadable. :::
   */
  readonly cfServerSecret: pulumi.Input<string>;
  /** `PLATFORM_DB_URL`: the platform database, password percent-encoded. */
  readonly platformDbUrl: pulumi.Input<string>;
}



/** The compose project of an app: `<slug>-cloud`, unless config names the one that already runs. */
export function cloudProject(app: Pick<MenagerieAppEntry, "slug" | "project">): string {
  return app.project ?? `${app.slug}-cloud`;
}

/** The Caddy path matcher of an app: `/<slug>*`. */
export function appRoutePath(slug: string): string {
  return `/${slug}*`;
}

/** Where the check through Caddy goes: `https://<domain>[:port]<path>`, resolved to the Caddy host. */
function viaCaddy(domain: string, caddyCheck: MenagerieCloud["caddyCheck"], path: string) {
  const portPart = caddyCheck.port === 443 ? "" : `:${caddyCheck.port}`;
  return { url: `https://${domain}${portPart}${path}`, resolve: { host: domain, port: caddyCheck.port, address: caddyCheck.address } };
}

/** What every app of the cloud is deployed with besides its entry. */
export interface CloudContext {
  readonly cloud: MenagerieCloud;
  /** The Docker host the apps run on. */
  readonly host: Host;
  /** The shared Caddy site (e.g. `menagerie.circuitforge.tech`); each app adds its route to it. */
  readonly site: CaddyRouteArgs["site"] & { readonly host: Host };
  readonly secrets: MenagerieSecrets;
  /** The app's own generated secrets (its entry's `secrets`), by variable. @default {} */
  readonly appSecrets?: Readonly<Record<string, pulumi.Input<string>>>;
  readonly resolveDigest?: ((image: string) => pulumi.Input<string>) | undefined;
  /** The app's repository at its ref, resolved at preview: the commit deployed and the compose file read at it. */
  readonly resolved?: ResolvedSource | undefined;
  /** Each sibling's repository at its ref, resolved at preview, by name. */
  readonly siblings?: Readonly<Record<string, ResolvedSource | undefined>> | undefined;
  /** The app's entry in config, named by a refused build's fix (`fleet:menagerie.apps[0]`). @default the library's generic fix */
  readonly configKey?: string | undefined;
}

/** `<url> at <ref> (<commit>)` of a repository resolved at preview. */
function at(r: ResolvedSource): string {
  return `${r.url} at ${r.ref} (${r.commit})`;
}

/** The fix a refused build names, in the app's config keys. */
function buildFix(key: string): string {
  return `keep the context inside the repository, declare the checkout it needs under ${key}.siblings.<name> (url and ref; checked out beside the app's, so the context is ../<name>), or run a prebuilt image for it: images.<service> (image and digest)`;
}

/**
 * What building from the checkout adds to an app's (or the demo's) args: the checkout
 * directory (compose's project directory), the commit tag of the built images, the
 * sibling checkouts (tasks `sibling-<name>` before the project, serialised with it) as
 * build roots, and their revisions as triggers of the rebuild.
 */
export function buildLayout(
  directory: string,
  project: string,
  slug: string,
  siblings: MenagerieAppEntry["siblings"],
  resolved: ResolvedSource | undefined,
  resolvedSiblings: Readonly<Record<string, ResolvedSource | undefined>> | undefined,
  configKey?: string,
): { checkout: string; compose: { projectDirectory: string; buildTag?: string; buildRoots: string[]; buildTrees: Record<string, BuildTree>; buildFix?: string; triggers?: string[] }; tasks: Record<string, AppTaskArgs> } {
  const checkout = appCheckout(directory, slug);
  const names = Object.keys(siblings).sort();
  const revisions: string[] = [];
  const tasks: Record<string, AppTaskArgs> = {};
  // Each sibling's tree at its commit, read at preview: its builds are checked on it.
  const buildTrees: Record<string, BuildTree> = {};
  for (const name of names) {
    const repo = siblings[name]!;
    const r = resolvedSiblings?.[name];
    buildTrees[`${checkoutsDir(directory)}/${name}`] = { label: `sibling ${name}${r ? ` (${at(r)})` : ""}`, tree: r?.tree };
    const commit = r?.commit;
    const revision = appRevision({ url: repo.url, ref: repo.ref, ...(commit ? { commit } : {}) });
    revisions.push(revision);
    tasks[`sibling-${name}`] = {
      script: gitCheckoutScript({ url: repo.url, ref: repo.ref, ...(commit ? { commit } : {}), directory: `${checkoutsDir(directory)}/${name}`, directoryMode: "0750" }),
      lock: composeLock(project),
      phase: "before",
      triggers: [revision],
    };
  }
  return {
    checkout,
    compose: {
      projectDirectory: checkout,
      ...(resolved?.commit ? { buildTag: resolved.commit.slice(0, 12) } : {}),
      buildRoots: names.map((n) => `${checkoutsDir(directory)}/${n}`),
      buildTrees,
      ...(configKey ? { buildFix: buildFix(configKey) } : {}),
      ...(revisions.length ? { triggers: revisions } : {}),
    },
    tasks,
  };
}

/** `source.commit` and `source.files` of a repository resolved at preview. */
function resolvedSource(r: ResolvedSource | undefined): { commit?: string; files?: Record<string, string>; tree?: ReadonlyMap<string, TreeKind> } {
  return r ? { commit: r.commit, ...(r.files ? { files: { ...r.files } } : {}), ...(r.tree ? { tree: r.tree } : {}) } : {};
}

/**
 * One app of the cloud as an AppDeployment named after its slug. Children:
 * `-data` (the data root), `-checkout` (with `build`), `-compose` (project
 * `<slug>-cloud`), `-route` (once the app is up), `-health` (on the port) and
 * `-health-via-caddy`. Its type was `fleet:menagerie:App` before AppDeployment: the
 * alias keeps an existing deployment's resources (names are unchanged).
 *
 * #### Onboarding falcon: one more entry in `fleet:menagerie.apps`
 * ```yaml
 * apps:
 *   - { slug: peregrine, repo: { url: https://git.circuitforge.tech/pyr0ball/peregrine.git, ref: v2.3.0 }, port: 8505 }
 *   - { slug: falcon, repo: { url: https://git.circuitforge.tech/pyr0ball/falcon.git, ref: v0.1.0 }, port: 8506 }
 * ```
 */
export function cloudApp(entry: MenagerieAppEntry, c: CloudContext, opts: pulumi.ComponentResourceOptions): AppDeployment {
  return new AppDeployment(entry.slug, cloudAppArgs(entry, c), { ...opts, aliases: [{ type: "fleet:menagerie:App" }] });
}

/** The AppDeployment args of an app of the cloud (see {@link cloudApp}); the stack checks them before any resource. */
export function cloudAppArgs(entry: MenagerieAppEntry, c: CloudContext): AppDeploymentArgs {
  const { cloud } = c;
  const project = cloudProject(entry);
  const env = { CLOUD_MODE: "true", CLOUD_DATA_ROOT: cloud.dataRoot, ...entry.env };
  const adopt = adoption(entry.adopt, project, c.resolved?.files?.[entry.composeFile], env);
  const directory = appDirectory(entry);
  const healthPath = appHealthPath(entry);
  const reruns: ("revision" | "compose")[] = ["revision", "compose"];
  const expect = { expectStatus: entry.health.expectStatus, ...(entry.health.bodyMatch ? { bodyMatch: entry.health.bodyMatch } : {}) };
  const built = entry.build ? buildLayout(directory, project, entry.slug, entry.siblings, c.resolved, c.siblings, c.configKey) : undefined;
  const args: AppDeploymentArgs = {
    host: c.host,
    data: [{ path: cloud.dataRoot, owner: cloud.data.owner, group: cloud.data.group, mode: cloud.data.mode }],
    // Built on the host from the checkout; registry images only need the revision (the compose file's).
    source: { url: entry.repo.url, ref: entry.repo.ref, ...(built ? { directory: built.checkout } : {}), ...resolvedSource(c.resolved) },
    ...(built && Object.keys(built.tasks).length ? { tasks: built.tasks } : {}),
    compose: {
      project,
      directory,
      composeFile: entry.composeFile,
      // Fetched and checked on the host (every ${VAR} set) before .env or the file is written.
      compose: { git: { url: entry.repo.url, ref: entry.repo.ref, path: entry.composeFile, sparse: true } },
      env,
      images: entry.images,
      build: entry.build,
      ...(built ? built.compose : c.configKey ? { buildFix: buildFix(c.configKey) } : {}),
      ...(adopt ? { adopt } : {}),
      ...(c.resolveDigest ? { resolveDigest: c.resolveDigest } : {}),
    },
    secrets: { ...c.appSecrets, DIRECTUS_JWT_SECRET: c.secrets.directusJwtSecret, CF_SERVER_SECRET: c.secrets.cfServerSecret, PLATFORM_DB_URL: c.secrets.platformDbUrl },
    route: {
      caddy: {
        site: c.site,
        route: entry.slug,
        path: appRoutePath(entry.slug),
        upstreams: [`http://${cloud.upstreamHost}:${entry.port}`],
        // cloud_session.py reads the Directus session token from the full cookie header.
        headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }],
        limits: entry.limits,
      },
    },
    checks: {
      health: { url: `http://127.0.0.1:${entry.port}${healthPath}`, ...expect, description: `${entry.slug} on port ${entry.port}`, rerunOn: reruns },
      ...(entry.health.viaCaddy
        ? {
            "health-via-caddy": {
              host: c.site.host,
              ...viaCaddy(cloud.domain, cloud.caddyCheck, healthPath),
              ...expect,
              description: `${entry.slug} through Caddy`,
              after: ["route", "up"],
              rerunOn: reruns,
            },
          }
        : {}),
    },
  };
  return args;
}

/** The demo's settings (config `fleet:menagerie.demo`) and the app whose repository holds it. */
export interface DemoContext {
  readonly demo: {
    readonly ref?: string | undefined;
    readonly composeFile: string;
    readonly project: string;
    readonly directory: string;
    readonly port: number;
    readonly address: string;
    readonly env: Readonly<Record<string, string>>;
    readonly adopt: AdoptConfig;
  };
  readonly app: MenagerieAppEntry;
  readonly host: Host;
  /** The demo's own site. */
  readonly site: CaddyRouteArgs["site"] & { readonly host: Host };
  readonly upstreamHost: string;
  readonly caddyCheck: MenagerieCloud["caddyCheck"];
  readonly resolveDigest?: ((image: string) => pulumi.Input<string>) | undefined;
  /** The stack component the demo's parts were children of before AppDeployment (for aliases; none when only checking the args). */
  readonly formerParent: pulumi.Resource | undefined;
  /** The demo's repository at its ref, resolved at preview. */
  readonly resolved?: ResolvedSource | undefined;
  /** The app's siblings at their refs, resolved at preview, by name. */
  readonly siblings?: Readonly<Record<string, ResolvedSource | undefined>> | undefined;
  /** The app's entry in config, named by a refused build's fix. @default the library's generic fix */
  readonly configKey?: string | undefined;
}

/**
 * The public demo (seed, "Demo Instance"): `compose.demo.yml` of the app's repository
 * as project `peregrine-demo`, `DEMO_MODE=true` (no LLM inference), on its own site
 * `demo.circuitforge.tech` under `/peregrine`. Demo data lives in the repository's
 * `demo/config/` and `demo/data/`: the repository is checked out into
 * `<directory>/src/<slug>`, compose's project directory, where the compose file's
 * relative mounts and build context resolve (see {@link buildLayout}). No session cookie
 * and no cloud secrets reach it.
 *
 * An AppDeployment named after the project, whose compose project keeps that name too;
 * its parts were children of the stack before: aliases keep them.
 */
export function demoApp(d: DemoContext, opts: pulumi.ComponentResourceOptions): AppDeployment {
  return new AppDeployment(d.demo.project, demoAppArgs(d), opts);
}

/** The AppDeployment args of the demo (see {@link demoApp}); the stack checks them before any resource. */
export function demoAppArgs(d: DemoContext): AppDeploymentArgs {
  const { demo, app } = d;
  const repo = { url: app.repo.url, ref: demo.ref ?? app.repo.ref };
  const healthPath = `/${app.slug}/`;
  const name = demo.project;
  const formerly = aliased(...(d.formerParent ? [{ parent: d.formerParent }] : []));
  const built = buildLayout(demo.directory, demo.project, app.slug, app.siblings, d.resolved, d.siblings, d.configKey);
  const env = { DEMO_MODE: "true", ...demo.env };
  const adopt = adoption(demo.adopt, demo.project, d.resolved?.files?.[demo.composeFile], env);
  return {
    host: d.host,
    source: { ...repo, directory: built.checkout, ...resolvedSource(d.resolved) },
    ...(Object.keys(built.tasks).length ? { tasks: built.tasks } : {}),
    compose: {
      project: demo.project,
      directory: demo.directory,
      composeFile: demo.composeFile,
      compose: { git: { url: repo.url, ref: repo.ref, path: demo.composeFile, sparse: true } },
      env,
      build: true,
      ...built.compose,
      ...(adopt ? { adopt } : {}),
      ...(d.resolveDigest ? { resolveDigest: d.resolveDigest } : {}),
    },
    route: { caddy: { site: d.site, route: app.slug, path: appRoutePath(app.slug), upstreams: [`http://${d.upstreamHost}:${demo.port}`], limits: app.limits } },
    checks: {
      health: { url: `http://127.0.0.1:${demo.port}${healthPath}`, description: `${app.slug} demo on port ${demo.port}`, rerunOn: ["revision", "compose"] },
      "health-via-caddy": {
        host: d.site.host,
        ...viaCaddy(demo.address, d.caddyCheck, healthPath),
        description: `${app.slug} demo through Caddy`,
        after: ["route", "up"],
        rerunOn: ["revision", "compose"],
      },
    },
    // The compose project keeps its name (its files are named after it).
    names: { compose: name },
    // Each part was a child of the stack: the same name under a new parent.
    transform: {
      checkout: formerly,
      compose: formerly,
      route: formerly,
      checks: { health: formerly, "health-via-caddy": formerly },
    },
  };
}
