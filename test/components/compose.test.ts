import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { ComposeStack, type ComposeStackArgs } from "../../src/components/compose";
import { gitCheckoutLines } from "../../src/remote/checkout";
import { testHost } from "../helpers/hosts";
import { leaves, runProgram, unwrap, type RecordedResource } from "../helpers/pulumi";
import { ownDependsOn, isHelperInstaller, componentNames, scriptText, managedFile, refused } from "../helpers/inputs";

const APP_DIGEST = `sha256:${"a".repeat(64)}`;
const PINNED_DIGEST = `sha256:${"b".repeat(64)}`;
const REGISTRY = "docker:index/getRegistryImage:getRegistryImage";

const COMPOSE = `# Mnemosyne (trimmed): the shape the checks care about.
x-django-env: &django-env
  SECRET_KEY: \${SECRET_KEY}
  DB_HOST: \${DB_HOST}
  DEBUG: \${DEBUG:-False}

services:
  static-init:
    image: git.helu.ca/r/mnemosyne:latest
    command: ["sh", "-c", "cp -a /app/staticfiles/. /static/"]
    volumes: [static:/static]
    restart: "no"
  app:
    image: git.helu.ca/r/mnemosyne:latest
    environment:
      <<: *django-env
      CELERY_BROKER_URL: \${CELERY_BROKER_URL}
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/live/"]
  worker:
    image: git.helu.ca/r/mnemosyne:latest
    environment:
      <<: *django-env
    healthcheck:
      test: ["CMD-SHELL", "celery -A mnemosyne inspect ping -d celery@$$HOSTNAME"]
  web:
    image: nginx:alpine
    ports: ["23181:80"]
    volumes:
      - ./nginx/mnemosyne.conf:/etc/nginx/conf.d/default.conf:ro
    depends_on:
      static-init: { condition: service_completed_successfully }
volumes:
  static:
`;

const ENV = { SECRET_KEY: "django-secret", DB_HOST: "portia.incus", CELERY_BROKER_URL: "amqp://mnemosyne:p%40ss@oberon.incus:5672/mnemosyne" };

function mnemosyne(extra: Partial<ComposeStackArgs> = {}): ComposeStackArgs {
  return {
    host: testHost("puck"),
    project: "mnemosyne",
    directory: "/opt/mnemosyne",
    compose: { content: COMPOSE },
    env: { ...ENV, SECRET_KEY: pulumi.secret("django-secret") },
    files: [{ path: "nginx/mnemosyne.conf", content: "server { listen 80; }\n", restart: ["web"] }],
    images: {
      app: { image: "git.helu.ca/r/mnemosyne:latest" },
      worker: { image: "git.helu.ca/r/mnemosyne:latest", digest: PINNED_DIGEST },
    },
    tasks: [
      { name: "migrate", run: ["run", "--rm", "-T", "app", "migrate"] },
      {
        name: "service-user",
        run: ["run", "--rm", "-T", "app", "python", "manage.py", "ensure_service_user", "--username", "daedalus-service", "--password", { secret: "PASSWORD" }],
        secrets: { PASSWORD: pulumi.secret("s3rvice pass'word") },
      },
      { name: "signing-key", run: ["run", "--rm", "-T", "app", "python", "manage.py", "seed_signing_key", "--kid", "daedalus-1", "--retire-other"], once: true, captureStdout: true },
    ],
    ...extra,
  };
}

const registry = {
  [REGISTRY]: (args: Record<string, unknown>) => ({ id: String(args.name), name: args.name, sha256Digest: APP_DIGEST }),
};

/** The body of a `/bin/sh -c '<body>'` command as recorded. */
function bodyOf(cmd: unknown): string {
  return scriptText(String(cmd));
}

/** Mock inputs keep secrets in their wire envelope; take the value out. */
function plain(value: unknown): unknown {
  if (value !== null && typeof value === "object" && "4dabf18193072939515e22adb298388d" in value) return (value as unknown as { value: unknown }).value;
  return value;
}

const C = "docker compose --project-name 'mnemosyne' --project-directory '/opt/mnemosyne' -f '/opt/mnemosyne/docker-compose.yaml' --env-file '/opt/mnemosyne/.env'";

/** Run one stack under mocks. The program returns nothing: a returned resource would become stack outputs. */
function deploy(args: ComposeStackArgs, name = "mnemosyne") {
  return runProgram(
    () => {
      new ComposeStack(name, args);
    },
    { calls: registry },
  );
}

function dependsOnNames(r: RecordedResource): string[] {
  const deps = r.opts.dependsOn;
  const list = Array.isArray(deps) ? deps : deps ? [deps] : [];
  return list.map((d) => (d as unknown as { __name: string }).__name);
}

describe("ComposeStack under mocks", () => {
  it("creates its children in order, named after it and parented to it", async () => {
    let stack: ComposeStack | undefined;
    const run = await runProgram(
      () => {
        stack = new ComposeStack("mnemosyne", mnemosyne());
      },
      { calls: registry },
    );
    expect(componentNames(run)).toEqual([
      "mnemosyne",
      // The docker provider that reads the registry (no daemon needed): images have no pinned digest.
      "mnemosyne-registry",
      "mnemosyne-directory",
      "mnemosyne-file-nginx-mnemosyne.conf",
      "mnemosyne-env",
      "mnemosyne-compose",
      "mnemosyne-up",
      "mnemosyne-task-migrate",
      "mnemosyne-task-service-user",
      "mnemosyne-task-signing-key",
    ]);
    expect(run.get("mnemosyne").type).toBe("fleet:compose:Stack");
    expect(run.get("mnemosyne-registry").type).toBe("pulumi:providers:docker");
    expect(run.get("mnemosyne-registry").inputs.disableDockerDaemonCheck).toBe("true");
    for (const r of run.resources.slice(2).filter((x) => !isHelperInstaller(x.name))) {
      expect(r.type).toBe("command:remote:Command");
      expect(r.parentName).toBe("mnemosyne");
    }
    expect(ownDependsOn(run.get("mnemosyne-file-nginx-mnemosyne.conf"))).toEqual(["mnemosyne-directory"]);
    expect(ownDependsOn(run.get("mnemosyne-env"))).toEqual(["mnemosyne-directory"]);
    expect(ownDependsOn(run.get("mnemosyne-compose"))).toEqual(["mnemosyne-directory", "mnemosyne-env", "mnemosyne-file-nginx-mnemosyne.conf"]);
    expect(dependsOnNames(run.get("mnemosyne-up"))).toEqual(["mnemosyne-compose", "mnemosyne-env", "mnemosyne-file-nginx-mnemosyne.conf"]);
    expect(stack!.composeFilePath).toBe("/opt/mnemosyne/docker-compose.yaml");
  });

  it("creates the directory and file subdirectories root-owned with mode 0750", async () => {
    const run = await deploy(mnemosyne());
    const create = bodyOf(run.get("mnemosyne-directory").inputs.create);
    expect(create).toContain("install -d -o 'root' -g 'root' -m '0750' '/opt/mnemosyne' '/opt/mnemosyne/nginx'");
  });

  it("writes .env as a secret on stdin, mode 0600, values single-quoted, validated by compose config", async () => {
    const run = await deploy(mnemosyne());
    const env = run.get("mnemosyne-env");
    expect(plain(env.inputs.stdin)).toBe(
      [
        "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.",
        "CELERY_BROKER_URL='amqp://mnemosyne:p%40ss@oberon.incus:5672/mnemosyne'",
        "DB_HOST='portia.incus'",
        "SECRET_KEY='django-secret'",
        "",
      ].join("\n"),
    );
    const stdin = await leaves(env.props!.stdin);
    expect(stdin.length).toBeGreaterThan(0);
    expect(stdin.every((l) => l.secret)).toBe(true);
    expect(env.inputs.logging).toBe("none");
    expect(env.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    const create = bodyOf(env.inputs.create);
    expect(managedFile(env)).toMatchObject({ target: "/opt/mnemosyne/.env", mode: "0600" });
    expect(env.file?.secret).toBe(true);
    expect(create).toContain(`${C} config -q`);
    expect(create).toContain("if [ ! -f '/opt/mnemosyne/docker-compose.yaml' ]; then echo 'fleet: /opt/mnemosyne/docker-compose.yaml not present yet; nothing to validate'");
    // No value is ever in the command text.
    expect(create).not.toContain("django-secret");
    expect(create).not.toContain("portia.incus");
  });

  it("always treats the env file as secret, even when no value is an Output", async () => {
    const run = await deploy(mnemosyne({ env: ENV }));
    const stdin = await leaves(run.get("mnemosyne-env").props!.stdin);
    expect(stdin.every((l) => l.secret)).toBe(true);
  });

  it("deploys the compose file with images pinned by digest: resolved from the registry, or as given", async () => {
    const asked: string[] = [];
    const run = await runProgram(
      () => {
        new ComposeStack("mnemosyne", mnemosyne());
      },
      {
        calls: {
        [REGISTRY]: (args) => {
          asked.push(String(args.name));
          return { id: String(args.name), name: args.name, sha256Digest: APP_DIGEST };
        },
        },
      },
    );
    expect(asked).toEqual(["git.helu.ca/r/mnemosyne:latest"]); // worker's digest is pinned: no lookup
    const compose = String(plain(run.get("mnemosyne-compose").inputs.stdin));
    expect(compose).toContain(`  app:\n    image: git.helu.ca/r/mnemosyne@${APP_DIGEST}\n`);
    expect(compose).toContain(`  worker:\n    image: git.helu.ca/r/mnemosyne@${PINNED_DIGEST}\n`);
    // Not listed in images: left as written.
    expect(compose).toContain("  static-init:\n    image: git.helu.ca/r/mnemosyne:latest\n");
    expect(compose).toContain("    image: nginx:alpine\n");
    // Everything else preserved: comments, anchors, escapes.
    expect(compose).toContain("# Mnemosyne (trimmed)");
    expect(compose).toContain("<<: *django-env");
    expect(compose).toContain("celery@$$HOSTNAME");
    expect(managedFile(run.get("mnemosyne-compose")).target).toBe("/opt/mnemosyne/docker-compose.yaml");
    // A new digest redeploys: the up script's revision line hashes the digests with the rest.
    const revision = (r: typeof run) => /\n# fleet revision: ([0-9a-f]{64})$/m.exec(bodyOf(plain(r.get("mnemosyne-up").inputs.create)))?.[1];
    expect(revision(run)).toMatch(/^[0-9a-f]{64}$/);
    const other = await runProgram(() => new ComposeStack("mnemosyne", mnemosyne()), {
      calls: { [REGISTRY]: (args) => ({ id: String(args.name), name: args.name, sha256Digest: `sha256:${"e".repeat(64)}` }) },
    });
    expect(revision(other)).toMatch(/^[0-9a-f]{64}$/);
    expect(revision(other)).not.toBe(revision(run));
  });

  it("uses an injected digest resolver instead of the registry", async () => {
    let stack: ComposeStack | undefined;
    await runProgram(() => {
      stack = new ComposeStack("mnemosyne", mnemosyne({ resolveDigest: (image) => (image.startsWith("git.helu.ca/") ? `sha256:${"c".repeat(64)}` : "nope") }));
    });
    expect(await unwrap(stack!.images)).toEqual({
      app: `git.helu.ca/r/mnemosyne@sha256:${"c".repeat(64)}`,
      worker: `git.helu.ca/r/mnemosyne@${PINNED_DIGEST}`,
    });
  });

  it("brings the project up under the compose lock, waits, and takes it down on delete without removing volumes", async () => {
    const run = await deploy(mnemosyne({ pull: true, wait: { timeoutSeconds: 120 } }));
    const up = run.get("mnemosyne-up");
    const create = bodyOf(plain(up.inputs.create));
    expect(create).toContain("exec 9>>'/run/lock/fleet-compose-mnemosyne.lock'");
    expect(create).toContain(`${C} pull -q`);
    expect(create).toContain(`${C} up -d --remove-orphans --wait --wait-timeout 120`);
    expect(create.indexOf("pull -q")).toBeLessThan(create.indexOf("up -d"));
    expect(create).toContain("--filter 'label=com.docker.compose.project=mnemosyne' --filter 'label=com.docker.compose.oneoff=False'");
    const del = bodyOf(up.inputs.delete);
    expect(del).toContain(`${C} down --remove-orphans`);
    expect(del).not.toMatch(/ -v\b|--volumes/);
    // A deploy change is an update of this command (a revision line in its script), never a
    // replacement: the replaced command's delete would take the project down after the new up.
    expect((plain(up.inputs.triggers) as unknown[]).map(plain)).toEqual(["host=puck"]); // another host replaces it
    expect(create).toMatch(/\n# fleet revision: [0-9a-f]{64}$/m);
    // The revision hashes the env file, derived from secrets: the script stays secret.
    expect((await leaves(up.props!.create)).every((l) => l.secret)).toBe(true);
  });

  it("adopt: a -adopt task under the compose lock before up, once per set of names (run for real in test/docker/adopt.test.ts)", async () => {
    const adopt = { containers: ["mnemosyne-app"], networks: ["mnemosyne_net"], backupDir: "/var/backups/adopted" };
    const run = await deploy(mnemosyne({ adopt }));
    const task = run.get("mnemosyne-adopt");
    expect(task.parentName).toBe("mnemosyne");
    expect(ownDependsOn(task)).toEqual(["mnemosyne-compose", "mnemosyne-env", "mnemosyne-file-nginx-mnemosyne.conf"]);
    expect(dependsOnNames(run.get("mnemosyne-up"))).toContain("mnemosyne-adopt");
    const create = bodyOf(plain(task.inputs.create));
    expect(create).toContain("exec 9>>'/run/lock/fleet-compose-mnemosyne.lock'");
    expect(create).toContain("for name in 'mnemosyne-app'; do");
    expect(create).toContain("for net in 'mnemosyne_net'; do");
    expect(create).toContain("dir='/var/backups/adopted'/\"$name-$(date -u +%Y%m%dT%H%M%SZ)\"");
    // A container already in the project is hand-made while up never kept a good deploy here
    // (real Docker: test/docker/peregrine-adopt.test.ts); without the wait there is no such file.
    expect(create).toContain("    [ ! -f '/opt/mnemosyne/.fleet/last-good.yaml' ] || continue\n");
    const unwaited = bodyOf(plain((await deploy(mnemosyne({ adopt, wait: { timeoutSeconds: 0 } }))).get("mnemosyne-adopt").inputs.create));
    expect(unwaited).not.toContain("last-good");
    expect(unwaited).toContain('  [ "$owner" != \'mnemosyne\' ] || continue\n');
    // Without adopt there is no such child, and up depends on what it did before.
    const plainRun = await deploy(mnemosyne());
    expect(plainRun.find("mnemosyne-adopt")).toBeUndefined();
    expect(dependsOnNames(plainRun.get("mnemosyne-up"))).toEqual(["mnemosyne-compose", "mnemosyne-env", "mnemosyne-file-nginx-mnemosyne.conf"]);
  });

  it("polls docker inspect instead of --wait on docker-compose v1 hosts", async () => {
    const run = await deploy(mnemosyne({ host: testHost("puck", { compose: "docker-compose" }) }));
    const create = bodyOf(plain(run.get("mnemosyne-up").inputs.create));
    expect(create).toContain("docker-compose --project-name 'mnemosyne'");
    expect(create).not.toContain("--wait");
    expect(create).toContain("docker inspect --format");
    expect(create).toContain("deadline=$(( $(date +%s) + 300 ))");
  });

  it("runs tasks in order after up, each depending on the previous one", async () => {
    const run = await deploy(mnemosyne());
    expect(dependsOnNames(run.get("mnemosyne-task-migrate"))).toEqual(["mnemosyne-up"]);
    expect(dependsOnNames(run.get("mnemosyne-task-service-user"))).toEqual(["mnemosyne-task-migrate"]);
    expect(dependsOnNames(run.get("mnemosyne-task-signing-key"))).toEqual(["mnemosyne-task-service-user"]);
    const migrate = run.get("mnemosyne-task-migrate");
    expect(bodyOf(migrate.inputs.create)).toContain(`cd '/opt/mnemosyne'\n${C} 'run' '--rm' '-T' 'app' 'migrate' </dev/null`);
    // Re-runs on every deploy: it carries the deploy's triggers (no delete: replacing it is running it).
    const triggers = (plain(migrate.inputs.triggers) as unknown[]).map(plain);
    expect(triggers).toHaveLength(4);
    expect(triggers[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("passes task secrets on stdin only, referenced as shell variables", async () => {
    const run = await deploy(mnemosyne());
    const task = run.get("mnemosyne-task-service-user");
    const create = bodyOf(task.inputs.create);
    expect(create).toContain("'--username' 'daedalus-service' '--password' \"$PASSWORD\" </dev/null");
    expect(create).toContain("IFS= read -r __line");
    expect(create).not.toContain("s3rvice");
    // The run's fingerprint (scripts.ts RunStamp), then one base64 line per secret.
    expect(plain(task.inputs.stdin)).toMatch(new RegExp(`^[0-9a-f]{64}\\n${Buffer.from("s3rvice pass'word").toString("base64")}\\n$`));
    expect((await leaves(task.props!.stdin)).every((l) => l.secret)).toBe(true);
    expect(task.inputs.logging).toBe("none");
  });

  it("runs once-tasks exactly once and keeps captured stdout secret", async () => {
    let stack: ComposeStack | undefined;
    const run = await runProgram(
      () => {
        stack = new ComposeStack("mnemosyne", mnemosyne());
      },
      { calls: registry },
    );
    const key = run.get("mnemosyne-task-signing-key");
    expect(key.opts.ignoreChanges).toEqual(["create", "update", "delete", "stdin", "triggers", "connection"]);
    expect(key.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
    expect(key.inputs.logging).toBe("none");
    expect(key.inputs.triggers).toBeUndefined(); // once: no re-run on deploy
    expect(run.get("mnemosyne-task-migrate").opts.ignoreChanges).toBeUndefined();
    expect(Object.keys(stack!.taskOutputs)).toEqual(["signing-key"]);
    expect(await pulumi.isSecret(stack!.taskOutputs["signing-key"]!)).toBe(true);
  });

  it("replaces mounted files in place and restarts the services that read them", async () => {
    const run = await deploy(mnemosyne());
    const file = run.get("mnemosyne-file-nginx-mnemosyne.conf");
    const create = bodyOf(file.inputs.create);
    expect(file.inputs.stdin).toBe("server { listen 80; }\n");
    expect(managedFile(file)).toMatchObject({ target: "/opt/mnemosyne/nginx/mnemosyne.conf", mode: "0644" });
    expect(file.file?.target.inPlace).toBe(true); // same inode
    expect(create).toContain(`cd '/opt/mnemosyne' && ${C} restart 'web'`);
  });

  it("names compose.cloud.yml explicitly for a project like peregrine-cloud", async () => {
    const run = await deploy(
      {
        host: testHost("menagerie"),
        project: "peregrine-cloud",
        directory: "/opt/peregrine-cloud",
        composeFile: "compose.cloud.yml",
        compose: { content: "services:\n  app:\n    image: peregrine:latest\n    environment:\n      CLOUD_MODE: 'true'\n      CF_SERVER_SECRET: ${CF_SERVER_SECRET:?set it}\n" },
        env: { CF_SERVER_SECRET: pulumi.secret("x") },
      },
      "peregrine-cloud",
    );
    const create = bodyOf(plain(run.get("peregrine-cloud-up").inputs.create));
    expect(create).toContain(
      "docker compose --project-name 'peregrine-cloud' --project-directory '/opt/peregrine-cloud' -f '/opt/peregrine-cloud/compose.cloud.yml' --env-file '/opt/peregrine-cloud/.env' up -d",
    );
    expect(managedFile(run.get("peregrine-cloud-compose")).target).toBe("/opt/peregrine-cloud/compose.cloud.yml");
  });

  it("supports the Daedalus dev variant: built services, its own env file name, an app-owned directory, extra triggers", async () => {
    const run = await deploy(
      {
        host: testHost("puck"),
        project: "daedalus",
        directory: "/srv/daedalus",
        directoryMode: "0755",
        directoryOwner: { user: "daedalus", group: "daedalus" },
        envFile: ".compose.env",
        compose: { content: "services:\n  api:\n    build: ./backend\n  nginx:\n    image: nginx:alpine\n    ports: ['22181:80']\n" },
        images: { nginx: { image: "nginx:alpine", digest: PINNED_DIGEST } },
        build: true,
        triggers: ["https://git.helu.ca/r/daedalus.git#v1.2.0"],
      },
      "daedalus-dev",
    );
    expect(bodyOf(run.get("daedalus-dev-directory").inputs.create)).toContain("install -d -o 'daedalus' -g 'daedalus' -m '0755' '/srv/daedalus'");
    expect(managedFile(run.get("daedalus-dev-env")).target).toBe("/srv/daedalus/.compose.env");
    const up = bodyOf(plain(run.get("daedalus-dev-up").inputs.create));
    expect(up).toContain("--env-file '/srv/daedalus/.compose.env' up -d --remove-orphans --build --wait --wait-timeout 300");
    expect(up).toMatch(/\n# fleet revision: [0-9a-f]{64}$/m); // the extra trigger is hashed into it
  });

  it("fails on a ${VAR} env does not provide, naming the variable and the service, before registering anything", async () => {
    const { CELERY_BROKER_URL: _dropped, ...env } = ENV;
    const r = await refused(() => new ComposeStack("mnemosyne", mnemosyne({ env })), { calls: registry });
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(
      'ComposeStack "mnemosyne": env/CELERY_BROKER_URL: is referenced without a default by service "app" (services/app/environment/CELERY_BROKER_URL: ${CELERY_BROKER_URL}) but env does not set it (compose would substitute an empty string); add CELERY_BROKER_URL to env or write ${CELERY_BROKER_URL:-default}',
    );
  });

  it("lists every missing variable with every place that needs it", async () => {
    const r = await refused(() => new ComposeStack("mnemosyne", mnemosyne({ env: { DB_HOST: "portia.incus" }, images: {} })));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain('ComposeStack "mnemosyne" has 2 problems:');
    expect(r.message).toContain(
      '  - env/SECRET_KEY: is referenced without a default by section "x-django-env" (x-django-env/SECRET_KEY: ${SECRET_KEY}), service "app" (services/app/environment/SECRET_KEY: ${SECRET_KEY}), service "worker" (services/worker/environment/SECRET_KEY: ${SECRET_KEY}) but env does not set it',
    );
    expect(r.message).toContain("  - env/CELERY_BROKER_URL: is referenced without a default by service \"app\"");
  });

  it("fails when a service in images is not in the compose file, before registering anything", async () => {
    const r = await refused(() => new ComposeStack("mnemosyne", mnemosyne({ images: { appp: { image: "git.helu.ca/r/mnemosyne:latest", digest: PINNED_DIGEST } } })));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe('ComposeStack "mnemosyne": images/appp: service "appp" is not in the compose file (services: static-init, app, worker, web)');
  });
});

describe("ComposeStack refuses hostile input with the exact rule and registers nothing", () => {
  const cases: [string, Partial<ComposeStackArgs>, string][] = [
    ["project with shell", { project: "x'; rm -rf / #" }, "project: must start with a lowercase letter and contain only a-z, 0-9 and '-'"],
    ["directory with $(id)", { directory: "/opt/$(id)" }, "directory: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)"],
    ["directory /", { directory: "/opt" }, "directory: must be a dedicated directory at least two levels deep, such as /opt/app"],
    ["directory mode", { directoryMode: "777" }, "directoryMode: must be an octal mode such as 0644 or 0600"],
    ["env key with a space", { env: { ...ENV, "A B": "x" } }, "env/A B: must be an environment variable name: A-Z, 0-9 and '_'"],
    ["env value with a newline", { env: { ...ENV, DB_HOST: "portia\nEVIL=1" } }, "env/DB_HOST: must be one line without control characters"],
    ["env value with a single quote", { env: { ...ENV, DB_HOST: "it's" } }, "env/DB_HOST: must not contain a single quote (env values are single-quoted)"],
    ["image with a shell suffix", { images: { web: { image: "nginx:alpine; id" } } }, "images/web/image: must be an image reference such as registry.example.com/app:1.2 or app@sha256:<64 hex>"],
    ["image with a digest", { images: { web: { image: `nginx@${APP_DIGEST}` } } }, "images/web/image: must not contain a digest; set digest instead"],
    ["digest not 64 hex", { images: { app: { image: "git.helu.ca/r/mnemosyne:latest", digest: "sha256:abc" } } }, "images/app/digest: must be sha256:<64 hex digits>"],
    ["service name with shell", { images: { "a;b": { image: "nginx:alpine" } } }, "images/a;b: must be a compose service name: letters, digits, '_', '.' and '-', starting with a letter or digit"],
    [
      "git ref as an option",
      { compose: { git: { url: "https://git.helu.ca/r/mnemosyne.git", ref: "--upload-pack=x", path: "docker-compose.yaml" } } },
      "has 2 problems:\n  - compose/git/ref: must be a git branch, tag or commit of letters, digits and . _ / -\n  - compose/git/ref: must be a valid git ref (no leading '-', no '..', no trailing '/' or '.lock')",
    ],
    ["git url with $(id)", { compose: { git: { url: "https://git.helu.ca/$(id)", ref: "v1", path: "docker-compose.yaml" } } }, "compose/git/url: must be an https:// or ssh git URL without spaces or shell metacharacters, no part starting with '-' (git would read it as an option)"],
    ["git path escaping the repo", { compose: { git: { url: "https://git.helu.ca/r/mnemosyne.git", ref: "v1", path: "../../etc/shadow" } } }, "compose/git/path: must not contain '.' or '..' segments"],
    ["both content and git", { compose: { content: COMPOSE, git: { url: "https://git.helu.ca/r/m.git", ref: "v1", path: "c.yaml" } } }, "compose: give exactly one of content or git"],
    ["file path ../etc/passwd", { files: [{ path: "../etc/passwd", content: "x" }] }, "files/0/path: must be a relative path such as nginx/app.conf: segments of letters, digits, '.', '_', '-', none starting with '.' or '-', no leading '/'"],
    [
      "file path .env",
      { files: [{ path: ".env", content: "x" }] },
      "has 2 problems:\n  - files/0/path: must be a relative path such as nginx/app.conf: segments of letters, digits, '.', '_', '-', none starting with '.' or '-', no leading '/'\n  - files/0/path: is the env file itself (envFile: .env)",
    ],
    ["file over the compose file", { files: [{ path: "docker-compose.yaml", content: "x" }] }, "files/0/path: is the compose file itself (composeFile: docker-compose.yaml)"],
    ["env file over the compose file", { envFile: "docker-compose.yaml" }, "envFile: must differ from composeFile (docker-compose.yaml)"],
    ["adopt: a container name with shell", { adopt: { containers: ["x; rm -rf /"], backupDir: "/var/backups" } }, "adopt/containers/0: must be a container name: a letter or digit, then letters, digits and _ . -"],
    ["adopt: a relative backup directory", { adopt: { containers: ["app"], backupDir: "backups" } }, "adopt/backupDir: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)"],
    ["env file name with a slash", { envFile: "../.env" }, "envFile: must be a file name such as .env or .compose.env (letters, digits, '.', '_', '-')"],
    ["directory owner with shell", { directoryOwner: { user: "root;id", group: "root" } }, "directoryOwner/user: must start with a lowercase letter or '_' and contain only a-z, 0-9, '_' and '-'"],
    ["compose file name with a slash", { composeFile: "../x.yml" }, "composeFile: must be a file name ending in .yaml or .yml (letters, digits, '.', '_', '-'), such as compose.cloud.yml"],
    ["task argv with a newline", { tasks: [{ name: "migrate", run: ["run", "--rm", "app", "migrate\nrm -rf /"] }] }, "tasks/0/run/3: must be one line without control characters (newlines, tabs, NUL)"],
    ["task argv starting with an option", { tasks: [{ name: "migrate", run: ["-f", "/etc/other.yml", "up"] }] }, "tasks/0/run/0: must be a compose subcommand such as run, exec or restart (global options are set by the stack)"],
    ["task name with shell", { tasks: [{ name: "$(id)", run: ["ps"] }] }, "tasks/0/name: must start with a lowercase letter and contain only a-z, 0-9 and '-'"],
    ["task secret named PATH", { tasks: [{ name: "t", run: ["run", "app", { secret: "PATH" }], secrets: { PATH: "x" } }] }, "tasks/0/secrets/PATH: must not be a variable the shell, docker or compose relies on (PATH, HOME, IFS, LC_*, DOCKER_*, COMPOSE_*, __*)"],
    ["task secret not declared", { tasks: [{ name: "t", run: ["run", "app", { secret: "PASSWORD" }] }] }, "tasks/0/run/2/secret: names no secret; declare secrets.PASSWORD"],
    ["restart of an unknown service", { files: [{ path: "nginx/m.conf", content: "x", restart: ["nginx"] }] }, 'files/0/restart/0: service "nginx" is not in the compose file (services: static-init, app, worker, web)'],
    ["wait timeout out of range", { wait: { timeoutSeconds: -1 } }, "wait/timeoutSeconds: must be between 0 and 3600 seconds"],
    ["unknown key", { volumes: true } as unknown as Partial<ComposeStackArgs>, '(root): unknown key "volumes"; remove or rename it'],
  ];

  it.each(cases)("%s", async (_label, extra, message) => {
    const r = await refused(() => new ComposeStack("mnemosyne", mnemosyne(extra)), { calls: registry });
    expect(r.run.resources).toEqual([]);
    expect(r.message).toBe(`ComposeStack "mnemosyne"${message.startsWith("has ") ? " " : ": "}${message}`);
  });

  it("reports every problem at once", async () => {
    const r = await refused(() => new ComposeStack("bad", mnemosyne({ project: "x'; rm -rf / #", directory: "/opt/$(id)", env: { "A B": "x" } })));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain('ComposeStack "bad" has 3 problems:');
  });
});

/**
 * Like runProgram, but the `-source` command "prints" `sourceStdout`, as the git fetch
 * does on the host (runProgram's mocks give every command an empty stdout).
 */
async function runWithSource(args: ComposeStackArgs, sourceStdout: string) {
  const inputs = new Map<string, Record<string, unknown>>();
  const order: { name: string; opts: pulumi.CustomResourceOptions }[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(a: pulumi.runtime.MockResourceArgs) {
        inputs.set(a.name, a.inputs as Record<string, unknown>);
        return { id: `${a.name}-id`, state: { ...(a.inputs as Record<string, unknown>), stdout: a.name.endsWith("-source") ? sourceStdout : "", stderr: "" } };
      },
      call(a: pulumi.runtime.MockCallArgs) {
        const fn = registry[a.token as keyof typeof registry];
        if (!fn) throw new Error(`Mock not implemented: ${a.token}`);
        return fn(a.inputs as Record<string, unknown>);
      },
    },
    "fleet",
    "test",
    false,
  );
  let stack: ComposeStack | undefined;
  await pulumi.runtime.runInPulumiStack(() => {
    pulumi.runtime.registerStackTransformation((t) => {
      order.push({ name: t.name, opts: t.opts });
      return undefined;
    });
    stack = new ComposeStack("peregrine-cloud", args);
    return Promise.resolve(undefined);
  });
  return { inputs, order, stack: stack! };
}

/**
 * Run `body` with this process's unhandled-rejection listeners swapped for a recorder.
 * A failed check inside `apply` rejects the inputs of the resources that use the
 * value; the Pulumi engine reports those, under mocks nobody awaits them.
 */
async function capturingRejections(body: () => Promise<void>, settleMs = 300): Promise<string[]> {
  const saved = process.listeners("unhandledRejection");
  const seen: string[] = [];
  const recorder = (reason: unknown) => seen.push(reason instanceof Error ? reason.message : String(reason));
  process.removeAllListeners("unhandledRejection");
  process.on("unhandledRejection", recorder);
  try {
    await body();
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    process.removeListener("unhandledRejection", recorder);
    for (const l of saved) process.on("unhandledRejection", l);
  }
  return seen;
}

describe("ComposeStack with the compose file in a git repository", () => {
  const file = "# in the peregrine repo\nservices:\n  app:\n    image: peregrine:latest\n    environment:\n      CLOUD_MODE: 'true'\n      CF_SERVER_SECRET: ${CF_SERVER_SECRET}\n";
  const args: ComposeStackArgs = {
    host: testHost("menagerie"),
    project: "peregrine-cloud",
    directory: "/opt/peregrine-cloud",
    composeFile: "compose.cloud.yml",
    compose: { git: { url: "https://git.circuitforge.tech/pyr0ball/peregrine.git", ref: "v2.3.0", path: "compose.cloud.yml", sparse: true } },
    env: { CF_SERVER_SECRET: pulumi.secret("abc") },
    images: { app: { image: "peregrine:latest" } },
  };

  it("fetches the pinned ref on the host, then deploys the fetched file pinned, after the fetch", async () => {
    const { inputs, order, stack } = await runWithSource(args, Buffer.from(file).toString("base64"));
    const content = String(await unwrap(stack.composeContent));
    for (let i = 0; i < 100 && !inputs.has("peregrine-cloud-up"); i++) await new Promise((r) => setTimeout(r, 10));
    expect(order.map((o) => o.name).filter((n) => !isHelperInstaller(n))).toEqual([
      "peregrine-cloud",
      "peregrine-cloud-registry",
      "peregrine-cloud-directory",
      "peregrine-cloud-source",
      "peregrine-cloud-env",
      "peregrine-cloud-compose",
      "peregrine-cloud-up",
    ]);
    const source = inputs.get("peregrine-cloud-source")!;
    const body = bodyOf(source.create);
    // The one checkout (run for real in test/remote/checkout.test.ts), sparse, into .src.
    expect(body).toContain(gitCheckoutLines({ url: "https://git.circuitforge.tech/pyr0ball/peregrine.git", ref: "v2.3.0", directory: "/opt/peregrine-cloud/.src", sparsePath: "compose.cloud.yml" }).join("\n"));
    expect(source.triggers).toEqual(["https://git.circuitforge.tech/pyr0ball/peregrine.git", "v2.3.0", "compose.cloud.yml", true, "host=menagerie"]);
    expect(bodyOf(source.delete)).toContain("rm -rf '/opt/peregrine-cloud/.src'");
    expect(content).toBe(file.replace("image: peregrine:latest", `image: peregrine@${APP_DIGEST}`));
    expect(plain(inputs.get("peregrine-cloud-compose")!.stdin)).toBe(content);
    const deps = (n: string) => dependsOnNames({ opts: order.find((o) => o.name === n)!.opts } as RecordedResource).filter((d) => !isHelperInstaller(d));
    expect(deps("peregrine-cloud-env")).toEqual(["peregrine-cloud-directory", "peregrine-cloud-source"]);
    expect(deps("peregrine-cloud-compose")).toEqual(["peregrine-cloud-directory", "peregrine-cloud-env", "peregrine-cloud-source"]);
  });

  it("fails on a ${VAR} the fetched file needs and env lacks, naming it and the service, and writes neither .env nor the compose file", async () => {
    const needs = file.replace("CF_SERVER_SECRET: ${CF_SERVER_SECRET}", "CF_SERVER_SECRET: ${CF_SERVER_SECRET}\n      PLATFORM_DB_URL: ${PLATFORM_DB_URL}");
    let inputs = new Map<string, Record<string, unknown>>();
    const errors = await capturingRejections(async () => {
      ({ inputs } = await runWithSource(args, Buffer.from(needs).toString("base64")));
    });
    const message =
      'ComposeStack "peregrine-cloud": env/PLATFORM_DB_URL: is referenced without a default by service "app" (services/app/environment/PLATFORM_DB_URL: ${PLATFORM_DB_URL}) but env does not set it (compose would substitute an empty string); add PLATFORM_DB_URL to env or write ${PLATFORM_DB_URL:-default}';
    expect(errors.length).toBeGreaterThan(0);
    // The engine wraps it with the property it was serializing ("error serializing property \"stdin\": ...").
    expect(errors.every((e) => e.endsWith(message))).toBe(true);
    // Only the directory and the fetch reached the engine: no .env, no compose file, no up.
    expect([...inputs.keys()].filter((n) => n.startsWith("peregrine-cloud-")).sort()).toEqual(["peregrine-cloud-directory", "peregrine-cloud-registry", "peregrine-cloud-source"]);
  });

  it("checks Output inline content the same way, inside apply", async () => {
    let inputs = new Map<string, Record<string, unknown>>();
    const errors = await capturingRejections(async () => {
      ({ inputs } = await runWithSource({ ...args, compose: { content: pulumi.output("services:\n  app:\n    image: x:1\n    command: echo ${MISSING}\n") } }, ""));
    });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => e.endsWith('ComposeStack "peregrine-cloud": env/MISSING: is referenced without a default by service "app" (services/app/command: ${MISSING}) but env does not set it (compose would substitute an empty string); add MISSING to env or write ${MISSING:-default}'))).toBe(true);
    expect(inputs.has("peregrine-cloud-compose")).toBe(false);
    expect(inputs.has("peregrine-cloud-env")).toBe(false);
  });
});
