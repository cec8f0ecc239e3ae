/**
 * Stack `ouranos`: Daedalus and Mnemosyne on the Agathos Incus sandbox, from
 * daedalus-deployment.md and mnemosyne-deployment.md. Every checklist item of both
 * documents is a resource here or an explicit verification (see test/stacks/ouranos).
 */
import * as pulumi from "@pulumi/pulumi";
import { CasdoorApplication } from "../../src/components/casdoor";
import { ComposeStack } from "../../src/components/compose";
import { HAProxyFrontend } from "../../src/components/haproxy";
import { CertificateCheck } from "../../src/components/health";
import { S3Bucket } from "../../src/components/minio";
import { PostgresDatabase } from "../../src/components/postgres";
import { PrometheusServer } from "../../src/components/prometheus";
import { RabbitMQVhost } from "../../src/components/rabbitmq";
import { buildHosts, buildMinioServers, buildPostgresServers, type ConfigSource, loadConfig, type LoadedConfig, pulumiConfigSource } from "../../src/config/loader";
import { minioUrl } from "../../src/config/servers";
import { type Host } from "../../src/remote/host";
import { renderTemplate } from "../../src/templating";
import { after } from "../../src/transform";
import { type Problem } from "../../src/validation/errors";
import { secretValue } from "../../src/validation/primitives";
import { OURANOS_OPTIONAL_SECRETS, OURANOS_REQUIRED_SECRETS, type OuranosConfig, ouranosSchema } from "./config";
import { daedalusApp } from "./daedalus";
import { resolveSources, type SourceAccess, sourceKey } from "../../src/git/sources";
import { mnemosyneApp } from "./mnemosyne";
import { configuredOrFernet, configuredOrGenerated } from "../../src/config/secrets";
import { credentialUrl } from "../../src/urls";

export interface OuranosOptions {
  readonly source?: ConfigSource;
  /** Resolve an image tag to its digest (defaults to @pulumi/docker's registry lookup). */
  readonly resolveDigest?: (image: string) => pulumi.Input<string>;
  /**
   * The commit Daedalus's `repo.ref` names, resolved before the stack is built
   * (`ouranosProgram`). @default `repo.commit` from config; without either the checkout
   * takes whatever the ref names when it runs.
   */
  readonly daedalusCommit?: string;
}

/**
 * Every port the stack opens, by the host (role) it opens it on: two on one host (two
 * roles may name the same host) cannot both listen. The Daedalus API's own port is on
 * the host only in production mode (in compose mode it stays inside the project network).
 */
export function portClashes(cfg: OuranosConfig): Problem[] {
  const d = cfg.daedalus;
  const opened: [host: string, key: string, port: number][] = [
    [cfg.roles.app, "daedalus/nginxPort", d.nginxPort],
    ...(d.mode === "production" ? [[cfg.roles.app, "daedalus/uvicornPort", d.uvicornPort] as [string, string, number]] : []),
    [cfg.roles.app, "mnemosyne/port", cfg.mnemosyne.port],
    [cfg.roles.neo4j, "neo4j/boltPort", cfg.neo4j.boltPort],
    [cfg.roles.neo4j, "neo4j/browserPort", cfg.neo4j.browserPort],
    [cfg.roles.rabbitmq, "rabbitmq/port", cfg.rabbitmq.port],
  ];
  const problems: Problem[] = [];
  const seen = new Map<string, string>();
  for (const [host, key, port] of opened) {
    const first = seen.get(`${host}:${port}`);
    if (first) problems.push({ path: `fleet:ouranos/${key}`, message: `${port} is already ${first.replace("/", ".")} on host ${host}: every service on a host needs its own port` });
    else seen.set(`${host}:${port}`, key);
  }
  return problems;
}

/** Cross-references between sections: roles name hosts, servers exist. */
function crossCheck(c: LoadedConfig<OuranosConfig>): Problem[] {
  const problems: Problem[] = [];
  for (const [role, name] of Object.entries(c.app.roles)) {
    if (!Object.hasOwn(c.hosts, name)) problems.push({ path: `fleet:ouranos/roles/${role}`, message: `names host "${name}", which is not under fleet:hosts (have: ${Object.keys(c.hosts).join(", ") || "none"})` });
  }
  if (!Object.hasOwn(c.postgres, c.app.postgresServer)) problems.push({ path: "fleet:ouranos/postgresServer", message: `names "${c.app.postgresServer}", which is not under fleet:postgres` });
  if (!Object.hasOwn(c.minio, c.app.minioServer)) problems.push({ path: "fleet:ouranos/minioServer", message: `names "${c.app.minioServer}", which is not under fleet:minio` });
  problems.push(...portClashes(c.app));
  return problems;
}

/** The stack's config, every rule checked (throws one ConfigError before any resource). */
export function loadOuranos(source: ConfigSource): LoadedConfig<OuranosConfig> {
  return loadConfig(source, {
    appKey: "ouranos",
    appSchema: ouranosSchema,
    requiredSecrets: [...OURANOS_REQUIRED_SECRETS],
    optionalSecrets: [...OURANOS_OPTIONAL_SECRETS],
    check: crossCheck,
    secretRule: secretValue,
  });
}

export class Ouranos extends pulumi.ComponentResource {
  constructor(name: string, opts: OuranosOptions = {}) {
    const source = opts.source ?? pulumiConfigSource();
    const loaded = loadOuranos(source);
    super("fleet:stack:Ouranos", name, {}, {});
    const parent = this;
    const cfg = loaded.app;
    const hosts = buildHosts(source, loaded.hosts);
    const host = (role: keyof OuranosConfig["roles"]): Host => hosts[cfg.roles[role]]!;
    const titania = host("haproxy");
    const prospero = host("prometheus");
    const puck = host("app");
    const umbriel = host("neo4j");
    const oberon = host("rabbitmq");
    const pgServer = buildPostgresServers(source, { [cfg.postgresServer]: loaded.postgres[cfg.postgresServer]! }, { parent })[cfg.postgresServer]!;
    const minioServer = buildMinioServers(source, { [cfg.minioServer]: loaded.minio[cfg.minioServer]! }, { parent })[cfg.minioServer]!;
    const s3Url = minioUrl(minioServer.spec);

    // ── Portia: databases and users ───────────────────────────────────────────
    const daedalusDb = new PostgresDatabase(
      "daedalus-db",
      {
        provider: pgServer.provider,
        database: cfg.daedalus.db.name,
        role: cfg.daedalus.db.user,
        url: { scheme: "postgresql+asyncpg", host: cfg.dns.postgres, port: pgServer.spec.port },
        ...(source.get("daedalusDbPassword") !== undefined ? { password: source.secret("daedalusDbPassword") } : {}),
      },
      { parent },
    );
    const mnemosyneDb = new PostgresDatabase(
      "mnemosyne-db",
      {
        provider: pgServer.provider,
        database: cfg.mnemosyne.db.name,
        role: cfg.mnemosyne.db.user,
        url: { host: cfg.dns.postgres, port: pgServer.spec.port },
        ...(source.get("mnemosyneDbPassword") !== undefined ? { password: source.secret("mnemosyneDbPassword") } : {}),
      },
      { parent },
    );

    // ── MinIO: buckets and scoped credentials ─────────────────────────────────
    const daedalusBucket = new S3Bucket(
      "daedalus-bucket",
      { provider: minioServer.provider, bucket: cfg.daedalus.bucket, writer: "daedalus", readers: [{ user: "mnemosyne-daedalus-ro" }] },
      { parent },
    );
    const mnemosyneBucket = new S3Bucket("mnemosyne-bucket", { provider: minioServer.provider, bucket: cfg.mnemosyne.s3Bucket, writer: "mnemosyne" }, { parent });

    // ── Umbriel: a dedicated Neo4j ─────────────────────────────────────────────
    const neo4jPassword = configuredOrGenerated(source, parent, { configKey: "neo4jPassword", name: "neo4j-password", length: 32 });
    const neo4j = new ComposeStack(
      "neo4j",
      {
        host: umbriel,
        project: "neo4j-mnemosyne",
        directory: cfg.neo4j.directory,
        compose: { content: renderTemplate("neo4j/docker-compose.yaml.njk", { host: umbriel.name, image: cfg.neo4j.image, boltPort: cfg.neo4j.boltPort, browserPort: cfg.neo4j.browserPort }) },
        env: { NEO4J_PASSWORD: neo4jPassword },
        images: { neo4j: { image: cfg.neo4j.image, ...(cfg.neo4j.digest ? { digest: cfg.neo4j.digest } : {}) } },
        ...(opts.resolveDigest ? { resolveDigest: opts.resolveDigest } : {}),
      },
      { parent },
    );
    const neo4jBoltUrl = pulumi.secret(neo4jPassword.apply((pw) => credentialUrl({ scheme: "bolt", user: "neo4j", password: pw, host: cfg.dns.neo4j, port: cfg.neo4j.boltPort })));

    // ── Oberon: RabbitMQ vhost and user ────────────────────────────────────────
    const rabbitmqPassword = configuredOrGenerated(source, parent, { configKey: "rabbitmqPassword", name: "rabbitmq-password", length: 32 });
    const amqp = new RabbitMQVhost("mnemosyne-amqp", { host: oberon, vhost: cfg.rabbitmq.vhost, user: cfg.rabbitmq.user, password: rabbitmqPassword }, { parent });
    const brokerUrl = pulumi.secret(
      rabbitmqPassword.apply((pw) => credentialUrl({ scheme: "amqp", user: cfg.rabbitmq.user, password: pw, host: cfg.dns.rabbitmq, port: cfg.rabbitmq.port, path: cfg.rabbitmq.vhost })),
    );

    const servicePassword = configuredOrGenerated(source, parent, { configKey: "mnemosyneServicePassword", name: "mnemosyne-service-password", length: 32 });
    // ── Titania: HAProxy routes, SSO, certificates ────────────────────────────
    const frontend = cfg.haproxy.manageFrontend
      ? new HAProxyFrontend("titania-haproxy", { host: titania, https: { certDir: cfg.haproxy.certDir } }, { parent })
      : undefined;
    const routeAfter = frontend ? { backend: after(frontend), map: after(frontend) } : {};
    const sso = new CasdoorApplication(
      "daedalus-sso",
      {
        host: titania,
        endpoint: cfg.casdoor.endpoint,
        name: cfg.casdoor.application,
        displayName: cfg.casdoor.displayName,
        organization: cfg.casdoor.organization,
        redirectUris: [`https://${cfg.daedalus.domain}/callback`],
        homepageUrl: `https://${cfg.daedalus.domain}/`,
        clientId: source.secret("casdoorClientId"),
        clientSecret: source.secret("casdoorClientSecret"),
      },
      { parent },
    );
    // ── Prospero: scrape jobs, alert rules, dashboard, reachability ────────────
    const server = cfg.prometheus.manageServer
      ? new PrometheusServer(
          "prospero-prometheus",
          { host: prospero, scrapeInterval: cfg.metrics.scrapeInterval, alertmanagers: cfg.prometheus.alertmanagers, ...(cfg.prometheus.grafana ? { grafana: {} } : {}) },
          { parent },
        )
      : undefined;
    const scrapeAfter = server ? { scrape: after(server), rules: after(server) } : {};

    // ── Puck: Daedalus, its route on Titania, checks and scrape job from Prospero ──
    const daedalusCommit = opts.daedalusCommit ?? cfg.daedalus.repo.commit;
    const daedalus = daedalusApp(
      { cfg, puck, commit: daedalusCommit, databaseUrl: daedalusDb.url, s3: { endpoint: s3Url, accessKey: daedalusBucket.credentials.accessKey, secretKey: daedalusBucket.credentials.secretKey } },
      { haproxy: { host: titania, checkAddress: cfg.haproxy.checkAddress, transform: routeAfter, sso }, prometheus: { host: prospero, transform: scrapeAfter } },
      parent,
      { formerParent: parent },
    );
    const daedalusRoute = daedalus.nodes.route!;

    // ── Puck: Mnemosyne, its route on Titania, probes and scrape job from Prospero ──
    const readOnly = daedalusBucket.readerCredentials["mnemosyne-daedalus-ro"]!;
    const mnemosyne = mnemosyneApp(
      {
        cfg,
        puck,
        minioUrl: s3Url,
        db: { name: mnemosyneDb.database, user: mnemosyneDb.role, host: cfg.dns.postgres, port: pgServer.spec.port },
        secrets: {
          secretKey: configuredOrGenerated(source, parent, { configKey: "mnemosyneSecretKey", name: "mnemosyne-secret-key", length: 50, special: "-_=+!@#%^*" }),
          llmEncryptionKey: configuredOrFernet(source, parent, { configKey: "mnemosyneLlmEncryptionKey", name: "mnemosyne-llm-encryption-key" }),
          dbPassword: mnemosyneDb.password,
          neo4jBoltUrl,
          brokerUrl,
          s3: mnemosyneBucket.credentials,
          daedalusS3: readOnly,
          servicePassword,
        },
      },
      { probesFrom: prospero, haproxy: { host: titania, checkAddress: cfg.haproxy.checkAddress, transform: routeAfter }, prometheus: { host: prospero, transform: scrapeAfter } },
      parent,
      { resolveDigest: opts.resolveDigest, after: [neo4j, amqp], formerParent: parent },
    );
    const mnemosyneRoute = mnemosyne.nodes.route!;
    const certs = new CertificateCheck(
      "ouranos-certificates",
      { host: titania, domains: [cfg.daedalus.domain, cfg.mnemosyne.domain], address: cfg.haproxy.checkAddress, transform: { command: after(daedalusRoute, mnemosyneRoute) } },
      { parent },
    );

    this.outputs = {
      daedalusUrl: `https://${cfg.daedalus.domain}/`,
      ...(daedalusCommit ? { daedalusCommit } : {}),
      mnemosyneUrl: `https://${cfg.mnemosyne.domain}/`,
      daedalusDatabaseUrl: daedalusDb.url,
      mnemosyneImages: mnemosyne.images,
      mnemosyneSigningKeyOutput: pulumi.secret(mnemosyne.taskOutputs["seed-signing-key"]!),
    };
    this.nodes = { daedalus, mnemosyne, neo4j, amqp, daedalusDb, mnemosyneDb, daedalusBucket, mnemosyneBucket, sso, certs, frontend, server };
    this.registerOutputs(this.outputs);
  }

  public readonly outputs: Record<string, pulumi.Input<unknown>>;
  public readonly nodes: Record<string, unknown>;
}

export function ouranos(opts: OuranosOptions = {}): Record<string, pulumi.Input<unknown>> {
  return new Ouranos("ouranos", opts).outputs;
}

/**
 * What `pulumi preview`/`up` run: bad config fails first; then Daedalus's ref is resolved
 * to a commit with `git ls-remote` (unless config pins `repo.commit`) before any resource,
 * so a ref that does not exist is one error naming it; then the stack.
 */
export async function ouranosProgram(opts: Pick<OuranosOptions, "source"> & SourceAccess = {}): Promise<Record<string, pulumi.Input<unknown>>> {
  const source = opts.source ?? pulumiConfigSource();
  const repo = loadOuranos(source).app.daedalus.repo;
  // The same resolution as every app's (src/git/sources.ts); Daedalus's checks read no file of it yet.
  const resolved = await resolveSources([repo], { subject: "stack ouranos (fleet:ouranos.daedalus.repo)", lsRemote: opts.lsRemote, readFiles: false });
  const daedalusCommit = resolved.get(sourceKey(repo))!.commit;
  return ouranos({ source, daedalusCommit });
}
