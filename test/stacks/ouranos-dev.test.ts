/**
 * daedalus-deployment.md §5 "Docker Compose (Development)": the api built from
 * ./backend/Dockerfile (8000 internal) and nginx:alpine on 22181 → 80, chosen with
 * `fleet:ouranos.daedalus.mode: compose`. Rendered files pass docker-compose and nginx.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type MockRun, runProgram, unwrap } from "../../src/testing/mocks";
import { expectValid, runTool, tempTree } from "../helpers/validators";
import { reveal, str } from "../helpers/inputs";
import { DIGEST, ouranosConfig, registryCalls } from "./ouranos-config";

let run: MockRun;

beforeAll(async () => {
  const { ouranos } = await import("../../stacks/ouranos");
  const { config, secretKeys } = ouranosConfig({
    "fleet:ouranos": { daedalus: { mode: "compose", repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" } } },
  });
  run = await runProgram(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
});

const stdin = async (name: string) => String(await unwrap(run.get(name).props?.stdin));

describe("Daedalus development variant (mode: compose)", () => {
  it("deploys the compose project instead of the systemd unit, nginx site, venv and frontend build", () => {
    expect(run.find("daedalus-dev")?.type).toBe("fleet:compose:Stack");
    for (const gone of ["daedalus-api", "daedalus-site", "daedalus-backend", "daedalus-frontend", "daedalus-migrate"]) expect(run.find(gone), gone).toBeUndefined();
    // The source checkout and the app's .env are still managed.
    expect(run.find("daedalus-checkout")).toBeDefined();
    expect(run.find("daedalus-env")).toBeDefined();
  });

  it("api built from ./backend/Dockerfile, internal on 8000; nginx:alpine pinned by digest on 22181 → 80", async () => {
    const compose = parse(await stdin("daedalus-dev-compose")) as { services: Record<string, Record<string, unknown>> };
    expect(compose.services.api).toMatchObject({ build: "./backend", expose: ["8000"], env_file: [".env"] });
    expect(compose.services.api!.ports).toBeUndefined();
    expect(compose.services.nginx).toMatchObject({ image: `nginx@${DIGEST}`, ports: ["22181:80"] });
    const up = str(reveal(run.get("daedalus-dev-up").inputs.create)); // secret: its revision line hashes the env file
    expect(up).toContain("--build");
  });

  it("with the commit known (resolved at preview or pinned), the api image is tagged by it", async () => {
    const { ouranosProgram } = await import("../../stacks/ouranos");
    const commit = "0123456789abcdef0123456789abcdef01234567";
    const { config, secretKeys } = ouranosConfig({
      "fleet:ouranos": { daedalus: { mode: "compose", repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2", commit } } },
    });
    const pinned = await runProgram(() => ouranosProgram(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
    const compose = parse(String(await unwrap(pinned.get("daedalus-dev-compose").props?.stdin))) as { services: Record<string, Record<string, unknown>> };
    expect(compose.services.api).toMatchObject({ build: "./backend", image: "daedalus-api:0123456789ab" });
  });

  it("keeps /srv/daedalus owned by daedalus and compose's interpolation file apart from the app's .env", () => {
    expect(String(run.get("daedalus-dev-directory").inputs.create)).toContain("'daedalus'");
    expect(String(run.get("daedalus-dev-env").inputs.create)).toContain("/srv/daedalus/.compose.env");
  });

  it("passes docker-compose config and nginx -t", async () => {
    const dir = tempTree({
      "docker-compose.yaml": await stdin("daedalus-dev-compose"),
      ".env": "DAEDALUS_ENV='production'\n",
      ".compose.env": "",
      "nginx/default.conf": await stdin("daedalus-dev-file-nginx-default.conf"),
      "backend/Dockerfile": "FROM scratch\n",
    });
    expectValid(runTool("docker-compose", ["--project-name", "daedalus", "--env-file", path.join(dir, ".compose.env"), "-f", path.join(dir, "docker-compose.yaml"), "config", "-q"], { cwd: dir }), "dev compose");
    const prefix = path.join(dir, "ngx");
    mkdirSync(path.join(prefix, "logs"), { recursive: true });
    writeFileSync(
      path.join(prefix, "nginx.conf"),
      `pid ${prefix}/nginx.pid;\nerror_log ${prefix}/logs/error.log;\nevents {}\nhttp { access_log off; include ${dir}/nginx/default.conf; }\n`,
    );
    expectValid(runTool("nginx", ["-t", "-c", path.join(prefix, "nginx.conf"), "-p", prefix]), "dev nginx");
  });
});
