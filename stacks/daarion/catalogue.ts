/**
 * The DAARION service catalogue: every service a node can run, with its port, tier,
 * phase, image, health and metrics endpoints, dependencies, environment needs and
 * gateway routes. Plain data and pure functions (no Pulumi): the stack, the renderers
 * and the tests read the same table.
 *
 * Sources (docs/seeds):
 * - daarion-deployment-overview.md: the all-in-one layout (DESIGN.md: node 1's layout),
 *   its "API Routes" and "WebSocket Routes" tables, volumes (`matrix_data`).
 * - daarion-node-standards.md: the rules (port tiers, naming, labels, health checks),
 *   the Multimodal table (НОДА2), Core Infrastructure ports, node roles.
 */
import { type Problem } from "../../src/validation/errors";

/**
 * Port tiers of daarion-node-standards.md "Стандартні Порти": 7000-7999 MVP services,
 * 8000-8999 Utilities/Multimodal, 9000-9999 DAGI Stack. `infra` services (PostgreSQL,
 * Redis, NATS, Matrix, Prometheus, Grafana, the frontend's nginx) keep the standard
 * port of their software ("Core Infrastructure" table) and are not range-bound.
 */
export const TIERS = ["infra", "mvp", "multimodal", "dagi"] as const;
export type Tier = (typeof TIERS)[number];

/** The port range each ranged tier must use. */
export const TIER_RANGES: Readonly<Record<Exclude<Tier, "infra">, readonly [number, number]>> = {
  mvp: [7000, 7999],
  multimodal: [8000, 8999],
  dagi: [9000, 9999],
};

/** The rule as the standards state it, quoted in every port error. */
export const PORT_RULE = "daarion-node-standards.md: 7000-7999 MVP services, 8000-8999 Utilities/Multimodal, 9000-9999 DAGI Stack";

/** The `com.daarion.tier` label: the service's layer (the standards' example labels agents-service `backend`). */
export type Layer = "infra" | "backend" | "frontend" | "gateway" | "monitoring";

/** Shared infrastructure a service connects to; each becomes `DATABASE_URL`, `REDIS_URL`, `NATS_URL`. */
export type Need = "database" | "redis" | "nats";

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

/** How Docker checks a service: an HTTP GET with a tool the image has, or a command. */
export type HealthProbe =
  | { readonly http: { readonly path: string; readonly port?: number; readonly tool: "curl" | "wget" } }
  | { readonly command: readonly string[] };

export interface Route {
  /** `/api/<route>/` or `/ws/<route>/`. */
  readonly route: string;
  /** The upstream path the prefix is replaced by (overview's "Internal URL" path). */
  readonly upstreamPath: string;
}

export interface ServiceDef {
  /** Compose service name; the container is `daarion-<name>`. */
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
  /** Prometheus `/metrics` endpoint, scraped through daarion_net. */
  readonly metrics?: { readonly path: string; readonly port?: number };
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
}

/** The standards' `GET /health` on the service's own port, with curl (as the standards' example). */
const standardHealth: HealthProbe = { http: { path: "/health", tool: "curl" } };
const standardMetrics = { path: "/metrics" };
const core: readonly Need[] = ["database", "redis", "nats"];
const infraDeps: readonly ServiceName[] = ["postgres", "redis", "nats"];
const guarded: readonly ServiceName[] = [...infraDeps, "auth-service", "pdp-service"];

/** A DAARION application service: own image, GET /health, /metrics, PostgreSQL + Redis + NATS. */
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
    metrics: standardMetrics,
    dependsOn: infraDeps,
    needs: core,
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
    metrics: standardMetrics,
    dependsOn: [],
    needs: [],
    dataPath: "/prometheus",
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
    health: { http: { path: "/", tool: "curl" } },
    dependsOn: [],
    needs: [],
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
  },
];

const BY_NAME = new Map<string, ServiceDef>(CATALOGUE.map((s) => [s.name, s]));

export function service(name: ServiceName): ServiceDef {
  const s = BY_NAME.get(name);
  if (!s) throw new Error(`DAARION catalogue has no service ${name}`);
  return s;
}

export function isServiceName(name: string): name is ServiceName {
  return BY_NAME.has(name);
}

/** Container name per the standards' `<project>-<service>`. */
export function containerName(name: ServiceName): string {
  return `daarion-${name}`;
}

/** Volume name per the standards' `<service>_data` (the overview's `matrix_data` for Synapse). */
export function volumeName(def: ServiceDef): string {
  return `${def.short}_data`;
}

/** The ports the gateway publishes on the host: the only published ports of a node. */
export const GATEWAY_PORTS = [80, 443] as const;

// ── Node roles ───────────────────────────────────────────────────────────────

export const ROLES = ["production", "development", "federation"] as const;
export type Role = (typeof ROLES)[number];

/**
 * What each role runs before `services.add`/`remove` and the dependency closure
 * (daarion-node-standards.md "Node Roles" and "Service Distribution"):
 * - production (НОДА1): the overview's all-in-one layout (every core, agent and
 *   application service, PostgreSQL, Redis, NATS, Matrix) plus Monitoring
 *   (Prometheus, Grafana);
 * - development (НОДА2): Core services for testing plus the four Multimodal services;
 * - federation (НОДА3): Matrix Synapse, City Federation, DAO Governance.
 * Every node has the gateway (its only entry point) and Prometheus ("Observable by Default").
 */
export const ROLE_SERVICES: Readonly<Record<Role, readonly ServiceName[]>> = {
  production: [
    "postgres",
    "redis",
    "nats",
    "matrix-synapse",
    "auth-service",
    "pdp-service",
    "usage-engine",
    "messaging-service",
    "agent-runtime",
    "agent-filter",
    "dagi-router",
    "llm-proxy",
    "memory-orchestrator",
    "toolcore",
    "agents-service",
    "microdao-service",
    "dao-service",
    "living-map-service",
    "city-service",
    "space-service",
    "frontend",
    "gateway",
    "prometheus",
    "grafana",
  ],
  development: [
    "postgres",
    "redis",
    "nats",
    "auth-service",
    "pdp-service",
    "usage-engine",
    "messaging-service",
    "stt-service",
    "ocr-service",
    "web-search-service",
    "vector-db",
    "gateway",
    "prometheus",
  ],
  federation: ["matrix-synapse", "city-service", "dao-service", "gateway", "prometheus"],
};

export interface ServicesOverride {
  readonly add?: readonly ServiceName[];
  readonly remove?: readonly ServiceName[];
}

/**
 * The services of a node: the role's set, plus `add`, minus `remove`, plus every
 * dependency (transitively), in catalogue order. Problems (at `base`): removing the
 * gateway, removing a service another one on the node depends on, or both adding and
 * removing a service.
 */
export function resolveServices(role: Role, override: ServicesOverride | undefined, base: string): { services: ServiceName[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const add = override?.add ?? [];
  const remove = new Set(override?.remove ?? []);
  for (const name of add) {
    if (remove.has(name)) problems.push({ path: `${base}/services/remove`, message: `names ${name}, which services/add also names; keep it in one of them` });
  }
  if (remove.has("gateway")) {
    problems.push({ path: `${base}/services/remove`, message: "must not remove the gateway: it is the node's only entry point (only the gateway publishes ports)" });
  }
  const wanted = new Set<ServiceName>([...ROLE_SERVICES[role], ...add].filter((n) => !remove.has(n)));
  wanted.add("gateway");
  // Dependencies join the node, unless the operator removed them explicitly.
  const queue = [...wanted];
  while (queue.length) {
    const name = queue.shift()!;
    for (const dep of service(name).dependsOn) {
      if (wanted.has(dep)) continue;
      if (remove.has(dep)) {
        problems.push({ path: `${base}/services/remove`, message: `names ${dep}, which ${name} depends on; remove ${name} too, or keep ${dep}` });
        continue;
      }
      wanted.add(dep);
      queue.push(dep);
    }
  }
  return { services: SERVICE_NAMES.filter((n) => wanted.has(n)), problems };
}

/**
 * The port of each service on a node: the catalogue's, or the node's override.
 * Problems (at `base/ports/<service>`): an override for a service the node does not
 * run, for the gateway, a port outside the service's tier, and two services on one port.
 */
export function checkPorts(
  node: string,
  services: readonly ServiceName[],
  overrides: Readonly<Partial<Record<ServiceName, number>>>,
  base: string,
): { ports: Partial<Record<ServiceName, number>>; problems: Problem[] } {
  const problems: Problem[] = [];
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const [name, port] of Object.entries(overrides) as [ServiceName, number][]) {
    if (!services.includes(name)) {
      problems.push({ path: `${base}/ports/${name}`, message: `names ${name}, which does not run on node "${node}" (it runs: ${services.join(", ")})` });
    } else if (name === "gateway") {
      problems.push({ path: `${base}/ports/gateway`, message: `must not be set: the gateway publishes ${GATEWAY_PORTS.join(" and ")} and has no internal port` });
    } else {
      ports[name] = port;
    }
  }
  for (const name of services) {
    const def = service(name);
    if (def.port !== undefined && ports[name] === undefined) ports[name] = def.port;
  }
  const at = (name: ServiceName) => (overrides[name] !== undefined ? `${base}/ports/${name}` : `${base}/services`);
  for (const name of services) {
    const def = service(name);
    const port = ports[name];
    if (port === undefined || def.tier === "infra") continue;
    const [lo, hi] = TIER_RANGES[def.tier];
    if (port < lo || port > hi) {
      problems.push({ path: at(name), message: `${name} is a ${def.tier}-tier service: its port must be in ${lo}-${hi}, not ${port} (${PORT_RULE})` });
    }
  }
  const owner = new Map<number, ServiceName>();
  for (const name of services) {
    const port = ports[name];
    if (port === undefined) continue;
    const first = owner.get(port);
    if (first === undefined) {
      owner.set(port, name);
      continue;
    }
    // Reported where the operator set a port; the overridden service is named first.
    const [moved, other] = overrides[name] !== undefined || overrides[first] === undefined ? [name, first] : [first, name];
    problems.push({
      path: at(moved),
      message: `${moved} and ${other} both use port ${port} on node "${node}": every service on a node needs its own port (daarion-node-standards.md "Стандартні Порти")`,
    });
  }
  return { ports, problems };
}
