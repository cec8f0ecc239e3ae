/**
 * AppDeployment under mocks: the children it builds and their names, the order between
 * them (by step and by task key), re-run triggers, secrets in the .env only, a systemd
 * service instead of compose, and every rule refused before anything is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { AppDeployment, type AppDeploymentArgs } from "../../src/components/app";
import { CaddySite } from "../../src/components/caddy";
import { managedFiles } from "../../src/remote/command";
import { type Host } from "../../src/remote/host";
import { runProgram, unwrap } from "../../src/testing/mocks";
import { testHost } from "../helpers/hosts";
import { componentNames, dependsOn, ownDependsOn, refused, reveal, script, str } from "../helpers/inputs";

const COMPOSE = "services:\n  app:\n    image: registry.example.com/shop:1.0\n    ports: ['8080:80']\n    environment:\n      TOKEN: ${TOKEN}\n      MODE: ${MODE}\n";
const DIGEST = `sha256:${"a".repeat(64)}`;
const REPO = { url: "https://git.example.com/shop.git", ref: "v1.2.0" };

function shop(host: Host, prospero: Host, extra: Partial<AppDeploymentArgs> = {}): AppDeploymentArgs {
  const site = new CaddySite("site", { host, layout: { configDir: "/etc/caddy" }, site: "shop", addresses: ["shop.example.com"] });
  return {
    host,
    source: { ...REPO, directory: "/opt/shop" },
    data: [{ path: "/srv/shop-data", mode: "0700" }],
    compose: {
      project: "shop",
      directory: "/opt/shop",
      compose: { content: COMPOSE },
      env: { MODE: "prod" },
      images: { app: { image: "registry.example.com/shop:1.0", digest: DIGEST } },
    },
    secrets: { TOKEN: "Planted-Token-1" },
    tasks: {
      seed: { script: "echo seeded", phase: "before" },
      migrate: { argv: ["shop", "migrate"] },
    },
    route: { caddy: { site, route: "shop", path: "/shop*", upstreams: ["http://127.0.0.1:8080"] } },
    checks: {
      health: { url: "http://127.0.0.1:8080/health", rerunOn: ["revision", "compose"] },
      "via-caddy": { url: "https://shop.example.com/health", after: ["route", "migrate"] },
    },
    scrape: { host: prospero, jobName: "shop", targets: ["app.example.com:8080"] },
    ...extra,
  };
}

describe("AppDeployment", () => {
  it("builds each part as a child named <name>-<role>, in order", async () => {
    const run = await runProgram(() => {
      new AppDeployment("shop", shop(testHost("puck"), testHost("prospero")));
    });
    expect(run.get("shop").type).toBe("fleet:app:Deployment");
    const children = Object.fromEntries(run.resources.filter((r) => r.parentName === "shop").map((r) => [r.name, r.type]));
    expect(children).toEqual({
      "shop-data": "fleet:host:Directories",
      "shop-checkout": "fleet:remote:Task",
      "shop-seed": "fleet:remote:Task",
      "shop-compose": "fleet:compose:Stack",
      "shop-migrate": "fleet:remote:Task",
      "shop-route": "fleet:caddy:Route",
      "shop-health": "fleet:health:Check",
      "shop-via-caddy": "fleet:health:Check",
      "shop-scrape": "fleet:prometheus:Scrape",
    });
    // Order: the compose directory after the data and the checkout, `up` after the
    // before-task, the after-task after the whole project, the route once up, the checks
    // as told.
    expect(ownDependsOn(run.get("shop-compose-directory")).sort()).toEqual(["shop-checkout", "shop-data"]);
    expect(ownDependsOn(run.get("shop-compose-up"))).toContain("shop-seed");
    expect(ownDependsOn(run.get("shop-seed-command"))).toEqual(["shop-checkout"]);
    expect(ownDependsOn(run.get("shop-migrate-command"))).toEqual(["shop-compose"]);
    expect(ownDependsOn(run.get("shop-route-fragment"))).toContain("shop-compose-up");
    expect(ownDependsOn(run.get("shop-health-check"))).toEqual(["shop-compose-up"]);
    expect(ownDependsOn(run.get("shop-via-caddy-check"))).toEqual(["shop-route", "shop-migrate"]);
    // The checkout shares the project's lock and re-runs on the revision.
    expect(str(run.get("shop-checkout-command").inputs.create)).toContain("compose-shop");
  });

  it("gates up on the checks run on the app's host before the route: up runs them once the containers settle and rolls back when one fails", async () => {
    const puck = testHost("puck");
    const prospero = testHost("prospero");
    const run = await runProgram(() => {
      new AppDeployment(
        "shop",
        shop(puck, prospero, {
          checks: {
            health: { url: "http://127.0.0.1:8080/health", rerunOn: ["revision", "compose"] },
            ready: { host: puck, url: "http://127.0.0.1:8080/ready", after: ["up", "seed"] },
            // Not on the app's host, after an after-task, after the route, with a password: no gate.
            remote: { host: prospero, url: "http://puck.example.com:8080/remote" },
            "after-migrate": { url: "http://127.0.0.1:8080/migrated", after: ["migrate"] },
            "via-caddy": { url: "https://shop.example.com/health", after: ["route", "migrate"] },
            authed: { url: "http://127.0.0.1:8080/authed", basicAuthUser: "ops", password: pulumi.secret("Planted-Check-Pw") },
          },
        }),
      );
    });
    const up = script(run.get("shop-compose-up"));
    expect(up).toContain(" && fleet_wait && fleet_checks; then\n");
    expect([...up.matchAll(/^ {2}fleet_failed_check='?([a-z-]*)'?$/gm)].map((m) => m[1])).toEqual(["health", "ready", ""]);
    expect(up).toContain("'http://127.0.0.1:8080/health'");
    expect(up).toContain("'http://127.0.0.1:8080/ready'");
    for (const other of ["remote", "migrated", "authed"]) expect(up).not.toContain(`:8080/${other}'`);
    expect(up).not.toContain("Planted-Check-Pw");
    expect(up).toContain("' failed on puck: project shop came up, but the new version is not healthy'");
    // Each check is still a resource of its own, and the route still waits for the gates.
    expect(ownDependsOn(run.get("shop-route-fragment"))).toEqual(expect.arrayContaining(["shop-health", "shop-ready"]));
    expect(run.get("shop-health-check").type).toBe("command:remote:Command");
  });

  it("adopts a hand-made deployment after the tasks of phase before (a backup of what still runs), and before up", async () => {
    const run = await runProgram(() => {
      const args = shop(testHost("puck"), testHost("prospero"));
      new AppDeployment("shop", { ...args, compose: { ...args.compose!, adopt: { containers: ["shop-by-hand"], backupDir: "/opt/shop/adopted" } } });
    });
    expect(ownDependsOn(run.get("shop-compose-adopt"))).toContain("shop-seed");
    expect(ownDependsOn(run.get("shop-compose-up"))).toEqual(expect.arrayContaining(["shop-seed", "shop-compose-adopt"]));
  });

  it("gates nothing when no check runs on the app's host before the route", async () => {
    const run = await runProgram(() => {
      new AppDeployment("shop", shop(testHost("puck"), testHost("prospero"), { checks: { remote: { host: testHost("prospero"), url: "http://puck.example.com:8080/remote" } } }));
    });
    expect(script(run.get("shop-compose-up"))).not.toContain("fleet_checks");
  });

  it("re-runs the checkout, the project and the checks naming revision on a new ref, and nothing else", async () => {
    const inputs = async (ref: string) => {
      const run = await runProgram(() => new AppDeployment("shop", shop(testHost("puck"), testHost("prospero"), { source: { url: REPO.url, ref, directory: "/opt/shop" } })));
      return (name: string) => JSON.stringify(reveal(run.get(name).inputs));
    };
    const [a, b] = [await inputs("v1.2.0"), await inputs("v1.3.0")];
    for (const changed of ["shop-checkout-command", "shop-compose-up", "shop-health-check"]) expect(a(changed), changed).not.toBe(b(changed));
    for (const same of ["shop-via-caddy-check", "shop-migrate-command", "shop-route-fragment"]) expect(a(same), same).toBe(b(same));
  });

  it("puts secrets only into the project's .env, as secrets", async () => {
    const run = await runProgram(() => {
      new AppDeployment("shop", shop(testHost("puck"), testHost("prospero")));
    });
    const env = run.get("shop-compose-env");
    expect(await pulumi.isSecret(pulumi.output(env.props?.stdin as pulumi.Input<string>))).toBe(true);
    expect(JSON.stringify(reveal(env.inputs))).toContain("Planted-Token-1");
    const elsewhere = run.resources.filter((r) => r.name !== "shop-compose-env" && JSON.stringify(reveal(r.inputs)).includes("Planted-Token-1")).map((r) => r.name);
    // `up` hashes the env file into its revision line and is secret as a whole.
    for (const name of elsewhere) expect(await pulumi.isSecret(pulumi.output(run.get(name).props?.create as pulumi.Input<string>)), name).toBe(true);
  });

  it("runs a systemd service instead of a compose project", async () => {
    const run = await runProgram(
      () =>
        new AppDeployment("api", {
          host: testHost("puck"),
          source: { ...REPO, directory: "/srv/api" },
          service: { name: "api.service", content: "[Unit]\nDescription=api\n\n[Service]\nExecStart=/srv/api/run\n\n[Install]\nWantedBy=multi-user.target\n" },
          checks: { health: { url: "http://127.0.0.1:9000/health" } },
        }),
    );
    expect(componentNames(run).filter((n) => run.get(n).parentName === "api")).toEqual(["api-checkout", "api-service", "api-health"]);
    expect(ownDependsOn(run.get("api-health-check"))).toEqual(["api-service"]);
  });

  it("routes through HAProxy with one command for both fragments, after the project is up, with the caller's own hook on it", async () => {
    const run = await runProgram(() => {
      const titania = testHost("titania");
      new AppDeployment("shop", {
        ...shop(testHost("puck"), testHost("prospero")),
        route: {
          haproxy: {
            host: titania,
            backend: "shop",
            domains: ["shop.example.com"],
            healthPath: "/health",
            servers: [{ name: "puck", address: "puck.incus", port: 8080 }],
            transform: { files: { environment: { MARK: "files" } }, map: { logging: "stderr" } },
          },
        },
        checks: {},
      });
    });
    const files = run.get("shop-route-files");
    // The step it waits for, once (the backend and map hooks it used before each added it).
    expect(dependsOn(files)).toEqual([...new Set(dependsOn(files))]);
    expect(ownDependsOn(files)).toContain("shop-compose-up");
    expect(files.inputs.environment).toEqual({ MARK: "files" });
    expect(files.inputs.logging).toBe("stderr");
  });

  it.each<[string, (h: Host, p: Host) => AppDeploymentArgs, string]>([
    ["neither compose nor service", (h, p) => ({ ...shop(h, p), compose: undefined }), "compose: give exactly one of compose (a compose project) or service (a systemd unit)"],
    ["a check waiting for an unknown step", (h, p) => shop(h, p, { checks: { health: { url: "http://127.0.0.1/", after: ["deploy"] } } }), "checks/health/after/0: must be a step (source, up, deployment, route, env, site) or a task key (seed, migrate) or the key of a check before it"],
    ["a task key taken by the component", (h, p) => shop(h, p, { tasks: { route: { script: "true" } } }), "tasks/route: must not be one of the component's own child roles"],
    ["a secret also in env", (h, p) => shop(h, p, { secrets: { MODE: "x", TOKEN: "y" } }), "secrets/MODE: is also set in compose/env; set it in one place"],
    ["a bad child arg, at its path", (h, p) => shop(h, p, { checks: { health: { url: "ftp://x'; rm -rf / #" } } }), "checks/health/url:"],
    ["a bad compose env value, at its path", (h, p) => ({ ...shop(h, p), compose: { ...shop(h, p).compose!, env: { MODE: "a\nb" } } }), "compose/env/MODE:"],
    ["a before-task waiting for the deployment", (h, p) => shop(h, p, { tasks: { seed: { script: "true", phase: "before", after: ["up"] } } }), "tasks/seed/after: must not wait for up or deployment: the deployment waits for a task of phase before"],
    ["a source with a hostile ref", (h, p) => shop(h, p, { source: { url: REPO.url, ref: "$(id)", directory: "/opt/shop" } }), "source/ref:"],
    ["rerunOn revision without a source", (h, p) => ({ ...shop(h, p), source: undefined }), "checks/health/rerunOn/0: names revision, but the app has no source"],
  ])("refuses %s, naming the key, before registering anything", async (_label, make, expected) => {
    const { message, run } = await refused(() => new AppDeployment("shop", make(testHost("puck"), testHost("prospero"))));
    expect(message).toContain('AppDeployment "shop"');
    expect(message).toContain(expected);
    expect(run.resources.filter((r) => r.name.startsWith("shop"))).toEqual([]);
  });
});

describe("AppDeployment: the ports the route and the site send to are ones the compose file publishes (issue 13 item 5)", () => {
  const nginxRoute = (h: Host, proxyPass: string, websocket = false): AppDeploymentArgs["route"] => ({ nginx: { host: h, site: "shop", listen: 8443, locations: [{ path: "/", proxyPass, websocket }] } });
  const NOT = (port: number) => `routes to port ${port}, which the compose file does not publish (it publishes 8080); publish ${port} there or route to a port it publishes`;

  it.each<[string, (h: Host, p: Host) => AppDeploymentArgs, string]>([
    ["a Caddy upstream", (h, p) => ({ ...shop(h, p), route: { caddy: { ...shop(h, p).route!.caddy!, upstreams: ["http://127.0.0.1:9090"] } } }), `route/caddy/upstreams/0: ${NOT(9090)}`],
    ["an nginx route's proxyPass", (h, p) => ({ ...shop(h, p), route: nginxRoute(h, "http://127.0.0.1:9090/") }), `route/nginx/locations/0/proxyPass: ${NOT(9090)}`],
    ["an nginx route's proxyPass without a port (80, the scheme's)", (h, p) => ({ ...shop(h, p), route: nginxRoute(h, "http://127.0.0.1") }), `route/nginx/locations/0/proxyPass: ${NOT(80)}`],
    ["an nginx route's WebSocket proxyPass over TLS without a port (443)", (h, p) => ({ ...shop(h, p), route: nginxRoute(h, "wss://127.0.0.1/ws", true) }), `route/nginx/locations/0/proxyPass: ${NOT(443)}`],
    [
      "the app's own nginx site proxying to the project",
      (h, p) => shop(h, p, { site: { site: "shop-local", listen: 8181, locations: [{ path: "/api/", proxyPass: "http://127.0.0.1:8000" }] } }),
      `site/locations/0/proxyPass: ${NOT(8000)}`,
    ],
  ])("refuses %s on a port the project does not publish, naming both, before registering anything", async (_label, make, expected) => {
    const { message, run } = await refused(() => new AppDeployment("shop", make(testHost("puck"), testHost("prospero"))));
    expect(message).toBe(`AppDeployment "shop": ${expected}`);
    expect(run.resources.filter((r) => r.name.startsWith("shop"))).toEqual([]);
  });

  it("takes an nginx route and a site to the published port", async () => {
    const run = await runProgram(() => {
      new AppDeployment("shop", shop(testHost("puck"), testHost("prospero"), { route: nginxRoute(testHost("puck"), "http://127.0.0.1:8080/"), site: { site: "shop-local", listen: 8181, locations: [{ path: "/api/", proxyPass: "http://127.0.0.1:8080" }] } }));
    });
    expect(run.get("shop-route").type).toBe("fleet:nginx:Site");
    expect(run.get("shop-site").type).toBe("fleet:nginx:Site");
  });
});

const UNIT = "[Unit]\nDescription=api\n\n[Service]\nEnvironmentFile=/srv/api/.env\nExecStart=/srv/api/venv/bin/api\n\n[Install]\nWantedBy=multi-user.target\n";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";

/** A service app with everything Daedalus uses: its user, a data directory it is checked out into, its .env, build tasks, a local site. */
function api(host: Host, extra: Partial<AppDeploymentArgs> = {}): AppDeploymentArgs {
  return {
    host,
    user: { name: "api", home: "/srv/api" },
    data: [{ path: "/srv/api", owner: "api", mode: "0755" }],
    source: { ...REPO, directory: "/srv/api", createDirectory: false, user: "api" },
    envFile: { path: "/srv/api/.env", owner: "api", group: "api", values: { API_MODE: "production", API_TOKEN: pulumi.secret("Planted-Api-Token-2") } },
    service: { name: "api.service", content: UNIT },
    tasks: {
      build: { user: "api", cwd: "/srv/api", script: "make build", phase: "before", rerunOn: ["revision"] },
      migrate: { user: "api", cwd: "/srv/api", script: "make migrate", phase: "before", after: ["build", "env"], rerunOn: ["revision", "env"] },
      assets: { user: "api", cwd: "/srv/api", script: "make assets", after: ["source"], rerunOn: ["revision"] },
    },
    site: { site: "api", listen: 8080, root: "/srv/api/build", spa: true, locations: [{ path: "/api/", proxyPass: "http://127.0.0.1:9000" }], after: ["assets"] },
    checks: {
      health: { url: "http://127.0.0.1:8080/api/health", after: ["deployment", "site"], rerunOn: ["revision", "env", "service"] },
      "after-health": { url: "http://127.0.0.1:8080/", after: ["health"] },
    },
    ...extra,
  };
}

describe("AppDeployment as a service with its user, .env and site", () => {
  it("builds the user, the data, the checkout into it, the .env, the tasks, the service and the site, each in order", async () => {
    const run = await runProgram(() => new AppDeployment("api", api(testHost("puck"))));
    const children = Object.fromEntries(run.resources.filter((r) => r.parentName === "api").map((r) => [r.name, r.type]));
    expect(children).toEqual({
      "api-user": "fleet:host:User",
      "api-data": "fleet:host:Directories",
      "api-checkout": "fleet:remote:Task",
      "api-env": "command:remote:Command",
      "api-build": "fleet:remote:Task",
      "api-migrate": "fleet:remote:Task",
      "api-service": "fleet:systemd:Unit",
      "api-assets": "fleet:remote:Task",
      "api-site": "fleet:nginx:Site",
      "api-health": "fleet:health:Check",
      "api-after-health": "fleet:health:Check",
    });
    expect(ownDependsOn(run.get("api-data-install"))).toEqual(["api-user"]);
    expect(ownDependsOn(run.get("api-checkout-command"))).toEqual(["api-user", "api-data"]);
    expect(ownDependsOn(run.get("api-env"))).toEqual(["api-data"]);
    expect(ownDependsOn(run.get("api-build-command"))).toEqual(["api-checkout"]);
    expect(ownDependsOn(run.get("api-migrate-command"))).toEqual(["api-build", "api-env"]);
    expect(ownDependsOn(run.get("api-service-restart"))).toEqual(["api-service-unit", "api-data", "api-checkout", "api-env", "api-build", "api-migrate"]);
    expect(ownDependsOn(run.get("api-assets-command"))).toEqual(["api-checkout"]);
    expect(ownDependsOn(run.get("api-site-config"))).toEqual(["api-assets"]);
    expect(ownDependsOn(run.get("api-health-check"))).toEqual(["api-service", "api-site"]);
    expect(ownDependsOn(run.get("api-after-health-check"))).toEqual(["api-health"]);
  });

  it("a task of phase after may wait for the site (an activation that checks through it): the site is made first, the task waits for it", async () => {
    const tasks = { ...api(testHost("puck")).tasks, activate: { script: "true", after: ["deployment", "site"], rerunOn: ["revision" as const] } };
    const run = await runProgram(() => new AppDeployment("api", api(testHost("puck"), { tasks, site: { site: "api", listen: 8080, root: "/srv/api/build", locations: [{ path: "/api/", proxyPass: "http://127.0.0.1:9000" }], after: ["build"] } })));
    expect(ownDependsOn(run.get("api-activate-command"))).toEqual(["api-service", "api-site"]);
    expect(ownDependsOn(run.get("api-site-config"))).toEqual(["api-build"]);
  });

  it("checks out into the data directory as the app's user, without making it, pinned to the commit", async () => {
    const run = await runProgram(() => new AppDeployment("api", api(testHost("puck"), { source: { ...REPO, commit: COMMIT, directory: "/srv/api", createDirectory: false, user: "api" } })));
    const s = script(run.get("api-checkout-command"));
    expect(s).toMatch(/^cd '\/srv\/api'$/m);
    expect(s).toContain("runuser -u 'api' --");
    expect(s).not.toContain("install -d");
    expect(s).toContain(COMMIT);
    // The checkout of a service is serialised with nothing.
    expect(str(run.get("api-checkout-command").inputs.create)).not.toContain("flock");
  });

  it("writes the .env 0600 as a secret, its values sorted, and the secret nowhere else in plaintext", async () => {
    const run = await runProgram(() => new AppDeployment("api", api(testHost("puck"))));
    const record = managedFiles().filter((f) => f.resourceName === "api-env").at(-1)!;
    expect(record).toMatchObject({ host: "puck", target: { path: "/srv/api/.env", owner: "api", group: "api", mode: "0600" }, secret: true });
    expect((await unwrap(record.content)) as string).toMatch(/\nAPI_MODE='production'\nAPI_TOKEN='Planted-Api-Token-2'\n$/);
    const env = run.get("api-env");
    expect(await pulumi.isSecret(pulumi.output(env.props?.stdin as pulumi.Input<string>))).toBe(true);
    const plaintext = run.resources.filter((r) => r.name !== "api-env" && JSON.stringify(reveal(r.inputs)).includes("Planted-Api-Token-2")).map((r) => r.name);
    expect(plaintext).toEqual([]);
  });

  it("a new .env restarts the service and re-runs what names env; a new commit re-runs what names revision", async () => {
    const inputs = async (extra: Partial<AppDeploymentArgs>) => {
      const run = await runProgram(() => new AppDeployment("api", api(testHost("puck"), extra)));
      return (name: string) => JSON.stringify(reveal(run.get(name).inputs));
    };
    const base = await inputs({});
    const env = await inputs({ envFile: { path: "/srv/api/.env", owner: "api", group: "api", values: { API_MODE: "staging", API_TOKEN: pulumi.secret("Planted-Api-Token-2") } } });
    const commit = await inputs({ source: { ...REPO, commit: COMMIT, directory: "/srv/api", createDirectory: false, user: "api" } });
    for (const changed of ["api-env", "api-migrate-command", "api-service-restart", "api-health-check"]) expect(env(changed), changed).not.toBe(base(changed));
    for (const same of ["api-checkout-command", "api-build-command", "api-assets-command", "api-after-health-check", "api-service-unit"]) expect(env(same), same).toBe(base(same));
    for (const changed of ["api-checkout-command", "api-build-command", "api-migrate-command", "api-assets-command", "api-service-restart", "api-health-check"]) expect(commit(changed), changed).not.toBe(base(changed));
    for (const same of ["api-env", "api-after-health-check", "api-site-config"]) expect(commit(same), same).toBe(base(same));
  });

  it("a compose app's checkout takes the project's lock, or none with lock: false", async () => {
    const locked = await runProgram(() => new AppDeployment("shop", shop(testHost("puck"), testHost("prospero"))));
    const free = await runProgram(() => new AppDeployment("shop", shop(testHost("puck"), testHost("prospero"), { source: { ...REPO, directory: "/opt/shop", lock: false } })));
    expect(str(locked.get("shop-checkout-command").inputs.create)).toContain("compose-shop");
    expect(str(free.get("shop-checkout-command").inputs.create)).not.toContain("compose-shop");
  });

  it.each<[string, Partial<AppDeploymentArgs>, string]>([
    ["a checkout into a directory data does not make", { data: [{ path: "/srv/other" }] }, "source/createDirectory: is false, so /srv/api must be one of data (made there with its owner and mode); add it to data or drop createDirectory"],
    ["a commit that is not a full commit id", { source: { ...REPO, commit: "abc123", directory: "/srv/api", createDirectory: false } }, "source/commit: must be a full commit id (40 lowercase hex digits)"],
    ["a bad user name", { user: { name: "Api; id", home: "/srv/api" } }, "user/name:"],
    ["a bad .env variable name", { envFile: { path: "/srv/api/.env", values: { "api-mode": "x" } } }, "envFile/values/api-mode:"],
    ["a bad .env value", { envFile: { path: "/srv/api/.env", values: { API_MODE: "a\nb" } } }, "envFile/values/API_MODE:"],
    ["a relative .env path", { envFile: { path: "srv/api/.env", values: {} } }, "envFile/path:"],
    // Before, the constructor met the route before it was made (ReferenceError).
    ["a task waiting for the route", { tasks: { warm: { script: "true", after: ["route"] } }, route: { nginx: { host: testHost("puck"), site: "edge", listen: 80, locations: [{ path: "/", proxyPass: "http://127.0.0.1:8080" }] } } }, "tasks/warm/after: must not wait for route: tasks come before it (the route may wait for a task)"],
    ["a task of phase before waiting for the site", { tasks: { warm: { script: "true", phase: "before", after: ["site"] } } }, "tasks/warm/after: must not wait for route or site: tasks of phase before come before them (the route and the site may wait for a task)"],
    // A site that waits for a task of phase after which waits for the site: neither could be made first.
    ["a site and a task of phase after waiting for each other", { tasks: { assets: { script: "true" }, activate: { script: "true", after: ["deployment", "site"] } } }, "site/after/0: names assets, a task of phase after, while activate waits for the site; the site may wait for tasks of phase before only"],
    // Before, the order was dropped without a word (the later task did not exist yet).
    ["a task waiting for a task declared after it", { tasks: { a: { script: "true", phase: "before", after: ["b"] }, b: { script: "true", phase: "before" } } }, "tasks/a/after/0: names b, a task declared after this one; declare b first"],
    ["a check waiting for a check declared after it", { checks: { a: { url: "http://127.0.0.1/", after: ["b"] }, b: { url: "http://127.0.0.1/" } } }, "checks/a/after/0: names b, a check declared after this one; declare b first"],
    ["a check waiting for itself", { checks: { a: { url: "http://127.0.0.1/", after: ["a"] } } }, "checks/a/after/0: must not name the check itself"],
    ["a before task re-run on the service it runs ahead of", { tasks: { build: { script: "true", phase: "before", rerunOn: ["service"] } } }, "tasks/build/rerunOn/0: names service, which a task of phase before runs ahead of"],
    ["rerunOn env without an envFile", { envFile: undefined, tasks: {}, checks: { health: { url: "http://127.0.0.1/", rerunOn: ["env"] } } }, "checks/health/rerunOn/0: names env, but the app has no envFile"],
    ["a site waiting for the route", { site: { site: "api", listen: 8080, locations: [{ path: "/", proxyPass: "http://127.0.0.1:9000" }], after: ["route"] } }, "site/after: must not name the route: the route comes after the site (and may wait for it)"],
    ["a site on another host", { site: { host: testHost("titania"), site: "api", listen: 8080, locations: [{ path: "/", proxyPass: "http://127.0.0.1:9000" }] } as never }, "site/host: must not be set: the site runs on the app's host"],
    ["a check key taken by a new child role", { checks: { env: { url: "http://127.0.0.1/" } } }, "checks/env: must not be one of the component's own child roles"],
  ])("refuses %s, naming the key, before registering anything", async (_label, extra, expected) => {
    const { message, run } = await refused(() => new AppDeployment("api", api(testHost("puck"), extra)));
    expect(message).toContain('AppDeployment "api"');
    expect(message).toContain(expected);
    expect(run.resources.filter((r) => r.name.startsWith("api"))).toEqual([]);
  });
});
