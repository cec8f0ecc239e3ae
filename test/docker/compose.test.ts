/**
 * ComposeStack on a real Docker engine (DESIGN.md, "Testing layers", item 8): the
 * component's own scripts (from the program built under mocks) run over real SSH on
 * puck, where dockerd 20.10 and compose v2.40.3 run, with images pulled by digest from
 * the registry on puck. Each step applies what changed between two builds of the
 * program, as the command provider would (./deploy.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ComposeStack } from "../../src/components/compose";
import { ConfigError } from "../../src/validation/errors";
import { type Fleet, REGISTRY } from "../e2e/harness";
import { isHelperInstaller } from "../helpers/inputs";
import { build, type Built, plain } from "../e2e/program";
import { applyDiff, changedCommands, DeployError, destroyAll } from "./deploy";
import { pushImage } from "./images";
import { composeOnPuck, dockerPuck } from "./puck";
import { API, API_PORT, COMPOSE, DIR, PROJECT, standIn, WEB, WEB_PORT } from "./shop";


interface Settings {
  readonly greeting: string;
  readonly compose?: string;
  readonly env?: Readonly<Record<string, string>>;
}

interface Container {
  readonly id: string;
  readonly started: string;
  readonly image: string;
  readonly health: string;
}

describe("ComposeStack on dockerd + compose v2 with a registry", () => {
  let fleet: Fleet;
  const builds: Built<ComposeStack>[] = [];
  const digests: Record<string, string[]> = { web: [], api: [] };

  beforeAll(async () => {
    let pushed: Record<string, string>;
    ({ fleet, digests: pushed } = await dockerPuck({ [WEB]: standIn("web-v1", "GREETING"), [API]: standIn("api-v1", "API_TOKEN") }));
    digests.web!.push(pushed[WEB]!);
    digests.api!.push(pushed[API]!);
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  // What preview does with a tag: composeOnPuck asks the registry for its digest now.
  const program = (s: Settings) => () =>
    composeOnPuck(fleet, {
      project: PROJECT,
      directory: DIR,
      compose: { content: s.compose ?? COMPOSE },
      env: s.env ?? { GREETING: s.greeting, API_TOKEN: "tok-secret-1" },
      images: { web: { image: WEB }, api: { image: API } },
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

  async function containers(): Promise<Record<string, Container>> {
    const r = await fleet.run(
      "puck",
      `docker ps -a -q --filter label=com.docker.compose.project=${PROJECT} | xargs -r docker inspect --format ` +
        `'{{index .Config.Labels "com.docker.compose.service"}} {{.Id}} {{.State.StartedAt}} {{.Config.Image}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'`,
    );
    expect(r.code, r.stderr).toBe(0);
    const out: Record<string, Container> = {};
    for (const line of r.stdout.trim().split("\n").filter(Boolean)) {
      const [service, id, started, image, health] = line.split(" ");
      out[service!] = { id: id!, started: started!, image: image!, health: health! };
    }
    return out;
  }

  const now = async (): Promise<string> => (await fleet.run("puck", "date +%s")).stdout.trim();

  /** Image pulls dockerd recorded since `since` (unix seconds on puck). */
  async function pullsSince(since: string): Promise<string[]> {
    const r = await fleet.run("puck", `docker events --since ${since} --until $(date +%s) --filter type=image --filter event=pull --format '{{.Actor.ID}}'`);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim().split("\n").filter(Boolean).sort();
  }

  const get = async (port: number, path: string) => fleet.curl("puck", `http://127.0.0.1:${port}${path}`);
  const tasksLog = async () => (await fleet.run("puck", `docker compose -p ${PROJECT} exec -T api cat /data/tasks.log`)).stdout;
  const last = () => builds[builds.length - 1]!;

  it("first deploy: directory, .env 0600, compose file pinned by digest, pull, up until healthy, tasks once in order", async () => {
    const since = await now();
    const b = await build(program({ greeting: "hello-1" }));
    const applied = await applyDiff(fleet, undefined, b);
    builds.push(b);
    // Besides the per-host helper installer the managed files share (src/remote).
    expect(applied.ran.filter((n) => !isHelperInstaller(n))).toEqual(["shop-directory", "shop-env", "shop-compose", "shop-up", "shop-task-migrate", "shop-task-signing-key"]);
    expect(applied.results["shop-up"]!.stdout).toContain(`fleet: project ${PROJECT} is up: every service healthy, running or completed`);

    const files = await fleet.run("puck", `stat -c '%a %U %n' ${DIR}/.env ${DIR}/docker-compose.yaml && cat ${DIR}/docker-compose.yaml`);
    expect(files.stdout).toContain(`600 root ${DIR}/.env\n644 root ${DIR}/docker-compose.yaml\n`);
    expect(files.stdout).toContain(`image: ${REGISTRY}/fleet/web@${digests.web![0]}`);
    expect(files.stdout).toContain(`image: ${REGISTRY}/fleet/api@${digests.api![0]}`);
    expect(await plain(b.value.images)).toEqual({ web: `${REGISTRY}/fleet/web@${digests.web![0]}`, api: `${REGISTRY}/fleet/api@${digests.api![0]}` });

    // Pulled by digest from the registry (pushImage removed them from puck's store).
    expect(await pullsSince(since)).toEqual([`${REGISTRY}/fleet/api@${digests.api![0]}`, `${REGISTRY}/fleet/web@${digests.web![0]}`].sort());
    const c = await containers();
    expect(Object.keys(c).sort()).toEqual(["api", "web"]);
    expect(c.web!.health).toBe("healthy");
    expect(c.api!.health).toBe("healthy");
    expect((await get(WEB_PORT, "/env")).body).toBe("hello-1\n");
    expect((await get(API_PORT, "/env")).body).toBe("tok-secret-1\n");

    // Tasks ran once each, in order, after up; the once-task's output is a secret.
    expect(await tasksLog()).toBe("migrate\nsigning-key\n");
    expect(applied.results["shop-task-signing-key"]!.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
    const key = b.run.get("shop-task-signing-key");
    expect(key.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(key.inputs.logging).toBe("none");
  });

  it("re-run: the same program changes nothing; up again recreates nothing and pulls nothing", async () => {
    const before = await containers();
    const since = await now();
    const b = await build(program({ greeting: "hello-1" }));
    expect(changedCommands(last(), b)).toEqual([]);
    // Even run again by hand, up is a no-op on the engine: same containers, same start times.
    const up = b.command("shop-up");
    const r = await fleet.run("puck", up.update ?? up.create, up.stdin, 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(await containers()).toEqual(before);
    expect(await pullsSince(since)).toEqual([]);
    expect(await tasksLog()).toBe("migrate\nsigning-key\n");
    builds.push(b);
  });

  it("a change of one service's env recreates only that service (and re-runs the deploy task, not the once-task)", async () => {
    const before = await containers();
    const b = await build(program({ greeting: "hello-2" }));
    const applied = await applyDiff(fleet, last(), b);
    builds.push(b);
    expect(applied.ran).toEqual(["shop-env", "shop-up", "shop-task-migrate"]);
    const after = await containers();
    expect(after.web!.id).not.toBe(before.web!.id);
    expect(after.api).toEqual(before.api);
    expect((await get(WEB_PORT, "/env")).body).toBe("hello-2\n");
    expect(await tasksLog()).toBe("migrate\nsigning-key\nmigrate\n");
  });

  it("a new image under the same tag: preview shows the new digest; up pulls it and recreates only its service", async () => {
    digests.api!.push(await pushImage(fleet, API, standIn("api-v2", "API_TOKEN")));
    expect(digests.api![1]).not.toBe(digests.api![0]);
    const before = await containers();
    const since = await now();
    const b = await build(program({ greeting: "hello-2" }));
    // The preview: the compose file and the up task change, the digest is the new one.
    expect(changedCommands(last(), b)).toEqual(["shop-compose", "shop-up", "shop-task-migrate"]);
    expect(await plain(b.value.images)).toEqual({ web: `${REGISTRY}/fleet/web@${digests.web![0]}`, api: `${REGISTRY}/fleet/api@${digests.api![1]}` });
    expect(await plain(b.value.composeContent)).toContain(`image: ${REGISTRY}/fleet/api@${digests.api![1]}`);
    await applyDiff(fleet, last(), b);
    builds.push(b);
    expect(await pullsSince(since)).toEqual([`${REGISTRY}/fleet/api@${digests.api![1]}`]);
    const after = await containers();
    expect(after.web).toEqual(before.web);
    expect(after.api!.id).not.toBe(before.api!.id);
    expect(after.api!.image).toBe(`${REGISTRY}/fleet/api@${digests.api![1]}`);
    expect((await get(API_PORT, "/version")).body).toBe("api-v2\n");
  });

  it("a new version failing its health check: the error names the service with its last log lines, and the previous digest serves again", async () => {
    digests.api!.push(await pushImage(fleet, API, standIn("api-v3", "API_TOKEN", false)));
    const before = await containers();
    const b = await build(program({ greeting: "hello-2" }));
    let failure: unknown;
    try {
      await applyDiff(fleet, last(), b);
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(DeployError);
    const err = failure as DeployError;
    expect(err.command.name).toBe("shop-up");
    expect(err.ran).toEqual(["shop-compose", "shop-up"]);
    const stderr = err.result.stderr;
    expect(stderr).toContain(`fleet: service api of project ${PROJECT} did not come up; its last 20 log lines:`);
    expect(stderr).toContain("api-v3 starting: this build lost its health endpoint");
    expect(stderr).not.toContain("fleet: service web");
    expect(stderr).toContain(`fleet: project ${PROJECT}: rolled back; the previous version serves`);
    // The old version serves again: api on the previous digest, healthy; web untouched.
    const after = await containers();
    expect(after.api!.image).toBe(`${REGISTRY}/fleet/api@${digests.api![1]}`);
    expect(after.api!.health).toBe("healthy");
    expect(after.web).toEqual(before.web);
    expect((await get(API_PORT, "/version")).body).toBe("api-v2\n");
    expect((await get(API_PORT, "/healthz")).status).toBe(200);
    // The deploy task after up did not run.
    expect(await tasksLog()).toBe("migrate\nsigning-key\nmigrate\nmigrate\n");
  });

  it("a compose file needing a variable the stack does not provide fails at preview naming it; nothing of that app is deployed", async () => {
    const compose = COMPOSE.replace("GREETING: ${GREETING}", "GREETING: ${GREETING}\n      SMTP_URL: ${SMTP_URL}");
    let failure: unknown;
    try {
      await build(() =>
        composeOnPuck(fleet, {
          project: "mail",
          directory: "/opt/mail",
          compose: { content: compose },
          env: { GREETING: "hi", API_TOKEN: "t" },
          images: { web: { image: WEB }, api: { image: API } },
        }),
      );
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as Error).message).toBe(
      'ComposeStack "mail": env/SMTP_URL: is referenced without a default by service "web" (services/web/environment/SMTP_URL: ${SMTP_URL}) ' +
        "but env does not set it (compose would substitute an empty string); add SMTP_URL to env or write ${SMTP_URL:-default}",
    );
    const r = await fleet.run("puck", "test -e /opt/mail; echo dir=$?; docker ps -a -q --filter label=com.docker.compose.project=mail | wc -l");
    expect(r.stdout).toBe("dir=1\n0\n");
    // compose v2 itself agrees: it would have substituted an empty string.
    const v2 = await fleet.run("puck", "cat > /tmp/mail.yaml && GREETING=hi API_TOKEN=t docker compose -p mail -f /tmp/mail.yaml config -q; rm -f /tmp/mail.yaml", compose, 30_000);
    expect(v2.stderr).toMatch(/The \\?"SMTP_URL\\?" variable is not set\. Defaulting to a blank string\./);
  });

  it("delete: down for the project, volumes kept; asked to, down removes them", async () => {
    const b = last();
    const ran = await destroyAll(fleet, b);
    expect(ran).toContain("shop-up");
    expect(await containers()).toEqual({});
    const vol = await fleet.run("puck", `docker volume ls -q --filter label=com.docker.compose.project=${PROJECT}`);
    expect(vol.stdout.trim()).toBe(`${PROJECT}_data`);
    const gone = await fleet.run("puck", `ls -A ${DIR}`);
    expect(gone.stdout).toBe("");

    // Deploy again, the api pinned to the last good digest (the tag still names the
    // broken build), and with deleteVolumes: the kept volume still has the data, and
    // this time the delete removes it.
    const again = await build(() =>
      composeOnPuck(fleet, {
        project: PROJECT,
        directory: DIR,
        compose: { content: COMPOSE },
        env: { GREETING: "hello-3", API_TOKEN: "tok" },
        images: { web: { image: WEB }, api: { image: API, digest: digests.api![1]! } },
        deleteVolumes: true,
      }),
    );
    await applyDiff(fleet, undefined, again);
    expect((await containers()).api!.image).toBe(`${REGISTRY}/fleet/api@${digests.api![1]}`);
    expect(await tasksLog()).toBe("migrate\nsigning-key\nmigrate\nmigrate\n");
    await destroyAll(fleet, again);
    expect(await containers()).toEqual({});
    const none = await fleet.run("puck", `docker volume ls -q --filter label=com.docker.compose.project=${PROJECT}`);
    expect(none.stdout).toBe("");
  });
});
