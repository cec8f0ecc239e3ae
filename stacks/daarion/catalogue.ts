/**
 * The DAARION service table: every service a node can run, with its port, tier, phase,
 * image, health and metrics endpoints, dependencies, environment, mounts, gateway routes
 * and the part it plays on a node (the database, the metrics collector, the entry
 * point). Everything that differs from one service to another is a field here; the
 * renderers and the node component read fields, never service names. Plain data and
 * pure functions (no Pulumi). The rules over the table (node roles, port tiers) are in
 * rules.ts.
 *
 * Sources (docs/seeds):
 * - daarion-deployment-overview.md: the all-in-one layout (DESIGN.md: node 1's layout),
 *   its "API Routes" and "WebSocket Routes" tables, volumes (`matrix_data`).
 * - daarion-node-standards.md: the rules (port tiers, naming, labels, health checks),
 *   the Multimodal table (НОДА2), Core Infrastructure ports, node roles.
 */
import { credentialUrl } from "../../src/urls";
import { ACME_ROOT, GATEWAY_CONF, GRAFANA_DATASOURCE, PROMETHEUS_CONF } from "./layout";
import { type SetupContext, synapseGenerateScript } from "./synapse";

/**
 * Port tiers of daarion-node-standards.md "Стандартні Порти" (ranges in rules.ts).
 * `infra` services (PostgreSQL, Redis, NATS, Matrix, Prometheus, Grafana, the
 * frontend's nginx) keep the standard port of their software ("Core Infrastructure"
 * table) and are not range-bound.
 */
export const TIERS = ["infra", "mvp", "multimodal", "dagi"] as const;
export type Tier = (typeof TIERS)[number];

/** The `com.daarion.tier` label: the service's layer (the standards' example labels agents-service `backend`). */
export type Layer = "infra" | "backend" | "frontend" | "gateway" | "monitoring";

/** Shared infrastructure a service connects to. */
export type Need = "database" | "redis" | "nats";

/** The `.env` key that carries each need's URL into the containers that have it. */
export const NEED_ENV: Readonly<Record<Need, string>> = { database: "DATABASE_URL", redis: "REDIS_URL", nats: "NATS_URL" };

/** The PostgreSQL role the services connect as. */
export const POSTGRES_USER = "postgres";

export const SERVICE_NAMES = [
  // Infrastructure (overview: 4) + monitoring (standards: НОДА1 "Monitoring (Prometheus, Grafana)")
  "postgres",
  "redis",
  "nats",
  "matrix-synapse",
  "prometheus",
  "grafana",
  // Core (overview: 4)
  "auth-service",
  "pdp-service",
  "usage-engine",
  "messaging-service",
  // Agent infrastructure (overview: 6)
  "agent-runtime",
  "agent-filter",
  "dagi-router",
  "llm-proxy",
  "memory-orchestrator",
  "toolcore",
  // Application (overview: 6)
  "agents-service",
  "microdao-service",
  "dao-service",
  "living-map-service",
  "city-service",
  "space-service",
  // Multimodal (standards: НОДА2)
  "stt-service",
  "ocr-service",
  "web-search-service",
  "vector-db",
  // Frontend & gateway (overview: 2)
  "frontend",
  "gateway",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * How a service is checked. Inside the container (a compose healthcheck, which
 * `depends_on: service_healthy` waits for): an HTTP GET with a tool the image is known to
 * have, or a command. Or from the host (`host`): an HTTP GET with the host's curl to the
 * container's address on daarion_net, which needs nothing inside the image; the services
 * that depend on it then wait for it to start (`service_started`), and the deployment's
 * `services-health` check probes it once the project is up.
 */
export type HealthProbe =
  | { readonly http: { readonly path: string; readonly port?: number; readonly tool: "curl" | "wget" } }
  | { readonly command: readonly string[] }
  | { readonly host: { readonly path: string; readonly port?: number } };

/** The one compose network of a node's services (standards "Network Isolation"). */
export const NETWORK = "daarion_net";

/** A service's Prometheus endpoint (see ServiceDef.metrics). */
export interface MetricsEndpoint {
  readonly path: string;
  readonly port?: number;
  readonly self?: true;
}

export interface Route {
  /** `/api/<route>/` or `/ws/<route>/`. */
  readonly route: string;
  /** The upstream path the prefix is replaced by (overview's "Internal URL" path). */
  readonly upstreamPath: string;
}

/** The secrets a node's `.env` may hold. */
export interface EnvSecrets {
  readonly postgresPassword: string;
  readonly grafanaAdminPassword?: string;
}

/** The secrets of a node that only some services need (the postgres password is every node's). */
export type ServiceSecret = "grafanaAdminPassword";

/** What a service's rules need to know of the node it runs on. */
export interface NodeFacts {
  readonly name: string;
  /** The database the services share. */
  readonly database: string;
  readonly tls: { readonly mount: string };
}

/** What a service contributes to the node's `.env`: computed from the node, its own port and the secrets. */
export interface DotenvContext {
  readonly node: NodeFacts;
  readonly port: number;
  readonly secrets: EnvSecrets;
}

/** How the container running a service picks up a changed config file: nginx reloads, Prometheus reloads, others restart. */
export type ConfigReload = "nginx" | "prometheus" | "restart";

/** A config file a service's container reads (bind-mounted from the node directory). */
export interface ConfigFile {
  /** The role of the file's resource: `<node>-<child>`. */
  readonly child: "gateway-conf" | "prometheus-conf" | "grafana-datasource";
  /** Relative to the node directory. */
  readonly path: string;
  /** Where the container sees it, when its checker needs the path (Prometheus). */
  readonly containerPath?: string;
  readonly reload: ConfigReload;
}

export interface ServiceDef {
  /**
   * Compose service name: how the gateway, Prometheus, Grafana and the other services reach
   * it on daarion_net (Docker's DNS), whatever its container is named. The container is
   * `daarion-<name>` unless the node names it otherwise.
   */
  readonly name: ServiceName;
  /** Short name: the `com.daarion.service` label and the `<short>_data` volume. */
  readonly short: string;
  readonly tier: Tier;
  readonly layer: Layer;
  /** The `com.daarion.phase` label. */
  readonly phase: string;
  /** Port the service listens on inside daarion_net; the gateway has none (it publishes 80/443). */
  readonly port: number | undefined;
  /** `own`: DAARION's image `<registry>/<name>:<tag>`; otherwise the upstream image and its tag. */
  readonly image: "own" | `${string}:${string}`;
  readonly health: HealthProbe;
  /**
   * Prometheus `/metrics` endpoint, scraped through daarion_net by container name;
   * `self`: the collector scraping itself, at localhost.
   */
  readonly metrics?: MetricsEndpoint;
  /** Services that must be healthy first (compose `depends_on: condition: service_healthy`). */
  readonly dependsOn: readonly ServiceName[];
  readonly needs: readonly Need[];
  /** The gateway's `/api/<route>/` for this service. */
  readonly api?: Route;
  /** The gateway's `/ws/<route>/` locations. */
  readonly websockets?: readonly Route[];
  /** Extra (non-API) gateway prefixes proxied unchanged, e.g. Matrix's `/_matrix/`. */
  readonly passthrough?: readonly string[];
  /** Where the `<short>_data` volume is mounted; none when the service keeps no state. */
  readonly dataPath?: string;
  readonly command?: readonly string[];
  /**
   * The container's environment. `app`: a DAARION service's own (`SERVICE_NAME`, `PORT`,
   * the URL of each need, the URL of each DAARION service it depends on); a map is used
   * as written (values may name `.env` keys as `${KEY}`). @default none
   */
  readonly environment?: "app" | Readonly<Record<string, string>>;
  /** What the service puts in the node's `.env` (URLs other services read, its secrets). */
  readonly dotenv?: (c: DotenvContext) => Record<string, string>;
  /** A node secret the service needs (generated per node unless configured). */
  readonly secret?: ServiceSecret;
  /** Bind mounts besides the data volume (`host:container[:ro]`). */
  readonly mounts?: (node: NodeFacts) => readonly string[];
  /** Host ports published (the same inside); only the entry point publishes any (standards "Network Isolation"). */
  readonly publishes?: readonly number[];
  /** Why every node runs this service and it can never be removed. */
  readonly required?: string;
  /** The gateway serves `/` from this service (the SPA). */
  readonly servesRoot?: true;
  /** The config file its container reads, managed by the stack, checked and reloaded in the container. */
  readonly config?: ConfigFile;
  /** Holds the node's database: backups (daily and before each deployment) and migrations run against it. */
  readonly database?: true;
  /** Collects the node's metrics: every `metrics` endpoint is a scrape job of its config; the post-deployment check asks it. */
  readonly scrapes?: true;
  /**
   * A one-time setup before the service's first start, run on the host as the task
   * `<node>-<child>` (re-run when the image or the domain changes).
   */
  readonly setup?: { readonly child: string; readonly script: (c: SetupContext) => string };
}

/** The ports the gateway publishes on the host: the only published ports of a node. */
export const GATEWAY_PORTS = [80, 443] as const;

/** `postgresql://postgres:<percent-encoded password>@postgres:<port>/<database>`. */
export function databaseUrl(port: number, database: string, password: string): string {
  return credentialUrl({ scheme: "postgresql", user: POSTGRES_USER, password, host: "postgres", port, path: database });
}

/**
 * The standards' `GET /health` on the service's own port, probed from the host: the
 * standards' example runs curl inside the container, but nothing says DAARION's own
 * images hold curl (or wget). `fleet:daarion.probes.<service>.health` configures a check
 * inside the image instead.
 */
const standardHealth: HealthProbe = { host: { path: "/health" } };
const standardMetrics = { path: "/metrics" };
const core: readonly Need[] = ["database", "redis", "nats"];
const infraDeps: readonly ServiceName[] = ["postgres", "redis", "nats"];
const guarded: readonly ServiceName[] = [...infraDeps, "auth-service", "pdp-service"];

/**
 * A DAARION application service: own image, GET /health (from the host), PostgreSQL +
 * Redis + NATS. No metrics endpoint unless config declares one
 * (`fleet:daarion.probes.<service>.metrics`): the standards ask for /metrics, the
 * services' code mostly has none, and a scrape job of a service without one fails the
 * post-deployment metrics check.
 */
function app(name: ServiceName, short: string, port: number, phase: string, extra: Partial<ServiceDef> = {}): ServiceDef {
  return {
    name,
    short,
    tier: port >= 8000 ? "multimodal" : "mvp",
    layer: "backend",
    phase,
    port,
    image: "own",
    health: standardHealth,
    dependsOn: infraDeps,
    needs: core,
    environment: "app",
    ...extra,
  };
}

export const CATALOGUE: readonly ServiceDef[] = [
  {
    name: "postgres",
    short: "postgres",
    tier: "infra",
    layer: "infra",
    phase: "infra",
    port: 5432,
    image: "postgres:16-alpine",
    health: { command: ["CMD-SHELL", 'pg_isready -U postgres -d "$$POSTGRES_DB"'] },
    dependsOn: [],
    needs: [],
    dataPath: "/var/lib/postgresql/data",
    environment: { POSTGRES_USER: "${POSTGRES_USER}", POSTGRES_DB: "${POSTGRES_DB}", POSTGRES_PASSWORD: "${POSTGRES_PASSWORD}" },
    dotenv: ({ node, port, secrets }) => ({
      POSTGRES_USER,
      POSTGRES_DB: node.database,
      POSTGRES_PASSWORD: secrets.postgresPassword,
      DATABASE_URL: databaseUrl(port, node.database, secrets.postgresPassword),
    }),
    database: true,
  },
  {
    name: "redis",
    short: "redis",
    tier: "infra",
    layer: "infra",
    phase: "infra",
    port: 6379,
    image: "redis:7-alpine",
    health: { command: ["CMD", "redis-cli", "ping"] },
    dependsOn: [],
    needs: [],
    dataPath: "/data",
    command: ["redis-server", "--appendonly", "yes"],
    dotenv: ({ port }) => ({ REDIS_URL: `redis://redis:${port}/0` }),
  },
  {
    name: "nats",
    short: "nats",
    tier: "infra",
    layer: "infra",
    phase: "infra",
    port: 4222,
    image: "nats:2.10-alpine",
    // JetStream (overview: "Message Bus (JetStream)") stored in nats_data; 8222 is the monitoring port.
    health: { http: { path: "/healthz", port: 8222, tool: "wget" } },
    dependsOn: [],
    needs: [],
    dataPath: "/data",
    command: ["-js", "-sd", "/data", "-m", "8222"],
    dotenv: ({ port }) => ({ NATS_URL: `nats://nats:${port}` }),
  },
  {
    name: "matrix-synapse",
    short: "matrix",
    tier: "infra",
    layer: "infra",
    phase: "infra",
    port: 8008,
    image: "matrixdotorg/synapse:v1.120.0",
    health: { http: { path: "/health", tool: "curl" } },
    dependsOn: [],
    needs: [],
    passthrough: ["/_matrix/", "/_synapse/client/"],
    dataPath: "/data",
    // Synapse needs its homeserver.yaml before it starts.
    setup: { child: "matrix-config", script: synapseGenerateScript },
  },
  {
    name: "prometheus",
    short: "prometheus",
    tier: "infra",
    layer: "monitoring",
    phase: "infra",
    port: 9090,
    image: "prom/prometheus:v2.53.2",
    health: { http: { path: "/-/healthy", tool: "wget" } },
    metrics: { ...standardMetrics, self: true },
    dependsOn: [],
    needs: [],
    dataPath: "/prometheus",
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--storage.tsdb.retention.time=15d"],
    mounts: () => ["./infra/prometheus:/etc/prometheus:ro"],
    config: { child: "prometheus-conf", path: PROMETHEUS_CONF, containerPath: "/etc/prometheus/prometheus.yml", reload: "prometheus" },
    scrapes: true,
  },
  {
    name: "grafana",
    short: "grafana",
    tier: "infra",
    layer: "monitoring",
    phase: "infra",
    port: 3000,
    image: "grafana/grafana:11.2.2",
    health: { http: { path: "/api/health", tool: "wget" } },
    metrics: standardMetrics,
    dependsOn: ["prometheus"],
    needs: [],
    dataPath: "/var/lib/grafana",
    environment: { GF_SECURITY_ADMIN_PASSWORD: "${GRAFANA_ADMIN_PASSWORD}", GF_USERS_ALLOW_SIGN_UP: "false" },
    dotenv: ({ node, secrets }) => {
      if (secrets.grafanaAdminPassword === undefined) throw new Error(`node ${node.name} runs grafana but has no admin password`);
      return { GRAFANA_ADMIN_PASSWORD: secrets.grafanaAdminPassword };
    },
    secret: "grafanaAdminPassword",
    mounts: () => ["./infra/grafana/provisioning:/etc/grafana/provisioning:ro"],
    config: { child: "grafana-datasource", path: GRAFANA_DATASOURCE, reload: "restart" },
  },
  app("auth-service", "auth", 7011, "mvp", { api: { route: "auth", upstreamPath: "/" } }),
  app("pdp-service", "pdp", 7012, "mvp", { api: { route: "pdp", upstreamPath: "/" } }),
  app("usage-engine", "usage", 7013, "mvp", { api: { route: "usage", upstreamPath: "/" } }),
  app("messaging-service", "messaging", 7004, "mvp", {
    api: { route: "messaging", upstreamPath: "/" },
    websockets: [{ route: "messaging", upstreamPath: "/ws" }],
    dependsOn: guarded,
  }),
  app("agent-runtime", "agent-runtime", 7010, "mvp", { dependsOn: [...infraDeps, "llm-proxy", "memory-orchestrator", "toolcore"] }),
  app("agent-filter", "agent-filter", 7005, "mvp", { dependsOn: [...infraDeps, "pdp-service"] }),
  app("dagi-router", "dagi-router", 7006, "mvp", { dependsOn: [...infraDeps, "agent-filter", "agent-runtime"] }),
  app("llm-proxy", "llm-proxy", 7007, "mvp", { dependsOn: [...infraDeps, "usage-engine"] }),
  app("memory-orchestrator", "memory-orchestrator", 7008, "mvp"),
  app("toolcore", "toolcore", 7009, "mvp"),
  app("agents-service", "agents", 7014, "phase6", {
    api: { route: "agents", upstreamPath: "/" },
    websockets: [{ route: "agents", upstreamPath: "/ws/agents/stream" }],
    dependsOn: [...guarded, "dagi-router"],
  }),
  app("microdao-service", "microdao", 7015, "phase7", { api: { route: "microdao", upstreamPath: "/" }, dependsOn: guarded }),
  app("dao-service", "dao", 7016, "phase8", { api: { route: "dao", upstreamPath: "/" }, dependsOn: guarded }),
  app("living-map-service", "living-map", 7017, "phase9", {
    api: { route: "living-map", upstreamPath: "/living-map/" },
    websockets: [{ route: "living-map", upstreamPath: "/living-map/stream" }],
    dependsOn: guarded,
  }),
  app("city-service", "city", 7001, "mvp", { api: { route: "city", upstreamPath: "/api/city/" }, dependsOn: guarded }),
  app("space-service", "space", 7002, "mvp", { api: { route: "space", upstreamPath: "/api/space/" }, dependsOn: guarded }),
  app("stt-service", "stt", 8895, "multi", { api: { route: "stt", upstreamPath: "/" }, dependsOn: ["redis", "nats"], needs: ["redis", "nats"] }),
  app("ocr-service", "ocr", 8896, "multi", { api: { route: "ocr", upstreamPath: "/" }, dependsOn: ["redis", "nats"], needs: ["redis", "nats"] }),
  app("web-search-service", "web-search", 8897, "multi", { api: { route: "web-search", upstreamPath: "/" }, dependsOn: ["redis", "nats"], needs: ["redis", "nats"] }),
  app("vector-db", "vector", 8898, "multi", { api: { route: "vector", upstreamPath: "/" }, dependsOn: [], needs: [], dataPath: "/data" }),
  {
    name: "frontend",
    short: "frontend",
    tier: "infra",
    layer: "frontend",
    phase: "infra",
    // overview: "frontend (nginx:80) — React SPA".
    port: 80,
    image: "own",
    health: { host: { path: "/" } },
    dependsOn: [],
    needs: [],
    servesRoot: true,
  },
  {
    name: "gateway",
    short: "gateway",
    tier: "infra",
    layer: "gateway",
    phase: "infra",
    // The only service that publishes ports (80/443); nothing inside daarion_net calls it.
    port: undefined,
    image: "nginx:1.27-alpine",
    health: { http: { path: "/health", port: 80, tool: "wget" } },
    dependsOn: [],
    needs: [],
    publishes: GATEWAY_PORTS,
    required: "it is the node's only entry point (only the gateway publishes ports)",
    mounts: (node) => [`./infra/nginx/conf.d:/etc/nginx/conf.d:ro`, `${node.tls.mount}:${node.tls.mount}:ro`, `${ACME_ROOT}:${ACME_ROOT}:ro`],
    config: { child: "gateway-conf", path: GATEWAY_CONF, reload: "nginx" },
  },
];

const BY_NAME = new Map<string, ServiceDef>(CATALOGUE.map((s) => [s.name, s]));

export function service(name: ServiceName): ServiceDef {
  const s = BY_NAME.get(name);
  if (!s) throw new Error(`DAARION catalogue has no service ${name}`);
  return s;
}

/**
 * Whether the service listens on the port the node gives it: a DAARION service's own
 * environment (`app`) passes it as `PORT`; every other image listens on its own port
 * (the row's), whatever the node says, so an override would send the gateway and the
 * other services' URLs to a port where nothing listens.
 */
export function takesPort(def: ServiceDef): boolean {
  return def.environment === "app";
}

/** A part a service plays on a node: the database, the metrics collector, the SPA, the entry point (publishes ports). */
export type Part = "database" | "scrapes" | "servesRoot" | "publishes";

/** The service of `services` that plays a part, if any (the table gives each part to one service). */
export function serviceWith(services: readonly ServiceName[], part: Part): ServiceDef | undefined {
  return services.map(service).find((d) => d[part] !== undefined);
}

/** The service of the table that plays a part, wherever it runs. */
export function theService(part: Part): ServiceDef {
  const def = serviceWith(SERVICE_NAMES, part);
  if (!def) throw new Error(`DAARION catalogue has no service marked ${part}`);
  return def;
}

/**
 * Container name per the standards' `<project>-<service>`: the default, which a node's
 * `containers` may override (the node's names are in its plan, `NodePlan.containers`).
 */
export function containerName(name: ServiceName): string {
  return `daarion-${name}`;
}

/**
 * Volume name per the standards' `<service>_data` (the overview's `matrix_data` for
 * Synapse): the default, which a node's `volumes` may override (`NodePlan.volumes`). It is
 * also the volume's key in the compose file, whatever Docker name it is given.
 */
export function volumeName(def: ServiceDef): string {
  return `${def.short}_data`;
}

