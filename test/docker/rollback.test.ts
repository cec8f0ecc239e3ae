/**
 * Issue 13 item 2, on a real Docker engine: an app's new version whose containers
 * settle but whose health endpoint fails is rolled back by `up` itself, and the old
 * version serves again. The AppDeployment's check on the app's host gates its compose
 * project's `up` (src/components/app/deployment.ts, `gatesUp`): the containers of
 * version 2 run (no check inside the image, none assumed: no curl, no wget), the host
 * probes /health through the published port, gets 404, and `up` fails naming the check
 * and the host, brings version 1 back from the last good files, and never reaches the
 * checks and the route after it. Real dockerd and compose v2 on puck.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppDeployment } from "../../src/components/app";
import { type Fleet, REGISTRY, startHosts } from "../e2e/harness";
import { build, type Built, fleetHosts, hostOf } from "../e2e/program";
import { applyDiff, changedCommands, DeployError, destroyAll } from "./deploy";
import { pushImage, registryDigest, type StandIn } from "./images";

const IMAGE = `${REGISTRY}/fleet/shelf:stable`;
const PORT = 18091;

const COMPOSE = `services:
  app:
    image: ${IMAGE}
    ports: ["127.0.0.1:${PORT}:8080"]
`;

/** busybox httpd serving /version, and /health only when `healthy`; no HTTP client inside. */
function shelf(version: string, healthy: boolean): StandIn {
  return {
    files: { "/www/version": `${version}\n`, ...(healthy ? { "/www/health": "ok\n" } : {}) },
    cmd: ["/bin/sh", "-c", `echo "shelf ${version} starting"; exec httpd -f -v -p 8080 -h /www`],
    withoutApplets: ["wget"],
  };
}

describe("a new version that fails its health check is rolled back by up", () => {
  let fleet: Fleet;
  const digests: string[] = [];
  let good: Built<AppDeployment>;

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck"], docker: true });
    digests.push(await pushImage(fleet, IMAGE, shelf("v1", true)));
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  const program = () => () => {
    const puck = hostOf(fleetHosts(fleet), "puck");
    return new AppDeployment("shelf", {
      host: puck,
      compose: {
        project: "shelf",
        directory: "/opt/shelf",
        compose: { content: COMPOSE },
        images: { app: { image: IMAGE } },
        resolveDigest: (image) => registryDigest(image),
        wait: { timeoutSeconds: 60 },
      },
      checks: {
        health: { url: `http://127.0.0.1:${PORT}/health`, description: "shelf /health", attempts: 3, initialDelaySeconds: 1, rerunOn: ["images"] },
        // After the gate: never reached when the gate fails.
        version: { url: `http://127.0.0.1:${PORT}/version`, after: ["health"], rerunOn: ["images"] },
      },
    });
  };

  const serving = async () => (await fleet.curl("puck", `http://127.0.0.1:${PORT}/version`)).body;
  const running = async () => (await fleet.run("puck", "docker inspect --format '{{.Config.Image}} {{.State.Status}}' $(docker ps -aq --filter label=com.docker.compose.project=shelf)")).stdout.trim();

  it("version 1 deploys: the gate passes, the checks after it run", async () => {
    good = await build(program());
    const applied = await applyDiff(fleet, undefined, good);
    expect(applied.ran).toEqual(expect.arrayContaining(["shelf-compose-up", "shelf-health-check", "shelf-version-check"]));
    expect(applied.results["shelf-compose-up"]!.stdout).toContain("fleet: healthy: shelf /health (http://127.0.0.1:18091/health) answered 200");
    expect(await serving()).toBe("v1\n");
  });

  it("version 2 comes up but fails /health: up fails naming the check and the host, and version 1 serves again", async () => {
    digests.push(await pushImage(fleet, IMAGE, shelf("v2", false)));
    const next = await build(program());
    let failure: unknown;
    try {
      await applyDiff(fleet, good, next);
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(DeployError);
    const err = failure as DeployError;
    expect(err.command.name).toBe("shelf-compose-up");
    // Nothing after up ran: the checks (and a route, which waits for them) stay as they were.
    expect(err.ran).toEqual(["shelf-compose-compose", "shelf-compose-up"]);
    // On one screen: which check, what it got, on which host, and what was restored.
    const stderr = err.result.stderr;
    expect(stderr).toContain("fleet: health check failed for shelf /health (http://127.0.0.1:18091/health) after 3 attempt(s): expected status 200; got status 404");
    expect(stderr).toContain("fleet: check health failed on puck: project shelf came up, but the new version is not healthy");
    expect(stderr).toContain("fleet: project shelf: rolling back to the last deploy that came up (/opt/shelf/.fleet/last-good.yaml)");
    expect(stderr).toContain("fleet: project shelf: rolled back; the previous version serves");
    expect(stderr).not.toContain("did not come up");
    // One screen: the probe's failure, the check and host, compose's own lines, the rollback.
    expect(stderr.trim().split("\n").length, stderr).toBeLessThanOrEqual(40);
    // Probed: version 1 answers again, from the previous digest.
    expect(await serving()).toBe("v1\n");
    expect((await fleet.curl("puck", `http://127.0.0.1:${PORT}/health`)).status).toBe(200);
    expect(await running()).toBe(`${REGISTRY}/fleet/shelf@${digests[0]} running`);
    // The failed deploy is not recorded: the next up tries version 2 again.
    expect(changedCommands(good, next)).toContain("shelf-compose-up");
  });

  it("a fixed version 3 deploys over it", async () => {
    digests.push(await pushImage(fleet, IMAGE, shelf("v3", true)));
    const next = await build(program());
    await applyDiff(fleet, good, next);
    good = next;
    expect(await serving()).toBe("v3\n");
    expect(await running()).toBe(`${REGISTRY}/fleet/shelf@${digests[2]} running`);
  });

  it("deletes cleanly", async () => {
    await destroyAll(fleet, good);
    expect((await fleet.run("puck", "docker ps -aq --filter label=com.docker.compose.project=shelf")).stdout.trim()).toBe("");
  });
});
