/**
 * The real engine (DESIGN.md, "Testing layers", item 7; issue 10): one program with
 * HAProxy, nginx, Caddy, Prometheus + Alertmanager, tasks, checks and a PostgreSQL
 * database, run by the Pulumi CLI v3.259 and the real command/random/postgresql plugins
 * through the Automation API against the test hosts. Every claim is checked on the hosts:
 * files, daemons' own answers, worker pids, and sshd's log of the sessions it started.
 *
 * The steps run in order and build on each other, as an operator's runs do.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDns } from "../e2e/dns";
import { ADDRESSES, type Fleet, type HostName, runCmd, SSH_ALT_PORT, startHosts } from "../e2e/harness";
import { eventually } from "../e2e/program";
import { fileText, files, type FileState, haproxyWorkers, listDir, nginxWorkers, promLastReload, promRules, promTargets } from "../e2e/probes";
import { connectionsOn, sessions, since } from "./audit";
import { type EngineStack, engineStack, type Outcome } from "./engine";
import {
  APP_DOMAIN,
  DOCS_BODY,
  DOCS_DOMAIN,
  DOCS_PORT,
  engineProgram,
  GOOD_EXPR,
  INITIAL,
  installCertificate,
  type Knobs,
  MARKER_FILE,
  METRICS_FILE,
  SMTP_PASSWORD,
  TASK_SECRET,
} from "./program";

const HOSTS: HostName[] = ["titania", "portia", "prospero", "puck"];

/** The main configs the stack takes over, per host: destroy must give them back byte for byte. */
const BASE_FILES: Record<HostName, string[]> = {
  titania: ["/etc/haproxy/haproxy.cfg", "/etc/haproxy/hosts.map"],
  portia: [],
  prospero: ["/etc/prometheus/prometheus.yml", "/etc/prometheus/alertmanager.yml"],
  puck: ["/etc/caddy/Caddyfile"],
};

/** Files the stack adds, per host (all gone after destroy). */
function stackFiles(site: string): Record<HostName, string[]> {
  return {
    titania: ["/etc/haproxy/conf.d/shop.cfg", "/etc/haproxy/hosts.d/shop.route.map"],
    portia: [],
    prospero: ["/etc/prometheus/prometheus.base.yml", "/etc/prometheus/scrape.d/shop.yml", "/etc/prometheus/rules.d/shop.yml"],
    puck: [`/etc/nginx/conf.d/${site}.conf`, "/etc/caddy/sites/docs.caddy", "/etc/caddy/routes/docs/healthz.caddy", METRICS_FILE, "/srv/shop/token"],
  };
}

function ops(o: Outcome): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of o.steps) (out[s.op] ??= []).push(s.name);
  for (const v of Object.values(out)) v.sort();
  return out;
}

/** Every remote command resource of the program (their names). */
function commandNames(o: Outcome): string[] {
  return o.steps.filter((s) => s.type === "command:remote:Command").map((s) => s.name).sort();
}

describe("the real Pulumi engine against the test hosts", () => {
  let fleet: Fleet;
  let engine: EngineStack;
  let knobs: Knobs = INITIAL;
  const before: Partial<Record<HostName, FileState[]>> = {};
  let beforeCaddy = "";
  const logs: string[] = [];
  let generatedPassword = "";
  let nonce = "";

  const program = (k: Knobs) => engineProgram(fleet, k);
  /** Every secret the program handles, by what it is. */
  const secretValues = (): Record<string, string> => {
    // Set by the up step; a failed up must not turn these checks into includes("").
    expect(generatedPassword, "the up step read the generated password").not.toBe("");
    expect(nonce, "the up step read the captured output").not.toBe("");
    return {
    "SSH private key": fleet.hosts.titania.privateKey.split("\n").filter((l) => l && !l.startsWith("-----")).join("").slice(0, 60),
    "PostgreSQL admin password": fleet.postgres.adminPassword,
    "generated database password": generatedPassword,
    "alertmanager.yml (SMTP password)": SMTP_PASSWORD,
    "task secret": TASK_SECRET,
    "captured task output": nonce,
    };
  };
  const remember = (o: Outcome): Outcome => {
    logs.push(o.log);
    // FLEET_ENGINE_LOGS=dir keeps every run's log and steps there, for reading after a failure.
    const keep = process.env.FLEET_ENGINE_LOGS;
    if (keep) {
      mkdirSync(keep, { recursive: true });
      writeFileSync(join(keep, `${String(logs.length).padStart(2, "0")}.log`), `${o.log}\n--- steps ---\n${o.steps.map((x) => `${x.op} ${x.name} ${x.diffs.join(",")}`).join("\n")}\n`);
    }
    return o;
  };

  async function shop(path = "/"): Promise<{ status: number; body: string }> {
    const r = await fleet.curl("prospero", `http://titania.incus${path}`, { headers: { Host: APP_DOMAIN }, timeoutMs: 5_000 });
    return { status: r.status, body: r.body };
  }

  beforeAll(async () => {
    fleet = await startHosts({ names: HOSTS });
    await startDns(fleet, "titania");
    await installCertificate(fleet);
    for (const h of HOSTS) before[h] = await files(fleet, h, BASE_FILES[h]);
    beforeCaddy = (await fleet.curl("puck", `http://${ADDRESSES.puck}:8081/`)).body;
    engine = await engineStack("fleet-engine", program(knobs));
  });

  afterAll(async () => {
    engine?.dispose();
    await fleet?.teardown();
  });

  it("preview plans every resource as a create and runs no command on any host", async () => {
    const s0 = sessions(fleet);
    const p = remember(await engine.preview(program(knobs)));
    expect(since(fleet, s0)).toEqual({});
    const planned = ops(p);
    expect(Object.keys(planned).sort()).toEqual(["create"]);
    expect(commandNames(p).length).toBeGreaterThanOrEqual(17);
    expect(planned.create).toEqual(expect.arrayContaining(["titania-config", "shop-site-config", "shop-files", "prospero-base", "shop-db-db", "shop-db-role"]));
  });

  it("up lands everything and it serves: HAProxy → nginx, Caddy, the Prometheus target, the database login", async () => {
    const s0 = sessions(fleet);
    const u = remember(await engine.up(program(knobs)));
    expect(Object.keys(ops(u))).toEqual(["create"]);
    expect(Object.keys(since(fleet, s0)).sort()).toEqual(["prospero", "puck", "titania"]); // portia: SQL only, no SSH

    expect(await shop()).toEqual({ status: 200, body: knobs.siteBody });
    const docs = await fleet.curl("prospero", `http://${ADDRESSES.puck}:${DOCS_PORT}/`, { headers: { Host: DOCS_DOMAIN } });
    expect(docs.body).toBe(DOCS_BODY);
    const docsHealth = await fleet.curl("prospero", `http://${ADDRESSES.puck}:${DOCS_PORT}/healthz`, { headers: { Host: DOCS_DOMAIN } });
    expect(docsHealth).toMatchObject({ status: 200, body: "ok" });
    // CaddyServer owns the Caddyfile (as HAProxyFrontend owns haproxy.cfg): the harness's own
    // site on 8081 is gone while the stack exists, and back after destroy (the last step).
    expect((await fleet.curl("puck", `http://${ADDRESSES.puck}:8081/`)).status).toBe(0);
    await eventually("Prometheus to scrape the shop target as up", 60_000, () => promTargets(fleet), (ts) => ts.some((t) => t.job === "shop" && t.health === "up"));
    expect((await promRules(fleet)).map((r) => `${r.name}: ${r.query}`)).toContain(`ShopDown: ${GOOD_EXPR}`);

    const outputs = await engine.stack.outputs();
    expect(outputs.dbUrl?.secret).toBe(true);
    const url = new URL(String(outputs.dbUrl?.value));
    generatedPassword = decodeURIComponent(url.password);
    expect(generatedPassword.length).toBeGreaterThanOrEqual(20);
    const login = await fleet.exec("portia", ["psql", "-X", "-w", "-tA", String(outputs.dbUrl?.value), "-c", "select current_user, current_database()"], {
      env: { PGCONNECT_TIMEOUT: "5" },
    });
    expect(login, login.stderr).toMatchObject({ code: 0, stdout: `${decodeURIComponent(url.username)}|shop\n` });
    nonce = String(outputs.nonce?.value);
    expect(outputs.nonce?.secret).toBe(true);
    expect(nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(await fileText(fleet, "puck", "/srv/shop/token")).toBe(TASK_SECRET);
  });

  it("a second preview and up: every resource same, and no host sees a single command", async () => {
    const s0 = sessions(fleet);
    const p = remember(await engine.preview(program(knobs)));
    const u = remember(await engine.up(program(knobs)));
    expect(since(fleet, s0)).toEqual({});
    expect(Object.keys(ops(p))).toEqual(["same"]);
    expect(Object.keys(ops(u))).toEqual(["same"]);
    expect(commandNames(u).length).toBeGreaterThanOrEqual(17);
  });

  it("a changed site body updates exactly that file and nginx's one reload, and the change is live", async () => {
    knobs = { ...knobs, siteBody: "shop v2 via nginx on puck" };
    const p = remember(await engine.preview(program(knobs)));
    expect(ops(p).update).toEqual(["puck-nginx-reload", "shop-site-config"]);
    const s0 = sessions(fleet);
    const u = remember(await engine.up(program(knobs)));
    expect(ops(u).update).toEqual(["puck-nginx-reload", "shop-site-config"]);
    expect(Object.keys(ops(u)).sort()).toEqual(["same", "update"]);
    // The file, then the reload (issue 15: one reload per daemon per deploy).
    expect(since(fleet, s0)).toEqual({ puck: 2 });
    await eventually("HAProxy → nginx to serve the new body", 20_000, () => shop(), (r) => r.body === knobs.siteBody);
  });

  it("a file moved to another path and a task moved to another host: the new place in use, the old one gone", async () => {
    knobs = { ...knobs, site: "store", markerHost: "prospero" };
    const u = remember(await engine.up(program(knobs)));
    const replaced = u.steps.filter((s) => s.op === "replace" || s.op === "create-replacement" || s.op === "delete-replaced").map((s) => `${s.op} ${s.name}`);
    expect(replaced).toEqual(
      expect.arrayContaining(["create-replacement shop-site-config", "delete-replaced shop-site-config", "create-replacement marker-command", "delete-replaced marker-command"]),
    );
    const [oldSite, newSite] = await files(fleet, "puck", ["/etc/nginx/conf.d/shop.conf", "/etc/nginx/conf.d/store.conf"]);
    expect(oldSite?.exists).toBe(false);
    expect(newSite?.content).toContain(knobs.siteBody);
    expect(await shop()).toEqual({ status: 200, body: knobs.siteBody });
    expect((await files(fleet, "titania", [MARKER_FILE]))[0]?.exists).toBe(false);
    expect(await fileText(fleet, "prospero", MARKER_FILE)).toBe("prospero\n");
  });

  it("re-addressing puck (name → IP, another SSH port) removes nothing and reloads nothing", async () => {
    // Config files and the files puck's tasks write: a task whose update changed nothing but
    // the connection runs nothing (scripts.ts RunStamp), so those stay untouched too.
    const paths = [...stackFiles(knobs.site).puck, ...BASE_FILES.puck];
    const filesBefore = await files(fleet, "puck", paths);
    const workersBefore = await nginxWorkers(fleet);
    const caddyConfig = (await fleet.curl("puck", "http://localhost:2019/config/")).body;

    knobs = { ...knobs, puckAddress: "ip", puckPort: SSH_ALT_PORT };
    const u = remember(await engine.up(program(knobs)));
    const changed = ops(u);
    expect(changed.delete ?? [], "nothing deleted").toEqual([]);
    expect(changed.replace ?? [], "nothing replaced").toEqual([]);
    expect(changed["delete-replaced"] ?? []).toEqual([]);
    expect(changed["create-replacement"] ?? []).toEqual([]);
    // Only puck's commands see the new connection; each is an update.
    for (const name of changed.update ?? []) expect(u.steps.find((s) => s.name === name && s.op === "update")?.diffs).toEqual(["connection"]);
    expect(changed.update).toEqual(expect.arrayContaining(["shop-site-config", "puck-caddy-caddyfile", "docs-site-site", "shop-metrics-file-command", "shop-token-command", "puck-nginx-reload", "puck-caddy-reload"]));

    expect(await files(fleet, "puck", paths)).toEqual(filesBefore); // same bytes, inode, mtime, owner, mode
    expect(await nginxWorkers(fleet)).toEqual(workersBefore); // no reload
    expect((await fleet.curl("puck", "http://localhost:2019/config/")).body).toBe(caddyConfig);
    expect(await shop()).toEqual({ status: 200, body: knobs.siteBody });
    // The provider did connect, on the new port and address.
    expect(connectionsOn(fleet, "puck", ADDRESSES.puck, SSH_ALT_PORT)).toBeGreaterThan(0);

    const s0 = sessions(fleet);
    const p = remember(await engine.preview(program(knobs)));
    expect(Object.keys(ops(p))).toEqual(["same"]);
    expect(since(fleet, s0)).toEqual({});
  });

  it("a rule promtool refuses: up fails naming the file and the validator's message, the live rules keep working, the next up converges", async () => {
    const rulesBefore = await fileText(fleet, "prospero", "/etc/prometheus/rules.d/shop.yml");
    const reloadBefore = await promLastReload(fleet);
    knobs = { ...knobs, alertExpr: 'up{job="shop"} ==' };
    const f = await engine.upFailing(program(knobs));
    remember(f);
    expect(f.error).toContain("/etc/prometheus/rules.d/shop.yml");
    expect(f.error).toMatch(/parse error|could not parse|unexpected end of input/);
    expect(f.error).toContain("previous version restored");
    expect(await fileText(fleet, "prospero", "/etc/prometheus/rules.d/shop.yml")).toBe(rulesBefore);
    expect(await promLastReload(fleet)).toBe(reloadBefore);
    expect((await promRules(fleet)).map((r) => r.query)).toContain(GOOD_EXPR);

    knobs = { ...knobs, alertExpr: GOOD_EXPR };
    remember(await engine.up(program(knobs)));
    const p = remember(await engine.preview(program(knobs)));
    expect(Object.keys(ops(p))).toEqual(["same"]);
    expect(await fileText(fleet, "prospero", "/etc/prometheus/rules.d/shop.yml")).toBe(rulesBefore);
  });

  it("no plaintext secret in the state (exported and on disk) or in any preview/up log", async () => {
    const exported = await engine.exported();
    const onDisk = engine.onDisk();
    for (const [what, value] of Object.entries(secretValues())) {
      expect(value.length, what).toBeGreaterThan(8);
      expect(exported.includes(value), `${what} in the exported state`).toBe(false);
      expect(onDisk.includes(value), `${what} in the state on disk`).toBe(false);
      for (const log of logs) expect(log.includes(value), `${what} in a log`).toBe(false);
    }
    // The state does hold them, encrypted: they are secrets, not missing.
    expect(exported).toContain("4dabf18193072939515e22adb298388d"); // Pulumi's secret signature
  });

  it("destroy completes and the hosts serve what they served before the stack existed", async () => {
    const d = remember(await engine.destroy(program(knobs)));
    expect(Object.keys(ops(d))).toEqual(["delete"]);
    for (const h of HOSTS) {
      expect(await files(fleet, h, BASE_FILES[h]), `${h}'s main configs`).toEqual(before[h]!.map((f) => expect.objectContaining({ path: f.path, exists: f.exists, content: f.content })));
      for (const f of await files(fleet, h, stackFiles(knobs.site)[h])) expect(f.exists, `${h}:${f.path}`).toBe(false);
    }
    expect((await files(fleet, "prospero", [MARKER_FILE]))[0]?.exists).toBe(false);
    expect(await listDir(fleet, "puck", "/etc/nginx/conf.d")).toEqual([]);
    // HAProxy answers the shop's domain with the harness's "no route" again; Caddy serves its own site.
    await haproxyWorkers(fleet);
    expect(await shop()).toEqual({ status: 503, body: "no route" });
    expect((await fleet.curl("puck", `http://${ADDRESSES.puck}:8081/`)).body).toBe(beforeCaddy);
    await eventually("Prometheus to drop the shop target", 30_000, () => promTargets(fleet), (ts) => !ts.some((t) => t.job === "shop"));
    // The database and its role are gone.
    const dbs = await runCmd("/usr/bin/psql", ["-X", "-w", "-h", ADDRESSES.portia, "-U", "postgres", "-d", "postgres", "-tA", "-c", "select count(*) from pg_database where datname = 'shop'"], {
      env: { PATH: "/usr/bin:/bin", PGPASSWORD: fleet.postgres.adminPassword, PGCONNECT_TIMEOUT: "5" },
      timeoutMs: 30_000,
    });
    expect(dbs.stdout).toBe("0\n");
    for (const [what, value] of Object.entries(secretValues())) expect(d.log.includes(value), `${what} in the destroy log`).toBe(false);
  });
});
