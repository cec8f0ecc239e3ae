import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { plain, prometheus, prometheusRules } from "../../remote/daemons";
import { parseOrThrow } from "../../validation/errors";
import { childName } from "../../naming";
import { grafanaLayoutSchema, type PrometheusScrapeArgs, prometheusLayoutSchema, prometheusScrapeSchema } from "./args";
import { prometheusAssembleScript, renderDashboard, renderRuleFile, renderScrapeFragment } from "./render";

/**
 * One application's monitoring on a shared Prometheus: a scrape job fragment in
 * `scrape.d/<job>.yml`, its alert rules in `rules.d/<job>.yml` and, optionally, a Grafana
 * dashboard. Prometheus 2.42 (Debian 12) has no `scrape_config_files`, so every fragment
 * write re-assembles `prometheus.yml` from the base and all fragments, validates the whole
 * config with `promtool check config` and reloads; a failure restores the previous fragment
 * and re-assembles again. Other jobs live in their own fragments, so no change to this one
 * (from this program or any other) can drop them.
 *
 * #### Scrape Daedalus and install its alerts and dashboard
 * ```ts
 * new PrometheusScrape("daedalus-metrics", {
 *   host: prospero,
 *   jobName: "daedalus",
 *   scrapeInterval: "15s",
 *   targets: ["puck.incus:22181"],
 *   alerts: loadAlertRules("daedalus/alerts.yml"),
 *   dashboard: { json: loadDashboard("daedalus/dashboard.json") },
 * });
 * ```
 *
 * #### A job with extra labels and no alerts
 * ```ts
 * new PrometheusScrape("mnemosyne-metrics", { host: prospero, jobName: "mnemosyne", targets: ["puck.incus:23181"], labels: { app: "mnemosyne" } });
 * ```
 */
export class PrometheusScrape extends pulumi.ComponentResource {
  /** The scrape job name. */
  public readonly jobName: string;
  /** Path of the scrape fragment on the Prometheus host. */
  public readonly fragmentPath: string;
  /** The raw children. */
  public readonly nodes: {
    readonly scrape: command.remote.Command;
    readonly rules?: command.remote.Command;
    readonly dashboard?: command.remote.Command;
  };

  constructor(name: string, args: PrometheusScrapeArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `PrometheusScrape "${name}"`;
    const spec = parseOrThrow(subject, prometheusScrapeSchema, specOf(args));
    const layout = parseOrThrow(subject, prometheusLayoutSchema, args.layout ?? {});
    const grafanaLayout = parseOrThrow(subject, grafanaLayoutSchema, args.grafanaLayout ?? {});
    super(PrometheusScrape.__pulumiType, name, {}, opts);
    const parent = this;
    const host = args.host;
    const fragmentPath = `${layout.scrapeDir}/${spec.jobName}.yml`;
    const rulesPath = `${layout.rulesDir}/${spec.jobName}.yml`;

    const scrape = createScrape();
    const rules = spec.alerts.length ? createRules() : undefined;
    const dashboard = spec.dashboard ? createDashboard(spec.dashboard) : undefined;

    this.jobName = spec.jobName;
    this.fragmentPath = fragmentPath;
    this.nodes = { scrape, ...(rules ? { rules } : {}), ...(dashboard ? { dashboard } : {}) };
    this.registerOutputs({ jobName: spec.jobName, fragmentPath });

    function createScrape() {
      return remoteFile(
        childName(name, "scrape"),
        {
          host,
          target: { path: fragmentPath, owner: "root", group: "root", mode: "0644", assemble: prometheusAssembleScript(layout) },
          daemon: prometheus(host.spec, { config: layout.config }),
          content: renderScrapeFragment(spec),
          transform: args.transform?.scrape,
        },
        { parent },
      );
    }

    function createRules() {
      return remoteFile(
        childName(name, "rules"),
        {
          host,
          // rule_files globs rules.d: no assembly needed, but the whole config is re-checked.
          target: { path: rulesPath, owner: "root", group: "root", mode: "0644" },
          daemon: prometheusRules(host.spec, rulesPath, { config: layout.config }),
          content: renderRuleFile(spec.jobName, spec.alerts),
          transform: args.transform?.rules,
        },
        { parent },
      );
    }

    function createDashboard(dash: NonNullable<typeof spec.dashboard>) {
      const grafanaHost = args.grafanaHost ?? host;
      return remoteFile(
        childName(name, "dashboard"),
        {
          host: grafanaHost,
          // Grafana rescans the provider directory: nothing to validate on the host (the
          // JSON was checked above) and nothing to reload.
          target: { path: `${grafanaLayout.dashboardsDir}/${dash.fileName ?? spec.jobName}.json`, owner: "root", group: "root", mode: "0644" },
          daemon: plain("grafana"),
          content: renderDashboard(dash),
          transform: args.transform?.dashboard,
        },
        { parent },
      );
    }
  }

  static readonly __pulumiType = "fleet:prometheus:Scrape";
}

function specOf(args: PrometheusScrapeArgs): unknown {
  const { host: _host, grafanaHost: _gh, layout: _layout, grafanaLayout: _gl, transform: _transform, ...spec } = args;
  return spec;
}
