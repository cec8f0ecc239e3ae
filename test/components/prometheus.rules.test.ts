/**
 * Unit tests of the Daedalus alert expressions with `promtool test rules`: synthetic
 * series in, the alerts that must (and must not) be firing out. The rule file under test
 * is the one PrometheusScrape deploys (the template, validated and re-rendered).
 */
import { rmSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadAlertRules, prometheusScrapeSchema, renderRuleFile } from "../../src/components/prometheus";
import { runTool, tempTree } from "../helpers/validators";

const JOB = 'job="daedalus",instance="puck.incus:22181"';
const LABELS = { job: "daedalus", instance: "puck.incus:22181" };

interface Series {
  readonly series: string;
  readonly values: string;
}
interface Check {
  readonly at: string;
  /** Annotations of the one firing alert, or null when none may fire. */
  readonly fires: Record<string, string> | null;
  /** Labels of the firing alert besides alertname. @default job + instance + severity warning */
  readonly labels?: Record<string, string>;
}
interface Case {
  readonly alert: string;
  readonly what: string;
  readonly input: readonly Series[];
  readonly checks: readonly Check[];
}

/** A counter growing by `step` every 15s for `n` steps: "0+stepxn". */
const counter = (step: number, n = 60) => `0+${step}x${n}`;

const cases: Case[] = [
  {
    alert: "DaedalusDown",
    what: "fires after daedalus_up has been 0 for 1m, not before",
    input: [{ series: `daedalus_up{${JOB}}`, values: "1x8 0x20" }], // 0 from 2m15s
    checks: [
      { at: "3m", fires: null },
      { at: "3m30s", fires: { summary: "Daedalus is down on puck.incus:22181", description: "daedalus_up has been 0 for 1 minute." }, labels: { ...LABELS, severity: "critical" } },
    ],
  },
  {
    alert: "DaedalusDown",
    what: "does not fire for a 45s blip",
    input: [{ series: `daedalus_up{${JOB}}`, values: "1x8 0x2 1x20" }],
    checks: [{ at: "4m", fires: null }],
  },
  {
    alert: "DaedalusMCPDisconnected",
    what: "fires after 5m without MCP connections",
    input: [{ series: `daedalus_mcp_connections_active{${JOB}}`, values: "0x40" }],
    checks: [
      { at: "4m", fires: null },
      { at: "5m15s", fires: { summary: "Daedalus has no active MCP connections on puck.incus:22181", description: "daedalus_mcp_connections_active has been 0 for 5 minutes." } },
    ],
  },
  {
    alert: "DaedalusMCPDisconnected",
    what: "does not fire while connections are open",
    input: [{ series: `daedalus_mcp_connections_active{${JOB}}`, values: "3x40" }],
    checks: [{ at: "8m", fires: null }],
  },
  {
    alert: "DaedalusHighErrorRate",
    what: "fires when more than 5% of requests are 5xx for 5m (10 of 110 = 9.1%)",
    input: [
      { series: `daedalus_http_requests_total{${JOB},status="200"}`, values: counter(100) },
      { series: `daedalus_http_requests_total{${JOB},status="503"}`, values: counter(10) },
    ],
    checks: [
      { at: "4m", fires: null },
      { at: "10m", fires: { summary: "Daedalus HTTP 5xx ratio above 5% on puck.incus:22181", description: "9.091% of requests failed with a 5xx over 5 minutes." } },
    ],
  },
  {
    alert: "DaedalusHighErrorRate",
    what: "does not fire at 2% 5xx, nor when idle (0/0)",
    input: [
      { series: `daedalus_http_requests_total{${JOB},status="200"}`, values: counter(98) },
      { series: `daedalus_http_requests_total{${JOB},status="500"}`, values: counter(2) },
      { series: `daedalus_http_requests_total{job="daedalus",instance="idle:1",status="500"}`, values: "0x60" },
    ],
    checks: [{ at: "10m", fires: null }],
  },
  {
    alert: "DaedalusClientExceptionSpike",
    what: "fires at once above 10 exceptions/min (5 per 15s = 20/min)",
    input: [{ series: `daedalus_client_exceptions_total{${JOB}}`, values: counter(5) }],
    checks: [{ at: "2m", fires: { summary: "Daedalus browser clients report more than 10 exceptions per minute", description: "20 client exceptions per minute on puck.incus:22181." } }],
  },
  {
    alert: "DaedalusClientExceptionSpike",
    what: "does not fire at 8/min",
    input: [{ series: `daedalus_client_exceptions_total{${JOB}}`, values: counter(2) }],
    checks: [{ at: "5m", fires: null }],
  },
  {
    alert: "DaedalusSlowResponses",
    what: "fires when p95 latency is above 5s for 5m",
    input: [
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="0.5"}`, values: counter(1) },
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="1"}`, values: counter(1) },
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="5"}`, values: counter(1) },
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="10"}`, values: counter(10) },
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="+Inf"}`, values: counter(10) },
    ],
    checks: [
      { at: "4m", fires: null },
      { at: "10m", fires: { summary: "Daedalus p95 response time above 5s on puck.incus:22181", description: "p95 HTTP latency is 9.722s." } },
    ],
  },
  {
    alert: "DaedalusSlowResponses",
    what: "does not fire when every request takes under 0.5s",
    input: [
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="0.5"}`, values: counter(10) },
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="5"}`, values: counter(10) },
      { series: `daedalus_http_request_duration_seconds_bucket{${JOB},le="+Inf"}`, values: counter(10) },
    ],
    checks: [{ at: "10m", fires: null }],
  },
  {
    alert: "DaedalusMCPLatency",
    what: "fires when MCP p95 is above 30s for 5m",
    input: [
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="10"}`, values: counter(0) },
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="30"}`, values: counter(1) },
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="60"}`, values: counter(10) },
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="+Inf"}`, values: counter(10) },
    ],
    checks: [
      { at: "4m", fires: null },
      { at: "10m", fires: { summary: "Daedalus MCP p95 latency above 30s on puck.incus:22181", description: "p95 MCP request latency is 58.33s." } },
    ],
  },
  {
    alert: "DaedalusMCPLatency",
    what: "does not fire when MCP requests finish within 10s",
    input: [
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="10"}`, values: counter(10) },
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="30"}`, values: counter(10) },
      { series: `daedalus_mcp_request_duration_seconds_bucket{${JOB},le="+Inf"}`, values: counter(10) },
    ],
    checks: [{ at: "10m", fires: null }],
  },
  {
    alert: "DaedalusS3Errors",
    what: "fires when more than 1% of S3 operations fail for 5m (2 of 100)",
    input: [
      { series: `daedalus_s3_operations_total{${JOB},operation="put_object"}`, values: counter(100) },
      { series: `daedalus_s3_errors_total{${JOB},operation="put_object"}`, values: counter(2) },
    ],
    checks: [
      { at: "4m", fires: null },
      { at: "10m", fires: { summary: "Daedalus S3 error ratio above 1% on puck.incus:22181", description: "2% of S3 operations failed over 5 minutes." } },
    ],
  },
  {
    alert: "DaedalusS3Errors",
    what: "does not fire at 0.5% errors, nor without S3 traffic",
    input: [
      { series: `daedalus_s3_operations_total{${JOB},operation="get_object"}`, values: counter(200) },
      { series: `daedalus_s3_errors_total{${JOB},operation="get_object"}`, values: counter(1) },
      { series: `daedalus_s3_operations_total{job="daedalus",instance="idle:1",operation="get_object"}`, values: "0x60" },
      { series: `daedalus_s3_errors_total{job="daedalus",instance="idle:1",operation="get_object"}`, values: "0x60" },
    ],
    checks: [{ at: "10m", fires: null }],
  },
];

function testFile(c: Case): string {
  return stringify(
    {
      rule_files: ["rules.yml"],
      evaluation_interval: "15s",
      tests: [
        {
          name: `${c.alert}: ${c.what}`,
          interval: "15s",
          input_series: c.input.map((s) => ({ series: s.series, values: s.values })),
          alert_rule_test: c.checks.map((k) => ({
            eval_time: k.at,
            alertname: c.alert,
            exp_alerts: k.fires ? [{ exp_labels: k.labels ?? { ...LABELS, severity: "warning" }, exp_annotations: k.fires }] : [],
          })),
        },
      ],
    },
    { lineWidth: 0 },
  );
}

describe("Daedalus alert rules under promtool test rules", () => {
  const rules = prometheusScrapeSchema.parse({ jobName: "daedalus", targets: ["puck.incus:22181"], alerts: loadAlertRules("daedalus/alerts.yml") }).alerts;
  const rendered = renderRuleFile("daedalus", rules);

  it("covers each of the seven alerts with a firing and a quiet case", () => {
    const names = [...new Set(cases.map((c) => c.alert))];
    expect(names).toEqual(rules.map((r) => r.name));
    for (const name of names) {
      const mine = cases.filter((c) => c.alert === name).flatMap((c) => c.checks);
      expect(mine.some((k) => k.fires), `${name} fires somewhere`).toBe(true);
      expect(mine.some((k) => !k.fires), `${name} stays quiet somewhere`).toBe(true);
    }
  });

  it.each(cases.map((c) => [`${c.alert}: ${c.what}`, c] as const))("%s", (_title, c) => {
    const dir = tempTree({ "rules.yml": rendered, "test.yml": testFile(c) });
    const res = runTool("promtool", ["test", "rules", path.join(dir, "test.yml")], { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
    if (res.code !== 0) throw new Error(`promtool test rules failed:\n${res.output}`);
    expect(res.output).toContain("SUCCESS");
  });

  it("a wrong expectation fails (the harness can fail)", () => {
    const c: Case = { alert: "DaedalusDown", what: "bogus", input: [{ series: `daedalus_up{${JOB}}`, values: "1x20" }], checks: [{ at: "3m", fires: { summary: "x" } }] };
    const dir = tempTree({ "rules.yml": rendered, "test.yml": testFile(c) });
    const res = runTool("promtool", ["test", "rules", path.join(dir, "test.yml")], { cwd: dir });
    rmSync(dir, { recursive: true, force: true });
    expect(res.code).toBe(1);
    expect(res.output).toContain("FAILED");
  });
});
