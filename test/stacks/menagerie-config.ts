/**
 * The menagerie stack under mocks: a complete, valid config (no real secrets), the
 * stand-ins of the compose files that live in the app repositories, and a runner whose
 * git-fetch commands "print" those files, as the host does.
 *
 * `runWithSources` is runProgram with `commandStdout` answering the git-fetch commands,
 * and `collectFailures`, so a test can assert both a failure's message and what was
 * (not) registered.
 */
import { type MockRun, runProgram, type RunOptions, TEST_HOST_KEY } from "../../src/testing/mocks";

export const MENAGERIE_SECRETS: Record<string, string> = {
  "fleet:sshPrivateKey": "PLANTED-ssh-private-key-3e1b",
  "fleet:directusJwtSecret": "PLANTED-directus-jwt-9a7c",
  // Every character a URL password must have percent-encoded, and a space.
  "fleet:platformDbPassword": "PLANTED p@ss:/#%+?&=w0rd",
};

export const PEREGRINE_REPO = { url: "https://git.circuitforge.tech/pyr0ball/peregrine.git", ref: "v2.3.0" };
export const FALCON_REPO = { url: "https://git.circuitforge.tech/pyr0ball/falcon.git", ref: "v0.1.0" };

export const PEREGRINE = { slug: "peregrine", repo: PEREGRINE_REPO, port: 8505 };
export const FALCON = { slug: "falcon", repo: FALCON_REPO, port: 8506 };

export function menagerieConfig(settings: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}): { config: Record<string, unknown>; secretKeys: string[] } {
  const config: Record<string, unknown> = {
    "fleet:hosts": { bastion: { address: "bastion.circuitforge.tech", hostKey: TEST_HOST_KEY } },
    "fleet:menagerie": { apps: [PEREGRINE], ...settings },
    ...MENAGERIE_SECRETS,
    ...overrides,
  };
  const secretKeys = Object.keys(config).filter((k) => k in MENAGERIE_SECRETS || k === "fleet:cfServerSecret");
  return { config, secretKeys };
}

/**
 * A realistic `compose.cloud.yml` as the seed describes it (port, CLOUD_MODE=true,
 * data mount, the four variables of the .env), built from the checkout.
 */
export function cloudCompose(slug: string, port: number): string {
  return `# ${slug}: managed cloud instance (menagerie.circuitforge.tech/${slug})
# docker compose -f compose.cloud.yml --project-name ${slug}-cloud --env-file .env up -d
services:
  app:
    build: .
    command: ["streamlit", "run", "app/app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.baseUrlPath=${slug}", "--server.headless=true"]
    ports:
      - "${port}:8501"
    environment:
      CLOUD_MODE: "true"
      CLOUD_DATA_ROOT: \${CLOUD_DATA_ROOT}
      DIRECTUS_JWT_SECRET: \${DIRECTUS_JWT_SECRET}
      CF_SERVER_SECRET: \${CF_SERVER_SECRET}
      PLATFORM_DB_URL: \${PLATFORM_DB_URL}
      STREAMLIT_BROWSER_GATHER_USAGE_STATS: "false"
    volumes:
      - \${CLOUD_DATA_ROOT}:\${CLOUD_DATA_ROOT}
    extra_hosts:
      - "host.docker.internal:host-gateway"
    restart: unless-stopped
    healthcheck:
      test: ["CMD", "curl", "-fsS", "http://localhost:8501/${slug}/_stcore/health"]
      interval: 30s
      timeout: 5s
      retries: 3
`;
}

/** A realistic `compose.demo.yml`: demo data from the repository, LLM calls blocked. */
export const DEMO_COMPOSE = `# peregrine public demo (demo.circuitforge.tech/peregrine)
services:
  app:
    build: .
    command: ["streamlit", "run", "app/app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.baseUrlPath=peregrine", "--server.headless=true"]
    ports:
      - "8504:8501"
    environment:
      DEMO_MODE: \${DEMO_MODE}
    volumes:
      - ./demo/config:/app/config
      - ./demo/data:/app/data
    restart: unless-stopped
`;

/** The compose file each git-fetch command prints, by the repository and path it fetches. */
export function defaultSources(): Record<string, string> {
  return {
    [`${PEREGRINE_REPO.url} compose.cloud.yml`]: cloudCompose("peregrine", 8505),
    [`${PEREGRINE_REPO.url} compose.demo.yml`]: DEMO_COMPOSE,
    [`${FALCON_REPO.url} compose.cloud.yml`]: cloudCompose("falcon", 8506),
  };
}

export interface SourceRunOptions extends RunOptions {
  /** The files fetched from git, keyed `<url> <path>`. @default defaultSources() */
  readonly sources?: Record<string, string>;
}

export interface SourceRun {
  readonly run: MockRun;
  /** Messages of failures inside `apply` (the engine would report them and stop). */
  readonly failures: string[];
}

/** Decode `git remote add origin 'URL'` and the fetched path from a ComposeStack source command. */
function fetched(inputs: Record<string, unknown>): string | undefined {
  // The body is single-quoted for `/bin/sh -c`: its own quotes arrive as '\''.
  const create = (typeof inputs.create === "string" ? inputs.create : "").replace(/'\\''/g, "'");
  const url = /git remote add origin '([^']+)'/.exec(create)?.[1];
  const path = /if \[ ! -f '([^']+)' \]; then echo/.exec(create)?.[1];
  return url && path ? `${url} ${path}` : undefined;
}

/** runProgram with git-fetch stdout for the ComposeStack `-source` commands; failures collected, not thrown. */
export async function runWithSources(program: () => unknown, options: SourceRunOptions = {}): Promise<SourceRun> {
  const sources = options.sources ?? defaultSources();
  const run = await runProgram(program, {
    stack: "menagerie",
    ...options,
    collectFailures: true,
    commandStdout: (name, inputs) => {
      const key = name.endsWith("-source") ? fetched(inputs) : undefined;
      const text = key === undefined ? undefined : sources[key];
      return text === undefined ? undefined : Buffer.from(text).toString("base64");
    },
  });
  return { run, failures: [...run.failures] };
}
