/**
 * The node's metrics: Prometheus's config (one scrape job per service with a
 * `/metrics` endpoint) and Grafana's datasource pointing at it.
 */
import { type PrometheusLayout, type PrometheusScrapeSpec, prometheusScrapeSchema, prometheusServerSchema } from "../../../src/components/prometheus/args";
import { renderPrometheusBase, renderScrapeFragment } from "../../../src/components/prometheus/render";
import { renderTemplate } from "../../../src/templating";
import { service, serviceWith } from "../catalogue";
import { metricsOf, type NodePlan, portOf } from "../plan";

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
 * None when the node runs no collector.
 */
export function scrapeJobs(plan: NodePlan): PrometheusScrapeSpec[] {
  if (!serviceWith(plan.services, "scrapes")) return [];
  return plan.services.flatMap((name) => {
    const def = service(name);
    const metrics = metricsOf(plan, name);
    if (!metrics) return [];
    const port = metrics.port ?? portOf(plan, name);
    const target = metrics.self ? `localhost:${port}` : `${name}:${port}`;
    return [
      prometheusScrapeSchema.parse({
        jobName: name,
        metricsPath: metrics.path,
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

/** Grafana's datasource: the node's collector, by container name on daarion_net. */
export function renderGrafanaDatasource(plan: NodePlan): string {
  const collector = serviceWith(plan.services, "scrapes");
  if (!collector) throw new Error(`node ${plan.name} runs no metrics collector for Grafana to read`);
  return renderTemplate("daarion/grafana-datasource.yml.njk", { url: `http://${collector.name}:${portOf(plan, collector.name)}` });
}
