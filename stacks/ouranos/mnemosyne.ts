/**
 * Mnemosyne on Puck (mnemosyne-deployment.md) as one AppDeployment: /opt/mnemosyne
 * (0750) with nginx/, the compose file and nginx/mnemosyne.conf from templates, `.env`
 * (0600) with every variable of §4, pull + up with digests pinned, the one-time setup
 * commands, the HAProxy route, the probes of §5 and the scrape job.
 */
import * as pulumi from "@pulumi/pulumi";
import { type AppCheckArgs, AppDeployment } from "../../src/components/app";
import { healthCheckSchema } from "../../src/components/health/args";
import { HOST_PROBE_LABEL, healthCheckScript } from "../../src/components/health/render";
import { sha256 } from "../../src/hash";
import { type Host } from "../../src/remote/host";
import { renderTemplate } from "../../src/templating";
import { after, aliased } from "../../src/transform";
import { MNEMOSYNE_SERVICES, type OuranosConfig } from "./config";
import { type HAProxyEdge, type PrometheusEdge, puckRoute, puckScrape } from "./edges";
import { envFor, MNEMOSYNE_ENV } from "./mnemosyne-env";

export interface MnemosyneSecrets {
  readonly secretKey: pulumi.Output<string>;
  readonly llmEncryptionKey: pulumi.Output<string>;
  readonly dbPassword: pulumi.Output<string>;
  readonly neo4jBoltUrl: pulumi.Output<string>;
  readonly brokerUrl: pulumi.Output<string>;
  readonly s3: { readonly accessKey: pulumi.Output<string>; readonly secretKey: pulumi.Output<string> };
  readonly daedalusS3: { readonly accessKey: pulumi.Output<string>; readonly secretKey: pulumi.Output<string> };
  readonly servicePassword: pulumi.Output<string>;
}

export interface MnemosyneInputs {
  readonly cfg: OuranosConfig;
  readonly puck: Host;
  readonly minioUrl: string;
  readonly db: { readonly name: pulumi.Input<string>; readonly user: pulumi.Input<string>; readonly host: string; readonly port: number };
  readonly secrets: MnemosyneSecrets;
}

/** The `.env` values, one per variable of the seed's tables (nothing more, nothing less). */
export function mnemosyneEnv(i: MnemosyneInputs): Record<string, pulumi.Input<string>> {
  const m = i.cfg.mnemosyne;
  const s = i.secrets;
  const values: Record<string, pulumi.Input<string>> = {
    ...m.settings,
    SECRET_KEY: s.secretKey,
    ALLOWED_HOSTS: `localhost,127.0.0.1,${m.domain}`,
    CSRF_TRUSTED_ORIGINS: `https://${m.domain}`,
    APP_DB_NAME: i.db.name,
    APP_DB_USER: i.db.user,
    APP_DB_PASSWORD: s.dbPassword,
    DB_HOST: i.db.host,
    DB_PORT: String(i.db.port),
    NEOMODEL_NEO4J_BOLT_URL: s.neo4jBoltUrl,
    KVDB_LOCATION: `${i.cfg.dns.memcached}:${m.memcachedPort}`,
    KVDB_PREFIX: m.memcachedPrefix,
    AWS_ACCESS_KEY_ID: s.s3.accessKey,
    AWS_SECRET_ACCESS_KEY: s.s3.secretKey,
    AWS_STORAGE_BUCKET_NAME: m.s3Bucket,
    AWS_S3_ENDPOINT_URL: i.minioUrl,
    DAEDALUS_S3_ENDPOINT_URL: i.minioUrl,
    DAEDALUS_S3_ACCESS_KEY_ID: s.daedalusS3.accessKey,
    DAEDALUS_S3_SECRET_ACCESS_KEY: s.daedalusS3.secretKey,
    DAEDALUS_S3_BUCKET_NAME: i.cfg.daedalus.bucket,
    CELERY_BROKER_URL: s.brokerUrl,
    LLM_API_SECRETS_ENCRYPTION_KEY: s.llmEncryptionKey,
    EMAIL_HOST: i.cfg.dns.email,
  };
  // Exactly the seed's variables: a typo here would otherwise ship silently.
  const expected = MNEMOSYNE_ENV.map((v) => v.name).sort();
  const got = Object.keys(values).sort();
  if (expected.join() !== got.join()) {
    throw new Error(`Mnemosyne .env drifted from the seed's tables: missing ${expected.filter((k) => !got.includes(k)).join(", ") || "none"}; extra ${got.filter((k) => !expected.includes(k)).join(", ") || "none"}`);
  }
  return values;
}

/** Mnemosyne's compose project (its files are named after it; compose names containers and volumes after it). */
export const MNEMOSYNE_PROJECT = "mnemosyne";

export function mnemosyneCompose(cfg: OuranosConfig): string {
  const m = cfg.mnemosyne;
  return renderTemplate("mnemosyne/docker-compose.yaml.njk", {
    host: "puck",
    image: m.image,
    webImage: m.webImage,
    port: m.port,
    staticDir: m.staticDir,
    probeLabel: HOST_PROBE_LABEL,
    env: { app: envFor("app"), mcp: envFor("mcp"), worker: envFor("worker") },
    // "" renders compose's own name.
    containers: Object.fromEntries(MNEMOSYNE_SERVICES.map((s) => [s, m.containers[s] ?? ""])),
    volumes: { static: m.volumes.static ?? "" },
  });
}

/**
 * What the first `up` adopts when it exists outside the project: the containers under the
 * names the project gives them (configured, or compose's `mnemosyne-<service>-1`), the
 * other names config lists, and the project's network; backups go under the directory.
 */
export function mnemosyneAdoption(cfg: OuranosConfig): { containers: string[]; networks: string[]; backupDir: string } | undefined {
  const m = cfg.mnemosyne;
  if (!m.adopt.enabled) return undefined;
  const own = MNEMOSYNE_SERVICES.map((s) => m.containers[s] ?? `${MNEMOSYNE_PROJECT}-${s}-1`);
  return { containers: [...new Set([...own, ...m.adopt.containers])], networks: [`${MNEMOSYNE_PROJECT}_mnemosyne`], backupDir: `${m.directory}/backups/adopted` };
}

/** Mnemosyne's largest upload: its nginx's client_max_body_size and the HAProxy route's 413 bound. */
export const MNEMOSYNE_MAX_BODY_SIZE = "100m";

export function mnemosyneNginx(cfg: OuranosConfig): string {
  return renderTemplate("mnemosyne/nginx/mnemosyne.conf.njk", {
    port: cfg.mnemosyne.port,
    domain: cfg.mnemosyne.domain,
    maxBodySize: MNEMOSYNE_MAX_BODY_SIZE,
    metricsAllow: cfg.metrics.allow,
  });
}

export interface DeployOptions {
  readonly resolveDigest?: ((image: string) => pulumi.Input<string>) | undefined;
  /** Services the stack must not start before (Neo4j, the broker account). */
  readonly after?: readonly pulumi.Resource[];
  /**
   * The component the parts were children of before they were one AppDeployment (the
   * stack): each part keeps its name, and an alias to its old parent keeps it in an
   * existing deployment.
   */
  readonly formerParent?: pulumi.Resource;
}

/** Where Mnemosyne is reached and watched from. */
export interface MnemosyneEdges {
  /** Where the §5 probes run: a host inside 10.10.0.0/24 (Prospero). */
  readonly probesFrom: Host;
  /** HAProxy on Titania: the route (`/healthz` health, `/metrics` denied) and the service-account check through it. */
  readonly haproxy?: HAProxyEdge & {
    /** The address the check through HAProxy connects to. */
    readonly checkAddress: string;
  };
  /** Prometheus on Prospero: the scrape job. */
  readonly prometheus?: PrometheusEdge;
}

/**
 * Mnemosyne as one AppDeployment named `mnemosyne`: the compose project (named
 * `mnemosyne` too, as before: its files are named after it) with the one-time tasks,
 * the HAProxy route, the §5 probes from Prospero (`mnemosyne-live`, `-ready`,
 * `-healthz`, `-metrics`), the service-account check through HAProxy and the scrape job.
 */
export function mnemosyneApp(i: MnemosyneInputs, edges: MnemosyneEdges, parent: pulumi.Resource, opts: DeployOptions = {}): AppDeployment {
  const m = i.cfg.mnemosyne;
  const app = { image: m.image, ...(m.digest ? { digest: m.digest } : {}) };
  const base = `http://${i.cfg.dns.app}:${m.port}`;
  const probe = (path: string, description: string, bodyMatch?: string): AppCheckArgs => ({
    host: edges.probesFrom,
    url: `${base}${path}`,
    // Present the public name: Django's ALLOWED_HOSTS has the domain, not puck.incus.
    headers: { Host: m.domain, "X-Forwarded-Proto": "https" },
    description,
    ...(bodyMatch ? { bodyMatch } : {}),
    attempts: 12,
    after: ["deployment"],
    rerunOn: ["compose", "images"],
  });
  const formerly = opts.formerParent ? aliased({ parent: opts.formerParent }) : undefined;
  const adoption = mnemosyneAdoption(i.cfg);
  const checks: Record<string, AppCheckArgs> = {
    live: probe("/live/", "Mnemosyne Django liveness (via nginx)"),
    ready: probe("/ready/", "Mnemosyne readiness (Postgres + Memcached)"),
    healthz: probe("/healthz", "Mnemosyne MCP health (/healthz → mcp:8001/mcp/health)"),
    metrics: probe("/metrics", "Mnemosyne Prometheus metrics (internal only)", "^# (HELP|TYPE) "),
    ...(edges.haproxy
      ? {
          "service-account": {
            host: edges.haproxy.host,
            url: `https://${m.domain}/library/api/workspaces/`,
            resolve: { host: m.domain, port: 443, address: edges.haproxy.checkAddress },
            basicAuthUser: m.serviceUser,
            password: i.secrets.servicePassword,
            description: "daedalus-service account on the Mnemosyne API",
            attempts: 10,
            after: ["deployment", "route"],
          },
        }
      : {}),
  };
  return new AppDeployment(
    "mnemosyne",
    {
      host: i.puck,
      names: { compose: MNEMOSYNE_PROJECT },
      compose: {
        project: MNEMOSYNE_PROJECT,
        directory: m.directory,
        directoryMode: "0750",
        compose: { content: mnemosyneCompose(i.cfg) },
        env: mnemosyneEnv(i),
        files: [{ path: "nginx/mnemosyne.conf", content: mnemosyneNginx(i.cfg), restart: ["web"] }],
        images: { app, mcp: app, worker: app, "static-init": app, web: { image: m.webImage, ...(m.webDigest ? { digest: m.webDigest } : {}) } },
        pull: true,
        // The new version answers /live/ and /healthz through web's published port on Puck
        // before up counts it good; otherwise the previous one is brought back (issue 13 item 2).
        upChecks: [
          { name: "live", path: "/live/" },
          { name: "healthz", path: "/healthz" },
        ].map(({ name, path }) => ({
          name,
          body: healthCheckScript(
            healthCheckSchema.parse({ url: `http://127.0.0.1:${m.port}${path}`, headers: { Host: m.domain, "X-Forwarded-Proto": "https" }, description: `Mnemosyne ${path} on Puck`, attempts: 12 }),
          ),
        })),
        tasks: [
          // §3.3 and §6: migrations after every deploy (a no-op without new migrations).
          { name: "migrate", run: ["run", "--rm", "-T", "app", "migrate"] },
          { name: "setup", run: ["run", "--rm", "-T", "app", "setup"] },
          {
            name: "ensure-service-user",
            run: ["run", "--rm", "-T", "app", "python", "manage.py", "ensure_service_user", "--username", m.serviceUser, "--password", { secret: "SERVICE_PASSWORD" }],
            secrets: { SERVICE_PASSWORD: i.secrets.servicePassword },
            triggers: [pulumi.secret(i.secrets.servicePassword.apply(sha256))],
            onDeploy: false,
          },
          {
            // Prints the signing secret once: captured as a secret output, never re-run.
            name: "seed-signing-key",
            run: ["run", "--rm", "-T", "app", "python", "manage.py", "seed_signing_key", "--kid", m.signingKeyId, "--retire-other"],
            once: true,
            captureStdout: true,
          },
        ],
        ...(adoption ? { adopt: adoption } : {}),
        ...(opts.resolveDigest ? { resolveDigest: opts.resolveDigest } : {}),
        transform: { up: after(...(opts.after ?? [])) },
      },
      ...(edges.haproxy
        ? { route: puckRoute(i.cfg, { name: "mnemosyne", domain: m.domain, port: m.port, healthPath: "/healthz", limits: { maxBodySize: MNEMOSYNE_MAX_BODY_SIZE } }, edges.haproxy) }
        : {}),
      checks,
      ...(edges.prometheus ? { scrape: puckScrape(i.cfg, { name: "mnemosyne", port: m.port }, edges.prometheus) } : {}),
      ...(formerly
        ? {
            transform: {
              compose: formerly,
              route: formerly,
              scrape: formerly,
              checks: Object.fromEntries(Object.keys(checks).map((k) => [k, formerly])),
            },
          }
        : {}),
    },
    { parent },
  );
}
