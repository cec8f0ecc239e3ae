/**
 * The apps of the menagerie cloud (stacks/menagerie/apps.ts) under mocks: each app is
 * an AppDeployment built by cloudApp — the children of one app (data root, checkout,
 * compose project, route, checks), their order and secrets, build: false, the health
 * options, two apps on one site, the config rules for an app entry (hostile input
 * refused with the path and the rule) and the rules between apps (the checkout script
 * is run for real in test/remote/checkout.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { type AppDeployment } from "../../src/components/app";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { CaddySite } from "../../src/components/caddy";
import { type Host } from "../../src/remote/host";
import { type MockRun, type RecordedResource } from "../../src/testing/mocks";
import { formatProblems, problemsFromZod } from "../../src/validation/errors";
import { testHost } from "../helpers/hosts";
import { appClashes, cloudApp, type CloudContext, dataPathProblems, menagerieAppEntrySchema, menagerieAppSchema, menagerieCloudSchema } from "../../stacks/menagerie/apps";
import { cloudCompose, defaultSources, FALCON_REPO, runWithSources } from "./menagerie-config";
import { isHelperInstaller, dotenv, componentNames, scriptText, managedFile } from "../helpers/inputs";

const HERON_REPO = { url: "https://git.circuitforge.tech/pyr0ball/heron.git", ref: "v1.2.0" };
const HERON_COMPOSE = "services:\n  app:\n    image: registry.circuitforge.tech/heron:1.2\n    ports: ['8507:8501']\n    environment:\n      CF_SERVER_SECRET: ${CF_SERVER_SECRET}\n      CLOUD_DATA_ROOT: ${CLOUD_DATA_ROOT}\n";
const DIGEST = `sha256:${"e".repeat(64)}`;
const SECRETS = { directusJwtSecret: "jwt-Planted-1", cfServerSecret: "CfServerSecretPlanted0123456789a", platformDbUrl: "postgresql://cf_platform:p%40ss@host.docker.internal:5433/circuitforge_platform" };

interface Cloud {
  readonly host: Host;
  readonly site: CaddySite;
}

/** An app entry and cloud settings as the stack config gives them (parsed with the config's schemas). */
interface AppInput {
  readonly [key: string]: unknown;
}

const CLOUD = { domain: "menagerie.circuitforge.tech", dataRoot: "/devl/menagerie-data" };

/** An app of the cloud, as the stack builds it: cloudApp over the parsed entry and cloud settings. */
function app(c: Cloud, entry: AppInput, cloud: AppInput = {}, resolveDigest?: CloudContext["resolveDigest"]): AppDeployment {
  const e = menagerieAppEntrySchema.parse(entry);
  const settings = menagerieCloudSchema.parse({ ...CLOUD, ...cloud });
  return cloudApp(e, { cloud: settings, host: c.host, site: c.site, secrets: SECRETS, resolveDigest }, {});
}

function falcon(c: Cloud, extra: AppInput = {}, cloud: AppInput = {}): AppDeployment {
  return app(c, { slug: "falcon", repo: FALCON_REPO, port: 8506, ...extra }, cloud);
}

function cloud(): Cloud {
  const host = testHost("bastion");
  const site = new CaddySite("menagerie-site", {
    host,
    layout: { configDir: "/devl/caddy-proxy", container: { name: "caddy-proxy" } },
    site: "menagerie",
    addresses: ["menagerie.circuitforge.tech"],
  });
  return { host, site };
}

const SOURCES = { ...defaultSources(), [`${HERON_REPO.url} compose.cloud.yml`]: HERON_COMPOSE };

async function deploy(make: (c: Cloud) => void, sources = SOURCES) {
  return runWithSources(
    () => {
      make(cloud());
    },
    { stack: "test", sources },
  );
}

// ── Reading the recorded inputs ──────────────────────────────────────────────

function isSecretInput(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

function plain(v: unknown): string {
  const r = isSecretInput(v) ? v.value : v;
  if (typeof r !== "string") throw new Error(`expected a string, got ${typeof r}`);
  return r;
}

/** The body of `/bin/sh -c '<body>'`. */
function body(r: RecordedResource, which: "create" | "delete" = "create"): string {
  return scriptText(plain(r.inputs[which]));
}

function deps(r: RecordedResource): string[] {
  const d = r.opts.dependsOn;
  const list: unknown[] = Array.isArray(d) ? d : d ? [d] : [];
  return list
    .map((x) => (x as { __name?: string }).__name ?? "?")
    .filter((n) => !isHelperInstaller(n))
    .sort();
}


function appNames(run: MockRun, prefix: string): string[] {
  return componentNames(run).filter((n) => n === prefix || n.startsWith(`${prefix}-`));
}

const FALCON_CHILDREN = [
  "falcon",
  "falcon-data",
  "falcon-data-install",
  "falcon-checkout",
  "falcon-checkout-command",
  "falcon-compose",
  "falcon-compose-directory",
  "falcon-compose-source",
  "falcon-compose-env",
  "falcon-compose-compose",
  "falcon-compose-up",
  // The check on the port before the route: the route waits for it (issue 13 item 2).
  "falcon-health",
  "falcon-health-check",
  "falcon-route",
  "falcon-route-fragment",
  "falcon-health-via-caddy",
  "falcon-health-via-caddy-check",
];

// ── The component ────────────────────────────────────────────────────────────

describe("an app of the cloud (cloudApp: an AppDeployment)", () => {
  it("creates the data root, the checkout, compose project falcon-cloud, the route and two checks, named after it", async () => {
    let made: AppDeployment | undefined;
    const { run, failures } = await deploy((c) => {
      made = falcon(c);
    });
    expect(failures).toEqual([]);
    expect(appNames(run, "falcon")).toEqual(FALCON_CHILDREN);
    expect(run.get("falcon").type).toBe("fleet:app:Deployment");
    // Its type before AppDeployment, so an existing deployment keeps every resource.
    expect(run.get("falcon").opts.aliases).toEqual([{ type: "fleet:menagerie:App" }]);
    for (const [child, type] of [
      ["falcon-data", "fleet:host:Directories"],
      ["falcon-checkout", "fleet:remote:Task"],
      ["falcon-compose", "fleet:compose:Stack"],
      ["falcon-route", "fleet:caddy:Route"],
      ["falcon-health", "fleet:health:Check"],
      ["falcon-health-via-caddy", "fleet:health:Check"],
    ] as const) {
      expect({ child, type: run.get(child).type, parent: run.get(child).parentName }).toEqual({ child, type, parent: "falcon" });
    }
    expect(made!.nodes.compose!.project).toBe("falcon-cloud");
    expect(made!.nodes.compose!.directory).toBe("/opt/falcon-cloud");
    expect(await new Promise((r) => made!.composeContent!.apply(r))).toBe(cloudCompose("falcon", 8506));
  });

  it(".env: CLOUD_MODE=true, CLOUD_DATA_ROOT, the three shared secrets and the app's own settings, as a secret", async () => {
    const { run } = await deploy((c) => void falcon(c, { env: { FALCON_FEATURE: "on" } }));
    const env = run.get("falcon-compose-env");
    expect(isSecretInput(env.inputs.stdin)).toBe(true);
    expect(dotenv(plain(env.inputs.stdin))).toEqual({
      CLOUD_MODE: "true",
      CLOUD_DATA_ROOT: "/devl/menagerie-data",
      DIRECTUS_JWT_SECRET: SECRETS.directusJwtSecret,
      CF_SERVER_SECRET: SECRETS.cfServerSecret,
      PLATFORM_DB_URL: SECRETS.platformDbUrl,
      FALCON_FEATURE: "on",
    });
    expect(managedFile(env).target).toBe("/opt/falcon-cloud/.env");
    // No secret outside the env file's secret stdin.
    for (const r of run.resources) {
      const text = JSON.stringify(r.inputs, (k, v: unknown) => (isSecretInput(v) ? "<secret>" : v));
      for (const s of Object.values(SECRETS)) expect({ r: r.name, leaks: text.includes(s) }).toEqual({ r: r.name, leaks: false });
    }
  });

  it("fetches compose.cloud.yml at the pinned ref and checks the repository out into its own directory, compose's project directory", async () => {
    const { run } = await deploy((c) => void falcon(c));
    const source = body(run.get("falcon-compose-source"));
    expect(source).toContain(`git remote add origin '${FALCON_REPO.url}'`);
    expect(source).toContain("git fetch -q --depth 1 origin 'v0.1.0'");
    expect(body(run.get("falcon-checkout-command"))).toContain(gitCheckoutScript({ ...FALCON_REPO, directory: "/opt/falcon-cloud/src/falcon", directoryMode: "0750" }));
    const up = body(run.get("falcon-compose-up"));
    expect(up).toContain("docker compose --project-name 'falcon-cloud' --project-directory '/opt/falcon-cloud/src/falcon' -f '/opt/falcon-cloud/compose.cloud.yml' --env-file '/opt/falcon-cloud/.env' up -d --remove-orphans --build");
    // The checkout is serialised with the project's compose operations.
    expect(body(run.get("falcon-checkout-command"))).toContain("fleet-compose-falcon-cloud.lock");
  });

  it("routes handle /falcon* on the shared site to host.docker.internal:8506 with X-CF-Session {header.Cookie}", async () => {
    const { run } = await deploy((c) => void falcon(c));
    const fragment = run.get("falcon-route-fragment");
    expect(managedFile(fragment).target).toBe("/devl/caddy-proxy/routes/menagerie/falcon.caddy");
    expect(plain(fragment.inputs.stdin)).toContain("handle /falcon* {\n\trequest_body {\n\t\tmax_size 256MiB\n\t}\n\treverse_proxy http://host.docker.internal:8506 {\n\t\theader_up X-CF-Session {header.Cookie}\n\t\ttransport http {\n\t\t\tread_timeout 300s\n\t\t\twrite_timeout 300s\n\t\t}\n\t}\n}\n");
    expect(body(run.get("falcon-data-install"))).toContain("install -d -o 'root' -g 'root' -m '0700' '/devl/menagerie-data'");
  });

  it("orders the work: data root and checkout, then the project; the route once it is up and healthy on its port; the check through Caddy after the route", async () => {
    const { run } = await deploy((c) => void falcon(c));
    expect(deps(run.get("falcon-compose-directory"))).toEqual(["falcon-checkout", "falcon-data"]);
    // Not routed to before the new version answers on its port (issue 13 item 2).
    expect(deps(run.get("falcon-route-fragment"))).toEqual(["falcon-compose-up", "falcon-health", "menagerie-site-site"]);
    expect(deps(run.get("falcon-health-check"))).toEqual(["falcon-compose-up"]);
    // The route component: the engine waits for its one command, the fragment.
    expect(deps(run.get("falcon-health-via-caddy-check"))).toEqual(["falcon-compose-up", "falcon-route"]);
    const viaCaddy = body(run.get("falcon-health-via-caddy-check"));
    expect(viaCaddy).toContain("--resolve 'menagerie.circuitforge.tech:443:127.0.0.1'");
    expect(viaCaddy).toContain("'https://menagerie.circuitforge.tech/falcon/'");
    expect(body(run.get("falcon-health-check"))).toContain("'http://127.0.0.1:8506/falcon/'");
  });

  it("build: false runs pinned registry images: no checkout, no --build, the image by digest", async () => {
    const asked: string[] = [];
    const { run, failures } = await deploy(
      (c) =>
        void app(c, { slug: "heron", repo: HERON_REPO, port: 8507, build: false, images: { app: { image: "registry.circuitforge.tech/heron:1.2" } } }, {}, (image) => {
          asked.push(image);
          return DIGEST;
        }),
    );
    expect(failures).toEqual([]);
    expect(run.find("heron-checkout")).toBeUndefined();
    expect(asked).toEqual(["registry.circuitforge.tech/heron:1.2"]);
    expect(plain(run.get("heron-compose-compose").inputs.stdin)).toContain(`image: registry.circuitforge.tech/heron@${DIGEST}\n`);
    expect(body(run.get("heron-compose-up"))).not.toContain("--build");
    expect(deps(run.get("heron-compose-directory"))).toEqual(["heron-data"]);
  });

  it("build: true with images: the pinned service runs its registry image by digest, the other is built from the checkout", async () => {
    const mixed = "services:\n  app:\n    build: .\n    ports: ['8507:8501']\n    environment:\n      CF_SERVER_SECRET: ${CF_SERVER_SECRET}\n  cache:\n    build: ./cache\n    image: heron-cache:dev\n";
    // The config's rules accept it (they refused images with a build before).
    const entry = { slug: "heron", repo: HERON_REPO, port: 8507, images: { cache: { image: "registry.circuitforge.tech/heron-cache:1.2" } } };
    expect(menagerieAppSchema.safeParse({ ...entry, ...CLOUD }).error).toBeUndefined();
    const asked: string[] = [];
    const { run, failures } = await deploy(
      (c) =>
        void app(c, { slug: "heron", repo: HERON_REPO, port: 8507, images: { cache: { image: "registry.circuitforge.tech/heron-cache:1.2" } } }, {}, (image) => {
          asked.push(image);
          return DIGEST;
        }),
      { ...SOURCES, [`${HERON_REPO.url} compose.cloud.yml`]: mixed },
    );
    expect(failures).toEqual([]);
    expect(asked).toEqual(["registry.circuitforge.tech/heron-cache:1.2"]);
    expect(run.find("heron-checkout-command")).toBeDefined();
    const deployed = plain(run.get("heron-compose-compose").inputs.stdin);
    expect(deployed).toContain(`  cache:\n    image: registry.circuitforge.tech/heron-cache@${DIGEST}\n`);
    expect(deployed).toContain("  app:\n    build: .\n");
    expect(body(run.get("heron-compose-up"))).toContain("up -d --remove-orphans --build");
  });

  it("health options: no check through Caddy when off; another Caddy port goes into the URL", async () => {
    const off = await deploy((c) => void falcon(c, { health: { viaCaddy: false } }));
    expect(off.run.find("falcon-health-via-caddy")).toBeUndefined();
    const port = await deploy((c) => void falcon(c, { health: { path: "/falcon/_stcore/health", bodyMatch: "^ok$" } }, { caddyCheck: { port: 8443 } }));
    const s = body(port.run.get("falcon-health-via-caddy-check"));
    expect(s).toContain("'https://menagerie.circuitforge.tech:8443/falcon/_stcore/health'");
    expect(s).toContain("--resolve 'menagerie.circuitforge.tech:8443:127.0.0.1'");
    expect(s).toContain("grep -Eq -- '^ok$'");
  });
});

// ── Several apps on one site ─────────────────────────────────────────────────

describe("onboarding the next app: one more app on the same site", () => {
  it("falcon next to peregrine: both deploy, each with its own route, project and checks", async () => {
    const { run, failures } = await deploy((c) => {
      app(c, { slug: "peregrine", repo: { url: "https://git.circuitforge.tech/pyr0ball/peregrine.git", ref: "v2.3.0" }, port: 8505 });
      falcon(c);
    });
    expect(failures).toEqual([]);
    expect(appNames(run, "falcon")).toEqual(FALCON_CHILDREN);
    expect(appNames(run, "peregrine")).toEqual(FALCON_CHILDREN.map((n) => n.replace("falcon", "peregrine")));
  });
});

// ── Hostile and wrong input ──────────────────────────────────────────────────

describe("an app entry with the cloud's settings (the config's rules): hostile input refused with the path and the rule", () => {
  const cases: readonly [string, AppInput, string][] = [
    ["a slug with shell", { slug: "falcon'; rm -rf / #" }, "slug: must be lowercase letters and digits in words joined by single '-', starting with a letter (e.g. falcon)"],
    ["a slug with command substitution", { slug: "$(id)" }, "slug: must be lowercase letters and digits in words joined by single '-', starting with a letter (e.g. falcon)"],
    ["a slug that closes the Caddy block", { slug: "falcon\n}\nhandle {" }, "slug: must be lowercase letters and digits in words joined by single '-', starting with a letter (e.g. falcon)"],
    ["a slug climbing out of the route directory", { slug: "../etc" }, "slug: must be lowercase letters and digits in words joined by single '-', starting with a letter (e.g. falcon)"],
    ["an over-long slug", { slug: "f".repeat(40) }, "slug: must be 2 to 32 characters"],
    ["a privileged port", { port: 80 }, "port: must be between 1024 and 65535 (an unprivileged port; 80 and 443 belong to Caddy)"],
    ["a port beyond 65535", { port: 70000 }, "port: must be between 1024 and 65535 (an unprivileged port; 80 and 443 belong to Caddy)"],
    ["a fractional port", { port: 8505.5 }, "port: must be an integer"],
    ["a data root climbing up", { dataRoot: "/devl/../etc" }, "dataRoot: must not contain '..' segments"],
    ["the data root at /", { dataRoot: "/" }, "dataRoot: must be a dedicated directory at least two levels deep, such as /devl/menagerie-data"],
    ["a data root in /proc", { dataRoot: "/proc/self" }, "dataRoot: must not be in /proc (a system directory)"],
    ["a data root with a space", { dataRoot: "/devl/menagerie data" }, "dataRoot: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)"],
    [
      "a project directory inside the data root",
      { directory: "/devl/menagerie-data/falcon" },
      "directory: /devl/menagerie-data/falcon overlaps the data root /devl/menagerie-data: the app's checkout and .env (secrets) must not share a tree with user data; use a directory outside it",
    ],
    ["a repository URL with command substitution", { repo: { url: "https://git.example.com/$(id)", ref: "v1" } }, "repo/url: must be an https:// or ssh git URL without spaces or shell metacharacters, no part starting with '-' (git would read it as an option)"],
    [
      "a ref that is an option",
      { repo: { url: FALCON_REPO.url, ref: "--upload-pack=touch /tmp/x" } },
      "has 2 problems:\n  - repo/ref: must be a git branch, tag or commit of letters, digits and . _ / -\n  - repo/ref: must be a valid git ref (no leading '-', no '..', no trailing '/' or '.lock')",
    ],
    ["an upstream host with a command", { upstreamHost: "evil;host" }, "upstreamHost: must be a DNS name (letters, digits, '-' and '.') or an IP address"],
    ["a domain opening a block", { domain: "menagerie.circuitforge.tech {" }, "domain: must be a fully qualified DNS name such as app.example.com"],
    ["env overriding a secret", { env: { CF_SERVER_SECRET: "x" } }, "env/CF_SERVER_SECRET: is set by the component (CLOUD_MODE, CLOUD_DATA_ROOT, DIRECTUS_JWT_SECRET, CF_SERVER_SECRET, PLATFORM_DB_URL); remove it"],
    ["an env value with a newline", { env: { FOO: "a\nB=injected" } }, "env/FOO: must be one line without control characters"],
    ["an env name in lower case", { env: { "foo bar": "x" } }, "env/foo bar: must be an environment variable name: A-Z, 0-9 and '_'"],
    ["a health path outside the route", { health: { path: "/admin" } }, "health/path: must be under the app's route /falcon* (got /admin), or the check through Caddy gets the site's fallback"],
    ["a data owner with a command", { data: { owner: "root;id" } }, "data/owner: must start with a lowercase letter or '_' and contain only a-z, 0-9, '_' and '-'"],
    ["an unknown key", { dataroot: "/x" }, '(root): unknown key "dataroot"; remove or rename it'],
  ];

  it.each(cases)("%s", (_, extra, problem) => {
    const r = menagerieAppSchema.safeParse({ slug: "falcon", repo: FALCON_REPO, port: 8506, ...CLOUD, ...extra });
    expect(r.success).toBe(false);
    const message = formatProblems("apps/0", r.success ? [] : problemsFromZod(r.error));
    expect(message).toBe(problem.startsWith("has ") ? `apps/0 ${problem}` : `apps/0: ${problem}`);
  });
});

// ── Pure rules ───────────────────────────────────────────────────────────────

describe("the rules between apps and for data paths", () => {
  const a = { label: "A", slug: "peregrine", project: "peregrine-cloud", port: 8505, host: "bastion", upstreamHost: "host.docker.internal", directory: "/opt/peregrine-cloud" };
  const falcon = { slug: "falcon", project: "falcon-cloud" };

  it.each([
    ["nothing shared", { ...falcon, port: 8506, directory: "/opt/falcon-cloud" }, []],
    ["a port on another host but the same upstream", { ...falcon, port: 8505, host: "other", directory: "/opt/falcon-cloud" }, ["port"]],
    ["a port on another host and upstream", { ...falcon, port: 8505, host: "other", upstreamHost: "10.0.0.2", directory: "/opt/falcon-cloud" }, []],
    ["a directory inside the other's", { ...falcon, port: 8506, directory: "/opt/peregrine-cloud/falcon" }, ["directory"]],
    ["the compose project of the other (configured to match what runs)", { ...falcon, project: "peregrine-cloud", port: 8506, directory: "/opt/falcon-cloud" }, ["project"]],
    ["the same project on another host", { ...falcon, project: "peregrine-cloud", port: 8506, host: "other", upstreamHost: "10.0.0.2", directory: "/opt/falcon-cloud" }, []],
    ["everything", { slug: "peregrine" }, ["slug", "port"]],
  ] as const)("%s", (_, b, paths) => {
    expect(appClashes(a, { ...a, label: "B", ...b }).map((p) => p.path)).toEqual(paths);
  });

  it.each([
    ["/devl/menagerie-data", []],
    ["/srv/menagerie", []],
    ["/devl", ["must be a dedicated directory at least two levels deep, such as /devl/menagerie-data"]],
    ["/var/lib/docker/volumes/x", ["must not be in /var/lib/docker (a system directory)"]],
    ["/usr/local/data", ["must not be in /usr (a system directory)"]],
    ["/etcetera/data", []],
  ] as const)("data path %s", (p, problems) => {
    expect(dataPathProblems(p)).toEqual(problems);
  });
});
