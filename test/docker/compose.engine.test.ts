/**
 * ComposeStack through the real engine (issue 12 with issue 10's engine): the Pulumi CLI
 * v3.259 and the real command plugin (test/engine/engine.ts, Automation API) deploy a
 * compose project onto puck, where dockerd 20.10 and compose v2.40.3 run and images come
 * by digest from puck's registry. Every claim is checked on puck itself (containers,
 * start times, dockerd's pull events) and in sshd's log of the sessions the engine opened.
 */
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComposeStack } from "../../src/components/compose";
import { type Fleet, REGISTRY, startHosts } from "../e2e/harness";
import { isHelperInstaller } from "../helpers/inputs";
import { fleetHosts, hostOf } from "../e2e/program";
import { sessions, since } from "../engine/audit";
import { type EngineStack, engineStack, type Outcome } from "../engine/engine";
import { pushImage, registryDigest } from "./images";
import { API, API_PORT, COMPOSE, DIR, PROJECT, standIn, WEB, WEB_PORT } from "./shop";

const TOKEN = "api-T0ken-never-in-state";

interface Knobs {
  readonly greeting: string;
  /** Another compose file (the missing-variable case). */
  readonly compose?: string;
}

interface Container {
  readonly id: string;
  readonly started: string;
  readonly image: string;
  readonly health: string;
}

function ops(o: Outcome): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  // Not the per-host helper installer every managed file shares (src/remote): the stack's own commands.
  for (const s of o.steps) if (s.type === "command:remote:Command" && !isHelperInstaller(s.name)) (out[s.op] ??= []).push(s.name);
  for (const v of Object.values(out)) v.sort();
  return out;
}

describe("ComposeStack through the real Pulumi engine on dockerd + compose v2", () => {
  let fleet: Fleet;
  let engine: EngineStack;
  let signingKey = "";
  const digests: Record<string, string[]> = { web: [], api: [] };

  const program =
    (k: Knobs) =>
    (): Promise<Record<string, unknown>> => {
      const puck = hostOf(fleetHosts(fleet), "puck");
      const stack = new ComposeStack(PROJECT, {
        host: puck,
        project: PROJECT,
        directory: DIR,
        compose: { content: k.compose ?? COMPOSE },
        env: { GREETING: k.greeting, API_TOKEN: pulumi.secret(TOKEN) },
        images: { web: { image: WEB }, api: { image: API } },
        resolveDigest: (image) => registryDigest(image),
        wait: { timeoutSeconds: 60 },
        tasks: [
          { name: "migrate", run: ["exec", "-T", "api", "sh", "-c", "echo migrate >> /data/tasks.log"] },
          {
            name: "signing-key",
            once: true,
            captureStdout: true,
            run: ["exec", "-T", "api", "sh", "-c", "echo signing-key >> /data/tasks.log; cat /proc/sys/kernel/random/uuid"],
          },
        ],
      });
      return Promise.resolve({ images: stack.images, signingKey: stack.taskOutputs["signing-key"] });
    };

  async function containers(): Promise<Record<string, Container>> {
    const r = await fleet.exec("puck", [
      "/bin/sh",
      "-c",
      `docker ps -a -q --filter label=com.docker.compose.project=${PROJECT} | xargs -r docker inspect --format ` +
        `'{{index .Config.Labels "com.docker.compose.service"}} {{.Id}} {{.State.StartedAt}} {{.Config.Image}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out: Record<string, Container> = {};
    for (const line of r.stdout.trim().split("\n").filter(Boolean)) {
      const [service, id, started, image, health] = line.split(" ");
      out[service!] = { id: id!, started: started!, image: image!, health: health! };
    }
    return out;
  }

  // Probes enter puck with nsenter (Fleet.exec), never SSH: sshd's sessions are the engine's.
  const sh = async (script: string): Promise<string> => {
    const r = await fleet.exec("puck", ["/bin/sh", "-c", script]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const now = async () => (await sh("date +%s")).trim();
  const pullsSince = async (t: string) =>
    (await sh(`docker events --since ${t} --until $(date +%s) --filter type=image --filter event=pull --format '{{.Actor.ID}}'`)).trim().split("\n").filter(Boolean).sort();
  const tasksLog = () => sh(`docker exec ${PROJECT}-api-1 cat /data/tasks.log`);
  const get = (port: number, path: string) => fleet.curl("puck", `http://127.0.0.1:${port}${path}`);
  const pinned = (repo: "web" | "api", i: number) => `${REGISTRY}/fleet/${repo}@${digests[repo]![i]}`;

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck"], docker: true });
    digests.web!.push(await pushImage(fleet, WEB, standIn("web-v1", "GREETING")));
    digests.api!.push(await pushImage(fleet, API, standIn("api-v1", "API_TOKEN")));
    engine = await engineStack("fleet-compose", program({ greeting: "hello-1" }));
  });
  afterAll(async () => {
    engine?.dispose();
    await fleet?.teardown();
  });

  it("preview plans the project and runs nothing on puck", async () => {
    const s0 = sessions(fleet);
    const p = await engine.preview(program({ greeting: "hello-1" }));
    expect(since(fleet, s0)).toEqual({});
    expect(ops(p)).toEqual({ create: ["shop-compose", "shop-directory", "shop-env", "shop-task-migrate", "shop-task-signing-key", "shop-up"] });
    expect(await containers()).toEqual({});
  });

  it("up: .env 0600, the compose file pinned by digest, pulled, healthy; tasks once in order; the captured output stays secret", async () => {
    const t = await now();
    const up = await engine.up(program({ greeting: "hello-1" }));
    expect(ops(up).create).toHaveLength(6);
    expect(await sh(`stat -c '%a %U' ${DIR}/.env && grep -c '@sha256:' ${DIR}/docker-compose.yaml`)).toBe("600 root\n2\n");
    expect(await pullsSince(t)).toEqual([pinned("api", 0), pinned("web", 0)].sort());
    const c = await containers();
    expect([c.web?.health, c.api?.health]).toEqual(["healthy", "healthy"]);
    expect((await get(WEB_PORT, "/env")).body).toBe("hello-1\n");
    expect(await tasksLog()).toBe("migrate\nsigning-key\n");
    const outputs = await engine.stack.outputs();
    expect(outputs.signingKey?.secret).toBe(true);
    signingKey = String(outputs.signingKey?.value ?? "");
    expect(signingKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(outputs.images?.value).toEqual({ web: pinned("web", 0), api: pinned("api", 0) });
    const exported = await engine.exported();
    expect(exported).not.toContain(signingKey);
    expect(exported).not.toContain(TOKEN);
    expect(engine.onDisk()).not.toContain(signingKey);
    expect(up.log).not.toContain(TOKEN);
  });

  it("re-run: preview and up change nothing, open no SSH session, recreate nothing, pull nothing, re-run no task", async () => {
    const before = await containers();
    const t = await now();
    const s0 = sessions(fleet);
    const p = await engine.preview(program({ greeting: "hello-1" }));
    const up = await engine.up(program({ greeting: "hello-1" }));
    expect(Object.keys(ops(p))).toEqual(["same"]);
    expect(Object.keys(ops(up))).toEqual(["same"]);
    expect(since(fleet, s0)).toEqual({});
    expect(await containers()).toEqual(before);
    expect(await pullsSince(t)).toEqual([]);
    expect(await tasksLog()).toBe("migrate\nsigning-key\n");
  });

  it("a change of one service's env updates .env and up, re-runs the deploy task, and recreates only that service", async () => {
    const before = await containers();
    const up = await engine.up(program({ greeting: "hello-2" }));
    // up is updated, never replaced: a replaced up's delete would run `down` after the new up.
    expect(ops(up).update).toEqual(["shop-env", "shop-up"]);
    expect(ops(up).replace).toEqual(["shop-task-migrate"]); // a task without delete: replacing it is running it
    const after = await containers();
    expect(after.web!.id).not.toBe(before.web!.id);
    expect(after.api).toEqual(before.api);
    expect((await get(WEB_PORT, "/env")).body).toBe("hello-2\n");
    expect(await tasksLog()).toBe("migrate\nsigning-key\nmigrate\n");
    expect(String((await engine.stack.outputs()).signingKey?.value)).toBe(signingKey);
  });

  it("a new image under the same tag: preview shows the new digest; up pulls it and recreates only its service", async () => {
    digests.api!.push(await pushImage(fleet, API, standIn("api-v2", "API_TOKEN")));
    const before = await containers();
    const t = await now();
    const p = await engine.preview(program({ greeting: "hello-2" }));
    expect(ops(p).update).toEqual(["shop-compose", "shop-up"]);
    expect(p.log).toContain(digests.api![1]);
    const up = await engine.up(program({ greeting: "hello-2" }));
    expect(ops(up).update).toEqual(["shop-compose", "shop-up"]);
    expect(ops(up).replace).toEqual(["shop-task-migrate"]);
    expect(await pullsSince(t)).toEqual([pinned("api", 1)]);
    const after = await containers();
    expect(after.web).toEqual(before.web);
    expect(after.api!.image).toBe(pinned("api", 1));
    expect((await get(API_PORT, "/version")).body).toBe("api-v2\n");
  });

  it("a new version failing its health check fails up naming the service with its log lines; the previous digest serves", async () => {
    digests.api!.push(await pushImage(fleet, API, standIn("api-v3", "API_TOKEN", false)));
    const before = await containers();
    const r = await engine.upFailing(program({ greeting: "hello-2" }));
    expect(r.log).toContain(`fleet: service api of project ${PROJECT} did not come up; its last 20 log lines:`);
    expect(r.log).toContain("api-v3 starting: this build lost its health endpoint");
    expect(r.log).toContain(`fleet: project ${PROJECT}: rolled back; the previous version serves`);
    const after = await containers();
    expect(after.api!.image).toBe(pinned("api", 1));
    expect(after.api!.health).toBe("healthy");
    expect(after.web).toEqual(before.web);
    expect((await get(API_PORT, "/version")).body).toBe("api-v2\n");
    // The task after the failed up did not run.
    expect(await tasksLog()).toBe("migrate\nsigning-key\nmigrate\nmigrate\n");
  });

  it("a compose file needing a variable the stack does not provide fails at preview naming it, and runs nothing", async () => {
    const s0 = sessions(fleet);
    const compose = COMPOSE.replace("GREETING: ${GREETING}", "GREETING: ${GREETING}\n      SMTP_URL: ${SMTP_URL}");
    let error = "";
    try {
      await engine.preview(program({ greeting: "hello-2", compose }));
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    expect(error).toContain('ComposeStack "shop": env/SMTP_URL: is referenced without a default by service "web"');
    expect(since(fleet, s0)).toEqual({});
  });

  it("destroy: down for the project; the volume is kept", async () => {
    const d = await engine.destroy(program({ greeting: "hello-2" }));
    expect(ops(d).delete).toEqual(["shop-compose", "shop-directory", "shop-env", "shop-task-migrate", "shop-task-signing-key", "shop-up"]);
    expect(await containers()).toEqual({});
    expect((await sh(`docker volume ls -q --filter label=com.docker.compose.project=${PROJECT}`)).trim()).toBe(`${PROJECT}_data`);
  });
});
