/**
 * Arguments of MenagerieApp: one app of a managed cloud behind a shared Caddy site
 * (the Peregrine seed's "Adding a New App to the Cloud"). Plain data + zod; no
 * Pulumi value import.
 *
 * Two layers, so a stack config can list apps with the same rules the component
 * enforces: {@link menagerieAppEntrySchema} holds what differs per app (slug, repo,
 * port, …); {@link menagerieCloudSchema} what every app of one cloud shares (the
 * site's domain, the data root, the upstream host). {@link menagerieAppSchema} is
 * both, with the rules that tie them together.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type CaddyRouteArgs } from "../caddy/args";
import type { CaddySite } from "../caddy/site";
import { type ComposeStackArgs, composeFileName, composeStackSchema } from "../compose/args";
import { type HealthCheckArgs } from "../health/args";
import { type DirectoriesArgs } from "./deployment-args";
import { type RemoteTaskArgs } from "../task/args";
import { type Host } from "../../remote/host";
import { type Transform } from "../../transform";
import { type Problem } from "../../validation/errors";
import {
  absolutePath,
  domainName,
  envName,
  envValue,
  fileMode,
  gitRef,
  gitUrl,
  hostname,
  oneLine,
  port,
  unixName,
  urlPath,
} from "../../validation/primitives";

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
   * Project directory on the Docker host (the checkout, `.env`, the compose file).
   * @default "/opt/<slug>-cloud"
   */
  directory: dataPath.optional(),
  /**
   * Build the app from the repository: the repository is checked out into the
   * project directory at `repo.ref` (build contexts and relative mounts of the
   * compose file resolve there) and `up --build` runs on every deploy.
   * `false` runs registry images instead (pin them with `images`).
   * :::caution The build context is the project directory, which also holds `.env`
   * (the cloud's secrets) and `.src`: the repository's `.dockerignore` must list both,
   * as it must for the seed's own `docker compose … build app`. :::
   * @default true
   */
  build: z.boolean().default(true),
  /**
   * Services whose registry image is pinned by digest (only with `build: false`).
   * @default {}
   * @example { app: { image: "registry.circuitforge.tech/falcon:latest" } }
   */
  images: composeStackSchema.shape.images,
  /**
   * More variables for the app's `.env` (plain settings; secrets of the cloud are
   * set by the component). Every `${VAR}` of the compose file must be set.
   * @default {}
   */
  env: z
    .record(z.string(), envValue)
    .default({})
    .superRefine((v, ctx) => {
      for (const k of Object.keys(v)) {
        const r = envName.safeParse(k);
        if (!r.success) ctx.addIssue({ code: "custom", path: [k], message: r.error.issues.map((i) => i.message).join("; ") });
        else if ((MANAGED_ENV as readonly string[]).includes(k)) {
          ctx.addIssue({ code: "custom", path: [k], message: `is set by the component (${MANAGED_ENV.join(", ")}); remove it` });
        }
      }
    }),
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
  if (app.build && Object.keys(app.images).length > 0) {
    problems.push({ path: "images", message: "must be empty when build is true (a built image has no registry digest); set build: false to run pinned registry images" });
  }
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
  if (a.port === b.port && (a.host === b.host || a.upstreamHost === b.upstreamHost)) {
    const where = a.host === b.host ? `on host ${a.host}` : `behind ${a.upstreamHost}`;
    out.push({ path: "port", message: `${b.port} is already the port of ${a.label} ${where}; give each app its own port` });
  }
  if (a.host === b.host && a.slug !== b.slug && (isWithin(a.directory, b.directory) || isWithin(b.directory, a.directory))) {
    out.push({ path: "directory", message: `${b.directory} overlaps the project directory ${a.directory} of ${a.label}; give each app its own directory` });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Component args (the Pulumi side).

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


export interface MenagerieAppArgs extends Omit<MenagerieAppSpecInput, "images"> {
  /** The Docker host the app runs on. */
  host: Host;
  /**
   * The shared Caddy site (e.g. `menagerie.circuitforge.tech`); the app adds its
   * `handle /<slug>*` route to it. Apps of one site are checked against each other.
   */
  site: CaddySite;
  /** The cloud's shared secrets. */
  secrets: MenagerieSecrets;
  /** Services whose registry image is pinned by digest (only with `build: false`). @default {} */
  images?: MenagerieAppSpecInput["images"];
  /** Resolve an image tag to its digest (see ComposeStack). @default the registry, through @pulumi/docker */
  resolveDigest?: (image: string) => pulumi.Input<string>;
  transform?: {
    /** The checkout of the repository into the project directory (with `build`). */
    checkout?: Transform<RemoteTaskArgs>;
    /** The compose project. */
    compose?: Transform<ComposeStackArgs>;
    /** The Caddy route. */
    route?: Transform<CaddyRouteArgs>;
    /** The data root directory. */
    data?: Transform<DirectoriesArgs>;
    /** The check on the app's port. */
    health?: Transform<HealthCheckArgs>;
    /** The check through Caddy. */
    healthViaCaddy?: Transform<HealthCheckArgs>;
  };
}
