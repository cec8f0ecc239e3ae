/**
 * Stack `ouranos`, the whole graph under mocks, against the seeds: one `it` per item of
 * daedalus-deployment.md §9 (titled as the item), Mnemosyne's requirements of
 * mnemosyne-deployment.md §2–§8, the secrets rules of the issue, and the config errors an
 * operator can hit. Expectations are cut from the seed files where the seeds give them
 * (checklist, unit file, alert table, §4 tables, §5 probes, §3.3 commands), so the stack
 * cannot drift from the documents silently.
 */
import { readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type MockRun, mockPassword, type RecordedResource, runProgram, unwrap } from "../../src/testing/mocks";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { ROLLBACK_NOTE, releaseActivateScript, releaseCreateScript, releaseLines } from "../../src/remote/releases";
import { daedalusMigrateScript, daedalusReleaseChecks } from "../../stacks/ouranos/daedalus";
import { type Ouranos } from "../../stacks/ouranos";
import { DIGEST, OURANOS_SECRETS, ouranosConfig, registryCalls } from "./ouranos-config";
import { expectValid, runTool, tempTree } from "../helpers/validators";
import { buildCache, bundleParts, dotenv, COMMAND, command, dependsOn, hostOf, isSecretInput, managedFile, nameOf, plainLeaves, refused, rerunOf, reveal, revisionHash, script, scriptText, shellWords, stdinOf, str } from "../helpers/inputs";

// ── The seeds ────────────────────────────────────────────────────────────────

const SEEDS = path.resolve(__dirname, "../../docs/seeds");
const DAEDALUS_SEED = readFileSync(path.join(SEEDS, "daedalus-deployment.md"), "utf8");
const MNEMOSYNE_SEED = readFileSync(path.join(SEEDS, "mnemosyne-deployment.md"), "utf8");

/** The text of the `## <n>.` section of a seed, up to the next `## ` heading. */
function seedSection(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}`);
  if (start < 0) throw new Error(`seed has no section "${heading}"`);
  const end = doc.indexOf("\n## ", start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** Cells of a markdown table row. */
function cells(row: string): string[] {
  return row.split("|").slice(1, -1).map((c) => c.trim());
}

/** daedalus-deployment.md §9, each item as written, minus the markdown backticks. */
function daedalusChecklist(): string[] {
  return seedSection(DAEDALUS_SEED, "## 9.")
    .split("\n")
    .filter((l) => l.startsWith("- [ ] "))
    .map((l) => l.slice("- [ ] ".length).replace(/`/g, "").trim());
}

/** daedalus-deployment.md §5: the unit file, byte for byte. */
function seedUnit(): string {
  const m = /\*\*Systemd service\*\* \(`\/etc\/systemd\/system\/daedalus-api\.service`\):\n```ini\n([\s\S]*?)```/.exec(DAEDALUS_SEED);
  if (!m) throw new Error("daedalus-deployment.md §5 no longer holds the daedalus-api.service block");
  return m[1]!;
}

interface SeedAlert {
  readonly name: string;
  readonly expr: string | undefined;
  readonly for: string | undefined;
  readonly severity: string;
}

/** daedalus-deployment.md §3 AlertManager rules table. */
function seedAlerts(): SeedAlert[] {
  return seedSection(DAEDALUS_SEED, "## 3.")
    .split("\n")
    .filter((l) => /^\| `Daedalus\w+` \|/.test(l))
    .map((l) => {
      const [name, condition, severity] = cells(l);
      return {
        name: name!.replace(/`/g, ""),
        expr: /^`([^`]+)`/.exec(condition!)?.[1],
        for: /\bfor (\d+[smh])\b/.exec(condition!)?.[1],
        severity: severity!,
      };
    });
}

/** Every `DAEDALUS_*=` setting the Daedalus seed names (backend `.env` and the unit's Environment=). */
function seedDaedalusVariables(): string[] {
  return [...new Set(DAEDALUS_SEED.match(/\bDAEDALUS_[A-Z0-9_]+(?==)/g) ?? [])].sort();
}

type Service = "app" | "mcp" | "worker";
const SERVICES: readonly Service[] = ["app", "mcp", "worker"];

interface SeedVariable {
  readonly name: string;
  readonly services: readonly Service[];
  /** "app, mcp" — for test titles. */
  readonly label: string;
  readonly section: string;
  /** The example/default column when it is a literal value (no vault template). */
  readonly example: string | undefined;
}

/**
 * mnemosyne-deployment.md §4: every variable of every table, with the services named in
 * the table's heading. A heading group with a variable-name tag, as in
 * "`app` (CSRF), `app` + `mcp` (ALLOWED_HOSTS)", scopes its services to that variable;
 * other tags ("(producer)") are remarks.
 */
function seedMnemosyneVariables(): SeedVariable[] {
  const out: SeedVariable[] = [];
  let heading = "";
  let groups: { services: Service[]; only: string | undefined }[] = [];
  for (const line of seedSection(MNEMOSYNE_SEED, "## 4.").split("\n")) {
    if (line.startsWith("### ")) {
      heading = line.slice(4).trim();
      const scope = heading.split(" — ")[1] ?? "";
      groups = scope.split(",").map((g) => {
        const tag = /\(([^)]+)\)/.exec(g)?.[1];
        return {
          services: [...g.matchAll(/`(app|mcp|worker)`/g)].map((m) => m[1] as Service),
          only: tag && /^[A-Z_]+$/.test(tag) ? tag : undefined,
        };
      });
      continue;
    }
    const m = /^\| `([A-Z][A-Z0-9_]*)` \|/.exec(line);
    if (!m) continue;
    const name = m[1]!;
    const services = SERVICES.filter((s) => groups.some((g) => g.services.includes(s) && (g.only === undefined || name.startsWith(g.only))));
    const example = cells(line)[1] ?? "";
    const literal = /^`([^`]*)`/.exec(example)?.[1];
    out.push({ name, services, label: services.join(", "), section: heading, example: literal !== undefined && !literal.includes("{{") ? literal : undefined });
  }
  return out;
}

/** mnemosyne-deployment.md §5 per-service healthcheck table. */
function seedHealthchecks(): { service: string; command: string }[] {
  return seedSection(MNEMOSYNE_SEED, "## 5.")
    .split("\n")
    .filter((l) => /^\| `(app|mcp|web|worker)` \|/.test(l))
    .map((l) => {
      const [service, command] = cells(l);
      return { service: service!.replace(/`/g, ""), command: command!.replace(/^`|`$/g, "") };
    });
}

/** mnemosyne-deployment.md §5 external checks: the paths curled on puck.incus:23181. */
function seedExternalProbes(): string[] {
  return [...seedSection(MNEMOSYNE_SEED, "## 5.").matchAll(/^curl .*http:\/\/puck\.incus:23181(\S*)/gm)].map((m) => m[1]!);
}

/** mnemosyne-deployment.md §3.3: the four commands, as argv after `docker compose -f <file>`. */
function seedOneTimeCommands(): { file: string; argv: string[] }[] {
  const block = /### 3\.3[\s\S]*?```bash\n([\s\S]*?)```/.exec(MNEMOSYNE_SEED)?.[1];
  if (!block) throw new Error("mnemosyne-deployment.md §3.3 no longer holds the bash block");
  return block
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.startsWith("docker compose -f "))
    .map((l) => {
      const w = shellWords(l);
      return { file: w[3]!, argv: w.slice(4) };
    });
}

// ── Reading what the program registered ──────────────────────────────────────

const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
const RANDOM_BYTES = "random:index/randomBytes:RandomBytes";













/** A RemoteTask: where it runs, as whom, and its own script. */
function remoteTask(r: RecordedResource): { cwd: string; user: string; inner: string } {
  const s = script(r);
  const cd = /^cd (.+)$/m.exec(s)?.[1];
  const at = s.indexOf("runuser ");
  if (!cd || at < 0) throw new Error(`${r.name} is not a RemoteTask script`);
  const w = shellWords(s.slice(at));
  expect(w.slice(0, 2)).toEqual(["runuser", "-u"]);
  expect(w.slice(3, 6)).toEqual(["--", "/bin/sh", "-c"]);
  return { cwd: shellWords(cd)[0]!, user: w[2]!, inner: w[6]! };
}

/** A compose task: the `docker compose` argv, split into global options and the subcommand. */
function composeTask(r: RecordedResource): { options: string[]; argv: string[] } {
  const line = script(r)
    .split("\n")
    .find((l) => l.startsWith("docker compose "));
  if (!line) throw new Error(`${r.name} runs no docker compose command`);
  const w = shellWords(line);
  const run = w.indexOf("run");
  return { options: w.slice(2, run), argv: w.slice(run).filter((x) => x !== "</dev/null") };
}

/** The URL, --resolve and accepted statuses of a HealthCheck. */
function healthCheck(r: RecordedResource): { url: string; resolve: string | undefined; statuses: string; bodyPattern: string | undefined; script: string } {
  const s = script(r);
  const curl = s.split("\n").find((l) => l.includes("curl -sS"));
  if (!curl) throw new Error(`${r.name} is not a HealthCheck`);
  const w = shellWords(curl);
  const url = w.find((x) => /^https?:\/\//.test(x));
  const resolveAt = w.indexOf("--resolve");
  const statuses = /^\s*([0-9|]+)\)$/m.exec(s)?.[1];
  if (!url || !statuses) throw new Error(`${r.name}: no URL or statuses in its script`);
  return {
    url,
    resolve: resolveAt >= 0 ? w[resolveAt + 1] : undefined,
    statuses,
    bodyPattern: /grep -Eq -- '([^']*)' "\$body"/.exec(s)?.[1],
    script: s,
  };
}

/** Directive lines of an nginx block `header { … }` (first level only). */
function nginxBlock(conf: string, header: string): string[] {
  const lines = conf.split("\n").map((l) => l.trim());
  const start = lines.indexOf(`${header} {`);
  if (start < 0) throw new Error(`no "${header} {" block`);
  const body: string[] = [];
  let depth = 0;
  for (let i = start; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith("{")) depth++;
    if (l === "}") {
      depth--;
      if (depth === 0) break;
    }
    if (i > start && depth === 1 && l !== "" && !l.startsWith("#")) body.push(l);
  }
  return body;
}

interface ComposeService {
  image?: string;
  command?: string[];
  restart?: string;
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  labels?: string[];
  volumes?: string[];
  ports?: string[];
}

function composeFile(r: RecordedResource): Record<string, ComposeService> {
  const doc = parseYaml(stdinOf(r), { merge: true }) as { services: Record<string, ComposeService> };
  return doc.services;
}

function b64(s: string): string {
  return Buffer.from(s).toString("base64");
}

/** The forms in which a secret could leak into a command: as is, base64 (stdin lines), percent-encoded (URLs). */
function forms(secret: string): string[] {
  return [...new Set([secret, b64(secret), encodeURIComponent(secret)])];
}

// ── Building the program ─────────────────────────────────────────────────────

interface Built {
  readonly run: MockRun;
  /** The stack component (what `ouranos()` builds), for its raw outputs. */
  readonly stack: Ouranos;
  /** Images whose digest the program looked up in the registry. */
  readonly lookedUp: string[];
}

interface BuildOptions {
  readonly randomValue?: (name: string, type: string) => string;
}

const REPO = { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" };
/** Daedalus's release layout with the default keepReleases. */
const RELEASES = { root: "/srv/daedalus", repository: "/srv/daedalus/repo", keep: 3, envFile: "/srv/daedalus/.env", parts: ["backend", "frontend", "venv"], legacy: true };

/** `ouranos()` under mocks; the class is built directly so tests can read its raw (secret) outputs. */
async function build(ouranosSettings: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}, options: BuildOptions = {}): Promise<Built> {
  const { Ouranos } = await import("../../stacks/ouranos");
  const { config, secretKeys } = ouranosConfig({ "fleet:ouranos": { daedalus: { repo: REPO }, ...ouranosSettings }, ...overrides });
  const lookedUp: string[] = [];
  const lookup = registryCalls["docker:index/getRegistryImage:getRegistryImage"];
  let stack: Ouranos | undefined;
  const run = await runProgram(
    () => {
      stack = new Ouranos("ouranos");
      return stack.outputs;
    },
    {
      stack: "ouranos",
      config,
      secretKeys,
      calls: {
        "docker:index/getRegistryImage:getRegistryImage": (args) => {
          lookedUp.push(typeof args.name === "string" ? args.name : JSON.stringify(args.name));
          return lookup(args);
        },
      },
      ...(options.randomValue ? { randomValue: options.randomValue } : {}),
    },
  );
  if (!stack) throw new Error("the program registered no Ouranos stack");
  return { run, stack, lookedUp };
}

/** Each distinct program is built once per file and shared. */
const shared = buildCache<Built>();

/** Passwords with every character the seed says must be percent-encoded, and a space. */
const NEO4J_PW = "n3o@:/#%+?&= 4j";
const RABBITMQ_PW = "r@b:/#%+?&= mq";
const DAEDALUS_DB_PW = "d@:/#%+?&= b";
/** A valid Fernet key (URL-safe base64 of 32 bytes). */
const CONFIG_FERNET = Buffer.alloc(32, 0xfb).toString("base64url") + "=";
const CONFIGURED = {
  "fleet:neo4jPassword": NEO4J_PW,
  "fleet:rabbitmqPassword": RABBITMQ_PW,
  "fleet:daedalusDbPassword": DAEDALUS_DB_PW,
  "fleet:mnemosyneDbPassword": "Configured-Mnemosyne-Db-1",
  "fleet:mnemosyneSecretKey": "configured-django-secret-key-0123456789",
  "fleet:mnemosyneLlmEncryptionKey": CONFIG_FERNET,
  "fleet:mnemosyneServicePassword": "Configured-Service-Pw-7",
};
const PINNED = `sha256:${"a".repeat(64)}`;
/** 32 bytes whose standard base64 holds both `+` and `/`. */
const RAW_KEY = Buffer.from([0xfb, 0xef, 0xbe, 0xff, 0xff, 0xff, ...Array.from({ length: 26 }, (_, i) => (i * 47 + 3) % 256)]);

const defaults = () => shared("defaults", () => build());
const sameAgain = () => shared("same again", () => build());
const nextRef = () => shared("next ref", () => build({ daedalus: { repo: { ...REPO, ref: "v1.5.0" } } }));
const configured = () => shared("configured secrets", () => build({}, CONFIGURED));
const rolledBack = () => shared("rolled back", () => build({ mnemosyne: { digest: PINNED } }));
const slashyKey = () =>
  shared("slashy key", () => build({}, {}, { randomValue: (name, type) => (type === RANDOM_BYTES ? RAW_KEY.toString("base64") : mockPassword(name)) }));

let A: Built;
beforeAll(async () => {
  A = await defaults();
});

function envOf(b: Built, name: string): Record<string, string> {
  return dotenv(stdinOf(command(b.run, name)));
}

// ── daedalus-deployment.md ───────────────────────────────────────────────────

describe("daedalus-deployment.md §9 Deployment Checklist", () => {
  it("Create daedalus database and user on Portia", () => {
    const roles = A.run.byType("postgresql:index/role:Role").filter((r) => r.inputs.name === "daedalus");
    const dbs = A.run.byType("postgresql:index/database:Database").filter((r) => r.inputs.name === "daedalus");
    expect(roles).toHaveLength(1);
    expect(dbs).toHaveLength(1);
    const [role, db] = [roles[0]!, dbs[0]!];
    expect(role.inputs).toMatchObject({ name: "daedalus", login: true });
    expect(isSecretInput(role.inputs.password)).toBe(true);
    expect(db.inputs).toEqual({ name: "daedalus", owner: "daedalus" });
    expect(db.opts.protect).toBe(true);
    expect(dependsOn(db)).toContain(role.name);
    // Both through the explicit provider of Portia.
    expect(nameOf(role.opts.provider)).toBe("postgres-portia");
    expect(nameOf(db.opts.provider)).toBe("postgres-portia");
    expect(A.run.get("postgres-portia").inputs).toMatchObject({ host: "portia.incus", port: "5432" });
  });

  it("Create daedalus S3 bucket in MinIO (Terraform)", () => {
    const buckets = A.run.byType("minio:index/s3Bucket:S3Bucket").filter((r) => r.inputs.bucket === "daedalus");
    expect(buckets).toHaveLength(1);
    const bucket = buckets[0]!;
    expect(bucket.inputs).toEqual({ bucket: "daedalus", acl: "private", forceDestroy: false });
    expect(bucket.opts.protect).toBe(true);
    expect(nameOf(bucket.opts.provider)).toBe("minio-nyx");
    expect(A.run.get("minio-nyx").inputs).toMatchObject({ minioServer: "nyx.helu.ca:8555" });
  });

  it("Store DB password and S3 credentials in Ansible Vault", async () => {
    // Generated (the vault), never typed in: the DB password is protected (a new one would lock the app out).
    const dbPassword = A.run.get("daedalus-db-password");
    expect(dbPassword.type).toBe(RANDOM_PASSWORD);
    expect(dbPassword.parentName).toBe("daedalus-db");
    expect(dbPassword.opts.protect).toBe(true);
    const s3Secret = A.run.get("daedalus-bucket-rw-secret");
    expect(s3Secret.type).toBe(RANDOM_PASSWORD);
    const [pw, s3] = [mockPassword("daedalus-db-password"), mockPassword("daedalus-bucket-rw-secret")];
    // Where providers hold them, they are secret.
    expect(reveal(A.run.get("daedalus-db-role").inputs.password)).toBe(pw);
    expect(isSecretInput(A.run.get("daedalus-db-role").inputs.password)).toBe(true);
    const writer = A.run.byType("minio:index/iamUser:IamUser").find((r) => r.inputs.name === "daedalus")!;
    expect(reveal(writer.inputs.secret)).toBe(s3);
    expect(isSecretInput(writer.inputs.secret)).toBe(true);
    // They reach a host only on the stdin of the 0600 .env file, marked secret.
    for (const secret of [pw, s3]) {
      const carriers = A.run.byType(COMMAND).filter((r) => forms(secret).some((f) => JSON.stringify(reveal(r.inputs)).includes(f)));
      expect(carriers.map((r) => r.name)).toEqual(["daedalus-env"]);
      const env = carriers[0]!;
      expect(Object.keys(env.inputs).filter((k) => k !== "connection" && forms(secret).some((f) => JSON.stringify(reveal(env.inputs[k])).includes(f)))).toEqual(["stdin"]);
      expect(isSecretInput(env.inputs.stdin)).toBe(true);
      expect(managedFile(env)).toEqual({ target: "/srv/daedalus/.env", owner: "daedalus:daedalus", mode: "0600" });
      expect(env.inputs.logging).toBe("none");
      expect(env.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    }
    // The stack output carrying the DB URL is secret.
    expect(await pulumi.isSecret(A.stack.outputs.daedalusDatabaseUrl as pulumi.Output<string>)).toBe(true);
  });

  it("Add Prometheus scrape target on Prospero", () => {
    const scrape = command(A.run, "daedalus-scrape-scrape");
    expect(hostOf(scrape)).toBe("prospero.incus");
    expect(managedFile(scrape).target).toBe("/etc/prometheus/scrape.d/daedalus.yml");
    // The seed's job: daedalus, 15s, /metrics, puck.incus:22181.
    const jobs = parseYaml(stdinOf(scrape)) as Record<string, unknown>[];
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ job_name: "daedalus", scrape_interval: "15s", metrics_path: "/metrics", static_configs: [{ targets: ["puck.incus:22181"] }] });
    // Assembled into prometheus.yml, checked by promtool, then reloaded.
    expect(script(scrape)).toContain("promtool check config '/etc/prometheus/prometheus.yml'");
    expect(script(scrape)).toContain("systemctl reload prometheus");
  });

  it("Add AlertManager rules on Prospero", () => {
    const rules = command(A.run, "daedalus-scrape-rules");
    expect(hostOf(rules)).toBe("prospero.incus");
    const file = managedFile(rules).target;
    expect(file).toBe("/etc/prometheus/rules.d/daedalus.yml");
    expect(script(rules)).toContain(`promtool check rules '${file}'`);
    const doc = parseYaml(stdinOf(rules)) as { groups: { rules: { alert: string; expr: string; for?: string; labels: { severity: string } }[] }[] };
    const deployed = doc.groups.flatMap((g) => g.rules);
    const expected = seedAlerts();
    expect(expected).toHaveLength(7);
    expect(deployed.map((r) => r.alert)).toEqual(expected.map((a) => a.name));
    for (const a of expected) {
      const rule = deployed.find((r) => r.alert === a.name)!;
      expect({ alert: rule.alert, for: rule.for, severity: rule.labels.severity }).toEqual({ alert: a.name, for: a.for, severity: a.severity });
      if (a.expr) expect(rule.expr).toBe(a.expr);
    }
    // Prometheus loads rules.d and sends alerts to Alertmanager.
    const base = parseYaml(stdinOf(command(A.run, "prospero-prometheus-base"))) as { rule_files: string[]; alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] } };
    expect(base.rule_files).toContain("/etc/prometheus/rules.d/*.yml");
    expect(base.alerting.alertmanagers[0]!.static_configs[0]!.targets.length).toBeGreaterThan(0);
  });

  it("Add Grafana dashboard on Prospero", () => {
    const dashboard = command(A.run, "daedalus-scrape-dashboard");
    expect(hostOf(dashboard)).toBe("prospero.incus");
    const file = managedFile(dashboard).target;
    expect(file).toBe("/var/lib/grafana/dashboards/daedalus.json");
    const json = JSON.parse(stdinOf(dashboard)) as { uid: string; title: string; panels: { targets?: { expr: string }[] }[] };
    expect(json.uid).toBe("daedalus");
    expect(json.title).toBe("Daedalus");
    const exprs = json.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).toBeGreaterThan(0);
    for (const e of exprs) expect(e).toMatch(/\bdaedalus_[a-z_]+/);
    // Provisioned: Grafana reads dashboards from the directory the file lands in.
    const provisioning = command(A.run, "prospero-prometheus-grafana");
    expect(hostOf(provisioning)).toBe("prospero.incus");
    expect(managedFile(provisioning).target).toBe("/etc/grafana/provisioning/dashboards/fleet.yaml");
    const prov = parseYaml(stdinOf(provisioning)) as { providers: { type: string; options: { path: string } }[] };
    expect(prov.providers).toEqual([expect.objectContaining({ type: "file", options: expect.objectContaining({ path: path.posix.dirname(file) }) })]);
  });

  it("Configure HAProxy backend + ACL on Titania", () => {
    // One command writes the backend fragment, then the host-map fragment (one SSH session).
    const route = command(A.run, "daedalus-route-files");
    expect(hostOf(route)).toBe("titania.incus");
    expect(route.files.map((f) => f.target.path)).toEqual(["/etc/haproxy/conf.d/daedalus.cfg", "/etc/haproxy/hosts.d/daedalus.route.map"]);
    const parts = bundleParts(stdinOf(route));
    const lines = parts
      .get("/etc/haproxy/conf.d/daedalus.cfg")!
      .split("\n")
      .map((l) => l.trim());
    expect(lines).toContain("backend daedalus");
    // `option httpchk GET /api/health` of the seed, in HAProxy 2.2+ syntax.
    expect(lines).toContain("option httpchk");
    expect(lines).toContain("http-check send meth GET uri /api/health");
    const server = lines.find((l) => l.startsWith("server "));
    expect(server).toMatch(/^server puck puck\.incus:22181\b/);
    const checked = server!.split(/\s+/).includes("check") || lines.some((l) => l.startsWith("default-server ") && l.split(/\s+/).includes("check"));
    expect(checked).toBe(true);
    // Validated as a whole (main config plus every fragment) before the reload.
    expect(script(route)).toMatch(/\bhaproxy -c\b[^;\n]*-f '\/etc\/haproxy\/haproxy\.cfg' -f '\/etc\/haproxy\/conf\.d'/);
    // The ACL: the domain maps to the backend; frontend https looks the (lower-cased) Host up in the map.
    expect(parts.get("/etc/haproxy/hosts.d/daedalus.route.map")!.split("\n")).toContain("daedalus.ouranos.helu.ca daedalus");
    expect(scriptText(String(route.inputs.create))).toContain("mv -f '/etc/haproxy/hosts.map.fleet-assemble' '/etc/haproxy/hosts.map'");
    const frontend = command(A.run, "titania-haproxy-config");
    expect(hostOf(frontend)).toBe("titania.incus");
    expect(haproxySection(stdinOf(frontend), "frontend https")).toContain(
      "use_backend %[req.hdr(host),lower,word(1,:),map(/etc/haproxy/hosts.map)] if { req.hdr(host),lower,word(1,:),map(/etc/haproxy/hosts.map) -m found }",
    );
  });

  it("Configure Casdoor application for daedalus.ouranos.helu.ca", () => {
    const sso = command(A.run, "daedalus-sso-apply");
    expect(hostOf(sso)).toBe("titania.incus");
    const s = script(sso);
    const app = JSON.parse(/--data-binary '(\{[^']*\})'/.exec(s)?.[1] ?? "null") as { name: string; homepageUrl: string; redirectUris: string[] } | null;
    expect(app).toMatchObject({ name: "daedalus", homepageUrl: "https://daedalus.ouranos.helu.ca/", redirectUris: ["https://daedalus.ouranos.helu.ca/callback"] });
    expect(s).toContain("/api/add-application");
    // Client id and secret come on stdin (base64, one per line), secret, never in the script.
    expect(isSecretInput(sso.inputs.stdin)).toBe(true);
    const lines = stdinOf(sso).trimEnd().split("\n").map((l) => Buffer.from(l, "base64").toString());
    expect(lines).toEqual([OURANOS_SECRETS["fleet:casdoorClientId"], OURANOS_SECRETS["fleet:casdoorClientSecret"]]);
    for (const secret of lines) for (const f of forms(secret)) expect(JSON.stringify(reveal([sso.inputs.create, sso.inputs.update, sso.inputs.triggers]))).not.toContain(f);
    expect(sso.inputs.logging).toBe("none");
    expect(sso.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
  });

  it("Create /srv/daedalus directory structure", () => {
    const dirs = command(A.run, "daedalus-dirs-install");
    expect(hostOf(dirs)).toBe("puck.incus");
    expect(shellWords(script(dirs).split("\n")[0]!)).toEqual(["install", "-d", "-o", "daedalus", "-g", "daedalus", "-m", "0755", "/srv/daedalus"]);
    // The source checkout at the pinned ref, into /srv/daedalus/repo (as daedalus, 0750):
    // the tree each release is exported from.
    const checkout = script(command(A.run, "daedalus-checkout-command"));
    const words = shellWords(checkout.slice(checkout.indexOf("runuser ")));
    expect(words.slice(0, 6)).toEqual(["runuser", "-u", "daedalus", "--", "/bin/sh", "-c"]);
    expect(words[6]).toContain(gitCheckoutScript({ url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2", directory: "/srv/daedalus/repo", directoryMode: "0750" }));
    expect(dependsOn(command(A.run, "daedalus-checkout-command"))).toContain("daedalus-dirs");
    // releases/<commit12> from the checkout, current beside it (src/remote/releases.ts).
    const release = remoteTask(command(A.run, "daedalus-release-command"));
    expect(release).toEqual({ cwd: "/srv/daedalus", user: "daedalus", inner: releaseCreateScript(RELEASES) });
    expect(dependsOn(command(A.run, "daedalus-release-command"))).toContain("daedalus-checkout");
    // venv/ and frontend/build/ inside the release.
    expect(remoteTask(command(A.run, "daedalus-backend-command")).inner).toContain(`${releaseLines(RELEASES).join("\n")}\ncd "$release"\n`);
    expect(remoteTask(command(A.run, "daedalus-frontend-command")).inner).toContain(`${releaseLines(RELEASES).join("\n")}\ncd "$release"\n`);
    // .env
    expect(managedFile(command(A.run, "daedalus-env")).target).toBe("/srv/daedalus/.env");
  });

  it("Create daedalus system user", () => {
    const user = command(A.run, "daedalus-user-useradd");
    expect(hostOf(user)).toBe("puck.incus");
    const useradd = script(user)
      .split("\n")
      .find((l) => l.startsWith("useradd "));
    expect(shellWords(useradd ?? "")).toEqual(["useradd", "--system", "--user-group", "--home-dir", "/srv/daedalus", "--no-create-home", "--shell", "/usr/sbin/nologin", "daedalus"]);
    expect(script(user)).toContain("if id -u 'daedalus' >/dev/null 2>&1; then");
    expect(dependsOn(command(A.run, "daedalus-dirs-install"))).toContain("daedalus-user");
  });

  it("Set up Python virtualenv and install backend dependencies", () => {
    const r = command(A.run, "daedalus-backend-command");
    expect(hostOf(r)).toBe("puck.incus");
    const t = remoteTask(r);
    expect(t.user).toBe("daedalus");
    expect(t.cwd).toBe("/srv/daedalus");
    // In the release being deployed (releases/<commit12>), beside the live one.
    const lines = t.inner.split("\n");
    expect(lines.slice(0, 7)).toEqual([
      "set -eu",
      ...releaseLines(RELEASES),
      'cd "$release"',
      // A release deployed again (a ref set back) is not rebuilt: never while it serves.
      'if [ -f .fleet-built-backend ]; then echo "fleet: the backend of release ${release##*/} is built already"; exit 0; fi',
      "[ -x venv/bin/python ] || python3 -m venv venv",
    ]);
    expect(lines.at(-1)).toBe("touch .fleet-built-backend");
    expect(lines.some((l) => l.includes("venv/bin/pip install --quiet ./backend"))).toBe(true);
    expect(dependsOn(r)).toContain("daedalus-release");
    // A new ref updates the command (its script's revision line); triggers would replace it.
    expect(rerunOf(r)).toEqual({ triggers: undefined, revision: revisionHash([`${REPO.url}#${REPO.ref}`]) });
    // The unit runs uvicorn from the venv of the release current points at.
    expect(seedUnit()).toContain("ExecStart=/srv/daedalus/venv/bin/uvicorn ");
    expect(stdinOf(command(A.run, "daedalus-api-unit"))).toContain("ExecStart=/srv/daedalus/current/venv/bin/uvicorn ");
  });

  it("Build SvelteKit frontend (npm run build)", () => {
    const r = command(A.run, "daedalus-frontend-command");
    expect(hostOf(r)).toBe("puck.incus");
    const t = remoteTask(r);
    expect(t).toMatchObject({ cwd: "/srv/daedalus", user: "daedalus" });
    expect(t.inner.split("\n")).toEqual([
      "set -eu",
      ...releaseLines(RELEASES),
      'cd "$release"',
      'if [ -f .fleet-built-frontend ]; then echo "fleet: the frontend of release ${release##*/} is built already"; exit 0; fi',
      "cd frontend",
      "npm ci --no-audit --no-fund",
      "npm run build",
      "test -f build/index.html",
      "touch ../.fleet-built-frontend",
    ]);
    expect(dependsOn(r)).toContain("daedalus-release");
    expect(rerunOf(r)).toEqual({ triggers: undefined, revision: revisionHash([`${REPO.url}#${REPO.ref}`]) });
    // Built before the unit is installed and the release goes live (current switches the API and the SPA together).
    expect(dependsOn(command(A.run, "daedalus-api-unit"))).toContain("daedalus-frontend");
    // nginx serves what it built through current, and is installed after it.
    expect(dependsOn(command(A.run, "daedalus-site-config"))).toContain("daedalus-frontend");
  });

  it("Deploy .env from Ansible Vault", () => {
    const r = command(A.run, "daedalus-env");
    expect(hostOf(r)).toBe("puck.incus");
    expect(managedFile(r)).toEqual({ target: "/srv/daedalus/.env", owner: "daedalus:daedalus", mode: "0600" });
    expect(isSecretInput(r.inputs.stdin)).toBe(true);
    expect(r.inputs.logging).toBe("none");
    const env = dotenv(stdinOf(r));
    expect(Object.keys(env).sort()).toEqual(seedDaedalusVariables());
    expect(env).toEqual({
      DAEDALUS_ENV: "production",
      DAEDALUS_DATABASE_URL: `postgresql+asyncpg://daedalus:${mockPassword("daedalus-db-password")}@portia.incus:5432/daedalus`,
      DAEDALUS_S3_ENDPOINT: "https://nyx.helu.ca:8555",
      DAEDALUS_S3_ACCESS_KEY: "daedalus",
      DAEDALUS_S3_SECRET_KEY: mockPassword("daedalus-bucket-rw-secret"),
      DAEDALUS_S3_BUCKET: "daedalus",
    });
  });

  it("Install Nginx site config", () => {
    const r = command(A.run, "daedalus-site-config");
    expect(hostOf(r)).toBe("puck.incus");
    expect(managedFile(r)).toMatchObject({ target: "/etc/nginx/conf.d/daedalus.conf", mode: "0644" });
    expect(script(r)).toMatch(/\bnginx -t\b/);
    expect(script(r)).toContain("systemctl reload nginx");
    const conf = stdinOf(r);
    const server = nginxBlock(conf, "server");
    expect(server).toContain("listen 22181;");
    expect(server).toContain("root /srv/daedalus/current/frontend/build;");
    expect(nginxBlock(conf, "location /api/")).toContain("proxy_pass http://127.0.0.1:8000;");
    const metrics = nginxBlock(conf, "location /metrics");
    expect(metrics).toContain("proxy_pass http://127.0.0.1:8000;");
    const access = metrics.filter((l) => /^(allow|deny) /.test(l));
    expect(access).toEqual(["allow 10.10.0.0/24;", "allow 172.16.0.0/12;", "allow 127.0.0.0/8;", "deny all;"]);
  });

  it("Install and enable systemd service", () => {
    const unit = command(A.run, "daedalus-api-unit");
    expect(hostOf(unit)).toBe("puck.incus");
    expect(managedFile(unit)).toMatchObject({ target: "/etc/systemd/system/daedalus-api.service", owner: "root:root", mode: "0644" });
    // The seed's unit, plus the one line that hands the process the `.env` the stack writes
    // (the seed's unit runs in backend/ and reads no file: issue 13 item 10), its code,
    // venv and .env reached through current (the release live: a commit and its env, issue
    // 13 item 2).
    expect(stdinOf(unit)).toBe(
      seedUnit()
        .replace("Environment=DAEDALUS_ENV=production\n", "Environment=DAEDALUS_ENV=production\nEnvironmentFile=/srv/daedalus/current/.env\n")
        .replace("WorkingDirectory=/srv/daedalus/backend\n", "WorkingDirectory=/srv/daedalus/current/backend\n")
        .replace("ExecStart=/srv/daedalus/venv/bin/uvicorn ", "ExecStart=/srv/daedalus/current/venv/bin/uvicorn "),
    );
    expect(stdinOf(unit)).not.toBe(seedUnit());
    expect(script(unit)).toContain("systemd-analyze verify");
    expect(script(unit)).toContain("systemctl daemon-reload");
    const enable = command(A.run, "daedalus-api-enable");
    expect(hostOf(enable)).toBe("puck.incus");
    expect(script(enable).split("\n").map((l) => shellWords(l))).toContainEqual(["systemctl", "enable", "--now", "--", "daedalus-api.service"]);
    // Never restarted on its own (a new commit, .env or unit file): daedalus-activate
    // restarts it once, on the release it checks (issue 13 item 2).
    expect(A.run.names()).not.toContain("daedalus-api-restart");
    expect(dependsOn(enable)).toContain("daedalus-api-unit");
  });

  it("Run Alembic migrations (alembic upgrade head)", async () => {
    const r = command(A.run, "daedalus-migrate-command");
    expect(hostOf(r)).toBe("puck.incus");
    const t = remoteTask(r);
    expect(t).toMatchObject({ cwd: "/srv/daedalus", user: "daedalus" });
    // From the new release's build (backend/, its venv), the .env the stack wrote loaded (the new release's env).
    const lines = t.inner.split("\n");
    expect(lines.slice(0, 7)).toEqual(["set -eu", ...releaseLines(RELEASES), 'cd "$release/backend"', "set -a; . '/srv/daedalus/.env'; set +a", 'alembic="$release/venv/bin/alembic"']);
    expect(lines).toContain('"$alembic" upgrade head');
    expect(dependsOn(r)).toEqual(expect.arrayContaining(["daedalus-backend", "daedalus-env"]));
    // The unit is installed (and the release activated) only after migrations.
    expect(dependsOn(command(A.run, "daedalus-api-unit"))).toContain("daedalus-migrate");
    // Same program: same inputs (nothing runs); another ref: migrations run again, as an
    // update of the command (its script's revision line), never a replacement (triggers).
    const same = command((await sameAgain()).run, "daedalus-migrate-command");
    expect(reveal(same.inputs)).toEqual(reveal(r.inputs));
    const next = command((await nextRef()).run, "daedalus-migrate-command");
    expect(rerunOf(next).revision).toMatch(/^[0-9a-f]{64}$/);
    expect(rerunOf(next).revision).not.toBe(rerunOf(r).revision);
    expect(rerunOf(next).triggers).toBeUndefined();
  });

  it('Verify /api/health returns {"status": "ok"}', () => {
    const r = command(A.run, "daedalus-health-check");
    expect(hostOf(r)).toBe("puck.incus");
    const h = healthCheck(r);
    expect(h.url).toBe("http://127.0.0.1:22181/api/health");
    expect(h.statuses).toBe("200");
    const body = new RegExp(h.bodyPattern ?? "(?!)");
    expect(body.test('{"status": "ok"}')).toBe(true);
    expect(body.test('{"status":"ok"}')).toBe(true);
    expect(body.test('{"status": "error"}')).toBe(false);
    expect(dependsOn(r)).toEqual(expect.arrayContaining(["daedalus-api", "daedalus-site"]));
  });

  it("Verify /metrics is reachable from Prospero", () => {
    const r = command(A.run, "daedalus-metrics-from-prospero-check");
    expect(hostOf(r)).toBe("prospero.incus");
    const h = healthCheck(r);
    expect(h.url).toBe("http://puck.incus:22181/metrics");
    expect(h.statuses).toBe("200");
    expect(new RegExp(h.bodyPattern ?? "(?!)", "m").test("# HELP daedalus_up 1 when healthy\ndaedalus_up 1\n")).toBe(true);
    expect(dependsOn(r)).toContain("daedalus-health");
  });

  it("Verify daedalus.ouranos.helu.ca loads the SPA through HAProxy", () => {
    const r = command(A.run, "daedalus-spa-via-haproxy-check");
    expect(hostOf(r)).toBe("titania.incus");
    const h = healthCheck(r);
    expect(h.url).toBe("https://daedalus.ouranos.helu.ca/");
    expect(h.resolve).toBe("daedalus.ouranos.helu.ca:443:127.0.0.1");
    // 200, or Casdoor's redirect to its login page (DESIGN.md).
    expect(h.statuses.split("|")).toEqual(expect.arrayContaining(["200", "302"]));
    expect(dependsOn(r)).toEqual(expect.arrayContaining(["daedalus-route", "daedalus-health", "daedalus-sso"]));
  });

  it("has one test per checklist item, titled as the item", ({ task }) => {
    const titles = (task.suite?.tasks ?? []).map((t) => t.name).filter((n) => n !== task.name);
    expect(titles).toEqual(daedalusChecklist());
  });
});

describe("daedalus-deployment.md §1 HAProxy — Titania", () => {
  it("TLS certificate covering daedalus.ouranos.helu.ca (wildcard or SAN)", () => {
    const r = command(A.run, "ouranos-certificates-check");
    expect(hostOf(r)).toBe("titania.incus");
    const s = script(r);
    expect(s).toContain("openssl s_client -connect '127.0.0.1:443' -servername 'daedalus.ouranos.helu.ca'");
    expect(s).toContain("openssl x509 -noout -checkhost 'daedalus.ouranos.helu.ca'");
    expect(s.trimEnd().endsWith('exit "$fail"')).toBe(true);
    // HAProxy serves TLS on that address from the certificate directory.
    expect(haproxySection(stdinOf(command(A.run, "titania-haproxy-config")), "frontend https")).toContain("bind :443 ssl crt /etc/haproxy/certs alpn h2,http/1.1");
    expect(dependsOn(r)).toEqual(expect.arrayContaining(["daedalus-route", "mnemosyne-route"]));
  });
});

/** Lines of an indented HAProxy section (`frontend https` … until the next unindented line). */
function haproxySection(cfg: string, header: string): string[] {
  const lines = cfg.split("\n");
  const start = lines.indexOf(header);
  if (start < 0) throw new Error(`no "${header}" section`);
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l !== "" && !/^\s/.test(l)) break;
    if (l.trim()) out.push(l.trim());
  }
  return out;
}

describe("DESIGN.md seed decisions", () => {
  it.each([
    ["daedalus", "daedalus-route-files", "daedalus-site-config"],
    ["mnemosyne", "mnemosyne-route-files", "mnemosyne-file-nginx-mnemosyne.conf"],
  ])("/metrics of %s is reachable only from 10.10.0.0/24, 172.16.0.0/12 and 127.0.0.0/8, not from the Internet through HAProxy", (_, backend, site) => {
    // nginx's allow list sees HAProxy's own (internal) address for every public request
    // HAProxy forwards, so the list alone lets the Internet read /metrics. Either HAProxy
    // refuses /metrics on the public route, or nginx takes the client address from
    // HAProxy's X-Forwarded-For (real_ip) before applying the list.
    const haproxy = [...bundleParts(stdinOf(command(A.run, backend))).values()][0]!
      .split("\n")
      .map((l) => l.trim());
    const refusedByHaproxy = haproxy.some((l) => /^http-request (deny|return|silent-drop)\b.*\/metrics/.test(l));
    const nginx = stdinOf(command(A.run, site));
    const realIp = /^\s*set_real_ip_from \S+;/m.test(nginx) && /^\s*real_ip_header X-Forwarded-For;/m.test(nginx);
    expect({ refusedByHaproxy, realIp }).not.toEqual({ refusedByHaproxy: false, realIp: false });
  });
});

describe("Daedalus releases (issue 13 item 2): built beside the live one, switched only when healthy", () => {
  it("activate swaps current, restarts the unit and checks the release, as root on puck, after the unit is installed", () => {
    const r = command(A.run, "daedalus-activate-command");
    expect(hostOf(r)).toBe("puck.incus");
    const body = script(r);
    // Root: systemctl restarts the unit; no runuser.
    expect(body).not.toContain("runuser ");
    const activation = releaseActivateScript(RELEASES, {
      app: "Daedalus",
      hostName: "puck",
      restart: "systemctl restart -- 'daedalus-api.service'",
      checks: daedalusReleaseChecks(8000, 22181),
      unitFile: "/etc/systemd/system/daedalus-api.service",
    });
    expect(body).toMatch(new RegExp(`${activation.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\n# fleet revision: [0-9a-f]{64}$`));
    // The new release's API is asked straight from uvicorn, its SPA build must exist, and
    // both are asked through puck's nginx: the site is installed before the activation.
    expect(body).toContain("http://127.0.0.1:8000/api/health");
    expect(body).toContain("[ -f '/srv/daedalus/current/frontend/build/index.html' ]");
    expect(daedalusReleaseChecks(8000, 22181).map((c) => c.name)).toEqual(["api-health", "spa-build", "api-via-nginx", "spa-via-nginx"]);
    expect(body).toContain("http://127.0.0.1:22181/api/health");
    expect(body).toContain("http://127.0.0.1:22181/");
    expect(dependsOn(r)).toEqual(expect.arrayContaining(["daedalus-api", "daedalus-site"]));
    // Re-run (an update) on a new commit, a new .env and a new unit file: the revision line
    // covers the three; it is not the commit's alone.
    expect(rerunOf(r).triggers).toBeUndefined();
    expect(rerunOf(r).revision).toMatch(/^[0-9a-f]{64}$/);
    expect(rerunOf(r).revision).not.toBe(revisionHash([`${REPO.url}#${REPO.ref}`]));
    // The checks through HAProxy come after the release is live; the HAProxy route itself
    // is static (the switch of versions is current).
    expect(dependsOn(command(A.run, "daedalus-health-check"))).toContain("daedalus-activate");
  });

  it("a new .env alone is a new release: the release step and the activation re-run, the builds do not (issue 13 item 2)", async () => {
    const other = (await configured()).run;
    const triggersOf = (run: MockRun, name: string) => rerunOf(command(run, name)).revision;
    expect(dotenv(stdinOf(command(other, "daedalus-env")))).not.toEqual(dotenv(stdinOf(command(A.run, "daedalus-env"))));
    for (const name of ["daedalus-release-command", "daedalus-migrate-command", "daedalus-activate-command"]) expect({ name, same: triggersOf(other, name) }).not.toEqual({ name, same: triggersOf(A.run, name) });
    for (const name of ["daedalus-backend-command", "daedalus-frontend-command"]) expect({ name, triggers: triggersOf(other, name) }).toEqual({ name, triggers: triggersOf(A.run, name) });
    expect(dependsOn(command(A.run, "daedalus-release-command"))).toEqual(expect.arrayContaining(["daedalus-checkout", "daedalus-env"]));
  });

  it("the release is exported and built before the unit is installed; migrations run from it and leave a note for a rollback", () => {
    // The unit file: systemd-analyze verify wants ExecStart's binary, the venv current names.
    expect(dependsOn(command(A.run, "daedalus-api-unit"))).toEqual(expect.arrayContaining(["daedalus-release", "daedalus-backend", "daedalus-frontend", "daedalus-migrate"]));
    const migrate = remoteTask(command(A.run, "daedalus-migrate-command")).inner;
    expect(migrate).toBe(daedalusMigrateScript(RELEASES));
    expect(migrate).toContain(`> "$release/${ROLLBACK_NOTE}"`);
    expect(migrate).toContain("'fleet: the database stays at alembic revision '\"${after:-none}\"");
  });

  it("keepReleases reaches the prune step (the live and the previous release are never pruned)", async () => {
    const b = await build({ daedalus: { repo: REPO, keepReleases: 5 } });
    const body = script(command(b.run, "daedalus-activate-command"));
    expect(body).toContain('    if [ "$n" -gt 3 ]; then');
    expect(script(command(A.run, "daedalus-activate-command"))).toContain('    if [ "$n" -gt 1 ]; then');
  });
});

// ── mnemosyne-deployment.md ──────────────────────────────────────────────────

describe("mnemosyne-deployment.md", () => {
  const compose = () => composeFile(command(A.run, "mnemosyne-compose"));

  it("§3.1 creates /opt/mnemosyne/ and nginx/ (owner root, mode 0750)", () => {
    const r = command(A.run, "mnemosyne-directory");
    expect(hostOf(r)).toBe("puck.incus");
    expect(shellWords(script(r))).toEqual(["install", "-d", "-o", "root", "-g", "root", "-m", "0750", "/opt/mnemosyne", "/opt/mnemosyne/nginx"]);
  });

  it("§3.1 renders .env from the secrets (mode 0600, owner root)", () => {
    const r = command(A.run, "mnemosyne-env");
    expect(hostOf(r)).toBe("puck.incus");
    expect(managedFile(r)).toEqual({ target: "/opt/mnemosyne/.env", owner: "root:root", mode: "0600" });
    expect(isSecretInput(r.inputs.stdin)).toBe(true);
    expect(r.inputs.logging).toBe("none");
    expect(r.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(dependsOn(r)).toContain("mnemosyne-directory");
  });

  it("§3.1 deploys docker-compose.yaml and nginx/mnemosyne.conf", () => {
    const file = command(A.run, "mnemosyne-compose");
    expect(hostOf(file)).toBe("puck.incus");
    expect(managedFile(file).target).toBe("/opt/mnemosyne/docker-compose.yaml");
    expect(script(file)).toMatch(/docker compose .*-f '\/opt\/mnemosyne\/docker-compose\.yaml' .*\bconfig -q\b/);
    expect(Object.keys(compose()).sort()).toEqual(["app", "mcp", "static-init", "web", "worker"]);
    const conf = command(A.run, "mnemosyne-file-nginx-mnemosyne.conf");
    expect(hostOf(conf)).toBe("puck.incus");
    expect(managedFile(conf).target).toBe("/opt/mnemosyne/nginx/mnemosyne.conf");
    // nginx/mnemosyne.conf is what the web service runs, on the public port 23181.
    expect(compose().web!.volumes).toContain("./nginx/mnemosyne.conf:/etc/nginx/conf.d/default.conf:ro");
    expect(compose().web!.ports).toEqual(["23181:80"]);
    expect(nginxBlock(stdinOf(conf), "server")).toContain("listen 80;");
    // A changed file is bind-mounted: web restarts to see it.
    expect(script(conf)).toContain("restart 'web'");
  });

  it("§3.2 pulls the images, then brings the stack up (static-init runs on every up)", async () => {
    const up = command(A.run, "mnemosyne-up");
    expect(hostOf(up)).toBe("puck.incus");
    // `if docker compose … up … && fleet_wait; then`: up decides between keeping and rolling back.
    const lines = script(up)
      .split("\n")
      .map((l) => l.replace(/^if (docker compose .*?)(?: && fleet_wait)?; then$/, "$1"));
    const pull = lines.findIndex((l) => l.startsWith("docker compose ") && l.endsWith(" pull -q"));
    const start = lines.findIndex((l) => l.startsWith("docker compose ") && l.includes(" up -d "));
    expect(pull).toBeGreaterThanOrEqual(0);
    expect(start).toBeGreaterThan(pull);
    expect(shellWords(lines[start]!)).toEqual(expect.arrayContaining(["--project-directory", "/opt/mnemosyne", "-f", "/opt/mnemosyne/docker-compose.yaml", "--wait"]));
    expect(dependsOn(up)).toEqual(expect.arrayContaining(["mnemosyne-compose", "mnemosyne-env", "mnemosyne-file-nginx-mnemosyne.conf"]));
    // A new image digest re-runs pull + up (as an update: its script's revision line changes).
    expect(reveal(command((await rolledBack()).run, "mnemosyne-up").inputs.create)).not.toEqual(reveal(up.inputs.create));
  });

  const [migrate, setup, ensureUser, seedKey] = seedOneTimeCommands();

  it("§3.3 migrate: docker compose run --rm app migrate, after the stack is up", () => {
    const r = command(A.run, "mnemosyne-task-migrate");
    const t = composeTask(r);
    expect(t.options).toEqual(expect.arrayContaining(["-f", migrate!.file]));
    expect(t.argv.filter((w) => w !== "-T")).toEqual(migrate!.argv);
    expect(dependsOn(r)).toContain("mnemosyne-up");
  });

  it("§3.3 setup: docker compose run --rm app setup (Neo4j indexes), after migrate", () => {
    const r = command(A.run, "mnemosyne-task-setup");
    const t = composeTask(r);
    expect(t.options).toEqual(expect.arrayContaining(["-f", setup!.file]));
    expect(t.argv.filter((w) => w !== "-T")).toEqual(setup!.argv);
    expect(dependsOn(r)).toContain("mnemosyne-task-migrate");
  });

  it("§3.3 ensure_service_user --username daedalus-service, with a generated password passed as a secret", () => {
    const r = command(A.run, "mnemosyne-task-ensure-service-user");
    const t = composeTask(r);
    expect(t.options).toEqual(expect.arrayContaining(["-f", ensureUser!.file]));
    const seedArgv = ensureUser!.argv.map((w) => (w === "{{ vault_mnemosyne_daedalus_service_password }}" ? "$SERVICE_PASSWORD" : w));
    expect(t.argv.filter((w) => w !== "-T")).toEqual(seedArgv);
    // $SERVICE_PASSWORD is read from stdin, which is secret and holds the generated password.
    expect(script(r).split("\n")[0]).toBe(`IFS= read -r __line || [ -n "$__line" ]; SERVICE_PASSWORD=$(printf '%s' "$__line" | base64 -d)`);
    expect(isSecretInput(r.inputs.stdin)).toBe(true);
    const password = mockPassword("mnemosyne-service-password");
    expect(Buffer.from(stdinOf(r).trim(), "base64").toString()).toBe(password);
    expect(A.run.get("mnemosyne-service-password").type).toBe(RANDOM_PASSWORD);
    for (const f of forms(password)) expect(JSON.stringify(reveal([r.inputs.create, r.inputs.update, r.inputs.triggers]))).not.toContain(f);
    expect(r.inputs.logging).toBe("none");
    expect(r.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
  });

  it("§3.3 seed_signing_key --kid daedalus-1 --retire-other runs once; its stdout is a secret stack output", async () => {
    const r = command(A.run, "mnemosyne-task-seed-signing-key");
    const t = composeTask(r);
    expect(t.options).toEqual(expect.arrayContaining(["-f", seedKey!.file]));
    expect(t.argv.filter((w) => w !== "-T")).toEqual(seedKey!.argv);
    // Once: nothing it depends on re-runs it.
    expect(r.opts.ignoreChanges).toEqual(expect.arrayContaining(["create", "update", "triggers", "stdin"]));
    expect(reveal(r.inputs.triggers) ?? []).toEqual([]);
    expect(reveal(command((await rolledBack()).run, "mnemosyne-task-seed-signing-key").inputs)).toEqual(reveal(r.inputs));
    // Its stdout (the secret_hex) is never logged and becomes a secret stack output.
    expect(r.inputs.logging).toBe("none");
    expect(r.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    const out = A.stack.outputs.mnemosyneSigningKeyOutput;
    expect(pulumi.Output.isInstance(out)).toBe(true);
    const output = out as pulumi.Output<string>;
    expect(await pulumi.isSecret(output)).toBe(true);
    const all = (output as unknown as { allResources?: () => Promise<Set<pulumi.Resource>> }).allResources;
    expect(typeof all).toBe("function");
    const sources = await Promise.all([...(await all!.call(output))].map((res) => unwrap(res.urn)));
    expect(sources.some((urn) => typeof urn === "string" && urn.endsWith("::mnemosyne-task-seed-signing-key"))).toBe(true);
  });

  const variables = seedMnemosyneVariables();

  it("§4 the seed's tables list the variables this test expects to find", () => {
    expect(variables.length).toBeGreaterThanOrEqual(50);
    expect(variables.find((v) => v.name === "ALLOWED_HOSTS")?.services).toEqual(["app", "mcp"]);
    expect(variables.find((v) => v.name === "CSRF_TRUSTED_ORIGINS")?.services).toEqual(["app"]);
    expect(variables.find((v) => v.name === "CELERY_BROKER_URL")?.services).toEqual(["app", "worker"]);
    expect(variables.every((v) => v.services.length > 0)).toBe(true);
  });

  it.each(variables)("§4 $name ($section): in .env, and in the environment: of exactly $label", (v) => {
    const env = envOf(A, "mnemosyne-env");
    expect(env).toHaveProperty(v.name);
    expect(env[v.name]).not.toBe("");
    const services = compose();
    for (const [service, spec] of Object.entries(services)) {
      const has = Object.prototype.hasOwnProperty.call(spec.environment ?? {}, v.name);
      expect({ service, has }).toEqual({ service, has: (v.services as readonly string[]).includes(service) });
      if (has) expect(spec.environment![v.name]).toBe(`\${${v.name}}`);
    }
  });

  it.each(variables.filter((v) => v.example !== undefined))("§4 $name defaults to the seed's value $example", (v) => {
    expect(envOf(A, "mnemosyne-env")[v.name]).toBe(v.example);
  });

  it("§4 .env holds exactly the variables of the tables, and no service gets any other", () => {
    const names = variables.map((v) => v.name).sort();
    expect(Object.keys(envOf(A, "mnemosyne-env")).sort()).toEqual(names);
    const given = Object.values(compose()).flatMap((s) => Object.keys(s.environment ?? {}));
    expect(given.filter((n) => !names.includes(n))).toEqual([]);
  });

  it("§4 NEOMODEL_NEO4J_BOLT_URL and CELERY_BROKER_URL percent-encode passwords with @ : / # % + ? & = and a space", async () => {
    const c = await configured();
    const env = envOf(c, "mnemosyne-env");
    const bolt = new URL(env.NEOMODEL_NEO4J_BOLT_URL!);
    expect({ protocol: bolt.protocol, username: bolt.username, hostname: bolt.hostname, port: bolt.port }).toEqual({ protocol: "bolt:", username: "neo4j", hostname: "umbriel.incus", port: "7687" });
    expect(decodeURIComponent(bolt.password)).toBe(NEO4J_PW);
    expect(env.NEOMODEL_NEO4J_BOLT_URL).not.toContain(NEO4J_PW);
    const amqp = new URL(env.CELERY_BROKER_URL!);
    expect({ protocol: amqp.protocol, username: amqp.username, hostname: amqp.hostname, port: amqp.port, pathname: amqp.pathname }).toEqual({
      protocol: "amqp:",
      username: "mnemosyne",
      hostname: "oberon.incus",
      port: "5672",
      pathname: "/mnemosyne",
    });
    expect(decodeURIComponent(amqp.password)).toBe(RABBITMQ_PW);
    expect(env.CELERY_BROKER_URL).not.toContain(RABBITMQ_PW);
    // The servers get the same passwords, unencoded.
    expect(envOf(c, "neo4j-env").NEO4J_PASSWORD).toBe(NEO4J_PW);
    expect(Buffer.from(stdinOf(command(c.run, "mnemosyne-amqp-apply")).trim(), "base64").toString()).toBe(RABBITMQ_PW);
  });

  it.each(seedExternalProbes())("§5 %s is probed on puck.incus:23181 from a host inside the network", (probe) => {
    const checks = A.run.byType(COMMAND).filter((r) => script(r).includes("curl -sS -o") && healthCheck(r).url === `http://puck.incus:23181${probe}`);
    expect(checks).toHaveLength(1);
    const r = checks[0]!;
    expect(hostOf(r)).toBe("prospero.incus");
    expect(healthCheck(r).statuses).toBe("200");
    if (probe === "/metrics") expect(new RegExp(healthCheck(r).bodyPattern ?? "(?!)", "m").test("# TYPE django_http_requests_total counter\n")).toBe(true);
    expect(dependsOn(r)).toContain("mnemosyne");
  });

  it("§5 the daedalus-service account answers 200 with HTTP basic auth", () => {
    const r = command(A.run, "mnemosyne-service-account-check");
    expect(hostOf(r)).toBe("titania.incus");
    const h = healthCheck(r);
    expect(h.url).toBe("https://mnemosyne.ouranos.helu.ca/library/api/workspaces/");
    expect(h.resolve).toBe("mnemosyne.ouranos.helu.ca:443:127.0.0.1");
    expect(h.statuses).toBe("200");
    expect(h.script).toContain(`printf 'user = "%s:%s"\\n' 'daedalus-service' "$esc" > "$auth"`);
    expect(h.script).toContain('-K "$auth"');
    expect(isSecretInput(r.inputs.stdin)).toBe(true);
    expect(Buffer.from(stdinOf(r).trim(), "base64").toString()).toBe(mockPassword("mnemosyne-service-password"));
    expect(r.inputs.logging).toBe("none");
    expect(dependsOn(r)).toEqual(expect.arrayContaining(["mnemosyne", "mnemosyne-route"]));
  });

  // Issue 13 item 7: the seed's curl inside app, mcp and web is not assumed; each is probed
  // through web's published port by a check from Prospero (the label names the path).
  const hostProbed: Readonly<Record<string, string>> = { app: "/live/", mcp: "/healthz", web: "/live/" };
  it.each(seedHealthchecks().filter((h) => Object.hasOwn(hostProbed, h.service)))("§5 $service is probed from the host through the published port, not by curl inside its image", ({ service }) => {
    const svc = compose()[service]!;
    expect(svc.healthcheck).toBeUndefined();
    const probePath = hostProbed[service]!;
    expect(svc.labels).toEqual([`com.daarion.health=host:${probePath}`]);
    const checks = A.run.byType(COMMAND).filter((r) => script(r).includes("curl -sS -o") && healthCheck(r).url === `http://puck.incus:23181${probePath}`);
    expect(checks.map(hostOf)).toEqual(["prospero.incus"]);
  });

  it("§5 up counts a new version good only once /live/ and /healthz answer through the published port on Puck, else rolls it back", () => {
    const up = script(command(A.run, "mnemosyne-up"));
    expect(up).toContain(" && fleet_wait && fleet_checks; then\n");
    expect([...up.matchAll(/^ {2}fleet_failed_check='?([a-z-]*)'?$/gm)].map((m) => m[1])).toEqual(["live", "healthz", ""]);
    for (const p of ["/live/", "/healthz"]) expect(up).toContain(`-H 'Host: mnemosyne.ouranos.helu.ca' -H 'X-Forwarded-Proto: https' 'http://127.0.0.1:23181${p}'`);
    expect(up).toContain("' failed on puck: project mnemosyne came up, but the new version is not healthy'");
  });

  it("§5 nothing waits for a healthcheck the compose file no longer has", () => {
    const s = compose();
    for (const [name, svc] of Object.entries(s)) {
      for (const [dep, d] of Object.entries(svc.depends_on ?? {})) if (d.condition === "service_healthy") expect(s[dep]!.healthcheck, `${name} waits for ${dep} to be healthy`).toBeDefined();
    }
    expect(s.web!.depends_on).toEqual({ app: { condition: "service_started" }, mcp: { condition: "service_started" }, "static-init": { condition: "service_completed_successfully" } });
  });

  it.each(seedHealthchecks().filter((h) => !Object.hasOwn(hostProbed, h.service)))("§5 healthcheck of $service: $command", ({ service, command: expected }) => {
    const test = compose()[service]?.healthcheck?.test ?? [];
    const [kind, ...rest] = test;
    // CMD is argv; CMD-SHELL is a shell line where compose turns $$ into $.
    const deployed = kind === "CMD" ? rest.join(" ") : kind === "CMD-SHELL" ? rest[0]!.replace(/\$\$/g, "$") : `unknown kind ${kind}`;
    expect(deployed).toBe(expected);
  });

  it("§1 static-init is a one-shot on every up; web waits for it to complete", () => {
    const s = compose();
    const init = s["static-init"]!;
    expect(init.restart).toBe("no");
    expect(init.healthcheck).toBeUndefined();
    expect(init.command).toEqual(["collectstatic"]);
    const volume = init.volumes?.[0]?.split(":")[0];
    expect(s.web!.volumes?.some((v) => v.split(":")[0] === volume)).toBe(true);
    expect(s.web!.depends_on?.["static-init"]).toEqual({ condition: "service_completed_successfully" });
    // The up step accepts a service that exited 0 and fails on any other exit.
    const up = script(command(A.run, "mnemosyne-up"));
    expect(up).toContain('$2 == "exited" && $3 != 0 { failed = failed');
    expect(up).toContain('$2 == "exited" { next }');
  });

  it("§7 rollback: fleet:ouranos.mnemosyne.digest pins that digest for app, mcp, worker and static-init", async () => {
    const d = await rolledBack();
    const s = composeFile(command(d.run, "mnemosyne-compose"));
    for (const service of ["app", "mcp", "worker", "static-init"]) expect({ service, image: s[service]!.image }).toEqual({ service, image: `git.helu.ca/r/mnemosyne@${PINNED}` });
    expect(s.web!.image).toBe(`nginx@${DIGEST}`);
    // Pinned: the tag is no longer resolved. Unpinned, :latest is resolved at preview.
    expect(d.lookedUp).not.toContain("git.helu.ca/r/mnemosyne:latest");
    expect(A.lookedUp).toContain("git.helu.ca/r/mnemosyne:latest");
    expect(composeFile(command(A.run, "mnemosyne-compose")).app!.image).toBe(`git.helu.ca/r/mnemosyne@${DIGEST}`);
  });

  it("§6 an upgrade (a new image) re-runs migrate after up", async () => {
    const d = await rolledBack();
    expect(reveal(command(d.run, "mnemosyne-task-migrate").inputs.triggers)).not.toEqual(reveal(command(A.run, "mnemosyne-task-migrate").inputs.triggers));
    expect(reveal(command((await sameAgain()).run, "mnemosyne-task-migrate").inputs.triggers)).toEqual(reveal(command(A.run, "mnemosyne-task-migrate").inputs.triggers));
  });

  it("§8 HAProxy: mnemosyne.ouranos.helu.ca → puck.incus:23181, health path /healthz", () => {
    const route = command(A.run, "mnemosyne-route-files");
    expect(hostOf(route)).toBe("titania.incus");
    const parts = bundleParts(stdinOf(route));
    const lines = parts
      .get("/etc/haproxy/conf.d/mnemosyne.cfg")!
      .split("\n")
      .map((l) => l.trim());
    expect(lines).toContain("backend mnemosyne");
    expect(lines).toContain("http-check send meth GET uri /healthz");
    expect(lines.find((l) => l.startsWith("server "))).toMatch(/^server puck puck\.incus:23181\b/);
    expect(parts.get("/etc/haproxy/hosts.d/mnemosyne.route.map")!.split("\n")).toContain("mnemosyne.ouranos.helu.ca mnemosyne");
    // /healthz short-circuits to FastMCP in nginx/mnemosyne.conf.
    expect(nginxBlock(stdinOf(command(A.run, "mnemosyne-file-nginx-mnemosyne.conf")), "location = /healthz")).toEqual(["proxy_pass $mnemosyne_mcp/mcp/health;"]);
  });

  it("§2 PostgreSQL: database mnemosyne owned by user mnemosyne on portia.incus:5432", () => {
    const role = A.run.byType("postgresql:index/role:Role").find((r) => r.inputs.name === "mnemosyne");
    const db = A.run.byType("postgresql:index/database:Database").find((r) => r.inputs.name === "mnemosyne");
    expect(role?.inputs).toMatchObject({ name: "mnemosyne", login: true });
    expect(db?.inputs).toEqual({ name: "mnemosyne", owner: "mnemosyne" });
    expect(nameOf(db?.opts.provider)).toBe("postgres-portia");
    const env = envOf(A, "mnemosyne-env");
    expect(env).toMatchObject({ APP_DB_NAME: "mnemosyne", APP_DB_USER: "mnemosyne", APP_DB_PASSWORD: mockPassword("mnemosyne-db-password"), DB_HOST: "portia.incus", DB_PORT: "5432" });
  });

  it("§2 Neo4j: dedicated to Mnemosyne on umbriel (bolt 7687, browser 25555), with a generated password", () => {
    const file = command(A.run, "neo4j-compose");
    expect(hostOf(file)).toBe("umbriel.incus");
    const s = composeFile(file);
    expect(Object.keys(s)).toEqual(["neo4j"]);
    expect(s.neo4j!.ports).toEqual(["7687:7687", "25555:7474"]);
    expect(s.neo4j!.environment?.NEO4J_AUTH).toBe("neo4j/${NEO4J_PASSWORD}");
    const generated = A.run.get("neo4j-password");
    expect(generated.type).toBe(RANDOM_PASSWORD);
    const env = command(A.run, "neo4j-env");
    expect(hostOf(env)).toBe("umbriel.incus");
    expect(managedFile(env).mode).toBe("0600");
    expect(dotenv(stdinOf(env))).toEqual({ NEO4J_PASSWORD: mockPassword("neo4j-password") });
    expect(envOf(A, "mnemosyne-env").NEOMODEL_NEO4J_BOLT_URL).toBe(`bolt://neo4j:${mockPassword("neo4j-password")}@umbriel.incus:7687`);
    // Mnemosyne starts once Neo4j is up.
    expect(dependsOn(command(A.run, "mnemosyne-up"))).toContain("neo4j");
  });

  it("§2 RabbitMQ: vhost mnemosyne and user mnemosyne on oberon, with permissions on the vhost", () => {
    const r = command(A.run, "mnemosyne-amqp-apply");
    expect(hostOf(r)).toBe("oberon.incus");
    const lines = script(r).split("\n");
    expect(lines).toContain("if ! rabbitmqctl -q list_vhosts name | grep -qxF 'mnemosyne'; then rabbitmqctl add_vhost 'mnemosyne'; fi");
    expect(lines).toContain(`  printf '%s\\n' "$RABBITMQ_PASSWORD" | rabbitmqctl add_user 'mnemosyne'`);
    expect(lines.map((l) => (l.startsWith("rabbitmqctl set_permissions") ? shellWords(l) : []))).toContainEqual(["rabbitmqctl", "set_permissions", "-p", "mnemosyne", "mnemosyne", ".*", ".*", ".*"]);
    expect(Buffer.from(stdinOf(r).trim(), "base64").toString()).toBe(mockPassword("rabbitmq-password"));
    expect(isSecretInput(r.inputs.stdin)).toBe(true);
    expect(r.inputs.logging).toBe("none");
    expect(envOf(A, "mnemosyne-env").CELERY_BROKER_URL).toBe(`amqp://mnemosyne:${mockPassword("rabbitmq-password")}@oberon.incus:5672/mnemosyne`);
    expect(dependsOn(command(A.run, "mnemosyne-up"))).toContain("mnemosyne-amqp");
  });

  it("§2 Memcached: KVDB_LOCATION oberon.incus:11211, KVDB_PREFIX mnemosyne", () => {
    expect(envOf(A, "mnemosyne-env")).toMatchObject({ KVDB_LOCATION: "oberon.incus:11211", KVDB_PREFIX: "mnemosyne" });
  });

  it("§2 MinIO: bucket mnemosyne-content with read+write credentials", () => {
    const bucket = A.run.byType("minio:index/s3Bucket:S3Bucket").find((r) => r.inputs.bucket === "mnemosyne-content");
    expect(bucket?.opts.protect).toBe(true);
    const user = A.run.byType("minio:index/iamUser:IamUser").find((r) => r.inputs.name === "mnemosyne")!;
    const attach = A.run.byType("minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment").find((r) => r.inputs.userName === "mnemosyne")!;
    const policy = A.run.byType("minio:index/iamPolicy:IamPolicy").find((r) => r.inputs.name === attach.inputs.policyName)!;
    const statements = (JSON.parse(str(policy.inputs.policy)) as { Statement: { Action: string[]; Resource: string[] }[] }).Statement;
    expect(statements.flatMap((s) => s.Resource).every((r) => r.startsWith("arn:aws:s3:::mnemosyne-content"))).toBe(true);
    expect(statements.flatMap((s) => s.Action)).toEqual(expect.arrayContaining(["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]));
    expect(envOf(A, "mnemosyne-env")).toMatchObject({
      AWS_ACCESS_KEY_ID: "mnemosyne",
      AWS_SECRET_ACCESS_KEY: str(user.inputs.secret),
      AWS_STORAGE_BUCKET_NAME: "mnemosyne-content",
      AWS_S3_ENDPOINT_URL: "https://nyx.helu.ca:8555",
    });
  });

  it("§2 MinIO: read-only credentials on daedalus for the worker", () => {
    const env = envOf(A, "mnemosyne-env");
    const user = A.run.byType("minio:index/iamUser:IamUser").find((r) => r.inputs.name === env.DAEDALUS_S3_ACCESS_KEY_ID);
    expect(user).toBeDefined();
    expect(env.DAEDALUS_S3_ACCESS_KEY_ID).not.toBe("daedalus");
    expect(env.DAEDALUS_S3_SECRET_ACCESS_KEY).toBe(str(user!.inputs.secret));
    const attachments = A.run.byType("minio:index/iamUserPolicyAttachment:IamUserPolicyAttachment").filter((r) => r.inputs.userName === env.DAEDALUS_S3_ACCESS_KEY_ID);
    expect(attachments).toHaveLength(1);
    const policy = A.run.byType("minio:index/iamPolicy:IamPolicy").find((r) => r.inputs.name === attachments[0]!.inputs.policyName)!;
    const list = (JSON.parse(str(policy.inputs.policy)) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] }).Statement;
    expect(list.every((s) => s.Effect === "Allow")).toBe(true);
    expect(list.flatMap((s) => s.Resource).every((r) => r === "arn:aws:s3:::daedalus" || r.startsWith("arn:aws:s3:::daedalus/"))).toBe(true);
    const actions = list.flatMap((s) => s.Action);
    expect(actions).toContain("s3:GetObject");
    expect(actions.filter((a) => !/^s3:(Get|List)/.test(a))).toEqual([]);
    expect(env.DAEDALUS_S3_BUCKET_NAME).toBe("daedalus");
  });
});

// ── Secrets ──────────────────────────────────────────────────────────────────

/** Generated secret → where the seeds say it goes ("from vault"). */
const GENERATED: readonly { generator: string; type: string; lands: { command: string; variable: string } }[] = [
  { generator: "mnemosyne-secret-key", type: RANDOM_PASSWORD, lands: { command: "mnemosyne-env", variable: "SECRET_KEY" } },
  { generator: "mnemosyne-llm-encryption-key", type: RANDOM_BYTES, lands: { command: "mnemosyne-env", variable: "LLM_API_SECRETS_ENCRYPTION_KEY" } },
  { generator: "mnemosyne-db-password", type: RANDOM_PASSWORD, lands: { command: "mnemosyne-env", variable: "APP_DB_PASSWORD" } },
  { generator: "neo4j-password", type: RANDOM_PASSWORD, lands: { command: "neo4j-env", variable: "NEO4J_PASSWORD" } },
  { generator: "rabbitmq-password", type: RANDOM_PASSWORD, lands: { command: "mnemosyne-env", variable: "CELERY_BROKER_URL" } },
  { generator: "mnemosyne-bucket-rw-secret", type: RANDOM_PASSWORD, lands: { command: "mnemosyne-env", variable: "AWS_SECRET_ACCESS_KEY" } },
  { generator: "daedalus-bucket-ro0-secret", type: RANDOM_PASSWORD, lands: { command: "mnemosyne-env", variable: "DAEDALUS_S3_SECRET_ACCESS_KEY" } },
  { generator: "mnemosyne-service-password", type: RANDOM_PASSWORD, lands: { command: "mnemosyne-task-ensure-service-user", variable: "SERVICE_PASSWORD" } },
  { generator: "daedalus-db-password", type: RANDOM_PASSWORD, lands: { command: "daedalus-env", variable: "DAEDALUS_DATABASE_URL" } },
  { generator: "daedalus-bucket-rw-secret", type: RANDOM_PASSWORD, lands: { command: "daedalus-env", variable: "DAEDALUS_S3_SECRET_KEY" } },
];

/** The generators the stack itself creates from config-or-generate (the rest live in components). */
const STACK_GENERATORS = ["mnemosyne-secret-key", "mnemosyne-llm-encryption-key", "neo4j-password", "rabbitmq-password", "mnemosyne-service-password"];

describe("Secrets", () => {
  it.each(GENERATED)("$lands.variable is generated ($generator) when config does not provide it", ({ generator, type, lands }) => {
    const g = A.run.get(generator);
    expect(g.type).toBe(type);
    const r = command(A.run, lands.command);
    const value =
      type === RANDOM_BYTES ? Buffer.from(mockPassword(generator).padEnd(32, "x").slice(0, 32)).toString("base64") : mockPassword(generator);
    const carried = lands.command.includes("-task-") ? Buffer.from(stdinOf(r).trim(), "base64").toString() : dotenv(stdinOf(r))[lands.variable]!;
    expect(carried).toContain(value);
  });

  it("SECRET_KEY and LLM_API_SECRETS_ENCRYPTION_KEY are protected, retained and never rotated by an up", async () => {
    for (const name of ["mnemosyne-secret-key", "mnemosyne-llm-encryption-key"]) {
      const g = A.run.get(name);
      expect({ name, protect: g.opts.protect, retainOnDelete: g.opts.retainOnDelete }).toEqual({ name, protect: true, retainOnDelete: true });
      // Nothing that changes between deploys can replace them.
      expect(g.inputs.keepers).toBeUndefined();
      expect(g.opts.replaceOnChanges ?? []).toEqual([]);
      for (const other of [await sameAgain(), await nextRef(), await rolledBack()]) expect(other.run.get(name).inputs).toEqual(g.inputs);
    }
  });

  it("the stack's other generated secrets are protected and retained; database passwords are protected", () => {
    for (const name of STACK_GENERATORS) {
      const g = A.run.get(name);
      expect({ name, protect: g.opts.protect, retainOnDelete: g.opts.retainOnDelete }).toEqual({ name, protect: true, retainOnDelete: true });
    }
    for (const name of ["daedalus-db-password", "mnemosyne-db-password"]) expect({ name, protect: A.run.get(name).opts.protect }).toEqual({ name, protect: true });
  });

  it("the stack's generated secrets are children of the ouranos stack component", () => {
    // DESIGN.md: children get { parent: this }. Parentless, they sit beside the stack
    // component in the tree, and moving them later changes their URNs (a protected
    // generator would then block the up, or rotate the secret once unprotected).
    expect(STACK_GENERATORS.map((name) => ({ name, parent: A.run.get(name).parentName }))).toEqual(STACK_GENERATORS.map((name) => ({ name, parent: "ouranos" })));
  });

  it("toFernet maps standard base64 to the URL-safe alphabet Fernet requires", async () => {
    const { toFernet } = await import("../../src/config/secrets");
    const standard = RAW_KEY.toString("base64");
    expect(standard).toMatch(/\+/);
    expect(standard).toMatch(/\//);
    expect(toFernet(standard)).toBe(RAW_KEY.toString("base64url") + "=");
  });

  it("LLM_API_SECRETS_ENCRYPTION_KEY is a valid Fernet key: URL-safe base64 of exactly 32 bytes", async () => {
    for (const [b, raw] of [
      [A, Buffer.from(mockPassword("mnemosyne-llm-encryption-key").padEnd(32, "x").slice(0, 32))],
      [await slashyKey(), RAW_KEY],
    ] as const) {
      const key = envOf(b, "mnemosyne-env").LLM_API_SECRETS_ENCRYPTION_KEY!;
      expect(key).toMatch(/^[A-Za-z0-9_-]{43}=$/);
      const bytes = Buffer.from(key, "base64url");
      expect(bytes).toHaveLength(32);
      expect(bytes.equals(raw)).toBe(true);
    }
  });

  it("config-provided values are used instead of generated ones (no generator is created)", async () => {
    const c = await configured();
    const generators = [...c.run.byType(RANDOM_PASSWORD), ...c.run.byType(RANDOM_BYTES)].map((r) => r.name).sort();
    // Only the S3 credentials, which no config key overrides, are still generated.
    expect(generators).toEqual(["daedalus-bucket-ro0-secret", "daedalus-bucket-rw-secret", "mnemosyne-bucket-rw-secret"]);
    const env = envOf(c, "mnemosyne-env");
    expect(env.SECRET_KEY).toBe(CONFIGURED["fleet:mnemosyneSecretKey"]);
    expect(env.LLM_API_SECRETS_ENCRYPTION_KEY).toBe(CONFIG_FERNET);
    expect(env.APP_DB_PASSWORD).toBe(CONFIGURED["fleet:mnemosyneDbPassword"]);
    expect(reveal(c.run.byType("postgresql:index/role:Role").find((r) => r.inputs.name === "mnemosyne")!.inputs.password)).toBe(CONFIGURED["fleet:mnemosyneDbPassword"]);
    expect(Buffer.from(stdinOf(command(c.run, "mnemosyne-task-ensure-service-user")).trim(), "base64").toString()).toBe(CONFIGURED["fleet:mnemosyneServicePassword"]);
    expect(Buffer.from(stdinOf(command(c.run, "mnemosyne-service-account-check")).trim(), "base64").toString()).toBe(CONFIGURED["fleet:mnemosyneServicePassword"]);
  });

  it("DAEDALUS_DATABASE_URL percent-encodes a configured password with @ : / # % + ? & = and a space", async () => {
    const c = await configured();
    const url = new URL(envOf(c, "daedalus-env").DAEDALUS_DATABASE_URL!);
    expect({ protocol: url.protocol, username: url.username, hostname: url.hostname, port: url.port, pathname: url.pathname }).toEqual({
      protocol: "postgresql+asyncpg:",
      username: "daedalus",
      hostname: "portia.incus",
      port: "5432",
      pathname: "/daedalus",
    });
    expect(decodeURIComponent(url.password)).toBe(DAEDALUS_DB_PW);
    expect(reveal(c.run.byType("postgresql:index/role:Role").find((r) => r.inputs.name === "daedalus")!.inputs.password)).toBe(DAEDALUS_DB_PW);
  });

  it.each([
    ["generated", defaults],
    ["configured", configured],
  ] as const)("%s secrets reach hosts only on secret stdin, into 0600 files or commands that log nothing", async (_, which) => {
    const b = await which();
    const env = envOf(b, "mnemosyne-env");
    const secrets = [
      ...b.run.byType(RANDOM_PASSWORD).map((r) => mockPassword(r.name)),
      env.LLM_API_SECRETS_ENCRYPTION_KEY!,
      env.SECRET_KEY!,
      ...Object.values(OURANOS_SECRETS),
      ...Object.values(CONFIGURED),
    ];
    const leaks: string[] = [];
    const carriers: string[] = [];
    for (const r of b.run.resources) {
      // Nowhere in plain (non-secret) inputs of any resource.
      for (const leaf of plainLeaves(r.inputs)) for (const s of secrets) if (forms(s).some((f) => leaf.value.includes(f))) leaks.push(`${r.name}.${leaf.path}`);
      if (r.type !== COMMAND) continue;
      expect({ command: r.name, connectionSecret: isSecretInput(r.inputs.connection) }).toEqual({ command: r.name, connectionSecret: true });
      const carries = Object.keys(r.inputs).filter((k) => k !== "connection" && secrets.some((s) => forms(s).some((f) => JSON.stringify(reveal(r.inputs[k])).includes(f))));
      if (carries.length === 0) continue;
      carriers.push(r.name);
      const writesFile = script(r).includes('cat > "$next"');
      expect({
        command: r.name,
        carries,
        stdinSecret: isSecretInput(r.inputs.stdin),
        logging: r.inputs.logging,
        hidesOutput: ["stdout", "stderr"].every((o) => (r.opts.additionalSecretOutputs ?? []).includes(o)),
        mode: writesFile ? managedFile(r).mode : "no file",
      }).toEqual({ command: r.name, carries: ["stdin"], stdinSecret: true, logging: "none", hidesOutput: true, mode: writesFile ? "0600" : "no file" });
    }
    expect(leaks).toEqual([]);
    // The places secrets must reach: the three env files, and the commands that take them on stdin.
    expect(carriers.sort()).toEqual([
      "daedalus-env",
      "daedalus-sso-apply",
      "mnemosyne-amqp-apply",
      "mnemosyne-env",
      "mnemosyne-service-account-check",
      "mnemosyne-task-ensure-service-user",
      "neo4j-env",
    ]);
  });

  it("stack outputs that carry a secret are secret", async () => {
    for (const [key, value] of Object.entries(A.stack.outputs)) {
      const plain = JSON.stringify((await unwrap(value)) ?? null);
      const secretIn = [...A.run.byType(RANDOM_PASSWORD).map((r) => mockPassword(r.name)), ...Object.values(OURANOS_SECRETS)].some((s) => plain.includes(s));
      const isSecret = pulumi.Output.isInstance(value) ? await pulumi.isSecret(value) : false;
      if (secretIn || key === "mnemosyneSigningKeyOutput") expect({ key, isSecret }).toEqual({ key, isSecret: true });
    }
  });

  it("an unchanged program registers the same resources with the same inputs (an empty preview)", async () => {
    const again = await sameAgain();
    expect(again.run.names()).toEqual(A.run.names());
    // By type and name: the Mnemosyne app and its compose project share a name.
    const same = (r: RecordedResource) => again.run.resources.find((x) => x.type === r.type && x.name === r.name)!;
    for (const r of A.run.resources) expect({ name: r.name, inputs: reveal(same(r).inputs) }).toEqual({ name: r.name, inputs: reveal(r.inputs) });
  });
});

// ── Bad config ───────────────────────────────────────────────────────────────

describe("Bad config: one ConfigError, nothing registered", () => {
  async function failing(config: Record<string, unknown>, secretKeys: readonly string[]): Promise<{ message: string; run: MockRun }> {
    const { ouranos } = await import("../../stacks/ouranos");
    return refused(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
  }

  const MISSING_HOST = 'fleet:ouranos/roles/app: names host "pluto", which is not under fleet:hosts (have: titania, portia, prospero, puck, umbriel, oberon)';
  const SAME_PORTS = "fleet:ouranos/mnemosyne/port: 22181 is already daedalus.nginxPort on host puck: every service on a host needs its own port";
  const PLAINTEXT_KEY = 'fleet:sshPrivateKey: must be stored as a secret (the SSH private key for hosts "titania", "portia", "prospero", "puck", "umbriel", "oberon"): pulumi config set --secret fleet:sshPrivateKey <value>';
  const MISSING_CASDOOR = "fleet:casdoorClientSecret: is required (a secret this stack needs): pulumi config set --secret fleet:casdoorClientSecret <value>";

  function settings(extra: Record<string, unknown>): Record<string, unknown> {
    return { "fleet:ouranos": { daedalus: { repo: REPO }, ...extra } };
  }

  it.each([
    ["a role naming a missing host", () => ouranosConfig(settings({ roles: { app: "pluto" } })), MISSING_HOST],
    ["the two app ports equal", () => ouranosConfig(settings({ mnemosyne: { port: 22181 } })), SAME_PORTS],
    ["a role naming host constructor (an object prototype name)", () => ouranosConfig(settings({ roles: { app: "constructor" } })), MISSING_HOST.replace('"pluto"', '"constructor"')],
    ["a bucket that is a shell command (the component's rule, at load)", () => ouranosConfig({ "fleet:ouranos": { daedalus: { repo: REPO, bucket: "$(touch /tmp/pwn)" } } }), "fleet:ouranos/daedalus/bucket: must be an S3 bucket name: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"],
    ["a bucket with '_' and capitals", () => ouranosConfig(settings({ mnemosyne: { s3Bucket: "Bad_Bucket" } })), "fleet:ouranos/mnemosyne/s3Bucket: must be an S3 bucket name: 3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"],
    ["a directory with '..' (/opt/../etc)", () => ouranosConfig(settings({ mnemosyne: { directory: "/opt/../etc" } })), "fleet:ouranos/mnemosyne/directory: must not contain '..' segments"],
    ["a staticDir with '..' (/app/../../etc)", () => ouranosConfig(settings({ mnemosyne: { staticDir: "/app/../../etc" } })), "fleet:ouranos/mnemosyne/staticDir: must not contain '..' segments"],
    ["a neo4j directory with '..'", () => ouranosConfig(settings({ neo4j: { directory: "/opt/neo4j/../../root" } })), "fleet:ouranos/neo4j/directory: must not contain '..' segments"],
    [
      "a git URL starting with '-' (an option to git)",
      () => ouranosConfig({ "fleet:ouranos": { daedalus: { repo: { url: "-oProxyCommand=touch@x:y", ref: "v1.4.2" } } } }),
      "fleet:ouranos/daedalus/repo/url: must be an https:// or ssh git URL without spaces or shell metacharacters, no part starting with '-' (git would read it as an option)",
    ],
    [
      "keepReleases 1 (no release for a failed deploy to go back to)",
      () => ouranosConfig(settings({ daedalus: { repo: REPO, keepReleases: 1 } })),
      "fleet:ouranos/daedalus/keepReleases: must be at least 2: the live release and the one a failed deploy goes back to",
    ],
    [
      "a database password with a single quote (refused at load, not after dozens of resources)",
      () => ouranosConfig({ "fleet:daedalusDbPassword": "it's-secret" }),
      "fleet:daedalusDbPassword: must not contain a single quote (it lands in single-quoted .env values); choose another value",
    ],
    ["an empty casdoorClientSecret", () => ouranosConfig({ "fleet:casdoorClientSecret": "" }), "fleet:casdoorClientSecret: must not be empty"],
    ["Neo4j's bolt port equal to its browser port", () => ouranosConfig(settings({ neo4j: { boltPort: 7687, browserPort: 7687 } })), "fleet:ouranos/neo4j/browserPort: 7687 is already neo4j.boltPort on host umbriel: every service on a host needs its own port"],
    ["uvicornPort equal to Mnemosyne's port on the app host", () => ouranosConfig(settings({ daedalus: { repo: REPO, uvicornPort: 23181 } })), "fleet:ouranos/mnemosyne/port: 23181 is already daedalus.uvicornPort on host puck: every service on a host needs its own port"],
    [
      "RabbitMQ's port equal to Neo4j's bolt port when both roles name one host",
      () => ouranosConfig(settings({ roles: { neo4j: "oberon" }, rabbitmq: { port: 7687 } })),
      "fleet:ouranos/rabbitmq/port: 7687 is already neo4j.boltPort on host oberon: every service on a host needs its own port",
    ],
    ["a database name in capitals (adopting what runs)", () => ouranosConfig(settings({ daedalus: { repo: REPO, db: { name: "Daedalus" } } })), "fleet:ouranos/daedalus/db/name: must be a lowercase PostgreSQL identifier: start with a-z or '_', then a-z, 0-9, '_'"],
    ["a database user longer than PostgreSQL allows", () => ouranosConfig(settings({ mnemosyne: { db: { user: "u".repeat(64) } } })), "fleet:ouranos/mnemosyne/db/user: must be at most 63 bytes (PostgreSQL NAMEDATALEN); shorten it"],
    ["two Mnemosyne services with one container name", () => ouranosConfig(settings({ mnemosyne: { containers: { app: "mnemosyne", web: "mnemosyne" } } })), "fleet:ouranos/mnemosyne/containers/web: mnemosyne is already the container name of app: every container needs its own name"],
    ["a container name with a space", () => ouranosConfig(settings({ mnemosyne: { containers: { worker: "mnemosyne worker" } } })), "fleet:ouranos/mnemosyne/containers/worker: must be a container name: a letter or digit, then letters, digits and _ . -"],
    ["a volume name with a '/'", () => ouranosConfig(settings({ mnemosyne: { volumes: { static: "/srv/static" } } })), "fleet:ouranos/mnemosyne/volumes/static: must be a Docker volume name: a letter or digit, then letters, digits and _ . -"],
    ["a container to adopt named with a ';'", () => ouranosConfig(settings({ mnemosyne: { adopt: { containers: ["old;rm -rf /"] } } })), "fleet:ouranos/mnemosyne/adopt/containers/0: must be a container name: a letter or digit, then letters, digits and _ . -"],
    ["an Alertmanager at port 99999", () => ouranosConfig(settings({ prometheus: { alertmanagers: ["localhost:99999"] } })), "fleet:ouranos/prometheus/alertmanagers/0: must be HOST:PORT such as puck.incus:22181 or 10.10.0.5:9100 (port 1-65535)"],
    ["postgresServer named constructor", () => ouranosConfig(settings({ postgresServer: "constructor" })), 'fleet:ouranos/postgresServer: names "constructor", which is not under fleet:postgres'],
    [
      "a misspelt secret key (fleet:mnemosyneSecretKeyy) instead of being ignored while a new key is generated",
      () => ouranosConfig({ "fleet:mnemosyneSecretKeyy": "kept-user-data-key" }),
      "fleet:mnemosyneSecretKeyy: is not a setting of this stack; did you mean fleet:mnemosyneSecretKey? (pulumi config rm fleet:mnemosyneSecretKeyy)",
    ],
    [
      "insecureSkipHostKey on a host of a stack not marked as a test environment",
      () => {
        const c = ouranosConfig();
        const hosts = c.config["fleet:hosts"] as Record<string, unknown>;
        return { config: { ...c.config, "fleet:hosts": { ...hosts, puck: { address: "puck.incus", insecureSkipHostKey: true } } }, secretKeys: c.secretKeys };
      },
      "fleet:hosts/puck/insecureSkipHostKey: is refused outside a test environment: pin the host key (ssh-keyscan -t ed25519 HOST) instead; only a throwaway test stack may set fleet:environment: test to allow it",
    ],
    [
      "a plaintext (non-secret) sshPrivateKey",
      () => {
        const c = ouranosConfig();
        return { config: c.config, secretKeys: c.secretKeys.filter((k) => k !== "fleet:sshPrivateKey") };
      },
      PLAINTEXT_KEY,
    ],
    [
      "a missing casdoorClientSecret",
      () => {
        const c = ouranosConfig();
        const config = { ...c.config };
        delete config["fleet:casdoorClientSecret"];
        return { config, secretKeys: c.secretKeys };
      },
      MISSING_CASDOOR,
    ],
  ] as const)("%s", async (_, make, problem) => {
    const { config, secretKeys } = make();
    const { message, run } = await failing(config, secretKeys);
    expect(message).toBe(`stack config: ${problem}`);
    expect(run.resources).toEqual([]);
  });

  it("all four reported at once", async () => {
    const c = ouranosConfig(settings({ roles: { app: "pluto" }, mnemosyne: { port: 22181 } }));
    const config = { ...c.config };
    delete config["fleet:casdoorClientSecret"];
    const { message, run } = await failing(
      config,
      c.secretKeys.filter((k) => k !== "fleet:sshPrivateKey"),
    );
    const [header, ...lines] = message.split("\n");
    expect({ header, problems: lines.sort() }).toEqual({
      header: "stack config has 4 problems:",
      problems: [MISSING_HOST, SAME_PORTS.replace("on host puck", "on host pluto"), PLAINTEXT_KEY, MISSING_CASDOOR].map((p) => `  - ${p}`).sort(),
    });
    expect(run.resources).toEqual([]);
  });
});

// ── One setting, every file (issue 9 item 9) ─────────────────────────────────

describe("ports and workers: every file derives from the same setting", () => {
  it("daedalus.uvicornPort 9000 and workers 4 reach both the unit's ExecStart and nginx's proxy_pass", async () => {
    const b = await build({ daedalus: { repo: REPO, uvicornPort: 9000, workers: 4 } });
    const unit = stdinOf(command(b.run, "daedalus-api-unit"));
    expect(unit.split("\n").filter((l) => l.startsWith("ExecStart="))).toEqual(["ExecStart=/srv/daedalus/current/venv/bin/uvicorn daedalus.main:app --host 127.0.0.1 --port 9000 --workers 4"]);
    // The release's own check asks uvicorn on that port.
    expect(script(command(b.run, "daedalus-activate-command"))).toContain("http://127.0.0.1:9000/api/health");
    const nginx = stdinOf(command(b.run, "daedalus-site-config"));
    const upstreams = [...nginx.matchAll(/proxy_pass (\S+);/g)].map((m) => m[1]);
    expect(upstreams.length).toBeGreaterThan(0);
    expect(new Set(upstreams)).toEqual(new Set(["http://127.0.0.1:9000"]));
  });
});

// ── What already runs (issue 13 item 9) ──────────────────────────────────────

describe("names of what already runs: databases, users, containers, volumes", () => {
  const EXISTING = {
    daedalus: { repo: REPO, db: { name: "daedalus_prod", user: "daedalus_app" } },
    mnemosyne: {
      db: { name: "mnemo", user: "mnemo_app" },
      containers: { app: "mnemosyne-django", web: "mnemosyne-nginx" },
      volumes: { static: "mnemosyne-static-files" },
      adopt: { containers: ["mnemosyne_web_1"] },
    },
  };
  const existing = () => shared("existing names", () => build(EXISTING));

  it("the databases and their owners carry the configured names, and the apps connect as them", async () => {
    const b = await existing();
    const named = (type: string) => b.run.byType(type).map((r) => r.inputs.name).sort();
    expect(named("postgresql:index/database:Database")).toEqual(["daedalus_prod", "mnemo"]);
    expect(named("postgresql:index/role:Role")).toEqual(["daedalus_app", "mnemo_app"]);
    expect(b.run.byType("postgresql:index/database:Database").map((d) => d.inputs.owner).sort()).toEqual(["daedalus_app", "mnemo_app"]);
    expect(envOf(b, "daedalus-env").DAEDALUS_DATABASE_URL).toMatch(/^postgresql\+asyncpg:\/\/daedalus_app:[^@]+@portia\.incus:5432\/daedalus_prod$/);
    const env = envOf(b, "mnemosyne-env");
    expect([env.APP_DB_NAME, env.APP_DB_USER]).toEqual(["mnemo", "mnemo_app"]);
  });

  it("the defaults are the documents' names (daedalus/daedalus, mnemosyne/mnemosyne)", () => {
    const named = (type: string) => A.run.byType(type).map((r) => r.inputs.name).sort();
    expect(named("postgresql:index/database:Database")).toEqual(["daedalus", "mnemosyne"]);
    expect(named("postgresql:index/role:Role")).toEqual(["daedalus", "mnemosyne"]);
    const env = envOf(A, "mnemosyne-env");
    expect([env.APP_DB_NAME, env.APP_DB_USER]).toEqual(["mnemosyne", "mnemosyne"]);
  });

  it("container and volume names reach the compose file, which the real docker-compose accepts", async () => {
    const b = await existing();
    const file = stdinOf(command(b.run, "mnemosyne-compose"));
    const doc = parseYaml(file, { merge: true }) as { services: Record<string, { container_name?: string }>; volumes: Record<string, { name?: string } | null> };
    expect(Object.fromEntries(Object.entries(doc.services).map(([k, v]) => [k, v.container_name ?? null]))).toEqual({
      app: "mnemosyne-django",
      mcp: null,
      worker: null,
      "static-init": null,
      web: "mnemosyne-nginx",
    });
    expect(doc.volumes).toEqual({ static: { name: "mnemosyne-static-files" } });
    // Unset, compose names them itself: the default file has neither.
    expect(stdinOf(command(A.run, "mnemosyne-compose"))).not.toMatch(/container_name|^\s+name:/m);
    const dir = tempTree({ "docker-compose.yaml": file, ".env": stdinOf(command(b.run, "mnemosyne-env")), "nginx/mnemosyne.conf": "" });
    try {
      const r = runTool("docker-compose", ["--project-directory", dir, "-p", "mnemosyne", "-f", path.join(dir, "docker-compose.yaml"), "config"]);
      expectValid(r, "the compose file with existing names");
      const resolved = parseYaml(r.output) as { services: Record<string, { container_name?: string }>; volumes: Record<string, { name?: string }> };
      expect([resolved.services.app?.container_name, resolved.services.web?.container_name, resolved.volumes.static?.name]).toEqual(["mnemosyne-django", "mnemosyne-nginx", "mnemosyne-static-files"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the first up adopts what runs under the project's names and the listed ones, backing it up under the directory", async () => {
    const b = await existing();
    const adopt = command(b.run, "mnemosyne-adopt");
    expect(hostOf(adopt)).toBe("puck.incus");
    const body = script(adopt);
    const loop = (text: string, word: string) => shellWords(text.split("\n").find((l) => l.startsWith(`for ${word} in `))!.replace(/; do$/, ""));
    expect(loop(body, "name")).toEqual(["for", "name", "in", "mnemosyne-django", "mnemosyne-mcp-1", "mnemosyne-worker-1", "mnemosyne-static-init-1", "mnemosyne-nginx", "mnemosyne_web_1"]);
    expect(loop(body, "net")).toEqual(["for", "net", "in", "mnemosyne_mnemosyne"]);
    expect(body).toContain(`dir='/opt/mnemosyne/backups/adopted'/"$name-$(date -u +%Y%m%dT%H%M%SZ)"`);
    // Before the project comes up; on by default, under compose's own names.
    expect(dependsOn(command(b.run, "mnemosyne-up"))).toContain("mnemosyne-adopt");
    expect(loop(script(command(A.run, "mnemosyne-adopt")), "name")).toEqual(["for", "name", "in", ...["app", "mcp", "worker", "static-init", "web"].map((s) => `mnemosyne-${s}-1`)]);
  });

  it("adopt.enabled false: no adoption", async () => {
    const b = await build({ mnemosyne: { adopt: { enabled: false } } });
    expect(b.run.names()).not.toContain("mnemosyne-adopt");
  });
});
