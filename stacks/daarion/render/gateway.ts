/**
 * The gateway's nginx site: the overview's `/api/` and `/ws/` routes of the services the
 * node runs, their passthrough prefixes, the SPA at `/`, the standards' rate limit,
 * TLS and the gateway's own `/health`.
 */
import { renderTemplate } from "../../../src/templating";
import { nginxLimitLines } from "../../../src/validation/limits";
import { service, type ServiceName, serviceWith } from "../catalogue";
import { ACME_ROOT } from "../layout";
import { type NodePlan, portOf } from "../plan";

/** daarion-node-standards.md "Rate Limiting": `zone=api_limit:10m rate=10r/s`, `burst=20 nodelay`. */
export const RATE_LIMIT = { zone: "api_limit", rate: "10r/s", burst: 20 } as const;

/** The gateway's own /health answer, in the standards' response format. */
export const GATEWAY_HEALTH_BODY = '{"status": "healthy", "service": "gateway", "version": "1.0.0", "dependencies": {}}';

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
  const root = serviceWith(plan.services, "servesRoot");
  if (root) out.push({ external: "/", internal: `http://${root.name}:${portOf(plan, root.name)}/` });
  return out;
}

export function renderGateway(plan: NodePlan): string {
  // A service's own limits, written in each of its routes (the server block has the defaults).
  const limits = (name: ServiceName) => nginxLimitLines(plan.gateway.routes[name] ?? {});
  const api = plan.services.flatMap((name) => {
    const def = service(name);
    return def.api ? [{ route: def.api.route, host: name, port: portOf(plan, name), upstreamPath: def.api.upstreamPath, limits: limits(name) }] : [];
  });
  const websockets = plan.services.flatMap((name) => (service(name).websockets ?? []).map((w) => ({ route: w.route, host: name, port: portOf(plan, name), upstreamPath: w.upstreamPath })));
  const passthrough = plan.services.flatMap((name) => (service(name).passthrough ?? []).map((prefix) => ({ prefix, host: name, port: portOf(plan, name), limits: limits(name) })));
  const root = serviceWith(plan.services, "servesRoot");
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
    serverLimits: nginxLimitLines(plan.gateway.limits),
    frontend: root ? { host: root.name, port: portOf(plan, root.name), limits: limits(root.name) } : null,
  });
}
