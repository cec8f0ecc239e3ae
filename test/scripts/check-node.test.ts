/**
 * npm run check-node: a fixture node with one known violation per line it names, and the
 * daarion stack's own rendered nodes, which must pass clean (through the npm script, as
 * an operator runs it, and through the same code in-process).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../scripts/check-node/index";
import { checkNode, RULES, type Finding } from "../../scripts/check-node/rules";
import { renderStack } from "../../stacks/render";
import { HANG_LIMIT_MS, runProcess } from "../helpers/spawn";

const ROOT = path.resolve(__dirname, "../..");
const BAD = path.join(ROOT, "test/fixtures/check-node/bad");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-check-node-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function run(argv: string[]): { code: number; out: string; err: string } {
  let out = "";
  let err = "";
  const code = main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

const brief = (f: Finding) => `${f.file}:${f.line} ${f.rule}`;

describe("check-node on a node that breaks the standards", () => {
  it("finds every known violation, with rule, file, line and fix", () => {
    const r = run([BAD, "--json"]);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as { ok: boolean; findings: Finding[] };
    expect(report.ok).toBe(false);
    expect(report.findings.map(brief)).toEqual([
      ".env:3 credentials/default",
      ".env:4 credentials/default",
      "docker-compose.all.yml:4 image/unpinned",
      "docker-compose.all.yml:8 credentials/default",
      "docker-compose.all.yml:10 ports/published",
      "docker-compose.all.yml:12 naming/volume",
      "docker-compose.all.yml:17 healthcheck/missing",
      "docker-compose.all.yml:18 image/unpinned",
      "docker-compose.all.yml:19 naming/container",
      "docker-compose.all.yml:21 credentials/hard-coded",
      "docker-compose.all.yml:22 credentials/hard-coded",
      "docker-compose.all.yml:24 naming/network",
      "docker-compose.all.yml:27 image/unpinned",
      "docker-compose.all.yml:32 healthcheck/missing",
      "docker-compose.all.yml:39 ports/published",
      "docker-compose.all.yml:48 naming/network",
      "docker-compose.all.yml:51 naming/volume",
      "infra/nginx/conf.d/default.conf:9 gateway/rate-limit",
      "migrations/001_create_messenger_schema.sql:0 migrations/edited",
      "migrations/002_create_city_tables.sql:0 migrations/duplicate",
      "migrations/004_add_index.sql:0 migrations/gap",
      "migrations/5_fix.sql:0 migrations/name",
      "schema_migrations.txt:3 migrations/edited",
    ]);
    // Every rule is exercised by the fixture; every finding says how to fix it.
    expect(new Set(report.findings.map((f) => f.rule))).toEqual(new Set(Object.keys(RULES)));
    for (const f of report.findings) expect(f.fix.length).toBeGreaterThan(10);
  });

  it("prints a report a person reads: location, rule, message, then the fix", () => {
    const r = run([BAD]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(
      [
        "docker-compose.all.yml:10: ports/published: service postgres publishes port 5432:5432",
        "  fix: remove ports: from postgres; services talk over daarion_net, and the outside reaches them through the gateway (/api/<service>/)",
      ].join("\n"),
    );
    expect(r.out).toContain("docker-compose.all.yml:27: image/unpinned: service city-service: image ghcr.io/ivantytar/microdao-daarion/city-service:latest is tagged :latest");
    expect(r.out).toContain("migrations/002_create_city_tables.sql: migrations/duplicate: has the same number as 002_create_agents_tables.sql");
    expect(r.out.trimEnd().split("\n").at(-1)).toBe(`check-node: ${BAD}: 23 violations of 13 rules`);
  });

  it("never prints a secret it flags as hard-coded", () => {
    const r = run([BAD]);
    expect(r.out).not.toContain("hunter2-but-longer");
    expect(r.out).not.toContain("s3cr3t-Xy");
    expect(r.out).not.toContain("wQ7-generated-9fKz");
  });

  it("judges one thing at a time: a single fault in an otherwise clean node is the only finding", () => {
    const compose = (svc: string) => `services:\n${svc}networks:\n  daarion_net:\n    name: daarion_net\n`;
    const ok = `  redis:\n    image: redis:7.4.1\n    container_name: daarion-redis\n    networks: [daarion_net]\n    healthcheck:\n      test: ["CMD", "redis-cli", "ping"]\n`;
    expect(checkNode({ compose: { name: "c.yml", text: compose(ok) }, gateway: {} })).toEqual([]);
    const cases: [string, string][] = [
      [ok.replace("redis:7.4.1", "redis:latest"), "image/unpinned"],
      [ok.replace("redis:7.4.1", "redis@sha256:" + "a".repeat(64)), ""],
      [ok.replace("daarion-redis", "redis"), "naming/container"],
      [ok + "    ports: [\"127.0.0.1:6379:6379\"]\n", "ports/published"],
      [ok + "    network_mode: host\n", "ports/published"],
      [ok + "    volumes: [\"cache:/data\"]\n", "naming/volume"],
      [ok + "    volumes: [\"redis_data:/data\", \"./conf:/etc/redis:ro\"]\n", ""],
      [ok + "    environment:\n      - REDIS_PASSWORD=redis\n", "credentials/default"],
      [ok + "    environment:\n      REDIS_PASSWORD: ${REDIS_PASSWORD}\n", ""],
      [ok.replace(/ {4}healthcheck:\n.*\n$/, ""), "healthcheck/missing"],
      // Probed from the host (an image without curl): declared by the label, list or map form.
      [ok.replace(/ {4}healthcheck:\n.*\n$/, "    labels: [\"com.daarion.health=host:/health\"]\n"), ""],
      [ok.replace(/ {4}healthcheck:\n.*\n$/, "    labels:\n      com.daarion.health: host:/\n"), ""],
      [ok.replace(/ {4}healthcheck:\n.*\n$/, "    labels: [\"com.daarion.health=inside\"]\n"), "healthcheck/missing"],
    ];
    for (const [svc, rule] of cases) {
      const found = checkNode({ compose: { name: "c.yml", text: compose(svc) }, gateway: {} }).map((f) => f.rule);
      expect({ svc, found }).toEqual({ svc, found: rule ? [rule] : [] });
    }
  });

  it("refuses what it cannot judge, with exit 2", () => {
    expect(run([])).toMatchObject({ code: 2, err: expect.stringContaining("check-node: missing <dir>") as string });
    expect(run([path.join(work, "nope")])).toMatchObject({ code: 2, err: expect.stringContaining("is not a directory") as string });
    const empty = path.join(work, "empty");
    fs.mkdirSync(empty);
    expect(run([empty])).toMatchObject({ code: 2, err: expect.stringContaining("has no compose file") as string });
    const broken = path.join(work, "broken");
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, "docker-compose.all.yml"), "services:\n  a: [\n");
    expect(run([broken])).toMatchObject({ code: 2, err: expect.stringMatching(/^check-node: docker-compose\.all\.yml:\d+: is not valid YAML/) as string });
    expect(run([BAD, "--yaml"])).toMatchObject({ code: 2, err: expect.stringContaining("unknown option --yaml") as string });
  });
});

describe("check-node on the daarion stack's own rendered nodes", () => {
  let nodes: string[] = [];
  beforeAll(async () => {
    const out = path.join(work, "render");
    await renderStack("daarion", out);
    nodes = fs
      .readdirSync(out)
      .filter((h) => fs.existsSync(path.join(out, h, "opt/microdao-daarion/docker-compose.all.yml")))
      .sort()
      .map((h) => path.join(out, h, "opt/microdao-daarion"));
  });

  it("renders the nodes of Pulumi.daarion.yaml", () => {
    expect(nodes.map((n) => path.basename(path.dirname(path.dirname(n))))).toEqual(["noda1", "noda2"]);
  });

  it("every node passes clean, with migrations that follow the standard and match what was applied", () => {
    for (const node of nodes) {
      // The repository checkout supplies migrations/; give the node a clean set and its record.
      const dir = path.join(node, "migrations");
      fs.mkdirSync(dir, { recursive: true });
      const body = (n: string) => `-- Migration: ${n}\n-- Description: x\n-- Date: 2025-11-20\n-- Author: DAARION Team\n-- Rollback: See ${n}_rollback.sql\nBEGIN;\nSELECT 1;\nCOMMIT;\n`;
      fs.writeFileSync(path.join(dir, "001_create_messenger_schema.sql"), body("001"));
      fs.writeFileSync(path.join(dir, "002_create_agents_tables.sql"), body("002"));
      fs.writeFileSync(path.join(dir, "001_rollback.sql"), "DROP SCHEMA messenger;\n");
      const r = run([node, "--json"]);
      expect(JSON.parse(r.out)).toMatchObject({ ok: true, findings: [] });
      expect(r.code).toBe(0);
    }
  });

  it("npm run check-node -- <dir> exits 0 on a rendered node and 1 on the fixture", async () => {
    const clean = await runProcess("npm", ["run", "-s", "check-node", "--", nodes[0]!], { cwd: ROOT, timeoutMs: HANG_LIMIT_MS });
    expect({ code: clean.code, out: clean.stdout, err: clean.stderr }).toEqual({ code: 0, out: `check-node: ${nodes[0]!}: clean (13 rules)\n`, err: "" });
    const bad = await runProcess("npm", ["run", "-s", "check-node", "--", BAD], { cwd: ROOT, timeoutMs: HANG_LIMIT_MS });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain("23 violations of 13 rules");
  });
});
