/**
 * Stack `menagerie`, the whole graph under mocks, against peregrine-cloud-deployment.md:
 * one `it` per requirement of the seed (titled after it), the onboarding of a second
 * app, the secrets rules, and the config errors an operator can hit. Expectations are
 * cut from the seed file where it gives them (the compose commands, the variables
 * table, the Caddy block), so the stack cannot drift from the document silently.
 *
 * The compose files live in the app repository; the mocks "fetch" realistic stand-ins
 * (menagerie-config.ts), as the host's git fetch does.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type MockRun, mockPassword, type RecordedResource } from "../../src/testing/mocks";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { sourceKey } from "../../src/git/sources";
import { type Menagerie } from "../../stacks/menagerie";
import { expectValid, runTool, tempTree } from "../helpers/validators";
import { cloudCompose, DEMO_COMPOSE, defaultSources, FALCON, FALCON_REPO, MENAGERIE_SECRETS, menagerieConfig, PEREGRINE, PEREGRINE_REPO, runWithSources } from "./menagerie-config";
import { buildCache, dotenv, COMMAND, command, hostOf, isSecretInput, managedFile, plainLeaves, refused, rerunOf, reveal, script, shellWords, stdinOf, isHelperInstaller, componentNames, runnable } from "../helpers/inputs";
import { dependsOn as dependsOnUnsorted } from "../helpers/inputs";

const dependsOn = (r: RecordedResource): string[] => dependsOnUnsorted(r).sort();

// ── The seed ─────────────────────────────────────────────────────────────────

const SEED = readFileSync(path.resolve(__dirname, "../../docs/seeds/peregrine-cloud-deployment.md"), "utf8");

/** The text of a `## ` section of the seed, up to the next one. */
function seedSection(heading: string): string {
  const start = SEED.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`seed has no section "${heading}"`);
  const end = SEED.indexOf("\n## ", start + 1);
  return SEED.slice(start, end < 0 ? undefined : end);
}

/** `docker compose …` lines of a section's bash block, as words. */
function seedComposeCommands(heading: string): string[][] {
  return seedSection(heading)
    .split("\n")
    .filter((l) => l.startsWith("docker compose "))
    .map(shellWords);
}

/** The seed's "Required Environment Variables" table: name → the description and where-to-find cells. */
function seedVariables(): { name: string; description: string; where: string }[] {
  return seedSection("Required Environment Variables")
    .split("\n")
    .filter((l) => /^\| `[A-Z_]+` \|/.test(l))
    .map((l) => {
      // `\|` inside a cell is a literal pipe (the openssl pipeline), not a column.
      const [name, description, where] = l.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
      return { name: name!.replace(/`/g, ""), description: description!, where: where! };
    });
}

/** The seed's hand-written site block ("Routing (Caddy)"). */
function seedCaddyBlock(): string {
  const m = /```caddy\n([\s\S]*?)```/.exec(seedSection("Routing (Caddy)"));
  if (!m) throw new Error("the seed's Routing section no longer holds a caddy block");
  return m[1]!;
}

// ── Reading what the program registered ──────────────────────────────────────

const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";












/** The compose command lines of a command's script, as words. */
function composeLines(r: RecordedResource, which: "create" | "delete" = "create"): string[][] {
  return script(r, which)
    .split("\n")
    .map((l) => l.replace(/^if \[ -f '[^']*' \]; then /, "").replace(/; else .*$/, ""))
    // `if docker compose … up … && fleet_wait; then`: up decides between keeping and rolling back.
    .map((l) => l.replace(/^if (docker compose .*?)(?: && fleet_wait)?; then$/, "$1"))
    .filter((l) => l.startsWith("docker compose "))
    .map(shellWords);
}

/** A compose argv split into its global options (as a map) and the subcommand with its flags. */
function splitCompose(words: readonly string[]): { options: Record<string, string>; sub: string[] } {
  const options: Record<string, string> = {};
  let i = 2;
  while (i < words.length && words[i]!.startsWith("-")) {
    options[words[i]!] = words[i + 1]!;
    i += 2;
  }
  return { options, sub: words.slice(i) };
}

/** The URL, --resolve and accepted statuses of a HealthCheck. */
function healthCheck(r: RecordedResource): { url: string; resolve: string | undefined; statuses: string } {
  const s = script(r);
  const curl = s.split("\n").find((l) => l.includes("curl -sS"));
  if (!curl) throw new Error(`${r.name} is not a HealthCheck`);
  const w = shellWords(curl.replace(/^\s*status=\$\(/, "").replace(/ 2>"\$err"\) \|\| true$/, ""));
  const url = w.find((x) => /^https?:\/\//.test(x));
  const resolveAt = w.indexOf("--resolve");
  const statuses = /^\s*([0-9|]+)\)$/m.exec(s)?.[1];
  if (!url || !statuses) throw new Error(`${r.name}: no URL or statuses in its script`);
  return { url, resolve: resolveAt >= 0 ? w[resolveAt + 1] : undefined, statuses };
}

function forms(secret: string): string[] {
  return [...new Set([secret, Buffer.from(secret).toString("base64"), encodeURIComponent(secret)])];
}

// ── Building the program ─────────────────────────────────────────────────────

interface Built {
  readonly run: MockRun;
  readonly stack: Menagerie;
  readonly failures: string[];
}

async function build(settings: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}, sources = defaultSources()): Promise<Built> {
  const { Menagerie } = await import("../../stacks/menagerie");
  const { config, secretKeys } = menagerieConfig(settings, overrides);
  let stack: Menagerie | undefined;
  const { run, failures } = await runWithSources(
    () => {
      stack = new Menagerie("menagerie");
      return stack.outputs;
    },
    { config, secretKeys, sources },
  );
  if (!stack) throw new Error("the program registered no Menagerie stack");
  return { run, stack, failures };
}

/** Each distinct program is built once per file and shared. */
const shared = buildCache<Built>();
const sharedRuns = buildCache<MockRun>();

const IMPORTED_SECRET = "Imp0rtedFromTheRunningInstance12";
const defaults = () => shared("defaults", () => build());
const sameAgain = () => shared("same again", () => build());
const withFalcon = () => shared("with falcon", () => build({ apps: [PEREGRINE, FALCON] }));
const nextRef = () => shared("next ref", () => build({ apps: [{ ...PEREGRINE, repo: { ...PEREGRINE_REPO, ref: "v2.4.0" } }] }));
const noDemo = () => shared("no demo", () => build({ demo: { enabled: false } }));
const imported = () => shared("imported secret", () => build({}, { "fleet:cfServerSecret": IMPORTED_SECRET }));

let A: Built;
beforeAll(async () => {
  A = await defaults();
});

function envOf(b: Built, name: string): Record<string, string> {
  return dotenv(stdinOf(command(b.run, name)));
}

const cleanup: string[] = [];
afterAll(() => cleanup.forEach((d) => rmSync(d, { recursive: true, force: true })));

// ── peregrine-cloud-deployment.md ────────────────────────────────────────────

/** The resource of `run` with `r`'s type and name (an app and its compose project may share a name). */
function same(run: MockRun, r: RecordedResource): RecordedResource {
  const found = run.resources.filter((x) => x.type === r.type && x.name === r.name);
  if (found.length !== 1) throw new Error(`expected one ${r.type} named ${r.name}, found ${found.length}`);
  return found[0]!;
}

describe("peregrine-cloud-deployment.md: Compose File", () => {
  it("builds without a failure, every resource a child of the menagerie stack (but the per-host file helpers)", () => {
    expect(A.failures).toEqual([]);
    const roots = A.run.resources.filter((r) => r.parentName === undefined).map((r) => r.name);
    expect(roots.filter((n) => !isHelperInstaller(n))).toEqual(["menagerie"]);
    // The helpers' installers are shared by every file on their host, so they hang off no component.
    expect(roots.filter(isHelperInstaller).every((n) => n.startsWith("bastion-fleet-"))).toBe(true);
  });

  it("Start: docker compose -f compose.cloud.yml --project-name peregrine-cloud --env-file .env up -d", () => {
    const [seedUp] = seedComposeCommands("Compose File");
    const seed = splitCompose(seedUp!);
    expect(seed).toEqual({ options: { "-f": "compose.cloud.yml", "--project-name": "peregrine-cloud", "--env-file": ".env" }, sub: ["up", "-d"] });
    const up = command(A.run, "peregrine-compose-up");
    expect(hostOf(up)).toBe("bastion.circuitforge.tech");
    const [ours] = composeLines(up);
    const { options, sub } = splitCompose(ours!);
    // The same file, project and env file, with every path explicit (no reliance on the working
    // directory); relative paths of the file resolve in the checkout, not beside the .env.
    expect(options).toEqual({
      "--project-name": "peregrine-cloud",
      "--project-directory": "/opt/peregrine-cloud/src/peregrine",
      "-f": "/opt/peregrine-cloud/compose.cloud.yml",
      "--env-file": "/opt/peregrine-cloud/.env",
    });
    expect(sub.slice(0, 2)).toEqual(seed.sub);
  });

  it("Stop: docker compose -f compose.cloud.yml --project-name peregrine-cloud down (when the app is removed)", () => {
    const seedDown = seedComposeCommands("Compose File").find((w) => w.includes("down"))!;
    expect(splitCompose(seedDown)).toEqual({ options: { "-f": "compose.cloud.yml", "--project-name": "peregrine-cloud" }, sub: ["down"] });
    const downs = composeLines(command(A.run, "peregrine-compose-up"), "delete");
    expect(downs.length).toBeGreaterThan(0);
    for (const d of downs) {
      const { options, sub } = splitCompose(d);
      expect(options["--project-name"]).toBe("peregrine-cloud");
      expect(options["-f"]).toBe("/opt/peregrine-cloud/compose.cloud.yml");
      expect(sub[0]).toBe("down");
    }
  });

  it("Rebuild after code changes (build app, then up -d): a new ref is checked out and up runs with --build", async () => {
    const seedRebuild = seedComposeCommands("Compose File").filter((w) => w.includes("build") || (w.includes("up") && !w.includes("--env-file")));
    expect(seedRebuild.map((w) => splitCompose(w).sub)).toEqual([["build", "app"], ["up", "-d"]]);
    const up = command(A.run, "peregrine-compose-up");
    expect(splitCompose(composeLines(up)[0]!).sub).toContain("--build");
    const next = await nextRef();
    // The ref re-runs the checkout (an update: its script's revision) and up, even when compose.cloud.yml did not change.
    expect(rerunOf(next.run.get("peregrine-checkout-command")).revision).not.toEqual(rerunOf(A.run.get("peregrine-checkout-command")).revision);
    expect(reveal(next.run.get("peregrine-compose-up").inputs.create)).not.toEqual(reveal(up.inputs.create));
    expect(stdinOf(command(next.run, "peregrine-compose-compose"))).toBe(stdinOf(command(A.run, "peregrine-compose-compose")));
  });

  it("compose.cloud.yml comes from the app repository at the configured pinned ref", () => {
    const source = script(command(A.run, "peregrine-compose-source"));
    expect(source).toContain(`git remote add origin '${PEREGRINE_REPO.url}'`);
    expect(source).toContain(`git fetch -q --depth 1 origin '${PEREGRINE_REPO.ref}'`);
    expect(source).toContain("printf '%s\\n' '/compose.cloud.yml' > .git/info/sparse-checkout");
    // Deployed as fetched (no registry images to pin: the app is built).
    expect(parseYaml(stdinOf(command(A.run, "peregrine-compose-compose")))).toEqual(parseYaml(cloudCompose("peregrine", 8505)));
    expect(managedFile(command(A.run, "peregrine-compose-compose"))).toEqual({ target: "/opt/peregrine-cloud/compose.cloud.yml", owner: "root:root", mode: "0644" });
  });

  it("the repository is checked out into its own directory, compose's project directory, so build: . and relative mounts resolve there and never beside the .env", () => {
    const checkout = command(A.run, "peregrine-checkout-command");
    // The one checkout (run for real in test/remote/checkout.test.ts), into <directory>/src/<slug>.
    expect(script(checkout)).toContain(gitCheckoutScript({ ...PEREGRINE_REPO, directory: "/opt/peregrine-cloud/src/peregrine", directoryMode: "0750" }));
    expect(managedFile(command(A.run, "peregrine-compose-env")).target).toBe("/opt/peregrine-cloud/.env");
    // The project (its directory, .env, compose file, up) follows the checkout and the data root.
    expect(dependsOn(command(A.run, "peregrine-compose-directory"))).toEqual(["peregrine-checkout", "peregrine-data"]);
  });

  it("the deployed compose.cloud.yml and .env pass docker-compose config (the host's validator)", () => {
    const dir = tempTree({
      "compose.cloud.yml": stdinOf(command(A.run, "peregrine-compose-compose")),
      ".env": stdinOf(command(A.run, "peregrine-compose-env")),
      Dockerfile: "FROM scratch\n",
    });
    cleanup.push(dir);
    const argv = ["--project-name", "peregrine-cloud", "--project-directory", dir, "-f", `${dir}/compose.cloud.yml`, "--env-file", `${dir}/.env`, "config"];
    const r = spawnSync("docker-compose", argv, { encoding: "utf8", timeout: 60_000 });
    if (r.error) throw new Error(`validator "docker-compose" could not run: ${r.error.message}`);
    expectValid({ code: r.status ?? 1, output: `${r.stdout}${r.stderr}` }, "peregrine compose.cloud.yml");
    const app = (parseYaml(r.stdout) as { services: { app: { environment: Record<string, string>; volumes: string[] } } }).services.app;
    expect(app.environment.CLOUD_DATA_ROOT).toBe("/devl/menagerie-data");
    expect(app.environment.CF_SERVER_SECRET).toBe(mockPassword("cf-server-secret"));
    // The data mount resolves to the data root (the seed's "bind-mounted into the container").
    expect(app.volumes).toEqual(["/devl/menagerie-data:/devl/menagerie-data:rw"]);
  });
});

describe("peregrine-cloud-deployment.md: Required Environment Variables", () => {
  const expected: Record<string, () => string> = {
    CLOUD_MODE: () => "true",
    CLOUD_DATA_ROOT: () => "/devl/menagerie-data",
    DIRECTUS_JWT_SECRET: () => MENAGERIE_SECRETS["fleet:directusJwtSecret"]!,
    CF_SERVER_SECRET: () => mockPassword("cf-server-secret"),
    PLATFORM_DB_URL: () => `postgresql://cf_platform:${encodeURIComponent(MENAGERIE_SECRETS["fleet:platformDbPassword"]!)}@host.docker.internal:5433/circuitforge_platform`,
  };

  it("the seed's table lists the five variables this test expects", () => {
    expect(seedVariables().map((v) => v.name)).toEqual(Object.keys(expected));
  });

  it.each(seedVariables())("$name ($description)", ({ name }) => {
    expect(envOf(A, "peregrine-compose-env")[name]).toBe(expected[name]!());
  });

  it(".env holds exactly these variables, mode 0600, root-owned, sent as a secret", () => {
    const env = command(A.run, "peregrine-compose-env");
    expect(Object.keys(envOf(A, "peregrine-compose-env")).sort()).toEqual(Object.keys(expected).sort());
    expect(managedFile(env)).toEqual({ target: "/opt/peregrine-cloud/.env", owner: "root:root", mode: "0600" });
    expect(isSecretInput(env.inputs.stdin)).toBe(true);
    expect(env.inputs.logging).toBe("none");
  });

  it("CLOUD_DATA_ROOT: /devl/menagerie-data (the seed's where-to-find column)", () => {
    expect(seedVariables().find((v) => v.name === "CLOUD_DATA_ROOT")!.where).toBe("`/devl/menagerie-data`");
  });

  it("DIRECTUS_JWT_SECRET is owned by the website (website/.env → DIRECTUS_SECRET): a required secret config key, never generated", () => {
    expect(seedVariables().find((v) => v.name === "DIRECTUS_JWT_SECRET")!.where).toContain("DIRECTUS_SECRET");
    expect(A.run.byType(RANDOM_PASSWORD).map((r) => r.name)).toEqual(["cf-server-secret"]);
  });

  it("PLATFORM_DB_URL: postgresql://cf_platform:<pass>@host.docker.internal:5433/circuitforge_platform, the password percent-encoded", () => {
    const seedUrl = /`(postgresql:\/\/[^`]+)`/.exec(seedVariables().find((v) => v.name === "PLATFORM_DB_URL")!.where)![1]!;
    const url = new URL(envOf(A, "peregrine-compose-env").PLATFORM_DB_URL!);
    const seed = new URL(seedUrl.replace("<pass>", "x"));
    expect({ protocol: url.protocol, username: url.username, host: url.host, pathname: url.pathname }).toEqual({
      protocol: seed.protocol,
      username: seed.username,
      host: seed.host,
      pathname: seed.pathname,
    });
    expect(decodeURIComponent(url.password)).toBe(MENAGERIE_SECRETS["fleet:platformDbPassword"]);
    // The platform DB belongs to the website stack: only its URL is here.
    expect(A.run.resources.filter((r) => r.type.startsWith("postgresql:"))).toEqual([]);
  });
});

describe("peregrine-cloud-deployment.md: SECRET ROTATION (CF_SERVER_SECRET)", () => {
  it("CF_SERVER_SECRET is generated once, protected and retained: an up never rotates it", async () => {
    const g = A.run.get("cf-server-secret");
    expect(g.type).toBe(RANDOM_PASSWORD);
    expect({ protect: g.opts.protect, retainOnDelete: g.opts.retainOnDelete, parent: g.parentName }).toEqual({ protect: true, retainOnDelete: true, parent: "menagerie" });
    expect(g.inputs.keepers).toBeUndefined();
    expect(g.opts.replaceOnChanges ?? []).toEqual([]);
    // Nothing that changes between deploys reaches it: a new ref, a new app, no demo.
    for (const other of [await nextRef(), await withFalcon(), await noDemo()]) expect(other.run.get("cf-server-secret").inputs).toEqual(g.inputs);
  });

  it("Generate: openssl rand -base64 32 | tr -d '/=+' | cut -c1-32 (32 of [A-Za-z0-9], the generator's exact alphabet)", async () => {
    const pipeline = /Generate: `([^`]+)`/.exec(seedVariables().find((v) => v.name === "CF_SERVER_SECRET")!.where)![1]!.replace(/\\\|/g, "|");
    expect(pipeline).toBe("openssl rand -base64 32 | tr -d '/=+' | cut -c1-32");
    const { CF_SERVER_SECRET_FORMAT } = await import("../../stacks/menagerie/secrets");
    for (let i = 0; i < 20; i++) {
      const r = runTool("sh", ["-c", pipeline]);
      expect(r.code).toBe(0);
      expect(r.output.trim()).toMatch(CF_SERVER_SECRET_FORMAT);
    }
    // RandomPassword with upper, lower and numeric and no special characters draws from
    // exactly [A-Za-z0-9]: the base64 alphabet without '/', '=' and '+'.
    expect(A.run.get("cf-server-secret").inputs).toEqual({ length: 32, upper: true, lower: true, numeric: true, special: false });
  });

  it("an instance that already has users imports its secret (fleet:cfServerSecret): nothing is generated", async () => {
    const b = await imported();
    expect(b.run.byType(RANDOM_PASSWORD)).toEqual([]);
    expect(envOf(b, "peregrine-compose-env").CF_SERVER_SECRET).toBe(IMPORTED_SECRET);
  });

  it("every app shares the one secret (the SQLCipher keys of all apps derive from it)", async () => {
    const b = await withFalcon();
    expect(envOf(b, "falcon-compose-env").CF_SERVER_SECRET).toBe(envOf(b, "peregrine-compose-env").CF_SERVER_SECRET);
  });

  it("the stack output cfServerSecret (for the operator's backup) is secret", async () => {
    const out = A.stack.outputs.cfServerSecret;
    expect(pulumi.Output.isInstance(out) && (await pulumi.isSecret(out))).toBe(true);
  });
});

describe("peregrine-cloud-deployment.md: Data Root", () => {
  it("/devl/menagerie-data exists on the host, root-owned, mode 0700, before the app starts", () => {
    const data = command(A.run, "peregrine-data-install");
    expect(hostOf(data)).toBe("bastion.circuitforge.tech");
    expect(shellWords(script(data).split("\n")[0]!)).toEqual(["install", "-d", "-o", "root", "-g", "root", "-m", "0700", "/devl/menagerie-data"]);
    expect(dependsOn(command(A.run, "peregrine-compose-directory"))).toContain("peregrine-data");
  });

  it("user data outlives the stack: the data root is never deleted by Pulumi (GDPR deletion stays a manual rm -rf per user)", () => {
    expect(command(A.run, "peregrine-data-install").inputs.delete).toBeUndefined();
  });

  it("the app's checkout and .env live outside the data root", () => {
    const dir = "/opt/peregrine-cloud";
    expect(dir.startsWith("/devl/menagerie-data/")).toBe(false);
    expect(managedFile(command(A.run, "peregrine-compose-env")).target.startsWith(`${dir}/`)).toBe(true);
  });
});

describe("peregrine-cloud-deployment.md: Routing (Caddy)", () => {
  it("menagerie.circuitforge.tech in /devl/caddy-proxy/Caddyfile: the Caddyfile imports the site, the site imports its routes", () => {
    expect(managedFile(command(A.run, "caddy-caddyfile")).target).toBe("/devl/caddy-proxy/Caddyfile");
    expect(stdinOf(command(A.run, "caddy-caddyfile"))).toContain("\nimport /etc/caddy/sites/*.caddy\n");
    expect(managedFile(command(A.run, "menagerie-site-site")).target).toBe("/devl/caddy-proxy/sites/menagerie.caddy");
    expect(stdinOf(command(A.run, "menagerie-site-site"))).toContain("\timport /etc/caddy/routes/menagerie/*.caddy\n");
    expect(managedFile(command(A.run, "peregrine-route-fragment")).target).toBe("/devl/caddy-proxy/routes/menagerie/peregrine.caddy");
    for (const n of ["caddy-caddyfile", "menagerie-site-site", "peregrine-route-fragment"]) expect(hostOf(command(A.run, n))).toBe("bastion.circuitforge.tech");
  });

  it("handle /peregrine* → reverse_proxy http://host.docker.internal:8505 with header_up X-CF-Session {header.Cookie}", () => {
    const fragment = stdinOf(command(A.run, "peregrine-route-fragment"));
    expect(fragment).toContain("handle /peregrine* {\n\trequest_body {\n\t\tmax_size 256MiB\n\t}\n\treverse_proxy http://host.docker.internal:8505 {\n\t\theader_up X-CF-Session {header.Cookie}\n\t\ttransport http {\n\t\t\tread_timeout 300s\n\t\t\twrite_timeout 300s\n\t\t}\n\t}\n}\n");
    // Routed once the app is up.
    expect(dependsOn(command(A.run, "peregrine-route-fragment"))).toContain("peregrine-compose-up");
  });

  it("the Caddyfile, site and route adapt (caddy adapt) to exactly the JSON of the seed's hand-written block", () => {
    const tree = caddyTree(A, ["caddy-caddyfile", "menagerie-site-site", "peregrine-route-fragment"]);
    // The seed's block plus the route's default limits (issue 13: body size and timeouts per route), as Caddy's docs write them.
    const seedBlock = seedCaddyBlock();
    const withLimits = seedBlock.replace(
      /( *)handle \/peregrine\* \{\n( *)reverse_proxy (\S+) \{\n( *)header_up X-CF-Session \{header\.Cookie\}\n/,
      (_m, a: string, b: string, up: string, c: string) =>
        `${a}handle /peregrine* {\n${b}request_body {\n${c}max_size 256MiB\n${b}}\n${b}reverse_proxy ${up} {\n${c}header_up X-CF-Session {header.Cookie}\n${c}transport http {\n${c}    read_timeout 5m\n${c}    write_timeout 5m\n${c}}\n`,
    );
    expect(withLimits).not.toBe(seedBlock);
    const seed = tempTree({ Caddyfile: withLimits }, "fleet-menagerie-seed-");
    cleanup.push(seed);
    const ours = caddy(tree, "adapt", "--config", path.join(tree, "Caddyfile"), "--adapter", "caddyfile");
    const theirs = caddy(tree, "adapt", "--config", path.join(seed, "Caddyfile"), "--adapter", "caddyfile");
    expectValid(ours, "the stack's Caddy files");
    expectValid(theirs, "the seed's block");
    expect(JSON.parse(adapted(ours.output))).toEqual(JSON.parse(adapted(theirs.output)));
  });

  it("the whole Caddy tree the stack writes (cloud, demo, falcon) passes caddy validate", async () => {
    const b = await withFalcon();
    const tree = caddyTree(b, ["caddy-caddyfile", "menagerie-site-site", "peregrine-route-fragment", "falcon-route-fragment", "demo-site-site", "peregrine-demo-route-fragment"]);
    expectValid(caddy(tree, "validate", "--config", path.join(tree, "Caddyfile"), "--adapter", "caddyfile"), "the menagerie Caddy tree");
  });

  it("Caddy inode gotcha: every Caddy file is rewritten in place and applied with docker restart caddy-proxy, never caddy reload", () => {
    for (const n of ["caddy-caddyfile", "menagerie-site-site", "peregrine-route-fragment", "demo-site-site", "peregrine-demo-route-fragment"]) {
      const s = script(command(A.run, n));
      expect({ n, validate: s.includes("docker exec 'caddy-proxy' caddy validate --config '/etc/caddy/Caddyfile' --adapter caddyfile") }).toEqual({ n, validate: true });
      expect({ n, restart: s.includes("docker restart 'caddy-proxy' >/dev/null") }).toEqual({ n, restart: true });
      expect({ n, reload: /caddy reload|systemctl/.test(s) }).toEqual({ n, reload: false });
      expect({ n, inPlace: s.includes('cat "$next" > "$target"') }).toEqual({ n, inPlace: true });
      expect({ n, restoreInPlace: s.includes('cat "$prev" > "$target"') }).toEqual({ n, restoreInPlace: true });
    }
  });

  describe("the stack's own Caddy scripts, run against real caddy (docker shimmed)", () => {
    // The stack built with the Caddy directory in a temp dir that the shimmed container
    // sees at the same path: `docker exec caddy-proxy …` runs here, `docker restart` is recorded.
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-menagerie-caddy-"));
    cleanup.push(dir);
    const etc = path.join(dir, "caddy-proxy");
    const bin = path.join(dir, "bin");
    const dockerLog = path.join(dir, "docker.log");
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: path.join(dir, "home"), XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") };
    let B: Built;
    const HAND_KEPT = "# the hand-kept Caddyfile the container was started with\n:8080 {\n\trespond ok\n}\n";

    beforeAll(async () => {
      mkdirSync(bin, { recursive: true });
      mkdirSync(etc, { recursive: true });
      writeFileSync(path.join(bin, "docker"), ["#!/bin/sh", `case "$1" in`, `  exec) shift 2; exec "$@" ;;`, `  restart) echo "restart $2" >> ${dockerLog}; exit 0 ;;`, "esac", "exit 2", ""].join("\n"));
      chmodSync(path.join(bin, "docker"), 0o755);
      writeFileSync(path.join(etc, "Caddyfile"), HAND_KEPT);
      B = await build(
        { caddy: { configDir: etc, containerConfigDir: etc } },
        { "fleet:hosts": { bastion: { address: "bastion.circuitforge.tech", hostKey: (menagerieConfig().config["fleet:hosts"] as { bastion: { hostKey: string } }).bastion.hostKey, lockDir: path.join(dir, "lock") } } },
      );
      mkdirSync(path.join(dir, "lock"), { recursive: true });
    });

    function apply(name: string, stdin?: string) {
      const r = B.run.get(name);
      return runTool("sh", ["-c", runnable(r)], { input: stdin ?? stdinOf(r), env });
    }

    it("writes Caddyfile, site and route on the bind-mounted inode and restarts the container after each", () => {
      const inode = statSync(path.join(etc, "Caddyfile")).ino;
      for (const n of ["caddy-caddyfile", "menagerie-site-site", "peregrine-route-fragment"]) expect({ n, ...apply(n) }).toEqual({ n, code: 0, output: expect.stringContaining("fleet: updated") });
      // The inode a single-file bind mount pins is the one Caddy now reads.
      expect(statSync(path.join(etc, "Caddyfile")).ino).toBe(inode);
      expect(readFileSync(path.join(etc, "Caddyfile"), "utf8")).toBe(stdinOf(B.run.get("caddy-caddyfile")));
      expect(readFileSync(dockerLog, "utf8")).toBe("restart caddy-proxy\n".repeat(3));
      // A second rewrite of the route keeps its inode too.
      const route = path.join(etc, "routes/menagerie/peregrine.caddy");
      const routeInode = statSync(route).ino;
      expect(apply("peregrine-route-fragment", stdinOf(B.run.get("peregrine-route-fragment")).replace("8505", "8515")).code).toBe(0);
      expect(statSync(route).ino).toBe(routeInode);
      expect(readFileSync(dockerLog, "utf8")).toBe("restart caddy-proxy\n".repeat(4));
    });
  });
});

describe("peregrine-cloud-deployment.md: Architecture Overview", () => {
  it("Browser → Caddy (bastion) → host:8505 → peregrine-cloud container: Caddy and the app share the Docker host", () => {
    expect(hostOf(command(A.run, "peregrine-compose-up"))).toBe(hostOf(command(A.run, "peregrine-route-fragment")));
    expect(parseYaml(stdinOf(command(A.run, "peregrine-compose-compose"))).services.app.ports).toEqual(["8505:8501"]);
  });

  it("Health: /peregrine through Caddy answers the app's 200 (Streamlit), after the route and the app", () => {
    const r = command(A.run, "peregrine-health-via-caddy-check");
    expect(hostOf(r)).toBe("bastion.circuitforge.tech");
    expect(healthCheck(r)).toEqual({ url: "https://menagerie.circuitforge.tech/peregrine/", resolve: "menagerie.circuitforge.tech:443:127.0.0.1", statuses: "200" });
    // The route component: the engine waits for its one command, the fragment file.
    expect(dependsOn(r).sort()).toEqual(["peregrine-compose-up", "peregrine-route"]);
    expect(componentNames(A.run).filter((n) => A.run.find(n)?.parentName === "peregrine-route")).toEqual(["peregrine-route-fragment"]);
  });

  it("Health: the app answers directly on port 8505, after up", () => {
    const r = command(A.run, "peregrine-health-check");
    expect(healthCheck(r)).toEqual({ url: "http://127.0.0.1:8505/peregrine/", resolve: undefined, statuses: "200" });
    expect(dependsOn(r)).toEqual(["peregrine-compose-up"]);
  });
});

describe("peregrine-cloud-deployment.md: Demo Instance", () => {
  it("Start demo: docker compose -f compose.demo.yml --project-name peregrine-demo up -d", () => {
    const [seedUp] = seedComposeCommands("Demo Instance");
    expect(splitCompose(seedUp!)).toEqual({ options: { "-f": "compose.demo.yml", "--project-name": "peregrine-demo" }, sub: ["up", "-d"] });
    const { options, sub } = splitCompose(composeLines(command(A.run, "peregrine-demo-up"))[0]!);
    expect(options).toMatchObject({ "--project-name": "peregrine-demo", "-f": "/opt/peregrine-demo/compose.demo.yml" });
    expect(sub.slice(0, 2)).toEqual(["up", "-d"]);
    expect(sub).toContain("--build");
    expect(parseYaml(stdinOf(command(A.run, "peregrine-demo-compose")))).toEqual(parseYaml(DEMO_COMPOSE));
    expect(script(command(A.run, "peregrine-demo-source"))).toContain("printf '%s\\n' '/compose.demo.yml' > .git/info/sparse-checkout");
  });

  it("DEMO_MODE=true blocks all LLM inference calls; no cloud secret reaches the demo", () => {
    expect(envOf(A, "peregrine-demo-env")).toEqual({ DEMO_MODE: "true" });
  });

  it("Demo data lives in demo/config/ and demo/data/: the repository is checked out into /opt/peregrine-demo/src/peregrine, where its relative mounts resolve", () => {
    const lines = script(command(A.run, "peregrine-demo-checkout-command")).split("\n");
    expect(lines).toContain("cd '/opt/peregrine-demo/src/peregrine'");
    expect(script(command(A.run, "peregrine-demo-up"))).toContain("--project-directory '/opt/peregrine-demo/src/peregrine' -f '/opt/peregrine-demo/compose.demo.yml' --env-file '/opt/peregrine-demo/.env' up");
    expect(lines).toContain(`git fetch -q --depth 1 origin '${PEREGRINE_REPO.ref}'`);
    expect(dependsOn(command(A.run, "peregrine-demo-directory"))).toEqual(["peregrine-demo-checkout"]);
  });

  it("demo.circuitforge.tech/peregrine routes to the demo's port (8504: not in the seed, fleet:menagerie.demo.port)", () => {
    const site = stdinOf(command(A.run, "demo-site-site"));
    expect(site).toContain("\ndemo.circuitforge.tech {\n\tencode gzip zstd\n");
    expect(stdinOf(command(A.run, "peregrine-demo-route-fragment"))).toContain("handle /peregrine* {\n\trequest_body {\n\t\tmax_size 256MiB\n\t}\n\treverse_proxy http://host.docker.internal:8504 {\n\t\ttransport http {\n\t\t\tread_timeout 300s\n\t\t\twrite_timeout 300s\n\t\t}\n\t}\n}\n");
    expect(healthCheck(command(A.run, "peregrine-demo-health-via-caddy-check")).url).toBe("https://demo.circuitforge.tech/peregrine/");
    expect(healthCheck(command(A.run, "peregrine-demo-health-check")).url).toBe("http://127.0.0.1:8504/peregrine/");
  });

  it("demo.enabled: false deploys no demo", async () => {
    const b = await noDemo();
    expect(b.run.names().filter((n) => n.includes("demo"))).toEqual([]);
  });
});

describe("peregrine-cloud-deployment.md: Adding a New App to the Cloud", () => {
  it("onboarding falcon (one more apps entry) adds exactly a compose stack, a route, a data dir and its health checks", async () => {
    const b = await withFalcon();
    expect(b.failures).toEqual([]);
    const added = componentNames(b.run).filter((n) => !A.run.names().includes(n));
    expect(added.sort()).toEqual(
      [
        "falcon",
        "falcon-checkout",
        "falcon-checkout-command",
        "falcon-compose",
        "falcon-compose-compose",
        "falcon-compose-directory",
        "falcon-compose-env",
        "falcon-compose-source",
        "falcon-compose-up",
        "falcon-data",
        "falcon-data-install",
        "falcon-health",
        "falcon-health-check",
        "falcon-health-via-caddy",
        "falcon-health-via-caddy-check",
        "falcon-route",
        "falcon-route-fragment",
      ].sort(),
    );
    expect(b.run.get("falcon").type).toBe("fleet:app:Deployment");
    // Nothing that was there changes: one app's deploy never rewrites another's files.
    for (const r of A.run.resources) expect({ name: r.name, inputs: reveal(same(b.run, r).inputs) }).toEqual({ name: r.name, inputs: reveal(r.inputs) });
  });

  it("4. compose.cloud.yml following the Peregrine pattern (port, CLOUD_MODE=true, data mount): project falcon-cloud", async () => {
    const b = await withFalcon();
    const { options } = splitCompose(composeLines(command(b.run, "falcon-compose-up"))[0]!);
    expect(options).toMatchObject({ "--project-name": "falcon-cloud", "-f": "/opt/falcon-cloud/compose.cloud.yml", "--env-file": "/opt/falcon-cloud/.env" });
    expect(script(command(b.run, "falcon-compose-source"))).toContain(`git remote add origin '${FALCON_REPO.url}'`);
    expect(envOf(b, "falcon-compose-env")).toMatchObject({ CLOUD_MODE: "true", CLOUD_DATA_ROOT: "/devl/menagerie-data" });
  });

  it("5. a Caddy handle /falcon* block in menagerie.circuitforge.tech, routing to the new port", async () => {
    const b = await withFalcon();
    const r = command(b.run, "falcon-route-fragment");
    expect(managedFile(r).target).toBe("/devl/caddy-proxy/routes/menagerie/falcon.caddy");
    expect(stdinOf(r)).toContain("handle /falcon* {\n\trequest_body {\n\t\tmax_size 256MiB\n\t}\n\treverse_proxy http://host.docker.internal:8506 {\n\t\theader_up X-CF-Session {header.Cookie}\n\t\ttransport http {\n\t\t\tread_timeout 300s\n\t\t\twrite_timeout 300s\n\t\t}\n\t}\n}\n");
  });

  it("6. cloud_session.py creates <data_root>/<user-id>/falcon/ on first login: falcon gets the same data root", async () => {
    const b = await withFalcon();
    expect(script(command(b.run, "falcon-data-install"))).toBe(script(command(b.run, "peregrine-data-install")));
  });

  it("1.–3. (resolve_session, get_db_path, telemetry) are app code, documented with the cloud's apps, not infrastructure", () => {
    const steps = seedSection("Adding a New App to the Cloud").split("\n").filter((l) => /^\d\. /.test(l));
    expect(steps).toHaveLength(6);
    const doc = readFileSync(path.resolve(__dirname, "../../stacks/menagerie/apps.ts"), "utf8");
    for (const marker of ['resolve_session("<slug>")', "get_db_path()", "log_usage_event()"]) expect(doc).toContain(marker);
  });
});

// ── Compose files the stack cannot see until deploy ───────────────────────────

describe("the compose file's ${VAR}s are checked on the host before anything is written", () => {
  const withSessionDefault = () => ({
    ...defaultSources(),
    [`${FALCON_REPO.url} compose.cloud.yml`]: cloudCompose("falcon", 8506).replace("      STREAMLIT_BROWSER", "      SESSION_SECRET: ${SESSION_SECRET:-insecure-dev-key}\n      STREAMLIT_BROWSER"),
  });

  it("a secret the compose file reads with a default is refused until the stack provides it: no .env, compose file or up", async () => {
    const b = await build({ apps: [PEREGRINE, FALCON] }, {}, withSessionDefault());
    const message =
      'ComposeStack "falcon-compose": env/SESSION_SECRET: is a secret that service "app" (services/app/environment/SESSION_SECRET: ${SESSION_SECRET:-insecure-dev-key}) reads with a default, and env does not set it: the service would run with the compose file\'s default, which anyone with the repository can read; set SESSION_SECRET in env as a secret (provided, or generated by the stack)';
    expect(b.failures.length).toBeGreaterThan(0);
    expect(b.failures.every((f) => f.endsWith(message))).toBe(true);
    for (const n of ["falcon-compose-env", "falcon-compose-compose", "falcon-compose-up"]) expect({ n, reached: Object.keys(b.run.get(n).inputs).length > 0 }).toEqual({ n, reached: false });
  });

  it("apps[].secrets generates it once (protected, kept), only into the app's secret .env", async () => {
    const b = await build({ apps: [PEREGRINE, { ...FALCON, secrets: ["SESSION_SECRET"] }] }, {}, withSessionDefault());
    expect(b.failures).toEqual([]);
    const gen = b.run.get("falcon-secret-session-secret");
    expect(gen.type).toBe("random:index/randomPassword:RandomPassword");
    expect({ protect: gen.opts.protect, retainOnDelete: gen.opts.retainOnDelete }).toEqual({ protect: true, retainOnDelete: true });
    const env = command(b.run, "falcon-compose-env");
    expect(isSecretInput(env.inputs.stdin)).toBe(true);
    expect(envOf(b, "falcon-compose-env").SESSION_SECRET).toBe(mockPassword("falcon-secret-session-secret"));
    expect(Object.keys(b.run.get("falcon-compose-up").inputs).length).toBeGreaterThan(0);
  });

  it("a compose.cloud.yml needing a variable the .env lacks fails naming it and the service; no .env, compose file or up", async () => {
    const needs = cloudCompose("falcon", 8506).replace("      STREAMLIT_BROWSER", "      FALCON_API_KEY: ${FALCON_API_KEY}\n      STREAMLIT_BROWSER");
    const b = await build({ apps: [PEREGRINE, FALCON] }, {}, { ...defaultSources(), [`${FALCON_REPO.url} compose.cloud.yml`]: needs });
    const message =
      'ComposeStack "falcon-compose": env/FALCON_API_KEY: is referenced without a default by service "app" (services/app/environment/FALCON_API_KEY: ${FALCON_API_KEY}) but env does not set it (compose would substitute an empty string); add FALCON_API_KEY to env or write ${FALCON_API_KEY:-default}';
    expect(b.failures.length).toBeGreaterThan(0);
    expect(b.failures.every((f) => f.endsWith(message))).toBe(true);
    for (const n of ["falcon-compose-env", "falcon-compose-compose", "falcon-compose-up"]) expect({ n, reached: Object.keys(b.run.get(n).inputs).length > 0 }).toEqual({ n, reached: false });
    // Peregrine deploys as before.
    expect(Object.keys(b.run.get("peregrine-compose-up").inputs).length).toBeGreaterThan(0);
  });

  it("the fix is the app's env entry in the stack config", async () => {
    // A plain setting (a secret-looking name must be stored encrypted: see "Bad config").
    const needs = cloudCompose("falcon", 8506).replace("      STREAMLIT_BROWSER", "      FALCON_API_URL: ${FALCON_API_URL}\n      STREAMLIT_BROWSER");
    const b = await build({ apps: [PEREGRINE, { ...FALCON, env: { FALCON_API_URL: "https://api.example/v1" } }] }, {}, { ...defaultSources(), [`${FALCON_REPO.url} compose.cloud.yml`]: needs });
    expect(b.failures).toEqual([]);
    expect(envOf(b, "falcon-compose-env").FALCON_API_URL).toBe("https://api.example/v1");
  });
});

// ── Secrets ──────────────────────────────────────────────────────────────────

describe("Secrets", () => {
  it.each([
    ["generated", defaults],
    ["imported", imported],
  ] as const)("%s secrets reach hosts only on secret stdin, into 0600 files of commands that log nothing", async (_, which) => {
    const b = await which();
    const secrets = [mockPassword("cf-server-secret"), IMPORTED_SECRET, ...Object.values(MENAGERIE_SECRETS)];
    const leaks: string[] = [];
    const carriers: string[] = [];
    for (const r of b.run.resources) {
      for (const leaf of plainLeaves(r.inputs)) for (const s of secrets) if (forms(s).some((f) => leaf.value.includes(f))) leaks.push(`${r.name}.${leaf.path}`);
      if (r.type !== COMMAND) continue;
      expect({ command: r.name, connectionSecret: isSecretInput(r.inputs.connection) }).toEqual({ command: r.name, connectionSecret: true });
      const carries = Object.keys(r.inputs).filter((k) => k !== "connection" && secrets.some((s) => forms(s).some((f) => JSON.stringify(reveal(r.inputs[k])).includes(f))));
      if (carries.length === 0) continue;
      carriers.push(r.name);
      expect({
        command: r.name,
        carries,
        stdinSecret: isSecretInput(r.inputs.stdin),
        logging: r.inputs.logging,
        hidesOutput: ["stdout", "stderr"].every((o) => (r.opts.additionalSecretOutputs ?? []).includes(o)),
        mode: managedFile(r).mode,
      }).toEqual({ command: r.name, carries: ["stdin"], stdinSecret: true, logging: "none", hidesOutput: true, mode: "0600" });
    }
    expect(leaks).toEqual([]);
    expect(carriers).toEqual(["peregrine-compose-env"]);
  });

  it("an unchanged program registers the same resources with the same inputs (an empty preview)", async () => {
    const again = await sameAgain();
    expect(again.run.names()).toEqual(A.run.names());
    for (const r of A.run.resources) expect({ name: r.name, inputs: reveal(same(again.run, r).inputs) }).toEqual({ name: r.name, inputs: reveal(r.inputs) });
  });

  it("stack outputs: the site and app URLs in plain text, the secret as a secret", async () => {
    const outputs = A.stack.outputs;
    expect(outputs.url).toBe("https://menagerie.circuitforge.tech/");
    expect(outputs.apps).toEqual({ peregrine: "https://menagerie.circuitforge.tech/peregrine/" });
    expect(outputs.demoUrl).toBe("https://demo.circuitforge.tech/peregrine/");
    expect(Object.keys(outputs).sort()).toEqual(["apps", "cfServerSecret", "demoUrl", "url"]);
    expect(await pulumi.isSecret(pulumi.output(outputs.cfServerSecret))).toBe(true);
  });
});

// ── The stack file ───────────────────────────────────────────────────────────

describe("Pulumi.menagerie.yaml", () => {
  const file = path.resolve(__dirname, "../../Pulumi.menagerie.yaml");
  const text = readFileSync(file, "utf8");
  const doc = parseYaml(text) as { config: Record<string, unknown> };

  it("holds no secret, and its header names every secret key the stack reads", async () => {
    const { MENAGERIE_OPTIONAL_SECRETS, MENAGERIE_REQUIRED_SECRETS } = await import("../../stacks/menagerie");
    for (const key of ["sshPrivateKey", ...MENAGERIE_REQUIRED_SECRETS, ...MENAGERIE_OPTIONAL_SECRETS]) {
      expect({ key, inFile: `fleet:${key}` in doc.config }).toEqual({ key, inFile: false });
      expect({ key, documented: text.includes(`pulumi config set --secret fleet:${key} `) }).toEqual({ key, documented: true });
    }
    expect(text).not.toMatch(/secure:/);
  });

  it("builds the stack as written (secrets set), with the seed's values", async () => {
    const config: Record<string, unknown> = { ...doc.config, ...MENAGERIE_SECRETS };
    const { Menagerie } = await import("../../stacks/menagerie");
    const { run, failures } = await runWithSources(() => new Menagerie("menagerie").outputs, { config, secretKeys: Object.keys(MENAGERIE_SECRETS), sources: { ...defaultSources() } });
    expect(failures).toEqual([]);
    expect(managedFile(command(run, "caddy-caddyfile")).target).toBe("/devl/caddy-proxy/Caddyfile");
    expect(stdinOf(command(run, "caddy-caddyfile"))).toContain("import /etc/caddy/legacy/*.caddy\nimport /etc/caddy/sites/*.caddy\n");
    expect(stdinOf(command(run, "peregrine-route-fragment"))).toContain("reverse_proxy http://host.docker.internal:8505 {");
    expect(dotenv(stdinOf(command(run, "peregrine-compose-env"))).CLOUD_DATA_ROOT).toBe("/devl/menagerie-data");
  });
});

// ── Bad config ───────────────────────────────────────────────────────────────

describe("Bad config: one ConfigError, nothing registered", () => {
  async function failing(settings: Record<string, unknown> | undefined, mutate: (c: { config: Record<string, unknown>; secretKeys: string[] }) => void = () => undefined) {
    const { menagerie } = await import("../../stacks/menagerie");
    const c = menagerieConfig(settings ?? {});
    if (settings === undefined) delete c.config["fleet:menagerie"];
    mutate(c);
    return refused(() => menagerie(), { stack: "menagerie", config: c.config, secretKeys: c.secretKeys });
  }

  const SAME_PORT = "fleet:menagerie/apps/1/port: 8505 is already the port of apps/0 (peregrine) on host bastion; give each app its own port";
  const SAME_PATH = "fleet:menagerie/apps/1/slug: the path /peregrine* is already routed to apps/0 (peregrine); give each app its own slug";
  const BAD_SLUG = "fleet:menagerie/apps/1/slug: must be lowercase letters and digits in words joined by single '-', starting with a letter (e.g. falcon)";
  const LOW_PORT = "fleet:menagerie/apps/1/port: must be between 1024 and 65535 (an unprivileged port; 80 and 443 belong to Caddy)";
  const ROOT_DATA = "fleet:menagerie/dataRoot: must be a dedicated directory at least two levels deep, such as /devl/menagerie-data";
  const ETC_DATA = "fleet:menagerie/dataRoot: must not be in /etc (a system directory)";
  const IN_DATA =
    "fleet:menagerie/apps/1/directory: /devl/menagerie-data/falcon overlaps the data root /devl/menagerie-data: the app's checkout and .env (secrets) must not share a tree with user data; use a directory outside it";
  const DEMO_PORT = "fleet:menagerie/demo/port: 8505 is already the port of apps/0 (peregrine) on host bastion; give the demo its own port";
  const DB_PORT = "fleet:menagerie/apps/1/port: 5433 is the platform database's port (platformDb.port); give falcon another port";
  const MISSING_HOST = 'fleet:menagerie/roles/app: names host "pluto", which is not under fleet:hosts (have: bastion)';
  const SPLIT_HOSTS =
    "fleet:menagerie/roles/app: must be the Caddy host (bastion) while upstreamHost is host.docker.internal, the Docker host of the caddy-proxy container; or set upstreamHost to an address of apphost the container reaches";
  const NO_APPS = "fleet:menagerie/apps: is required";
  const MISSING_JWT = "fleet:directusJwtSecret: is required (a secret this stack needs): pulumi config set --secret fleet:directusJwtSecret <value>";
  const PLAIN_DB_PW = "fleet:platformDbPassword: must be stored as a secret (a secret this stack needs): pulumi config set --secret fleet:platformDbPassword <value>";
  const OVERRIDE = "fleet:menagerie/apps/0/env/CF_SERVER_SECRET: is set by the component (CLOUD_MODE, CLOUD_DATA_ROOT, DIRECTUS_JWT_SECRET, CF_SERVER_SECRET, PLATFORM_DB_URL); remove it";
  const DEMO_APP = 'fleet:menagerie/demo/app: names app "heron", which is not in apps (have: peregrine)';

  const withHost = (c: { config: Record<string, unknown> }) => {
    const hosts = c.config["fleet:hosts"] as Record<string, unknown>;
    c.config["fleet:hosts"] = { ...hosts, apphost: hosts.bastion };
  };

  it.each([
    ["two apps on one port", { apps: [PEREGRINE, { ...FALCON, port: 8505 }] }, undefined, SAME_PORT],
    ["two apps on one path", { apps: [PEREGRINE, { ...FALCON, slug: "peregrine" }] }, undefined, SAME_PATH],
    ["a slug with a shell command", { apps: [PEREGRINE, { ...FALCON, slug: "falcon; rm -rf /" }] }, undefined, BAD_SLUG],
    ["a privileged port", { apps: [PEREGRINE, { ...FALCON, port: 443 }] }, undefined, LOW_PORT],
    ["the data root at /", { dataRoot: "/" }, undefined, ROOT_DATA],
    ["the data root in /etc", { dataRoot: "/etc/menagerie" }, undefined, ETC_DATA],
    ["an app directory inside the data root", { apps: [PEREGRINE, { ...FALCON, directory: "/devl/menagerie-data/falcon" }] }, undefined, IN_DATA],
    ["the demo on the app's port", { demo: { port: 8505 } }, undefined, DEMO_PORT],
    ["an app on the platform database's port", { apps: [PEREGRINE, { ...FALCON, port: 5433 }] }, undefined, DB_PORT],
    ["a role naming a missing host", { roles: { app: "pluto", caddy: "bastion" } }, undefined, MISSING_HOST],
    ["apps on another host than Caddy's with host.docker.internal", { roles: { app: "apphost" } }, withHost, SPLIT_HOSTS],
    ["no apps", undefined, undefined, NO_APPS],
    ["a missing directusJwtSecret", {}, (c: { config: Record<string, unknown> }) => void delete c.config["fleet:directusJwtSecret"], MISSING_JWT],
    ["a plaintext platformDbPassword", {}, (c: { secretKeys: string[] }) => void c.secretKeys.splice(c.secretKeys.indexOf("fleet:platformDbPassword"), 1), PLAIN_DB_PW],
    ["an app env overriding CF_SERVER_SECRET", { apps: [{ ...PEREGRINE, env: { CF_SERVER_SECRET: "x" } }] }, undefined, OVERRIDE],
    ["the demo naming no app", { demo: { app: "heron" } }, undefined, DEMO_APP],
    [
      "an app's secret env value written in plain text",
      { apps: [{ ...PEREGRINE, env: { API_TOKEN: "x" } }] },
      undefined,
      "fleet:menagerie/apps/0/env/API_TOKEN: looks like a secret but is stored in plain text: store it encrypted (pulumi config set --secret --path 'fleet:menagerie.apps[0].env.API_TOKEN' VALUE), or list it in apps/0/secrets to have it generated",
    ],
    [
      "the demo's secret env value written in plain text",
      { demo: { env: { DEMO_PASSWORD: "x" } } },
      undefined,
      "fleet:menagerie/demo/env/DEMO_PASSWORD: looks like a secret but is stored in plain text: store it encrypted (pulumi config set --secret --path 'fleet:menagerie.demo.env.DEMO_PASSWORD' VALUE)",
    ],
    [
      "a secret variable both generated and provided",
      { apps: [{ ...PEREGRINE, secrets: ["SESSION"], env: { SESSION: "x" } }] },
      undefined,
      "fleet:menagerie/apps/0/secrets/0: is also set in env: a secret variable is either generated (secrets) or provided (env, stored with --secret); remove one",
    ],
    [
      "a generated secret the component sets itself",
      { apps: [{ ...PEREGRINE, secrets: ["CF_SERVER_SECRET"] }] },
      undefined,
      "fleet:menagerie/apps/0/secrets/0: is set by the component (CLOUD_MODE, CLOUD_DATA_ROOT, DIRECTUS_JWT_SECRET, CF_SERVER_SECRET, PLATFORM_DB_URL); remove it",
    ],
    [
      "a misspelt fleet:cfServerSecrett (a new secret would make existing user data unreadable)",
      {},
      (c: { config: Record<string, unknown>; secretKeys: string[] }) => {
        c.config["fleet:cfServerSecrett"] = "the-running-instance-secret";
        c.secretKeys.push("fleet:cfServerSecrett");
      },
      "fleet:cfServerSecrett: is not a setting of this stack; did you mean fleet:cfServerSecret? (pulumi config rm fleet:cfServerSecrett)",
    ],
    ["a role naming host constructor (an object prototype name)", { roles: { app: "constructor", caddy: "bastion" } }, undefined, MISSING_HOST.replace('"pluto"', '"constructor"')],
    [
      "a platformDbPassword with a line separator (U+2028)",
      {},
      (c: { config: Record<string, unknown> }) => void (c.config["fleet:platformDbPassword"] = "pass\u2028word"),
      "fleet:platformDbPassword: must be one line without control characters",
    ],
    [
      'an app env variable named "__proto__" (zod would drop it silently)',
      { apps: [{ ...PEREGRINE, env: JSON.parse('{"__proto__":"x"}') as Record<string, string> }] },
      undefined,
      'fleet:menagerie/apps/0/env/__proto__: must not be named "__proto__" (a JavaScript prototype name); rename it',
    ],
    ["an upstream host ':'", { upstreamHost: ":" }, undefined, "fleet:menagerie/upstreamHost: must be a DNS name (letters, digits, '-' and '.') or an IP address"],
  ] as const)("%s", async (_, settings, mutate, problem) => {
    const { message, run } = await failing(settings, mutate);
    expect(message).toBe(`stack config: ${problem}`);
    expect(run.resources).toEqual([]);
  });

  it("everything reported at once", async () => {
    const { message, run } = await failing({ apps: [PEREGRINE, { ...FALCON, port: 8505 }], demo: { port: 8505 }, roles: { app: "pluto", caddy: "bastion" } }, (c) => {
      delete c.config["fleet:directusJwtSecret"];
    });
    const [header, ...lines] = message.split("\n");
    const demoTwice = "fleet:menagerie/demo/port: 8505 is already the port of apps/1 (falcon) on host pluto; give the demo its own port";
    expect({ header, problems: lines.sort() }).toEqual({
      header: "stack config has 5 problems:",
      problems: [
        MISSING_HOST,
        SAME_PORT.replace("on host bastion", "on host pluto"),
        DEMO_PORT.replace("on host bastion", "on host pluto"),
        demoTwice,
        MISSING_JWT,
      ]
        .map((p) => `  - ${p}`)
        .sort(),
    });
    expect(run.resources).toEqual([]);
  });
});

// ── Helpers for the Caddy checks ─────────────────────────────────────────────

/** The named Caddy files of a build, written under a temp dir standing for /etc/caddy (the container's view). */
function caddyTree(b: Built, names: readonly string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-menagerie-caddy-"));
  cleanup.push(dir);
  for (const n of names) {
    const r = command(b.run, n);
    const target = managedFile(r).target.replace(/^\/devl\/caddy-proxy\//, `${dir}/`);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, stdinOf(r).replaceAll("/etc/caddy/", `${dir}/`));
  }
  return dir;
}

function caddy(dir: string, ...args: string[]) {
  return runTool("caddy", args, { cwd: dir, env: { ...process.env, HOME: path.join(dir, ".home"), XDG_DATA_HOME: path.join(dir, ".data"), XDG_CONFIG_HOME: path.join(dir, ".config") } });
}

/** `caddy adapt` prints the JSON on stdout and log lines on stderr; runTool joins them. */
function adapted(output: string): string {
  const line = output.split("\n").find((l) => l.startsWith('{"apps"') || l.startsWith('{"admin"') || l.startsWith('{"logging"'));
  if (!line) throw new Error(`no adapted config in:\n${output}`);
  return line;
}

// ── What already runs (issue 13 item 9) ──────────────────────────────────────

describe("apps that already run: the project's names and adoption", () => {
  const adoptLoop = (r: RecordedResource, word: string) => shellWords(script(r).split("\n").find((l) => l.startsWith(`for ${word} in `))!.replace(/; do$/, ""));
  /** The stack as menagerieProgram builds it: Peregrine's ref resolved and its compose files read at preview. */
  async function resolvedBuild(settings: Record<string, unknown> = {}): Promise<MockRun> {
    const { Menagerie } = await import("../../stacks/menagerie");
    const { config, secretKeys } = menagerieConfig(settings);
    const files = { "compose.cloud.yml": cloudCompose("peregrine", 8505), "compose.demo.yml": DEMO_COMPOSE };
    const sources = new Map([[sourceKey(PEREGRINE_REPO), { ...PEREGRINE_REPO, commit: "c".repeat(40), files }]]);
    const { run, failures } = await runWithSources(() => new Menagerie("menagerie", { sources }).outputs, { config, secretKeys });
    expect(failures).toEqual([]);
    return run;
  }
  const resolved = () => sharedRuns("resolved", () => resolvedBuild());

  it("by default the first up adopts the containers the app's compose file makes (read at preview), before up; the demo too", async () => {
    const run = await resolved();
    const adopt = command(run, "peregrine-compose-adopt");
    expect(hostOf(adopt)).toBe("bastion.circuitforge.tech");
    expect(adoptLoop(adopt, "name")).toEqual(["for", "name", "in", "peregrine-cloud-app-1"]);
    expect(script(adopt)).toContain(`dir='/var/backups/fleet/peregrine-cloud'/"$name-$(date -u +%Y%m%dT%H%M%SZ)"`);
    expect(dependsOnUnsorted(command(run, "peregrine-compose-up"))).toContain("peregrine-compose-adopt");
    expect(adoptLoop(command(run, "peregrine-demo-adopt"), "name")).toEqual(["for", "name", "in", "peregrine-demo-app-1"]);
    // Unread (an offline render), the file's names are unknown: nothing listed, nothing adopted.
    expect(A.run.names().filter((n) => n.endsWith("-adopt"))).toEqual([]);
  });

  it("project names what runs (its containers and volumes follow it); other names are adopted; adopt.enabled false adopts nothing", async () => {
    const run = await resolvedBuild({
      apps: [{ ...PEREGRINE, project: "peregrine", adopt: { containers: ["peregrine-by-hand"], backupDir: "/srv/adopted" } }],
      demo: { adopt: { enabled: false } },
    });
    const { options } = splitCompose(composeLines(command(run, "peregrine-compose-up"))[0]!);
    expect(options["--project-name"]).toBe("peregrine");
    const adopt = command(run, "peregrine-compose-adopt");
    expect(adoptLoop(adopt, "name")).toEqual(["for", "name", "in", "peregrine-app-1", "peregrine-by-hand"]);
    expect(script(adopt)).toContain(`dir='/srv/adopted'/"$name-`);
    expect(run.names()).not.toContain("peregrine-demo-adopt");
  });

  it.each([
    ["a project that is not a project name", { apps: [{ ...PEREGRINE, project: "Peregrine Cloud" }] }, "fleet:menagerie/apps/0/project: must start with a lowercase letter and contain only a-z, 0-9 and '-'"],
    ["two apps in one project", { apps: [PEREGRINE, { ...FALCON, project: "peregrine-cloud" }] }, "fleet:menagerie/apps/1/project: peregrine-cloud is already the compose project of apps/0 (peregrine) on host bastion; give each app its own project"],
    ["a container to adopt with a shell word", { apps: [{ ...PEREGRINE, adopt: { containers: ["x; rm -rf /"] } }] }, "fleet:menagerie/apps/0/adopt/containers/0: must be a container name: a letter or digit, then letters, digits and _ . -"],
    ["a backup directory in /etc", { apps: [{ ...PEREGRINE, adopt: { backupDir: "/etc/backups" } }] }, "fleet:menagerie/apps/0/adopt/backupDir: must not be in /etc (a system directory)"],
  ] as const)("refused: %s", async (_, settings, problem) => {
    const { config, secretKeys } = menagerieConfig(settings);
    const { Menagerie } = await import("../../stacks/menagerie");
    const { message, run } = await refused(() => new Menagerie("menagerie").outputs, { stack: "menagerie", config, secretKeys });
    expect(message).toBe(`stack config: ${problem}`);
    expect(run.resources).toEqual([]);
  });
});
