/**
 * Issue 13 item 9 for Mnemosyne (stack ouranos), on a real Docker engine: the first `up`
 * against a host that already runs Mnemosyne by hand backs it up, adopts it and converges.
 * The hand-made deployment is a hand-written compose file under another project
 * (`mnemo-hand`, /opt/mnemo-hand) with its own container names (`mnemosyne-app`,
 * `mnemosyne-static-init`, `mnemosyne-nginx`) and the static files in the named volume
 * `mnemosyne-static`; an operator keeps a file of their own there. The stack's config
 * names those containers and that volume (`mnemosyne.containers`, `mnemosyne.volumes`),
 * and the app is deployed as the stack deploys it (`mnemosyneApp`: the template, nginx
 * config, `.env`, tasks, the probes from prospero), with stand-in images under the
 * stack's image names and the real nginx in `web` (./standins.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envFor } from "../../stacks/ouranos/mnemosyne-env";
import { sh } from "../../src/remote/quote";
import { type Fleet, startHosts } from "../e2e/harness";
import { build, type Built } from "../e2e/program";
import { applyDiff, changedCommands, destroyAll } from "./deploy";
import { pushImage } from "./images";
import { MNEMOSYNE_APP_IMAGE, MNEMOSYNE_WEB_IMAGE, mnemosyneProgram } from "./mnemosyne";
import { mnemosyneApp as mnemosyneImage, realNginx } from "./standins";

const APP_IMAGE = MNEMOSYNE_APP_IMAGE;
const WEB_IMAGE = MNEMOSYNE_WEB_IMAGE;
const HAND = "/opt/mnemo-hand";
const CONTAINERS = { app: "mnemosyne-app", "static-init": "mnemosyne-static-init", web: "mnemosyne-nginx" } as const;
const VOLUME = "mnemosyne-static";
const BACKUPS = "/opt/mnemosyne/backups/adopted";

/** What an operator wrote by hand: app, static-init and nginx, every variable set to a placeholder. */
function handCompose(): string {
  const env = (names: readonly string[]) => names.map((n) => `      ${n}: by-hand`).join("\n");
  return `services:
  app:
    image: ${APP_IMAGE}
    container_name: ${CONTAINERS.app}
    command: ["web"]
    environment:
${env(envFor("app"))}
  static-init:
    image: ${APP_IMAGE}
    container_name: ${CONTAINERS["static-init"]}
    command: ["collectstatic"]
    volumes: ["static:/app/staticfiles"]
  web:
    image: ${WEB_IMAGE}
    container_name: ${CONTAINERS.web}
    ports: ["23181:80"]
    volumes: ["static:/var/www/static:ro"]
volumes:
  static:
    name: ${VOLUME}
`;
}

describe("Mnemosyne made by hand under project mnemo-hand and other names: the stack's first up backs it up, adopts it and converges", () => {
  let fleet: Fleet;
  let handIds: Record<string, string>;
  let built: Built<unknown>;

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck", "prospero"], docker: true });
    await pushImage(fleet, APP_IMAGE, mnemosyneImage("v1", { web: envFor("app"), mcp: envFor("mcp"), worker: envFor("worker") }));
    await pushImage(fleet, WEB_IMAGE, realNginx({ curl: false }));
    const made = await fleet.run(
      "puck",
      [
        `mkdir -p ${HAND}`,
        `printf '%s' ${sh(handCompose())} > ${HAND}/docker-compose.yaml`,
        `docker compose -p mnemo-hand -f ${HAND}/docker-compose.yaml up -d --quiet-pull`,
        // The operator's own file in the static volume, beside what collectstatic put there.
        `docker run --rm -v ${VOLUME}:/s --entrypoint /bin/sh ${APP_IMAGE} -c 'echo precious > /s/keep.txt'`,
        `for c in ${Object.values(CONTAINERS).join(" ")}; do echo "$c $(docker inspect --format '{{.Id}}' $c)"; done`,
      ].join(" && "),
      undefined,
      120_000,
    );
    expect(made.code, made.stderr).toBe(0);
    handIds = Object.fromEntries(made.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    expect(Object.keys(handIds).sort()).toEqual(Object.values(CONTAINERS).sort());
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  // The names of what runs: the stack takes them over.
  const program = () => mnemosyneProgram(fleet, { containers: CONTAINERS, volumes: { static: VOLUME } })();

  it("backs each hand-made container up, replaces them with the project's own under the same names, and serves the file that was in the volume", async () => {
    built = await build(program);
    const applied = await applyDiff(fleet, undefined, built, 300_000);
    expect(applied.ran.indexOf("mnemosyne-adopt")).toBeGreaterThanOrEqual(0);
    expect(applied.ran.indexOf("mnemosyne-adopt")).toBeLessThan(applied.ran.indexOf("mnemosyne-up"));
    const said = applied.results["mnemosyne-adopt"]!.stderr;
    for (const c of Object.values(CONTAINERS)) {
      expect(said).toContain(`fleet: container ${c} runs outside project mnemosyne (project 'mnemo-hand'): backing it up into ${BACKUPS}/${c}-`);
    }
    for (const name of ["mnemosyne-live-check", "mnemosyne-ready-check", "mnemosyne-healthz-check", "mnemosyne-metrics-check"]) {
      expect(applied.results[name]?.code, name).toBe(0);
    }

    // Under the same names, in the stack's project, new containers; nothing left of mnemo-hand.
    const ps = await fleet.run(
      "puck",
      `docker ps -aq --filter label=com.docker.compose.project=mnemo-hand | wc -l && ` +
        `docker inspect --format '{{.Name}} {{.Id}} {{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}}' $(docker ps -aq --filter label=com.docker.compose.project=mnemosyne) | sort`,
    );
    expect(ps.code, ps.stderr).toBe(0);
    const [left, ...rows] = ps.stdout.trim().split("\n");
    expect(left).toBe("0");
    const now = rows.map((r) => r.split(" ")).map(([name, id, project, service]) => ({ name: name!.replace(/^\//, ""), id: id!, project, service }));
    expect(now.map(({ name, project, service }) => `${name} ${project} ${service}`)).toEqual([
      "mnemosyne-app mnemosyne app",
      "mnemosyne-mcp-1 mnemosyne mcp",
      "mnemosyne-nginx mnemosyne web",
      "mnemosyne-static-init mnemosyne static-init",
      "mnemosyne-worker-1 mnemosyne worker",
    ]);
    for (const { name, id } of now) if (Object.hasOwn(handIds, name)) expect({ name, id }).not.toEqual({ name, id: handIds[name] });
    const gone = await fleet.run("puck", `for id in ${Object.values(handIds).join(" ")}; do docker inspect $id >/dev/null 2>&1 && echo "$id still there"; done; echo checked`);
    expect(gone.stdout).toBe("checked\n");

    // The data: the operator's file in the volume, served by the stack's nginx beside what static-init put there.
    const keep = await fleet.curl("prospero", "http://puck.incus:23181/static/keep.txt");
    expect({ status: keep.status, body: keep.body }).toEqual({ status: 200, body: "precious\n" });
    expect((await fleet.curl("prospero", "http://puck.incus:23181/static/mnemosyne.css")).body).toBe("body { margin: 0 }\n");

    // The backups: each container's inspect, and the volume of each that mounted it, as it was.
    const backup = await fleet.run(
      "puck",
      `cd ${BACKUPS} && for d in $(ls); do echo "$d: $(cd $d && ls | tr '\\n' ' ')"; done && ` +
        `tar -xzOf "$(ls -d ${CONTAINERS.web}-*)/volume-${VOLUME}.tar.gz" ./keep.txt && ` +
        `grep -c ${sh(`"Id": "${handIds[CONTAINERS.web]}"`)} ${CONTAINERS.web}-*/container.json`,
    );
    expect(backup.code, backup.stderr).toBe(0);
    const lines = backup.stdout.trim().split("\n");
    expect(lines.slice(0, 3).map((l) => l.replace(/-\d{8}T\d{6}Z:/, ":"))).toEqual([
      `${CONTAINERS.app}: container.json volumes.txt `,
      `${CONTAINERS.web}: container.json volume-${VOLUME}.tar.gz volumes.txt `,
      `${CONTAINERS["static-init"]}: container.json volume-${VOLUME}.tar.gz volumes.txt `,
    ]);
    expect(lines.slice(3)).toEqual(["precious", "1"]);
  });

  it("a second deploy is a no-op: nothing changes, and the adopt step, run again, finds nothing to adopt", async () => {
    const again = await build(program);
    expect(changedCommands(built, again)).toEqual([]);
    const adopt = built.commands.find((c) => c.name === "mnemosyne-adopt")!;
    const rerun = await fleet.run("puck", adopt.create, adopt.stdin);
    expect({ code: rerun.code, stdout: rerun.stdout, stderr: rerun.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
    expect((await fleet.run("puck", `ls ${BACKUPS} | wc -l`)).stdout.trim()).toBe("3");
  });

  it("delete takes the project down and keeps the adopted volume", async () => {
    await destroyAll(fleet, built);
    const r = await fleet.run("puck", `docker ps -aq --filter label=com.docker.compose.project=mnemosyne | wc -l; docker volume ls -q --filter name=^${VOLUME}$`);
    expect(r.stdout).toBe(`0\n${VOLUME}\n`);
  });
});
