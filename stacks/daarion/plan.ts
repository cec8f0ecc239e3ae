/**
 * A node's plan: its config resolved against the catalogue (services, ports, images,
 * repository, TLS), with every rule checked. Plain data and pure functions: the
 * stack's cross-check runs `planNodes` before anything is registered.
 */
import { type Problem } from "../../src/validation/errors";
import { type HealthProbe, type MetricsEndpoint, service, type ServiceName } from "./catalogue";
import { type DaarionConfig, type NodeConfig } from "./config";
import { checkNames, checkPorts, type Role, resolveServices } from "./rules";

export interface NodePlan {
  readonly name: string;
  readonly role: Role;
  readonly domain: string;
  readonly services: readonly ServiceName[];
  /** Port per service inside daarion_net (the gateway has none). */
  readonly ports: Readonly<Partial<Record<ServiceName, number>>>;
  /** Container name per service (`containers`, else `daarion-<service>`). */
  readonly containers: Readonly<Partial<Record<ServiceName, string>>>;
  /** Docker volume name per service that keeps data (`volumes`, else `<short>_data`). */
  readonly volumes: Readonly<Partial<Record<ServiceName, string>>>;
  /** Image and tag per service (digests are pinned when deployed). */
  readonly images: Readonly<Partial<Record<ServiceName, string>>>;
  /** Digest pinned in config per service (the rollback's when active, else `images.<svc>.digest`). */
  readonly pinned: Readonly<Partial<Record<ServiceName, string>>>;
  readonly repo: { readonly url: string; readonly ref: string };
  readonly requireMerged: boolean;
  readonly mainBranch: string;
  readonly tls: { readonly mount: string; readonly certificate: string; readonly key: string };
  readonly database: string;
  /** Migration files that share a number, in order; and the node's baseline (adoption). */
  readonly migrations: { readonly order: Readonly<Record<string, readonly string[]>>; readonly baseline: string | undefined };
  readonly backups: DaarionConfig["backups"];
  readonly scrapeInterval: string;
  /** The gateway's request limits: its server's, and per service those of its routes. */
  readonly gateway: DaarionConfig["gateway"];
  /** Back up and adopt a hand-made deployment under the same names before the first up. */
  readonly adopt: boolean;
  /** Health probes and metrics endpoints configured over the table's. */
  readonly probes: DaarionConfig["probes"];
}

/** How a service of the node is checked: configured, else the table's. */
export function healthOf(plan: NodePlan, name: ServiceName): HealthProbe {
  return plan.probes[name]?.health ?? service(name).health;
}

/** The service's metrics endpoint: configured, else the table's; none when neither declares one. */
export function metricsOf(plan: NodePlan, name: ServiceName): MetricsEndpoint | undefined {
  return plan.probes[name]?.metrics ?? service(name).metrics;
}

/** The port of a service the node runs (every one but the gateway has one). */
export function portOf(plan: NodePlan, name: ServiceName): number {
  const port = plan.ports[name];
  if (port === undefined) throw new Error(`${name} has no port on node ${plan.name}`);
  return port;
}

/** The container of a service the node runs (what `docker exec`, `docker logs` and adoption name). */
export function containerOf(plan: NodePlan, name: ServiceName): string {
  const container = plan.containers[name];
  if (container === undefined) throw new Error(`${name} does not run on node ${plan.name}`);
  return container;
}

/** The Docker volume of a service the node runs that keeps data. */
export function volumeOf(plan: NodePlan, name: ServiceName): string {
  const volume = plan.volumes[name];
  if (volume === undefined) throw new Error(`${name} keeps no data volume on node ${plan.name}`);
  return volume;
}

/** The image a service runs: configured, or DAARION's own `<registry>/<name>:<tag>`, or the catalogue's. */
export function imageOf(cfg: DaarionConfig, name: ServiceName): string {
  const configured = cfg.images[name]?.image;
  if (configured) return configured;
  const def = service(name);
  return def.image === "own" ? `${cfg.registry}/${name}:${cfg.tag}` : def.image;
}

function within(path: string, dir: string): boolean {
  return path.startsWith(`${dir.replace(/\/+$/, "")}/`);
}

export function planNode(cfg: DaarionConfig, node: NodeConfig, index: number): { plan: NodePlan; problems: Problem[] } {
  const base = `fleet:daarion/nodes/${index}`;
  const resolved = resolveServices(node.role, node.services, base);
  const ports = checkPorts(node.name, resolved.services, node.ports, base);
  const names = checkNames(node.name, resolved.services, { containers: node.containers, volumes: node.volumes }, base);
  const problems = [...resolved.problems, ...ports.problems, ...names.problems];
  const images: Partial<Record<ServiceName, string>> = {};
  const pinned: Partial<Record<ServiceName, string>> = {};
  for (const name of resolved.services) {
    images[name] = imageOf(cfg, name);
    const digest = (cfg.rollback.active ? cfg.rollback.digests[name] : undefined) ?? cfg.images[name]?.digest;
    if (digest) pinned[name] = digest;
  }
  const tls = {
    mount: node.tls.mount,
    certificate: node.tls.certificate ?? `${node.tls.mount}/live/${node.domain}/fullchain.pem`,
    key: node.tls.key ?? `${node.tls.mount}/live/${node.domain}/privkey.pem`,
  };
  for (const k of ["certificate", "key"] as const) {
    if (!within(tls[k], tls.mount)) {
      problems.push({ path: `${base}/tls/${k}`, message: `must be inside tls.mount (${tls.mount}): only that directory is mounted into the gateway` });
    }
  }
  return {
    plan: {
      name: node.name,
      role: node.role,
      domain: node.domain,
      services: resolved.services,
      ports: ports.ports,
      containers: names.containers,
      volumes: names.volumes,
      images,
      pinned,
      repo: node.repo ?? cfg.repo,
      requireMerged: node.requireMerged ?? node.role === "production",
      mainBranch: cfg.mainBranch,
      tls,
      database: cfg.database,
      migrations: { order: cfg.migrations.order, baseline: node.migrations.baseline },
      backups: cfg.backups,
      scrapeInterval: cfg.metrics.scrapeInterval,
      gateway: cfg.gateway,
      adopt: node.adopt,
      probes: cfg.probes,
    },
    problems,
  };
}

/** Every node's plan, with the rules across nodes: unique names and domains; rollback and image keys used. */
export function planNodes(cfg: DaarionConfig): { plans: NodePlan[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const plans: NodePlan[] = [];
  const names = new Map<string, number>();
  const domains = new Map<string, number>();
  cfg.nodes.forEach((node, i) => {
    const firstName = names.get(node.name);
    if (firstName !== undefined) problems.push({ path: `fleet:daarion/nodes/${i}/name`, message: `"${node.name}" is also nodes/${firstName}: one host runs one node` });
    else names.set(node.name, i);
    const firstDomain = domains.get(node.domain);
    if (firstDomain !== undefined) problems.push({ path: `fleet:daarion/nodes/${i}/domain`, message: `"${node.domain}" is also the domain of nodes/${firstDomain}: every gateway needs its own name` });
    else domains.set(node.domain, i);
    const { plan, problems: p } = planNode(cfg, node, i);
    plans.push(plan);
    problems.push(...p);
  });
  const deployed = new Set(plans.flatMap((p) => p.services));
  for (const name of Object.keys(cfg.rollback.digests) as ServiceName[]) {
    if (!deployed.has(name)) problems.push({ path: `fleet:daarion/rollback/digests/${name}`, message: `names ${name}, which no node runs` });
  }
  for (const name of Object.keys(cfg.images) as ServiceName[]) {
    if (!deployed.has(name)) problems.push({ path: `fleet:daarion/images/${name}`, message: `names ${name}, which no node runs` });
  }
  return { plans, problems };
}
