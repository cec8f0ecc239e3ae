/**
 * The first deploy against a host that already runs the app by hand (issue 13 item 9):
 * a container, a volume and a network made with `docker run` / `docker volume create` /
 * `docker network create` under the names the compose file uses. Without `adopt` compose
 * fails on the container name; with it (ComposeStack's `adopt`, the `-adopt` task before
 * `up`) the old container is backed up (inspect + a tar of its volume, taken stopped),
 * removed, and the project comes up under the same name on the same volume, with the
 * data that was there; a second run changes nothing. Real dockerd and compose v2 on puck.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposeStack } from "../../src/components/compose";
import { type Fleet, REGISTRY } from "../e2e/harness";
import { build, type Built } from "../e2e/program";
import { adoptBody } from "../../src/components/compose/scripts";
import { applyDiff, changedCommands, DeployError, destroyAll } from "./deploy";
import { composeOnPuck, dockerPuck } from "./puck";
import { standIn } from "./shop";

const IMAGE = `${REGISTRY}/fleet/legacy:stable`;
const PROJECT = "legacy";
const DIR = "/opt/legacy";
const CONTAINER = "legacy-web";
const VOLUME = "legacy_data";
const NETWORK = "legacy_net";
// Under /opt, which each test host has its own of (the harness bind-mounts it).
const BACKUPS = "/opt/legacy-backups";
const ADOPT = { containers: [CONTAINER], networks: [NETWORK], backupDir: BACKUPS };

const COMPOSE = `services:
  web:
    image: ${IMAGE}
    container_name: ${CONTAINER}
    environment:
      GREETING: \${GREETING}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]
      interval: 1s
      timeout: 2s
      retries: 3
    volumes: ["${VOLUME}:/data"]
    networks: [${NETWORK}]
volumes:
  ${VOLUME}:
    name: ${VOLUME}
networks:
  ${NETWORK}:
    name: ${NETWORK}
`;

describe("adopting a hand-made deployment on the first up", () => {
  let fleet: Fleet;
  let failed: Built<ComposeStack>;
  let adopted: Built<ComposeStack>;

  beforeAll(async () => {
    ({ fleet } = await dockerPuck({ [IMAGE]: standIn("legacy-v1", "GREETING") }));
    // What an operator made by hand, with data in its volume.
    const made = await fleet.run(
      "puck",
      [
        `docker network create ${NETWORK} >/dev/null`,
        `docker volume create ${VOLUME} >/dev/null`,
        `docker run -d --name ${CONTAINER} --network ${NETWORK} -v ${VOLUME}:/data -e GREETING=by-hand ${IMAGE} >/dev/null`,
        `docker exec ${CONTAINER} sh -c 'echo precious > /data/keep'`,
      ].join(" && "),
    );
    expect(made.code, made.stderr).toBe(0);
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  const program = (adopt: boolean) => () =>
    composeOnPuck(fleet, {
      project: PROJECT,
      directory: DIR,
      compose: { content: COMPOSE },
      env: { GREETING: "managed" },
      images: { web: { image: IMAGE } },
      ...(adopt ? { adopt: ADOPT } : {}),
    });

  it("without adopt, the first up fails on the hand-made network and leaves the hand-made container serving", async () => {
    failed = await build(program(false));
    const error = await applyDiff(fleet, undefined, failed).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).command.name).toBe(`${PROJECT}-up`);
    expect((error as DeployError).message).toContain(`network ${NETWORK} was found but has incorrect label com.docker.compose.network set to ""`);
    const still = await fleet.run("puck", `docker inspect --format '{{.State.Status}} {{index .Config.Labels "com.docker.compose.project"}}' ${CONTAINER}`);
    expect(still.stdout.trim()).toBe("running");
  });

  it("with adopt: backed up, then adopted, and the project serves the data that was there", async () => {
    adopted = await build(program(true));
    // The engine's next up: the new -adopt task, and the -up whose create failed.
    const before = { ...failed, commands: failed.commands.filter((c) => c.name !== `${PROJECT}-up`) };
    const applied = await applyDiff(fleet, before, adopted);
    expect(applied.ran).toEqual([`${PROJECT}-adopt`, `${PROJECT}-up`]);
    expect(applied.results[`${PROJECT}-adopt`]!.stderr).toContain(`fleet: container ${CONTAINER} runs outside project ${PROJECT} (project 'none'): backing it up into ${BACKUPS}/${CONTAINER}-`);

    const now = await fleet.run(
      "puck",
      `docker inspect --format '{{.State.Status}} {{.State.Health.Status}} {{index .Config.Labels "com.docker.compose.project"}}' ${CONTAINER} && ` +
        `docker exec ${CONTAINER} cat /data/keep /www/env && ` +
        `docker network inspect --format '{{index .Labels "com.docker.compose.project"}}' ${NETWORK}`,
    );
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toBe(`running healthy ${PROJECT}\nprecious\nmanaged\n${PROJECT}\n`);

    // The backup: the old container's inspect and its volume as it was, taken stopped.
    const backup = await fleet.run("puck", `cd ${BACKUPS} && ls && cd "$(ls -d ${CONTAINER}-*)" && ls && tar -xzOf volume-${VOLUME}.tar.gz ./keep && grep -c '"GREETING=by-hand"' container.json`);
    expect(backup.code, backup.stderr).toBe(0);
    const [dir, ...rest] = backup.stdout.trim().split("\n");
    expect(dir).toMatch(new RegExp(`^${CONTAINER}-\\d{8}T\\d{6}Z$`));
    expect(rest).toEqual(["container.json", `volume-${VOLUME}.tar.gz`, "volumes.txt", "precious", "1"]);
  });

  it("an unchanged program changes nothing, and adoption finds nothing more to do", async () => {
    const again = await build(program(true));
    expect(changedCommands(adopted, again)).toEqual([]);
    const rerun = await fleet.run("puck", adoptBody(PROJECT, ADOPT));
    expect({ code: rerun.code, stdout: rerun.stdout, stderr: rerun.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
    const count = await fleet.run("puck", `ls ${BACKUPS} | wc -l`);
    expect(count.stdout.trim()).toBe("1");
  });

  it("a network still used by another hand-made container is refused by name", async () => {
    const other = await fleet.run(
      "puck",
      `docker network create other_net >/dev/null && docker run -d --name other-app --network other_net ${IMAGE} >/dev/null && ` +
        adoptBody("other", { containers: ["nothing-here"], networks: ["other_net"], backupDir: BACKUPS }),
    );
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('fleet: network other_net was made outside project other and containers still use it: other-app ; adopt them too, or declare the network external');
  });

  it("delete takes the project down and keeps the adopted volume", async () => {
    await destroyAll(fleet, adopted);
    const r = await fleet.run("puck", `docker ps -aq --filter label=com.docker.compose.project=${PROJECT} | wc -l; docker volume ls -q --filter name=^${VOLUME}$`);
    expect(r.stdout).toBe(`0\n${VOLUME}\n`);
  });
});
