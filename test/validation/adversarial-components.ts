/**
 * Valid plain args of every component, for the adversarial pass over component args
 * (test/validation/adversarial.test.ts): each leaf of the parsed args (defaults filled
 * in) is replaced by each hostile class and parsed by the component's own schema,
 * which every component parses before registering anything (house style 16).
 */
import { type z } from "zod";
import { caddyRouteSchema, caddyServerSchema, caddySiteSchema } from "../../src/components/caddy/args";
import { casdoorApplicationSchema } from "../../src/components/casdoor/application";
import { composeStackSchema } from "../../src/components/compose/args";
import { haproxyFrontendSchema, haproxyRouteSchema } from "../../src/components/haproxy/args";
import { healthCheckSchema } from "../../src/components/health/args";
import { certificateCheckSchema } from "../../src/components/health/certificate";
import { directoriesSchema, systemUserSchema } from "../../src/components/host/system";
import { s3BucketSchema } from "../../src/components/minio/args";
import { nginxSiteSchema } from "../../src/components/nginx/args";
import { postgresDatabaseSchema } from "../../src/components/postgres/args";
import { prometheusScrapeSchema, prometheusServerSchema } from "../../src/components/prometheus/args";
import { rabbitmqVhostSchema } from "../../src/components/rabbitmq/vhost";
import { systemdUnitSchema } from "../../src/components/systemd/args";
import { remoteTaskSchema } from "../../src/components/task/args";

const COMPOSE = "services:\n  app:\n    image: git.helu.ca/r/mnemosyne:latest\n    environment:\n      SECRET_KEY: ${SECRET_KEY}\n";

export const COMPONENTS: readonly { readonly name: string; readonly schema: z.ZodType; readonly args: unknown }[] = [
  {
    name: "HAProxyRoute",
    schema: haproxyRouteSchema,
    args: { backend: "daedalus", domains: ["daedalus.ouranos.helu.ca"], healthPath: "/api/health", denyPaths: ["/metrics"], servers: [{ name: "puck", address: "puck.incus", port: 22181 }], description: "Daedalus" },
  },
  { name: "HAProxyFrontend", schema: haproxyFrontendSchema, args: { https: { certDir: "/etc/haproxy/certs" }, nameservers: [{ address: "127.0.0.1" }] } },
  {
    name: "NginxSite",
    schema: nginxSiteSchema,
    args: {
      site: "daedalus",
      listen: 22181,
      root: "/srv/daedalus/frontend/build",
      spa: true,
      locations: [
        { path: "/api/", proxyPass: "http://127.0.0.1:8000", headers: [{ name: "X-A", value: "$host" }] },
        { path: "/metrics", proxyPass: "http://127.0.0.1:8000", allow: ["10.10.0.0/24"] },
        { path: "= /healthz", returnStatus: 200, returnBody: "ok" },
      ],
    },
  },
  { name: "CaddyServer", schema: caddyServerSchema, args: { email: "ops@example.com", imports: ["/etc/caddy/legacy/*.caddy"], admin: "localhost:2019" } },
  {
    name: "CaddySite",
    schema: caddySiteSchema,
    args: { site: "menagerie", addresses: ["menagerie.circuitforge.tech"], encode: ["gzip"], fallback: { body: "not yet", status: 503 }, log: { output: "/data/logs/menagerie.log", format: "json" } },
  },
  {
    name: "CaddyRoute",
    schema: caddyRouteSchema,
    args: { route: "peregrine", path: "/peregrine*", upstreams: ["http://host.docker.internal:8505"], headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }] },
  },
  {
    name: "PrometheusScrape",
    schema: prometheusScrapeSchema,
    args: {
      jobName: "daedalus",
      targets: ["puck.incus:22181"],
      scrapeInterval: "15s",
      metricsPath: "/metrics",
      labels: { team: "ouranos" },
      alerts: [{ name: "DaedalusDown", expr: "up == 0", for: "1m", severity: "critical", summary: "down", description: "d" }],
    },
  },
  { name: "PrometheusServer", schema: prometheusServerSchema, args: { scrapeInterval: "15s", alertmanagers: ["localhost:9093"] } },
  {
    name: "ComposeStack",
    schema: composeStackSchema,
    args: { project: "mnemosyne", directory: "/opt/mnemosyne", compose: { content: COMPOSE }, images: { app: { image: "git.helu.ca/r/mnemosyne:latest" } } },
  },
  {
    name: "SystemdUnit",
    schema: systemdUnitSchema,
    args: {
      name: "app.service",
      unit: { description: "App", after: ["network.target"] },
      service: { user: "app", workingDirectory: "/srv/app", execStart: "/srv/app/bin/app --port 8000", environment: { APP_ENV: "production" }, environmentFiles: ["/srv/app/.env"], syslogIdentifier: "app", readWritePaths: ["/srv/app/data"] },
      install: { wantedBy: ["multi-user.target"] },
    },
  },
  { name: "RemoteTask", schema: remoteTaskSchema, args: { argv: ["alembic", "upgrade", "head"] } },
  {
    name: "HealthCheck",
    schema: healthCheckSchema,
    args: { url: "http://puck.incus:22181/api/health", bodyMatch: "ok", headers: { "X-A": "b" }, basicAuthUser: "svc", description: "Daedalus health" },
  },
  { name: "CertificateCheck", schema: certificateCheckSchema, args: { domains: ["daedalus.ouranos.helu.ca"], address: "127.0.0.1" } },
  { name: "S3Bucket", schema: s3BucketSchema, args: { bucket: "daedalus", writer: "daedalus", readers: [{ user: "mnemosyne-ro" }] } },
  { name: "PostgresDatabase", schema: postgresDatabaseSchema, args: { database: "daedalus", url: { host: "portia.incus" } } },
  { name: "RabbitMQVhost", schema: rabbitmqVhostSchema, args: { vhost: "mnemosyne", user: "mnemosyne" } },
  {
    name: "CasdoorApplication",
    schema: casdoorApplicationSchema,
    args: { endpoint: "http://127.0.0.1:8000", name: "daedalus", displayName: "Daedalus", organization: "built-in", redirectUris: ["https://daedalus.ouranos.helu.ca/callback"], homepageUrl: "https://daedalus.ouranos.helu.ca/" },
  },
  { name: "SystemUser", schema: systemUserSchema, args: { name: "daedalus", home: "/srv/daedalus" } },
  { name: "Directories", schema: directoriesSchema, args: { directories: [{ path: "/srv/daedalus", owner: "daedalus", mode: "0755" }] } },
];
