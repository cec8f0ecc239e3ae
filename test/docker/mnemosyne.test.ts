/**
 * Mnemosyne's compose project as the ouranos stack builds it (stacks/ouranos/mnemosyne.ts:
 * the same template, nginx config, `.env`, tasks and §5 probes), started for real on puck
 * with stand-in images under the stack's image names (./standins.ts) served by puck's
 * registry, behind the real nginx (Debian's binary in the `web` container). The stack's
 * HealthChecks run from prospero, as in the stack.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ouranosSchema } from "../../stacks/ouranos/config";
import { envFor } from "../../stacks/ouranos/mnemosyne-env";
import { mnemosyneApp as mnemosyneDeployment } from "../../stacks/ouranos/mnemosyne";
import { type Fleet, REGISTRY, startHosts } from "../e2e/harness";
import { build, type Built, fleetHosts, hostOf } from "../e2e/program";
import { applyDiff, changedCommands, destroyAll } from "./deploy";
import { pushImage, registryDigest } from "./images";
import { mnemosyneApp, realNginx } from "./standins";

const APP_IMAGE = `${REGISTRY}/r/mnemosyne:latest`;
const WEB_IMAGE = `${REGISTRY}/nginx:alpine`;

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

  const program = () => {
    const hosts = fleetHosts(fleet);
    const cfg = ouranosSchema.parse({
      daedalus: { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" } },
      mnemosyne: { image: APP_IMAGE, webImage: WEB_IMAGE },
      // The test hosts' network stands for the sandbox's 10.10.0.0/24: prospero scrapes from it.
      metrics: { allow: ["10.231.0.0/24", "172.16.0.0/12", "127.0.0.0/8"] },
    });
    const parent = new pulumi.ComponentResource("fleet:test:Ouranos", "ouranos");
    const secret = (v: string) => pulumi.secret(v);
    // The app without its HAProxy route and scrape job (no Titania here): the compose
    // project and the probes from prospero.
    const app = mnemosyneDeployment(
      {
        cfg,
        puck: hostOf(hosts, "puck"),
        minioUrl: "https://nyx.helu.ca:8555",
        db: { name: "mnemosyne", user: "mnemosyne", host: cfg.dns.postgres, port: 5432 },
        secrets: {
          secretKey: secret("django-secret-for-tests-0123456789abcdef"),
          llmEncryptionKey: secret("bGxtLWVuY3J5cHRpb24ta2V5LWZvci10ZXN0cy0wMTI="),
          dbPassword: secret("db-password-for-tests"),
          neo4jBoltUrl: secret("bolt://neo4j:pw@umbriel.incus:7687"),
          brokerUrl: secret("amqp://mnemosyne:pw@oberon.incus:5672/mnemosyne"),
          s3: { accessKey: secret("mnemosyne"), secretKey: secret("s3-secret-for-tests") },
          daedalusS3: { accessKey: secret("mnemosyne-daedalus-ro"), secretKey: secret("s3-ro-secret-for-tests") },
          servicePassword: secret("service-password-for-tests"),
        },
      },
      { probesFrom: hostOf(hosts, "prospero") },
      parent,
      { resolveDigest: (image) => registryDigest(image) },
    );
    return { stack: app.nodes.compose!, probes: app.nodes.checks };
  };

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
