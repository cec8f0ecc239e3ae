/**
 * End to end (DESIGN.md, "Testing layers", item 5): the exact scripts the components
 * hand to `remote.Command`, taken from the program built under mocks, run over real SSH
 * against HAProxy on titania, nginx and Caddy on puck, and Prometheus on prospero.
 *
 * Every address is a test host on 10.231.0.0/24 or loopback inside a host: HAProxy's
 * runtime resolver is pinned to 127.0.0.1 in titania, where a stand-in for the Incus
 * DNS answers from titania's /etc/hosts (./dns.ts), never the machine's resolv.conf.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaddyRoute, CaddyServer, CaddySite } from "../../src/components/caddy";
import { HAProxyFrontend, HAProxyRoute } from "../../src/components/haproxy";
import { NginxSite } from "../../src/components/nginx";
import { PrometheusScrape, PrometheusServer } from "../../src/components/prometheus";
import { type CommandTransform } from "../../src/remote/command";
import { type Host } from "../../src/remote/host";
import { bundleParts } from "../helpers/inputs";
import { startDns } from "./dns";
import { ADDRESSES, type Fleet, HEALTH_BODY, type HostName, startHosts } from "./harness";
import {
  build,
  type Built,
  create,
  createAll,
  update,
  updateAll,
  describeResult,
  destroy,
  eventually,
  fleetHosts,
  hostOf,
  mapPart,
  mapStdin,
  type RemoteCommand,
} from "./program";
import {
  fileText,
  files,
  type FileState,
  haproxyLiveMap,
  haproxyWorkers,
  listDir,
  nginxWorkers,
  promLastReload,
  promRules,
  promTargets,
  viaHaproxy,
} from "./probes";

const HOSTS: HostName[] = ["titania", "prospero", "puck"];

const APP_DOMAIN = "app.fleet.test";
const APP_PORT = 8090;
const APP_BODY = "app via nginx on puck";
const APP_TARGET = `puck.incus:${APP_PORT}`;
const GOOD_EXPR = 'up{job="app"} == 0';
/** What the app itself writes: its metrics, served by the site as a static file. */
const APP_METRICS = "# TYPE fleet_e2e_up gauge\nfleet_e2e_up 1\n";

/** Faults injected through the components' own hooks (and one through the alert's expression). */
interface Faults {
  readonly backend?: CommandTransform;
  readonly map?: CommandTransform;
  readonly site?: CommandTransform;
  readonly scrape?: CommandTransform;
  readonly rules?: CommandTransform;
  readonly alertExpr?: string;
}

type Hosts = Readonly<Partial<Record<HostName, Host>>>;

/** The application as a stack would declare it: HAProxy in front, nginx on puck, Prometheus watching. */
function appProgram(hosts: Hosts, faults: Faults = {}) {
  const titania = hostOf(hosts, "titania");
  const prospero = hostOf(hosts, "prospero");
  const puck = hostOf(hosts, "puck");
  const frontend = new HAProxyFrontend("titania", {
    host: titania,
    httpBind: `${ADDRESSES.titania}:80`,
    nameservers: [{ address: "127.0.0.1", port: 53 }],
  });
  const site = new NginxSite("app-site", {
    host: puck,
    site: "app",
    listen: APP_PORT,
    address: ADDRESSES.puck,
    locations: [
      { path: "= /healthz", returnStatus: 200, returnBody: "ok" },
      { path: "/", returnStatus: 200, returnBody: APP_BODY },
      { path: "= /metrics", static: { root: "/srv/app" } },
    ],
    transform: { config: faults.site },
  });
  const route = new HAProxyRoute(
    "app",
    {
      host: titania,
      backend: "app",
      domains: [APP_DOMAIN],
      healthPath: "/healthz",
      servers: [{ name: "puck", address: "puck.incus", port: APP_PORT }],
      transform: { backend: faults.backend, map: faults.map },
    },
    { dependsOn: [frontend, site] },
  );
  const server = new PrometheusServer("prospero", {
    host: prospero,
    scrapeInterval: "5s",
    evaluationInterval: "5s",
    scrapeTimeout: "5s",
    alertmanagers: ["prospero.incus:9093"],
  });
  const scrape = new PrometheusScrape(
    "app-metrics",
    {
      host: prospero,
      jobName: "app",
      scrapeInterval: "5s",
      targets: [APP_TARGET],
      alerts: [
        {
          name: "AppDown",
          expr: faults.alertExpr ?? GOOD_EXPR,
          for: "1m",
          severity: "critical",
          summary: "app on {{ $labels.instance }} is down",
        },
      ],
      transform: { scrape: faults.scrape, rules: faults.rules },
    },
    { dependsOn: [server] },
  );
  return { frontend, site, route, server, scrape };
}

/** The order `pulumi up` would create them in (each after what it depends on). */
const APP_ORDER = ["titania-config", "app-site-config", "app-files", "prospero-base", "app-metrics-scrape", "app-metrics-rules"];

/**
 * Each managed file, by the command that writes it (its key, unless `command` says: the
 * route's backend and map fragments are one command, `app-files`).
 */
const TARGETS: Record<string, { host: HostName; path: string; command?: string }> = {
  "titania-config": { host: "titania", path: "/etc/haproxy/haproxy.cfg" },
  "app-site-config": { host: "puck", path: "/etc/nginx/conf.d/app.conf" },
  "app-backend": { host: "titania", path: "/etc/haproxy/conf.d/app.cfg", command: "app-files" },
  "app-map": { host: "titania", path: "/etc/haproxy/hosts.d/app.route.map", command: "app-files" },
  "prospero-base": { host: "prospero", path: "/etc/prometheus/prometheus.base.yml" },
  "app-metrics-scrape": { host: "prospero", path: "/etc/prometheus/scrape.d/app.yml" },
  "app-metrics-rules": { host: "prospero", path: "/etc/prometheus/rules.d/app.yml" },
};

/** The files a command writes, in order. */
const targetsOf = (command: string) => Object.entries(TARGETS).filter(([k, t]) => (t.command ?? k) === command).map(([, t]) => t);

/** What a command puts into `path`: its stdin, or that file's part of its bundle. */
const contentOf = (cmd: RemoteCommand, path: string): string => (targetsOf(cmd.name).length > 1 ? bundleParts(cmd.stdin ?? "").get(path)! : (cmd.stdin ?? ""));

/** Files derived from fragments by the assemble steps. */
const DERIVED: Record<string, { host: HostName; path: string }> = {
  hostsMap: { host: "titania", path: "/etc/haproxy/hosts.map" },
  prometheusYml: { host: "prospero", path: "/etc/prometheus/prometheus.yml" },
};

const BETA_BODY = "beta via caddy";

/**
 * Two more routes on the same HAProxy: alpha to the harness's nginx /health on puck:8080,
 * beta to a Caddy site on puck:8082 managed by the Caddy components (whose /health route
 * proxies on to nginx).
 */
function parallelProgram(hosts: Hosts, caddyRouteFault?: CommandTransform) {
  const titania = hostOf(hosts, "titania");
  const puck = hostOf(hosts, "puck");
  const caddy = new CaddyServer("puck-caddy", { host: puck, admin: "localhost:2019", autoHttps: "off" });
  const betaSite = new CaddySite("beta-site", {
    server: caddy,
    site: "beta",
    addresses: ["http://beta.fleet.test:8082"],
    fallback: { body: BETA_BODY, status: 200 },
  });
  const betaHealth = new CaddyRoute("beta-health", {
    site: betaSite,
    route: "health",
    path: "/health",
    upstreams: [`${ADDRESSES.puck}:8080`],
    transform: { fragment: caddyRouteFault },
  });
  const alpha = new HAProxyRoute("alpha", {
    host: titania,
    backend: "alpha",
    domains: ["alpha.fleet.test"],
    healthPath: "/health",
    servers: [{ name: "puck", address: "puck.incus", port: 8080 }],
  });
  const beta = new HAProxyRoute(
    "beta",
    { host: titania, backend: "beta", domains: ["beta.fleet.test"], healthPath: "/", servers: [{ name: "puck", address: "puck.incus", port: 8082 }] },
    { dependsOn: [betaSite] },
  );
  return { caddy, betaSite, betaHealth, alpha, beta };
}

/** Rounds of the parallel apply. */
const ROUNDS = 3;

const PARALLEL_ORDER = ["puck-caddy-caddyfile", "beta-site-site", "beta-health-fragment", "alpha-files", "beta-files"];

/** Restoring keeps bytes, owner, mode and mtime (`cp -p`), not the inode. */
function withoutInode(fs: readonly FileState[]): unknown[] {
  return fs.map((f) => ({ ...f, meta: f.meta?.split(" ").slice(1).join(" ") }));
}

function ordered(built: Built<unknown>, names: readonly string[]): RemoteCommand[] {
  // Every command but the file-helper installers, which `create` runs first (program.ts).
  expect([...built.commands.filter((c) => !c.installer).map((c) => c.name)].sort()).toEqual([...names].sort());
  return names.map((n) => built.command(n));
}

async function snapshot(fleet: Fleet): Promise<FileState[]> {
  const all = [...Object.values(TARGETS), ...Object.values(DERIVED)];
  const out: FileState[] = [];
  for (const h of HOSTS) out.push(...(await files(fleet, h, all.filter((t) => t.host === h).map((t) => t.path))));
  return out;
}

async function appServed(fleet: Fleet): Promise<void> {
  await eventually(`HAProxy to route ${APP_DOMAIN} to nginx on puck`, 20_000, () => viaHaproxy(fleet, APP_DOMAIN), (r) => r.status === 200 && r.body === APP_BODY);
}

async function appTargetUp(fleet: Fleet): Promise<void> {
  await eventually(
    `Prometheus to list ${APP_TARGET} (job app) as up`,
    30_000,
    () => promTargets(fleet),
    (ts) => ts.some((t) => t.job === "app" && t.instance === APP_TARGET && t.health === "up"),
  );
}

describe("components on real daemons over SSH", () => {
  let fleet: Fleet;
  let hosts: Hosts;
  let app: Built<ReturnType<typeof appProgram>>;

  beforeAll(async () => {
    fleet = await startHosts({ names: HOSTS });
    await startDns(fleet, "titania");
    hosts = fleetHosts(fleet);
    app = await build(() => appProgram(hosts));
  });

  afterAll(async () => {
    await fleet?.teardown();
  });

  it("lands a route, a site, a scrape job and an alert rule: validated, reloaded and in effect", async () => {
    const before = { haproxy: await haproxyWorkers(fleet), nginx: await nginxWorkers(fleet), prometheus: await promLastReload(fleet) };
    // Every script is the component's own, aimed at the right host.
    for (const [name, t] of Object.entries(TARGETS)) {
      const cmd = app.command(t.command ?? name);
      expect(cmd.host, name).toBe(t.host);
      expect(cmd.create, name).toContain(t.path);
      expect(cmd.delete, name).toContain(t.path);
    }
    // The app's own output, which the site serves as /metrics.
    const staged = await fleet.exec("puck", ["/bin/sh", "-c", 'mkdir -p /srv/app && cat > /srv/app/metrics'], { stdin: APP_METRICS });
    expect(staged.code, staged.stderr).toBe(0);

    const cmds = ordered(app, APP_ORDER);
    const results = await createAll(fleet, cmds);
    results.forEach((r, i) => {
      const name = APP_ORDER[i]!;
      expect(r.stdout, name).toBe(targetsOf(name).map((t) => `fleet: updated ${t.path}\n`).join(""));
    });

    // The files are the components' content, byte for byte.
    for (const name of APP_ORDER) {
      for (const t of targetsOf(name)) expect(await fileText(fleet, t.host, t.path), `${name}: ${t.path}`).toBe(contentOf(app.command(name), t.path));
    }
    expect(await fileText(fleet, "titania", DERIVED.hostsMap!.path)).toBe(`${APP_DOMAIN} app\n`);
    expect(await fileText(fleet, "prospero", DERIVED.prometheusYml!.path)).toContain("job_name: app");

    // In effect: a request through HAProxy on titania reaches the nginx site on puck ...
    await appServed(fleet);
    const unknown = await viaHaproxy(fleet, "nobody.fleet.test");
    expect(unknown.status).toBe(503);
    expect(unknown.body).toBe("no route for this host\n");
    // ... Prometheus on prospero scrapes the site's /metrics and has loaded the rule.
    await appTargetUp(fleet);
    const loaded = { group: "app", file: "/etc/prometheus/rules.d/app.yml", name: "AppDown", query: GOOD_EXPR };
    expect(await promRules(fleet)).toContainEqual(expect.objectContaining(loaded));
    // ... and evaluates it (health turns "ok" at the first evaluation, 5 s apart).
    await eventually("Prometheus to evaluate AppDown", 20_000, () => promRules(fleet), (rs) => rs.some((r) => r.name === "AppDown" && r.health === "ok"));

    // Each daemon was reloaded (the probes used below for "nothing reloaded" do see a reload).
    expect(await haproxyWorkers(fleet)).not.toEqual(before.haproxy);
    expect(await nginxWorkers(fleet)).not.toEqual(before.nginx);
    expect(await promLastReload(fleet)).toBeGreaterThan(before.prometheus);
  });

  it("running the same scripts again changes no file and reloads nothing", async () => {
    const files0 = await snapshot(fleet);
    const daemons0 = { haproxy: await haproxyWorkers(fleet), nginx: await nginxWorkers(fleet), prometheus: await promLastReload(fleet) };
    // Prometheus's reload timestamp has a resolution of one second.
    await new Promise((r) => setTimeout(r, 1_100));

    const results = await updateAll(fleet, ordered(app, APP_ORDER));
    results.forEach((r, i) => {
      const name = APP_ORDER[i]!;
      expect(r, name).toEqual({ code: 0, stdout: targetsOf(name).map((t) => `fleet: unchanged ${t.path}\n`).join(""), stderr: "" });
    });

    expect(await snapshot(fleet)).toEqual(files0);
    expect(await haproxyWorkers(fleet)).toEqual(daemons0.haproxy);
    expect(await nginxWorkers(fleet)).toEqual(daemons0.nginx);
    expect(await promLastReload(fleet)).toBe(daemons0.prometheus);
    // No temp or backup file left beside any target. The only `.fleet-orig` (what was
    // there before the first deploy, for destroy: docs/destroy.md) are the daemons' main
    // configs the harness started with; fragments did not exist before. The route's two
    // files are one set, recorded beside its first (`.fleet-set`, docs/remote-primitive.md).
    const leftovers = (entries: string[]) => entries.filter((f) => f.includes(".fleet-") && !f.endsWith(".fleet-orig") && !f.endsWith(".fleet-set"));
    const originals = (entries: string[]) => entries.filter((f) => f.endsWith(".fleet-orig"));
    const sets = (entries: string[]) => entries.filter((f) => f.endsWith(".fleet-set"));
    for (const dir of ["/etc/haproxy", "/etc/haproxy/conf.d", "/etc/haproxy/hosts.d"]) {
      const entries = await listDir(fleet, "titania", dir);
      expect(leftovers(entries), dir).toEqual([]);
      expect(originals(entries), dir).toEqual(dir === "/etc/haproxy" ? [".haproxy.cfg.fleet-orig"] : []);
      expect(sets(entries), dir).toEqual(dir === "/etc/haproxy/conf.d" ? [".app.cfg.fleet-set"] : []);
    }
    for (const dir of ["/etc/prometheus/scrape.d", "/etc/prometheus/rules.d"]) {
      expect((await listDir(fleet, "prospero", dir)).filter((f) => f.includes(".fleet-")), dir).toEqual([]);
    }
    expect(leftovers(await listDir(fleet, "prospero", "/etc/prometheus"))).toEqual([]);
    expect((await listDir(fleet, "puck", "/etc/nginx/conf.d")).filter((f) => f.includes(".fleet-"))).toEqual([]);
  });

  // ---- refusals ---------------------------------------------------------------------

  it("refuses a backend fragment HAProxy rejects: old file back, old config still serving, HAProxy's message", async () => {
    const path = TARGETS["app-backend"]!.path;
    const broken = await build(() => appProgram(hosts, { backend: (args) => mapPart(args, path, (s) => `${s}    frobnicate on\n`) }));
    const cmd = broken.command("app-files");
    expect(contentOf(cmd, path)).toContain("frobnicate on");
    const [file0] = await files(fleet, "titania", [path]);
    const workers0 = await haproxyWorkers(fleet);

    const r = await update(fleet, cmd);
    expect(r.code, describeResult(cmd, r)).not.toBe(0);
    // What an operator reads: one line naming the checker, file, host and what was restored,
    // then HAProxy's own [ALERT] lines; never the script.
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`fleet: haproxy -c refused ${path} on titania; previous version restored, haproxy not reloaded`);
    expect(lines.slice(1).some((l) => l.startsWith("  [ALERT]"))).toBe(true);
    expect(lines.length).toBeLessThanOrEqual(27);
    for (const call of cmd.create.split(" --and ")) expect(call.length).toBeLessThan(200);

    expect(withoutInode(await files(fleet, "titania", [path]))).toEqual(withoutInode([file0!]));
    expect(await fileText(fleet, "titania", path)).toBe(contentOf(app.command("app-files"), path));
    // Nothing left but the route's set record, as it was.
    expect((await listDir(fleet, "titania", "/etc/haproxy/conf.d")).filter((f) => f.includes(".fleet-"))).toEqual([".app.cfg.fleet-set"]);
    expect(await fileText(fleet, "titania", "/etc/haproxy/conf.d/.app.cfg.fleet-set")).toBe(`${path}\n/etc/haproxy/hosts.d/app.route.map\n`);
    expect(await haproxyWorkers(fleet)).toEqual(workers0);
    await appServed(fleet);

    // The error carries HAProxy's own message (it names the file, line and keyword).
    expect(r.stderr, "the validator's message is missing from the script's error output").toMatch(
      /\[ALERT\].*parsing \[\/etc\/haproxy\/conf\.d\/app\.cfg:\d+\] : unknown keyword 'frobnicate' in 'backend' section/,
    );
  });

  it("refuses a host-map fragment naming a backend that does not exist", async () => {
    const path = TARGETS["app-map"]!.path;
    const broken = await build(() => appProgram(hosts, { map: (args) => mapPart(args, path, (s) => s.replace(`${APP_DOMAIN} app`, `${APP_DOMAIN} ghost`)) }));
    const cmd = broken.command("app-files");
    expect(contentOf(cmd, path)).toBe(`# route: app\n${APP_DOMAIN} ghost\n`);
    const mapBefore = await files(fleet, "titania", [path, DERIVED.hostsMap!.path]);
    const workers0 = await haproxyWorkers(fleet);

    const r = await update(fleet, cmd);
    // What the live HAProxy does with the domain a moment later (for the failure message;
    // a reload by signal is asynchronous).
    const served = await eventually("HAProxy to settle", 5_000, () => viaHaproxy(fleet, APP_DOMAIN), (x) => x.status !== 200).catch(() => viaHaproxy(fleet, APP_DOMAIN));
    const map = await fileText(fleet, "titania", DERIVED.hostsMap!.path);
    try {
      expect(r.code, `${describeResult(cmd, r)}\nhosts.map now: ${JSON.stringify(map)}; HAProxy answers ${APP_DOMAIN} with ${served.status} ${JSON.stringify(served.body)}`).not.toBe(0);
      expect(r.stderr).toContain("ghost");
      expect(withoutInode(await files(fleet, "titania", [path, DERIVED.hostsMap!.path]))).toEqual(withoutInode(mapBefore));
      expect(await haproxyWorkers(fleet)).toEqual(workers0);
      await appServed(fleet);
    } finally {
      // Whatever happened, put the route back for the tests that follow.
      const fix = await update(fleet, app.command("app-files"));
      expect(fix.code, describeResult(app.command("app-files"), fix)).toBe(0);
      await appServed(fleet);
    }
  });

  it("refuses an nginx site with a bad directive: old file back (or none), nginx still serving, nginx's message", async () => {
    const bad: CommandTransform = (args) => mapStdin(args, (s) => s.replace(/^server \{$/m, "server {\n    frobnicate on;"));
    const broken = await build(() => appProgram(hosts, { site: bad }));
    const cmd = broken.command("app-site-config");
    expect(cmd.stdin).toContain("frobnicate on;");
    const path = TARGETS["app-site-config"]!.path;
    const [file0] = await files(fleet, "puck", [path]);
    const workers0 = await nginxWorkers(fleet);

    const r = await update(fleet, cmd);
    expect(r.code, describeResult(cmd, r)).not.toBe(0);
    expect(r.stderr).toMatch(/\[emerg\] \d+#\d+: unknown directive "frobnicate" in \/etc\/nginx\/conf\.d\/app\.conf:\d+/);
    expect(r.stderr).toContain(`fleet: nginx -t refused ${path} on puck; previous version restored, nginx not reloaded`);
    expect(withoutInode(await files(fleet, "puck", [path]))).toEqual(withoutInode([file0!]));
    expect(await nginxWorkers(fleet)).toEqual(workers0);
    await appServed(fleet);

    // A new site that nginx refuses leaves no file behind at all.
    const fresh = await build(() => ({
      site: new NginxSite("fresh-site", {
        host: hostOf(hosts, "puck"),
        site: "fresh",
        listen: 8091,
        locations: [{ path: "/", returnStatus: 204 }],
        transform: { config: bad },
      }),
    }));
    const freshCmd = fresh.command("fresh-site-config");
    const rf = await create(fleet, freshCmd);
    expect(rf.code, describeResult(freshCmd, rf)).not.toBe(0);
    expect(rf.stderr).toMatch(/\[emerg\] \d+#\d+: unknown directive "frobnicate" in \/etc\/nginx\/conf\.d\/fresh\.conf:\d+/);
    expect(await listDir(fleet, "puck", "/etc/nginx/conf.d")).toEqual(["app.conf"]);
    expect(await nginxWorkers(fleet)).toEqual(workers0);
  });

  it("refuses an alert rule whose expression does not parse: old rules back and loaded, promtool's message", async () => {
    const badExpr = 'up{job="app" == 0';
    // The schema takes any one-line expression (PromQL is not parsed in TypeScript): the
    // component builds, and the host-side validator is what refuses it.
    const broken = await build(() => appProgram(hosts, { alertExpr: badExpr }));
    const cmd = broken.command("app-metrics-rules");
    expect(cmd.stdin).toContain(badExpr);
    const path = TARGETS["app-metrics-rules"]!.path;
    const [file0] = await files(fleet, "prospero", [path]);
    const reload0 = await promLastReload(fleet);

    const r = await update(fleet, cmd);
    expect(r.code, describeResult(cmd, r)).not.toBe(0);
    expect(r.stderr).toContain(`${path}: `);
    expect(r.stderr).toMatch(/could not parse expression: .*parse error/);
    expect(r.stderr).toContain(`fleet: promtool check rules/config refused ${path} on prospero; previous version restored, prometheus not reloaded`);
    expect(withoutInode(await files(fleet, "prospero", [path]))).toEqual(withoutInode([file0!]));
    expect(await promLastReload(fleet)).toBe(reload0);
    expect(await promRules(fleet)).toContainEqual(expect.objectContaining({ name: "AppDown", query: GOOD_EXPR, health: "ok" }));
    await appTargetUp(fleet);
  });

  it("refuses a scrape fragment promtool rejects: fragment and assembled prometheus.yml back, target still scraped", async () => {
    const broken = await build(() => appProgram(hosts, { scrape: (args) => mapStdin(args, (s) => `${s}  frobnicate: true\n`) }));
    const cmd = broken.command("app-metrics-scrape");
    const paths = [TARGETS["app-metrics-scrape"]!.path, DERIVED.prometheusYml!.path];
    const before = await files(fleet, "prospero", paths);
    const reload0 = await promLastReload(fleet);

    const r = await update(fleet, cmd);
    expect(r.code, describeResult(cmd, r)).not.toBe(0);
    expect(r.stderr).toMatch(/field frobnicate not found in type config\.ScrapeConfig/);
    expect(r.stderr).toContain(`fleet: promtool check config refused ${paths[0]!} on prospero; previous version restored, prometheus not reloaded`);
    const after = await files(fleet, "prospero", paths);
    expect(after.map((f) => f.content)).toEqual(before.map((f) => f.content));
    expect(withoutInode(after.slice(0, 1))).toEqual(withoutInode(before.slice(0, 1)));
    expect(await promLastReload(fleet)).toBe(reload0);
    await appTargetUp(fleet);
  });

  // ---- concurrency --------------------------------------------------------------------

  it("applies two routes in parallel, both survive; deleting one leaves the other serving", async () => {
    const par = await build(() => parallelProgram(hosts));
    // Caddy on puck first: its own server, site and route components (beta's upstream).
    const caddy = await createAll(fleet, ordered(par, PARALLEL_ORDER).slice(0, 3));
    expect(caddy.map((r) => r.stdout.trim())).toEqual([
      "fleet: updated /etc/caddy/Caddyfile",
      "fleet: updated /etc/caddy/sites/beta.caddy",
      "fleet: updated /etc/caddy/routes/beta/health.caddy",
    ]);
    await eventually("Caddy to serve beta.fleet.test", 10_000, () => fleet.curl("titania", "http://puck.incus:8082/", { headers: { Host: "beta.fleet.test" } }), (x) => x.status === 200 && x.body === BETA_BODY);

    const applyRoute = (name: string): Promise<unknown> => createAll(fleet, [par.command(`${name}-files`)]);
    const deleteRoute = async (name: string): Promise<void> => {
      // The map first, then the backend (the reverse of creation), in one command.
      const c = par.command(`${name}-files`);
      const d = await destroy(fleet, c);
      expect(d, describeResult(c, d)).toEqual({ code: 0, stdout: `fleet: removed /etc/haproxy/hosts.d/${name}.route.map\nfleet: removed /etc/haproxy/conf.d/${name}.cfg\n`, stderr: "" });
    };
    const both = `alpha.fleet.test alpha\n${APP_DOMAIN} app\nbeta.fleet.test beta\n`;

    // Pulumi applies independent resources at once: race the two routes (each backend then
    // map, as their one command writes them). Several rounds, since a race is a matter of timing.
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all([applyRoute("alpha"), applyRoute("beta")]);
      expect(await fileText(fleet, "titania", DERIVED.hostsMap!.path), `round ${round}`).toBe(both);
      // The live HAProxy must have loaded what is on disk: a reload may not be lost. (With
      // `services: direct` the reload is `kill -USR2` on the master, which returns at once;
      // a second USR2 arriving while the master is still re-executing can be dropped.)
      await eventually(`round ${round}: the live HAProxy to have loaded the host map on disk (both routes; was a reload lost?)`, 10_000, () => haproxyLiveMap(fleet), (m) => m === both);
      await eventually(`round ${round}: alpha.fleet.test to reach nginx's /health on puck`, 10_000, () => viaHaproxy(fleet, "alpha.fleet.test", "/health"), (x) => x.status === 200 && x.body === HEALTH_BODY);
      await eventually(`round ${round}: beta.fleet.test to reach Caddy on puck`, 10_000, () => viaHaproxy(fleet, "beta.fleet.test"), (x) => x.status === 200 && x.body === BETA_BODY);
      // beta's /health: HAProxy -> Caddy's route fragment -> nginx.
      expect(await viaHaproxy(fleet, "beta.fleet.test", "/health")).toMatchObject({ status: 200, body: HEALTH_BODY });
      await appServed(fleet);

      await deleteRoute("alpha");
      const rest = `${APP_DOMAIN} app\nbeta.fleet.test beta\n`;
      expect(await fileText(fleet, "titania", DERIVED.hostsMap!.path)).toBe(rest);
      // alpha's set record went with its files.
      expect(await listDir(fleet, "titania", "/etc/haproxy/conf.d")).toEqual([".app.cfg.fleet-set", ".beta.cfg.fleet-set", "app.cfg", "beta.cfg"]);
      expect(await listDir(fleet, "titania", "/etc/haproxy/hosts.d")).toEqual(["app.route.map", "beta.route.map"]);
      await eventually(`round ${round}: the live HAProxy to have dropped alpha`, 10_000, () => haproxyLiveMap(fleet), (m) => m === rest);
      await eventually(`round ${round}: alpha.fleet.test to be gone (503)`, 10_000, () => viaHaproxy(fleet, "alpha.fleet.test", "/health"), (x) => x.status === 503 && x.body === "no route for this host\n");
      expect(await viaHaproxy(fleet, "beta.fleet.test")).toMatchObject({ status: 200, body: BETA_BODY });
      await appServed(fleet);

      // Deleting again is a no-op.
      const again = await destroy(fleet, par.command("alpha-files"));
      expect(again).toEqual({ code: 0, stdout: "fleet: already absent /etc/haproxy/hosts.d/alpha.route.map\nfleet: already absent /etc/haproxy/conf.d/alpha.cfg\n", stderr: "" });
      if (round < ROUNDS) {
        await deleteRoute("beta");
        await eventually(`round ${round}: the live HAProxy to have dropped beta`, 10_000, () => haproxyLiveMap(fleet), (m) => m === `${APP_DOMAIN} app\n`);
      }
    }
  });

  it("reloads with a route whose server name does not resolve, and every other route keeps serving", async () => {
    // DESIGN.md seed decision: `haproxy -c` must not refuse an unknown name (init-addr none).
    const lost = await build(() => ({
      route: new HAProxyRoute("lost", {
        host: hostOf(hosts, "titania"),
        backend: "lost",
        domains: ["lost.fleet.test"],
        healthPath: "/health",
        servers: [{ name: "gone", address: "gone.incus", port: 8080 }],
      }),
    }));
    const workers0 = await haproxyWorkers(fleet);
    const cmds = [lost.command("lost-files")];
    const results = await createAll(fleet, cmds);
    expect(results.map((r) => r.stdout)).toEqual(["fleet: updated /etc/haproxy/conf.d/lost.cfg\nfleet: updated /etc/haproxy/hosts.d/lost.route.map\n"]);
    expect(await haproxyWorkers(fleet)).not.toEqual(workers0);
    // The route is loaded (the map sends the domain to its backend) and simply has no server up.
    await eventually("lost.fleet.test to reach its backend, which has no server", 10_000, () => viaHaproxy(fleet, "lost.fleet.test"), (x) => x.status === 503 && x.body.includes("No server is available"));
    await appServed(fleet);
    expect(await viaHaproxy(fleet, "beta.fleet.test")).toMatchObject({ status: 200, body: BETA_BODY });

    for (const c of [...cmds].reverse()) {
      const d = await destroy(fleet, c);
      expect(d.code, describeResult(c, d)).toBe(0);
    }
    await appServed(fleet);
  });

  it("refuses a Caddy route fragment Caddy rejects: old fragment back, Caddy still serving, Caddy's message", async () => {
    const broken = await build(() => parallelProgram(hosts, (args) => mapStdin(args, (s) => s.replace("reverse_proxy", "reverse_proxyy"))));
    const cmd = broken.command("beta-health-fragment");
    const path = "/etc/caddy/routes/beta/health.caddy";
    expect(cmd.create).toContain(path);
    const [file0] = await files(fleet, "puck", [path]);

    const r = await update(fleet, cmd);
    expect(r.code, describeResult(cmd, r)).not.toBe(0);
    expect(r.stderr).toContain("unrecognized directive: reverse_proxyy");
    expect(r.stderr).toContain(`fleet: caddy validate refused ${path} on puck; previous version restored, caddy not reloaded`);
    expect(withoutInode(await files(fleet, "puck", [path]))).toEqual(withoutInode([file0!]));
    expect(await viaHaproxy(fleet, "beta.fleet.test", "/health")).toMatchObject({ status: 200, body: HEALTH_BODY });
  });
});

