/**
 * The rules over the service table: which services each node role runs (and how a
 * node's `services.add`/`remove` change that), which port each service gets with the
 * standards' port tiers, and the container and volume names of its services. Plain data
 * and pure functions; problems come back as `Problem`s at the config path, for the
 * stack's one ConfigError.
 */
import { type Problem } from "../../src/validation/errors";
import { CATALOGUE, containerName, NETWORK, SERVICE_NAMES, service, type ServiceName, takesPort, type Tier, volumeName } from "./catalogue";

/**
 * Port tiers of daarion-node-standards.md "Стандартні Порти": 7000-7999 MVP services,
 * 8000-8999 Utilities/Multimodal, 9000-9999 DAGI Stack (`infra` is not range-bound).
 */
export const TIER_RANGES: Readonly<Record<Exclude<Tier, "infra">, readonly [number, number]>> = {
  mvp: [7000, 7999],
  multimodal: [8000, 8999],
  dagi: [9000, 9999],
};

/** The rule as the standards state it, quoted in every port error. */
export const PORT_RULE = "daarion-node-standards.md: 7000-7999 MVP services, 8000-8999 Utilities/Multimodal, 9000-9999 DAGI Stack";

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
 * Every node has the gateway (its only entry point: `required` in the table) and
 * Prometheus ("Observable by Default").
 */
export const ROLE_SERVICES: Readonly<Record<Role, readonly ServiceName[]>> = {
  // Everything in the table but the Multimodal tier (the all-in-one layout + Monitoring).
  production: SERVICE_NAMES.filter((name) => service(name).tier !== "multimodal"),
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
 * dependency (transitively), plus every `required` service, in catalogue order.
 * Problems (at `base`): removing a required service (the gateway), removing a service
 * another one on the node depends on, or both adding and removing a service.
 */
export function resolveServices(role: Role, override: ServicesOverride | undefined, base: string): { services: ServiceName[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const add = override?.add ?? [];
  const remove = new Set(override?.remove ?? []);
  for (const name of add) {
    if (remove.has(name)) problems.push({ path: `${base}/services/remove`, message: `names ${name}, which services/add also names; keep it in one of them` });
  }
  const required = CATALOGUE.filter((d) => d.required !== undefined);
  for (const def of required) {
    if (remove.has(def.name)) problems.push({ path: `${base}/services/remove`, message: `must not remove the ${def.name}: ${def.required}` });
  }
  const wanted = new Set<ServiceName>([...ROLE_SERVICES[role], ...add].filter((n) => !remove.has(n)));
  for (const def of required) wanted.add(def.name);
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
 * run, for one without an internal port (the gateway), for one whose image listens on
 * its own port (not told the node's: the gateway would route elsewhere), a port outside
 * the service's tier, and two services on one port.
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
    } else if (service(name).port === undefined) {
      problems.push({ path: `${base}/ports/${name}`, message: `must not be set: the ${name} publishes ${(service(name).publishes ?? []).join(" and ")} and has no internal port` });
    } else if (!takesPort(service(name)) && port !== service(name).port) {
      // The gateway routes to <service>:<port>, and other services' URLs name it: the port must be the one it listens on.
      problems.push({
        path: `${base}/ports/${name}`,
        message: `${name} listens on port ${service(name).port} in its container (its compose service is not told another), so the gateway's routes and every URL naming ${name} would go to port ${port}, where nothing listens; remove the override`,
      });
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

// ── Names ────────────────────────────────────────────────────────────────────

/** The container and volume names of a node's services (see `checkNames`). */
export interface NodeNames {
  /** Container name per service the node runs. */
  readonly containers: Readonly<Partial<Record<ServiceName, string>>>;
  /** Docker volume name per service the node runs that keeps data. */
  readonly volumes: Readonly<Partial<Record<ServiceName, string>>>;
}

/**
 * The container and volume names of a node: the standards' (`daarion-<service>`,
 * `<short>_data`), or the node's overrides. Problems (at `base/containers/<service>` or
 * `base/volumes/<service>`): a name for a service the node does not run, a volume for a
 * service that keeps no data, two services with one container name, a container named
 * like another service (both answer that name on daarion_net, where the gateway and
 * Prometheus reach services by compose name), and two services on one volume.
 */
export function checkNames(
  node: string,
  services: readonly ServiceName[],
  overrides: { readonly containers: Readonly<Partial<Record<ServiceName, string>>>; readonly volumes: Readonly<Partial<Record<ServiceName, string>>> },
  base: string,
): NodeNames & { problems: Problem[] } {
  const problems: Problem[] = [];
  const runs = (kind: "containers" | "volumes", name: ServiceName) => {
    if (services.includes(name)) return true;
    problems.push({ path: `${base}/${kind}/${name}`, message: `names ${name}, which does not run on node "${node}" (it runs: ${services.join(", ")})` });
    return false;
  };
  for (const name of Object.keys(overrides.containers) as ServiceName[]) runs("containers", name);
  for (const name of Object.keys(overrides.volumes) as ServiceName[]) {
    if (runs("volumes", name) && service(name).dataPath === undefined) {
      problems.push({ path: `${base}/volumes/${name}`, message: `must not be set: ${name} keeps no data volume` });
    }
  }

  const containers: Partial<Record<ServiceName, string>> = {};
  const volumes: Partial<Record<ServiceName, string>> = {};
  for (const name of services) {
    const def = service(name);
    containers[name] = overrides.containers[name] ?? containerName(name);
    if (def.dataPath !== undefined) volumes[name] = overrides.volumes[name] ?? volumeName(def);
  }

  // Where a clash is reported: a name the operator set, the later service's when both are set.
  const clash = (kind: "containers" | "volumes", taken: Map<string, ServiceName>, name: ServiceName, value: string, message: (first: ServiceName) => string) => {
    const first = taken.get(value);
    if (first === undefined) {
      taken.set(value, name);
      return;
    }
    const set = overrides[kind];
    const [at, other] = set[name] !== undefined || set[first] === undefined ? [name, first] : [first, name];
    problems.push({ path: `${base}/${kind}/${at}`, message: message(other) });
  };
  const byContainer = new Map<string, ServiceName>();
  for (const name of services) {
    const value = containers[name]!;
    clash("containers", byContainer, name, value, (other) => `"${value}" is also the container name of ${other} on node "${node}": every container needs its own name`);
  }
  for (const name of services) {
    const value = containers[name]!;
    const other = services.find((s) => s !== name && s === value);
    if (other !== undefined) {
      problems.push({
        path: `${base}/containers/${name}`,
        message: `"${value}" is the compose service name of ${other} on node "${node}": the gateway, Prometheus and the services reach ${other} by that name on ${NETWORK}, and Docker's DNS would answer it with both containers; choose another name`,
      });
    }
  }
  const byVolume = new Map<string, ServiceName>();
  for (const name of services) {
    const value = volumes[name];
    if (value === undefined) continue;
    clash("volumes", byVolume, name, value, (other) => `"${value}" is also the volume of ${other} on node "${node}": two services on one volume write into each other's data; give each its own`);
  }
  return { containers, volumes, problems };
}
