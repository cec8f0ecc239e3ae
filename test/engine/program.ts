/**
 * The engine suite's program: every component that needs only the command, random and
 * postgresql providers, deployed onto the test hosts (titania: HAProxy; puck: nginx and
 * Caddy; prospero: Prometheus and Alertmanager; portia: PostgreSQL). `Knobs` are the
 * inputs the suite changes between runs, as an operator edits a stack.
 */
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { type PulumiFn } from "@pulumi/pulumi/automation";
import { CaddyRoute, CaddyServer, CaddySite } from "../../src/components/caddy";
import { CertificateCheck, HealthCheck } from "../../src/components/health";
import { HAProxyFrontend, HAProxyRoute } from "../../src/components/haproxy";
import { NginxSite } from "../../src/components/nginx";
import { PostgresDatabase } from "../../src/components/postgres";
import { PrometheusScrape, PrometheusServer } from "../../src/components/prometheus";
import { RemoteTask } from "../../src/components/task";
import { fleetProgram } from "../../src/remote/command";
import { defineHost, type Host } from "../../src/remote/host";
import { ADDRESSES, type Fleet, type HostName } from "../e2e/harness";
import { PID_FILES } from "../e2e/program";

export const APP_DOMAIN = "shop.fleet.test";
export const APP_PORT = 8090;
export const DOCS_DOMAIN = "docs.fleet.test";
export const DOCS_PORT = 8082;
export const DOCS_BODY = "docs via caddy on puck";
export const CERT_DIR = "/etc/haproxy/certs";
export const METRICS_FILE = "/srv/shop/metrics";
export const MARKER_FILE = "/srv/fleet-engine-marker";
export const GOOD_EXPR = 'up{job="shop"} == 0';
/** The SMTP password of Alertmanager: lands in alertmanager.yml (a secret file). */
export const SMTP_PASSWORD = "smtp-Pa55-never-in-state";
/** A secret a task reads from stdin and writes to a 0600 file. */
export const TASK_SECRET = "task-T0ken-never-in-state";

export interface Knobs {
  /** The body nginx answers on `/` of the shop site. */
  readonly siteBody: string;
  /** The nginx site's name: its file is /etc/nginx/conf.d/<site>.conf. */
  readonly site: string;
  /** Where the marker task runs (it writes MARKER_FILE, its delete removes it). */
  readonly markerHost: HostName;
  /** How puck is addressed: its name or its IP. */
  readonly puckAddress: "name" | "ip";
  /** puck's SSH port. */
  readonly puckPort: number;
  /** The shop's alert expression (an invalid one is refused by promtool on the host). */
  readonly alertExpr: string;
}

export const INITIAL: Knobs = {
  siteBody: "shop v1 via nginx on puck",
  site: "shop",
  markerHost: "titania",
  puckAddress: "name",
  puckPort: 22,
  alertExpr: GOOD_EXPR,
};

function hostsOf(fleet: Fleet, k: Knobs): Record<HostName, Host> {
  const key = pulumi.secret(fleet.hosts.titania.privateKey);
  const def = (name: HostName, address: string, port = 22): Host =>
    defineHost(name, { address, port, user: "root", hostKey: fleet.hosts[name].hostKey, services: "direct", pidFiles: { ...PID_FILES } }, key);
  return {
    titania: def("titania", "titania.incus"),
    portia: def("portia", "portia.incus"),
    prospero: def("prospero", "prospero.incus"),
    puck: def("puck", k.puckAddress === "name" ? "puck.incus" : ADDRESSES.puck, k.puckPort),
  };
}

/** What titania has before the stack: an operator's certificate for the shop's domain in CERT_DIR. */
export async function installCertificate(fleet: Fleet): Promise<void> {
  const r = await fleet.exec("titania", [
    "/bin/sh",
    "-c",
    `mkdir -p ${CERT_DIR} && cd ${CERT_DIR} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 ` +
      `-subj /CN=${APP_DOMAIN} -addext subjectAltName=DNS:${APP_DOMAIN} -keyout k.pem -out c.pem 2>/dev/null && cat c.pem k.pem > shop.pem && rm c.pem k.pem`,
  ]);
  if (r.code !== 0) throw new Error(`making the certificate on titania failed: ${r.stderr}`);
}

/** The inline program for knobs `k`. */
export function engineProgram(fleet: Fleet, k: Knobs): PulumiFn {
  return fleetProgram(() => {
    const hosts = hostsOf(fleet, k);
    const { titania, prospero, puck } = hosts;
    const pg = fleet.postgres;

    const frontend = new HAProxyFrontend("titania", {
      host: titania,
      httpBind: `${ADDRESSES.titania}:80`,
      https: { bind: `${ADDRESSES.titania}:443`, certDir: CERT_DIR, redirect: false },
      nameservers: [{ address: "127.0.0.1", port: 53 }],
    });
    // The app writes its own metrics; nginx serves them as a static file.
    const metrics = new RemoteTask("shop-metrics-file", {
      host: puck,
      // Modes explicit: the token task below may create /srv/shop first, under umask 077.
      script: `install -d -m 0755 /srv/shop && printf '# TYPE shop_up gauge\\nshop_up 1\\n' > ${METRICS_FILE} && chmod 0644 ${METRICS_FILE}`,
      onDelete: `rm -f ${METRICS_FILE}`,
    });
    const site = new NginxSite("shop-site", {
      host: puck,
      site: k.site,
      listen: APP_PORT,
      address: ADDRESSES.puck,
      locations: [
        { path: "= /healthz", returnStatus: 200, returnBody: "ok" },
        { path: "/", returnStatus: 200, returnBody: k.siteBody },
        { path: "= /metrics", static: { root: "/srv/shop" } },
      ],
    });
    const route = new HAProxyRoute(
      "shop",
      { host: titania, backend: "shop", domains: [APP_DOMAIN], healthPath: "/healthz", servers: [{ name: "puck", address: "puck.incus", port: APP_PORT }] },
      { dependsOn: [frontend, site] },
    );

    const caddy = new CaddyServer("puck-caddy", { host: puck, admin: "localhost:2019", autoHttps: "off" });
    const docs = new CaddySite("docs-site", { server: caddy, site: "docs", addresses: [`http://${DOCS_DOMAIN}:${DOCS_PORT}`], fallback: { body: DOCS_BODY, status: 200 } });
    new CaddyRoute("docs-health", { site: docs, route: "health", path: "/healthz", upstreams: [`${ADDRESSES.puck}:${APP_PORT}`] }, { dependsOn: [site] });

    const server = new PrometheusServer("prospero", {
      host: prospero,
      scrapeInterval: "5s",
      evaluationInterval: "5s",
      scrapeTimeout: "5s",
      alertmanagers: ["prospero.incus:9093"],
      alertmanager: {
        smtp: { smarthost: "mail.fleet.test:587", from: "alerts@fleet.test", authUsername: "alerts" },
        route: { receiver: "ops" },
        receivers: [{ name: "ops", emails: [{ to: "ops@fleet.test" }] }],
      },
      smtpAuthPassword: pulumi.secret(SMTP_PASSWORD),
    });
    new PrometheusScrape(
      "shop-metrics",
      {
        host: prospero,
        jobName: "shop",
        scrapeInterval: "5s",
        targets: [`puck.incus:${APP_PORT}`],
        alerts: [{ name: "ShopDown", expr: k.alertExpr, for: "1m", severity: "critical", summary: "shop on {{ $labels.instance }} is down" }],
      },
      { dependsOn: [server, site, metrics] },
    );

    new HealthCheck(
      "shop-health",
      { host: titania, url: `http://titania.incus/healthz`, headers: { Host: APP_DOMAIN }, bodyMatch: "^ok$", attempts: 20, initialDelaySeconds: 1, maxDelaySeconds: 2, timeoutSeconds: 3 },
      { dependsOn: [route] },
    );
    new CertificateCheck("shop-cert", { host: titania, domains: [APP_DOMAIN], address: ADDRESSES.titania, port: 443, minValidDays: 7 }, { dependsOn: [frontend] });

    // A task that takes a secret on stdin, and one whose stdout is a secret.
    new RemoteTask("shop-token", {
      host: puck,
      script: `install -d -m 0755 /srv/shop && (umask 077 && printf '%s' "$TOKEN" > /srv/shop/token)`,
      secretNames: ["TOKEN"],
      secrets: { TOKEN: pulumi.secret(TASK_SECRET) },
      onDelete: "rm -f /srv/shop/token",
    });
    const nonce = new RemoteTask("shop-nonce", { host: puck, script: "od -An -N16 -tx1 /dev/urandom | tr -d ' \\n'", once: true, captureStdout: true });
    new RemoteTask("marker", { host: hosts[k.markerHost], script: `printf '%s\\n' ${k.markerHost} > ${MARKER_FILE}`, onDelete: `rm -f ${MARKER_FILE}` });

    const provider = new postgresql.Provider("portia", {
      host: ADDRESSES.portia,
      port: pg.port,
      username: pg.adminUser,
      password: pulumi.secret(pg.adminPassword),
      sslmode: "disable",
      superuser: true,
    });
    // Not protected: the suite destroys the stack (production keeps the default, protected).
    const db = new PostgresDatabase("shop-db", { provider, database: "shop", url: { host: "portia.incus" }, protect: false });

    return Promise.resolve({ dbUrl: db.url, nonce: nonce.stdout });
  });
}
