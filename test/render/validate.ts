/**
 * Every file `npm run render` writes, checked offline by the validator of the daemon
 * that reads it, the way the host's own validator runs it (the daemons' validate text
 * from src/remote/daemons/ and the components' assemble snippets, with the host's
 * paths rewritten into a temp root).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { dashboardSchema } from "../../src/components/prometheus";
import { composeProject } from "../../src/components/compose/project";
import { haproxy, prometheus, prometheusRules, systemdUnitStrict } from "../../src/remote/daemons";
import { type RenderedFile } from "../../stacks/render";
import { writeSelfSigned } from "../helpers/certs";
import { expectValid, nginxPrefix, runTool, type ToolResult } from "../helpers/validators";

/** The host settings the daemons' validate text depends on (docker-compose v1 is the tool installed here). */
const HOST = {
  services: "systemd",
  pidFiles: { haproxy: "/run/haproxy.pid", prometheus: "/run/prometheus.pid", alertmanager: "/run/alertmanager.pid" },
  compose: "docker-compose",
} as const;

export interface ValidationRule {
  readonly name: string;
  /** Matches `<host><path>`. */
  readonly match: RegExp;
  /** A rule whose files the stack may not render (e.g. alertmanager.yml without a receiver config). */
  readonly optional?: boolean;
  /** A broken copy of a matched file that the validator must refuse. @default garbage appended */
  readonly corrupt?: (f: RenderedFile) => string;
  /**
   * Runs the real validator on the files the rule matched (`all`: every rendered file,
   * for files read together with others); throws with the tool's output. Temp dirs go to `dirs`.
   */
  readonly check: (files: readonly RenderedFile[], all: readonly RenderedFile[], dirs: string[]) => void;
}

/** The default corruption: a line no config language here accepts. */
export const breakText = (f: Pick<RenderedFile, "content">): string => `${f.content}\n}}} fleet-broken {{{\n`;

export const key = (f: Pick<RenderedFile, "host" | "path">): string => `${f.host}${f.path}`;

function sh(script: string): ToolResult {
  return runTool("/bin/sh", ["-c", `set -eu\n${script}`]);
}

/** A temp root holding `files` at their absolute paths. */
function rootWith(files: readonly RenderedFile[], dirs: string[], rewrite: (text: string, root: string) => string = (t) => t): string {
  const root = mkdtempSync(path.join(tmpdir(), "fleet-render-check-"));
  dirs.push(root);
  for (const f of files) {
    const dest = path.join(root, f.path);
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, rewrite(f.content, root));
  }
  return root;
}

/** Replace a host directory by the same directory under `root` (plain paths and sh-quoted ones alike). */
function rehome(text: string, dir: string, root: string): string {
  return text.split(dir).join(`${root}${dir}`);
}

function one(files: readonly RenderedFile[], suffix: string): RenderedFile {
  const found = files.filter((f) => f.path.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one rendered file ending in ${suffix}, found ${found.length}`);
  return found[0]!;
}

/** nginx -t over `files` included in the http context (the harness of test/helpers/validators.ts). */
function nginxT(files: Record<string, string>, dirs: string[]): ToolResult {
  const dir = nginxPrefix(files);
  dirs.push(dir);
  return runTool("nginx", ["-t", "-c", path.join(dir, "nginx.conf"), "-p", dir]);
}

function checkHaproxy(files: readonly RenderedFile[], dirs: string[]): void {
  const etc = "/etc/haproxy";
  const root = rootWith(files, dirs, (t, r) => rehome(t, etc, r));
  const main = one(files, "/haproxy.cfg");
  const crt = /\bssl crt (\S+)/.exec(main.content)?.[1];
  if (!crt) throw new Error("haproxy.cfg binds no certificate directory");
  mkdirSync(path.join(root, crt), { recursive: true });
  writeSelfSigned("daedalus.ouranos.helu.ca", path.join(root, crt, "ouranos.pem"));
  // The components' own assemble step: the main config and every route carry the same one
  // (the fragment directories, then the host map), so they share one helper per host.
  const snippets = [...new Set(files.map((f) => f.assemble).filter((a): a is string => a !== undefined))];
  if (snippets.length !== 1 || one(files, "/haproxy.cfg").assemble === undefined) throw new Error(`expected one assemble step, the main config's and the routes', found ${snippets.length}`);
  for (const s of snippets) expectValid(sh(rehome(s, etc, root)), `HAProxy assemble: ${s}`);
  const validate = haproxy(HOST, { config: `${root}${etc}/haproxy.cfg`, fragments: `${root}${etc}/conf.d` }).validate!;
  expectValid(sh(validate), "haproxy.cfg + conf.d");
  // Without -q: the only warnings allowed are backend names that do not resolve here (by design).
  const loud = runTool("haproxy", ["-c", "-f", `${root}${etc}/haproxy.cfg`, "-f", `${root}${etc}/conf.d`]);
  expectValid(loud, "haproxy -c");
  const warnings = loud.output.split("\n").filter((l) => l.includes("[WARNING]") && !/could not resolve address '[a-z0-9.-]+\.incus', disabling server/.test(l));
  if (warnings.length) throw new Error(`haproxy -c warned:\n${warnings.join("\n")}`);
  // The assembled map routes every domain to a backend some fragment defines.
  const map = readFileSync(`${root}${etc}/hosts.map`, "utf8").trim().split("\n").map((l) => l.split(/\s+/));
  const backends = new Set(files.flatMap((f) => [...f.content.matchAll(/^backend (\S+)$/gm)].map((m) => m[1]!)));
  const expected = files.filter((f) => f.path.endsWith(".map")).flatMap((f) => f.content.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(/\s+/)));
  if (JSON.stringify(map) !== JSON.stringify([...expected].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)))) throw new Error(`assembled hosts.map ${JSON.stringify(map)} differs from the fragments`);
  for (const [domain, backend] of map) if (!backends.has(backend!)) throw new Error(`hosts.map routes ${domain} to undefined backend ${backend}`);
}

function checkPrometheus(files: readonly RenderedFile[], dirs: string[]): void {
  const etc = "/etc/prometheus";
  const root = rootWith(files, dirs, (t, r) => rehome(t, etc, r));
  const snippets = [...new Set(files.map((f) => f.assemble).filter((a): a is string => a !== undefined))];
  // The base and every scrape fragment carry the same assemble step.
  if (snippets.length !== 1) throw new Error(`expected one Prometheus assemble snippet, found ${snippets.length}`);
  expectValid(sh(rehome(snippets[0]!, etc, root)), "Prometheus assemble");
  const config = `${root}${etc}/prometheus.yml`;
  const whole = sh(prometheus(HOST, { config }).validate!);
  expectValid(whole, "assembled prometheus.yml");
  const rules = files.filter((f) => f.path.startsWith(`${etc}/rules.d/`));
  const ruleCount = rules.reduce((n, f) => n + [...f.content.matchAll(/^\s*- alert: /gm)].length, 0);
  if (!whole.output.includes(`SUCCESS: ${ruleCount} rules found`)) throw new Error(`promtool did not load the ${ruleCount} rendered rules:\n${whole.output}`);
  const jobs = (parse(readFileSync(config, "utf8")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((j) => j.job_name).sort();
  const fragments = files.filter((f) => f.path.startsWith(`${etc}/scrape.d/`)).map((f) => path.basename(f.path, ".yml")).sort();
  if (JSON.stringify(jobs) !== JSON.stringify(fragments)) throw new Error(`assembled jobs ${jobs.join(",")} differ from the fragments ${fragments.join(",")}`);
  for (const r of rules) expectValid(sh(prometheusRules(HOST, `${root}${r.path}`, { config }).validate!), `rules ${r.path}`);
}

function checkAlertmanager(files: readonly RenderedFile[], dirs: string[]): void {
  const root = rootWith(files, dirs);
  for (const f of files) expectValid(runTool("amtool", ["check-config", `${root}${f.path}`]), f.path);
}

function checkGrafana(files: readonly RenderedFile[]): void {
  const dashboards = files.filter((f) => f.path.endsWith(".json"));
  const providers = files.filter((f) => f.path.endsWith(".yaml"));
  for (const d of dashboards) {
    const parsed = dashboardSchema.safeParse({ json: d.content });
    if (!parsed.success) throw new Error(`${d.path}: ${parsed.error.message}`);
  }
  const paths = providers.flatMap((p) => (parse(p.content) as { providers: { options: { path: string } }[] }).providers.map((x) => x.options.path));
  for (const d of dashboards) {
    if (!paths.includes(path.dirname(d.path))) throw new Error(`${d.path} is outside every provisioned dashboards path (${paths.join(", ")})`);
  }
}

function checkSystemd(files: readonly RenderedFile[], dirs: string[]): void {
  for (const unit of files) {
    const root = mkdtempSync(path.join(tmpdir(), "fleet-render-systemd-"));
    dirs.push(root);
    mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
    cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
    mkdirSync(path.join(root, path.dirname(unit.path)), { recursive: true });
    writeFileSync(path.join(root, unit.path), unit.content);
    // A stub for every executable the unit starts (the code is deployed before the unit).
    for (const m of unit.content.matchAll(/^Exec[A-Za-z]*=[-@:+!|]*(\/\S+)/gm)) {
      mkdirSync(path.join(root, path.dirname(m[1]!)), { recursive: true });
      writeFileSync(path.join(root, m[1]!), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    }
    const res = sh(systemdUnitStrict(unit.path, { root }).validate!);
    expectValid(res, unit.path);
  }
}

/** One compose project per directory: compose file, its .env and every file beside them (mounted configs). */
function checkCompose(files: readonly RenderedFile[], all: readonly RenderedFile[], dirs: string[]): void {
  const projects = [...new Set(files.filter((f) => f.path.endsWith("/docker-compose.yaml")).map((f) => path.dirname(f.path)))];
  if (projects.length !== files.filter((f) => f.path.endsWith("/.env")).length) throw new Error("every compose project needs its .env beside it");
  for (const dir of projects) {
    const own = all.filter((f) => f.host === files.find((x) => x.path === `${dir}/docker-compose.yaml`)!.host && f.path.startsWith(`${dir}/`));
    const root = rootWith(own, dirs);
    const validate = composeProject(HOST, { directory: `${root}${dir}`, project: path.basename(dir) }).validate!;
    const res = sh(`{ ${validate}; } 2>&1`);
    expectValid(res, `${dir} (compose file + .env)`);
    if (/not present yet|variable is not set/i.test(res.output)) throw new Error(`docker-compose config for ${dir}:\n${res.output}`);
  }
}

/**
 * A dotenv file sourced by POSIX sh (`set -a; . FILE`): it parses, and every variable
 * reads back as exactly the text between the quotes (nothing expanded).
 */
function checkDotenvSourced(files: readonly RenderedFile[], dirs: string[]): void {
  const root = rootWith(files, dirs);
  for (const f of files) {
    const entries = f.content.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => {
      const m = /^([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(l);
      if (!m) throw new Error(`${f.path}: line is not KEY='value': ${l}`);
      return [m[1]!, m[2]!] as const;
    });
    if (entries.length === 0) throw new Error(`${f.path} sets nothing`);
    const script = `set -a; . '${root}${f.path}'; set +a; ` + entries.map(([k]) => `printf '%s\\0' "$${k}"`).join("; ");
    const res = runTool("/bin/sh", ["-c", script]);
    expectValid(res, `sh sourcing ${f.path}`);
    const got = res.output.split("\0").slice(0, -1);
    const want = entries.map(([, v]) => v);
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${f.path}: sh reads ${JSON.stringify(got)}, the file says ${JSON.stringify(want)}`);
  }
}

function checkNginx(files: readonly RenderedFile[], dirs: string[]): void {
  for (const f of files) expectValid(nginxT({ [path.basename(f.path).replace(/\.conf$/, "") + ".conf"]: f.content }, dirs), `nginx -t with ${f.host}:${f.path}`);
}

/**
 * Every kind of file the ouranos stack renders, with its validator. A file no rule
 * matches, or that two rules match, fails the render test.
 */
export const RULES: readonly ValidationRule[] = [
  { name: "HAProxy: haproxy.cfg + conf.d + host map (haproxy -c)", match: /^titania\/etc\/haproxy\/(haproxy\.cfg|conf\.d\/[a-z0-9-]+\.cfg|hosts\.d\/[a-z0-9-]+\.route\.map)$/, check: (f, _all, d) => checkHaproxy(f, d) },
  { name: "nginx on the host: conf.d sites (nginx -t)", match: /^puck\/etc\/nginx\/conf\.d\/[a-z0-9-]+\.conf$/, check: (f, _all, d) => checkNginx(f, d) },
  { name: "nginx in the Mnemosyne web container (nginx -t, http context)", match: /^puck\/opt\/mnemosyne\/nginx\/mnemosyne\.conf$/, check: (f, _all, d) => checkNginx(f, d) },
  { name: "Prometheus: base + scrape.d assembled, rules.d (promtool)", match: /^prospero\/etc\/prometheus\/(prometheus\.base\.yml|scrape\.d\/[a-z0-9-]+\.yml|rules\.d\/[a-z0-9-]+\.yml)$/, check: (f, _all, d) => checkPrometheus(f, d) },
  { name: "Alertmanager (amtool check-config)", match: /^prospero\/etc\/prometheus\/alertmanager\.yml$/, optional: true, check: (f, _all, d) => checkAlertmanager(f, d) },
  { name: "Grafana: dashboards JSON + provisioning YAML", match: /^prospero\/(var\/lib\/grafana\/dashboards\/[a-z0-9-]+\.json|etc\/grafana\/provisioning\/dashboards\/[a-z0-9-]+\.yaml)$/, check: (f) => checkGrafana(f) },
  { name: "systemd units (systemd-analyze verify --root)", match: /^puck\/etc\/systemd\/system\/[a-z0-9-]+\.service$/, check: (f, _all, d) => checkSystemd(f, d) },
  { name: "Daedalus .env, sourced by sh (the migrate task's `set -a; . .env`)", match: /^puck\/srv\/daedalus\/\.env$/, check: (f, _all, d) => checkDotenvSourced(f, d) },
  { name: "compose projects: compose file + .env (docker-compose config -q)", match: /^(puck\/opt\/mnemosyne|umbriel\/opt\/neo4j-mnemosyne)\/(docker-compose\.yaml|\.env)$/,
    check: checkCompose,
    // compose shrugs at junk in a .env; an .env that lost its variables is what it must catch.
    corrupt: (f) => (f.path.endsWith("/.env") ? f.content.split("\n").filter((l) => l.startsWith("#")).join("\n") + "\n" : breakText(f)),
  },
];

