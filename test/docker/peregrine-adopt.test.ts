/**
 * Issue 13 item 9 for Peregrine (stack menagerie), on a real Docker engine: the first
 * `up` against a host that already runs the app by hand backs it up, adopts it and
 * converges. The hand-made deployment is an older release started with a hand-written
 * compose file (`docker compose -p peregrine -f /opt/peregrine-hand/compose.yml up -d`,
 * as the seed's runbook does with its own project name): container `peregrine-app-1`,
 * data in the named volume `peregrine_data`. The stack's config names that project
 * (`apps[].project: peregrine`, so compose reuses the volume) and a backup directory; the
 * app is then deployed the way the stack deploys it (`cloudAppArgs`: checkout at the commit
 * resolved at preview, the compose file read at it, built on the host, the adopt step,
 * the health check), without the Caddy route. The container carries the project's own
 * name, so only the project never having come up under the stack (no `.fleet/last-good.yaml`)
 * tells it was made by hand.
 */
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppDeployment, type AppDeploymentArgs } from "../../src/components/app";
import { builtImage } from "../../src/components/compose/build";
import { type CaddySiteRef } from "../../src/components/caddy";
import { sh } from "../../src/remote/quote";
import { type Fleet, REGISTRY } from "../e2e/harness";
import { build, type Built, fleetHosts, hostOf } from "../e2e/program";
import { testRepository } from "../helpers/git";
import { cloudAppArgs, menagerieAppEntrySchema } from "../../stacks/menagerie/apps";
import { applyDiff, changedCommands, destroyAll } from "./deploy";
import { httpd, registryDigest } from "./images";
import { dockerPuck, pullOnPuck } from "./puck";

const BASE = `${REGISTRY}/fleet/peregrine-base:1`;
const PORT = 18506;
const PROJECT = "peregrine";
const DIRECTORY = "/opt/peregrine-cloud";
const HAND = "/opt/peregrine-hand";
const CONTAINER = "peregrine-app-1";
const VOLUME = "peregrine_data";
// Under /opt, which each test host has its own of (the harness bind-mounts it).
const BACKUPS = "/opt/peregrine-backups";

/** The release in the repository: serves /peregrine/ and the volume under /peregrine/data/. */
const START = `#!/bin/sh
mkdir -p /www/peregrine && echo "release $(cat /release)" > /www/peregrine/index.html
exec httpd -f -p 8501 -h /www
`;

/** compose.cloud.yml of the app's repository: built from the checkout, its data in a named volume. */
const COMPOSE = `services:
  app:
    build: .
    ports:
      - "${PORT}:8501"
    environment:
      CLOUD_MODE: \${CLOUD_MODE}
    volumes:
      - data:/www/peregrine/data
volumes:
  data: {}
`;

describe("Peregrine made by hand under project peregrine: the stack's first up backs it up, adopts it and converges", () => {
  let fleet: Fleet;
  let base: string;
  let commit: string;
  let url: string;
  let handId: string;
  let built: Built<unknown>;

  beforeAll(async () => {
    const puck = await dockerPuck({ [BASE]: { files: { "/www/index.html": "base\n" }, cmd: httpd(8080) } });
    fleet = puck.fleet;
    base = puck.digests[BASE]!;
    await pullOnPuck(fleet, BASE, base);
    const pinnedBase = `${BASE.replace(/:1$/, "")}@${base}`;
    const h = fleet.hosts.puck;
    const root = (p: string) => join(h.rootDir, p);
    mkdirSync(root("/srv/fleet-git"), { recursive: true });
    const repo = testRepository(root("/srv/fleet-git"), "peregrine");
    commit = repo.commit("main", { Dockerfile: `FROM ${pinnedBase}\nCOPY start.sh /start.sh\nCOPY release /release\nENTRYPOINT ["/bin/sh", "/start.sh"]\n`, "start.sh": START, release: "v2\n", "compose.cloud.yml": COMPOSE }, "peregrine v2");
    // puck's root clones over SSH from puck itself, as from the app's git server.
    mkdirSync(root("/root/.ssh"), { recursive: true, mode: 0o700 });
    copyFileSync(h.identityFile, root("/root/.ssh/id_ed25519"));
    chmodSync(root("/root/.ssh/id_ed25519"), 0o600);
    copyFileSync(h.knownHostsFile, root("/root/.ssh/known_hosts"));
    url = `root@${h.fqdn}:/srv/fleet-git/peregrine.git`;

    // What an operator made by hand: an older release from a hand-written compose file,
    // under project peregrine, with user data in its volume.
    const hand = `services:\n  app:\n    image: ${pinnedBase}\n    ports: ["${PORT}:8080"]\n    volumes: ["data:/www/peregrine/data"]\nvolumes:\n  data: {}\n`;
    const made = await fleet.run(
      "puck",
      [
        `mkdir -p ${HAND}`,
        `printf '%s' ${sh(hand)} > ${HAND}/compose.yml`,
        `docker compose -p ${PROJECT} -f ${HAND}/compose.yml up -d --quiet-pull`,
        `docker exec ${CONTAINER} sh -c 'echo precious > /www/peregrine/data/keep'`,
        `docker inspect --format '{{.Id}}' ${CONTAINER}`,
      ].join(" && "),
      undefined,
      120_000,
    );
    expect(made.code, made.stderr).toBe(0);
    handId = made.stdout.trim();
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/peregrine/data/keep`)).body).toBe("precious\n");
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  const program = () => {
    const puck = hostOf(fleetHosts(fleet), "puck");
    const site = { site: "menagerie", host: puck, layout: { configDir: "/opt/caddy" }, nodes: {} } as unknown as CaddySiteRef;
    const secret = (v: string) => pulumi.secret(v);
    const entry = menagerieAppEntrySchema.parse({ slug: "peregrine", project: PROJECT, repo: { url, ref: "main" }, port: PORT, adopt: { backupDir: BACKUPS }, health: { viaCaddy: false } });
    const args = cloudAppArgs(entry, {
      cloud: { domain: "menagerie.test", dataRoot: "/opt/menagerie-data", data: { owner: "root", group: "root", mode: "0700" }, upstreamHost: "host.docker.internal", caddyCheck: { address: "127.0.0.1", port: 443 } },
      host: puck,
      site,
      secrets: { directusJwtSecret: secret("directus-jwt-for-tests"), cfServerSecret: secret("CfServerSecretForTests0123456789"), platformDbUrl: secret("postgresql://cf_platform:pw@host.docker.internal:5433/circuitforge_platform") },
      resolveDigest: (image) => registryDigest(image),
      // The repository read at preview: the commit and the compose file at it.
      resolved: { url, ref: "main", commit, files: { "compose.cloud.yml": COMPOSE } },
    });
    const { route: _route, checks, ...rest }: AppDeploymentArgs = args;
    return new AppDeployment("peregrine", { ...rest, checks: { health: checks!.health! } });
  };
  /** Under mocks, the compose file the `-source` command prints when it fetched it on the host. */
  const buildProgram = () => build(program, { commandStdout: (name) => (name === "peregrine-compose-source" ? Buffer.from(COMPOSE).toString("base64") : undefined) });

  it("backs the hand-made container up, replaces it with the project's own built at the commit, and serves the data that was there", async () => {
    built = await buildProgram();
    const applied = await applyDiff(fleet, undefined, built, 300_000);
    expect(applied.ran).toEqual(expect.arrayContaining(["peregrine-compose-adopt", "peregrine-compose-up", "peregrine-health-check"]));
    expect(applied.ran.indexOf("peregrine-compose-adopt")).toBeLessThan(applied.ran.indexOf("peregrine-compose-up"));
    expect(applied.results["peregrine-compose-adopt"]!.stderr).toContain(
      `fleet: container ${CONTAINER} is in project ${PROJECT}, which this stack has never brought up here (no ${DIRECTORY}/.fleet/last-good.yaml): backing it up into ${BACKUPS}/${CONTAINER}-`,
    );

    // The old container is gone; the project's own runs the image built at the commit, from the stack's files.
    const now = await fleet.run(
      "puck",
      `docker ps -aq --filter label=com.docker.compose.project=${PROJECT} | wc -l && ` +
        `docker inspect --format '{{.Id}} {{.Config.Image}} {{.State.Status}} {{index .Config.Labels "com.docker.compose.project.config_files"}}' ${CONTAINER}`,
    );
    expect(now.code, now.stderr).toBe(0);
    const [count, state] = now.stdout.trim().split("\n");
    expect(count).toBe("1");
    const [id, image, status, files] = state!.split(" ");
    expect(id).not.toBe(handId);
    expect({ image, status, files }).toEqual({ image: builtImage(PROJECT, "app", commit.slice(0, 12)), status: "running", files: `${DIRECTORY}/compose.cloud.yml` });
    expect((await fleet.run("puck", `docker inspect ${sh(handId)} >/dev/null 2>&1 || echo gone`)).stdout.trim()).toBe("gone");

    // The new release serves, on the volume the hand-made one filled.
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/peregrine/`)).body).toBe("release v2\n");
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/peregrine/data/keep`)).body).toBe("precious\n");

    // The backup: the old container's inspect and its volume as it was, taken stopped.
    const backup = await fleet.run("puck", `cd ${BACKUPS} && ls && cd "$(ls -d ${CONTAINER}-*)" && ls && tar -xzOf volume-${VOLUME}.tar.gz ./keep && grep -c ${sh(`"Id": "${handId}"`)} container.json`);
    expect(backup.code, backup.stderr).toBe(0);
    const [dir, ...rest] = backup.stdout.trim().split("\n");
    expect(dir).toMatch(new RegExp(`^${CONTAINER}-\\d{8}T\\d{6}Z$`));
    expect(rest).toEqual(["container.json", `volume-${VOLUME}.tar.gz`, "volumes.txt", "precious", "1"]);
  });

  it("a second deploy is a no-op: nothing changes, and the adopt step, run again, finds nothing to adopt", async () => {
    const again = await buildProgram();
    expect(changedCommands(built, again)).toEqual([]);
    const adopt = built.commands.find((c) => c.name === "peregrine-compose-adopt")!;
    const rerun = await fleet.run("puck", adopt.create, adopt.stdin);
    expect({ code: rerun.code, stdout: rerun.stdout, stderr: rerun.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await fleet.run("puck", `ls ${BACKUPS} | wc -l`)).stdout.trim()).toBe("1");
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/peregrine/data/keep`)).body).toBe("precious\n");
  });

  it("delete takes the project down and keeps the adopted volume", async () => {
    await destroyAll(fleet, built);
    const r = await fleet.run("puck", `docker ps -aq --filter label=com.docker.compose.project=${PROJECT} | wc -l; docker volume ls -q --filter name=^${VOLUME}$`);
    expect(r.stdout).toBe(`0\n${VOLUME}\n`);
  });
});
