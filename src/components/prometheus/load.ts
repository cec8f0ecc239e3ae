/**
 * Read app artifacts kept under `templates/<app>/` as an operator writes them: an alert
 * rule file in Prometheus's own format, a Grafana dashboard JSON. The result feeds
 * {@link PrometheusScrape}, which validates and re-renders it. No Pulumi, no network.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { templatesDir } from "../../templating";
import { parseOrThrow } from "../../validation/errors";
import { type AlertRuleInput } from "./args";

const ruleFileSchema = z.strictObject({
  groups: z
    .array(
      z.strictObject({
        name: z.string(),
        interval: z.string().optional(),
        rules: z.array(
          z.strictObject({
            alert: z.string({ error: "is required: only alerting rules are supported (no recording rules)" }),
            expr: z.string(),
            for: z.string().optional(),
            labels: z.record(z.string(), z.string()).default({}),
            annotations: z.record(z.string(), z.string()).default({}),
          }),
        ),
      }),
    )
    .min(1, { error: "must have at least one group" }),
});

/**
 * Alert rules from the text of a Prometheus rule file (`groups[].rules[]`, alerting rules
 * only). `labels.severity` becomes `severity`; the `summary`, `description` and
 * `runbook_url` annotations become fields. Any other annotation is refused, so nothing in
 * the file is silently dropped. Field-level rules are checked by `PrometheusScrape`.
 */
export function alertRulesFromYaml(text: string, source = "alert rules"): AlertRuleInput[] {
  const doc = parseOrThrow(source, ruleFileSchema, parse(text) as unknown);
  const out: AlertRuleInput[] = [];
  const problems: string[] = [];
  doc.groups.forEach((g, gi) =>
    g.rules.forEach((r, ri) => {
      const { severity, ...labels } = r.labels;
      const { summary, description, runbook_url: runbookUrl, ...rest } = r.annotations;
      const where = `groups/${gi}/rules/${ri}`;
      if (Object.keys(rest).length) problems.push(`${where}/annotations: unsupported ${Object.keys(rest).map((k) => `"${k}"`).join(", ")}; use summary, description or runbook_url`);
      out.push({
        name: r.alert,
        expr: r.expr.trim(),
        ...(r.for !== undefined ? { for: r.for } : {}),
        severity: severity as AlertRuleInput["severity"],
        summary: summary ?? "",
        ...(description !== undefined ? { description } : {}),
        ...(runbookUrl !== undefined ? { runbookUrl } : {}),
        labels,
      });
    }),
  );
  if (problems.length) throw new Error(`${source}: ${problems.join("; ")}`);
  return out;
}

/**
 * Alert rules from `templates/<name>`.
 * @example loadAlertRules("daedalus/alerts.yml")
 */
export function loadAlertRules(name: string): AlertRuleInput[] {
  return alertRulesFromYaml(readFileSync(path.join(templatesDir(), name), "utf8"), `templates/${name}`);
}

/**
 * Dashboard JSON text from `templates/<name>`; checked by `PrometheusScrape`.
 * @example loadDashboard("daedalus/dashboard.json")
 */
export function loadDashboard(name: string): string {
  return readFileSync(path.join(templatesDir(), name), "utf8");
}
