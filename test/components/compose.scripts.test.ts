/**
 * The scripts a ComposeStack sends, run for real on this machine through /bin/sh:
 * the file primitive with docker-compose as validator (fault injection included),
 * the git fetch of a compose file, and pull/up/wait against stand-in `docker` and
 * `docker-compose` binaries (there is no Docker engine here).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ComposeStack, composeGitSchema, DEFAULT_POLL_SECONDS, decodeSource, downBody, gitSourceBody, prepareCompose, taskRunBody, upBody, waitLines } from "../../src/components/compose";
import { healthCheckSchema, healthCheckScript } from "../../src/components/health";
import { taskScript, taskStdin } from "../../src/remote/scripts";
import { freePort } from "../helpers/net";
import { testHost } from "../helpers/hosts";
import { runnable } from "../helpers/inputs";
import { type MockRun, runProgram } from "../helpers/pulumi";
import { runShellSync } from "../helpers/spawn";

const DIGEST = `sha256:${"d".repeat(64)}`;
const work = mkdtempSync(path.join(tmpdir(), "fleet-compose-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function sh(command: string, input = "", env: NodeJS.ProcessEnv = process.env): Ran {
  return runShellSync(command, { input, env });
}

/** Mock inputs keep secrets in their wire envelope; take the value out. */
function plain(value: unknown): string {
  if (value !== null && typeof value === "object" && "value" in value) return String(value.value);
  return String(value);
}

const COMPOSE = `services:
  static-init:
    image: git.helu.ca/r/mnemosyne:latest
    command: ["sh", "-c", "cp -a /app/staticfiles/. /static/"]
    restart: "no"
  app:
    image: git.helu.ca/r/mnemosyne:latest
    environment:
      SECRET_KEY: \${SECRET_KEY:?SECRET_KEY is required}
      DB_HOST: \${DB_HOST}
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/live/"]
      interval: 30s
      retries: 3
  web:
    image: nginx:alpine
    ports: ["23181:80"]
    volumes:
      - ./nginx/mnemosyne.conf:/etc/nginx/conf.d/default.conf:ro
    depends_on:
      static-init: { condition: service_completed_successfully }
`;

describe("the stack's file scripts with docker-compose as validator (run here as root)", () => {
  const dir = path.join(work, "opt", "mnemosyne");
  let run: MockRun;

  beforeAll(async () => {
    run = await runProgram(
      () => {
        new ComposeStack("mnemosyne", {
          host: testHost("puck", { compose: "docker-compose", lockDir: path.join(work, "lock") }),
          project: "mnemosyne",
          directory: dir,
          compose: { content: COMPOSE },
          env: { SECRET_KEY: "dj$ango #key", DB_HOST: "portia.incus" },
          files: [{ path: "nginx/mnemosyne.conf", content: "server { listen 80; }\n", restart: ["web"] }],
          images: { app: { image: "git.helu.ca/r/mnemosyne:latest", digest: DIGEST } },
        });
      },
    );
  });

  const create = (name: string) => runnable(run.get(name));
  // Later applies are updates, as the engine runs them: only a resource's create keeps the
  // file it finds as the version to restore on delete (docs/destroy.md).
  const update = (name: string) => runnable(run.get(name), "update");
  const stdin = (name: string) => plain(run.get(name).inputs.stdin);

  it("creates the directory, the mounted file and .env, then the compose file, which validates the project", () => {
    expect(sh(create("mnemosyne-directory")).code).toBe(0);
    expect((statSync(dir).mode & 0o777).toString(8)).toBe("750");
    expect((statSync(path.join(dir, "nginx")).mode & 0o777).toString(8)).toBe("750");

    // Before the compose file exists there is nothing to validate: the file lands anyway.
    const file = sh(create("mnemosyne-file-nginx-mnemosyne.conf"), stdin("mnemosyne-file-nginx-mnemosyne.conf"));
    expect(file.stderr).toBe("");
    expect(file.stdout).toContain(`fleet: updated ${dir}/nginx/mnemosyne.conf`);
    expect(file.code).toBe(0);
    const env = sh(create("mnemosyne-env"), stdin("mnemosyne-env"));
    expect(env.code).toBe(0);
    expect((statSync(path.join(dir, ".env")).mode & 0o777).toString(8)).toBe("600");
    expect(readFileSync(path.join(dir, ".env"), "utf8")).toContain("SECRET_KEY='dj$ango #key'");

    const compose = sh(create("mnemosyne-compose"), stdin("mnemosyne-compose"));
    expect(compose.stderr).toBe("");
    expect(compose.code).toBe(0);
    expect(compose.stdout).toContain(`fleet: updated ${dir}/docker-compose.yaml`);
    expect(readFileSync(path.join(dir, "docker-compose.yaml"), "utf8")).toContain(`image: git.helu.ca/r/mnemosyne@${DIGEST}`);

    // Re-applying identical bytes is a no-op.
    expect(sh(update("mnemosyne-compose"), stdin("mnemosyne-compose")).stdout).toContain("fleet: unchanged");
    const check = spawnSync("docker-compose", ["--project-directory", dir, "-f", path.join(dir, "docker-compose.yaml"), "config", "-q"], { encoding: "utf8" });
    expect(check.status).toBe(0);
  });

  it("refuses a compose file docker-compose rejects, surfaces its message and keeps the live file", () => {
    const live = readFileSync(path.join(dir, "docker-compose.yaml"), "utf8");
    const broken = stdin("mnemosyne-compose").replace("      retries: 3", "      retriez: 3");
    const r = sh(update("mnemosyne-compose"), broken);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("services.app.healthcheck value 'retriez' does not match any of the regexes");
    expect(r.stderr).toContain(`fleet: compose config refused ${dir}/docker-compose.yaml on puck; previous version restored, compose project mnemosyne not reloaded`);
    expect(readFileSync(path.join(dir, "docker-compose.yaml"), "utf8")).toBe(live);
  });

  it("refuses an env file that drops a variable the compose file requires, and keeps the live one", () => {
    const live = readFileSync(path.join(dir, ".env"), "utf8");
    const r = sh(update("mnemosyne-env"), "DB_HOST='portia.incus'\n");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("SECRET_KEY is required");
    expect(r.stderr).toContain("previous version restored");
    expect(readFileSync(path.join(dir, ".env"), "utf8")).toBe(live);
  });

  it("removes the compose file and then the others on delete without tripping the validator", () => {
    for (const name of ["mnemosyne-compose", "mnemosyne-env", "mnemosyne-file-nginx-mnemosyne.conf"]) {
      const r = sh(runnable(run.get(name), "delete"));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
    expect(existsSync(path.join(dir, "docker-compose.yaml"))).toBe(false);
    expect(existsSync(path.join(dir, ".env"))).toBe(false);
  });
});

/** Stand-ins for `docker` and `docker-compose` that log their argv and replay container states. */
/**
 * `phases`: what each `docker inspect` answers, in turn (the last one repeats). `restored`:
 * what it answers once `up` ran on the last good files (the rollback), whatever the count.
 */
function fakeDocker(phases: readonly string[], restored?: string): { env: NodeJS.ProcessEnv; calls: () => string[] } {
  const root = mkdtempSync(path.join(work, "fake-"));
  const bin = path.join(root, "bin");
  mkdirSync(bin);
  phases.forEach((p, i) => writeFileSync(path.join(root, `phase${i}`), p));
  if (restored !== undefined) writeFileSync(path.join(root, "restored"), restored);
  const log = path.join(root, "calls");
  writeFileSync(
    path.join(bin, "docker"),
    [
      "#!/bin/sh",
      `root=${root}`,
      'printf "docker %s\\n" "$*" >> "$root/calls"',
      'case "$1" in',
      '  ps) awk \'{ print "c" NR }\' "$root/phase0" ;;',
      "  inspect)",
      '    if [ -e "$root/rolled-back" ]; then cat "$root/restored"; exit 0; fi',
      '    n=$(cat "$root/count" 2>/dev/null || echo 0)',
      `    last=${phases.length - 1}`,
      '    if [ "$n" -gt "$last" ]; then n=$last; fi',
      '    cat "$root/phase$n"',
      '    echo $((n + 1)) > "$root/count" ;;',
      "esac",
    ].join("\n") + "\n",
  );
  // Logs its argument count too, so a test can tell one quoted argument from several.
  writeFileSync(
    path.join(bin, "docker-compose"),
    [
      "#!/bin/sh",
      `printf "docker-compose[%s] %s\\n" "$#" "$*" >> ${root}/calls`,
      ...(restored === undefined ? [] : [`case "$*" in *"/.fleet/last-good.yaml "*" up "*) touch ${root}/rolled-back ;; esac`]),
      "",
    ].join("\n"),
  );
  chmodSync(path.join(bin, "docker"), 0o755);
  chmodSync(path.join(bin, "docker-compose"), 0o755);
  return {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []),
  };
}

describe("pull, up and the bounded wait (stand-in docker)", () => {
  const layout = { directory: work, project: "mnemosyne", file: "docker-compose.yaml", envFile: ".env" };
  const v1 = { services: "systemd" as const, compose: "docker-compose" as const, pidFiles: { haproxy: "/run/haproxy.pid", prometheus: "/run/prometheus.pid", alertmanager: "/run/alertmanager.pid" } };
  const ctx = { lockDir: path.join(work, "lock"), sudo: false };
  // The stand-in's containers change state at once: look every 0.1 s instead of every 2 s
  // (the default, DEFAULT_POLL_SECONDS); the loop, its deadline and its verdicts are the same.
  const pollSeconds = 0.1;
  const up = (timeoutSeconds: number) => taskScript({ body: upBody(v1, layout, { pull: true, timeoutSeconds, pollSeconds }), lock: "compose-mnemosyne" }, ctx);

  it("pulls, brings the project up, and returns once every service is healthy, running or completed", () => {
    const fake = fakeDocker([
      "app running 0 starting\nweb running 0 starting\nstatic-init running 0 none\nworker running 0 starting\n",
      "app running 0 healthy\nweb running 0 healthy\nstatic-init exited 0 none\nworker running 0 healthy\n",
    ]);
    writeFileSync(path.join(work, "docker-compose.yaml"), "services: {}\n");
    writeFileSync(path.join(work, ".env"), "A='1'\n");
    const r = sh(up(60), "", fake.env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Kept as the last good deploy, readable by root only (the env file holds secrets).
    expect(readFileSync(path.join(work, ".fleet/last-good.env"), "utf8")).toBe("A='1'\n");
    expect(readFileSync(path.join(work, ".fleet/last-good.yaml"), "utf8")).toBe("services: {}\n");
    expect(statSync(path.join(work, ".fleet/last-good.env")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(work, ".fleet")).mode & 0o777).toBe(0o700);
    rmSync(path.join(work, ".fleet"), { recursive: true });
    rmSync(path.join(work, "docker-compose.yaml"));
    rmSync(path.join(work, ".env"));
    expect(r.stdout).toContain("fleet: project mnemosyne is up: every service healthy, running or completed");
    const calls = fake.calls();
    const c = `docker-compose --project-name mnemosyne --project-directory ${work} -f ${work}/docker-compose.yaml --env-file ${work}/.env`;
    expect(calls[0]).toBe(`${c.replace("docker-compose", "docker-compose[10]")} pull -q`);
    expect(calls[1]).toBe(`${c.replace("docker-compose", "docker-compose[11]")} up -d --remove-orphans`);
    expect(calls[2]).toBe("docker ps -a -q --filter label=com.docker.compose.project=mnemosyne --filter label=com.docker.compose.oneoff=False");
    expect(calls[3]).toBe('docker inspect --format {{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} c1 c2 c3 c4');
    expect(calls.filter((l) => l.startsWith("docker inspect"))).toHaveLength(2);
  });

  it("fails at once when a one-shot service exits non-zero, naming it", () => {
    const fake = fakeDocker(["app running 0 starting\nstatic-init exited 2 none\n"]);
    const r = sh(up(60), "", fake.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("fleet: project mnemosyne failed: static-init (exited 2)");
    expect(fake.calls().filter((l) => l.startsWith("docker inspect"))).toHaveLength(1);
  });

  it("gives up at the deadline, listing what is not ready", () => {
    const fake = fakeDocker(["app running 0 unhealthy\nweb restarting 1 none\nstatic-init exited 0 none\n"]);
    const started = Date.now();
    const r = sh(up(1), "", fake.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("fleet: project mnemosyne not ready after 1s: app (running, health unhealthy) web (restarting, health none)");
    expect(r.stderr).toContain("app running 0 unhealthy");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("names each service that did not come up with its last log lines, and brings the last good deploy back", () => {
    const unhealthy = "app running 0 unhealthy\nweb running 0 healthy\nstatic-init exited 0 none\n";
    // Unhealthy until the deadline, whatever the number of looks; healthy once rolled back.
    const fake = fakeDocker([unhealthy], "app running 0 healthy\nweb running 0 healthy\n");
    mkdirSync(path.join(work, ".fleet"), { mode: 0o700 });
    writeFileSync(path.join(work, ".fleet/last-good.yaml"), "services: {}\n");
    writeFileSync(path.join(work, ".fleet/last-good.env"), "");
    try {
      const r = sh(up(1), "", fake.env);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("fleet: project mnemosyne not ready after 1s: app (running, health unhealthy)");
      expect(r.stderr).toContain("fleet: service app of project mnemosyne did not come up; its last 20 log lines:");
      expect(r.stderr).not.toContain("fleet: service web");
      expect(r.stderr).toContain(`fleet: project mnemosyne: rolling back to the last deploy that came up (${work}/.fleet/last-good.yaml)`);
      expect(r.stderr).toContain("fleet: project mnemosyne: rolled back; the previous version serves");
      const c = `--project-name mnemosyne --project-directory ${work}`;
      const calls = fake.calls().filter((l) => l.startsWith("docker-compose"));
      expect(calls).toEqual([
        `docker-compose[10] ${c} -f ${work}/docker-compose.yaml --env-file ${work}/.env pull -q`,
        `docker-compose[11] ${c} -f ${work}/docker-compose.yaml --env-file ${work}/.env up -d --remove-orphans`,
        `docker-compose[13] ${c} -f ${work}/docker-compose.yaml --env-file ${work}/.env logs --no-color --tail 20 app`,
        `docker-compose[11] ${c} -f ${work}/.fleet/last-good.yaml --env-file ${work}/.fleet/last-good.env up -d --remove-orphans`,
      ]);
    } finally {
      rmSync(path.join(work, ".fleet"), { recursive: true, force: true });
    }
  });

  it("a check of the new version that fails once the containers settle rolls back, naming the check, the host and what was restored", async () => {
    const settled = "app running 0 healthy\nweb running 0 healthy\nstatic-init exited 0 none\n";
    const fake = fakeDocker([settled]);
    // The real probe (healthCheckScript, curl on this machine) against a port nothing listens on.
    const port = await freePort();
    const health = healthCheckScript(healthCheckSchema.parse({ url: `http://127.0.0.1:${port}/live/`, attempts: 2, initialDelaySeconds: 0, timeoutSeconds: 2, description: "mnemosyne /live/" }));
    const marker = path.join(work, "second-check-ran");
    const checks = [
      { name: "health", body: health },
      { name: "later", body: `touch ${marker}` },
    ];
    mkdirSync(path.join(work, ".fleet"), { mode: 0o700 });
    writeFileSync(path.join(work, ".fleet/last-good.yaml"), "services: {} # v1\n");
    writeFileSync(path.join(work, ".fleet/last-good.env"), "V='1'\n");
    writeFileSync(path.join(work, "docker-compose.yaml"), "services: {} # v2\n");
    writeFileSync(path.join(work, ".env"), "V='2'\n");
    try {
      const r = sh(taskScript({ body: upBody(v1, layout, { pull: false, timeoutSeconds: 60, checks, hostName: "puck" }), lock: "compose-mnemosyne" }, ctx), "", fake.env);
      expect(r.code).toBe(1);
      const lines = r.stderr.trim().split("\n");
      expect(lines).toEqual([
        expect.stringMatching(new RegExp(`^fleet: health check failed for mnemosyne /live/ \\(http://127\\.0\\.0\\.1:${port}/live/\\) after 2 attempt\\(s\\): expected status 200; got status 000 and body: {2}\\(curl: .+\\)$`)),
        "fleet: check health failed on puck: project mnemosyne came up, but the new version is not healthy",
        `fleet: project mnemosyne: rolling back to the last deploy that came up (${work}/.fleet/last-good.yaml)`,
        "fleet: project mnemosyne is up: every service healthy, running or completed",
        "fleet: project mnemosyne: rolled back; the previous version serves",
      ]);
      // Only the first failure counts: the checks after it do not run, no service is blamed.
      expect(existsSync(marker)).toBe(false);
      const c = `--project-name mnemosyne --project-directory ${work}`;
      expect(fake.calls().filter((l) => l.startsWith("docker-compose"))).toEqual([
        `docker-compose[11] ${c} -f ${work}/docker-compose.yaml --env-file ${work}/.env up -d --remove-orphans`,
        `docker-compose[11] ${c} -f ${work}/.fleet/last-good.yaml --env-file ${work}/.fleet/last-good.env up -d --remove-orphans`,
      ]);
      // The last good deploy is still the previous one: the next up tries the new files again.
      expect(readFileSync(path.join(work, ".fleet/last-good.yaml"), "utf8")).toBe("services: {} # v1\n");
      expect(readFileSync(path.join(work, ".fleet/last-good.env"), "utf8")).toBe("V='1'\n");
    } finally {
      for (const f of [".fleet", "docker-compose.yaml", ".env"]) rmSync(path.join(work, f), { recursive: true, force: true });
    }
  });

  it("checks that pass, in order once the containers settle, make the deploy the last good one", () => {
    const fake = fakeDocker(["app running 0 healthy\n"]);
    const order = path.join(work, "order");
    const checks = [
      { name: "first", body: `echo first >> ${order}` },
      { name: "second", body: `echo second >> ${order}; exit 0` },
    ];
    writeFileSync(path.join(work, "docker-compose.yaml"), "services: {} # v2\n");
    writeFileSync(path.join(work, ".env"), "V='2'\n");
    try {
      const r = sh(taskScript({ body: upBody(v1, layout, { pull: false, timeoutSeconds: 60, checks, hostName: "puck" }), lock: "compose-mnemosyne" }, ctx), "", fake.env);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(readFileSync(order, "utf8")).toBe("first\nsecond\n");
      expect(readFileSync(path.join(work, ".fleet/last-good.yaml"), "utf8")).toBe("services: {} # v2\n");
      // The checks ran after the containers were looked at (settled), not before up.
      expect(fake.calls().map((l) => l.split(" ")[0])).toEqual(["docker-compose[11]", "docker", "docker"]);
    } finally {
      for (const f of [".fleet", "docker-compose.yaml", ".env", "order"]) rmSync(path.join(work, f), { recursive: true, force: true });
    }
  });

  it("looks at the containers every 2 s unless told otherwise, and refuses a pause that is no number of seconds in (0, 60]", () => {
    expect(DEFAULT_POLL_SECONDS).toBe(2);
    expect(waitLines("mnemosyne", 60)).toContain("    sleep 2");
    expect(upBody(v1, layout, { pull: true, timeoutSeconds: 60 })).toContain(waitLines("mnemosyne", 60, 2).join("\n"));
    expect(upBody(v1, layout, { pull: true, timeoutSeconds: 60, pollSeconds })).toContain("\n    sleep 0.1\n");
    for (const bad of [0, -1, 61, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => waitLines("mnemosyne", 60, bad)).toThrow(`waitLines: pollSeconds must be a number of seconds in (0, 60], got ${bad}`);
  });

  it("without checks, up's script is what it was before checks existed", () => {
    expect(upBody(v1, layout, { pull: true, timeoutSeconds: 60 })).toBe(upBody(v1, layout, { pull: true, timeoutSeconds: 60, checks: [], hostName: "puck" }));
    expect(upBody(v1, layout, { pull: true, timeoutSeconds: 60 })).not.toContain("fleet_checks");
  });

  it("fails when up left no containers", () => {
    const fake = fakeDocker([""]);
    const r = sh(up(60), "", fake.env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("fleet: project mnemosyne has no containers after up");
  });

  it("uses --wait on compose v2 and still checks one-shot services; skips waiting when the timeout is 0", () => {
    const v2 = { ...v1, compose: "docker compose" as const };
    expect(upBody(v2, layout, { pull: false, timeoutSeconds: 90 })).toContain(" up -d --remove-orphans --wait --wait-timeout 90 && fleet_wait; then\n");
    expect(upBody(v2, layout, { pull: false, timeoutSeconds: 90 })).toContain(waitLines("mnemosyne", 90).join("\n"));
    const polling = upBody(v2, layout, { pull: false, timeoutSeconds: 90, composeWait: false });
    expect(polling).not.toContain("--wait");
    expect(polling).toContain("docker inspect");
    const none = upBody(v2, layout, { pull: false, timeoutSeconds: 0 });
    expect(none).not.toContain("--wait");
    expect(none).not.toContain("docker inspect");
    expect(none).not.toContain(" pull");
  });

  it("takes the project down on delete, with or without its env file, and not at all once the compose file is gone", () => {
    const fake = fakeDocker([""]);
    const down = taskScript({ body: downBody(v1, layout), lock: "compose-mnemosyne" }, ctx);
    const c = `--project-name mnemosyne --project-directory ${work} -f ${work}/docker-compose.yaml`;
    expect(sh(down, "", fake.env).stdout).toContain(`fleet: ${work}/docker-compose.yaml is gone; nothing to take down`);
    writeFileSync(path.join(work, "docker-compose.yaml"), "services: {}\n");
    expect(sh(down, "", fake.env).code).toBe(0);
    writeFileSync(path.join(work, ".env"), "");
    expect(sh(down, "", fake.env).code).toBe(0);
    expect(fake.calls()).toEqual([`docker-compose[8] ${c} down --remove-orphans`, `docker-compose[10] ${c} --env-file ${work}/.env down --remove-orphans`]);
  });

  it("are valid POSIX sh (dash -n)", () => {
    const git = composeGitSchema.parse({ url: "https://git.helu.ca/r/m.git", ref: "v1", path: "docker-compose.yaml" });
    const bodies = [
      upBody(v1, layout, { pull: true, build: true, timeoutSeconds: 30 }),
      downBody(v1, layout),
      gitSourceBody(work, git),
      gitSourceBody(work, { ...git, sparse: true }),
      taskRunBody(v1, layout, ["run", "--rm", "app", { secret: "PASSWORD" }]),
    ];
    bodies.forEach((body, i) => {
      const file = path.join(work, `body-${i}.sh`);
      writeFileSync(file, body);
      expect(sh(`dash -n ${file}`)).toEqual({ code: 0, stdout: "", stderr: "" });
    });
  });
});

describe("git-sourced compose file (local repository over file://)", () => {
  const repo = path.join(work, "repo");
  const dir = path.join(work, "opt", "peregrine");
  const ctx = { lockDir: path.join(work, "lock"), sudo: false };
  const git = (args: string) => {
    const r = sh(`cd ${repo} && git -c user.name=t -c user.email=t@t ${args}`);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.trim();
  };
  const fetch = (ref: string, file: string, sparse = false) => {
    // The URL rule only admits https/ssh; the script is the same for a file:// remote.
    const spec = { ...composeGitSchema.parse({ url: "https://example.invalid/r.git", ref, path: file, sparse }), url: `file://${repo}` };
    return sh(taskScript({ body: gitSourceBody(dir, spec) }, ctx));
  };
  const v1 = "services:\n  app:\n    image: peregrine:latest\n    environment:\n      CF_SERVER_SECRET: ${CF_SERVER_SECRET}\n";

  beforeAll(() => {
    mkdirSync(repo, { recursive: true });
    mkdirSync(dir, { recursive: true });
    git("init -q");
    writeFileSync(path.join(repo, "compose.cloud.yml"), v1);
    writeFileSync(path.join(repo, "README.md"), "readme\n");
    git("add -A && git -c user.name=t -c user.email=t@t commit -q -m one && git tag v1");
    writeFileSync(path.join(repo, "compose.cloud.yml"), v1.replace("${CF_SERVER_SECRET}", "${CF_SERVER_SECRET}\n      PLATFORM_DB_URL: ${PLATFORM_DB_URL}"));
    git("commit -q -am two && git tag v2");
  });

  it("fetches the pinned tag into <directory>/.src and prints the file exactly", () => {
    const r = fetch("v1", "compose.cloud.yml");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(decodeSource(r.stdout)).toBe(v1);
    expect(existsSync(path.join(dir, ".src", ".git"))).toBe(true);
  });

  it("moves to a new ref, and the fetched file goes through the same ${VAR} check as inline content", () => {
    const r = fetch("v2", "compose.cloud.yml");
    expect(r.code).toBe(0);
    const text = decodeSource(r.stdout);
    expect(text).toContain("PLATFORM_DB_URL: ${PLATFORM_DB_URL}");
    expect(() => prepareCompose(text, { env: ["CF_SERVER_SECRET"], pins: {} }, 'ComposeStack "peregrine-cloud"')).toThrow(
      'ComposeStack "peregrine-cloud": env/PLATFORM_DB_URL: is referenced without a default by service "app" (services/app/environment/PLATFORM_DB_URL: ${PLATFORM_DB_URL})',
    );
  });

  it("fetches a commit by its id", () => {
    const sha = git("rev-parse v1");
    const r = fetch(sha, "compose.cloud.yml");
    expect(r.stderr).toBe("");
    expect(decodeSource(r.stdout)).toBe(v1);
  });

  it("checks out only the compose file when sparse", () => {
    const r = fetch("v1", "compose.cloud.yml", true);
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, ".src", "compose.cloud.yml"))).toBe(true);
    expect(existsSync(path.join(dir, ".src", "README.md"))).toBe(false);
  });

  it("checks the whole tree out again when sparse is turned off", () => {
    expect(fetch("v1", "compose.cloud.yml", true).code).toBe(0);
    expect(existsSync(path.join(dir, ".src", "README.md"))).toBe(false);
    const r = fetch("v1", "compose.cloud.yml", false);
    expect(r.stderr).toBe("");
    expect(existsSync(path.join(dir, ".src", "README.md"))).toBe(true);
  });

  it("fails clearly when the file is not in the repository at that ref", () => {
    const r = fetch("v1", "deploy/compose.yml");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("fleet: deploy/compose.yml is not a file in file://");
  });

  it("fails on a ref the remote does not have, without printing anything", () => {
    const r = fetch("v9", "compose.cloud.yml");
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("v9");
  });
});

describe("task scripts", () => {
  it("pass secrets from stdin into the argv, quoted, with options kept intact", async () => {
    const root = mkdtempSync(path.join(work, "task-"));
    const fake = fakeDocker([""]);
    const run = await runProgram(() => {
      new ComposeStack("m", {
        host: testHost("puck", { compose: "docker-compose", lockDir: path.join(work, "lock") }),
        project: "m",
        directory: root,
        compose: { content: "services:\n  app:\n    image: x:1\n" },
        tasks: [{ name: "user", run: ["run", "--rm", "-T", "app", "ensure_service_user", "--password", { secret: "PASSWORD" }], secrets: { PASSWORD: "p a'ss $(id) `id`" } }],
      });
    });
    const task = run.get("m-task-user");
    // The resource's own stdin: the run's fingerprint, then the secret.
    const input = String(plain(task.inputs.stdin));
    expect(input.split("\n").slice(1).join("\n")).toBe(taskStdin(["p a'ss $(id) `id`"]));
    const r = sh(String(task.inputs.create), input, fake.env);
    expect(r.code).toBe(0);
    expect(fake.calls()).toEqual([
      // 8 global arguments + 7: the password with its spaces and quotes is one argument.
      `docker-compose[15] --project-name m --project-directory ${root} -f ${root}/docker-compose.yaml --env-file ${root}/.env run --rm -T app ensure_service_user --password p a'ss $(id) \`id\``,
    ]);
  });
});
