/**
 * The policy pack (policy/) through the real engine: `pulumi preview --policy-pack policy`
 * with the CLI v3.259.0, the Node.js language host v3.259.0 (which runs the pack: it is
 * a `runtime: nodejs` pack, so no separate `pulumi-analyzer-policy` plugin is needed) and
 * the provider plugins of .engine/bin, against a file:// backend. Nothing is deployed:
 * a policy violation stops the preview (and would stop `up`).
 *
 * Each rule has a passing and a violating program (small JavaScript programs of the
 * resources the fleet registers: managed files are `command:remote:Command`s calling the
 * host helper's `put` with the content on stdin). A violating program breaks exactly its
 * rule; a passing one breaks none. Then the stacks themselves (menagerie's and daarion's
 * example config) must pass the whole pack.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { POLICIES, type PolicyName } from "../../policy/rules";
import { CATALOGUE } from "../../stacks/daarion/catalogue";
import { DAARION_REQUIRED_SECRETS } from "../../stacks/daarion/config";
import { MENAGERIE_REQUIRED_SECRETS } from "../../stacks/menagerie/config";
import { appRepositories } from "../helpers/app-repositories";
import { type Cli, cli, copyProject, REPO, requireEngine, sshKey } from "./pulumi";

const PACK = path.join(REPO, "policy");
const work = mkdtempSync(path.join(tmpdir(), "fleet-policy-"));
/** The app repositories the stack files name, local: refs are resolved at preview, and a test never leaves loopback. */
const gitEnv = appRepositories(path.join(work, "git"));
let key: string;
const timings: string[] = [];

beforeAll(() => {
  requireEngine();
  key = readFileSync(sshKey(work), "utf8");
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (timings.length) console.log(`policy previews:\n  ${timings.join("\n  ")}`);
});

interface Violation {
  level: string;
  policy: string;
  /** `<type>: <name>` as the CLI prints it (`postgresql:index:Database: db`). */
  resource: string;
  message: string;
}

/** The "Policies:" section of a preview: one entry per reported violation. */
function violations(out: string): Violation[] {
  const section = out.split(/^Policies:$/m)[1]?.split(/^\S/m)[0] ?? "";
  const found: Violation[] = [];
  const lines = section.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s+- \[(\w+)\]\s+(\S+)\s+\((.+)\)$/.exec(lines[i]!);
    if (!m) continue;
    // The policy's description (omitted on Pulumi's own advisories), then the message.
    const message: string[] = [];
    for (let j = i + 1; j < lines.length && !/^\s+- \[/.test(lines[j]!) && lines[j]!.trim() !== ""; j++) message.push(lines[j]!.trim());
    if (message[0] === (POLICIES as Record<string, string>)[m[2]!]) message.shift();
    found.push({ level: m[1]!, policy: m[2]!, resource: m[3]!, message: message.join(" ") });
  }
  return found;
}

let counter = 0;
async function logIn(c: Cli): Promise<void> {
  const state = path.join(work, `state-${counter}`);
  mkdirSync(state);
  await c.ok(["login", `file://${state}`]);
}

/** A one-file JavaScript program in its own project and stack; `tags` become stack tags. */
async function program(body: string, tags: Record<string, string> = {}): Promise<Cli> {
  const n = ++counter;
  const dir = path.join(work, `case-${n}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, "Pulumi.yaml"), "name: policy-case\nruntime: nodejs\n");
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "policy-case", main: "index.js" }));
  writeFileSync(path.join(dir, "index.js"), `${PRELUDE}\n${body}\n`);
  symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  const c = cli(dir, path.join(work, `home-${n}`));
  await logIn(c);
  await c.ok(["stack", "init", "case", "--secrets-provider", "passphrase"]);
  for (const [k, v] of Object.entries(tags)) await c.ok(["stack", "tag", "set", k, v]);
  return c;
}

async function preview(c: Cli, label: string, stack = "case") {
  const r = await c.run(["preview", "--stack", stack, "--policy-pack", PACK]);
  timings.push(`${label}: ${r.seconds.toFixed(1)} s (exit ${r.code})`);
  return { ...r, out: r.stdout + r.stderr, found: violations(r.stdout + r.stderr) };
}

/** What every case program shares: a pinned connection and a managed file like the fleet's. */
const PRELUDE = `
const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const random = require("@pulumi/random");
const postgresql = require("@pulumi/postgresql");
const key = new pulumi.Config().get("unused") ?? "not a key";
const connection = { host: "127.0.0.1", port: 22, user: "root", privateKey: pulumi.secret(key), hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPolicyTestHostKey0000000000000000000000000" };
/** A managed file as src/remote writes one: the helper's put, the content on stdin. */
const file = (name, path, content, opts) => new command.remote.Command(name, { connection, create: "'/usr/local/lib/fleet/fleet-file-0123456789ab' put '" + path + "' --owner 'root:root' --mode '0644'", stdin: content }, opts);
`;

const COMPOSE_PINNED = `services:\n  app:\n    image: "registry.example/app@sha256:${"a".repeat(64)}"\n`;
const COMPOSE_TAG = `services:\n  app:\n    image: "registry.example/app:1.4"\n`;
const HAPROXY_DENY = `backend shop\n    mode http\n    http-request deny deny_status 403 if { path,url_dec -m reg -i ^(/[.]?)*/metrics([/;]|$) }\n    server a 10.0.0.5:8080\n`;
const NGINX_PRIVATE = `server {\n    listen 80;\n    location /metrics {\n        allow 10.0.0.0/8;\n        deny all;\n        proxy_pass http://127.0.0.1:9100;\n    }\n    location / {\n        proxy_pass http://127.0.0.1:8080;\n    }\n}\n`;
const NGINX_PUBLIC = NGINX_PRIVATE.replace("        allow 10.0.0.0/8;\n        deny all;\n", "");
const daarionCompose = (dbPorts: boolean) =>
  `services:\n  postgres:\n    image: "postgres@sha256:${"b".repeat(64)}"\n${dbPorts ? '    ports:\n      - "5432:5432"\n' : ""}  gateway:\n    image: "nginx@sha256:${"c".repeat(64)}"\n    ports:\n      - "80:80"\n      - "443:443"\n`;
const DAARION_NODE = `class Node extends pulumi.ComponentResource { constructor(name) { super("fleet:daarion:Node", name, {}, {}); this.registerOutputs({}); } }\nconst node = new Node("noda1");`;

interface Case {
  policy: PolicyName;
  /** What the passing program does right. */
  passes: string;
  pass: string;
  /** What the violating program does wrong. */
  breaks: string;
  fail: string;
  /** The violating resource's name and a part of each expected message. */
  resource: string;
  messages: readonly string[];
  /** More expected findings of the violating program, on other resources. */
  also?: readonly { resource: string; message: string }[];
  /** A value the output must never show. */
  hidden?: string;
}

const CASES: readonly Case[] = [
  {
    policy: "ssh-host-key-pinned",
    passes: "host and jump host keys pinned",
    pass: `new command.remote.Command("job", { connection: { ...connection, proxy: { host: "10.0.0.1", user: "root", privateKey: pulumi.secret(key), hostKey: connection.hostKey } }, create: "true" });`,
    breaks: "no host key, jump host without one",
    fail: `new command.remote.Command("job", { connection: { host: "127.0.0.1", user: "root", privateKey: pulumi.secret(key), proxy: { host: "10.0.0.1", user: "root", privateKey: pulumi.secret(key) } }, create: "true" });`,
    resource: "command:remote:Command: job",
    messages: ["connection.hostKey is not set: the SSH host key of 127.0.0.1 is not checked", "connection.proxy.hostKey is not set: the SSH host key of the jump host 10.0.0.1"],
  },
  {
    policy: "no-plain-secrets",
    passes: "the same values marked secret",
    pass: `file("env", "/opt/app/.env", pulumi.secret("DB_PASSWORD=Zq8-plain-in-test\\n"));\nnew command.remote.Command("psql", { connection, create: "psql -c 'select 1'", environment: { PGPASSWORD: pulumi.secret("Zq8-plain-in-test") } });`,
    breaks: "a .env and a PGPASSWORD in plain inputs",
    fail: `file("env", "/opt/app/.env", "DB_PASSWORD=Zq8-plain-in-test\\n");\nnew command.remote.Command("psql", { connection, create: "psql -c 'select 1'", environment: { PGPASSWORD: "Zq8-plain-in-test" } });`,
    resource: "command:remote:Command: env",
    messages: ["stdin looks like a secret (it sets DB_PASSWORD to a literal value) but is a plain input"],
    also: [{ resource: "command:remote:Command: psql", message: "environment.PGPASSWORD looks like a secret (its name says it is a secret (PGPASSWORD)) but is a plain input" }],
    hidden: "Zq8-plain-in-test",
  },
  {
    policy: "images-pinned-by-digest",
    passes: "the compose file's image by digest",
    pass: `file("compose", "/opt/app/docker-compose.yml", ${JSON.stringify(COMPOSE_PINNED)});`,
    breaks: "an image by tag",
    fail: `file("compose", "/opt/app/docker-compose.yml", ${JSON.stringify(COMPOSE_TAG)});`,
    resource: "command:remote:Command: compose",
    messages: ['/opt/app/docker-compose.yml: service app runs "registry.example/app:1.4", not pinned by digest'],
  },
  {
    policy: "stateful-protected",
    passes: "database and generated password protected",
    pass: `const pg = new postgresql.Provider("pg", { host: "127.0.0.1", port: 1, username: "postgres", password: pulumi.secret("unused"), sslmode: "disable", superuser: false });\nnew postgresql.Database("db", { name: "app" }, { provider: pg, protect: true });\nnew random.RandomPassword("pw", { length: 24 }, { protect: true });`,
    breaks: "a database without protect",
    fail: `const pg = new postgresql.Provider("pg", { host: "127.0.0.1", port: 1, username: "postgres", password: pulumi.secret("unused"), sslmode: "disable", superuser: false });\nnew postgresql.Database("db", { name: "app" }, { provider: pg });\nnew random.RandomPassword("pw", { length: 24 }, { protect: true });`,
    resource: "postgresql:index:Database: db",
    messages: ["postgresql:index/database:Database holds state (data, or a generated secret that must never rotate) but is not protected"],
  },
  {
    policy: "metrics-not-public",
    passes: "HAProxy backend denies /metrics; nginx allows it to internal networks only",
    pass: `file("route", "/etc/haproxy/conf.d/shop.cfg", ${JSON.stringify(HAPROXY_DENY)});\nfile("site", "/etc/nginx/conf.d/shop.conf", ${JSON.stringify(NGINX_PRIVATE)});`,
    breaks: "nginx proxies /metrics to everyone",
    fail: `file("route", "/etc/haproxy/conf.d/shop.cfg", ${JSON.stringify(HAPROXY_DENY)});\nfile("site", "/etc/nginx/conf.d/shop.conf", ${JSON.stringify(NGINX_PUBLIC)});`,
    resource: "command:remote:Command: site",
    messages: ["/etc/nginx/conf.d/shop.conf: location /metrics is served to everyone"],
  },
  {
    policy: "daarion-gateway-ports-only",
    passes: "only the gateway publishes 80 and 443",
    pass: `${DAARION_NODE}\nfile("noda1-compose", "/opt/microdao-daarion/docker-compose.all.yml", ${JSON.stringify(daarionCompose(false))}, { parent: node });`,
    breaks: "postgres publishes 5432",
    fail: `${DAARION_NODE}\nfile("noda1-compose", "/opt/microdao-daarion/docker-compose.all.yml", ${JSON.stringify(daarionCompose(true))}, { parent: node });`,
    resource: "command:remote:Command: noda1-compose",
    messages: ["service postgres publishes port 5432:5432"],
  },
];

describe("policy pack through the real engine (pulumi preview --policy-pack policy)", () => {
  it("covers every rule of policy/rules.ts with a case", () => {
    expect(CASES.map((c) => c.policy).sort()).toEqual(Object.keys(POLICIES).sort());
  });

  describe.each(CASES)("$policy", (c) => {
    it(`passes: ${c.passes}; fails: ${c.breaks}`, async () => {
      const [good, bad] = await Promise.all([program(c.pass), program(c.fail)]);
      const [ok, ko] = await Promise.all([preview(good, `${c.policy} pass`), preview(bad, `${c.policy} fail`)]);

      expect({ code: ok.code, found: ok.found }, ok.out.slice(-3000)).toEqual({ code: 0, found: [] });
      expect(ok.out).toMatch(/fleet@v0\.1\.0 \(local: /);

      expect(ko.code, ko.out.slice(-3000)).not.toBe(0);
      // Only this rule, only mandatory, on the resource that breaks it.
      expect(new Set(ko.found.map((v) => v.policy))).toEqual(new Set([c.policy]));
      for (const v of ko.found) expect(v.level).toBe("mandatory");
      const onResource = ko.found.filter((v) => v.resource === c.resource).map((v) => v.message);
      for (const m of c.messages) expect(onResource.join("\n")).toContain(m);
      for (const a of c.also ?? []) expect(ko.found.filter((v) => v.resource === a.resource).map((v) => v.message).join("\n")).toContain(a.message);
      if (c.hidden) expect(ko.out + ok.out).not.toContain(c.hidden);
    });
  });

  it("ssh-host-key-pinned: a stack tagged fleet:environment=test may skip the host key check", async () => {
    const c = CASES.find((x) => x.policy === "ssh-host-key-pinned")!;
    const r = await preview(await program(c.fail, { "fleet:environment": "test" }), "ssh-host-key-pinned, test stack");
    expect({ code: r.code, found: r.found }, r.out.slice(-3000)).toEqual({ code: 0, found: [] });
  });
});

/** A user's checkout of a stack, as test/cli/preview.test.ts makes one. */
async function userStack(stack: string, secrets: readonly string[]): Promise<Cli> {
  const n = ++counter;
  const dir = path.join(work, `${stack}-${n}`);
  copyProject(dir, [stack]);
  const c = cli(dir, path.join(work, `home-${n}`), gitEnv);
  await logIn(c);
  await c.ok(["stack", "init", stack, "--secrets-provider", "passphrase"]);
  await c.ok(["config", "set", "--secret", "fleet:sshPrivateKey"], key);
  for (const k of secrets) await c.ok(["config", "set", "--secret", `fleet:${k}`], `policy-test-${k}`);
  return c;
}

describe("the stacks pass the whole pack", () => {
  it("menagerie and daarion (example config, daarion's digests pinned): no violation", async () => {
    const menagerie = await userStack("menagerie", MENAGERIE_REQUIRED_SECRETS);
    const daarion = await userStack("daarion", DAARION_REQUIRED_SECRETS);
    // Pinned digests: no registry needed (test/cli/preview.test.ts covers the lookups).
    const file = path.join(daarion.dir, "Pulumi.daarion.yaml");
    const doc = parse(readFileSync(file, "utf8")) as { config: Record<string, Record<string, unknown>> };
    const d = doc.config["fleet:daarion"]!;
    const images = (d.images ?? {}) as Record<string, Record<string, unknown>>;
    for (const s of CATALOGUE) images[s.name] = { ...images[s.name], digest: `sha256:${Buffer.from(s.name).toString("hex").padEnd(64, "0").slice(0, 64)}` };
    d.images = images;
    writeFileSync(file, stringify(doc));

    const [m, dd] = await Promise.all([preview(menagerie, "menagerie + pack", "menagerie"), preview(daarion, "daarion + pack", "daarion")]);
    for (const r of [m, dd]) {
      expect({ code: r.code, mandatory: r.found.filter((v) => v.level !== "advisory") }, r.out.slice(-3000)).toEqual({ code: 0, mandatory: [] });
      expect(r.out).toMatch(/fleet@v0\.1\.0 \(local: /);
      // Advisories are Pulumi's own "can't run … during preview" for a value another resource computes.
      for (const v of r.found) expect(v.message).toMatch(/^can't run policy '[a-z-]+' from policy pack 'fleet@v0\.1\.0' during preview: /);
    }
  });
});
