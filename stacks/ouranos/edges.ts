/**
 * What Daedalus and Mnemosyne share on the edges of Puck: the HAProxy route on Titania
 * (the backend's own health endpoint must answer 200, `/metrics` denied, one server on
 * Puck) and the scrape job on Prospero. One helper builds both apps' route and job;
 * only the values differ.
 */
import { type AppDeploymentArgs } from "../../src/components/app";
import { type HAProxyRouteArgs } from "../../src/components/haproxy";
import { type PrometheusScrapeArgs } from "../../src/components/prometheus";
import { type Host } from "../../src/remote/host";
import { type OuranosConfig } from "./config";

/** HAProxy on Titania, as each app's edges name it. */
export interface HAProxyEdge {
  readonly host: Host;
  readonly transform?: HAProxyRouteArgs["transform"];
}

/** Prometheus on Prospero, as each app's edges name it. */
export interface PrometheusEdge {
  readonly host: Host;
  readonly transform?: PrometheusScrapeArgs["transform"];
}

/** One app on Puck, as its route and scrape job see it. */
export interface PuckApp {
  /** The HAProxy backend and the scrape job's name. */
  readonly name: string;
  readonly domain: string;
  /** The port on Puck HAProxy and Prometheus connect to. */
  readonly port: number;
  /** The backend's own health endpoint (HAProxy's check). */
  readonly healthPath: string;
  readonly limits?: HAProxyRouteArgs["limits"];
}

/**
 * The app's HAProxy route: health on its own endpoint (200 only: a redirect would mean
 * nginx misroutes), `/metrics` denied (for the internal networks only; nginx sees
 * HAProxy's address), one server on Puck. HAProxy checks the backend itself, so the
 * route does not wait for the app.
 */
export function puckRoute(cfg: OuranosConfig, app: PuckApp, edge: HAProxyEdge): NonNullable<AppDeploymentArgs["route"]> {
  return {
    haproxy: {
      host: edge.host,
      backend: app.name,
      domains: [app.domain],
      healthPath: app.healthPath,
      healthStatus: "^200$",
      denyPaths: ["/metrics"],
      ...(app.limits ? { limits: app.limits } : {}),
      servers: [{ name: "puck", address: cfg.dns.app, port: app.port }],
      ...(edge.transform ? { transform: edge.transform } : {}),
    },
    after: [],
  };
}

/** The app's scrape job on Prospero: `/metrics` of Puck's port, at the stack's interval. */
export function puckScrape(cfg: OuranosConfig, app: Pick<PuckApp, "name" | "port">, edge: PrometheusEdge, extra: Pick<PrometheusScrapeArgs, "alerts" | "dashboard"> = {}): PrometheusScrapeArgs {
  return {
    host: edge.host,
    jobName: app.name,
    scrapeInterval: cfg.metrics.scrapeInterval,
    metricsPath: "/metrics",
    targets: [`${cfg.dns.app}:${app.port}`],
    ...extra,
    ...(edge.transform ? { transform: edge.transform } : {}),
  };
}
