/**
 * Arguments of the Prometheus components. Plain data + zod; no Pulumi value import.
 */
import { z } from "zod";
import type * as pulumi from "@pulumi/pulumi";
import { type Host } from "../../remote/host";
import { type CommandTransform } from "../../remote/command";
import { absolutePath, httpUrl, isHostname, isIpAddress, oneLine, promDuration, slug, urlPath } from "../../validation/primitives";

// ---------------------------------------------------------------------------------------
// Building blocks

/** Milliseconds of a Prometheus duration such as `1h30m` (already validated by `promDuration`). */
export function promDurationMs(value: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };
  let total = 0;
  for (const m of value.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) total += Number(m[1]) * (unit[m[2]!] ?? 0);
  return total;
}

/**
 * A scrape job name. It is also the fragment and rule file name (`scrape.d/<job>.yml`),
 * so it is file-name safe: lowercase letters, digits, `_` and `-`.
 */
export const jobName = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(63, { error: "must be at most 63 characters" })
  .regex(/^[a-z][a-z0-9_-]*$/, { error: "must start with a lowercase letter and contain only a-z, 0-9, '_' and '-'" });

/** A Prometheus label name; names starting with `__` are reserved for Prometheus itself. */
export const labelName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: "must be a label name: a letter or '_', then letters, digits and '_'" })
  .refine((v) => !v.startsWith("__"), { error: "must not start with '__' (reserved for Prometheus)" });

/** A label value: one line of text. */
export const labelValue = oneLine;

/**
 * A map of label name → value. Keys are checked one by one so each bad key gets its own
 * path and message (zod's record key errors say only "Invalid key in record").
 */
export const labelMap = z.record(z.string(), labelValue).superRefine((labels, ctx) => {
  for (const key of Object.keys(labels)) {
    const r = labelName.safeParse(key);
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: [key], message: `label name: ${issue.message}` });
  }
});

/** `HOST:PORT` where HOST is a DNS name, an IPv4 address or a bracketed IPv6 address. */
export const hostPort = z
  .string()
  .max(260, { error: "must be at most 260 characters" })
  .refine(
    (v) => {
      const m = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+):(\d{1,5})$/.exec(v);
      if (!m) return false;
      const host = m[1]!.startsWith("[") ? m[1]!.slice(1, -1) : m[1]!;
      const p = Number(m[2]);
      return (isHostname(host) || isIpAddress(host)) && p >= 1 && p <= 65535;
    },
    { error: "must be HOST:PORT such as puck.incus:22181 or 10.10.0.5:9100 (port 1-65535)" },
  );

/** An alert name: CamelCase by convention, a valid Prometheus label value for `alertname`. */
export const alertName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an alert name: a letter or '_', then letters, digits and '_' (e.g. DaedalusDown)" });

// ---------------------------------------------------------------------------------------
// Alert rules

export const alertRuleSchema = z
  .strictObject({
    /**
     * The alert name (`alertname` label).
     * @example "DaedalusDown"
     */
    name: alertName,
    /**
     * PromQL expression; the alert fires for every series it returns. One line (PromQL
     * needs no newlines; the rule file keeps it readable as a plain YAML scalar).
     * @example "daedalus_up == 0"
     */
    expr: oneLine.min(1, { error: "must not be empty" }),
    /** How long the condition must hold before the alert fires. @default none (fires on the first evaluation) */
    for: promDuration.optional(),
    /** The `severity` label Alertmanager routes on. */
    severity: z.enum(["critical", "warning", "info"], { error: 'must be "critical", "warning" or "info"' }),
    /** One-line `summary` annotation; may use `{{ $labels.x }}` and `{{ $value }}`. */
    summary: oneLine.min(1, { error: "must not be empty" }),
    /** Optional `description` annotation. */
    description: oneLine.optional(),
    /** Optional `runbook_url` annotation. */
    runbookUrl: httpUrl.optional(),
    /** Extra labels (not `severity`, which has its own field). @default {} */
    labels: labelMap.default({}),
  })
  .superRefine((v, ctx) => {
    if ("severity" in v.labels) ctx.addIssue({ code: "custom", path: ["labels", "severity"], message: 'must not be set here: use the "severity" field' });
  });

export type AlertRuleInput = z.input<typeof alertRuleSchema>;
export type AlertRule = z.output<typeof alertRuleSchema>;

// ---------------------------------------------------------------------------------------
// Grafana dashboards

/**
 * The fields a provisioned Grafana dashboard must have. Everything else is passed through
 * untouched (Grafana's own schema is large and versioned; grafana is not a test dependency).
 */
export const grafanaDashboardSchema = z.looseObject({
  /** Stable identifier: the dashboard's URL and the key Grafana updates it by. */
  uid: z
    .string({ error: "is required: a stable uid (1-40 of A-Z a-z 0-9 - _)" })
    .regex(/^[A-Za-z0-9_-]{1,40}$/, { error: "must be 1-40 characters of A-Z a-z 0-9 - _" }),
  title: oneLine.min(1, { error: "must not be empty" }),
  schemaVersion: z.number({ error: "is required: a number (Grafana's dashboard schema version)" }).int().min(16, { error: "must be at least 16" }),
  /** Provisioned dashboards must not carry a database id: Grafana assigns it. */
  id: z.null({ error: "must be null or absent in a provisioned dashboard" }).optional(),
  panels: z
    .array(
      z.looseObject({
        type: z.string({ error: "is required: the panel type (timeseries, stat, ...)" }).min(1),
        title: z.string({ error: "is required" }),
        gridPos: z.looseObject({
          h: z.number().int().min(1),
          w: z.number().int().min(1).max(24, { error: "must be at most 24 (Grafana's grid width)" }),
          x: z.number().int().min(0).max(23),
          y: z.number().int().min(0),
        }),
      }),
      { error: "is required: an array of panels" },
    )
    .min(1, { error: "must have at least one panel" }),
});
export type GrafanaDashboard = z.output<typeof grafanaDashboardSchema>;

/**
 * Dashboard JSON as text (parsed here) or as an object, checked against
 * {@link grafanaDashboardSchema}. The value passes on as given (key order kept), not as
 * zod rebuilds it, so the file on the host reads like the operator's template.
 */
export const dashboardJson = z
  .union([z.string(), z.record(z.string(), z.unknown())], { error: "must be dashboard JSON text or an object" })
  .transform((v, ctx): GrafanaDashboard => {
    let value: unknown = v;
    if (typeof v === "string") {
      try {
        value = JSON.parse(v) as unknown;
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `must be valid JSON (${(e as Error).message})` });
        return z.NEVER;
      }
    }
    const checked = grafanaDashboardSchema.safeParse(value);
    if (!checked.success) {
      for (const issue of checked.error.issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
      return z.NEVER;
    }
    return value as GrafanaDashboard;
  });

export const dashboardSchema = z.strictObject({
  /** The dashboard JSON (e.g. the text of `templates/daedalus/dashboard.json`). */
  json: dashboardJson,
  /** File name (without `.json`) in the dashboards directory. @default the job name */
  fileName: slug.optional(),
});
export type DashboardSpec = z.output<typeof dashboardSchema>;

// ---------------------------------------------------------------------------------------
// PrometheusScrape

export const prometheusScrapeSchema = z
  .strictObject({
    /**
     * The scrape job name, unique on the Prometheus server. Also names the fragment and
     * rule files. Changing it replaces the fragment (the old job is removed).
     * @example "daedalus"
     */
    jobName,
    /** How often to scrape, as a Prometheus duration. @default the server's global scrape_interval */
    scrapeInterval: promDuration.optional(),
    /** Per-scrape timeout; must not exceed the interval. @default the server's global (10s) */
    scrapeTimeout: promDuration.optional(),
    /** @default "/metrics" */
    metricsPath: urlPath.default("/metrics"),
    /** @default "http" */
    scheme: z.enum(["http", "https"], { error: 'must be "http" or "https"' }).default("http"),
    /**
     * `HOST:PORT` targets.
     * @example ["puck.incus:22181"]
     */
    targets: z.array(hostPort).min(1, { error: "must list at least one HOST:PORT target" }).max(256, { error: "must list at most 256 targets" }),
    /** Labels added to every series of the job. @default {} */
    labels: labelMap.default({}),
    /** Alert rules, written to `rules.d/<job>.yml` as one group named after the job. @default [] */
    alerts: z.array(alertRuleSchema).max(500, { error: "must have at most 500 rules" }).default([]),
    /** Optional Grafana dashboard, provisioned from `dashboards/<fileName>.json`. */
    dashboard: dashboardSchema.optional(),
  })
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.targets.forEach((t, i) => {
      if (seen.has(t)) ctx.addIssue({ code: "custom", path: ["targets", i], message: `duplicate target "${t}"` });
      seen.add(t);
    });
    if (v.scrapeInterval && v.scrapeTimeout && promDurationMs(v.scrapeTimeout) > promDurationMs(v.scrapeInterval)) {
      ctx.addIssue({ code: "custom", path: ["scrapeTimeout"], message: `must not exceed scrapeInterval (${v.scrapeInterval})` });
    }
    for (const reserved of ["job", "instance"]) {
      if (reserved in v.labels) ctx.addIssue({ code: "custom", path: ["labels", reserved], message: `must not be set: Prometheus sets "${reserved}" itself` });
    }
  });

export type PrometheusScrapeSpecInput = z.input<typeof prometheusScrapeSchema>;
export type PrometheusScrapeSpec = z.output<typeof prometheusScrapeSchema>;

/** Where Prometheus's files live on its host (Debian's package layout). */
export const prometheusLayoutSchema = z.strictObject({
  /** The assembled config Prometheus reads; rebuilt, never edited. @default "/etc/prometheus/prometheus.yml" */
  config: absolutePath.default("/etc/prometheus/prometheus.yml"),
  /** Global settings, rule_files and alerting, owned by {@link PrometheusServer}. @default "/etc/prometheus/prometheus.base.yml" */
  base: absolutePath.default("/etc/prometheus/prometheus.base.yml"),
  /** One YAML list of scrape configs per job. @default "/etc/prometheus/scrape.d" */
  scrapeDir: absolutePath.default("/etc/prometheus/scrape.d"),
  /** One rule file per job, loaded through `rule_files`. @default "/etc/prometheus/rules.d" */
  rulesDir: absolutePath.default("/etc/prometheus/rules.d"),
});
export type PrometheusLayout = z.output<typeof prometheusLayoutSchema>;
export const defaultPrometheusLayout: PrometheusLayout = prometheusLayoutSchema.parse({});

/** Where Grafana's provisioned dashboards live (Debian/Grafana package layout). */
export const grafanaLayoutSchema = z.strictObject({
  /** Directory of dashboard JSON files the fleet provider watches. @default "/var/lib/grafana/dashboards" */
  dashboardsDir: absolutePath.default("/var/lib/grafana/dashboards"),
  /** The provider file. @default "/etc/grafana/provisioning/dashboards/fleet.yaml" */
  provisioningFile: absolutePath.default("/etc/grafana/provisioning/dashboards/fleet.yaml"),
});
export type GrafanaLayout = z.output<typeof grafanaLayoutSchema>;
export const defaultGrafanaLayout: GrafanaLayout = grafanaLayoutSchema.parse({});

export interface PrometheusScrapeArgs extends PrometheusScrapeSpecInput {
  /** The Prometheus host (Prospero). */
  host: Host;
  /** The Grafana host, when it is not the Prometheus host. @default host */
  grafanaHost?: Host;
  /** Where Prometheus's files live. */
  layout?: Partial<PrometheusLayout>;
  /** Where Grafana's files live. */
  grafanaLayout?: Partial<GrafanaLayout>;
  transform?: {
    /** The scrape fragment file command. */
    scrape?: CommandTransform;
    /** The rule file command. */
    rules?: CommandTransform;
    /** The dashboard file command. */
    dashboard?: CommandTransform;
  };
}

// ---------------------------------------------------------------------------------------
// PrometheusServer

const receiverName = z
  .string()
  .max(64, { error: "must be at most 64 characters" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: "must be letters, digits, '_', '.' and '-'" });

const email = z
  .string()
  .max(254, { error: "must be at most 254 characters" })
  .regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, { error: "must be an email address such as ops@example.com" });

/** An Alertmanager matcher: `label="value"`, `label!="value"`, `label=~"regex"` or `label!~"regex"`. */
export const matcher = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*(=~|!~|!=|=)"[^"\\\n\r]*"$/, { error: 'must be a matcher such as severity="critical" or alertname=~"Daedalus.*"' });

export const alertmanagerSchema = z
  .strictObject({
    /** @default "5m" */
    resolveTimeout: promDuration.default("5m"),
    /** SMTP settings; required when a receiver sends email. The password is `smtpAuthPassword`. */
    smtp: z
      .strictObject({
        /** @example "mail.helu.ca:587" */
        smarthost: hostPort,
        from: email,
        authUsername: oneLine.optional(),
        /** @default true */
        requireTls: z.boolean().default(true),
      })
      .optional(),
    route: z.strictObject({
      /** The default receiver. */
      receiver: receiverName,
      /** @default ["alertname", "job"] */
      groupBy: z.array(labelName).default(["alertname", "job"]),
      /** @default "30s" */
      groupWait: promDuration.default("30s"),
      /** @default "5m" */
      groupInterval: promDuration.default("5m"),
      /** @default "4h" */
      repeatInterval: promDuration.default("4h"),
      /** Child routes, first match wins unless `continue`. @default [] */
      routes: z
        .array(
          z.strictObject({
            matchers: z.array(matcher).min(1, { error: "must list at least one matcher" }),
            receiver: receiverName,
            /** @default false */
            continue: z.boolean().default(false),
          }),
        )
        .default([]),
    }),
    receivers: z
      .array(
        z.strictObject({
          name: receiverName,
          /** @default [] */
          webhooks: z.array(z.strictObject({ url: httpUrl, /** @default true */ sendResolved: z.boolean().default(true) })).default([]),
          /** @default [] */
          emails: z.array(z.strictObject({ to: email, /** @default false */ sendResolved: z.boolean().default(false) })).default([]),
        }),
      )
      .min(1, { error: "must list at least one receiver" }),
  })
  .superRefine((v, ctx) => {
    const names = new Set<string>();
    v.receivers.forEach((r, i) => {
      if (names.has(r.name)) ctx.addIssue({ code: "custom", path: ["receivers", i, "name"], message: `duplicate receiver "${r.name}"` });
      names.add(r.name);
      if (r.emails.length && !v.smtp) ctx.addIssue({ code: "custom", path: ["smtp"], message: `is required: receiver "${r.name}" sends email` });
    });
    if (!names.has(v.route.receiver)) ctx.addIssue({ code: "custom", path: ["route", "receiver"], message: `must name a receiver; "${v.route.receiver}" is not in receivers` });
    v.route.routes.forEach((r, i) => {
      if (!names.has(r.receiver)) ctx.addIssue({ code: "custom", path: ["route", "routes", i, "receiver"], message: `must name a receiver; "${r.receiver}" is not in receivers` });
    });
  });
export type AlertmanagerSpecInput = z.input<typeof alertmanagerSchema>;
export type AlertmanagerSpec = z.output<typeof alertmanagerSchema>;

export const prometheusServerSchema = z
  .strictObject({
    /** Global scrape interval. @default "15s" */
    scrapeInterval: promDuration.default("15s"),
    /** How often rules are evaluated. @default "15s" */
    evaluationInterval: promDuration.default("15s"),
    /** Global scrape timeout. @default "10s" */
    scrapeTimeout: promDuration.default("10s"),
    /** Labels attached to every series sent to Alertmanager or remote storage. @default {} */
    externalLabels: labelMap.default({}),
    /**
     * Alertmanagers Prometheus sends alerts to, as `HOST:PORT`.
     * @default []
     * @example ["localhost:9093"]
     */
    alertmanagers: z.array(hostPort).max(16).default([]),
    /** Manage `alertmanager.yml` too (validated with `amtool check-config`). */
    alertmanager: alertmanagerSchema.optional(),
    /** Provision Grafana dashboards from the fleet dashboards directory. */
    grafana: z
      .strictObject({
        /** Grafana folder the dashboards appear in. @default "Fleet" */
        folder: oneLine.default("Fleet"),
        /** How often Grafana rescans the directory, in seconds. @default 30 */
        updateIntervalSeconds: z.number().int().min(10).max(3600).default(30),
      })
      .optional(),
  })
  .superRefine((v, ctx) => {
    if (promDurationMs(v.scrapeTimeout) > promDurationMs(v.scrapeInterval)) {
      ctx.addIssue({ code: "custom", path: ["scrapeTimeout"], message: `must not exceed scrapeInterval (${v.scrapeInterval})` });
    }
  });
export type PrometheusServerSpecInput = z.input<typeof prometheusServerSchema>;
export type PrometheusServerSpec = z.output<typeof prometheusServerSchema>;

export const alertmanagerLayoutSchema = z.strictObject({
  /** @default "/etc/prometheus/alertmanager.yml" */
  config: absolutePath.default("/etc/prometheus/alertmanager.yml"),
  /** Group that may read the file when it holds the SMTP password (mode 0640). @default "prometheus" */
  secretGroup: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a group name" }).default("prometheus"),
});
export type AlertmanagerLayout = z.output<typeof alertmanagerLayoutSchema>;

export interface PrometheusServerArgs extends PrometheusServerSpecInput {
  /** The Prometheus host (Prospero). */
  host: Host;
  /** The Grafana host, when it is not the Prometheus host. @default host */
  grafanaHost?: Host;
  /** The SMTP password for `alertmanager.smtp`; the file is then written as a secret (0640). */
  smtpAuthPassword?: pulumi.Input<string>;
  layout?: Partial<PrometheusLayout>;
  alertmanagerLayout?: Partial<AlertmanagerLayout>;
  grafanaLayout?: Partial<GrafanaLayout>;
  transform?: {
    /** The base config file command. */
    base?: CommandTransform;
    /** The alertmanager.yml file command. */
    alertmanager?: CommandTransform;
    /** The Grafana provider file command. */
    grafana?: CommandTransform;
  };
}
