/**
 * Settings of the `ouranos` stack (key `fleet:ouranos`), with the seeds' values as
 * defaults. Secrets are not here: they are Pulumi secret config keys, or generated.
 */
import { z } from "zod";
import type { SecretVariable } from "../registry";
import { bucketName } from "../../src/components/minio/args";
import { hostPort } from "../../src/components/prometheus/args";
import {
  absolutePath,
  cidr,
  containerName,
  domainName,
  envValue,
  gitRef,
  gitUrl,
  hostname,
  httpUrl,
  imageRef,
  pgIdentifier,
  port,
  promDuration,
  sha256Digest,
  slug,
  volumeName,
} from "../../src/validation/primitives";

const hostRef = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, { error: "must name a host under fleet:hosts" });
const bool = z.boolean();
/** A setting written into a dotenv file. */
const text = envValue;


/**
 * An app's database on fleet:postgres and the role that owns it: set both to what
 * already runs to adopt it (a change replaces the database, which is protected).
 */
function database(name: string) {
  return z
    .strictObject({
      /** Database name. */
      name: pgIdentifier.default(name),
      /** Login role that owns it (the app's DB user). */
      user: pgIdentifier.default(name),
    })
    .prefault({});
}

/** Mnemosyne's compose services (templates/mnemosyne/docker-compose.yaml.njk). */
export const MNEMOSYNE_SERVICES = ["app", "mcp", "worker", "static-init", "web"] as const;

export const ouranosSchema = z
  .strictObject({
    /** Which fleet:hosts entry plays each role. */
    roles: z
      .strictObject({
        haproxy: hostRef.default("titania"),
        prometheus: hostRef.default("prospero"),
        app: hostRef.default("puck"),
        neo4j: hostRef.default("umbriel"),
        rabbitmq: hostRef.default("oberon"),
      })
      .prefault({}),
    /** Key under fleet:postgres of the server holding both databases. @default "portia" */
    postgresServer: hostRef.default("portia"),
    /** Key under fleet:minio of the object store. @default "nyx" */
    minioServer: hostRef.default("nyx"),
    /** Names apps use to reach shared services (the `.incus` DNS of the sandbox). */
    dns: z
      .strictObject({
        postgres: hostname.default("portia.incus"),
        app: hostname.default("puck.incus"),
        neo4j: hostname.default("umbriel.incus"),
        rabbitmq: hostname.default("oberon.incus"),
        memcached: hostname.default("oberon.incus"),
        email: hostname.default("oberon.incus"),
      })
      .prefault({}),
    haproxy: z
      .strictObject({
        /** Own haproxy.cfg on the HAProxy host (frontends, resolvers, host map). */
        manageFrontend: bool.default(true),
        /** Certificate directory for the https frontend. */
        certDir: absolutePath.default("/etc/haproxy/certs"),
        /** Address HAProxy listens on for https, used by the certificate and SPA checks. */
        checkAddress: hostname.default("127.0.0.1"),
      })
      .prefault({}),
    casdoor: z
      .strictObject({
        /** Casdoor base URL as reached from the HAProxy host. */
        endpoint: httpUrl.default("http://127.0.0.1:8000"),
        organization: slug.default("built-in"),
        /** Casdoor application name for Daedalus. */
        application: slug.default("daedalus"),
        /** Display name. */
        displayName: text.default("Daedalus"),
      })
      .prefault({}),
    prometheus: z
      .strictObject({
        /** Own prometheus.base.yml (global settings, rule_files, alerting) on the Prometheus host. */
        manageServer: bool.default(true),
        /** Alertmanager targets Prometheus sends alerts to. */
        alertmanagers: z.array(hostPort).max(16).default(["localhost:9093"]),
        /** Provision Grafana dashboards from files on the Prometheus host. */
        grafana: bool.default(true),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /** Networks allowed to read /metrics (DESIGN.md seed decision). */
        allow: z.array(cidr).min(1).default(["10.10.0.0/24", "172.16.0.0/12", "127.0.0.0/8"]),
        scrapeInterval: promDuration.default("15s"),
      })
      .prefault({}),
    daedalus: z
      .strictObject({
        domain: domainName.default("daedalus.ouranos.helu.ca"),
        /** `production`: systemd + nginx on the host; `compose`: the development compose variant. */
        mode: z.enum(["production", "compose"]).default("production"),
        repo: z.strictObject({
          url: gitUrl,
          /**
           * Branch, tag or commit deployed. `pulumi preview` resolves it to a commit with
           * `git ls-remote` (a branch that moved is a change; a ref that does not exist is an
           * error); the commit deployed is the stack output `daedalusCommit`.
           */
          ref: gitRef,
          /**
           * The commit `ref` names, pinned: nothing is looked up at preview, and the checkout
           * refuses a ref that names another commit. @default resolved at preview
           */
          commit: z.string().regex(/^[0-9a-f]{40}$/, { error: "must be a full commit id (40 lowercase hex digits)" }).optional(),
        }),
        nginxPort: port.default(22181),
        uvicornPort: port.default(8000),
        workers: z.number().int().min(1).max(64).default(2),
        /**
         * Releases kept under /srv/daedalus/releases (production mode), the live one and the
         * one before it included: older ones are pruned after a release goes live.
         * @default 3
         */
        keepReleases: z.number().int().min(2, { error: "must be at least 2: the live release and the one a failed deploy goes back to" }).max(20).default(3),
        bucket: bucketName.default("daedalus"),
        /** Image of the dev variant's nginx (pinned by digest at deploy). */
        devNginxImage: imageRef.default("nginx:alpine"),
        devNginxDigest: sha256Digest.optional(),
        /** Extra DAEDALUS_* settings for the backend `.env`. */
        settings: z.record(z.string().regex(/^DAEDALUS_[A-Z0-9_]+$/, { error: "must be a DAEDALUS_* variable name" }), text).default({}),
        /** The database and its user (daedalus-deployment.md, "Database"). @default { name: "daedalus", user: "daedalus" } */
        db: database("daedalus"),
      }),
    mnemosyne: z
      .strictObject({
        domain: domainName.default("mnemosyne.ouranos.helu.ca"),
        directory: absolutePath.default("/opt/mnemosyne"),
        port: port.default(23181),
        image: imageRef.default("git.helu.ca/r/mnemosyne:latest"),
        /** Pin a digest (rollback); otherwise the tag's current digest is resolved at preview. */
        digest: sha256Digest.optional(),
        webImage: imageRef.default("nginx:alpine"),
        webDigest: sha256Digest.optional(),
        staticDir: absolutePath.default("/app/staticfiles"),
        s3Bucket: bucketName.default("mnemosyne-content"),
        /** Plain settings with the seed's defaults (§4). */
        settings: z
          .strictObject({
            DEBUG: text.default("False"),
            TIME_ZONE: text.default("UTC"),
            LANGUAGE_CODE: text.default("en-us"),
            USE_LOCAL_STORAGE: text.default("False"),
            AWS_S3_USE_SSL: text.default("True"),
            AWS_S3_VERIFY: text.default("False"),
            AWS_S3_REGION_NAME: text.default("us-east-1"),
            DAEDALUS_S3_REGION_NAME: text.default("us-east-1"),
            DAEDALUS_S3_USE_SSL: text.default("True"),
            DAEDALUS_S3_VERIFY: text.default("True"),
            CELERY_RESULT_BACKEND: text.default("rpc://"),
            CELERY_TASK_ALWAYS_EAGER: text.default("False"),
            CELERY_QUEUES: text.default("celery,embedding,batch"),
            CELERY_CONCURRENCY: text.default("2"),
            MCP_REQUIRE_AUTH: text.default("True"),
            EMAIL_PORT: text.default("22025"),
            EMAIL_USE_TLS: text.default("False"),
            EMBEDDING_BATCH_SIZE: text.default("8"),
            EMBEDDING_TIMEOUT: text.default("120"),
            SEARCH_VECTOR_TOP_K: text.default("50"),
            SEARCH_FULLTEXT_TOP_K: text.default("30"),
            SEARCH_GRAPH_MAX_DEPTH: text.default("2"),
            SEARCH_RRF_K: text.default("60"),
            SEARCH_DEFAULT_LIMIT: text.default("20"),
            RERANKER_MAX_CANDIDATES: text.default("32"),
            RERANKER_TIMEOUT: text.default("30"),
            LOGGING_LEVEL: text.default("INFO"),
            DJANGO_LOGGING_LEVEL: text.default("WARNING"),
            CELERY_LOGGING_LEVEL: text.default("INFO"),
          })
          .prefault({}),
        memcachedPort: port.default(11211),
        memcachedPrefix: slug.default("mnemosyne"),
        serviceUser: z.string().regex(/^[a-z][a-z0-9-]{2,63}$/, { error: "must be 3-64 characters of a-z, 0-9 and '-', starting with a letter" }).default("daedalus-service"),
        signingKeyId: slug.default("daedalus-1"),
        /** The database and its user (mnemosyne-deployment.md §2). @default { name: "mnemosyne", user: "mnemosyne" } */
        db: database("mnemosyne"),
        /**
         * Container name per compose service (`container_name`), to match containers
         * that already run. Changing one recreates that service's container.
         * @default compose's own, `mnemosyne-<service>-1` (project `mnemosyne`, as the seed's `docker compose up -d` in /opt/mnemosyne makes)
         * @example { app: "mnemosyne-app", web: "mnemosyne-nginx" }
         */
        containers: z
          .strictObject({
            app: containerName.optional(),
            mcp: containerName.optional(),
            worker: containerName.optional(),
            "static-init": containerName.optional(),
            web: containerName.optional(),
          })
          .prefault({})
          .superRefine((v, ctx) => {
            const seen = new Map<string, string>();
            for (const [service, name] of Object.entries(v)) {
              if (name === undefined) continue;
              const first = seen.get(name);
              if (first) ctx.addIssue({ code: "custom", path: [service], message: `${name} is already the container name of ${first}: every container needs its own name` });
              else seen.set(name, service);
            }
          }),
        /**
         * Docker volume names, to reuse volumes that already exist (their data is kept).
         * @default compose's own, `mnemosyne_static`
         */
        volumes: z.strictObject({ static: volumeName.optional() }).prefault({}),
        /**
         * The first `up` against a node that already runs Mnemosyne by hand: every
         * container of the project's names (and those listed here) that exists outside
         * the project is backed up (`docker inspect` + a tar of each volume, taken
         * stopped, into `<directory>/backups/adopted/`), removed and replaced by the
         * project's own on the same volumes; the network `mnemosyne_mnemosyne` made
         * outside the project is replaced. A no-op when nothing foreign runs.
         * @default { enabled: true, containers: [] }
         */
        adopt: z
          .strictObject({
            enabled: bool.default(true),
            /** Other names of containers that run Mnemosyne now (a hand-made `docker run`, an older project). @default [] */
            containers: z.array(containerName).max(32).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
    neo4j: z
      .strictObject({
        image: imageRef.default("neo4j:5"),
        digest: sha256Digest.optional(),
        boltPort: port.default(7687),
        browserPort: port.default(25555),
        directory: absolutePath.default("/opt/neo4j-mnemosyne"),
      })
      .prefault({}),
    rabbitmq: z
      .strictObject({
        port: port.default(5672),
        vhost: slug.default("mnemosyne"),
        user: slug.default("mnemosyne"),
      })
      .prefault({}),
  });

export type OuranosConfig = z.output<typeof ouranosSchema>;

/** Secret config keys the stack reads when present, generating a value otherwise. */
export const OURANOS_OPTIONAL_SECRETS = [
  "daedalusDbPassword",
  "mnemosyneDbPassword",
  "mnemosyneSecretKey",
  "mnemosyneLlmEncryptionKey",
  "neo4jPassword",
  "rabbitmqPassword",
  "mnemosyneServicePassword",
] as const;

/** Secret config keys the stack cannot generate (owned by other systems). */
export const OURANOS_REQUIRED_SECRETS = ["casdoorClientId", "casdoorClientSecret"] as const;

/** Every secret variable the stack's apps read, and its source (listed in the stack's JSON Schema). */
export const OURANOS_SECRET_VARIABLES: readonly SecretVariable[] = [
  { app: "daedalus", variable: "DAEDALUS_DATABASE_URL", key: "daedalusDbPassword" },
  { app: "daedalus", variable: "DAEDALUS_S3_SECRET_KEY", generated: "the secret of MinIO user daedalus (bucket daedalus, read-write), made with the bucket" },
  { app: "mnemosyne", variable: "APP_DB_PASSWORD", key: "mnemosyneDbPassword" },
  { app: "mnemosyne", variable: "AWS_SECRET_ACCESS_KEY", generated: "the secret of MinIO user mnemosyne (bucket mnemosyne-content, read-write), made with the bucket" },
  { app: "mnemosyne", variable: "CELERY_BROKER_URL", key: "rabbitmqPassword" },
  { app: "mnemosyne", variable: "DAEDALUS_S3_SECRET_ACCESS_KEY", generated: "the secret of MinIO user mnemosyne-daedalus-ro (bucket daedalus, read-only), made with the bucket" },
  { app: "mnemosyne", variable: "LLM_API_SECRETS_ENCRYPTION_KEY", key: "mnemosyneLlmEncryptionKey" },
  { app: "mnemosyne", variable: "NEOMODEL_NEO4J_BOLT_URL", key: "neo4jPassword" },
  { app: "mnemosyne", variable: "SECRET_KEY", key: "mnemosyneSecretKey" },
  { app: "neo4j", variable: "NEO4J_PASSWORD", key: "neo4jPassword" },
];
