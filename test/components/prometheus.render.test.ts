import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  alertmanagerSchema,
  alertRulesFromYaml,
  grafanaLayoutSchema,
  loadAlertRules,
  loadDashboard,
  prometheusAssembleScript,
  prometheusLayoutSchema,
  prometheusScrapeSchema,
  prometheusServerSchema,
  renderAlertmanager,
  renderDashboard,
  renderGrafanaProvider,
  renderPrometheusBase,
  renderRuleFile,
  renderScrapeFragment,
  dashboardSchema,
  type PrometheusLayout,
} from "../../src/components/prometheus";
import { prometheus, prometheusRules } from "../../src/remote/daemons";
import { writeFileScript, deleteFileScript } from "../../src/remote/scripts";
import { expectValid, runTool, tempTree } from "../helpers/validators";

const daedalus = prometheusScrapeSchema.parse({
  jobName: "daedalus",
  scrapeInterval: "15s",
  metricsPath: "/metrics",
  targets: ["puck.incus:22181"],
  alerts: loadAlertRules("daedalus/alerts.yml"),
  dashboard: { json: loadDashboard("daedalus/dashboard.json") },
});
const mnemosyne = prometheusScrapeSchema.parse({
  jobName: "mnemosyne",
  scrapeInterval: "15s",
  targets: ["puck.incus:23181"],
  labels: { app: "mnemosyne" },
});
const server = prometheusServerSchema.parse({ alertmanagers: ["localhost:9093"], externalLabels: { site: "ouranos" } });

/** A Prometheus layout rooted in a temp dir. */
function layoutIn(dir: string): PrometheusLayout {
  return prometheusLayoutSchema.parse({
    config: `${dir}/prometheus.yml`,
    base: `${dir}/prometheus.base.yml`,
    scrapeDir: `${dir}/scrape.d`,
    rulesDir: `${dir}/rules.d`,
  });
}

function sh(script: string): { code: number; output: string } {
  return runTool("/bin/sh", ["-c", `set -eu\n${script}`]);
}

describe("Prometheus renderers", () => {
  it("renders the Daedalus scrape job of daedalus-deployment.md §3 as a one-job YAML list", () => {
    const text = renderScrapeFragment(daedalus);
    expect(text.startsWith("# Managed by pulumi-fleet.")).toBe(true);
    expect(text.endsWith("\n") && !text.endsWith("\n\n")).toBe(true);
    expect(parse(text)).toEqual([
      { job_name: "daedalus", scrape_interval: "15s", metrics_path: "/metrics", scheme: "http", static_configs: [{ targets: ["puck.incus:22181"] }] },
    ]);
    expect(parse(renderScrapeFragment(mnemosyne))).toEqual([
      { job_name: "mnemosyne", scrape_interval: "15s", metrics_path: "/metrics", scheme: "http", static_configs: [{ targets: ["puck.incus:23181"], labels: { app: "mnemosyne" } }] },
    ]);
  });

  it("is deterministic: targets and labels are sorted", () => {
    const a = prometheusScrapeSchema.parse({ jobName: "x", targets: ["b.incus:1", "a.incus:2"], labels: { z: "1", a: "2" } });
    const b = prometheusScrapeSchema.parse({ jobName: "x", targets: ["a.incus:2", "b.incus:1"], labels: { a: "2", z: "1" } });
    expect(renderScrapeFragment(a)).toBe(renderScrapeFragment(b));
    expect(renderScrapeFragment(a)).toContain("- a.incus:2\n        - b.incus:1");
  });

  it("represents the seven Daedalus alerts of §3 exactly: names, conditions, durations, severities", () => {
    const rules = daedalus.alerts;
    expect(rules.map((r) => [r.name, r.for ?? null, r.severity])).toEqual([
      ["DaedalusDown", "1m", "critical"],
      ["DaedalusMCPDisconnected", "5m", "warning"],
      ["DaedalusHighErrorRate", "5m", "warning"],
      ["DaedalusClientExceptionSpike", null, "warning"],
      ["DaedalusSlowResponses", "5m", "warning"],
      ["DaedalusMCPLatency", "5m", "warning"],
      ["DaedalusS3Errors", "5m", "warning"],
    ]);
    const expr = Object.fromEntries(rules.map((r) => [r.name, r.expr]));
    // The two conditions the seed writes out are kept verbatim.
    expect(expr.DaedalusDown).toBe("daedalus_up == 0");
    expect(expr.DaedalusMCPDisconnected).toBe("daedalus_mcp_connections_active == 0");
    // The others over the seed's metric families, with the seed's thresholds.
    expect(expr.DaedalusHighErrorRate).toMatch(/daedalus_http_requests_total\{status=~"5\.\."\}.*\/.*daedalus_http_requests_total\[5m\].*> 0\.05$/);
    expect(expr.DaedalusClientExceptionSpike).toMatch(/daedalus_client_exceptions_total\[1m\].*\* 60 > 10$/);
    expect(expr.DaedalusSlowResponses).toMatch(/^histogram_quantile\(0\.95, .*daedalus_http_request_duration_seconds_bucket\[5m\].*> 5$/);
    expect(expr.DaedalusMCPLatency).toMatch(/^histogram_quantile\(0\.95, .*daedalus_mcp_request_duration_seconds_bucket\[5m\].*> 30$/);
    expect(expr.DaedalusS3Errors).toMatch(/daedalus_s3_errors_total\[5m\].*\/.*daedalus_s3_operations_total\[5m\].*> 0\.01$/);
  });

  it("renders the rule file as one group named after the job, in Prometheus's own field order", () => {
    const text = renderRuleFile("daedalus", daedalus.alerts);
    const doc = parse(text) as { groups: { name: string; rules: Record<string, unknown>[] }[] };
    expect(doc.groups).toHaveLength(1);
    expect(doc.groups[0]!.name).toBe("daedalus");
    expect(doc.groups[0]!.rules[0]).toEqual({
      alert: "DaedalusDown",
      expr: "daedalus_up == 0",
      for: "1m",
      labels: { severity: "critical" },
      annotations: { summary: "Daedalus is down on {{ $labels.instance }}", description: "daedalus_up has been 0 for 1 minute." },
    });
    expect(Object.keys(doc.groups[0]!.rules[0]!)).toEqual(["alert", "expr", "for", "labels", "annotations"]);
    // The re-rendered file holds exactly what the operator's template holds.
    const template = parse(readFileSync(path.join(__dirname, "../../templates/daedalus/alerts.yml"), "utf8")) as unknown;
    expect(doc).toEqual(template);
  });

  it("renders the base without scrape_configs, with rule_files over rules.d and the Alertmanagers", () => {
    const doc = parse(renderPrometheusBase(server, prometheusLayoutSchema.parse({}))) as Record<string, unknown>;
    expect(doc).toEqual({
      global: { scrape_interval: "15s", scrape_timeout: "10s", evaluation_interval: "15s", external_labels: { site: "ouranos" } },
      rule_files: ["/etc/prometheus/rules.d/*.yml"],
      alerting: { alertmanagers: [{ static_configs: [{ targets: ["localhost:9093"] }] }] },
    });
  });

  it("renders the Grafana file provider pointing at the dashboards directory", () => {
    const doc = parse(renderGrafanaProvider({ folder: "Fleet", updateIntervalSeconds: 30 }, grafanaLayoutSchema.parse({}))) as Record<string, unknown>;
    expect(doc).toEqual({
      apiVersion: 1,
      providers: [
        {
          name: "fleet",
          orgId: 1,
          folder: "Fleet",
          type: "file",
          disableDeletion: false,
          allowUiUpdates: false,
          updateIntervalSeconds: 30,
          options: { path: "/var/lib/grafana/dashboards", foldersFromFilesStructure: false },
        },
      ],
    });
  });
});

describe("Daedalus Grafana dashboard (templates/daedalus/dashboard.json)", () => {
  const text = loadDashboard("daedalus/dashboard.json");
  const dash = JSON.parse(text) as { uid: string; title: string; schemaVersion: number; panels: { title: string; targets: { expr: string }[] }[] };

  it("is valid JSON with uid, title, schemaVersion and panels on a grid (schema check)", () => {
    const parsed = dashboardSchema.parse({ json: text });
    expect(parsed.json.uid).toBe("daedalus");
    expect(parsed.json.title).toBe("Daedalus");
    expect(parsed.json.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(parsed.json.panels.length).toBeGreaterThanOrEqual(6);
    expect(renderDashboard(parsed)).toBe(text); // already in canonical form
  });

  it("charts every metric family the alerts use", () => {
    const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr)).join("\n");
    for (const metric of [
      "daedalus_up",
      "daedalus_mcp_connections_active",
      "daedalus_http_requests_total",
      "daedalus_http_request_duration_seconds_bucket",
      "daedalus_client_exceptions_total",
      "daedalus_mcp_request_duration_seconds_bucket",
      "daedalus_s3_operations_total",
      "daedalus_s3_errors_total",
    ]) {
      expect(exprs).toContain(metric);
    }
  });

  it("refuses dashboards without the required fields, each with its path", () => {
    const bad = dashboardSchema.safeParse({ json: JSON.stringify({ title: "x", schemaVersion: 39, id: 7, panels: [{ type: "stat", title: "a", gridPos: { h: 1, w: 30, x: 0, y: 0 } }] }) });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => `${i.path.join("/")}: ${i.message}`)).toEqual([
      "json/uid: is required: a stable uid (1-40 of A-Z a-z 0-9 - _)",
      "json/id: must be null or absent in a provisioned dashboard",
      "json/panels/0/gridPos/w: must be at most 24 (Grafana's grid width)",
    ]);
    const notJson = dashboardSchema.safeParse({ json: "{ nope" });
    expect(notJson.error?.issues[0]?.message).toMatch(/^must be valid JSON \(/);
  });
});

describe("Prometheus validators (real promtool / amtool)", () => {
  it("promtool check config accepts base + the daedalus and mnemosyne fragments, loading the rules", () => {
    const dir = tempTree({});
    const layout = layoutIn(dir);
    const files = {
      "prometheus.base.yml": renderPrometheusBase(server, layout),
      "scrape.d/daedalus.yml": renderScrapeFragment(daedalus),
      "scrape.d/mnemosyne.yml": renderScrapeFragment(mnemosyne),
      "rules.d/daedalus.yml": renderRuleFile("daedalus", daedalus.alerts),
    };
    for (const [rel, text] of Object.entries(files)) {
      execFileSync("mkdir", ["-p", path.dirname(path.join(dir, rel))]);
      writeFileSync(path.join(dir, rel), text);
    }
    expectValid(sh(prometheusAssembleScript(layout)), "assemble");
    const check = runTool("promtool", ["check", "config", layout.config]);
    expectValid(check, "assembled prometheus.yml");
    expect(check.output).toContain("SUCCESS: 7 rules found");
    const cfg = parse(readFileSync(layout.config, "utf8")) as { scrape_configs: { job_name: string }[] };
    expect(cfg.scrape_configs.map((j) => j.job_name)).toEqual(["daedalus", "mnemosyne"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("promtool check rules accepts the rendered rule file and the operator's template", () => {
    const dir = tempTree({ "daedalus.yml": renderRuleFile("daedalus", daedalus.alerts) });
    const rendered = runTool("promtool", ["check", "rules", path.join(dir, "daedalus.yml")]);
    expectValid(rendered, "rendered rules");
    expect(rendered.output).toContain("SUCCESS: 7 rules found");
    expectValid(runTool("promtool", ["check", "rules", path.join(__dirname, "../../templates/daedalus/alerts.yml")]), "template rules");
    rmSync(dir, { recursive: true, force: true });
  });

  it("promtool check rules refuses a broken expression (what the host validator would stop)", () => {
    const broken = prometheusScrapeSchema.parse({ jobName: "x", targets: ["a.incus:1"], alerts: [{ name: "X", expr: "rate(foo[5m] > 1", severity: "warning", summary: "s" }] });
    const dir = tempTree({ "x.yml": renderRuleFile("x", broken.alerts) });
    const res = runTool("promtool", ["check", "rules", path.join(dir, "x.yml")]);
    expect(res.code).not.toBe(0);
    expect(res.output).toMatch(/unclosed left parenthesis|parse error/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("amtool check-config accepts the rendered alertmanager.yml, with and without SMTP", () => {
    const am = alertmanagerSchema.parse({
      smtp: { smarthost: "mail.helu.ca:587", from: "alerts@helu.ca", authUsername: "alerts" },
      route: { receiver: "ops", routes: [{ matchers: ['severity="critical"'], receiver: "pager" }] },
      receivers: [
        { name: "ops", emails: [{ to: "ops@helu.ca" }] },
        { name: "pager", webhooks: [{ url: "http://localhost:9095/hook" }] },
      ],
    });
    const text = renderAlertmanager(am, "p'a\"ss: #word");
    expect((parse(text) as { global: Record<string, unknown> }).global.smtp_auth_password).toBe("p'a\"ss: #word");
    const dir = tempTree({ "alertmanager.yml": text, "plain.yml": renderAlertmanager(alertmanagerSchema.parse({ route: { receiver: "null" }, receivers: [{ name: "null" }] })) });
    expectValid(runTool("amtool", ["check-config", path.join(dir, "alertmanager.yml")]), "alertmanager.yml");
    expectValid(runTool("amtool", ["check-config", path.join(dir, "plain.yml")]), "minimal alertmanager.yml");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the assemble step, run for real", () => {
  it("builds prometheus.yml from base + fragments; removing one fragment leaves the other job in place", () => {
    const dir = tempTree({});
    const layout = layoutIn(dir);
    const assemble = prometheusAssembleScript(layout);

    // No base yet: a clear error, nothing written.
    const missing = sh(assemble);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain(`fleet: ${layout.base} is missing: deploy PrometheusServer (the base config) first`);
    expect(existsSync(layout.config)).toBe(false);

    // Base only: an empty scrape_configs list, accepted by promtool.
    writeFileSync(layout.base, renderPrometheusBase(server, layout));
    expectValid(sh(assemble), "assemble (base only)");
    expectValid(runTool("promtool", ["check", "config", layout.config]), "base-only config");
    expect((parse(readFileSync(layout.config, "utf8")) as { scrape_configs: unknown[] }).scrape_configs).toEqual([]);

    writeFileSync(`${layout.scrapeDir}/daedalus.yml`, renderScrapeFragment(daedalus));
    writeFileSync(`${layout.scrapeDir}/mnemosyne.yml`, renderScrapeFragment(mnemosyne));
    // The primitive's own temp files beside the fragments are never picked up.
    writeFileSync(`${layout.scrapeDir}/.daedalus.yml.fleet-new`, "garbage: [");
    expectValid(sh(assemble), "assemble (two apps)");
    expectValid(runTool("promtool", ["check", "config", layout.config]), "two-app config");
    const jobs = () => (parse(readFileSync(layout.config, "utf8")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name);
    expect(jobs()).toEqual(["daedalus", "mnemosyne"]);
    expect(readFileSync(layout.config, "utf8").startsWith(readFileSync(layout.base, "utf8"))).toBe(true);

    unlinkSync(`${layout.scrapeDir}/daedalus.yml`);
    expectValid(sh(assemble), "assemble (one app removed)");
    expectValid(runTool("promtool", ["check", "config", layout.config]), "one-app config");
    expect(jobs()).toEqual(["mnemosyne"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("through the primitive's write script: a fragment that breaks the whole config is rolled back, the other jobs stay", () => {
    const dir = tempTree({});
    const layout = layoutIn(dir);
    writeFileSync(layout.base, renderPrometheusBase(server, layout));
    // The real validator; reload replaced by a marker (no Prometheus runs here).
    const daemon = { ...prometheus({ services: "systemd", pidFiles: { haproxy: "/x", prometheus: "/x", alertmanager: "/x" }, compose: "docker compose" }, { config: layout.config }), reload: `echo reloaded >> ${dir}/reloads` };
    const ctx = { lockDir: `${dir}/lock`, sudo: false };
    const write = (job: string, content: string) =>
      runTool("/bin/sh", ["-c", writeFileScript({ path: `${layout.scrapeDir}/${job}.yml`, owner: "root", group: "root", mode: "0644", assemble: prometheusAssembleScript(layout) }, daemon, ctx)], { input: content });

    expectValid(write("daedalus", renderScrapeFragment(daedalus)), "write daedalus");
    expectValid(write("mnemosyne", renderScrapeFragment(mnemosyne)), "write mnemosyne");
    const before = readFileSync(layout.config, "utf8");
    // Another program claims the job name "daedalus": promtool refuses duplicates.
    const dup = write("intruder", renderScrapeFragment(prometheusScrapeSchema.parse({ jobName: "daedalus", targets: ["evil.incus:1"] })));
    expect(dup.code).toBe(1);
    expect(dup.output).toContain('found multiple scrape configs with job name "daedalus"');
    expect(dup.output).toContain("; new file removed, prometheus not reloaded");
    expect(existsSync(`${layout.scrapeDir}/intruder.yml`)).toBe(false);
    expect(readFileSync(layout.config, "utf8")).toBe(before);
    expect(readFileSync(`${dir}/reloads`, "utf8")).toBe("reloaded\nreloaded\n");

    // Deleting a fragment re-assembles without it.
    const del = runTool("/bin/sh", ["-c", deleteFileScript({ path: `${layout.scrapeDir}/daedalus.yml`, owner: "root", group: "root", mode: "0644", assemble: prometheusAssembleScript(layout) }, daemon, ctx)]);
    expectValid(del, "delete daedalus");
    expect((parse(readFileSync(layout.config, "utf8")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name)).toEqual(["mnemosyne"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("destroying the server puts back the prometheus.yml from before the first deploy (docs/destroy.md)", () => {
    const dir = tempTree({});
    const layout = layoutIn(dir);
    const operator = "# the operator's own config\nglobal:\n  scrape_interval: 1m\nscrape_configs: []\n";
    writeFileSync(layout.config, operator);
    const daemon = { ...prometheus({ services: "systemd", pidFiles: { haproxy: "/x", prometheus: "/x", alertmanager: "/x" }, compose: "docker compose" }, { config: layout.config }), reload: `echo reloaded >> ${dir}/reloads` };
    const ctx = { lockDir: `${dir}/lock`, sudo: false };
    const assemble = prometheusAssembleScript(layout);
    const target = (path: string) => ({ path, owner: "root", group: "root", mode: "0644", assemble });
    const scrape = `${layout.scrapeDir}/daedalus.yml`;

    // A job before its server: refused, the operator's config untouched.
    const early = runTool("/bin/sh", ["-c", writeFileScript(target(scrape), daemon, ctx, { recordOriginal: true })], { input: renderScrapeFragment(daedalus) });
    expect(early.code).toBe(1);
    expect(early.output).toContain("deploy PrometheusServer (the base config) first");
    expect(readFileSync(layout.config, "utf8")).toBe(operator);

    expectValid(runTool("/bin/sh", ["-c", writeFileScript(target(layout.base), daemon, ctx, { recordOriginal: true })], { input: renderPrometheusBase(server, layout) }), "deploy base");
    expectValid(runTool("/bin/sh", ["-c", writeFileScript(target(scrape), daemon, ctx, { recordOriginal: true })], { input: renderScrapeFragment(daedalus) }), "deploy job");
    expect(readFileSync(layout.config, "utf8")).toContain("job_name: daedalus");

    // Destroy, in the engine's order: the job, then the server.
    expectValid(runTool("/bin/sh", ["-c", deleteFileScript(target(scrape), daemon, ctx)]), "delete job");
    const del = runTool("/bin/sh", ["-c", deleteFileScript(target(layout.base), daemon, ctx)]);
    expectValid(del, "delete base");
    expect(del.output).toContain(`fleet: removed ${layout.base}`);
    expect(readFileSync(layout.config, "utf8")).toBe(operator);
    expectValid(runTool("promtool", ["check", "config", layout.config]), "restored config");
    expect(existsSync(layout.base)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it("the rules validator checks the file itself, and tolerates its removal", () => {
    const dir = tempTree({});
    const layout = layoutIn(dir);
    writeFileSync(layout.base, renderPrometheusBase(server, layout));
    expectValid(sh(prometheusAssembleScript(layout)), "assemble");
    const rulesFile = `${layout.rulesDir}/daedalus.yml`;
    const v = prometheusRules({ services: "systemd", pidFiles: { haproxy: "/x", prometheus: "/x", alertmanager: "/x" }, compose: "docker compose" }, rulesFile, { config: layout.config });
    writeFileSync(rulesFile, renderRuleFile("daedalus", daedalus.alerts));
    expectValid(sh(v.validate!), "rules validator");
    writeFileSync(rulesFile, "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: rate(\n");
    const bad = sh(v.validate!);
    expect(bad.code).not.toBe(0);
    expect(bad.output).toContain(rulesFile);
    unlinkSync(rulesFile);
    expectValid(sh(v.validate!), "rules validator after removal");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("YAML edge cases and the rule-file loader", () => {
  it("quotes label values go-yaml (YAML 1.1) would read as booleans", () => {
    const text = renderScrapeFragment(prometheusScrapeSchema.parse({ jobName: "x", targets: ["a.incus:1"], labels: { env: "yes", tls: "on", short: "n" } }));
    expect(text).toContain('env: "yes"');
    expect(text).toContain('short: "n"');
    expect(text).toContain('tls: "on"');
  });

  it("refuses recording rules and annotations it would otherwise drop", () => {
    expect(() => alertRulesFromYaml("groups:\n  - name: g\n    rules:\n      - record: job:x:rate5m\n        expr: rate(x[5m])\n", "rec.yml")).toThrow(
      [
        "rec.yml has 2 problems:",
        "  - groups/0/rules/0/alert: is required: only alerting rules are supported (no recording rules)",
        '  - groups/0/rules/0: unknown key "record"; remove or rename it',
      ].join("\n"),
    );
    expect(() =>
      alertRulesFromYaml("groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: up == 0\n        labels: {severity: warning}\n        annotations: {summary: s, dashboard: d}\n", "ann.yml"),
    ).toThrow('ann.yml: groups/0/rules/0/annotations: unsupported "dashboard"; use summary, description or runbook_url');
  });
});
