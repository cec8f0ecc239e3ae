/**
 * Issue 13 item 10 for Peregrine (stack menagerie): the running process sees every
 * variable the stack provides. The cloud instance and the demo are deployed on puck the
 * way the stack deploys them (`cloudAppArgs`, `demoAppArgs`: the checkout of the app's
 * repository at the commit resolved at preview, the compose file read at it, the `.env`
 * with the cloud's secrets and the app's own, built on the host and started), without
 * the Caddy route (no caddy-proxy container here). The app is a stand-in built from
 * the repository that refuses to start when a variable it needs is unset or empty, like
 * the real app's `os.environ[...]`; the stack's own health check then passes only if
 * it started. The repository is a bare one on puck, cloned over SSH by puck's root.
 */
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppDeployment, type AppDeploymentArgs } from "../../src/components/app";
import { type CaddySiteRef } from "../../src/components/caddy";
import { type Fleet, REGISTRY } from "../e2e/harness";
import { build, type Built, fleetHosts, hostOf } from "../e2e/program";
import { type TestRepository, testRepository } from "../helpers/git";
import { cloudAppArgs, demoAppArgs, menagerieAppEntrySchema, MANAGED_ENV } from "../../stacks/menagerie/apps";
import { menagerieSchema } from "../../stacks/menagerie/config";
import { applyDiff, changedCommands, destroyAll } from "./deploy";
import { httpd, registryDigest } from "./images";
import { dockerPuck, pullOnPuck } from "./puck";

const BASE = `${REGISTRY}/fleet/peregrine-base:1`;
const CLOUD_PORT = 18505;
const DEMO_PORT = 18504;
const DATA_ROOT = "/opt/menagerie-data";
/** The app's own settings and generated secret, besides what the cloud gives every app. */
const APP_ENV = { PEREGRINE_TIER: "cloud" };
const APP_SECRETS = ["SESSION_SECRET"];
/** What the real Peregrine reads in cloud mode: the cloud's variables (the seed) and the entry's own. */
const CLOUD_NEEDS = [...MANAGED_ENV, ...Object.keys(APP_ENV), ...APP_SECRETS].sort();
const DEMO_NEEDS = ["DEMO_MODE", "PEREGRINE_TIER"];

/** The stand-in's start: every variable named in /needs set and not empty, else exit 1 naming it; then serve /peregrine/. */
const START = `#!/bin/sh
for v in $(cat /needs); do
  eval "val=\\\${$v:-}"
  [ -n "$val" ] || { echo "peregrine stand-in: $v is not set" >&2; exit 1; }
done
mkdir -p /www/peregrine && echo ok > /www/peregrine/index.html
echo "peregrine stand-in: started with $(wc -w < /needs) variables"
exec httpd -f -p 8501 -h /www
`;

/** A compose file of the app's repository: built from the checkout, each variable passed as the real file does. */
function composeFile(port: number, needs: readonly string[], needsFile: string): string {
  return [
    "services:",
    "  app:",
    "    build:",
    "      context: .",
    "      args:",
    `        NEEDS: ${needsFile}`,
    "    ports:",
    `      - "${port}:8501"`,
    "    environment:",
    ...needs.map((n) => `      ${n}: \${${n}}`),
    ...(needs.includes("CLOUD_DATA_ROOT") ? ["    volumes:", "      - ${CLOUD_DATA_ROOT}:${CLOUD_DATA_ROOT}"] : []),
    "",
  ].join("\n");
}

describe("Peregrine cloud and demo, deployed as the menagerie stack deploys them, see every variable it provides", () => {
  let fleet: Fleet;
  let base: string;
  let repo: TestRepository;
  let commit: string;
  let url: string;
  let cloudBuilt: Built<unknown>;
  let demoBuilt: Built<unknown>;

  beforeAll(async () => {
    const puck = await dockerPuck({ [BASE]: { files: { "/www/index.html": "base\n" }, cmd: httpd(8080) } });
    fleet = puck.fleet;
    base = puck.digests[BASE]!;
    await pullOnPuck(fleet, BASE, base);
    const h = fleet.hosts.puck;
    const root = (p: string) => join(h.rootDir, p);
    mkdirSync(root("/srv/fleet-git"), { recursive: true });
    repo = testRepository(root("/srv/fleet-git"), "peregrine");
    const from = `${BASE.replace(/:1$/, "")}@${base}`;
    commit = repo.commit(
      "main",
      {
        Dockerfile: `FROM ${from}\nARG NEEDS\nCOPY start.sh /start.sh\nCOPY $NEEDS /needs\nENTRYPOINT ["/bin/sh", "/start.sh"]\n`,
        "start.sh": START,
        "cloud.needs": `${CLOUD_NEEDS.join("\n")}\n`,
        "demo.needs": `${DEMO_NEEDS.join("\n")}\n`,
        "compose.cloud.yml": composeFile(CLOUD_PORT, CLOUD_NEEDS, "cloud.needs"),
        "compose.demo.yml": composeFile(DEMO_PORT, DEMO_NEEDS, "demo.needs"),
      },
      "peregrine stand-in",
    );
    // puck's root clones over SSH from puck itself, as from the app's git server.
    mkdirSync(root("/root/.ssh"), { recursive: true, mode: 0o700 });
    copyFileSync(h.identityFile, root("/root/.ssh/id_ed25519"));
    chmodSync(root("/root/.ssh/id_ed25519"), 0o600);
    copyFileSync(h.knownHostsFile, root("/root/.ssh/known_hosts"));
    url = `root@${h.fqdn}:/srv/fleet-git/peregrine.git`;
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  /** The stack's args for an app, without the Caddy route and the check through Caddy. */
  const withoutCaddy = (args: AppDeploymentArgs): AppDeploymentArgs => {
    const { route: _route, checks, ...rest } = args;
    return { ...rest, checks: { health: checks!.health! } };
  };

  const entry = () => menagerieAppEntrySchema.parse({ slug: "peregrine", repo: { url, ref: "main" }, port: CLOUD_PORT, env: APP_ENV, secrets: APP_SECRETS, health: { viaCaddy: false } });
  const resolved = () => ({ url, ref: "main", commit, files: { "compose.cloud.yml": composeFile(CLOUD_PORT, CLOUD_NEEDS, "cloud.needs"), "compose.demo.yml": composeFile(DEMO_PORT, DEMO_NEEDS, "demo.needs") } });

  const cloudProgram = () => {
    const puck = hostOf(fleetHosts(fleet), "puck");
    const site = { site: "menagerie", host: puck, layout: { configDir: "/opt/caddy" }, nodes: {} } as unknown as CaddySiteRef;
    const secret = (v: string) => pulumi.secret(v);
    const args = cloudAppArgs(entry(), {
      cloud: { domain: "menagerie.test", dataRoot: DATA_ROOT, data: { owner: "root", group: "root", mode: "0700" }, upstreamHost: "host.docker.internal", caddyCheck: { address: "127.0.0.1", port: 443 } },
      host: puck,
      site: { ...site, host: puck },
      secrets: { directusJwtSecret: secret("directus-jwt-for-tests"), cfServerSecret: secret("CfServerSecretForTests0123456789"), platformDbUrl: secret("postgresql://cf_platform:pw@host.docker.internal:5433/circuitforge_platform") },
      appSecrets: { SESSION_SECRET: secret("SessionSecretForTests0123456789a") },
      resolveDigest: (image) => registryDigest(image),
      resolved: resolved(),
    });
    return new AppDeployment("peregrine", withoutCaddy(args));
  };

  const demoProgram = () => {
    const puck = hostOf(fleetHosts(fleet), "puck");
    const d = menagerieSchema.shape.demo.parse({ port: DEMO_PORT, directory: "/opt/peregrine-demo", env: { PEREGRINE_TIER: "demo" } });
    const site = { site: "demo", host: puck, layout: { configDir: "/opt/caddy" }, nodes: {} } as unknown as CaddySiteRef;
    const args = demoAppArgs({ demo: d, app: entry(), host: puck, site: { ...site, host: puck }, upstreamHost: "host.docker.internal", caddyCheck: { address: "127.0.0.1", port: 443 }, formerParent: undefined, resolved: resolved() });
    return new AppDeployment(d.project, withoutCaddy(args));
  };

  /**
   * The compose file as the `-source` command prints it when it fetched it on the host:
   * under the mocks the program is built with, what the component reads from that output.
   */
  const fetched = (name: string) =>
    name === "peregrine-compose-source" ? Buffer.from(composeFile(CLOUD_PORT, CLOUD_NEEDS, "cloud.needs")).toString("base64") : name === "peregrine-demo-source" ? Buffer.from(composeFile(DEMO_PORT, DEMO_NEEDS, "demo.needs")).toString("base64") : undefined;
  const buildWithSource = <T>(program: () => T) => build(program, { commandStdout: (name) => fetched(name) });

  /** The variables set (not empty) in the running container of a project, and its .env's keys. */
  async function seen(project: string, envPath: string): Promise<{ process: string[]; envFile: string[] }> {
    const inContainer = await fleet.run("puck", `docker exec $(docker ps -q --filter label=com.docker.compose.project=${project}) env`);
    expect(inContainer.code, inContainer.stderr).toBe(0);
    const envFile = await fleet.run("puck", `cat ${envPath}`);
    expect(envFile.code, envFile.stderr).toBe(0);
    const names = (text: string, re: RegExp) => [...text.matchAll(re)].map((m) => m[1]!).sort();
    return { process: names(inContainer.stdout, /^([A-Z_][A-Z0-9_]*)=./gm), envFile: names(envFile.stdout, /^([A-Z_][A-Z0-9_]*)=/gm) };
  }

  it("the cloud instance: built from the checkout at the commit, healthy, and its process sees every variable of the .env", async () => {
    cloudBuilt = await buildWithSource(cloudProgram);
    const applied = await applyDiff(fleet, undefined, cloudBuilt, 300_000);
    // The stack's own steps, in the stack's order (adopting finds nothing foreign here).
    expect(applied.ran).toEqual(expect.arrayContaining(["peregrine-checkout-command", "peregrine-compose-env", "peregrine-compose-adopt", "peregrine-compose-up", "peregrine-health-check"]));
    expect(applied.results["peregrine-health-check"]?.code).toBe(0);
    const { process, envFile } = await seen("peregrine-cloud", "/opt/peregrine-cloud/.env");
    // The stack provides exactly what the app needs, and the running process has each one.
    expect(envFile).toEqual(CLOUD_NEEDS);
    expect(CLOUD_NEEDS.filter((n) => !process.includes(n))).toEqual([]);
  });

  it("the demo: healthy, and its process sees DEMO_MODE and its settings", async () => {
    demoBuilt = await buildWithSource(demoProgram);
    const applied = await applyDiff(fleet, undefined, demoBuilt, 300_000);
    expect(applied.results["peregrine-demo-health-check"]?.code).toBe(0);
    const { process, envFile } = await seen("peregrine-demo", "/opt/peregrine-demo/.env");
    expect(envFile).toEqual([...DEMO_NEEDS].sort());
    expect(DEMO_NEEDS.filter((n) => !process.includes(n))).toEqual([]);
  });

  it("not vacuous: the built image refuses to start with one variable empty, naming it", async () => {
    const image = (await fleet.run("puck", "docker inspect --format '{{.Config.Image}}' $(docker ps -q --filter label=com.docker.compose.project=peregrine-cloud)")).stdout.trim();
    const r = await fleet.run("puck", `docker run --rm --env-file /opt/peregrine-cloud/.env -e CF_SERVER_SECRET= ${image}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("peregrine stand-in: CF_SERVER_SECRET is not set");
  });

  it("an unchanged program changes nothing; delete takes both down", async () => {
    expect(changedCommands(cloudBuilt, await buildWithSource(cloudProgram))).toEqual([]);
    await destroyAll(fleet, demoBuilt);
    await destroyAll(fleet, cloudBuilt);
    const r = await fleet.run("puck", "docker ps -aq --filter label=com.docker.compose.project=peregrine-cloud --filter label=com.docker.compose.project=peregrine-demo | wc -l");
    expect(r.stdout.trim()).toBe("0");
  });
});
