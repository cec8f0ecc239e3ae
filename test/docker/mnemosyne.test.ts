/**
 * Mnemosyne's compose project as the ouranos stack builds it (stacks/ouranos/mnemosyne.ts:
 * the same template, nginx config, `.env`, tasks and §5 probes), started for real on puck
 * with stand-in images under the stack's image names (./standins.ts) served by puck's
 * registry, behind the real nginx (Debian's binary in the `web` container). The stack's
 * HealthChecks run from prospero, as in the stack.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envFor } from "../../stacks/ouranos/mnemosyne-env";
import { type Fleet, REGISTRY, startHosts } from "../e2e/harness";
import { build, type Built } from "../e2e/program";
import { applyDiff, changedCommands, destroyAll } from "./deploy";
import { pushImage, registryDigest } from "./images";
import { MNEMOSYNE_APP_IMAGE, MNEMOSYNE_WEB_IMAGE, mnemosyneProgram } from "./mnemosyne";
import { mnemosyneApp, realNginx } from "./standins";

const APP_IMAGE = MNEMOSYNE_APP_IMAGE;
const WEB_IMAGE = MNEMOSYNE_WEB_IMAGE;

describe("Mnemosyne's compose project on a real Docker engine", () => {
  let fleet: Fleet;
  let built: Built<unknown>;

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck", "prospero"], docker: true });
    // Each service refuses to start without a variable the seed's §4 tables give it.
    await pushImage(fleet, APP_IMAGE, mnemosyneApp("v1", { web: envFor("app"), mcp: envFor("mcp"), worker: envFor("worker") }));
    await pushImage(fleet, WEB_IMAGE, realNginx({ curl: false }));
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  // The app without its HAProxy route and scrape job (no Titania here): the compose
  // project and the probes from prospero.
  const program = () => mnemosyneProgram(fleet)();

  it("deploys: every service healthy behind nginx, the tasks run, and the stack's probes pass from prospero", async () => {
    built = await build(program);
    const applied = await applyDiff(fleet, undefined, built, 300_000);
    expect(applied.ran).toEqual(expect.arrayContaining(["mnemosyne-up", "mnemosyne-task-migrate", "mnemosyne-task-seed-signing-key", "mnemosyne-live-check", "mnemosyne-healthz-check"]));

    const ps = await fleet.run(
      "puck",
      "docker inspect --format '{{index .Config.Labels \"com.docker.compose.service\"}} {{.Config.Image}}' $(docker ps -aq --filter label=com.docker.compose.project=mnemosyne) | sort && " +
        "docker inspect --format '{{index .Config.Labels \"com.docker.compose.service\"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' $(docker ps -aq --filter label=com.docker.compose.project=mnemosyne) | sort",
    );
    expect(ps.code, ps.stderr).toBe(0);
    const states = ps.stdout.trim().split("\n").slice(5);
    // app, mcp and web have no check inside their images (none there: no curl, no wget);
    // the stack's checks probe them from prospero through web's published port.
    expect(states).toEqual(["app running none 0", "mcp running none 0", "static-init exited none 0", "web running none 0", "worker running healthy 0"]);
    // Exec form, as a compose healthcheck's CMD runs (busybox sh would find its own wget applet).
    const tools = await fleet.run("puck", "for s in app mcp web; do for t in curl wget; do docker compose -p mnemosyne exec -T $s $t --help >/dev/null 2>&1 && echo \"$s has $t\"; done; done; echo checked");
    expect(tools.stdout).toBe("checked\n");
    const appDigest = await registryDigest(APP_IMAGE);
    expect(ps.stdout).toContain(`app ${REGISTRY}/r/mnemosyne@${appDigest}`);
    expect(ps.stdout).toContain(`web ${REGISTRY}/nginx@${await registryDigest(WEB_IMAGE)}`);

    // On the networks and volumes the compose file declares.
    const net = await fleet.run("puck", "docker network ls --format '{{.Name}}' --filter label=com.docker.compose.project=mnemosyne; docker volume ls -q --filter label=com.docker.compose.project=mnemosyne");
    expect(net.stdout.trim().split("\n")).toEqual(["mnemosyne_mnemosyne", "mnemosyne_static"]);

    // nginx (the real one) serves the static volume static-init filled, and proxies by name.
    const css = await fleet.curl("prospero", "http://puck.incus:23181/static/mnemosyne.css");
    expect(css.status).toBe(200);
    expect(css.body).toBe("body { margin: 0 }\n");
    const healthz = await fleet.curl("prospero", "http://puck.incus:23181/healthz");
    expect(healthz.status).toBe(200);
    expect(healthz.body).toBe('{"status": "ok"}\n');

    // Each HealthCheck of the stack ran its probe and passed.
    for (const name of ["mnemosyne-live-check", "mnemosyne-ready-check", "mnemosyne-healthz-check", "mnemosyne-metrics-check"]) {
      expect(applied.results[name]?.code, name).toBe(0);
    }
    const key = applied.results["mnemosyne-task-seed-signing-key"]!.stdout.trim();
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("the running processes see every variable the stack provides (the stand-in refuses to start without one)", async () => {
    // Every .env key the stack writes is one some service needs, and every service ran
    // (healthy above) with all of its own: each refuses to start on an unset or empty one.
    const envText = await fleet.run("puck", "cat /opt/mnemosyne/.env");
    expect(envText.code, envText.stderr).toBe(0);
    const provided = [...envText.stdout.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!).sort();
    const needed = [...new Set([...envFor("app"), ...envFor("mcp"), ...envFor("worker")])].sort();
    expect(provided).toEqual(needed);
    // Inside the running containers, not only in compose's view of them.
    for (const [service, names] of [["app", envFor("app")], ["mcp", envFor("mcp")], ["worker", envFor("worker")]] as const) {
      const seen = await fleet.run("puck", `docker compose -p mnemosyne exec -T ${service} env`);
      expect(seen.code, seen.stderr).toBe(0);
      const set = new Set([...seen.stdout.matchAll(/^([A-Z_][A-Z0-9_]*)=./gm)].map((m) => m[1]!));
      expect({ service, missing: names.filter((n) => !set.has(n)) }).toEqual({ service, missing: [] });
    }
    // Not vacuous: the image refuses to start with one variable missing.
    const without = await fleet.run("puck", `docker run --rm -e SECRET_KEY= ${APP_IMAGE} web`);
    expect(without.code).toBe(1);
    expect(without.stderr).toContain("mnemosyne stand-in web: SECRET_KEY is not set");
  });

  it("an unchanged program changes nothing", async () => {
    const again = await build(program);
    expect(changedCommands(built, again)).toEqual([]);
  });

  it("delete takes the project down and keeps the static volume", async () => {
    await destroyAll(fleet, built);
    const r = await fleet.run("puck", "docker ps -aq --filter label=com.docker.compose.project=mnemosyne | wc -l; docker volume ls -q --filter label=com.docker.compose.project=mnemosyne");
    expect(r.stdout).toBe("0\nmnemosyne_static\n");
  });
});
