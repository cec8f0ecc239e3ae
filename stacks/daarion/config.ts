/**
 * Settings of the `daarion` stack (key `fleet:daarion`): the nodes and their roles,
 * the repository migrations come from, images and their pinned digests, the rollback
 * plan, backups. Secrets are not here: they are Pulumi secret config keys, or generated.
 */
import { z } from "zod";
import type { SecretVariable } from "../registry";
import {
  absolutePath,
  containerName,
  domainName,
  gitRef,
  gitUrl,
  hasControl,
  hostMountPath,
  imageRef,
  pgIdentifier,
  port,
  promDuration,
  sha256Digest,
  urlPath,
  volumeName,
} from "../../src/validation/primitives";
import { routeLimitsOverrideSchema, routeLimitsSchema } from "../../src/validation/limits";
import { SERVICE_NAMES } from "./catalogue";
import { ROLES } from "./rules";

const hostRef = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: "must name a host under fleet:hosts" });

const serviceName = z.enum(SERVICE_NAMES, { error: `must be a DAARION service: ${SERVICE_NAMES.join(", ")}` });

const repoSchema = z.strictObject({
  /** The microdao-daarion repository (migrations/ at its root). */
  url: gitUrl,
  /** Pinned tag or commit deployed; changing it re-syncs migrations/ and applies the new ones. */
  ref: gitRef,
});

/** A registry path without tag or digest, e.g. `ghcr.io/ivantytar/microdao-daarion`. */
const registryPath = imageRef.refine((v) => !v.includes("@") && !/:[^/]*$/.test(v), {
  error: "must be a registry path without tag or digest, such as ghcr.io/ivantytar/microdao-daarion",
});

/** A migration number as the file names write it, e.g. `004` or `20240101`. */
const migrationNumber = z.string().regex(/^[0-9]{1,18}$/, { error: "must be a migration number (digits), e.g. 004" });
/** A migration file name, e.g. `004_add_agents.sql`. */
const migrationFile = z.string().regex(/^[0-9]+_[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\.sql$/, { error: "must be a migration file name such as 004_add_agents.sql" });

const imageTag = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, { error: "must be an image tag such as 1.4.2 or latest" });

export const nodeSchema = z.strictObject({
  /** The host under fleet:hosts (also the prefix of the node's resources). */
  name: hostRef,
  /** daarion-node-standards.md "Node Roles": what the node runs. */
  role: z.enum(ROLES, { error: `must be one of ${ROLES.join(", ")}` }),
  /** The gateway's public name (server_name, TLS certificate, health check). */
  domain: domainName,
  /** Change the role's service set: add services (their dependencies come along) or remove some. */
  services: z
    .strictObject({
      add: z.array(serviceName).max(64).default([]),
      remove: z.array(serviceName).max(64).default([]),
    })
    .optional(),
  /**
   * Ports that differ from the catalogue (checked against the tier ranges and for
   * collisions). Only DAARION's own services take one (the compose file passes it as
   * `PORT`); the other images listen on their own port, so an override of theirs is refused.
   */
  ports: z.partialRecord(serviceName, port).default({}),
  /**
   * Container name per service (`container_name`), to match the containers an older
   * deployment runs: the first `up` adopts them under these names (`adopt`). The gateway,
   * Prometheus, Grafana and the services reach each other by compose service name, so
   * their configs do not change. Each must be its own, and must not be another service's
   * compose name (Docker's DNS on daarion_net would answer that name with both).
   * Changing one recreates that service's container.
   * @default `daarion-<service>` (daarion-node-standards.md naming)
   * @example { postgres: "microdao-postgres", "auth-service": "microdao-auth" }
   */
  containers: z.partialRecord(serviceName, containerName).default({}),
  /**
   * Docker volume name per service that keeps data, to reuse the volumes an older
   * deployment has (their data is kept). Each service needs its own.
   * :::caution Changing the volume of a node that already runs starts that service on the
   * named volume (a new, empty one if none has that name); the old one is kept, not copied. :::
   * @default `<service>_data` (daarion-node-standards.md; the overview's `matrix_data` for Synapse)
   * @example { postgres: "microdao_pgdata", "matrix-synapse": "synapse_data" }
   */
  volumes: z.partialRecord(serviceName, volumeName).default({}),
  /** The node's own repository or ref (a development node ahead of production). @default the stack's repo */
  repo: repoSchema.optional(),
  /**
   * Refuse a ref that is not merged into `mainBranch` (Pre-Deployment: "Git branch merged to main").
   * @default true for production nodes, false otherwise
   */
  requireMerged: z.boolean().optional(),
  /** This node's database and its migrations. */
  migrations: z
    .strictObject({
      /**
       * Adopt an existing database: when it has tables but no recorded migration, the
       * migrations numbered up to this one are recorded as applied (with their checksums),
       * not run. An empty database runs them all. @default none
       * @example "012"
       */
      baseline: migrationNumber.optional(),
    })
    .prefault({}),
  /**
   * Adopt an older hand-made deployment on the first `up`: containers under the node's
   * names (`containers`, else `daarion-<service>`) outside the compose project, and a
   * `daarion_net` network not made by it, are backed up (inspect + a tar of each volume,
   * taken stopped) into `backups/adopted/` and replaced by the project's own, on the same
   * volumes (`volumes`). A no-op on a node without one.
   * @default true
   */
  adopt: z.boolean().default(true),
  /** TLS for the gateway (Compliance: "Nginx/Gateway з SSL"). */
  tls: z
    .strictObject({
      /** Host directory mounted read-only into the gateway (Let's Encrypt's live/ links into archive/). @default "/etc/letsencrypt" */
      mount: hostMountPath.default("/etc/letsencrypt"),
      /** @default "<mount>/live/<domain>/fullchain.pem" */
      certificate: absolutePath.optional(),
      /** @default "<mount>/live/<domain>/privkey.pem" */
      key: absolutePath.optional(),
    })
    .prefault({}),
});

export const daarionSchema = z
  .strictObject({
    /** The microdao-daarion repository every node checks out at a pinned ref (migrations come from it). */
    repo: repoSchema,
    /** Branch a production ref must be merged into. @default "main" */
    mainBranch: gitRef.default("main"),
    /** Registry path of DAARION's own images: `<registry>/<service>:<tag>`. */
    registry: registryPath.default("ghcr.io/ivantytar/microdao-daarion"),
    /** Tag of DAARION's own images; each is pinned by digest at preview. @default "latest" */
    tag: imageTag.default("latest"),
    /**
     * Per-service image and/or pinned digest. Without a digest the tag's current digest is
     * resolved at preview, so a pushed tag shows up as a diff.
     */
    images: z
      .partialRecord(
        serviceName,
        z.strictObject({
          image: imageRef.refine((v) => !v.includes("@"), { error: "must not contain a digest; set digest instead" }).optional(),
          digest: sha256Digest.optional(),
        }),
      )
      .default({}),
    /**
     * The rollback plan (Principle 5, "Rollback Ready"): the last known-good digest per
     * service. `active: true` deploys them instead of the current images.
     */
    rollback: z
      .strictObject({
        active: z.boolean().default(false),
        digests: z.partialRecord(serviceName, sha256Digest).default({}),
      })
      .prefault({}),
    /** The repository's migrations/ (see templates/daarion/scripts/migrate.sh.njk). */
    migrations: z
      .strictObject({
        /**
         * Files that share a number, in the order to apply them (without this, two files with
         * one number are refused). @default {}
         * @example { "004": ["004_add_agents.sql", "004_add_agent_index.sql"] }
         */
        order: z.record(z.string().max(64), z.array(migrationFile).min(2, { error: "must list the two or more files that share this number" }).max(64)).default({}),
      })
      .prefault({}),
    /** The PostgreSQL database the services share, dumped by the backups (`daarion_memory_<stamp>.sql`). */
    database: pgIdentifier.default("daarion_memory"),
    backups: z
      .strictObject({
        /** systemd OnCalendar of the daily backup. @default "*-*-* 03:00:00 UTC" */
        onCalendar: z.string().regex(/^[A-Za-z0-9*:/,.~+_ -]{1,64}$/, { error: "must be a systemd calendar expression such as *-*-* 03:00:00 UTC" }).default("*-*-* 03:00:00 UTC"),
        /** Days of daily dumps kept. @default 7 */
        keepDaily: z.number().int().min(1).max(366).default(7),
        /** Sunday copies kept. @default 4 */
        keepWeekly: z.number().int().min(1).max(104).default(4),
      })
      .prefault({}),
    /**
     * How each service is checked and whether it exports metrics, over the table's
     * (stacks/daarion/catalogue.ts). `health`: an HTTP GET from the host to the container
     * on daarion_net (`host`, needs nothing in the image; the default for DAARION's own
     * images), an HTTP GET inside the container with a tool the image has (`http`), or a
     * command inside it (`command`, compose's `["CMD", ...]` / `["CMD-SHELL", "..."]`).
     * `metrics`: the service exports Prometheus metrics there; only such services get a
     * scrape job and count in the post-deployment "target is up" check (none of
     * DAARION's own services does unless declared here).
     * @default {}
     * @example { "agents-service": { metrics: { path: "/metrics" } }, "auth-service": { health: { command: ["CMD", "python", "-c", "import urllib.request as u; u.urlopen('http://localhost:7011/health')"] } } }
     */
    probes: z
      .partialRecord(
        serviceName,
        z.strictObject({
          health: z
            .union([
              z.strictObject({ host: z.strictObject({ path: urlPath, port: port.optional() }) }),
              z.strictObject({ http: z.strictObject({ path: urlPath, port: port.optional(), tool: z.enum(["curl", "wget"], { error: "must be curl or wget (a tool the image has)" }) }) }),
              z.strictObject({
                command: z
                  .array(z.string().min(1).max(1024).refine((v) => !hasControl(v), { error: "must be one line" }))
                  .min(2, { error: "must be compose's test form: [\"CMD\", program, args...] or [\"CMD-SHELL\", \"command\"]" })
                  .max(32)
                  .refine((v) => v[0] === "CMD" || (v[0] === "CMD-SHELL" && v.length === 2), { error: "must start with CMD (then the program and its arguments) or be [\"CMD-SHELL\", \"command\"]" }),
              }),
            ], { error: "must be one of { host: { path } }, { http: { path, tool } } or { command: [...] }" })
            .optional(),
          metrics: z.strictObject({ path: urlPath.default("/metrics"), port: port.optional() }).optional(),
        }),
      )
      .default({}),
    /**
     * Request limits of the gateway: `limits` for every route of the server block, and
     * per service for its `/api/`, passthrough and `/` routes (WebSocket routes keep their
     * hour-long timeouts).
     * @default { limits: { maxBodySize: "256m", readTimeout: "300s", sendTimeout: "300s" }, routes: {} }
     * @example { routes: { "agent-memory": { maxBodySize: "1g", readTimeout: "15m" } } }
     */
    gateway: z
      .strictObject({
        limits: routeLimitsSchema.prefault({}),
        routes: z.partialRecord(serviceName, routeLimitsOverrideSchema).default({}),
      })
      .prefault({}),
    /** Prometheus on each node. */
    metrics: z.strictObject({ scrapeInterval: promDuration.default("15s") }).prefault({}),
    nodes: z.array(nodeSchema).min(1, { error: "must list at least one node" }).max(16),
  })
  .superRefine((v, ctx) => {
    for (const [number, files] of Object.entries(v.migrations.order)) {
      // The key's rule here: zod reports a bad record key only as "Invalid key in record".
      if (!migrationNumber.safeParse(number).success) {
        ctx.addIssue({ code: "custom", path: ["migrations", "order", number], message: "must be a migration number (digits), e.g. 004" });
        continue;
      }
      files.forEach((f, i) => {
        if (Number(f.slice(0, f.indexOf("_"))) !== Number(number)) {
          ctx.addIssue({ code: "custom", path: ["migrations", "order", number, i], message: `must be a file numbered ${number}` });
        } else if (files.indexOf(f) !== i) ctx.addIssue({ code: "custom", path: ["migrations", "order", number, i], message: "is listed twice" });
      });
    }
    if (v.rollback.active && Object.keys(v.rollback.digests).length === 0) {
      ctx.addIssue({ code: "custom", path: ["rollback", "digests"], message: "must pin at least one service's earlier digest when rollback.active is true" });
    }
  });

export type DaarionConfig = z.output<typeof daarionSchema>;
export type NodeConfig = z.output<typeof nodeSchema>;

/** Secret config keys the stack reads when present, generating a value otherwise (one per node). */
export const DAARION_OPTIONAL_SECRETS = ["daarionPostgresPassword", "daarionGrafanaAdminPassword"] as const;

/** Secret config keys the stack cannot generate (beyond the hosts' SSH keys): none. */
export const DAARION_REQUIRED_SECRETS = [] as const;

/** Every secret variable the stack's apps read, and its source (listed in the stack's JSON Schema). One value per node. */
export const DAARION_SECRET_VARIABLES: readonly SecretVariable[] = [
  { app: "postgres", variable: "POSTGRES_PASSWORD", key: "daarionPostgresPassword" },
  { app: "every service with a database", variable: "DATABASE_URL", key: "daarionPostgresPassword" },
  { app: "grafana", variable: "GRAFANA_ADMIN_PASSWORD", key: "daarionGrafanaAdminPassword" },
];
