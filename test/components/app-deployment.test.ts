/**
 * AppDeployment under mocks: the children it builds and their names, the order between
 * them (by step and by task key), re-run triggers, secrets in the .env only, a systemd
 * service instead of compose, and every rule refused before anything is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { AppDeployment, type AppDeploymentArgs } from "../../src/components/app";
import { CaddySite } from "../../src/components/caddy";
import { type Host } from "../../src/remote/host";
import { runProgram } from "../../src/testing/mocks";
import { testHost } from "../helpers/hosts";
import { componentNames, ownDependsOn, refused, reveal, str } from "../helpers/inputs";

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
