/**
 * Pure renderers for Prometheus, Alertmanager and Grafana provisioning: typed spec → file
 * text. YAML goes through the `yaml` package (never string concatenation), so any label
 * value or PromQL text is quoted correctly. Deterministic: fixed key order, sorted
 * maps and targets, no line folding, one trailing newline.
 */
import { stringify } from "yaml";
import { sh } from "../../remote/quote";
import { originalPath } from "../../remote/scripts";
import {
  type AlertmanagerSpec,
  type AlertRule,
  type DashboardSpec,
  type GrafanaLayout,
  type PrometheusLayout,
  type PrometheusScrapeSpec,
  type PrometheusServerSpec,
} from "./args";

const BANNER = "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.";

function yaml(value: unknown): string {
  // lineWidth 0: never fold long PromQL; aliasDuplicateObjects off: no &anchors.
  // version 1.1: Prometheus, Alertmanager and Grafana read YAML with go-yaml (YAML 1.1),
  // where a bare `yes`, `on` or `n` is a boolean; 1.1 mode quotes such strings.
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false, version: "1.1" });
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function withBanner(lines: readonly string[], body: string): string {
  return [BANNER, ...lines.map((l) => `# ${l}`), body].join("\n").replace(/\n*$/, "\n");
}

/** `scrape.d/<job>.yml`: a YAML list holding this job's one scrape config. */
export function renderScrapeFragment(spec: PrometheusScrapeSpec): string {
  const staticConfig: Record<string, unknown> = { targets: [...spec.targets].sort() };
  if (Object.keys(spec.labels).length) staticConfig.labels = sorted(spec.labels);
  const job: Record<string, unknown> = { job_name: spec.jobName };
  if (spec.scrapeInterval) job.scrape_interval = spec.scrapeInterval;
  if (spec.scrapeTimeout) job.scrape_timeout = spec.scrapeTimeout;
  job.metrics_path = spec.metricsPath;
  job.scheme = spec.scheme;
  job.static_configs = [staticConfig];
  return withBanner([`scrape job: ${spec.jobName} (appended to scrape_configs by the assemble step)`], yaml([job]));
}

/** One rule as Prometheus writes it: alert, expr, for, labels, annotations. */
export function alertRuleObject(rule: AlertRule): Record<string, unknown> {
  const out: Record<string, unknown> = { alert: rule.name, expr: rule.expr };
  if (rule.for) out.for = rule.for;
  out.labels = sorted({ ...rule.labels, severity: rule.severity });
  const annotations: Record<string, string> = { summary: rule.summary };
  if (rule.description) annotations.description = rule.description;
  if (rule.runbookUrl) annotations.runbook_url = rule.runbookUrl;
  out.annotations = annotations;
  return out;
}

/** `rules.d/<job>.yml`: one rule group named after the job, rules in the given order. */
export function renderRuleFile(group: string, rules: readonly AlertRule[]): string {
  return withBanner([`alert rules of job ${group}`], yaml({ groups: [{ name: group, rules: rules.map(alertRuleObject) }] }));
}

/**
 * `prometheus.base.yml`: everything but `scrape_configs`, which the assemble step appends
 * from the fragments. It must not contain `scrape_configs` itself.
 */
export function renderPrometheusBase(spec: PrometheusServerSpec, layout: PrometheusLayout): string {
  const global: Record<string, unknown> = {
    scrape_interval: spec.scrapeInterval,
    scrape_timeout: spec.scrapeTimeout,
    evaluation_interval: spec.evaluationInterval,
  };
  if (Object.keys(spec.externalLabels).length) global.external_labels = sorted(spec.externalLabels);
  const doc: Record<string, unknown> = { global, rule_files: [`${layout.rulesDir}/*.yml`] };
  if (spec.alertmanagers.length) {
    doc.alerting = { alertmanagers: [{ static_configs: [{ targets: [...spec.alertmanagers].sort() }] }] };
  }
  return withBanner(
    [`Base of ${layout.config}: the assemble step appends scrape_configs from ${layout.scrapeDir}/*.yml.`],
    yaml(doc),
  );
}

/**
 * Shell that rebuilds the assembled config: base + `scrape_configs:` + every fragment.
 * Runs in a subshell so that, when the primitive calls it from its restore path
 * (`assemble || true`), its `exit` cannot end the caller's script.
 */
export function prometheusAssembleScript(layout: PrometheusLayout): string {
  const dir = layout.config.slice(0, layout.config.lastIndexOf("/")) || "/";
  const next = `${dir}/.${layout.config.slice(layout.config.lastIndexOf("/") + 1)}.fleet-assemble`;
  const missing = `fleet: ${layout.base} is missing: deploy PrometheusServer (the base config) first`;
  const mark = "# Assembled by pulumi-fleet from ";
  const header = `\n${mark}${layout.base} and ${layout.scrapeDir}/*.yml; edit those, not this file.\nscrape_configs:\n`;
  const config = sh(layout.config);
  const orig = sh(originalPath(layout.config));
  return [
    "(",
    // No base, but an assembled config: the base was removed (PrometheusServer destroyed).
    // Put back the config from before the first assembly, or keep the last assembled one
    // (docs/destroy.md). No base and no assembled config: a job without its server.
    `if [ ! -f ${sh(layout.base)} ]; then`,
    `if grep -qF ${sh(mark)} ${config} 2>/dev/null; then if [ -f ${orig} ]; then cp -p ${orig} ${config} || exit 1; fi; exit 0; fi;`,
    `echo ${sh(missing)} >&2; exit 1;`,
    `fi;`,
    // The first assembly keeps the config found there (not one of ours) for that restore.
    `if [ -f ${config} ] && [ ! -e ${orig} ] && ! grep -qF ${sh(mark)} ${config}; then cp -p ${config} ${orig} || exit 1; fi;`,
    `mkdir -p ${sh(layout.scrapeDir)} ${sh(layout.rulesDir)} &&`,
    `{ cat ${sh(layout.base)} && printf '%s' ${sh(header)} && n=0 &&`,
    `for f in ${sh(layout.scrapeDir)}/*.yml; do if [ -f "$f" ]; then cat "$f" && echo && n=$((n+1)) || exit 1; fi; done &&`,
    `if [ "$n" = 0 ]; then echo '  []'; fi; } > ${sh(next)} &&`,
    `chmod 0644 ${sh(next)} && mv -f ${sh(next)} ${sh(layout.config)}`,
    ")",
  ].join(" ");
}

/** `alertmanager.yml`. The SMTP password, when given, is embedded: write the file as a secret. */
export function renderAlertmanager(spec: AlertmanagerSpec, smtpAuthPassword?: string): string {
  const global: Record<string, unknown> = { resolve_timeout: spec.resolveTimeout };
  if (spec.smtp) {
    global.smtp_smarthost = spec.smtp.smarthost;
    global.smtp_from = spec.smtp.from;
    if (spec.smtp.authUsername) global.smtp_auth_username = spec.smtp.authUsername;
    if (smtpAuthPassword !== undefined) global.smtp_auth_password = smtpAuthPassword;
    global.smtp_require_tls = spec.smtp.requireTls;
  }
  const route: Record<string, unknown> = {
    receiver: spec.route.receiver,
    group_by: spec.route.groupBy,
    group_wait: spec.route.groupWait,
    group_interval: spec.route.groupInterval,
    repeat_interval: spec.route.repeatInterval,
  };
  if (spec.route.routes.length) {
    route.routes = spec.route.routes.map((r) => ({ matchers: r.matchers, receiver: r.receiver, ...(r.continue ? { continue: true } : {}) }));
  }
  const receivers = spec.receivers.map((r) => {
    const out: Record<string, unknown> = { name: r.name };
    if (r.webhooks.length) out.webhook_configs = r.webhooks.map((w) => ({ url: w.url, send_resolved: w.sendResolved }));
    if (r.emails.length) out.email_configs = r.emails.map((e) => ({ to: e.to, send_resolved: e.sendResolved }));
    return out;
  });
  return withBanner([], yaml({ global, route, receivers }));
}

export interface GrafanaProviderSpec {
  readonly folder: string;
  readonly updateIntervalSeconds: number;
}

/** The Grafana dashboard provider: type `file`, watching the fleet dashboards directory. */
export function renderGrafanaProvider(spec: GrafanaProviderSpec, layout: GrafanaLayout): string {
  return withBanner(
    [`Dashboards: one JSON file per app in ${layout.dashboardsDir}, rescanned every ${spec.updateIntervalSeconds}s.`],
    yaml({
      apiVersion: 1,
      providers: [
        {
          name: "fleet",
          orgId: 1,
          folder: spec.folder,
          type: "file",
          disableDeletion: false,
          allowUiUpdates: false,
          updateIntervalSeconds: spec.updateIntervalSeconds,
          options: { path: layout.dashboardsDir, foldersFromFilesStructure: false },
        },
      ],
    }),
  );
}

/** The dashboard as Grafana reads it: 2-space JSON in the input's key order. */
export function renderDashboard(dashboard: DashboardSpec): string {
  return `${JSON.stringify(dashboard.json, null, 2)}\n`;
}
