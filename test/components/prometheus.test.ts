import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { leaves, runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import {
  alertmanagerSchema,
  loadAlertRules,
  loadDashboard,
  PrometheusScrape,
  PrometheusServer,
  prometheusAssembleScript,
  prometheusLayoutSchema,
  prometheusScrapeSchema,
  renderDashboard,
  renderRuleFile,
  renderScrapeFragment,
  dashboardSchema,
  type PrometheusScrapeArgs,
} from "../../src/components/prometheus";
import { plain, prometheus, prometheusRules } from "../../src/remote/daemons";
import { putCommand } from "../../src/remote/scripts";
import { refused, componentNames, scriptText, managedFile } from "../helpers/inputs";

const layout = prometheusLayoutSchema.parse({});

function daedalusArgs(): PrometheusScrapeArgs {
  return {
    host: testHost("prospero"),
    jobName: "daedalus",
    scrapeInterval: "15s",
    metricsPath: "/metrics",
    targets: ["puck.incus:22181"],
    alerts: loadAlertRules("daedalus/alerts.yml"),
    dashboard: { json: loadDashboard("daedalus/dashboard.json") },
  };
}



describe("PrometheusScrape", () => {
  it("writes the scrape fragment (with the assemble step), the rule file and the dashboard, all parented", async () => {
    const run = await runProgram(() => {
      new PrometheusScrape("daedalus-metrics", daedalusArgs());
    });
    expect(componentNames(run)).toEqual(["daedalus-metrics", "daedalus-metrics-scrape", "daedalus-metrics-rules", "daedalus-metrics-dashboard"]);
    expect(run.get("daedalus-metrics").type).toBe("fleet:prometheus:Scrape");
    for (const child of ["scrape", "rules", "dashboard"]) {
      const r = run.get(`daedalus-metrics-${child}`);
      expect(r.type).toBe("command:remote:Command");
      expect(r.parentName).toBe("daedalus-metrics");
    }
    const host = testHost("prospero");
    const { host: _h, ...plainArgs } = daedalusArgs();
    const spec = prometheusScrapeSchema.parse(plainArgs);

    const scrape = run.get("daedalus-metrics-scrape");
    const fragment = "/etc/prometheus/scrape.d/daedalus.yml";
    // The create script is exactly the primitive's write script with the assemble step and
    // the whole-config validator: nothing hand-built.
    expect(scrape.inputs.create).toBe(
      putCommand(
        { path: fragment, owner: "root", group: "root", mode: "0644", assemble: prometheusAssembleScript(layout) },
        prometheus(host.spec, { config: layout.config }),
        host.scripts,
        { recordOriginal: true },
      ),
    );
    const create = scriptText(String(scrape.inputs.create));
    expect(create).toContain(fragment);
    expect(create).toContain("promtool check config");
    expect(create).toContain("/etc/prometheus/prometheus.base.yml");
    expect(create).toContain("scrape_configs:");
    expect(create).toContain("systemctl reload prometheus");
    expect(scrape.inputs.stdin).toBe(renderScrapeFragment(spec));
    expect(scrape.inputs.triggers).toEqual(["host=prospero", `path=${fragment}`]);

    const rules = run.get("daedalus-metrics-rules");
    const rulesPath = "/etc/prometheus/rules.d/daedalus.yml";
    expect(rules.inputs.create).toBe(
      putCommand({ path: rulesPath, owner: "root", group: "root", mode: "0644" }, prometheusRules(host.spec, rulesPath, { config: layout.config }), host.scripts, { recordOriginal: true }),
    );
    expect(scriptText(String(rules.inputs.create))).toContain("promtool check rules");
    expect(rules.inputs.stdin).toBe(renderRuleFile("daedalus", spec.alerts));
    expect(String(rules.inputs.stdin)).toContain("alert: DaedalusS3Errors");

    const dashboard = run.get("daedalus-metrics-dashboard");
    const dashPath = "/var/lib/grafana/dashboards/daedalus.json";
    expect(dashboard.inputs.create).toBe(putCommand({ path: dashPath, owner: "root", group: "root", mode: "0644" }, plain("grafana"), host.scripts, { recordOriginal: true }));
    expect(dashboard.inputs.stdin).toBe(renderDashboard(dashboardSchema.parse({ json: loadDashboard("daedalus/dashboard.json") })));
    expect(scriptText(String(dashboard.inputs.create))).not.toContain("systemctl");
  });

  it("two apps write two different fragments and rule files, so neither can drop the other's job", async () => {
    const run = await runProgram(() => {
      new PrometheusScrape("daedalus-metrics", daedalusArgs());
      new PrometheusScrape("mnemosyne-metrics", { host: testHost("prospero"), jobName: "mnemosyne", scrapeInterval: "15s", targets: ["puck.incus:23181"] });
    });
    expect(componentNames(run)).toEqual(["daedalus-metrics", "daedalus-metrics-scrape", "daedalus-metrics-rules", "daedalus-metrics-dashboard", "mnemosyne-metrics", "mnemosyne-metrics-scrape"]);
    const a = run.get("daedalus-metrics-scrape");
    const b = run.get("mnemosyne-metrics-scrape");
    expect(a.inputs.triggers).toEqual(["host=prospero", "path=/etc/prometheus/scrape.d/daedalus.yml"]);
    expect(b.inputs.triggers).toEqual(["host=prospero", "path=/etc/prometheus/scrape.d/mnemosyne.yml"]);
    expect(String(b.inputs.stdin)).toContain("- job_name: mnemosyne");
    expect(String(b.inputs.stdin)).toContain("puck.incus:23181");
    expect(String(b.inputs.stdin)).not.toContain("daedalus");
    // Both rebuild the same assembled config from all fragments.
    expect(scriptText(String(a.inputs.create))).toContain("for f in '/etc/prometheus/scrape.d'/*.yml; do");
    expect(scriptText(String(b.inputs.create))).toContain("for f in '/etc/prometheus/scrape.d'/*.yml; do");
  });

  it("puts the dashboard on a separate Grafana host and honours a custom layout", async () => {
    const run = await runProgram(() => {
      new PrometheusScrape("d", {
        ...daedalusArgs(),
        grafanaHost: testHost("grafana"),
        layout: { scrapeDir: "/srv/prom/scrape.d" },
        grafanaLayout: { dashboardsDir: "/srv/grafana/dash" },
        dashboard: { json: loadDashboard("daedalus/dashboard.json"), fileName: "daedalus-api" },
      });
    });
    expect(run.get("d-scrape").inputs.triggers).toEqual(["host=prospero", "path=/srv/prom/scrape.d/daedalus.yml"]);
    expect(run.get("d-dashboard").inputs.triggers).toEqual(["host=grafana", "path=/srv/grafana/dash/daedalus-api.json"]);
  });

  it("needs no secrets: only the SSH connection is secret, nothing is hidden from logs", async () => {
    const run = await runProgram(() => {
      new PrometheusScrape("daedalus-metrics", daedalusArgs());
    });
    for (const r of run.byType("command:remote:Command")) {
      expect(r.inputs.logging).toBe("stdoutAndStderr");
      // The connection Output is secret as a whole (it holds the key); nothing else is.
      const secret = (await leaves(r.props)).filter((l) => l.secret && !l.path.startsWith("connection.")).map((l) => l.path);
      expect(secret).toEqual([]);
    }
  });

  it("skips the rules and dashboard children when there are none", async () => {
    const run = await runProgram(() => {
      new PrometheusScrape("m", { host: testHost("prospero"), jobName: "mnemosyne", targets: ["puck.incus:23181"] });
    });
    expect(componentNames(run)).toEqual(["m", "m-scrape"]);
    expect(String(run.get("m-scrape").inputs.stdin)).not.toContain("scrape_interval"); // the global one applies
  });

  describe("refuses hostile or wrong input with the exact message and registers nothing", () => {
    const base = (): PrometheusScrapeArgs => ({ host: testHost("prospero"), jobName: "daedalus", targets: ["puck.incus:22181"] });
    const alert = { name: "DaedalusDown", expr: "daedalus_up == 0", severity: "critical" as const, summary: "down" };
    const cases: [string, () => PrometheusScrapeArgs, string][] = [
      ["a shell-injection job name", () => ({ ...base(), jobName: "x'; rm -rf / #" }), "jobName: must start with a lowercase letter and contain only a-z, 0-9, '_' and '-'"],
      ["a command-substitution target", () => ({ ...base(), targets: ["$(id):9090"] }), "targets/0: must be HOST:PORT such as puck.incus:22181 or 10.10.0.5:9100 (port 1-65535)"],
      ["a target without a port", () => ({ ...base(), targets: ["puck.incus"] }), "targets/0: must be HOST:PORT such as puck.incus:22181 or 10.10.0.5:9100 (port 1-65535)"],
      ["an English interval", () => ({ ...base(), scrapeInterval: "15 seconds" }), "scrapeInterval: must be a duration such as 15s, 1m or 1h30m"],
      ["a rule expression with a newline", () => ({ ...base(), alerts: [{ ...alert, expr: "daedalus_up == 0\n- alert: Injected" }] }), "alerts/0/expr: must be one line without control characters"],
      ["an over-long job name", () => ({ ...base(), jobName: `a${"b".repeat(63)}` }), "jobName: must be at most 63 characters"],
      ["a metrics path with a fragment", () => ({ ...base(), metricsPath: "/metrics#x" }), "metricsPath: must be a URL path starting with '/', without spaces, quotes or '#'"],
      ["a reserved label name", () => ({ ...base(), labels: { __address__: "evil:1" } }), "labels/__address__: label name: must not start with '__' (reserved for Prometheus)"],
      ["a label overriding job", () => ({ ...base(), labels: { job: "other" } }), 'labels/job: must not be set: Prometheus sets "job" itself'],
      ["an alert name with spaces", () => ({ ...base(), alerts: [{ ...alert, name: "Daedalus Down; id" }] }), "alerts/0/name: must be an alert name: a letter or '_', then letters, digits and '_' (e.g. DaedalusDown)"],
      ["an unknown severity", () => ({ ...base(), alerts: [{ ...alert, severity: "page" as "critical" }] }), 'alerts/0/severity: must be "critical", "warning" or "info"'],
      ["an English for", () => ({ ...base(), alerts: [{ ...alert, for: "five minutes" }] }), "alerts/0/for: must be a duration such as 15s, 1m or 1h30m"],
      ["a timeout longer than the interval", () => ({ ...base(), scrapeInterval: "15s", scrapeTimeout: "1m" }), "scrapeTimeout: must not exceed scrapeInterval (15s)"],
      ["a snake_case key", () => ({ ...base(), scrape_interval: "15s" }) as PrometheusScrapeArgs, '(root): unknown key "scrape_interval"; remove or rename it'],
      ["a duplicate target", () => ({ ...base(), targets: ["puck.incus:22181", "puck.incus:22181"] }), 'targets/1: duplicate target "puck.incus:22181"'],
      ["a dashboard without uid", () => ({ ...base(), dashboard: { json: '{"title":"x","schemaVersion":39,"panels":[{"type":"stat","title":"a","gridPos":{"h":1,"w":1,"x":0,"y":0}}]}' } }), "dashboard/json/uid: is required: a stable uid (1-40 of A-Z a-z 0-9 - _)"],
      ["a layout path with shell metacharacters", () => ({ ...base(), layout: { scrapeDir: "/etc/prometheus/$(id)" } }), "scrapeDir: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)"],
    ];
    it.each(cases)("%s", async (_what, args, expected) => {
      const { message, run } = await refused(() => new PrometheusScrape("bad", args()));
      expect(message).toBe(`PrometheusScrape "bad": ${expected}`);
      expect(run.resources).toEqual([]);
    });

    it("lists every problem at once", async () => {
      const { message, run } = await refused(() => new PrometheusScrape("bad", { ...base(), jobName: "x'; rm -rf / #", targets: ["$(id):9090"], scrapeInterval: "15 seconds" }));
      expect(message).toBe(
        [
          'PrometheusScrape "bad" has 3 problems:',
          "  - jobName: must start with a lowercase letter and contain only a-z, 0-9, '_' and '-'",
          "  - scrapeInterval: must be a duration such as 15s, 1m or 1h30m",
          "  - targets/0: must be HOST:PORT such as puck.incus:22181 or 10.10.0.5:9100 (port 1-65535)",
        ].join("\n"),
      );
      expect(run.resources).toEqual([]);
    });
  });
});

describe("PrometheusServer", () => {
  const am = {
    smtp: { smarthost: "mail.helu.ca:587", from: "alerts@helu.ca", authUsername: "alerts" },
    route: { receiver: "ops" },
    receivers: [{ name: "ops", emails: [{ to: "ops@helu.ca" }] }],
  };

  it("owns the base config (re-assembling prometheus.yml), alertmanager.yml and the Grafana provider", async () => {
    const run = await runProgram(() => {
      new PrometheusServer("prospero", { host: testHost("prospero"), alertmanagers: ["localhost:9093"], alertmanager: alertmanagerSchema.parse({ route: { receiver: "null" }, receivers: [{ name: "null" }] }), grafana: {} });
    });
    expect(componentNames(run)).toEqual(["prospero", "prospero-base", "prospero-alertmanager", "prospero-grafana"]);
    expect(run.get("prospero").type).toBe("fleet:prometheus:Server");
    const host = testHost("prospero");
    const base = run.get("prospero-base");
    expect(base.parentName).toBe("prospero");
    expect(base.inputs.create).toBe(
      putCommand(
        { path: layout.base, owner: "root", group: "root", mode: "0644", assemble: prometheusAssembleScript(layout) },
        prometheus(host.spec, { config: layout.config }),
        host.scripts,
        { recordOriginal: true },
      ),
    );
    expect(String(base.inputs.stdin)).toContain("rule_files:\n  - /etc/prometheus/rules.d/*.yml");
    expect(parse(String(base.inputs.stdin))).not.toHaveProperty("scrape_configs");
    const alertmanager = run.get("prospero-alertmanager");
    expect(scriptText(String(alertmanager.inputs.create))).toContain("amtool check-config");
    expect(scriptText(String(alertmanager.inputs.create))).toContain("systemctl reload prometheus-alertmanager");
    expect(alertmanager.inputs.logging).toBe("stdoutAndStderr");
    const grafana = run.get("prospero-grafana");
    expect(grafana.inputs.triggers).toEqual(["host=prospero", "path=/etc/grafana/provisioning/dashboards/fleet.yaml"]);
    expect(String(grafana.inputs.stdin)).toContain("path: /var/lib/grafana/dashboards");
    expect(scriptText(String(grafana.inputs.create))).toContain("systemctl try-restart grafana-server");
  });

  it("writes alertmanager.yml as a secret (0640, group prometheus, not logged) when it holds the SMTP password", async () => {
    const run = await runProgram(() => {
      new PrometheusServer("prospero", { host: testHost("prospero"), alertmanager: am, smtpAuthPassword: "s3cret-Passw0rd" });
    });
    const r = run.get("prospero-alertmanager");
    expect(r.inputs.logging).toBe("none");
    expect(managedFile(r)).toEqual({ target: "/etc/prometheus/alertmanager.yml", owner: "root:prometheus", mode: "0640" });
    expect(r.file?.secret).toBe(true);
    expect(scriptText(String(r.inputs.create))).not.toContain("s3cret");
    const stdin = (await leaves(r.props)).find((l) => l.path === "stdin");
    expect(stdin?.secret).toBe(true);
    expect(stdin?.value).toContain("smtp_auth_password: s3cret-Passw0rd");
    expect(r.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
  });

  it.each([
    ["a route to an unknown receiver", { alertmanager: { route: { receiver: "pager" }, receivers: [{ name: "ops" }] } }, 'alertmanager/route/receiver: must name a receiver; "pager" is not in receivers'],
    ["email without SMTP", { alertmanager: { route: { receiver: "ops" }, receivers: [{ name: "ops", emails: [{ to: "ops@helu.ca" }] }] } }, 'alertmanager/smtp: is required: receiver "ops" sends email'],
    ["a hostile matcher", { alertmanager: { route: { receiver: "ops", routes: [{ matchers: ['severity="x"\nreceivers: []'], receiver: "ops" }] }, receivers: [{ name: "ops" }] } }, 'alertmanager/route/routes/0/matchers/0: must be a matcher such as severity="critical" or alertname=~"Daedalus.*"'],
    ["a hostile alertmanager target", { alertmanagers: ["localhost:9093; id"] }, "alertmanagers/0: must be HOST:PORT such as puck.incus:22181 or 10.10.0.5:9100 (port 1-65535)"],
    ["a password without SMTP", { smtpAuthPassword: "x" }, "smtpAuthPassword: is set but alertmanager/smtp is not: configure SMTP or drop the password"],
  ])("refuses %s and registers nothing", async (_what, extra, expected) => {
    const { message, run } = await refused(() => new PrometheusServer("bad", { host: testHost("prospero"), ...(extra as object) }));
    expect(message).toBe(`PrometheusServer "bad": ${expected}`);
    expect(run.resources).toEqual([]);
  });
});
