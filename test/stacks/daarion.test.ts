/**
 * Stack `daarion`, the whole graph under mocks, against the seeds: one `it` per item of
 * daarion-node-standards.md's "Compliance Checklist", "Pre-Deployment Checklist" and
 * "Post-Deployment" (titled as the item), then the standards' rules one by one, with the
 * rendered files checked by the real tools (docker-compose, nginx, promtool,
 * systemd-analyze) and the node's scripts run for real (backups with a fake `docker` on
 * PATH, migrations against a throwaway PostgreSQL, the checkout against a local git
 * repository). Expectations are cut from the seed files where the seeds give them.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { systemdUnitStrict } from "../../src/remote/daemons";
import { type MockRun, mockPassword, type RecordedResource, runProgram, TEST_HOST_KEY, unwrap } from "../../src/testing/mocks";
import { type Daarion } from "../../stacks/daarion";
import { CATALOGUE, containerName, GATEWAY_PORTS, service, SERVICE_NAMES, type ServiceName } from "../../stacks/daarion/catalogue";
import { ROLE_SERVICES } from "../../stacks/daarion/rules";
import { containerNginx } from "../../src/remote/daemons";
import { BACKUP_SERVICE, BACKUP_TIMER, LAYOUT, ROOT } from "../../stacks/daarion/layout";
import { repoSyncScript } from "../../stacks/daarion/render/checkout";
import { HEALTHCHECK_DEFAULTS } from "../../stacks/daarion/render/compose";
import { PLACEHOLDER } from "../../stacks/daarion/render/env";
import { RATE_LIMIT, renderGateway } from "../../stacks/daarion/render/gateway";
import { hostProbes, servicesHealthScript } from "../../stacks/daarion/render/scripts";
import { daarionSchema } from "../../stacks/daarion/config";
import { planNodes } from "../../stacks/daarion/plan";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN, REPO } from "./daarion-config";
import {
  checklist,
  COMMAND,
  command,
  dependsOn,
  dotenv,
  executable,
  hostOf,
  isSecretInput,
  managedFile,
  nginxBlock,
  OVERVIEW,
  reveal,
  runSh,
  script,
  section,
  shellWords,
  STANDARDS,
  stdinOf,
  table,
  tempDir,
} from "./daarion-helpers";
import { writeSelfSigned } from "../helpers/certs";
import { buildCache, refused } from "../helpers/inputs";

// ── Building the program ─────────────────────────────────────────────────────

interface Built {
  readonly run: MockRun;
  readonly stack: Daarion;
  /** Images whose digest the program looked up in the registry. */
  readonly lookedUp: string[];
}

async function build(settings: Record<string, unknown> = daarionSettings(), overrides: Record<string, unknown> = {}): Promise<Built> {
  const { Daarion } = await import("../../stacks/daarion");
  const { config, secretKeys } = daarionConfig(settings, overrides);
  const lookedUp: string[] = [];
  let stack: Daarion | undefined;
  const run = await runProgram(
    () => {
      stack = new Daarion("daarion");
      return stack.outputs;
    },
    {
      stack: "daarion",
      config,
      secretKeys,
      calls: {
        [REGISTRY_TOKEN]: (args) => {
          const name = String(args.name);
          lookedUp.push(name);
          return { id: name, name, sha256Digest: digestFor(name) };
        },
      },
    },
  );
  if (!stack) throw new Error("the program registered no Daarion stack");
  return { run, stack, lookedUp };
}

/** Each distinct program is built once per file and shared. */
const shared = buildCache<Built>();

/** Characters the seed-less rule says must be percent-encoded in DATABASE_URL, and a space. */
const PG_PASSWORD = "p@ss:/#%?&= w0rd";
const EARLIER = `sha256:${"e".repeat(64)}`;
const PINNED = `sha256:${"a".repeat(64)}`;

const defaults = () => shared("defaults", () => build());
const configuredPassword = () => shared("configured password", () => build(daarionSettings(), { "fleet:daarionPostgresPassword": PG_PASSWORD }));
const rolledBack = () =>
  shared("rolled back", () =>
    build(daarionSettings({ images: { "auth-service": { digest: PINNED } }, rollback: { active: true, digests: { "city-service": EARLIER, "auth-service": EARLIER } } })),
  );
const withRollbackPlan = () => shared("rollback plan", () => build(daarionSettings({ rollback: { digests: { "city-service": EARLIER } } })));
const nextRef = () => shared("next ref", () => build(daarionSettings({ repo: { ...REPO, ref: "v1.1.0" } })));
const federation = () =>
  shared("federation", () =>
    build(daarionSettings({ nodes: [{ name: "noda3", role: "federation", domain: "matrix.daarion.city" }] })),
  );

let A: Built;
beforeAll(async () => {
  A = await defaults();
});

// ── Reading a node ───────────────────────────────────────────────────────────

interface ComposeService {
  image: string;
  container_name: string;
  restart?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  networks: string[];
  labels: string[];
  healthcheck: { test: string[]; interval: string; timeout: string; retries: number; start_period: string };
  depends_on?: Record<string, { condition: string }>;
}

interface ComposeDoc {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string }>;
  volumes?: Record<string, { name: string }>;
}

function composeText(b: Built, node: string): string {
  return stdinOf(command(b.run, `${node}-compose-compose`));
}

function compose(b: Built, node: string): ComposeDoc {
  return parseYaml(composeText(b, node)) as ComposeDoc;
}

function envText(b: Built, node: string): string {
  return stdinOf(command(b.run, `${node}-compose-env`));
}

function gateway(b: Built, node: string): string {
  return stdinOf(command(b.run, `${node}-gateway-conf`));
}

function servicesOf(b: Built, node: string): string[] {
  return Object.keys(compose(b, node).services);
}

/** `docker-compose config` (v1.29, installed here) on the node's project as deployed. */
function composeConfig(b: Built, node: string, args: readonly string[] = ["-q"]): { code: number; output: string } {
  const dir = tempDir("fleet-daarion-compose-");
  try {
    writeFileSync(path.join(dir, "docker-compose.all.yml"), composeText(b, node));
    writeFileSync(path.join(dir, ".env"), envText(b, node));
    const argv = ["--project-name", "daarion", "--project-directory", dir, "-f", `${dir}/docker-compose.all.yml`, "--env-file", `${dir}/.env`, "config", ...args];
    const r = spawnSync("docker-compose", argv, { encoding: "utf8", timeout: 60_000 });
    if (r.error) throw new Error(`validator "docker-compose" could not run: ${r.error.message}`);
    return { code: r.status ?? 1, output: r.status === 0 ? r.stdout : `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A temp nginx prefix holding the gateway config as deployed, included in the http context
 * like the nginx image's nginx.conf does. Only the certificate paths are pointed at a
 * throwaway self-signed pair; the resolver stays Docker's (127.0.0.11): with upstreams in
 * variables nginx needs no name to resolve at load time. The caller removes the directory.
 */
function nginxPrefix(conf: string, domain: string): string {
  const dir = tempDir("fleet-daarion-nginx-");
  mkdirSync(path.join(dir, "conf.d"));
  mkdirSync(path.join(dir, "tmp"));
  // One P-256 pair per domain and worker (test/helpers/certs.ts), not an RSA keygen per call.
  writeSelfSigned(domain, `${dir}/cert.pem`, `${dir}/key.pem`);
  const local = conf
    .replace(`ssl_certificate /etc/letsencrypt/live/${domain}/fullchain.pem;`, `ssl_certificate ${dir}/cert.pem;`)
    .replace(`ssl_certificate_key /etc/letsencrypt/live/${domain}/privkey.pem;`, `ssl_certificate_key ${dir}/key.pem;`);
  if (local === conf) throw new Error(`the gateway config names no certificate for ${domain}`);
  writeFileSync(path.join(dir, "conf.d", "default.conf"), local);
  writeFileSync(
    path.join(dir, "nginx.conf"),
    [
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log;`,
      "events {}",
      "http {",
      `    access_log ${dir}/access.log;`,
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `    ${t}_temp_path ${dir}/tmp/${t};`),
      `    include ${dir}/conf.d/*.conf;`,
      "}",
      "",
    ].join("\n"),
  );
  return dir;
}

/** `nginx -t` (the real one) on the gateway config as deployed. */
function nginxT(conf: string, domain: string): { code: number; output: string } {
  const dir = nginxPrefix(conf, domain);
  try {
    const r = spawnSync("nginx", ["-t", "-c", path.join(dir, "nginx.conf"), "-p", dir], { encoding: "utf8", timeout: 60_000 });
    if (r.error) throw new Error(`validator "nginx" could not run: ${r.error.message}`);
    return { code: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function promtool(text: string): { code: number; output: string } {
  const dir = tempDir("fleet-daarion-prom-");
  try {
    writeFileSync(path.join(dir, "prometheus.yml"), text);
    const r = spawnSync("promtool", ["check", "config", path.join(dir, "prometheus.yml")], { encoding: "utf8", timeout: 60_000 });
    if (r.error) throw new Error(`validator "promtool" could not run: ${r.error.message}`);
    return { code: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The script a RemoteTask's command runs. */
function taskScript(b: Built, name: string): string {
  return script(command(b.run, `${name}-command`));
}

/** Names of the commands a command waits for, following components to their children. */
function waitsFor(b: Built, r: RecordedResource): string[] {
  const out = new Set<string>();
  const visit = (name: string) => {
    const res = b.run.find(name);
    if (!res) return;
    if (res.custom) out.add(name);
    else for (const child of b.run.resources.filter((c) => c.parentName === name)) visit(child.name);
  };
  for (const d of dependsOn(r)) visit(d);
  return [...out];
}

// ── The seeds' tables ────────────────────────────────────────────────────────

/** Overview "API Routes": [external route, internal URL]. */
const API_ROUTES = table(OVERVIEW, "API Routes").map(([, external, internal]) => [external!, internal!] as const);
/** Overview "WebSocket Routes". */
const WS_ROUTES = table(OVERVIEW, "WebSocket Routes").map(([, external, internal]) => [external!, internal!] as const);

/** Overview "Services Stack": every service named in bold, with its port where given. */
function overviewServices(): { name: string; port: number | undefined }[] {
  const infra: Record<string, string> = { PostgreSQL: "postgres", Redis: "redis", NATS: "nats", "Matrix Synapse": "matrix-synapse" };
  return [...section(OVERVIEW, "Services Stack").matchAll(/^- \*\*([^*]+)\*\*(?: \((?:nginx:)?(\d+)[^)]*\))?/gm)].map((m) => ({
    name: infra[m[1]!] ?? m[1]!,
    port: m[2] === undefined ? undefined : Number(m[2]),
  }));
}

/** Standards "Multimodal Services (НОДА2 initially)": [service, port]. */
const MULTIMODAL = table(STANDARDS, "Multimodal Services").map(([name, port]) => [name!, Number(port)] as const);

// ── The checklists ───────────────────────────────────────────────────────────

describe("the checklists of daarion-node-standards.md are all covered", () => {
  it("every Compliance, Pre-Deployment and Post-Deployment item has a test below or a stated reason it is not infrastructure's", () => {
    expect(checklist(STANDARDS, "Compliance Checklist")).toEqual(Object.keys(COMPLIANCE));
    const pre = checklist(STANDARDS, "Pre-Deployment Checklist");
    expect(pre.filter((i) => i in PRE_DEPLOYMENT)).toEqual(Object.keys(PRE_DEPLOYMENT));
    expect(pre.filter((i) => !(i in PRE_DEPLOYMENT))).toEqual(Object.keys(NOT_INFRASTRUCTURE));
    expect(checklist(STANDARDS, "Post-Deployment")).toEqual(Object.keys(POST_DEPLOYMENT));
  });
});

const NOT_INFRASTRUCTURE: Record<string, string> = {
  "All tests passed (якщо є)": "the application's test suite runs in its CI; the stack deploys images by digest that CI built",
  "Team notified (якщо production)": "the seeds name no notification channel",
};

const COMPLIANCE: Record<string, () => void | Promise<void>> = {
  "Стандартна структура каталогів": () => {
    // The tree of "Стандартна Структура Ноди", its directories at the first level and under infra/.
    const tree = section(STANDARDS, "Стандартна Структура Ноди");
    const top = [...tree.matchAll(/^[├└]── ([a-z]+)\/ /gm)].map((m) => m[1]!);
    expect(top).toEqual(["services", "migrations", "scripts", "docs", "infra", "backups"]);
    const infraBlock = /^├── infra\/.*\n((?:│ .*\n)+)/m.exec(tree)![1]!;
    // caddy/ is "якщо використовується": the gateway is nginx.
    const infra = [...infraBlock.matchAll(/^│ [├└]── ([a-z]+)\/(?: \(якщо використовується\))?$/gm)].map((m) => m[1]!).filter((d) => d !== "caddy");
    expect(infra).toEqual(["nginx", "prometheus", "grafana"]);
    for (const node of ["noda1", "noda2"]) {
      const dirs = command(A.run, `${node}-dirs-install`);
      expect(hostOf(dirs)).toBe(`${node}.daarion.city`);
      const made = script(dirs)
        .split("\n")
        .filter((l) => l.startsWith("install -d "))
        .map((l) => shellWords(l).at(-1)!);
      expect(made).toEqual(LAYOUT.map((d) => d.path));
      for (const d of [...top, ...infra.map((i) => `infra/${i}`)]) expect(made).toContain(`${ROOT}/${d}`);
      // Backups hold the whole database: root only.
      expect(script(dirs)).toContain(`install -d -o 'root' -g 'root' -m '0700' '${ROOT}/backups'`);
      // The files of the tree, where the tree puts them.
      expect(managedFile(command(A.run, `${node}-compose-compose`)).target).toBe(`${ROOT}/docker-compose.all.yml`);
      expect(managedFile(command(A.run, `${node}-compose-env`)).target).toBe(`${ROOT}/.env`);
      expect(managedFile(command(A.run, `${node}-env-example`)).target).toBe(`${ROOT}/.env.example`);
      expect(managedFile(command(A.run, `${node}-backup-script`)).target).toBe(`${ROOT}/scripts/backup-db.sh`);
      expect(managedFile(command(A.run, `${node}-gateway-conf`)).target).toBe(`${ROOT}/infra/nginx/conf.d/default.conf`);
      expect(managedFile(command(A.run, `${node}-prometheus-conf`)).target).toBe(`${ROOT}/infra/prometheus/prometheus.yml`);
    }
  },

  "Docker Compose з усіма сервісами": () => {
    for (const node of ["noda1", "noda2"]) {
      const plan = A.stack.plans.find((p) => p.name === node)!;
      expect(servicesOf(A, node)).toEqual([...plan.services]);
      const r = composeConfig(A, node);
      if (r.code !== 0) throw new Error(`docker-compose rejected ${node}'s compose:\n${r.output}`);
    }
    // НОДА1 runs the overview's whole layout.
    const all = overviewServices().map((s) => s.name);
    expect(all).toHaveLength(22);
    expect(servicesOf(A, "noda1")).toEqual(expect.arrayContaining(all));
  },

  "Health endpoints на всіх сервісах": () => {
    for (const node of ["noda1", "noda2"]) {
      const doc = compose(A, node);
      const plan = A.stack.plans.find((p) => p.name === node)!;
      const fromHost = hostProbes(plan);
      for (const [name, svc] of Object.entries(doc.services)) {
        const def = service(name as ServiceName);
        if (def.image === "own") {
          // Nothing assumed inside DAARION's own images (the standards' example runs curl
          // there): the host probes GET /health (the frontend: /) at the container's address.
          expect(svc.healthcheck, `${node}/${name}`).toBeUndefined();
          expect(fromHost.find((p) => p.name === name), `${node}/${name}`).toEqual({ name, container: `daarion-${name}`, port: plan.ports[def.name], path: name === "frontend" ? "/" : "/health" });
        } else {
          // Upstream images whose tools are known (pg_isready, redis-cli, wget in alpine images).
          expect(svc.healthcheck, `${node}/${name}`).toMatchObject({ interval: "30s", timeout: "10s", retries: 3, start_period: "40s" });
        }
      }
      const task = taskScript(A, `${node}-services-health`);
      for (const p of fromHost) expect(task).toContain(`probe '${p.container}' ${p.port} '${p.path}'`);
      // The deployment waits, bounded, until every service reports healthy.
      const up = script(command(A.run, `${node}-compose-up`));
      expect(up).toContain("deadline=$(( $(date +%s) + 600 ))");
      expect(up).toContain("label=com.docker.compose.project=daarion");
      expect(up).toContain('$2 == "running" && ($4 == "healthy" || $4 == "none") { next }');
      // The host's probes gate up as well: a version that fails them is rolled back (issue 13 item 2).
      expect(up).toContain(" && fleet_wait && fleet_checks; then\n");
      expect(up).toContain(`  fleet_failed_check='services-health'\n  (\n${servicesHealthScript(plan)}\n  ) || return 1\n`);
      expect(up).toContain(`' failed on ${plan.name}: project daarion came up, but the new version is not healthy'`);
    }
  },

  "Prometheus metrics": () => {
    for (const node of ["noda1", "noda2"]) {
      const text = stdinOf(command(A.run, `${node}-prometheus-conf`));
      const check = promtool(text);
      if (check.code !== 0) throw new Error(`promtool rejected ${node}'s prometheus.yml:\n${check.output}`);
      const doc = parseYaml(text) as { scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[] };
      const plan = A.stack.plans.find((p) => p.name === node)!;
      // Only services declared to export metrics get a job: none of DAARION's own services
      // unless fleet:daarion.probes declares it (see "scrapes only the services declared").
      expect(doc.scrape_configs.map((j) => j.job_name).sort()).toEqual(plan.services.filter((s) => s === "prometheus" || s === "grafana").sort());
      // Prometheus is on the same network and publishes nothing: that is how it reaches them.
      const prom = compose(A, node).services.prometheus!;
      expect(prom.networks).toEqual(["daarion_net"]);
      expect(prom.ports).toBeUndefined();
      expect(prom.volumes).toContain("./infra/prometheus:/etc/prometheus:ro");
      // A changed config is checked by promtool inside the container, then Prometheus reloads.
      const conf = script(command(A.run, `${node}-prometheus-conf`));
      expect(conf).toContain("docker exec 'daarion-prometheus' promtool check config '/etc/prometheus/prometheus.yml'");
      expect(conf).toContain("docker kill --signal HUP 'daarion-prometheus'");
    }
  },

  "Backup strategy": () => {
    for (const node of ["noda1", "noda2"]) {
      const timer = stdinOf(command(A.run, `${node}-backup-timer-unit`));
      expect(timer).toContain("OnCalendar=*-*-* 03:00:00 UTC\nPersistent=yes\nUnit=daarion-backup.service\n");
      expect(script(command(A.run, `${node}-backup-timer-enable`))).toContain("systemctl enable --now -- 'daarion-backup.timer'");
      const svc = stdinOf(command(A.run, `${node}-backup-unit`));
      expect(svc).toContain(`Type=oneshot\nWorkingDirectory=${ROOT}\nExecStart=${ROOT}/scripts/backup-db.sh\n`);
      const backup = stdinOf(command(A.run, `${node}-backup-script`));
      expect(backup).toContain("keep_daily=7\nkeep_weekly=4\n");
      expect(backup).toContain(`docker exec "$container" pg_dump -U postgres "$database" > "$part"`);
      expect(backup).toContain("container='daarion-postgres'\ndatabase='daarion_memory'\n");
    }
  },

  "Rollback plan": async () => {
    const b = await rolledBack();
    const doc = compose(b, "noda1");
    // Active: the earlier digests run, overriding even a pinned current digest.
    expect(doc.services["city-service"]!.image).toBe(`ghcr.io/ivantytar/microdao-daarion/city-service@${EARLIER}`);
    expect(doc.services["auth-service"]!.image).toBe(`ghcr.io/ivantytar/microdao-daarion/auth-service@${EARLIER}`);
    // Nothing pinned is looked up; everything else still is.
    expect(b.lookedUp).not.toContain("ghcr.io/ivantytar/microdao-daarion/city-service:latest");
    expect(b.lookedUp).not.toContain("ghcr.io/ivantytar/microdao-daarion/auth-service:latest");
    expect(b.lookedUp).toContain("ghcr.io/ivantytar/microdao-daarion/dao-service:latest");
    expect(stdinOf(command(b.run, "noda1-doc"))).toContain("**A rollback is active:**");
  },

  "Nginx/Gateway з SSL": () => {
    for (const [node, domain] of [["noda1", "gateway.daarion.city"], ["noda2", "dev.daarion.city"]] as const) {
      const conf = gateway(A, node);
      const https = nginxBlock(conf, "server", 1);
      expect(https).toEqual(
        expect.arrayContaining([
          "listen 443 ssl;",
          `server_name ${domain};`,
          `ssl_certificate /etc/letsencrypt/live/${domain}/fullchain.pem;`,
          `ssl_certificate_key /etc/letsencrypt/live/${domain}/privkey.pem;`,
          "ssl_protocols TLSv1.2 TLSv1.3;",
        ]),
      );
      // Port 80 answers health and ACME challenges, and sends everything else to HTTPS.
      const http = nginxBlock(conf, "server", 0);
      expect(http).toContain("listen 80;");
      expect(http.join("\n")).toContain("location / {\nreturn 301 https://$host$request_uri;\n}");
      // The certificate directory reaches the gateway read-only; the certificate must exist before it starts.
      expect(compose(A, node).services.gateway!.volumes).toContain("/etc/letsencrypt:/etc/letsencrypt:ro");
      expect(taskScript(A, `${node}-tls`)).toContain(`if [ ! -r '/etc/letsencrypt/live/${domain}/fullchain.pem' ]; then`);
      expect(waitsFor(A, command(A.run, `${node}-compose-up`))).toContain(`${node}-tls-command`);
      const r = nginxT(conf, domain);
      if (r.code !== 0) throw new Error(`nginx -t rejected ${node}'s gateway:\n${r.output}`);
    }
  },

  "`.env` не в Git": () => {
    for (const node of ["noda1", "noda2"]) {
      const env = command(A.run, `${node}-compose-env`);
      expect(managedFile(env)).toEqual({ target: `${ROOT}/.env`, owner: "root:root", mode: "0600" });
      expect(isSecretInput(env.inputs.stdin)).toBe(true);
      expect(env.inputs.logging).toBe("none");
      // The repository checkout lives in .repo/, so .env is never inside a work tree.
      expect(taskScript(A, `${node}-repo`)).toContain(`cd '${ROOT}/.repo'`);
      // .env.example (the one in Git): the same keys, placeholders for the secrets.
      const example = command(A.run, `${node}-env-example`);
      expect(managedFile(example)).toEqual({ target: `${ROOT}/.env.example`, owner: "root:root", mode: "0644" });
      expect(isSecretInput(example.inputs.stdin)).toBe(false);
      const real = dotenv(envText(A, node));
      const placeholders = dotenv(stdinOf(example));
      expect(Object.keys(placeholders)).toEqual(Object.keys(real));
      expect(placeholders.POSTGRES_PASSWORD).toBe(PLACEHOLDER);
      expect(placeholders.DATABASE_URL).toBe(`postgresql://postgres:${PLACEHOLDER}@postgres:5432/daarion_memory`);
      expect(stdinOf(example)).not.toContain(mockPassword(`${node}-postgres-password`));
      // Every value the stack puts in .env reaches a container: the compose file passes it
      // to some service as ${KEY} (issue 13 item 10; test/docker/daarion.test.ts proves the
      // processes see them). A key no service reads would be a setting that silently does nothing.
      const file = composeText(A, node);
      expect(Object.keys(real).filter((k) => !file.includes(`\${${k}}`))).toEqual([]);
    }
  },

  "Документація актуальна": async () => {
    const doc = stdinOf(command(A.run, "noda1-doc"));
    expect(managedFile(command(A.run, "noda1-doc")).target).toBe(`${ROOT}/docs/NODE_INFRASTRUCTURE.md`);
    const images = (await unwrap(A.stack.nodes.noda1!.images)) as Record<string, string>;
    expect(Object.keys(images)).toHaveLength(24);
    for (const [svc, image] of Object.entries(images)) {
      expect(doc).toContain(`| ${svc} | ${containerName(svc as ServiceName)} |`);
      expect(doc).toContain(`\`${image}\``);
    }
    for (const [external, internal] of [...API_ROUTES, ...WS_ROUTES]) expect(doc).toContain(`| \`${external}\` | \`${internal}\` |`);
    expect(doc).toContain(`Code and migrations:** ${REPO.url} at \`${REPO.ref}\` (must be merged into \`main\`)`);
    // Rewritten when the deployment changes: the new ref is in it.
    expect(stdinOf(command((await nextRef()).run, "noda1-doc"))).toContain("at `v1.1.0`");
  },
};

const PRE_DEPLOYMENT: Record<string, () => void | Promise<void>> = {
  "Git branch merged to `main`": () => {
    // Production refuses a ref not merged into main (run for real in "The repository checkout").
    const prod = taskScript(A, "noda1-repo");
    expect(prod).toContain("git fetch -q --filter=blob:none origin '+refs/heads/main:refs/remotes/origin/main'");
    expect(prod).toContain(`if ! git merge-base --is-ancestor "$commit" 'refs/remotes/origin/main'; then`);
    // A development node may run a branch.
    expect(taskScript(A, "noda2-repo")).not.toContain("merge-base");
    // Nothing starts from code that failed the check: migrations wait for it.
    expect(waitsFor(A, command(A.run, "noda1-migrate-command"))).toContain("noda1-repo-command");
  },

  "Database backup created": async () => {
    for (const node of ["noda1", "noda2"]) {
      const pre = command(A.run, `${node}-pre-deploy-backup-command`);
      expect(script(pre)).toContain(`exec '${ROOT}/scripts/backup-db.sh' --if-running`);
      expect(waitsFor(A, pre)).toContain(`${node}-backup-script`);
      // Before the new images start (and so before migrations).
      expect(waitsFor(A, command(A.run, `${node}-compose-up`))).toContain(`${node}-pre-deploy-backup-command`);
    }
    // Taken again whenever the deployment changes (here: the code revision).
    const later = await nextRef();
    expect(reveal(command(later.run, "noda1-pre-deploy-backup-command").inputs.triggers)).not.toEqual(reveal(command(A.run, "noda1-pre-deploy-backup-command").inputs.triggers));
  },

  "Health checks passing on staging/dev": () => {
    // Production's services start only once the development gateway answers healthy.
    expect(waitsFor(A, command(A.run, "noda1-compose-up"))).toContain("noda2-gateway-health-check");
    expect(waitsFor(A, command(A.run, "noda2-compose-up"))).not.toContain("noda1-gateway-health-check");
  },

  "Rollback plan documented": async () => {
    const b = await withRollbackPlan();
    const doc = stdinOf(command(b.run, "noda1-doc"));
    expect(doc).toContain(`| city-service | \`${EARLIER}\` |`);
    expect(doc).toContain("pulumi config set --path 'fleet:daarion.rollback.active' true");
    // Recorded, not active: the current images still run.
    expect(compose(b, "noda1").services["city-service"]!.image).not.toContain(EARLIER);
    // Without a recorded plan the document says so.
    expect(stdinOf(command(A.run, "noda1-doc"))).toContain("No earlier digest is recorded yet");
  },
};

const POST_DEPLOYMENT: Record<string, () => void | Promise<void>> = {
  "Health checks passing": () => {
    for (const [node, domain] of [["noda1", "gateway.daarion.city"], ["noda2", "dev.daarion.city"]] as const) {
      const check = command(A.run, `${node}-gateway-health-check`);
      const s = script(check);
      const curl = shellWords(s.split("\n").find((l) => l.includes("curl -sS"))!);
      expect(curl).toContain(`https://${domain}/health`);
      expect(curl[curl.indexOf("--resolve") + 1]).toBe(`${domain}:443:127.0.0.1`);
      expect(s).toContain(`grep -Eq -- '"status": ?"healthy"' "$body"`);
      expect(waitsFor(A, check)).toEqual(expect.arrayContaining([`${node}-compose-up`, `${node}-migrate-command`, `${node}-gateway-conf`]));
      // What the gateway answers matches what the check expects.
      const health = nginxBlock(gateway(A, node), "location = /health");
      expect(health[1]).toMatch(/^return 200 '\{"status": "healthy", "service": "gateway"/);
    }
  },

  "Metrics appearing in Prometheus": () => {
    const s = taskScript(A, "noda1-metrics-check");
    const plan = A.stack.plans.find((p) => p.name === "noda1")!;
    const jobs = plan.services.filter((n) => service(n).metrics !== undefined);
    expect(shellWords(s.split("\n")[0]!)).toEqual([`jobs=${jobs.join(" ")}`]);
    expect(s).toContain(`docker exec 'daarion-prometheus' wget -q -O - "http://localhost:9090/api/v1/query?query=up%7Bjob%3D%22$job%22%7D"`);
    expect(waitsFor(A, command(A.run, "noda1-metrics-check-command"))).toEqual(expect.arrayContaining(["noda1-compose-up", "noda1-prometheus-conf"]));
  },

  "No critical errors in logs": () => {
    const s = taskScript(A, "noda1-logs-check");
    expect(shellWords(s.split("\n")[0]!)).toEqual([`containers=${A.stack.plans[0]!.services.map(containerName).join(" ")}`]);
    expect(s).toContain(`docker logs --since '15m' "$c" 2>&1 | grep -E '"level": ?"CRITICAL"'`);
    expect(waitsFor(A, command(A.run, "noda1-logs-check-command"))).toContain("noda1-gateway-health-check");
  },

  "Existing services unaffected": () => {
    for (const node of ["noda1", "noda2"]) {
      const up = script(command(A.run, `${node}-compose-up`));
      // up -d recreates only what changed; nothing forces the rest down or recreated.
      expect(up).not.toMatch(/--force-recreate|\bdown\b|\brm\b/);
      // The wait covers every container of the project, changed or not.
      expect(up).toContain("docker ps -a -q --filter 'label=com.docker.compose.project=daarion'");
      // Config changes reload the running daemon, checked first; nothing restarts for them.
      expect(script(command(A.run, `${node}-gateway-conf`))).toContain("docker exec 'daarion-gateway' nginx -t");
      expect(script(command(A.run, `${node}-gateway-conf`))).toContain("docker exec 'daarion-gateway' nginx -s reload");
    }
  },

  "Update INFRASTRUCTURE.md": async () => {
    const before = stdinOf(command(A.run, "noda1-doc"));
    const after = stdinOf(command((await rolledBack()).run, "noda1-doc"));
    expect(after).not.toBe(before);
    expect(after).toContain(`city-service@${EARLIER}`);
    expect(before.startsWith("<!-- Managed by pulumi-fleet. Rewritten on every `pulumi up`")).toBe(true);
  },
};

describe("daarion-node-standards.md Compliance Checklist (every node has)", () => {
  for (const [item, test] of Object.entries(COMPLIANCE)) it(item, test);
});

describe("daarion-node-standards.md Pre-Deployment Checklist", () => {
  for (const [item, test] of Object.entries(PRE_DEPLOYMENT)) it(item, test);
});

describe("daarion-node-standards.md Post-Deployment", () => {
  for (const [item, test] of Object.entries(POST_DEPLOYMENT)) it(item, test);
});

// ── Docker standards ─────────────────────────────────────────────────────────

describe("the compose file (daarion-node-standards.md Docker Standards)", () => {
  it("passes the real `docker-compose config -q` with the rendered .env, on every node", () => {
    for (const node of ["noda1", "noda2"]) {
      const r = composeConfig(A, node);
      expect(r, r.output).toEqual({ code: 0, output: "" });
    }
  });

  it("names containers daarion-<service>", () => {
    for (const node of ["noda1", "noda2"]) {
      for (const [name, svc] of Object.entries(compose(A, node).services)) expect(svc.container_name).toBe(`daarion-${name}`);
    }
    expect(compose(A, "noda1").services["agents-service"]!.container_name).toBe("daarion-agents-service");
  });

  it("puts every service on the one network daarion_net", () => {
    const doc = compose(A, "noda1");
    expect(doc.networks).toEqual({ daarion_net: { name: "daarion_net", driver: "bridge" } });
    for (const svc of Object.values(doc.services)) expect(svc.networks).toEqual(["daarion_net"]);
  });

  it("names volumes <service>_data (the overview's four among them), with no project prefix", () => {
    const doc = compose(A, "noda1");
    const overviewVolumes = [...section(OVERVIEW, "Volumes").matchAll(/^- `([a-z_]+)`/gm)].map((m) => m[1]!);
    expect(overviewVolumes).toEqual(["postgres_data", "nats_data", "redis_data", "matrix_data"]);
    for (const v of overviewVolumes) expect(doc.volumes![v]).toEqual({ name: v });
    for (const [name, v] of Object.entries(doc.volumes!)) expect(v.name).toBe(name);
    expect(doc.services.postgres!.volumes).toEqual(["postgres_data:/var/lib/postgresql/data"]);
    expect(doc.services["matrix-synapse"]!.volumes).toEqual(["matrix_data:/data"]);
    for (const name of Object.keys(doc.volumes!)) expect(name).toMatch(/^[a-z-]+_data$/);
  });

  it("labels every service com.daarion.service / tier / phase (agents-service as the standards' example)", () => {
    const doc = compose(A, "noda1");
    for (const [name, svc] of Object.entries(doc.services)) {
      // The three standard labels; a service without a compose healthcheck also says it is probed from the host.
      const probed = svc.healthcheck === undefined ? ["com.daarion.health"] : [];
      expect(svc.labels.map((l) => l.split("=")[0])).toEqual(["com.daarion.service", "com.daarion.tier", "com.daarion.phase", ...probed]);
      expect(svc.labels[0]).toBe(`com.daarion.service=${service(name as ServiceName).short}`);
    }
    expect(doc.services["agents-service"]!.labels).toEqual(["com.daarion.service=agents", "com.daarion.tier=backend", "com.daarion.phase=phase6", "com.daarion.health=host:/health"]);
    expect(doc.services["city-service"]!.labels).toEqual(["com.daarion.service=city", "com.daarion.tier=backend", "com.daarion.phase=mvp", "com.daarion.health=host:/health"]);
    expect(doc.services.redis!.labels).not.toContain("com.daarion.health=host:/health");
  });

  it("publishes ports on the gateway only, 80 and 443 (Network Isolation)", () => {
    for (const node of ["noda1", "noda2"]) {
      const published = Object.entries(compose(A, node).services).filter(([, s]) => s.ports !== undefined);
      expect(published).toEqual([["gateway", expect.objectContaining({ ports: GATEWAY_PORTS.map((p) => `${p}:${p}`) })]]);
      for (const svc of Object.values(compose(A, node).services)) expect(svc).not.toHaveProperty("expose");
    }
  });

  it("gives every service the standards' healthcheck defaults: interval 30s, timeout 10s, retries 3, start_period 40s", () => {
    const block = section(STANDARDS, "Docker Healthcheck");
    const seed = Object.fromEntries([...block.matchAll(/^(interval|timeout|retries|start_period): (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(seed).toEqual({ interval: "30s", timeout: "10s", retries: "3", start_period: "40s" });
    expect(HEALTHCHECK_DEFAULTS).toEqual({ interval: "30s", timeout: "10s", retries: 3, startPeriod: "40s" });
    for (const node of ["noda1", "noda2"]) {
      for (const svc of Object.values(compose(A, node).services)) {
        // Services probed from the host have no compose healthcheck at all (see "Health endpoints").
        if (svc.healthcheck === undefined) continue;
        expect(svc.healthcheck).toMatchObject({ interval: seed.interval, timeout: seed.timeout, retries: Number(seed.retries), start_period: seed.start_period });
      }
    }
  });

  it("starts services after their dependencies are healthy, or started when they are probed from the host", () => {
    const doc = compose(A, "noda1");
    expect(doc.services["agents-service"]!.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
      nats: { condition: "service_healthy" },
      "auth-service": { condition: "service_started" },
      "pdp-service": { condition: "service_started" },
      "dagi-router": { condition: "service_started" },
    });
    // The gateway resolves upstreams per request: it starts (and answers /health) on its own.
    expect(doc.services.gateway!.depends_on).toBeUndefined();
  });

  it("takes a check configured per service (inside the image) and scrapes only the services declared to export metrics", async () => {
    const b = await build(
      daarionSettings({
        probes: {
          "auth-service": { health: { command: ["CMD", "python3", "-c", "import urllib.request as u; u.urlopen('http://localhost:7011/health')"] } },
          "pdp-service": { health: { http: { path: "/ready", tool: "wget" } } },
          "agents-service": { metrics: { path: "/prom" } },
          "usage-engine": { metrics: {} },
        },
      }),
    );
    const doc = compose(b, "noda1");
    expect(doc.services["auth-service"]!.healthcheck).toMatchObject({ test: ["CMD", "python3", "-c", "import urllib.request as u; u.urlopen('http://localhost:7011/health')"], interval: "30s" });
    expect(doc.services["pdp-service"]!.healthcheck).toMatchObject({ test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:7012/ready"] });
    expect(doc.services["agents-service"]!.depends_on).toMatchObject({ "auth-service": { condition: "service_healthy" }, "pdp-service": { condition: "service_healthy" }, "dagi-router": { condition: "service_started" } });
    const plan = b.stack.plans.find((p) => p.name === "noda1")!;
    expect(hostProbes(plan).map((p) => p.name)).not.toContain("auth-service");
    const prom = parseYaml(stdinOf(command(b.run, "noda1-prometheus-conf"))) as { scrape_configs: { job_name: string; metrics_path: string; static_configs: { targets: string[] }[] }[] };
    expect(prom.scrape_configs.map((j) => j.job_name).sort()).toEqual(["agents-service", "grafana", "prometheus", "usage-engine"]);
    expect(prom.scrape_configs.find((j) => j.job_name === "agents-service")).toMatchObject({ metrics_path: "/prom", static_configs: [{ targets: [`agents-service:${plan.ports["agents-service"]}`] }] });
    // The post-deployment "target is up" check asks for exactly those jobs.
    expect(/^jobs='([^']*)'$/m.exec(taskScript(b, "noda1-metrics-check"))?.[1]?.split(" ").sort()).toEqual(["agents-service", "grafana", "prometheus", "usage-engine"]);
    const bad = daarionSchema.safeParse(daarionSettings({ probes: { "auth-service": { health: { command: ["curl", "-f", "x"] } } } }));
    expect(bad.success ? [] : bad.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`)).toEqual([
      'probes/auth-service/health/command: must start with CMD (then the program and its arguments) or be ["CMD-SHELL", "command"]',
    ]);
  });

  it("probes the services from the host with its own curl at their address on daarion_net, naming each that does not answer", () => {
    const plan = A.stack.plans.find((p) => p.name === "noda1")!;
    const text = servicesHealthScript(plan, 2, 0)!;
    const work = tempDir("fleet-daarion-probe-");
    try {
      // docker inspect → an address per container (none for a stopped one); curl → the status the "service" answers.
      executable(
        path.join(work, "bin", "docker"),
        ["#!/bin/sh", 'for a; do c="$a"; done', 'case "$c" in daarion-pdp-service) exit 1 ;; daarion-auth-service) echo 10.9.0.11 ;; *) echo 10.9.0.99 ;; esac', ""].join("\n"),
      );
      executable(
        path.join(work, "bin", "curl"),
        ["#!/bin/sh", 'echo "$*" >> "$LOG"', 'for a; do u="$a"; done', 'case "$u" in http://10.9.0.11:*) printf 503 ;; *) printf 200 ;; esac', ""].join("\n"),
      );
      const run = () => spawnSync("/bin/sh", ["-c", `set -eu\n${text}`], { encoding: "utf8", env: { ...process.env, PATH: `${work}/bin:${process.env.PATH ?? ""}`, LOG: `${work}/log` } });
      const r = run();
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("not healthy after 2 attempts (probed from the host, nothing inside their images)");
      expect(r.stderr).toContain(`auth-service: GET http://10.9.0.11:${plan.ports["auth-service"]}/health from the host did not answer 2xx/3xx`);
      expect(r.stderr).toContain("pdp-service: container daarion-pdp-service not found");
      expect(r.stderr.match(/^ {2}[a-z-]+: /gm)?.length).toBe(2);
      // Every probe went to a container address and the service's own port and path.
      expect(readFileSync(`${work}/log`, "utf8")).toContain(`http://10.9.0.99:${plan.ports["agents-service"]}/health`);
      executable(path.join(work, "bin", "docker"), ["#!/bin/sh", "echo 10.9.0.99", ""].join("\n"));
      const ok = run();
      expect({ code: ok.status, out: ok.stdout.trim() }).toEqual({ code: 0, out: expect.stringMatching(/^fleet: \d+ services of noda1 answer their health path from the host: /) });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("gives services DATABASE_URL, NATS_URL and REDIS_URL from .env, the password percent-encoded", async () => {
    const b = await configuredPassword();
    const env = dotenv(envText(b, "noda1"));
    expect(env.DATABASE_URL).toBe(`postgresql://postgres:${encodeURIComponent(PG_PASSWORD)}@postgres:5432/daarion_memory`);
    expect(env.DATABASE_URL).toContain("p%40ss%3A%2F%23%25%3F%26%3D%20w0rd");
    expect(env.POSTGRES_PASSWORD).toBe(PG_PASSWORD);
    expect(env.NATS_URL).toBe("nats://nats:4222");
    expect(env.REDIS_URL).toBe("redis://redis:6379/0");
    const auth = compose(b, "noda1").services["auth-service"]!.environment!;
    expect(auth).toMatchObject({ DATABASE_URL: "${DATABASE_URL}", NATS_URL: "${NATS_URL}", REDIS_URL: "${REDIS_URL}", PORT: "7011" });
    // Service-specific URLs (overview: "e.g., AUTH_SERVICE_URL") for the services a service calls.
    expect(compose(b, "noda1").services["messaging-service"]!.environment).toMatchObject({ AUTH_SERVICE_URL: "http://auth-service:7011", PDP_SERVICE_URL: "http://pdp-service:7012" });
    // And compose substitutes exactly that.
    const r = composeConfig(b, "noda1", []);
    expect(r.code, r.output).toBe(0);
    const resolved = parseYaml(r.output) as ComposeDoc;
    expect(resolved.services["auth-service"]!.environment!.DATABASE_URL).toBe(env.DATABASE_URL);
  });

  it("keeps the postgres password out of everything but the 0600 .env (secret, on stdin)", async () => {
    const b = await configuredPassword();
    const forms = [PG_PASSWORD, encodeURIComponent(PG_PASSWORD), Buffer.from(PG_PASSWORD).toString("base64")];
    const carriers = b.run.byType(COMMAND).filter((r) => forms.some((f) => JSON.stringify(reveal(r.inputs)).includes(f)));
    expect(carriers.map((r) => r.name).sort()).toEqual(["noda1-compose-env", "noda2-compose-env"]);
    for (const r of carriers) {
      expect(isSecretInput(r.inputs.stdin)).toBe(true);
      expect(Object.keys(r.inputs).filter((k) => k !== "stdin" && forms.some((f) => JSON.stringify(reveal(r.inputs[k])).includes(f)))).toEqual([]);
    }
    // Generated per node when not configured, protected so an `up` never rotates it.
    for (const node of ["noda1", "noda2"]) expect(A.run.get(`${node}-postgres-password`).opts.protect).toBe(true);
    expect(dotenv(envText(A, "noda1")).POSTGRES_PASSWORD).toBe(mockPassword("noda1-postgres-password"));
    expect(dotenv(envText(A, "noda2")).POSTGRES_PASSWORD).toBe(mockPassword("noda2-postgres-password"));
  });

  it("pins every image by digest, looking each tag up once for the whole stack", () => {
    for (const node of ["noda1", "noda2"]) {
      for (const [name, svc] of Object.entries(compose(A, node).services)) {
        const image = A.stack.plans.find((p) => p.name === node)!.images[name as ServiceName]!;
        expect(svc.image).toBe(`${image.replace(/:[^:/]+$/, "")}@${digestFor(image)}`);
      }
    }
    expect(A.lookedUp.length).toBe(new Set(A.lookedUp).size);
    expect(A.lookedUp).toContain("postgres:16-alpine");
  });
});

// ── The gateway ──────────────────────────────────────────────────────────────

describe("the gateway (daarion-deployment-overview.md routes, standards' rate limit)", () => {
  it("passes the real `nginx -t`, resolving container names per request through Docker's DNS", () => {
    for (const [node, domain] of [["noda1", "gateway.daarion.city"], ["noda2", "dev.daarion.city"]] as const) {
      const conf = gateway(A, node);
      const r = nginxT(conf, domain);
      expect(r.code, r.output).toBe(0);
      const https = nginxBlock(conf, "server", 1);
      expect(https).toEqual(expect.arrayContaining(["resolver 127.0.0.11 valid=10s ipv6=off;", "resolver_timeout 5s;"]));
      // No upstream is a literal name nginx would have to resolve at load time.
      expect(conf).not.toMatch(/proxy_pass http:\/\/[a-z]/);
    }
  });

  it("writes the request limits: the server's defaults (fit uploads), and a service's own in each of its routes; nginx -t accepts them", () => {
    const limitsOf = (block: string[]) => block.filter((l) => /^(client_max_body_size|proxy_read_timeout|proxy_send_timeout) /.test(l));
    const [plain] = planNodes(daarionSchema.parse(daarionSettings())).plans;
    const https = nginxBlock(renderGateway(plain!), "server", 1);
    // The server's own lines come before its locations (WebSocket ones keep their hour).
    expect(limitsOf(https).slice(0, 3)).toEqual(["client_max_body_size 256m;", "proxy_read_timeout 300s;", "proxy_send_timeout 300s;"]);
    expect(limitsOf(https).slice(3).every((l) => l.endsWith(" 3600s;"))).toBe(true);

    const cfg = daarionSchema.parse(
      daarionSettings({
        gateway: {
          limits: { maxBodySize: "64m" },
          routes: { "auth-service": { maxBodySize: "1g", readTimeout: "15m" }, "matrix-synapse": { sendTimeout: "1h" }, frontend: { maxBodySize: "0" } },
        },
      }),
    );
    const [noda1] = planNodes(cfg).plans;
    const conf = renderGateway(noda1!);
    expect(limitsOf(nginxBlock(conf, "server", 1)).slice(0, 3)).toEqual(["client_max_body_size 64m;", "proxy_read_timeout 300s;", "proxy_send_timeout 300s;"]);
    expect(limitsOf(nginxBlock(conf, "location /api/auth/"))).toEqual(["client_max_body_size 1g;", "proxy_read_timeout 15m;"]);
    expect(limitsOf(nginxBlock(conf, "location /api/pdp/"))).toEqual([]);
    expect(limitsOf(nginxBlock(conf, "location /_matrix/"))).toEqual(["proxy_send_timeout 1h;"]);
    expect(limitsOf(nginxBlock(conf, "location /", 1))).toEqual(["client_max_body_size 0;"]);
    const r = nginxT(conf, "gateway.daarion.city");
    expect(r.code, r.output).toBe(0);
    expect(() => daarionSchema.parse(daarionSettings({ gateway: { routes: { "auth-service": { maxBodySize: "1 GB" } } } }))).toThrow(/must be a size such as 512k, 256m or 2g/);
  });

  it("routes every location to a service of the node's compose file, at the port that service listens on (issue 13 item 5), a moved port included", async () => {
    const moved = await shared("moved ports", () =>
      build(daarionSettings({ nodes: [{ name: "noda1", role: "production", domain: "gateway.daarion.city", ports: { "auth-service": 7111, "living-map-service": 7117, frontend: 80 } }] })),
    );
    for (const [b, node] of [[A, "noda1"], [A, "noda2"], [await federation(), "noda3"], [moved, "noda1"]] as const) {
      const services = compose(b, node).services;
      const conf = gateway(b, node);
      const routes = [...conf.matchAll(/set \$daarion_upstream (\S+);\n(?:.*\n)*?\s*proxy_pass http:\/\/\$daarion_upstream:(\d+);/g)].map((m) => [m[1]!, Number(m[2])] as const);
      expect(routes.length, node).toBe((conf.match(/set \$daarion_upstream /g) ?? []).length);
      for (const [host, port] of routes) {
        const svc = services[host];
        expect(svc, `${node}: ${host}`).toBeDefined();
        // DAARION's own services listen on the PORT the compose file gives them; other images on their own.
        const listens = svc!.environment?.PORT !== undefined ? Number(svc!.environment.PORT) : service(host as ServiceName).port;
        expect(`${node}: ${host}:${port}`).toBe(`${node}: ${host}:${listens}`);
      }
    }
    expect(nginxBlock(gateway(moved, "noda1"), "location /api/auth/")).toContain("proxy_pass http://$daarion_upstream:7111;");
    expect(compose(moved, "noda1").services["auth-service"]!.environment!.PORT).toBe("7111");
  });

  it("refuses what nginx refuses: the validator is not a rubber stamp", () => {
    const broken = gateway(A, "noda1").replace("limit_req zone=api_limit burst=20 nodelay;", "limit_req zone=nowhere burst=20 nodelay;");
    const r = nginxT(broken, "gateway.daarion.city");
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('zero size shared memory zone "nowhere"');
  });

  it("is checked by nginx inside the running gateway before it reloads (the file primitive's validator, run with a fake docker)", () => {
    const r = command(A.run, "noda1-gateway-conf");
    const daemon = containerNginx("daarion-gateway", "compose-daarion");
    expect(script(r)).toContain(daemon.validate!);
    expect(script(r)).toContain(daemon.reload!);
    const work = tempDir("fleet-daarion-gwd-");
    try {
      // docker inspect → running or not; docker exec daarion-gateway nginx … → the real nginx on the prefix.
      executable(
        path.join(work, "bin", "docker"),
        [
          "#!/bin/sh",
          'case "$1" in',
          '  inspect) [ "$FAKE_RUNNING" = true ] && echo true || exit 1 ;;',
          '  exec) [ "$2" = daarion-gateway ] && [ "$3" = nginx ] || exit 9; shift 3',
          '        if [ "$*" = "-s reload" ]; then echo reloaded >> "$FAKE_LOG"; exit 0; fi',
          '        exec nginx -c "$PREFIX/nginx.conf" -p "$PREFIX" "$@" ;;',
          "  *) exit 9 ;;",
          "esac",
          "",
        ].join("\n"),
      );
      const run = (conf: string, running: boolean, what: string) => {
        const prefix = nginxPrefix(conf, "gateway.daarion.city");
        try {
          return spawnSync("/bin/sh", ["-c", `set -eu\n${what}`], {
            encoding: "utf8",
            env: { ...process.env, PATH: `${work}/bin:${process.env.PATH ?? ""}`, PREFIX: prefix, FAKE_RUNNING: String(running), FAKE_LOG: `${work}/log` },
          });
        } finally {
          rmSync(prefix, { recursive: true, force: true });
        }
      };
      const good = gateway(A, "noda1");
      expect(run(good, true, daemon.validate!).status).toBe(0);
      const broken = run(good.replace("rate=10r/s;", "rate=10 r/s;"), true, daemon.validate!);
      expect(broken.status).not.toBe(0);
      expect(broken.stderr).toContain("invalid number of arguments in \"limit_req_zone\" directive");
      expect(run(good, true, daemon.reload!).status).toBe(0);
      expect(readFileSync(`${work}/log`, "utf8")).toBe("reloaded\n");
      const first = run(good, false, daemon.validate!);
      expect({ code: first.status, out: first.stdout }).toEqual({ code: 0, out: "fleet: daarion-gateway is not running yet; nginx checks the config when it starts\n" });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("limits /api/ to 10r/s with burst 20 nodelay, one zone for every API route (Rate Limiting)", () => {
    const seed = section(STANDARDS, "Rate Limiting");
    expect(seed).toContain("limit_req_zone $binary_remote_addr zone=api_limit:10m rate=10r/s;");
    expect(seed).toContain("limit_req zone=api_limit burst=20 nodelay;");
    expect(RATE_LIMIT).toEqual({ zone: "api_limit", rate: "10r/s", burst: 20 });
    const conf = gateway(A, "noda1");
    expect(conf.match(/^limit_req_zone .*$/gm)).toEqual(["limit_req_zone $binary_remote_addr zone=api_limit:10m rate=10r/s;"]);
    expect(nginxBlock(conf, "location /api/")[0]).toBe("limit_req zone=api_limit burst=20 nodelay;");
    for (const [external] of API_ROUTES) expect(nginxBlock(conf, `location ${external}`)[0]).toBe("limit_req zone=api_limit burst=20 nodelay;");
    // Every location under /api/ is limited; nothing else is.
    const limited = [...conf.matchAll(/location (\S+) \{\n\s+limit_req /g)].map((m) => m[1]!);
    expect(limited.every((l) => l.startsWith("/api/"))).toBe(true);
    expect(limited).toHaveLength(API_ROUTES.length + 1);
  });

  it.each(API_ROUTES)("routes %s to %s", (external, internal) => {
    const u = /^http:\/\/([a-z-]+):(\d+)(\/.*)$/.exec(internal)!;
    const [host, port, upstreamPath] = [u[1]!, u[2]!, u[3]!];
    const block = nginxBlock(gateway(A, "noda1"), `location ${external}`);
    expect(block).toEqual([
      "limit_req zone=api_limit burst=20 nodelay;",
      `set $daarion_upstream ${host};`,
      `rewrite ^${external}(.*)$ ${upstreamPath}$1 break;`,
      `proxy_pass http://$daarion_upstream:${port};`,
      `proxy_redirect http://${host}:${port}${upstreamPath} ${external};`,
    ]);
  });

  it.each(WS_ROUTES)("upgrades WebSocket %s to %s", (external, internal) => {
    const u = /^ws:\/\/([a-z-]+):(\d+)(\/.*)$/.exec(internal)!;
    const block = nginxBlock(gateway(A, "noda1"), `location ${external}`);
    expect(block).toEqual(
      expect.arrayContaining([
        `set $daarion_upstream ${u[1]};`,
        `rewrite ^${external}(.*)$ ${u[3]}$1 break;`,
        `proxy_pass http://$daarion_upstream:${u[2]};`,
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        "proxy_set_header Connection $daarion_connection_upgrade;",
        "proxy_read_timeout 3600s;",
      ]),
    );
    expect(gateway(A, "noda1")).toContain("map $http_upgrade $daarion_connection_upgrade {\n    default upgrade;\n    '' close;\n}\n");
  });

  it("answers /health itself and serves the SPA frontend at /", () => {
    const conf = gateway(A, "noda1");
    expect(nginxBlock(conf, "location = /health", 1)).toEqual(["default_type application/json;", `return 200 '{"status": "healthy", "service": "gateway", "version": "1.0.0", "dependencies": {}}';`]);
    expect(nginxBlock(conf, "location /", 1)).toEqual(["set $daarion_upstream frontend;", "proxy_pass http://$daarion_upstream:80;"]);
    // A node without the frontend answers / with a JSON 404 instead of proxying nowhere.
    expect(nginxBlock(gateway(A, "noda2"), "location /", 1)).toEqual(["default_type application/json;", `return 404 '{"status": "not_found", "service": "gateway"}';`]);
  });

  it("routes only the services the node runs", () => {
    const dev = gateway(A, "noda2");
    for (const route of ["/api/auth/", "/api/pdp/", "/api/usage/", "/api/messaging/", "/ws/messaging/", "/api/stt/", "/api/ocr/", "/api/web-search/", "/api/vector/"]) {
      expect(dev).toContain(`location ${route} {`);
    }
    for (const route of ["/api/city/", "/api/agents/", "/ws/living-map/", "/_matrix/"]) expect(dev).not.toContain(`location ${route} {`);
  });
});

// ── Names of an older deployment (issue 13 item 9) ───────────────────────────

describe("the container and volume names an older deployment runs", () => {
  /** НОДА1 as a node made by hand before the stack: other container names for five services, other volumes for two. */
  const CONTAINERS = { postgres: "microdao-db", gateway: "microdao-nginx", "auth-service": "microdao_auth_1", prometheus: "microdao.prom", "matrix-synapse": "synapse" } as const;
  const VOLUMES = { postgres: "microdao_pgdata", "matrix-synapse": "synapse_data" } as const;
  const named = () =>
    shared("named", () =>
      build(
        daarionSettings({
          nodes: [
            { name: "noda1", role: "production", domain: "gateway.daarion.city", containers: CONTAINERS, volumes: VOLUMES },
            { name: "noda2", role: "development", domain: "dev.daarion.city" },
          ],
        }),
      ),
    );
  const containerOf = (s: ServiceName) => (CONTAINERS as Partial<Record<ServiceName, string>>)[s] ?? containerName(s);

  it("the compose file names the containers and volumes so; services still mount the standards' keys, and docker-compose accepts it", async () => {
    const b = await named();
    const doc = compose(b, "noda1");
    for (const [name, svc] of Object.entries(doc.services)) expect(svc.container_name).toBe(containerOf(name as ServiceName));
    expect(doc.volumes!.postgres_data).toEqual({ name: "microdao_pgdata" });
    expect(doc.volumes!.matrix_data).toEqual({ name: "synapse_data" });
    expect(doc.volumes!.redis_data).toEqual({ name: "redis_data" });
    expect(doc.services.postgres!.volumes).toEqual(["postgres_data:/var/lib/postgresql/data"]);
    // The other node keeps the standards' names.
    expect(composeText(b, "noda2")).toBe(composeText(A, "noda2"));
    const r = composeConfig(b, "noda1");
    expect(r, r.output).toEqual({ code: 0, output: "" });
    // Docker creates the volumes under their configured names.
    const resolved = parseYaml(composeConfig(b, "noda1", []).output) as ComposeDoc;
    expect(resolved.volumes!.postgres_data!.name).toBe("microdao_pgdata");
  });

  it("the gateway still reaches every service: its upstreams are compose service names, so its config is unchanged and passes the real `nginx -t`", async () => {
    const b = await named();
    const conf = gateway(b, "noda1");
    expect(conf).toBe(gateway(A, "noda1"));
    const upstreams = [...new Set([...conf.matchAll(/set \$daarion_upstream (\S+);/g)].map((m) => m[1]!))];
    expect(upstreams.length).toBeGreaterThan(10);
    for (const u of upstreams) expect(SERVICE_NAMES as readonly string[]).toContain(u);
    expect(nginxBlock(conf, "location /api/auth/")).toContain("set $daarion_upstream auth-service;");
    const r = nginxT(conf, "gateway.daarion.city");
    expect(r.code, r.output).toBe(0);
    // Prometheus's targets, Grafana's datasource and the services' URLs are by service name too.
    expect(stdinOf(command(b.run, "noda1-prometheus-conf"))).toBe(stdinOf(command(A.run, "noda1-prometheus-conf")));
    expect(stdinOf(command(b.run, "noda1-grafana-datasource"))).toBe(stdinOf(command(A.run, "noda1-grafana-datasource")));
    for (const [name, svc] of Object.entries(compose(b, "noda1").services)) expect(svc.environment, name).toEqual(compose(A, "noda1").services[name]!.environment);
  });

  it("every command that names a container uses the node's names: reloads, backups, migrations, checks, adoption; Synapse's setup uses its volume", async () => {
    const b = await named();
    const gw = script(command(b.run, "noda1-gateway-conf"));
    expect(gw).toContain("docker exec 'microdao-nginx' nginx -t");
    expect(gw).not.toContain("daarion-gateway");
    expect(stdinOf(command(b.run, "noda1-backup-script"))).toContain("'microdao-db'");
    expect(stdinOf(command(b.run, "noda1-backup-script"))).not.toContain("daarion-postgres");
    expect(stdinOf(command(b.run, "noda1-migrate-script"))).toContain("'microdao-db'");
    expect(stdinOf(command(b.run, "noda1-migrate-script"))).not.toContain("daarion-postgres");
    expect(taskScript(b, "noda1-metrics-check")).toContain("docker exec 'microdao.prom' wget");
    expect(taskScript(b, "noda1-services-health")).toContain("probe 'microdao_auth_1' 7011 '/health'");
    const plan = b.stack.plans[0]!;
    expect(shellWords(taskScript(b, "noda1-logs-check").split("\n")[0]!)).toEqual([`containers=${plan.services.map(containerOf).join(" ")}`]);
    const adopt = command(b.run, "noda1-compose-adopt");
    const loop = shellWords(script(adopt).split("\n").find((l) => l.startsWith("for name in "))!.replace(/; do$/, ""));
    expect(loop).toEqual(["for", "name", "in", ...plan.services.map(containerOf)]);
    expect(loop).toEqual(expect.arrayContaining(["microdao-db", "microdao-nginx", "microdao_auth_1", "microdao.prom", "synapse", "daarion-redis"]));
    expect(dependsOn(command(b.run, "noda1-compose-up"))).toContain("noda1-compose-adopt");
    // The database is dumped by the node's own backup while the hand-made one still runs, then adopted.
    expect(waitsFor(b, adopt)).toContain("noda1-pre-deploy-backup-command");
    const setup = taskScript(b, "noda1-matrix-config");
    expect(setup).toContain("docker volume create 'synapse_data'");
    expect(setup).not.toContain("matrix_data");
    expect(stdinOf(command(b.run, "noda1-doc"))).toContain("microdao-nginx");
  });
});

// ── Migrations ───────────────────────────────────────────────────────────────

// What migrate.sh does with real migration sets runs against the real PostgreSQL of the
// e2e suite: test/e2e/migrations.test.ts.
describe("database migrations (daarion-node-standards.md Migrations)", () => {
  it("deploys a migrate.sh that the primitive syntax-checks, and runs it after the services start and the checkout", () => {
    const file = command(A.run, "noda1-migrate-script");
    expect(managedFile(file)).toEqual({ target: `${ROOT}/scripts/migrate.sh`, owner: "root:root", mode: "0755" });
    expect(script(file)).toContain(`sh -n '${ROOT}/scripts/migrate.sh'`);
    const task = command(A.run, "noda1-migrate-command");
    expect(script(task)).toBe(`exec '${ROOT}/scripts/migrate.sh'`);
    expect(waitsFor(A, task)).toEqual(expect.arrayContaining(["noda1-compose-up", "noda1-repo-command", "noda1-migrate-script"]));
    expect(stdinOf(file)).toContain(`docker exec -i "$container" psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$database" "$@"`);
  });

  it("re-runs when the migration set changes (a new ref), and not otherwise", async () => {
    const same = await shared("same again", () => build());
    const triggers = (b: Built) => reveal(command(b.run, "noda1-migrate-command").inputs.triggers);
    expect(triggers(same)).toEqual(triggers(A));
    expect(triggers(await nextRef())).not.toEqual(triggers(A));
    expect(reveal(command((await nextRef()).run, "noda1-repo-command").inputs.triggers)).not.toEqual(reveal(command(A.run, "noda1-repo-command").inputs.triggers));
  });
});

// ── The repository checkout ──────────────────────────────────────────────────

describe("the repository checkout at the pinned ref (real git)", () => {
  let dir: string;
  const git = (cwd: string, ...args: string[]) => {
    const r = spawnSync("git", args, {
      cwd,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
  };

  beforeAll(() => {
    dir = tempDir("fleet-daarion-git-");
    const up = path.join(dir, "upstream");
    mkdirSync(path.join(up, "migrations"), { recursive: true });
    git(up, "init", "-q", "-b", "main");
    writeFileSync(path.join(up, "migrations", "001_create_users.sql"), "-- 001\n");
    git(up, "add", ".");
    git(up, "commit", "-q", "-m", "001");
    git(up, "tag", "v1.0.0");
    git(up, "checkout", "-q", "-b", "feature");
    writeFileSync(path.join(up, "migrations", "002_create_sessions.sql"), "-- 002\n");
    git(up, "add", ".");
    git(up, "commit", "-q", "-m", "002");
    git(up, "checkout", "-q", "main");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function checkout(ref: string, requireMerged: boolean, root: string) {
    mkdirSync(root, { recursive: true });
    const text = repoSyncScript({ repo: { url: path.join(dir, "upstream"), ref }, requireMerged, mainBranch: "main" }, { root, repoDir: path.join(root, ".repo") });
    writeFileSync(path.join(root, "checkout.sh"), `set -eu\n${text}\n`);
    return runSh(path.join(root, "checkout.sh"), [], process.env);
  }

  it("is the script the production node runs, with only its paths and URL changed", () => {
    const deployed = taskScript(A, "noda1-repo");
    const local = repoSyncScript({ repo: REPO, requireMerged: true, mainBranch: "main" });
    expect(deployed).toBe(local);
  });

  it("refuses a production ref that is not merged into main, and syncs migrations/ from one that is", () => {
    const root = path.join(dir, "node1");
    const refused = checkout("feature", true, root);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/fleet: feature \([0-9a-f]{40}\) is not merged into main of .*upstream; merge it first \(daarion-node-standards\.md Pre-Deployment: Git branch merged to main\)/);
    expect(existsSync(path.join(root, "migrations"))).toBe(false);
    const ok = checkout("v1.0.0", true, root);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readdirSync(path.join(root, "migrations"))).toEqual(["001_create_users.sql"]);
    // Merged: now accepted, and the new migration arrives.
    git(path.join(dir, "upstream"), "merge", "-q", "--no-edit", "feature");
    const merged = checkout("feature", true, root);
    expect(merged.code, merged.stderr).toBe(0);
    expect(readdirSync(path.join(root, "migrations"))).toEqual(["001_create_users.sql", "002_create_sessions.sql"]);
  });

  it("lets a development node run an unmerged branch, and mirrors removals", () => {
    const root = path.join(dir, "node2");
    git(path.join(dir, "upstream"), "checkout", "-q", "-b", "experiment");
    rmSync(path.join(dir, "upstream", "migrations", "002_create_sessions.sql"));
    git(path.join(dir, "upstream"), "commit", "-q", "-am", "drop 002");
    git(path.join(dir, "upstream"), "checkout", "-q", "main");
    expect(checkout("main", false, root).code).toBe(0);
    expect(readdirSync(path.join(root, "migrations"))).toEqual(["001_create_users.sql", "002_create_sessions.sql"]);
    const r = checkout("experiment", false, root);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(path.join(root, "migrations"))).toEqual(["001_create_users.sql"]);
  });
});

// ── Backups ──────────────────────────────────────────────────────────────────

describe("backups (daarion-node-standards.md Backup Schedule)", () => {
  it("runs daily at 03:00 UTC: the timer and its oneshot service pass the real systemd-analyze verify", () => {
    const expected = /Щоденно о (\d\d:\d\d) UTC/.exec(section(STANDARDS, "Backup Schedule"))?.[1];
    expect(expected).toBe("03:00");
    const cal = spawnSync("systemd-analyze", ["calendar", "*-*-* 03:00:00 UTC"], { encoding: "utf8" });
    expect(cal.stdout).toContain("Normalized form: *-*-* 03:00:00 UTC");
    const root = tempDir("fleet-daarion-systemd-");
    try {
      mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
      cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
      mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
      writeFileSync(path.join(root, "etc/systemd/system", BACKUP_SERVICE), stdinOf(command(A.run, "noda1-backup-unit")));
      writeFileSync(path.join(root, "etc/systemd/system", BACKUP_TIMER), stdinOf(command(A.run, "noda1-backup-timer-unit")));
      executable(path.join(root, ROOT, "scripts/backup-db.sh"), stdinOf(command(A.run, "noda1-backup-script")));
      for (const [unit, requires] of [[BACKUP_SERVICE, []], [BACKUP_TIMER, [BACKUP_SERVICE]]] as const) {
        const daemon = systemdUnitStrict(`/etc/systemd/system/${unit}`, { root, requireUnits: [...requires] });
        const r = spawnSync("/bin/sh", ["-c", `set -eu\n${daemon.validate!}`], { encoding: "utf8" });
        expect({ unit, code: r.status, output: `${r.stdout}${r.stderr}` }).toEqual({ unit, code: 0, output: "" });
      }
      // The host runs the same check (the primitive's validator), and the timer after its service.
      expect(script(command(A.run, "noda1-backup-timer-unit"))).toContain("systemd-analyze verify --man=no '/etc/systemd/system/daarion-backup.timer'");
      expect(waitsFor(A, command(A.run, "noda1-backup-timer-unit"))).toContain("noda1-backup-unit");
      expect(waitsFor(A, command(A.run, "noda1-backup-unit"))).toContain("noda1-backup-script");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  describe("backup-db.sh, run for real with a fake docker and clock", () => {
    let work: string;
    let script: string;
    let dumps: string;
    beforeAll(() => {
      work = tempDir("fleet-daarion-backup-");
      const bin = path.join(work, "bin");
      executable(
        path.join(bin, "docker"),
        [
          "#!/bin/sh",
          'echo "$*" >> "$FAKE_LOG"',
          'case "$1" in',
          '  inspect) [ "${FAKE_RUNNING:-true}" = true ] && echo true || exit 1 ;;',
          '  exec) [ "$2" = daarion-postgres ] && [ "$3 $4 $5 $6" = "pg_dump -U postgres daarion_memory" ] || exit 9',
          '        echo "-- PostgreSQL database dump"; echo "CREATE TABLE users (id int);"',
          '        [ "${FAKE_BROKEN:-no}" = yes ] && exit 0',
          '        echo "-- PostgreSQL database dump complete" ;;',
          "  *) exit 9 ;;",
          "esac",
          "",
        ].join("\n"),
      );
      // `date -u '+%Y%m%d_%H%M%S %u'` → the test's clock.
      executable(path.join(bin, "date"), '#!/bin/sh\n[ "$1 $2" = "-u +%Y%m%d_%H%M%S %u" ] || exit 9\necho "$FAKE_NOW"\n');
      dumps = path.join(work, "node");
      const deployed = stdinOf(command(A.run, "noda1-backup-script"));
      const local = deployed.replaceAll(`'${ROOT}/backups'`, `'${dumps}/backups'`);
      expect(local).not.toBe(deployed);
      script = path.join(work, "backup-db.sh");
      executable(script, local);
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    const env = (now: Date, extra: Record<string, string> = {}) => ({
      ...process.env,
      PATH: `${path.join(work, "bin")}:${process.env.PATH ?? ""}`,
      FAKE_LOG: path.join(work, "docker.log"),
      FAKE_NOW: `${now.toISOString().slice(0, 10).replace(/-/g, "")}_${now.toISOString().slice(11, 19).replace(/:/g, "")} ${now.getUTCDay() === 0 ? 7 : now.getUTCDay()}`,
      ...extra,
    });
    const files = (sub = "") => readdirSync(path.join(dumps, "backups", sub)).filter((f) => f.endsWith(".sql")).sort();
    const day = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, "");

    it("keeps exactly 7 daily and 4 weekly dumps over 40 days of 03:00 runs", () => {
      const start = Date.UTC(2025, 10, 1, 3, 0, 0); // Saturday 1 November 2025
      const runs: Date[] = [];
      for (let i = 0; i < 40; i++) {
        const now = new Date(start + i * 86_400_000);
        runs.push(now);
        const r = runSh(script, [], env(now));
        expect(r.code, r.stderr).toBe(0);
      }
      const last7 = runs.slice(-7).map((d) => `daarion_memory_${day(d)}_030000.sql`);
      expect(files()).toEqual(last7);
      const sundays = runs.filter((d) => d.getUTCDay() === 0).slice(-4).map((d) => `daarion_memory_${day(d)}_030000.sql`);
      expect(files("weekly")).toEqual(sundays);
      expect(readFileSync(path.join(dumps, "backups", last7[6]!), "utf8")).toContain("-- PostgreSQL database dump complete");
      expect(runs.at(-1)!.toISOString()).toBe("2025-12-10T03:00:00.000Z");
      expect(files("weekly")).toEqual(["20251116", "20251123", "20251130", "20251207"].map((d) => `daarion_memory_${d}_030000.sql`));
      // Sunday 14 December: the timer's run, then a pre-deployment dump the same day. A second
      // dump of a day is kept with it (7 days, 8 files) and never becomes a second weekly copy.
      expect(runSh(script, [], env(new Date(Date.UTC(2025, 11, 14, 3, 0, 0)))).code).toBe(0);
      expect(runSh(script, ["--if-running"], env(new Date(Date.UTC(2025, 11, 14, 12, 30, 0)))).code).toBe(0);
      expect(files("weekly")).toEqual(["20251123", "20251130", "20251207", "20251214"].map((d) => `daarion_memory_${d}_030000.sql`));
      expect(files()).toEqual([
        ...["20251205", "20251206", "20251207", "20251208", "20251209", "20251210", "20251214"].map((d) => `daarion_memory_${d}_030000.sql`),
        "daarion_memory_20251214_123000.sql",
      ]);
    });

    it("writes dumps 0600 and discards a dump without its completion line", () => {
      const now = new Date(Date.UTC(2026, 0, 5, 3, 0, 0));
      const broken = runSh(script, [], env(now, { FAKE_BROKEN: "yes" }));
      expect(broken.code).toBe(1);
      expect(broken.stderr).toContain("fleet: pg_dump of daarion_memory ended without its completion line");
      expect(files().some((f) => f.includes("20260105"))).toBe(false);
      expect(readdirSync(path.join(dumps, "backups")).some((f) => f.endsWith(".partial"))).toBe(false);
      expect(runSh(script, [], env(now)).code).toBe(0);
      const st = spawnSync("stat", ["-c", "%a", path.join(dumps, "backups", "daarion_memory_20260105_030000.sql")], { encoding: "utf8" });
      expect(st.stdout.trim()).toBe("600");
    });

    it("fails the timer's run when PostgreSQL is down, but not the pre-deployment run before its first start", () => {
      const now = new Date(Date.UTC(2026, 0, 6, 3, 0, 0));
      const timer = runSh(script, [], env(now, { FAKE_RUNNING: "false" }));
      expect(timer.code).toBe(1);
      expect(timer.stderr).toBe("fleet: daarion-postgres is not running; cannot back up daarion_memory\n");
      const pre = runSh(script, ["--if-running"], env(now, { FAKE_RUNNING: "false" }));
      expect(pre.code).toBe(0);
      expect(pre.stdout).toBe("fleet: daarion-postgres is not running; nothing to back up before its first start\n");
    });
  });
});

// ── Node roles ───────────────────────────────────────────────────────────────

describe("node roles (daarion-node-standards.md Node Roles, Service Distribution)", () => {
  it("НОДА1 production runs the overview's all-in-one layout at its ports, plus Monitoring", () => {
    const overview = overviewServices();
    const plan = A.stack.plans.find((p) => p.role === "production")!;
    expect([...plan.services].sort()).toEqual([...overview.map((s) => s.name), "prometheus", "grafana"].sort());
    for (const s of overview) if (s.port !== undefined && s.name !== "gateway") expect({ [s.name]: plan.ports[s.name as ServiceName] }).toEqual({ [s.name]: s.port });
  });

  it("НОДА2 development runs the core services and the four Multimodal services at the standards' ports", () => {
    expect(MULTIMODAL).toEqual([["STT Service", 8895], ["OCR Service", 8896], ["Web Search", 8897], ["Vector DB", 8898]]);
    const core = [...section(OVERVIEW, "Core Services").matchAll(/^- \*\*([a-z-]+)\*\*/gm)].map((m) => m[1]!);
    const plan = A.stack.plans.find((p) => p.role === "development")!;
    expect(plan.services).toEqual(expect.arrayContaining(core));
    const multimodal = ["stt-service", "ocr-service", "web-search-service", "vector-db"] as const;
    expect(multimodal.map((s) => plan.ports[s])).toEqual(MULTIMODAL.map(([, p]) => p));
    expect([...plan.services].sort()).toEqual([...core, ...multimodal, "postgres", "redis", "nats", "gateway", "prometheus"].sort());
    expect(servicesOf(A, "noda2")).toEqual([...plan.services]);
  });

  it("НОДА3 federation runs Matrix Synapse, City and DAO with what they depend on", async () => {
    const b = await federation();
    const plan = b.stack.plans[0]!;
    expect(plan.role).toBe("federation");
    expect([...plan.services].sort()).toEqual(["matrix-synapse", "city-service", "dao-service", "gateway", "prometheus", "postgres", "redis", "nats", "auth-service", "pdp-service"].sort());
    const r = composeConfig(b, "noda3");
    expect(r.code, r.output).toBe(0);
    // Synapse's config is generated once, before its first start.
    expect(waitsFor(b, command(b.run, "noda3-compose-up"))).toContain("noda3-matrix-config-command");
    expect(taskScript(b, "noda3-matrix-config")).toContain("-e 'SYNAPSE_SERVER_NAME=matrix.daarion.city' -e SYNAPSE_REPORT_STATS=no 'matrixdotorg/synapse:v1.120.0' generate");
    expect(nginxBlock(gateway(b, "noda3"), "location /_matrix/")).toEqual(["set $daarion_upstream matrix-synapse;", "proxy_pass http://$daarion_upstream:8008;"]);
  });

  it("adds and removes services per node, dependencies included", async () => {
    const b = await shared("overridden", () =>
      build(daarionSettings({ nodes: [{ name: "noda2", role: "development", domain: "dev.daarion.city", services: { add: ["city-service"], remove: ["vector-db"] } }] })),
    );
    const services = servicesOf(b, "noda2");
    expect(services).toContain("city-service");
    expect(services).not.toContain("vector-db");
    expect(gateway(b, "noda2")).toContain("location /api/city/ {");
    expect(gateway(b, "noda2")).not.toContain("location /api/vector/ {");
  });

  it("a production node runs the overview's all-in-one layout plus Monitoring, a development node Core and Multimodal", () => {
    const overview = "postgres redis nats matrix-synapse auth-service pdp-service usage-engine messaging-service agent-runtime agent-filter dagi-router llm-proxy memory-orchestrator toolcore agents-service microdao-service dao-service living-map-service city-service space-service frontend gateway";
    expect([...ROLE_SERVICES.production].sort()).toEqual([...overview.split(" "), "prometheus", "grafana"].sort());
    expect(ROLE_SERVICES.development.filter((n) => service(n).tier === "multimodal")).toEqual(["stt-service", "ocr-service", "web-search-service", "vector-db"]);
  });

  it("the catalogue itself keeps every rule: unique ports per role, each in its tier", async () => {
    const { checkPorts } = await import("../../stacks/daarion/rules");
    for (const [role, services] of Object.entries(ROLE_SERVICES)) {
      expect({ role, problems: checkPorts(role, services, {}, "x").problems }).toEqual({ role, problems: [] });
    }
    expect(checkPorts("all", CATALOGUE.map((s) => s.name), {}, "x").problems).toEqual([]);
  });

  it("the table gives each part of a node to one service: the database, the collector, the SPA, the entry point", () => {
    const parts = { database: (s: (typeof CATALOGUE)[number]) => s.database, scrapes: (s: (typeof CATALOGUE)[number]) => s.scrapes, servesRoot: (s: (typeof CATALOGUE)[number]) => s.servesRoot, publishes: (s: (typeof CATALOGUE)[number]) => s.publishes };
    const players = Object.fromEntries(Object.entries(parts).map(([part, field]) => [part, CATALOGUE.filter((s) => field(s) !== undefined).map((s) => s.name)]));
    expect(players).toEqual({ database: ["postgres"], scrapes: ["prometheus"], servesRoot: ["frontend"], publishes: ["gateway"] });
    // Only the entry point publishes ports, and it has no internal one.
    expect(CATALOGUE.filter((s) => s.port === undefined).map((s) => s.name)).toEqual(["gateway"]);
    expect(service("gateway").publishes).toEqual(GATEWAY_PORTS);
  });
});

// ── Bad config ───────────────────────────────────────────────────────────────

describe("bad config: one ConfigError, nothing registered", () => {
  async function failing(settings: Record<string, unknown>, overrides: Record<string, unknown> = {}): Promise<{ message: string; run: MockRun }> {
    const { daarion } = await import("../../stacks/daarion");
    const { config, secretKeys } = daarionConfig(settings, overrides);
    return refused(() => daarion(), { stack: "daarion", config, secretKeys, calls: { [REGISTRY_TOKEN]: (a) => ({ id: String(a.name), name: a.name, sha256Digest: digestFor(String(a.name)) }) } });
  }

  const node1 = (extra: Record<string, unknown>) => daarionSettings({ nodes: [{ name: "noda1", role: "production", domain: "gateway.daarion.city", ...extra }] });

  const COLLISION = 'fleet:daarion/nodes/0/ports/agents-service: agents-service and space-service both use port 7002 on node "noda1": every service on a node needs its own port (daarion-node-standards.md "Стандартні Порти")';
  const COLLISION_2 = 'fleet:daarion/nodes/0/ports/microdao-service: microdao-service and messaging-service both use port 7004 on node "noda1": every service on a node needs its own port (daarion-node-standards.md "Стандартні Порти")';
  const TIER =
    "fleet:daarion/nodes/0/ports/stt-service: stt-service is a multimodal-tier service: its port must be in 8000-8999, not 7895 (daarion-node-standards.md: 7000-7999 MVP services, 8000-8999 Utilities/Multimodal, 9000-9999 DAGI Stack)";
  const TIER_MVP =
    "fleet:daarion/nodes/0/ports/city-service: city-service is a mvp-tier service: its port must be in 7000-7999, not 9101 (daarion-node-standards.md: 7000-7999 MVP services, 8000-8999 Utilities/Multimodal, 9000-9999 DAGI Stack)";
  const REMOVED_DEP = "fleet:daarion/nodes/0/services/remove: names auth-service, which messaging-service depends on; remove messaging-service too, or keep auth-service";
  const NO_ROLLBACK = "fleet:daarion/rollback/digests: must pin at least one service's earlier digest when rollback.active is true";
  const NO_HOST = 'fleet:daarion/nodes/0/name: names host "noda9", which is not under fleet:hosts (have: noda1, noda2, noda3)';

  it.each([
    ["a port collision (the standards' agents-service on 7002, taken by the overview's space-service)", node1({ ports: { "agents-service": 7002 } }), COLLISION],
    ["a multimodal service outside 8000-8999", daarionSettings({ nodes: [{ name: "noda2", role: "development", domain: "dev.daarion.city", ports: { "stt-service": 7895 } }] }), TIER],
    ["an MVP service in the DAGI range", node1({ ports: { "city-service": 9101 } }), TIER_MVP],
    ["removing a service another one depends on", daarionSettings({ nodes: [{ name: "noda2", role: "development", domain: "dev.daarion.city", services: { remove: ["auth-service"] } }] }), REMOVED_DEP],
    ["a node on an unknown host", daarionSettings({ nodes: [{ name: "noda9", role: "development", domain: "dev.daarion.city" }] }), NO_HOST],
    ...(["/", "/etc", "/usr", "/proc", "/sys/fs", "/dev", "/boot", "/var/run/docker.sock", "/run/docker.sock", "/var/lib/docker/volumes"] as const).map(
      (mount) =>
        [
          `tls.mount ${mount}`,
          node1({ tls: { mount } }),
          `fleet:daarion/nodes/0/tls/mount: must not be ${["/", "/etc"].includes(mount) ? mount : `in ${mount.startsWith("/sys") ? "/sys" : mount.startsWith("/var/lib/docker") ? "/var/lib/docker" : mount}`} (the host's root, a system directory or the container engine's socket): mount a dedicated directory such as /etc/letsencrypt`,
        ] as const,
    ),
    ["a node on host constructor (an object prototype name)", daarionSettings({ nodes: [{ name: "constructor", role: "development", domain: "dev.daarion.city" }] }), NO_HOST.replace('"noda9"', '"constructor"')],
    ["a rollback switched on with nothing to roll back to", daarionSettings({ rollback: { active: true } }), NO_ROLLBACK],
    [
      "a port for the SPA frontend, whose image listens on 80 whatever the node says (the gateway would route / elsewhere)",
      node1({ ports: { frontend: 8080 } }),
      "fleet:daarion/nodes/0/ports/frontend: frontend listens on port 80 in its container (its compose service is not told another), so the gateway's routes and every URL naming frontend would go to port 8080, where nothing listens; remove the override",
    ],
    [
      "a port for Synapse (the gateway's /_matrix/ and /_synapse/client/)",
      node1({ ports: { "matrix-synapse": 8009 } }),
      "fleet:daarion/nodes/0/ports/matrix-synapse: matrix-synapse listens on port 8008 in its container (its compose service is not told another), so the gateway's routes and every URL naming matrix-synapse would go to port 8009, where nothing listens; remove the override",
    ],
    [
      "a port for PostgreSQL (DATABASE_URL would name it)",
      node1({ ports: { postgres: 5433 } }),
      "fleet:daarion/nodes/0/ports/postgres: postgres listens on port 5432 in its container (its compose service is not told another), so the gateway's routes and every URL naming postgres would go to port 5433, where nothing listens; remove the override",
    ],
    ["a container name Docker refuses (one character)", node1({ containers: { redis: "r" } }), "fleet:daarion/nodes/0/containers/redis: must be at least 2 characters (Docker refuses a one-character container name)"],
    ["a container name with a shell word", node1({ containers: { redis: "redis;rm -rf /" } }), "fleet:daarion/nodes/0/containers/redis: must be a container name: a letter or digit, then letters, digits and _ . -"],
    ["a volume name Docker refuses", node1({ volumes: { postgres: "_pgdata" } }), "fleet:daarion/nodes/0/volumes/postgres: must be a Docker volume name: a letter or digit, then letters, digits and _ . -"],
    ["a container name for a service that is not DAARION's", node1({ containers: { "secondme-service": "secondme" } }), 'fleet:daarion/nodes/0/containers: unknown key "secondme-service"; remove or rename it'],
    [
      "two services with one container name",
      node1({ containers: { redis: "cache", nats: "cache" } }),
      'fleet:daarion/nodes/0/containers/nats: "cache" is also the container name of redis on node "noda1": every container needs its own name',
    ],
    [
      "a container name that is the default name of another service's container",
      node1({ containers: { redis: "daarion-nats" } }),
      'fleet:daarion/nodes/0/containers/redis: "daarion-nats" is also the container name of nats on node "noda1": every container needs its own name',
    ],
    [
      "a container named like another compose service (Docker's DNS would answer the gateway with both)",
      node1({ containers: { redis: "postgres" } }),
      'fleet:daarion/nodes/0/containers/redis: "postgres" is the compose service name of postgres on node "noda1": the gateway, Prometheus and the services reach postgres by that name on daarion_net, and Docker\'s DNS would answer it with both containers; choose another name',
    ],
    [
      "two services on one volume",
      node1({ volumes: { redis: "shared_data", nats: "shared_data" } }),
      'fleet:daarion/nodes/0/volumes/nats: "shared_data" is also the volume of redis on node "noda1": two services on one volume write into each other\'s data; give each its own',
    ],
    [
      "a volume named like another service's default volume",
      node1({ volumes: { redis: "postgres_data" } }),
      'fleet:daarion/nodes/0/volumes/redis: "postgres_data" is also the volume of postgres on node "noda1": two services on one volume write into each other\'s data; give each its own',
    ],
    ["a volume for a service without data", node1({ volumes: { "auth-service": "auth_data" } }), "fleet:daarion/nodes/0/volumes/auth-service: must not be set: auth-service keeps no data volume"],
    [
      "a container name for a service the node does not run",
      daarionSettings({ nodes: [{ name: "noda3", role: "federation", domain: "matrix.daarion.city", containers: { grafana: "old-grafana" } }] }),
      'fleet:daarion/nodes/0/containers/grafana: names grafana, which does not run on node "noda3" (it runs: postgres, redis, nats, matrix-synapse, prometheus, auth-service, pdp-service, dao-service, city-service, gateway)',
    ],
  ] as const)("%s", async (_, settings, problem) => {
    const { message, run } = await failing(settings);
    expect(message).toBe(`stack config: ${problem}`);
    expect(run.resources).toEqual([]);
  });

  it("the standards' own MVP ports on НОДА1 (agents 7002, microdao 7004): both collisions at once", async () => {
    const { message, run } = await failing(node1({ ports: { "agents-service": 7002, "microdao-service": 7004 } }));
    expect(message).toBe(`stack config has 2 problems:\n  - ${COLLISION_2}\n  - ${COLLISION}`);
    expect(run.resources).toEqual([]);
  });

  it("a plaintext optional secret (the postgres password) is refused, not used", async () => {
    const { daarion } = await import("../../stacks/daarion");
    const { config, secretKeys } = daarionConfig(daarionSettings(), { "fleet:daarionPostgresPassword": "in-the-clear" });
    const { message, run } = await refused(() => daarion(), { stack: "daarion", config, secretKeys: secretKeys.filter((k) => k !== "fleet:daarionPostgresPassword") });
    expect(message).toBe("stack config: fleet:daarionPostgresPassword: must be stored as a secret: pulumi config set --secret fleet:daarionPostgresPassword <value>");
    expect(run.resources).toEqual([]);
  });

  it("an unknown service and a malformed digest reported together; then the host without systemd", async () => {
    const { message, run } = await failing(
      { ...node1({ services: { add: ["secondme-service"] } }), rollback: { digests: { "city-service": "sha256:abc" } } },
      { "fleet:hosts": { noda1: { address: "noda1.daarion.city", hostKey: TEST_HOST_KEY, services: "direct" }, noda2: { address: "noda2.daarion.city", hostKey: TEST_HOST_KEY } } },
    );
    const lines = message.split("\n");
    expect(lines[0]).toBe("stack config has 2 problems:");
    expect(lines.slice(1).sort()).toEqual(
      [
        `  - fleet:daarion/nodes/0/services/add/0: must be a DAARION service: ${SERVICE_NAMES.join(", ")}`,
        "  - fleet:daarion/rollback/digests/city-service: must be sha256:<64 hex digits>",
      ].sort(),
    );
    expect(run.resources).toEqual([]);
    // Once the schema passes, the cross-checks speak: the host without systemd.
    const direct = await failing(node1({}), { "fleet:hosts": { noda1: { address: "noda1.daarion.city", hostKey: TEST_HOST_KEY, services: "direct" } } });
    expect(direct.message).toBe('stack config: fleet:daarion/nodes/0/name: names host "noda1" with services: "direct"; the backup timer needs systemd: set services: systemd on the host');
    expect(direct.run.resources).toEqual([]);
  });
});

// ── Determinism ──────────────────────────────────────────────────────────────

describe("determinism", () => {
  it("builds the same resources with the same inputs twice (an unchanged program previews empty)", async () => {
    const again = await shared("same again", () => build());
    expect(again.run.names()).toEqual(A.run.names());
    for (const r of A.run.resources) {
      const twin = again.run.resources.find((x) => x.name === r.name && x.type === r.type)!;
      expect({ name: r.name, inputs: reveal(twin.inputs) }).toEqual({ name: r.name, inputs: reveal(r.inputs) });
    }
  });

  it("every child carries its node's prefix, every command runs on its node's host", () => {
    for (const r of A.run.byType(COMMAND)) {
      const node = r.name.split("-")[0]!;
      expect(["noda1", "noda2"]).toContain(node);
      expect(hostOf(r)).toBe(`${node}.daarion.city`);
    }
    expect(script(command(A.run, "noda1-compose-up"))).toContain("docker compose --project-name 'daarion' --project-directory '/opt/microdao-daarion'");
  });
});

// ── The stack file ───────────────────────────────────────────────────────────

describe("Pulumi.daarion.yaml", () => {
  it("holds no secret, and builds НОДА1 production and НОДА2 development as committed", async () => {
    const text = readFileSync(path.resolve(__dirname, "../../Pulumi.daarion.yaml"), "utf8");
    const doc = parseYaml(text) as { config: Record<string, unknown> };
    expect(JSON.stringify(doc)).not.toMatch(/secure|PRIVATE KEY|[Pp]assword"\s*:/);
    for (const key of ["fleet:sshPrivateKey", "fleet:daarionPostgresPassword", "fleet:daarionGrafanaAdminPassword"]) expect(text).toContain(`pulumi config set --secret ${key}`);
    const { Daarion } = await import("../../stacks/daarion");
    let stack: Daarion | undefined;
    await runProgram(
      () => {
        stack = new Daarion("daarion");
        return stack.outputs;
      },
      {
        stack: "daarion",
        config: { ...doc.config, "fleet:sshPrivateKey": "PLANTED-ssh-key" },
        secretKeys: ["fleet:sshPrivateKey"],
        calls: { [REGISTRY_TOKEN]: (a) => ({ id: String(a.name), name: a.name, sha256Digest: digestFor(String(a.name)) }) },
      },
    );
    expect(stack!.plans.map((p) => [p.name, p.role, p.domain])).toEqual([
      ["noda1", "production", "gateway.daarion.city"],
      ["noda2", "development", "dev.daarion.city"],
    ]);
  });
});
