/**
 * Pure renderers of a DAARION node: plan → file text or script. No Pulumi, no I/O
 * beyond reading templates; deterministic (catalogue order, sorted keys).
 */
import { renderEnvFile } from "../../src/components/compose/render";
import { type PrometheusScrapeSpec, prometheusScrapeSchema, prometheusServerSchema, type PrometheusLayout } from "../../src/components/prometheus/args";
import { renderPrometheusBase, renderScrapeFragment } from "../../src/components/prometheus/render";
import { sh } from "../../src/remote/quote";
import { renderTemplate } from "../../src/templating";
import { containerName, GATEWAY_PORTS, type HealthProbe, service, type ServiceDef, type ServiceName, volumeName } from "./catalogue";
import { ACME_ROOT, type NodePlan, REPO_DIR, ROOT } from "./plan";

/** daarion-node-standards.md "Docker Healthcheck". */
export const HEALTHCHECK_DEFAULTS = { interval: "30s", timeout: "10s", retries: 3, startPeriod: "40s" } as const;

/** daarion-node-standards.md "Rate Limiting": `zone=api_limit:10m rate=10r/s`, `burst=20 nodelay`. */
export const RATE_LIMIT = { zone: "api_limit", rate: "10r/s", burst: 20 } as const;

/** The gateway's own /health answer, in the standards' response format. */
export const GATEWAY_HEALTH_BODY = '{"status": "healthy", "service": "gateway", "version": "1.0.0", "dependencies": {}}';

export const COMPOSE_FILE = "docker-compose.all.yml";
export const COMPOSE_PROJECT = "daarion";
export const GATEWAY_CONF = "infra/nginx/conf.d/default.conf";
export const PROMETHEUS_CONF = "infra/prometheus/prometheus.yml";
export const GRAFANA_DATASOURCE = "infra/grafana/provisioning/datasources/prometheus.yml";
export const POSTGRES_USER = "postgres";

function has(plan: NodePlan, name: ServiceName): boolean {
  return plan.services.includes(name);
}

function portOf(plan: NodePlan, name: ServiceName): number {
  const port = plan.ports[name];
  if (port === undefined) throw new Error(`${name} has no port on node ${plan.name}`);
  return port;
}

function healthTest(probe: HealthProbe, port: number | undefined): string[] {
  if ("command" in probe) return [...probe.command];
  const url = `http://localhost:${probe.http.port ?? port ?? 80}${probe.http.path}`;
  return probe.http.tool === "curl" ? ["CMD", "curl", "-f", url] : ["CMD", "wget", "-q", "-O", "/dev/null", url];
}

// ── .env ─────────────────────────────────────────────────────────────────────

export interface EnvSecrets {
  readonly postgresPassword: string;
  readonly grafanaAdminPassword?: string;
}

/** `postgresql://postgres:<percent-encoded password>@postgres:<port>/<database>`. */
export function databaseUrl(plan: NodePlan, password: string): string {
  return `postgresql://${POSTGRES_USER}:${encodeURIComponent(password)}@postgres:${portOf(plan, "postgres")}/${plan.database}`;
}

/** The `.env` values of a node: the shared connection URLs (overview "Environment Variables") and the secrets. */
export function nodeEnv(plan: NodePlan, secrets: EnvSecrets): Record<string, string> {
  const env: Record<string, string> = { DAARION_NODE: plan.name, DAARION_ROLE: plan.role, DAARION_DOMAIN: plan.domain };
  if (has(plan, "postgres")) {
    env.POSTGRES_USER = POSTGRES_USER;
    env.POSTGRES_DB = plan.database;
    env.POSTGRES_PASSWORD = secrets.postgresPassword;
    env.DATABASE_URL = databaseUrl(plan, secrets.postgresPassword);
  }
  if (has(plan, "redis")) env.REDIS_URL = `redis://redis:${portOf(plan, "redis")}/0`;
  if (has(plan, "nats")) env.NATS_URL = `nats://nats:${portOf(plan, "nats")}`;
  if (has(plan, "grafana")) {
    if (secrets.grafanaAdminPassword === undefined) throw new Error(`node ${plan.name} runs grafana but has no admin password`);
    env.GRAFANA_ADMIN_PASSWORD = secrets.grafanaAdminPassword;
  }
  return env;
}

/** Placeholder for secrets in `.env.example` (standards: ".env.example з плейсхолдерами" in Git). */
export const PLACEHOLDER = "CHANGE_ME";

/** `.env.example`: the same keys as `.env`, every secret replaced by a placeholder. */
export function renderEnvExample(plan: NodePlan): string {
  return renderEnvFile(nodeEnv(plan, { postgresPassword: PLACEHOLDER, grafanaAdminPassword: PLACEHOLDER }), ".env.example");
}

// ── docker-compose.all.yml ───────────────────────────────────────────────────

interface ComposeServiceModel {
  readonly name: string;
  readonly image: string;
  readonly container: string;
  readonly command: readonly string[];
  readonly environment: readonly { name: string; value: string }[];
  readonly ports: readonly string[];
  readonly volumes: readonly string[];
  readonly labels: readonly string[];
  readonly healthcheck: readonly string[];
  readonly dependsOn: readonly string[];
}

/** Environment of one container: what it needs from `.env`, its port, the URLs of the services it calls. */
function environmentOf(plan: NodePlan, def: ServiceDef): { name: string; value: string }[] {
  const env: Record<string, string> = {};
  if (def.name === "postgres") {
    Object.assign(env, { POSTGRES_USER: "${POSTGRES_USER}", POSTGRES_DB: "${POSTGRES_DB}", POSTGRES_PASSWORD: "${POSTGRES_PASSWORD}" });
  } else if (def.name === "grafana") {
    Object.assign(env, { GF_SECURITY_ADMIN_PASSWORD: "${GRAFANA_ADMIN_PASSWORD}", GF_USERS_ALLOW_SIGN_UP: "false" });
  } else if (def.image === "own" && def.port !== undefined && def.name !== "frontend") {
    env.SERVICE_NAME = def.name;
    env.PORT = String(portOf(plan, def.name));
    if (def.needs.includes("database")) env.DATABASE_URL = "${DATABASE_URL}";
    if (def.needs.includes("redis")) env.REDIS_URL = "${REDIS_URL}";
    if (def.needs.includes("nats")) env.NATS_URL = "${NATS_URL}";
    // Service-specific URLs (overview: "e.g., AUTH_SERVICE_URL") for the services it calls.
    for (const dep of def.dependsOn) {
      const d = service(dep);
      if (d.image !== "own") continue;
      env[`${dep.replace(/-/g, "_").toUpperCase()}_URL`] = `http://${dep}:${portOf(plan, dep)}`;
    }
  }
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name]! }));
}

function volumesOf(plan: NodePlan, def: ServiceDef): string[] {
  const out: string[] = [];
  if (def.dataPath) out.push(`${volumeName(def)}:${def.dataPath}`);
  if (def.name === "gateway") {
    out.push(`./infra/nginx/conf.d:/etc/nginx/conf.d:ro`, `${plan.tls.mount}:${plan.tls.mount}:ro`, `${ACME_ROOT}:${ACME_ROOT}:ro`);
  }
  if (def.name === "prometheus") out.push("./infra/prometheus:/etc/prometheus:ro");
  if (def.name === "grafana") out.push("./infra/grafana/provisioning:/etc/grafana/provisioning:ro");
  return out;
}

function commandOf(def: ServiceDef): string[] {
  if (def.name === "prometheus") {
    return ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=15d"];
  }
  return [...(def.command ?? [])];
}

export function composeModel(plan: NodePlan): { services: ComposeServiceModel[]; volumes: string[] } {
  const services = plan.services.map((name): ComposeServiceModel => {
    const def = service(name);
    return {
      name,
      image: plan.images[name]!,
      container: containerName(name),
      command: commandOf(def),
      environment: environmentOf(plan, def),
      // Only the gateway publishes ports (standards "Network Isolation").
      ports: name === "gateway" ? GATEWAY_PORTS.map((p) => `${p}:${p}`) : [],
      volumes: volumesOf(plan, def),
      labels: [`com.daarion.service=${def.short}`, `com.daarion.tier=${def.layer}`, `com.daarion.phase=${def.phase}`],
      healthcheck: healthTest(def.health, plan.ports[name]),
      dependsOn: def.dependsOn.filter((d) => plan.services.includes(d)),
    };
  });
  const volumes = plan.services.map(service).filter((d) => d.dataPath !== undefined).map(volumeName);
  return { services, volumes };
}

export function renderCompose(plan: NodePlan): string {
  const { services, volumes } = composeModel(plan);
  return renderTemplate("daarion/docker-compose.all.yml.njk", { node: plan.name, role: plan.role, services, volumes, healthcheck: HEALTHCHECK_DEFAULTS });
}

// ── The gateway ──────────────────────────────────────────────────────────────

export interface GatewayRoute {
  readonly external: string;
  readonly internal: string;
}

/** The node's gateway routes as the overview's tables write them (external route → internal URL). */
export function gatewayRoutes(plan: NodePlan): GatewayRoute[] {
  const out: GatewayRoute[] = [];
  for (const name of plan.services) {
    const def = service(name);
    if (def.api) out.push({ external: `/api/${def.api.route}/`, internal: `http://${name}:${portOf(plan, name)}${def.api.upstreamPath}` });
  }
  for (const name of plan.services) {
    for (const ws of service(name).websockets ?? []) out.push({ external: `/ws/${ws.route}/`, internal: `ws://${name}:${portOf(plan, name)}${ws.upstreamPath}` });
  }
  for (const name of plan.services) {
    for (const prefix of service(name).passthrough ?? []) out.push({ external: prefix, internal: `http://${name}:${portOf(plan, name)}${prefix}` });
  }
  if (has(plan, "frontend")) out.push({ external: "/", internal: `http://frontend:${portOf(plan, "frontend")}/` });
  return out;
}

export function renderGateway(plan: NodePlan): string {
  const api = plan.services.flatMap((name) => {
    const def = service(name);
    return def.api ? [{ route: def.api.route, host: name, port: portOf(plan, name), upstreamPath: def.api.upstreamPath }] : [];
  });
  const websockets = plan.services.flatMap((name) => (service(name).websockets ?? []).map((w) => ({ route: w.route, host: name, port: portOf(plan, name), upstreamPath: w.upstreamPath })));
  const passthrough = plan.services.flatMap((name) => (service(name).passthrough ?? []).map((prefix) => ({ prefix, host: name, port: portOf(plan, name) })));
  return renderTemplate("daarion/gateway.conf.njk", {
    node: plan.name,
    domain: plan.domain,
    tls: plan.tls,
    rateLimit: RATE_LIMIT,
    healthBody: GATEWAY_HEALTH_BODY,
    acmeRoot: ACME_ROOT,
    api,
    websockets,
    passthrough,
    frontend: has(plan, "frontend") ? { host: "frontend", port: portOf(plan, "frontend") } : null,
  });
}

// ── Prometheus and Grafana ───────────────────────────────────────────────────

/** Paths as the Prometheus container sees them (`./infra/prometheus` is mounted on /etc/prometheus). */
const CONTAINER_PROMETHEUS: PrometheusLayout = {
  config: "/etc/prometheus/prometheus.yml",
  base: "/etc/prometheus/prometheus.yml",
  scrapeDir: "/etc/prometheus/scrape.d",
  rulesDir: "/etc/prometheus/rules.d",
};

/**
 * One scrape job per service with a /metrics endpoint, named after the service. Targets
 * are `<service>:<port>` on daarion_net: Prometheus runs in the same compose network,
 * so it reaches ports that are never published, by container name through Docker's DNS.
 */
export function scrapeJobs(plan: NodePlan): PrometheusScrapeSpec[] {
  if (!has(plan, "prometheus")) return [];
  return plan.services.flatMap((name) => {
    const def = service(name);
    if (!def.metrics) return [];
    const port = def.metrics.port ?? portOf(plan, name);
    const target = name === "prometheus" ? `localhost:${port}` : `${name}:${port}`;
    return [
      prometheusScrapeSchema.parse({
        jobName: name,
        metricsPath: def.metrics.path,
        targets: [target],
        labels: { node: plan.name, role: plan.role, tier: def.tier, phase: def.phase },
      }),
    ];
  });
}

/** `prometheus.yml`: the library's base and job fragments, assembled as its assemble step does. */
export function renderPrometheus(plan: NodePlan): string {
  const base = renderPrometheusBase(
    prometheusServerSchema.parse({ scrapeInterval: plan.scrapeInterval, externalLabels: { node: plan.name, role: plan.role } }),
    CONTAINER_PROMETHEUS,
  );
  // The library's renderers write files for its assemble step; here they form one file, so
  // their per-file comments go and one header says what the file is.
  const body = (text: string) => text.split("\n").filter((l) => !l.startsWith("#")).join("\n").trim();
  const fragments = scrapeJobs(plan).map((j) => body(renderScrapeFragment(j)));
  return [
    "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.",
    `# Prometheus of DAARION node ${plan.name}: it runs on daarion_net and scrapes every service's`,
    "# /metrics by container name and port; none of those ports is published on the host.",
    body(base),
    "scrape_configs:",
    ...fragments,
  ].join("\n") + "\n";
}

export function renderGrafanaDatasource(plan: NodePlan): string {
  return renderTemplate("daarion/grafana-datasource.yml.njk", { url: `http://prometheus:${portOf(plan, "prometheus")}` });
}

// ── Scripts ──────────────────────────────────────────────────────────────────

export interface ScriptPaths {
  /** The node directory (ROOT on hosts; a temp dir in tests). */
  readonly root: string;
}

export function renderBackupScript(plan: NodePlan, paths: ScriptPaths = { root: ROOT }): string {
  const backups = `${paths.root}/backups`;
  return renderTemplate("daarion/scripts/backup-db.sh.njk", {
    node: plan.name,
    container: containerName("postgres"),
    database: plan.database,
    backups,
    onCalendar: plan.backups.onCalendar,
    keepDaily: plan.backups.keepDaily,
    keepWeekly: plan.backups.keepWeekly,
    q: { container: sh(containerName("postgres")), database: sh(plan.database), backups: sh(backups) },
  });
}

export function renderMigrateScript(plan: NodePlan, paths: ScriptPaths = { root: ROOT }): string {
  const migrations = `${paths.root}/migrations`;
  return renderTemplate("daarion/scripts/migrate.sh.njk", {
    node: plan.name,
    container: containerName("postgres"),
    migrations,
    q: { container: sh(containerName("postgres")), database: sh(plan.database), migrations: sh(migrations) },
  });
}

export interface CheckoutOptions {
  readonly root: string;
  readonly repoDir: string;
}

/**
 * The repository at the pinned ref into `.repo` (history without blobs, so the
 * merged-into-main check can walk it), the check that a production ref is merged into
 * the main branch, then `migrations/` mirrored into the node directory.
 */
export function checkoutScript(plan: Pick<NodePlan, "repo" | "requireMerged" | "mainBranch">, paths: CheckoutOptions = { root: ROOT, repoDir: REPO_DIR }): string {
  const { url, ref } = plan.repo;
  const lines = [
    "umask 022",
    `repo=${sh(paths.repoDir)}`,
    `root=${sh(paths.root)}`,
    `mkdir -p "$repo"`,
    `cd "$repo"`,
    "[ -d .git ] || git init -q",
    "git remote remove origin >/dev/null 2>&1 || true",
    `git remote add origin ${sh(url)}`,
    `git fetch -q --filter=blob:none origin ${sh(ref)}`,
    `commit=$(git rev-parse 'FETCH_HEAD^{commit}')`,
  ];
  if (plan.requireMerged) {
    const branch = `refs/remotes/origin/${plan.mainBranch}`;
    lines.push(
      `git fetch -q --filter=blob:none origin ${sh(`+refs/heads/${plan.mainBranch}:${branch}`)}`,
      `if ! git merge-base --is-ancestor "$commit" ${sh(branch)}; then`,
      `  echo ${sh(`fleet: ${ref} (`)}"$commit"${sh(`) is not merged into ${plan.mainBranch} of ${url}; merge it first (daarion-node-standards.md Pre-Deployment: Git branch merged to main)`)} >&2`,
      "  exit 1",
      "fi",
    );
  }
  lines.push(
    `git checkout -q --force "$commit"`,
    `if [ ! -d migrations ]; then echo ${sh(`fleet: ${url} at ${ref} has no migrations/ directory`)} >&2; exit 1; fi`,
    // Mirror: a migration removed from the repository disappears from the node too.
    `rm -rf "$root/.migrations.next" "$root/.migrations.prev"`,
    `cp -R migrations "$root/.migrations.next"`,
    `if [ -d "$root/migrations" ]; then mv "$root/migrations" "$root/.migrations.prev"; fi`,
    `mv "$root/.migrations.next" "$root/migrations"`,
    `rm -rf "$root/.migrations.prev"`,
    `echo ${sh(`fleet: ${url} at ${ref} = `)}"$commit"`,
  );
  return lines.join("\n");
}

/** The TLS certificate and key the gateway needs, present before it starts. */
export function tlsCheckScript(plan: NodePlan): string {
  const fix = `obtain it first, e.g. certbot certonly --standalone -d ${plan.domain} before the first deployment (later renewals: certbot renew --webroot -w ${ACME_ROOT})`;
  return [plan.tls.certificate, plan.tls.key]
    .map((f) => `if [ ! -r ${sh(f)} ]; then echo ${sh(`fleet: ${f} (TLS for ${plan.domain}) is missing on ${plan.name}; ${fix}`)} >&2; exit 1; fi`)
    .concat([`echo ${sh(`fleet: TLS certificate and key for ${plan.domain} present`)}`])
    .join("\n");
}

/**
 * Synapse needs its homeserver.yaml before it starts: generated once into matrix_data
 * (`generate` of the image), never overwritten.
 */
export function matrixConfigScript(plan: NodePlan): string {
  const image = plan.images["matrix-synapse"]!;
  const volume = volumeName(service("matrix-synapse"));
  return [
    `docker volume inspect ${sh(volume)} >/dev/null 2>&1 || docker volume create ${sh(volume)} >/dev/null`,
    `if docker run --rm -v ${sh(`${volume}:/data`)} --entrypoint /bin/sh ${sh(image)} -c 'test -f /data/homeserver.yaml'; then`,
    `  echo ${sh(`fleet: ${volume} already holds homeserver.yaml`)}`,
    "  exit 0",
    "fi",
    `docker run --rm -v ${sh(`${volume}:/data`)} -e ${sh(`SYNAPSE_SERVER_NAME=${plan.domain}`)} -e SYNAPSE_REPORT_STATS=no ${sh(image)} generate`,
  ].join("\n");
}

/**
 * Post-Deployment "Metrics appearing in Prometheus": every scrape job has a target up,
 * asked of Prometheus itself inside its container (its port is not published), with a
 * bounded wait of a few scrape intervals.
 */
export function metricsCheckScript(plan: NodePlan, attempts = 12, delaySeconds = 10): string {
  const jobs = scrapeJobs(plan).map((j) => j.jobName);
  const container = containerName("prometheus");
  const port = portOf(plan, "prometheus");
  return [
    `jobs=${sh(jobs.join(" "))}`,
    "attempt=1",
    "while :; do",
    "  missing=''",
    "  for job in $jobs; do",
    `    body=$(docker exec ${sh(container)} wget -q -O - "http://localhost:${port}/api/v1/query?query=up%7Bjob%3D%22$job%22%7D" 2>/dev/null || true)`,
    `    printf '%s' "$body" | grep -Eq '"value":\\[[0-9.e+]+,"1"\\]' || missing="$missing $job"`,
    "  done",
    `  if [ -z "$missing" ]; then echo ${sh(`fleet: Prometheus on ${plan.name} scrapes every job: ${jobs.join(", ")}`)}; exit 0; fi`,
    `  if [ "$attempt" -ge ${attempts} ]; then echo ${sh(`fleet: Prometheus on ${plan.name} has no metrics (up == 1) after ${attempts} attempts for:`)}"$missing" >&2; exit 1; fi`,
    `  sleep ${delaySeconds}`,
    "  attempt=$((attempt + 1))",
    "done",
  ].join("\n");
}

/**
 * Post-Deployment "No critical errors in logs": the standards' JSON logs of every
 * container of the node, over the monitoring window, must hold no CRITICAL line.
 */
export function logsCheckScript(plan: NodePlan, since = "15m"): string {
  const containers = plan.services.map(containerName);
  return [
    `containers=${sh(containers.join(" "))}`,
    "found=''",
    "for c in $containers; do",
    `  lines=$(docker logs --since ${sh(since)} "$c" 2>&1 | grep -E '"level": ?"CRITICAL"' || true)`,
    `  if [ -n "$lines" ]; then found="$found $c"; printf '%s\\n' "$lines" | head -n 5 | sed "s/^/$c: /" >&2; fi`,
    "done",
    `if [ -n "$found" ]; then echo ${sh(`fleet: CRITICAL log lines in the last ${since} on ${plan.name} from:`)}"$found" >&2; exit 1; fi`,
    `echo ${sh(`fleet: no CRITICAL log lines in the last ${since} on ${plan.name}`)}`,
  ].join("\n");
}

// ── The node's document ──────────────────────────────────────────────────────

export function renderNodeDoc(plan: NodePlan, pinnedImages: Readonly<Record<string, string>>, rollback: { active: boolean; digests: Readonly<Partial<Record<ServiceName, string>>> }): string {
  const services = plan.services.map((name) => {
    const def = service(name);
    return {
      name,
      container: containerName(name),
      tier: def.tier,
      phase: def.phase,
      port: name === "gateway" ? GATEWAY_PORTS.join("/") + " (published)" : String(plan.ports[name]),
      image: pinnedImages[name] ?? plan.images[name],
    };
  });
  return renderTemplate("daarion/NODE_INFRASTRUCTURE.md.njk", {
    node: plan.name,
    role: plan.role,
    domain: plan.domain,
    root: ROOT,
    repo: plan.repo,
    requireMerged: plan.requireMerged,
    mainBranch: plan.mainBranch,
    services,
    routes: gatewayRoutes(plan),
    scrapeJobs: scrapeJobs(plan).map((j) => `${j.jobName} → ${j.targets.join(", ")}${j.metricsPath}`),
    backups: plan.backups,
    rollback: {
      active: rollback.active,
      entries: plan.services.flatMap((s) => (rollback.digests[s] ? [{ service: s, digest: rollback.digests[s] }] : [])),
    },
  });
}
