import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  findComposeVariables,
  findVariablesInString,
  imageRepository,
  isSecretName,
  missingComposeVariables,
  missingInString,
  pinImages,
  pinnedImage,
  prepareCompose,
  renderEnvFile,
} from "../../src/components/compose";
import { expectValid, tempTree } from "../helpers/validators";

const DIGEST = `sha256:${"1".repeat(64)}`;
const BANNER = "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.";

/** Mnemosyne's compose file as its deploy doc describes it (§1, §4, §5). */
const MNEMOSYNE = `# Mnemosyne: app, mcp, worker and web from one image; static-init seeds the static volume.
x-django-env: &django-env
  SECRET_KEY: \${SECRET_KEY}
  DEBUG: \${DEBUG:-False}
  TIME_ZONE: \${TIME_ZONE:-UTC}
  LANGUAGE_CODE: \${LANGUAGE_CODE:-en-us}
  ALLOWED_HOSTS: \${ALLOWED_HOSTS}
  APP_DB_NAME: \${APP_DB_NAME}
  APP_DB_USER: \${APP_DB_USER}
  APP_DB_PASSWORD: \${APP_DB_PASSWORD}
  DB_HOST: \${DB_HOST}
  DB_PORT: \${DB_PORT:-5432}
  NEOMODEL_NEO4J_BOLT_URL: \${NEOMODEL_NEO4J_BOLT_URL}
  KVDB_LOCATION: \${KVDB_LOCATION}
  KVDB_PREFIX: \${KVDB_PREFIX:-mnemosyne}
  USE_LOCAL_STORAGE: \${USE_LOCAL_STORAGE:-False}
  AWS_ACCESS_KEY_ID: \${AWS_ACCESS_KEY_ID}
  AWS_SECRET_ACCESS_KEY: \${AWS_SECRET_ACCESS_KEY}
  AWS_STORAGE_BUCKET_NAME: \${AWS_STORAGE_BUCKET_NAME}
  AWS_S3_ENDPOINT_URL: \${AWS_S3_ENDPOINT_URL}
  AWS_S3_USE_SSL: \${AWS_S3_USE_SSL:-True}
  AWS_S3_VERIFY: \${AWS_S3_VERIFY:-False}
  AWS_S3_REGION_NAME: \${AWS_S3_REGION_NAME:-us-east-1}
  LOGGING_LEVEL: \${LOGGING_LEVEL:-INFO}
  DJANGO_LOGGING_LEVEL: \${DJANGO_LOGGING_LEVEL:-WARNING}
  CELERY_LOGGING_LEVEL: \${CELERY_LOGGING_LEVEL:-INFO}

x-app: &app
  image: git.helu.ca/r/mnemosyne:latest
  restart: unless-stopped

services:
  static-init:
    image: git.helu.ca/r/mnemosyne:latest
    command: ["sh", "-c", "cp -a /app/staticfiles/. /static/"]
    volumes:
      - static:/static
    restart: "no"

  app:
    <<: *app
    command: ["gunicorn", "mnemosyne.wsgi:application", "--bind", "0.0.0.0:8000"]
    environment:
      <<: *django-env
      CSRF_TRUSTED_ORIGINS: \${CSRF_TRUSTED_ORIGINS}
      CELERY_BROKER_URL: \${CELERY_BROKER_URL}
      CELERY_RESULT_BACKEND: \${CELERY_RESULT_BACKEND:-rpc://}
      CELERY_TASK_ALWAYS_EAGER: \${CELERY_TASK_ALWAYS_EAGER:-False}
      LLM_API_SECRETS_ENCRYPTION_KEY: \${LLM_API_SECRETS_ENCRYPTION_KEY}
      EMAIL_HOST: \${EMAIL_HOST}
      EMAIL_PORT: \${EMAIL_PORT:-22025}
      EMAIL_USE_TLS: \${EMAIL_USE_TLS:-False}
      SEARCH_VECTOR_TOP_K: \${SEARCH_VECTOR_TOP_K:-50}
      RERANKER_TIMEOUT: \${RERANKER_TIMEOUT:-30}
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8000/live/"]
      interval: 30s
      timeout: 10s
      retries: 3
      start_period: 40s

  mcp:
    <<: *app
    command: ["uvicorn", "mnemosyne.mcp:app", "--host", "0.0.0.0", "--port", "8001"]
    environment:
      <<: *django-env
      MCP_REQUIRE_AUTH: \${MCP_REQUIRE_AUTH:-True}
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:8001/mcp/health"]
      interval: 30s
      timeout: 10s
      retries: 3

  worker:
    <<: *app
    command: ["celery", "-A", "mnemosyne", "worker", "-Q", "\${CELERY_QUEUES:-celery,embedding,batch}", "-c", "\${CELERY_CONCURRENCY:-2}"]
    environment:
      <<: *django-env
      CELERY_BROKER_URL: \${CELERY_BROKER_URL}
      LLM_API_SECRETS_ENCRYPTION_KEY: \${LLM_API_SECRETS_ENCRYPTION_KEY}
      DAEDALUS_S3_ENDPOINT_URL: \${DAEDALUS_S3_ENDPOINT_URL}
      DAEDALUS_S3_ACCESS_KEY_ID: \${DAEDALUS_S3_ACCESS_KEY_ID}
      DAEDALUS_S3_SECRET_ACCESS_KEY: \${DAEDALUS_S3_SECRET_ACCESS_KEY}
      DAEDALUS_S3_BUCKET_NAME: \${DAEDALUS_S3_BUCKET_NAME:-daedalus}
      EMBEDDING_BATCH_SIZE: \${EMBEDDING_BATCH_SIZE:-8}
    healthcheck:
      test: ["CMD-SHELL", "celery -A mnemosyne inspect ping -d celery@$$HOSTNAME"]
      interval: 30s
      timeout: 10s
      retries: 3

  web:
    image: nginx:alpine
    ports:
      - "23181:80"
    volumes:
      - ./nginx/mnemosyne.conf:/etc/nginx/conf.d/default.conf:ro
      - static:/static:ro
    depends_on:
      app:
        condition: service_healthy
      mcp:
        condition: service_healthy
      static-init:
        condition: service_completed_successfully
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost/live/"]
      interval: 30s
      timeout: 10s
      retries: 3
    restart: unless-stopped

volumes:
  static:
`;

/** The .env the stack writes for it (secrets are placeholders with awkward characters). */
const MNEMOSYNE_ENV: Record<string, string> = {
  SECRET_KEY: "dj$ango#key with spaces \"and\" \\backslash",
  ALLOWED_HOSTS: "localhost,127.0.0.1,mnemosyne.ouranos.helu.ca",
  CSRF_TRUSTED_ORIGINS: "https://mnemosyne.ouranos.helu.ca",
  APP_DB_NAME: "mnemosyne",
  APP_DB_USER: "mnemosyne",
  APP_DB_PASSWORD: "p@ss:w/rd$1",
  DB_HOST: "portia.incus",
  NEOMODEL_NEO4J_BOLT_URL: "bolt://neo4j:n%40o4j@umbriel.incus:7687",
  KVDB_LOCATION: "oberon.incus:11211",
  AWS_ACCESS_KEY_ID: "mnemosyne",
  AWS_SECRET_ACCESS_KEY: "s3cr3t",
  AWS_STORAGE_BUCKET_NAME: "mnemosyne-content",
  AWS_S3_ENDPOINT_URL: "https://nyx.helu.ca:8555",
  CELERY_BROKER_URL: "amqp://mnemosyne:r%40bbit@oberon.incus:5672/mnemosyne",
  LLM_API_SECRETS_ENCRYPTION_KEY: "fernet-key=",
  EMAIL_HOST: "oberon.incus",
  DAEDALUS_S3_ENDPOINT_URL: "https://nyx.helu.ca:8555",
  DAEDALUS_S3_ACCESS_KEY_ID: "daedalus-ro",
  DAEDALUS_S3_SECRET_ACCESS_KEY: "ro-secret",
};

const NGINX = "server {\n    listen 80;\n    location / { proxy_pass http://app:8000; }\n}\n";

/**
 * `docker-compose config` (v1.29, the tool installed here) on a project directory.
 * `output` is stdout, `warnings` stderr (compose warns there about unset variables).
 */
function composeConfig(dir: string, args: readonly string[] = ["-q"], file = "docker-compose.yaml"): { code: number; output: string; warnings: string } {
  const argv = ["--project-name", "fleet-test", "--project-directory", dir, "-f", `${dir}/${file}`, "--env-file", `${dir}/.env`, "config", ...args];
  const r = spawnSync("docker-compose", argv, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`validator "docker-compose" could not run: ${r.error.message}`);
  return { code: r.status ?? 1, output: r.status === 0 ? r.stdout : `${r.stdout}${r.stderr}`, warnings: r.stderr };
}

describe("renderEnvFile", () => {
  it("writes sorted KEY='value' lines under a banner, one trailing newline", () => {
    expect(renderEnvFile({ B: "two words", A: "1", C: "" })).toBe(`${BANNER}\nA='1'\nB='two words'\nC=''\n`);
  });

  it("keeps $, #, double quotes and backslashes literal inside single quotes", () => {
    expect(renderEnvFile({ K: `a$b #c "d" \\e` })).toBe(`${BANNER}\nK='a$b #c "d" \\e'\n`);
  });

  it("is empty but valid for no variables", () => {
    expect(renderEnvFile({})).toBe(`${BANNER}\n`);
  });

  it.each([
    [{ SECRET_KEY: "it's" }, 'ComposeStack "m": env/SECRET_KEY: must not contain a single quote (env values are single-quoted)'],
    [{ SECRET_KEY: "line1\nline2" }, 'ComposeStack "m": env/SECRET_KEY: must be one line without control characters'],
    [{ SECRET_KEY: "cr\r" }, 'ComposeStack "m": env/SECRET_KEY: must be one line without control characters'],
    [{ "A B": "x" }, "ComposeStack \"m\": env/A B: must be an environment variable name: A-Z, 0-9 and '_'"],
    [{ lower: "x" }, "ComposeStack \"m\": env/lower: must be an environment variable name: A-Z, 0-9 and '_'"],
  ])("refuses %j naming the key", (env, message) => {
    expect(() => renderEnvFile(env, 'ComposeStack "m"')).toThrow(message);
  });

  it("lists every bad key at once", () => {
    expect(() => renderEnvFile({ A: "'", B: "\n" }, "S")).toThrow("S has 2 problems:\n  - env/A: must not contain a single quote (env values are single-quoted)\n  - env/B: must be one line without control characters");
  });

  it("refuses a trailing backslash: it would escape the closing quote", () => {
    expect(() => renderEnvFile({ K: "abc\\" }, "S")).toThrow("S: env/K: must not end with a backslash (it would escape the closing quote)");
  });

  it("refuses what docker-compose v1 would still expand inside single quotes, and only for v1", () => {
    expect(() => renderEnvFile({ K: "a${B}c", L: "x\\\\y" }, "S", "docker-compose")).toThrow(
      "S has 2 problems:\n  - env/K: must not contain '${' on a docker-compose v1 host (it expands ${...} even inside single quotes)\n  - env/L: must not contain '\\\\' on a docker-compose v1 host (it reads it as one backslash)",
    );
    expect(renderEnvFile({ K: "a${B}c", L: "x\\\\y" }, "S", "docker compose")).toBe(`${BANNER}\nK='a\${B}c'\nL='x\\\\y'\n`);
  });

  it("is read back literally by docker-compose v1 (quoting checked by the real tool)", () => {
    const env = { V1: MNEMOSYNE_ENV.SECRET_KEY!, V2: MNEMOSYNE_ENV.APP_DB_PASSWORD!, V3: "$NOT_EXPANDED and $(id) and `id`", V4: "", V5: "a=b; c|d & e > f" };
    const dir = tempTree({
      "docker-compose.yaml": "services:\n  t:\n    image: busybox\n    environment:\n      V1: ${V1}\n      V2: ${V2}\n      V3: ${V3}\n      V4: ${V4}\n      V5: ${V5}\n",
      ".env": renderEnvFile(env, "env", "docker-compose"),
    });
    const out = composeConfig(dir, []);
    expectValid(out, "compose with .env");
    const parsed = parse(out.output) as { services: { t: { environment: Record<string, string> } } };
    // `config` re-escapes `$` as `$$` in its output; unescape to compare.
    const seen = Object.fromEntries(Object.entries(parsed.services.t.environment).map(([k, v]) => [k, String(v ?? "").replace(/\$\$/g, "$")]));
    expect(seen).toEqual(env);
  });
});

describe("variable references in a string", () => {
  const refs = (s: string) => findVariablesInString(s).references.map((r) => `${r.name}:${r.kind}${r.conditional ? ":cond" : ""}`);
  const invalid = (s: string) => findVariablesInString(s).invalid.map((i) => i.expression);

  it.each([
    ["$VAR", ["VAR:plain"]],
    ["${VAR}", ["VAR:plain"]],
    ["pre-${VAR}-post", ["VAR:plain"]],
    ["$VAR_2x/$OTHER", ["VAR_2x:plain", "OTHER:plain"]],
    ["$$VAR", []],
    ["$${VAR}", []],
    ["$$$VAR", ["VAR:plain"]],
    ["$$$$VAR", []],
    ["${VAR:-x}", ["VAR:default"]],
    ["${VAR-x}", ["VAR:default"]],
    ["${VAR:-}", ["VAR:default"]],
    ["${VAR:?}", ["VAR:required"]],
    ["${VAR?must be set}", ["VAR:required"]],
    ["${VAR:?need ${OTHER}}", ["VAR:required"]],
    ["${VAR:+alt}", ["VAR:alternate"]],
    ["${VAR+${ALT}}", ["VAR:alternate", "ALT:plain:cond"]],
    ["${VAR:-${FALLBACK:-${LAST}}}", ["VAR:default", "FALLBACK:default:cond", "LAST:plain:cond"]],
    ["price: 5$ or $1 or $ alone", []],
    ["celery@$$HOSTNAME", []],
    ["lower ${lower_case}", ["lower_case:plain"]],
    ["no variables at all", []],
  ])("%s", (text, expected) => {
    expect(refs(text)).toEqual(expected);
    expect(invalid(text)).toEqual([]);
  });

  it.each([["${}"], ["${1ABC}"], ["${VAR"], ["${VAR:x}"], ["${VAR!}"], ["${ VAR}"]])("%s is invalid", (text) => {
    expect(invalid(text)).toEqual([text]);
  });

  it.each([
    ["${A}", [], ["A"]],
    ["${A}", ["A"], []],
    ["${A:-x}", [], []],
    ["${A:-${B}}", [], ["B"]],
    ["${A:-${B}}", ["A"], []],
    ["${A:+${B}}", [], []],
    ["${A:+${B}}", ["A"], ["B"]],
    ["${A:?err}", [], ["A"]],
    ["$$A ${B-}", [], []],
  ])("%s with %j provided needs %j", (text, provided, missing) => {
    expect(missingInString(text, new Set(provided)).map((m) => m.name)).toEqual(missing);
  });
});

describe("variable references in a compose file", () => {
  const file = `x-common: &common
  environment:
    SHARED: \${SHARED}
services:
  app:
    <<: *common
    image: "registry/app:\${TAG:-latest}"
    labels:
      "traefik.\${KEY_IN_KEY}": "\${VALUE_IN_VALUE}"
    command: ["sh", "-c", "echo $$ESCAPED \${CMD_VAR}"]
    ports: ["\${PORT:?set PORT}:80"]
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost:\${HC_PORT}/health"]
  db:
    image: postgres:16
    environment:
      - POSTGRES_PASSWORD=\${PG_PASSWORD}
      - PLAIN=$PLAIN_VAR
volumes:
  data:
    name: "\${VOLUME_NAME}"
`;

  it("reports each unprovided variable with its service or top-level section, keys never interpolated", () => {
    const { missing, invalid } = missingComposeVariables(file, ["VALUE_IN_VALUE"]);
    expect(invalid).toEqual([]);
    expect(missing.map((m) => [m.name, m.service ?? `(${m.section})`, m.path])).toEqual([
      ["SHARED", "(x-common)", "x-common/environment/SHARED"],
      ["SHARED", "app", "services/app/environment/SHARED"],
      ["CMD_VAR", "app", "services/app/command/2"],
      ["PORT", "app", "services/app/ports/0"],
      ["HC_PORT", "app", "services/app/healthcheck/test/3"],
      ["PG_PASSWORD", "db", "services/db/environment/0"],
      ["PLAIN_VAR", "db", "services/db/environment/1"],
      ["VOLUME_NAME", "(volumes)", "volumes/data/name"],
    ]);
    expect(missing.some((m) => m.name === "KEY_IN_KEY")).toBe(false);
    expect(missing.some((m) => m.name === "ESCAPED")).toBe(false);
    expect(missing.some((m) => m.name === "TAG")).toBe(false);
  });

  it("lists every reference with its kind", () => {
    const { references } = findComposeVariables(file);
    expect(references.filter((r) => r.service === "app").map((r) => `${r.name}:${r.kind}`)).toEqual([
      "SHARED:plain",
      "TAG:default",
      "VALUE_IN_VALUE:plain",
      "CMD_VAR:plain",
      "PORT:required",
      "HC_PORT:plain",
    ]);
  });

  it("agrees with docker-compose on what is a variable (compose warns about exactly these when unset)", () => {
    const dir = tempTree({ "docker-compose.yaml": file, ".env": "# none\n" });
    const out = composeConfig(dir, ["-q"]);
    // `${PORT:?...}` makes compose fail; the others are warnings it prints and then substitutes "".
    expect(out.code).not.toBe(0);
    expect(out.output).toContain("set PORT");
    const withPort = tempTree({ "docker-compose.yaml": file, ".env": "PORT='8080'\n" });
    const warned = composeConfig(withPort, ["-q"]);
    expectValid(warned, "compose file with unset variables");
    const named = [...warned.warnings.matchAll(/The (\w+) variable is not set/g)].map((m) => m[1]!).sort();
    const ours = [...new Set(missingComposeVariables(file, ["PORT"]).missing.map((m) => m.name))].sort();
    expect(ours).toEqual(named.filter((n, i) => named.indexOf(n) === i));
  });
});

describe("image pinning", () => {
  it.each([
    ["nginx:alpine", "nginx"],
    ["nginx", "nginx"],
    ["git.helu.ca/r/mnemosyne:latest", "git.helu.ca/r/mnemosyne"],
    ["registry.local:5000/team/app:1.2", "registry.local:5000/team/app"],
    ["registry.local:5000/team/app", "registry.local:5000/team/app"],
    [`nginx:alpine@${DIGEST}`, "nginx"],
  ])("repository of %s is %s", (image, repo) => {
    expect(imageRepository(image)).toBe(repo);
  });

  it("references repo@sha256 for listed services and leaves everything else as written", () => {
    const out = pinImages(MNEMOSYNE, { app: pinnedImage("git.helu.ca/r/mnemosyne:latest", DIGEST), "static-init": `git.helu.ca/r/mnemosyne@${DIGEST}` });
    const doc = parse(out, { merge: true }) as { services: Record<string, { image?: string; command?: string[] }> };
    expect(doc.services.app!.image).toBe(`git.helu.ca/r/mnemosyne@${DIGEST}`);
    expect(doc.services["static-init"]!.image).toBe(`git.helu.ca/r/mnemosyne@${DIGEST}`);
    // Not listed: the merged-in tag stays.
    expect(doc.services.mcp!.image).toBe("git.helu.ca/r/mnemosyne:latest");
    expect(doc.services.web!.image).toBe("nginx:alpine");
    // Comments, anchors, flow sequences and escapes survive.
    expect(out).toContain("# Mnemosyne: app, mcp, worker and web from one image");
    expect(out).toContain("<<: *django-env");
    expect(out).toContain('command: ["sh", "-c", "cp -a /app/staticfiles/. /static/"]');
    expect(out).toContain("celery@$$HOSTNAME");
    // Only the pinned lines differ.
    const before = MNEMOSYNE.split("\n");
    const after = out.split("\n");
    const changed = after.filter((l) => !before.includes(l));
    expect(changed).toEqual([`    image: git.helu.ca/r/mnemosyne@${DIGEST}`, `    image: git.helu.ca/r/mnemosyne@${DIGEST}`]);
  });

  it("fails naming every listed service that is not in the file", () => {
    expect(() => pinImages(MNEMOSYNE, { api: "x@y", worker: "x@y", celery: "x@y" }, 'ComposeStack "m"')).toThrow(
      'ComposeStack "m" has 2 problems:\n  - images/api: service "api" is not in the compose file (services: static-init, app, mcp, worker, web)\n  - images/celery: service "celery" is not in the compose file (services: static-init, app, mcp, worker, web)',
    );
  });

  it("refuses a service defined as an alias", () => {
    const text = "x-a: &a\n  image: x:1\nservices:\n  app: *a\n";
    expect(() => pinImages(text, { app: "x@y" }, "S")).toThrow('S: images/app: service "app" must be a mapping in the compose file (not an alias or scalar) to pin its image');
  });

  it("refuses text that is not a compose file", () => {
    expect(() => pinImages("services: [", {}, "S")).toThrow("S: compose: is not valid YAML");
    expect(() => pinImages("just: text\n", {}, "S")).toThrow("S: compose: must have a services: mapping");
  });
});

describe("prepareCompose", () => {
  const plan = { env: Object.keys(MNEMOSYNE_ENV), pins: { app: `git.helu.ca/r/mnemosyne@${DIGEST}` } };

  it("pins images and passes when env provides every variable without a default", () => {
    const out = prepareCompose(MNEMOSYNE, plan, "S");
    expect(out).toContain(`image: git.helu.ca/r/mnemosyne@${DIGEST}`);
  });

  it("names the variable and every service that needs it", () => {
    const env = plan.env.filter((k) => k !== "CELERY_BROKER_URL" && k !== "DB_HOST");
    expect(() => prepareCompose(MNEMOSYNE, { ...plan, env }, 'ComposeStack "mnemosyne"')).toThrow(
      [
        'ComposeStack "mnemosyne" has 2 problems:',
        '  - env/CELERY_BROKER_URL: is referenced without a default by service "app" (services/app/environment/CELERY_BROKER_URL: ${CELERY_BROKER_URL}), service "worker" (services/worker/environment/CELERY_BROKER_URL: ${CELERY_BROKER_URL}) but env does not set it (compose would substitute an empty string); add CELERY_BROKER_URL to env or write ${CELERY_BROKER_URL:-default}',
        '  - env/DB_HOST: is referenced without a default by section "x-django-env" (x-django-env/DB_HOST: ${DB_HOST}), service "app" (services/app/environment/DB_HOST: ${DB_HOST}), service "mcp" (services/mcp/environment/DB_HOST: ${DB_HOST}), service "worker" (services/worker/environment/DB_HOST: ${DB_HOST}) but env does not set it (compose would substitute an empty string); add DB_HOST to env or write ${DB_HOST:-default}',
      ].join("\n"),
    );
  });

  it("asks for the variable itself, not a default, when the file requires it", () => {
    expect(() => prepareCompose("services:\n  a:\n    image: x:1\n    environment:\n      K: ${K:?set K}\n", { env: [], pins: {} }, "S")).toThrow(
      'S: env/K: is required by service "a" (services/a/environment/K: ${K:?set K}) but env does not set it; add K to env',
    );
  });

  it("refuses a secret read with a default env does not set: the service would run with the file's default", () => {
    const text = [
      "services:",
      "  app:",
      "    image: x:1",
      "    environment:",
      "      JWT_SECRET: ${JWT_SECRET:-changeme}",
      "      DB_PASSWORD: ${DB_PASSWORD-postgres}",
      "      API_KEY: ${API_KEY:-}",
      "      LOG_LEVEL: ${LOG_LEVEL:-info}",
      "      KEY_PREFIX: ${KEY_PREFIX:-app}",
      "  worker:",
      "    image: x:1",
      "    environment:",
      "      JWT_SECRET: ${JWT_SECRET:-changeme}",
      "",
    ].join("\n");
    const tail = "and env does not set it: the service would run with the compose file's default, which anyone with the repository can read; set";
    expect(() => prepareCompose(text, { env: [], pins: {} }, "S")).toThrow(
      [
        "S has 3 problems:",
        `  - env/API_KEY: is a secret that service "app" (services/app/environment/API_KEY: \${API_KEY:-}) reads with a default, ${tail} API_KEY in env as a secret (provided, or generated by the stack)`,
        `  - env/DB_PASSWORD: is a secret that service "app" (services/app/environment/DB_PASSWORD: \${DB_PASSWORD-postgres}) reads with a default, ${tail} DB_PASSWORD in env as a secret (provided, or generated by the stack)`,
        `  - env/JWT_SECRET: is a secret that service "app" (services/app/environment/JWT_SECRET: \${JWT_SECRET:-changeme}), service "worker" (services/worker/environment/JWT_SECRET: \${JWT_SECRET:-changeme}) reads with a default, ${tail} JWT_SECRET in env as a secret (provided, or generated by the stack)`,
      ].join("\n"),
    );
    // Provided, the defaults are never used; plain settings keep theirs.
    expect(() => prepareCompose(text, { env: ["JWT_SECRET", "DB_PASSWORD", "API_KEY"], pins: {} }, "S")).not.toThrow();
  });

  it.each([
    ["SECRET_KEY", true],
    ["JWT_SECRET", true],
    ["POSTGRES_PASSWORD", true],
    ["ADMIN_TOKEN", true],
    ["AWS_SECRET_ACCESS_KEY", true],
    ["OPENAI_APIKEY", true],
    ["SMTP_PASS", true],
    ["KEY_PREFIX", false],
    ["DB_HOST", false],
    ["PASSTHROUGH", false],
    ["TOKENIZER_MODEL", false],
  ])("%s holds a secret: %s", (name, secret) => {
    expect(isSecretName(name)).toBe(secret);
  });

  it("reports an invalid substitution with its place", () => {
    expect(() => prepareCompose("services:\n  a:\n    image: x:1\n    command: echo ${1}\n", { env: [], pins: {} }, "S")).toThrow(
      "S: compose/services/a/command: ${1} in service \"a\" is not a valid substitution: use ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error} or ${NAME:+alt} (write $$ for a literal $)",
    );
  });

  it("does not ask for variables only the replaced image line used", () => {
    const text = "services:\n  app:\n    image: ${REGISTRY}/app:${TAG}\n";
    expect(() => prepareCompose(text, { env: [], pins: {} }, "S")).toThrow("env/REGISTRY");
    expect(prepareCompose(text, { env: [], pins: { app: `r/app@${DIGEST}` } }, "S")).toBe(`services:\n  app:\n    image: r/app@${DIGEST}\n`);
  });
});

describe("docker-compose accepts what the stack deploys (real validator)", () => {
  it("Mnemosyne: pinned compose file + .env + nginx conf pass `config -q`", () => {
    const pinned = prepareCompose(MNEMOSYNE, { env: Object.keys(MNEMOSYNE_ENV), pins: { app: `git.helu.ca/r/mnemosyne@${DIGEST}`, mcp: `git.helu.ca/r/mnemosyne@${DIGEST}`, worker: `git.helu.ca/r/mnemosyne@${DIGEST}`, "static-init": `git.helu.ca/r/mnemosyne@${DIGEST}` } }, "S");
    const dir = tempTree({ "docker-compose.yaml": pinned, ".env": renderEnvFile(MNEMOSYNE_ENV, "env", "docker-compose"), "nginx/mnemosyne.conf": NGINX });
    const quiet = composeConfig(dir);
    expectValid(quiet, "Mnemosyne compose");
    expect(quiet.warnings).not.toContain("variable is not set");
    const full = composeConfig(dir, []);
    expectValid(full, "Mnemosyne compose");
    const config = parse(full.output) as { services: Record<string, { image: string; environment: Record<string, string>; depends_on?: Record<string, { condition: string }> }> };
    expect(Object.keys(config.services).sort()).toEqual(["app", "mcp", "static-init", "web", "worker"]);
    expect(config.services.app!.image).toBe(`git.helu.ca/r/mnemosyne@${DIGEST}`);
    expect(config.services.web!.image).toBe("nginx:alpine");
    expect(config.services.web!.depends_on!["static-init"]!.condition).toBe("service_completed_successfully");
    expect(config.services.worker!.environment.CELERY_BROKER_URL).toBe(MNEMOSYNE_ENV.CELERY_BROKER_URL);
    expect(config.services.app!.environment.DB_PORT).toBe("5432");
  });

  it("Peregrine: compose.cloud.yml named explicitly with --env-file", () => {
    const text = `services:
  app:
    image: peregrine:latest
    ports: ["8505:8501"]
    environment:
      CLOUD_MODE: "true"
      CLOUD_DATA_ROOT: \${CLOUD_DATA_ROOT}
      DIRECTUS_JWT_SECRET: \${DIRECTUS_JWT_SECRET}
      CF_SERVER_SECRET: \${CF_SERVER_SECRET}
      PLATFORM_DB_URL: \${PLATFORM_DB_URL}
    volumes:
      - \${CLOUD_DATA_ROOT}:\${CLOUD_DATA_ROOT}
    extra_hosts: ["host.docker.internal:host-gateway"]
`;
    const env = { CLOUD_DATA_ROOT: "/devl/menagerie-data", DIRECTUS_JWT_SECRET: "jwt", CF_SERVER_SECRET: "abcdefghijklmnopqrstuvwxyz012345", PLATFORM_DB_URL: "postgresql://cf_platform:p%40ss@host.docker.internal:5433/circuitforge_platform" };
    const pinned = prepareCompose(text, { env: Object.keys(env), pins: { app: `peregrine@${DIGEST}` } }, "S");
    const dir = tempTree({ "compose.cloud.yml": pinned, ".env": renderEnvFile(env) });
    expectValid(composeConfig(dir, ["-q"], "compose.cloud.yml"), "Peregrine compose.cloud.yml");
  });

  it("Daedalus dev variant: api built locally plus nginx:alpine on 22181", () => {
    const text = "services:\n  api:\n    build: ./backend\n    expose: ['8000']\n  nginx:\n    image: nginx:alpine\n    ports: ['22181:80']\n    depends_on: [api]\n";
    const pinned = prepareCompose(text, { env: [], pins: { nginx: `nginx@${DIGEST}` } }, "S");
    const dir = tempTree({ "docker-compose.yaml": pinned, ".env": renderEnvFile({}), "backend/Dockerfile": "FROM scratch\n" });
    expectValid(composeConfig(dir), "Daedalus dev compose");
  });

  it("DAARION all-in-one: 23 services on daarion_net, only the gateway publishing ports", () => {
    const services: [string, number | null][] = [
      ["postgres", 5432], ["redis", 6379], ["nats", 4222], ["matrix-synapse", 8008],
      ["auth-service", 7011], ["pdp-service", 7012], ["usage-engine", 7013], ["messaging-service", 7004],
      ["agent-runtime", 7010], ["agent-filter", 7005], ["dagi-router", 7006], ["llm-proxy", 7007],
      ["memory-orchestrator", 7008], ["toolcore", 7009], ["agents-service", 7014], ["microdao-service", 7015],
      ["dao-service", 7016], ["living-map-service", 7017], ["city-service", 7001], ["space-service", 7002],
      ["frontend", 80], ["gateway", null], ["backup", null],
    ];
    const lines = ["x-health: &health", "  interval: 30s", "  timeout: 10s", "  retries: 3", "  start_period: 40s", "services:"];
    for (const [svc, port] of services) {
      lines.push(`  ${svc}:`, `    image: registry.daarion.local/${svc}:1.0.0`, `    container_name: daarion-${svc}`, "    networks: [daarion_net]", "    labels:", `      daarion.service: ${svc}`, "    env_file: [.env]");
      if (svc === "postgres") lines.push("    environment:", "      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}", "    volumes: [postgres_data:/var/lib/postgresql/data]");
      if (port !== null && port >= 7000) {
        lines.push("    environment:", "      DATABASE_URL: postgresql://daarion:${POSTGRES_PASSWORD}@postgres:5432/daarion", "      NATS_URL: nats://nats:4222");
        lines.push("    healthcheck:", "      <<: *health", `      test: ["CMD", "curl", "-f", "http://localhost:${port}/health"]`);
      }
      if (svc === "gateway") lines.push("    ports: ['80:80', '443:443']", "    depends_on: [frontend, auth-service]");
    }
    lines.push("networks:", "  daarion_net:", "    name: daarion_net", "volumes:", "  postgres_data:");
    const text = lines.join("\n") + "\n";
    const env = { POSTGRES_PASSWORD: "pg$ecret" };
    expect(() => prepareCompose(text, { env: [], pins: {} }, 'ComposeStack "daarion"')).toThrow('env/POSTGRES_PASSWORD: is required by service "postgres"');
    const pins = Object.fromEntries(services.map(([s]) => [s, `registry.daarion.local/${s}@${DIGEST}`]));
    const pinned = prepareCompose(text, { env: Object.keys(env), pins }, "S");
    const dir = tempTree({ "docker-compose.all.yml": pinned, ".env": renderEnvFile(env) });
    const out = composeConfig(dir, [], "docker-compose.all.yml");
    expectValid(out, "DAARION compose");
    const config = parse(out.output) as { services: Record<string, { image: string; ports?: unknown[] }> };
    expect(Object.keys(config.services)).toHaveLength(23);
    expect(Object.entries(config.services).filter(([, s]) => s.ports).map(([n]) => n)).toEqual(["gateway"]);
    expect(Object.values(config.services).every((s) => s.image.includes("@sha256:"))).toBe(true);
  });

  it("surfaces docker-compose's own message when it rejects a file", () => {
    const bad = MNEMOSYNE.replace("      retries: 3\n      start_period: 40s", "      retriez: 3\n      start_period: 40s");
    const pinned = prepareCompose(bad, { env: Object.keys(MNEMOSYNE_ENV), pins: {} }, "S"); // our checks pass: only compose knows
    const dir = tempTree({ "docker-compose.yaml": pinned, ".env": renderEnvFile(MNEMOSYNE_ENV, "env", "docker-compose") });
    const out = composeConfig(dir);
    expect(out.code).not.toBe(0);
    expect(out.output).toContain("services.app.healthcheck value 'retriez' does not match any of the regexes");
  });
});
