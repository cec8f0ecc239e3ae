/**
 * Daedalus on Puck (daedalus-deployment.md §5): system user, /srv/daedalus layout,
 * source at a pinned ref, venv + backend, frontend build, .env, nginx on 22181, the
 * systemd unit exactly as specified, migrations on every code change, and the
 * health verification. The development compose variant is `mode: compose`.
 */
import * as pulumi from "@pulumi/pulumi";
import { ComposeStack } from "../../src/components/compose";
import { renderEnvFile } from "../../src/components/compose/render";
import { HealthCheck } from "../../src/components/health";
import { Directories, SystemUser } from "../../src/components/host";
import { NginxSite } from "../../src/components/nginx";
import { SystemdUnit } from "../../src/components/systemd";
import { RemoteTask } from "../../src/components/task";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { sha256 } from "../../src/hash";
import { remoteFile } from "../../src/remote/command";
import { plain } from "../../src/remote/daemons";
import { type Host } from "../../src/remote/host";
import { sh } from "../../src/remote/quote";
import { renderTemplate } from "../../src/templating";
import { after } from "../../src/transform";
import { type OuranosConfig } from "./config";

export const DAEDALUS_ROOT = "/srv/daedalus";

export interface DaedalusInputs {
  readonly cfg: OuranosConfig;
  readonly puck: Host;
  /** The commit `repo.ref` names (resolved at preview, or pinned); undefined: whatever the ref names at checkout. */
  readonly commit?: string | undefined;
  readonly databaseUrl: pulumi.Output<string>;
  readonly s3: { readonly endpoint: string; readonly accessKey: pulumi.Output<string>; readonly secretKey: pulumi.Output<string> };
}

/** Every DAEDALUS_* setting of the backend `.env`: the seed's, then the configured extras. */
export function daedalusEnv(i: DaedalusInputs): pulumi.Output<Record<string, string>> {
  const d = i.cfg.daedalus;
  return pulumi.all([i.databaseUrl, i.s3.accessKey, i.s3.secretKey]).apply(([url, key, secret]): Record<string, string> => ({
    DAEDALUS_ENV: "production",
    DAEDALUS_DATABASE_URL: url,
    DAEDALUS_S3_ENDPOINT: i.s3.endpoint,
    DAEDALUS_S3_ACCESS_KEY: key,
    DAEDALUS_S3_SECRET_KEY: secret,
    DAEDALUS_S3_BUCKET: d.bucket,
    ...d.settings,
  }));
}

export function deployDaedalus(i: DaedalusInputs, parent: pulumi.Resource) {
  const d = i.cfg.daedalus;
  const host = i.puck;
  const opts = { parent };
  // The commit is part of the revision: a branch that moved re-runs the checkout and
  // everything that follows it.
  const revision = i.commit ? `${d.repo.url}#${d.repo.ref}@${i.commit}` : `${d.repo.url}#${d.repo.ref}`;

  const user = new SystemUser("daedalus-user", { host, name: "daedalus", home: DAEDALUS_ROOT }, opts);
  const dirs = new Directories(
    "daedalus-dirs",
    { host, directories: [{ path: DAEDALUS_ROOT, owner: "daedalus", mode: "0755" }], transform: { command: after(user) } },
    opts,
  );

  // Source checkout at the pinned ref, into /srv/daedalus itself: the repository holds
  // backend/ and frontend/; venv/, frontend/build/ and .env are untracked beside them.
  const checkout = new RemoteTask(
    "daedalus-checkout",
    {
      host,
      user: "daedalus",
      cwd: DAEDALUS_ROOT,
      script: gitCheckoutScript({ url: d.repo.url, ref: d.repo.ref, ...(i.commit ? { commit: i.commit } : {}) }),
      triggers: [revision],
      transform: { command: after(dirs) },
    },
    opts,
  );

  const env = daedalusEnv(i);
  const envText = env.apply((e) => renderEnvFile(e, "Daedalus .env"));
  const envFile = remoteFile(
    "daedalus-env",
    {
      host,
      target: { path: `${DAEDALUS_ROOT}/.env`, owner: "daedalus", group: "daedalus", mode: "0600" },
      daemon: plain("daedalus"),
      content: envText,
      secret: true,
    },
    { parent, dependsOn: [dirs] },
  );
  // A hash of the env file (secret: it is derived from secrets) restarts the service on change.
  const envHash = pulumi.secret(envText.apply(sha256));

  if (d.mode === "compose") {
    const dev = new ComposeStack(
      "daedalus-dev",
      {
        host,
        project: "daedalus",
        directory: DAEDALUS_ROOT,
        directoryMode: "0755",
        compose: { content: renderTemplate("daedalus/docker-compose.dev.yaml.njk", { nginxPort: d.nginxPort, uvicornPort: d.uvicornPort, nginxImage: d.devNginxImage }) },
        files: [
          {
            path: "nginx/default.conf",
            content: renderTemplate("daedalus/nginx.dev.conf.njk", { uvicornPort: d.uvicornPort, metricsAllow: i.cfg.metrics.allow }),
          },
        ],
        images: { nginx: { image: d.devNginxImage, ...(d.devNginxDigest ? { digest: d.devNginxDigest } : {}) } },
        build: true,
        // The app's own .env (managed above) is the api container's env_file; compose's
        // interpolation file is separate, and the checkout stays owned by daedalus.
        envFile: ".compose.env",
        directoryOwner: { user: "daedalus", group: "daedalus" },
        triggers: [revision, envHash],
        transform: { directory: after(checkout, envFile) },
      },
      opts,
    );
    const health = daedalusHealth(host, d.nginxPort, [revision, envHash], [dev], parent);
    return { user, dirs, checkout, envFile, dev, health };
  }

  const backend = new RemoteTask(
    "daedalus-backend",
    {
      host,
      user: "daedalus",
      cwd: DAEDALUS_ROOT,
      script: [
        `[ -x venv/bin/python ] || python3 -m venv venv`,
        "venv/bin/pip install --quiet --upgrade pip",
        "if [ -f backend/pyproject.toml ] || [ -f backend/setup.py ]; then venv/bin/pip install --quiet ./backend; else venv/bin/pip install --quiet -r backend/requirements.txt; fi",
      ].join("\n"),
      triggers: [revision],
      transform: { command: after(checkout) },
    },
    opts,
  );

  const frontend = new RemoteTask(
    "daedalus-frontend",
    {
      host,
      user: "daedalus",
      cwd: `${DAEDALUS_ROOT}/frontend`,
      script: "npm ci --no-audit --no-fund\nnpm run build\ntest -f build/index.html",
      triggers: [revision],
      transform: { command: after(checkout) },
    },
    opts,
  );

  // Schema changes only through Alembic, whenever the code (or the database URL) changes.
  const migrate = new RemoteTask(
    "daedalus-migrate",
    {
      host,
      user: "daedalus",
      cwd: `${DAEDALUS_ROOT}/backend`,
      script: `set -a; . ${sh(`${DAEDALUS_ROOT}/.env`)}; set +a\nexec ${sh(`${DAEDALUS_ROOT}/venv/bin/alembic`)} upgrade head`,
      triggers: [revision, envHash],
      transform: { command: after(backend, envFile) },
    },
    opts,
  );

  const site = new NginxSite(
    "daedalus-site",
    {
      host,
      site: "daedalus",
      listen: d.nginxPort,
      root: `${DAEDALUS_ROOT}/frontend/build`,
      spa: true,
      trustForwardedProto: true,
      locations: [
        { path: "/api/", proxyPass: `http://127.0.0.1:${d.uvicornPort}` },
        { path: "/metrics", proxyPass: `http://127.0.0.1:${d.uvicornPort}`, allow: i.cfg.metrics.allow },
      ],
      transform: { config: after(frontend) },
    },
    opts,
  );

  const unit = new SystemdUnit(
    "daedalus-api",
    {
      host,
      name: "daedalus-api.service",
      content: renderTemplate("daedalus/daedalus-api.service", { uvicornPort: d.uvicornPort, workers: d.workers }),
      restartTriggers: [revision, envHash],
      transform: { restart: after(migrate, envFile) },
    },
    opts,
  );

  const health = daedalusHealth(host, d.nginxPort, [revision, envHash, unit.contentHash], [unit, site], parent);
  return { user, dirs, checkout, envFile, backend, frontend, migrate, site, unit, health };
}

/** Verify `/api/health` returns {"status": "ok"} through nginx on the app host. */
function daedalusHealth(host: Host, nginxPort: number, triggers: pulumi.Input<unknown>[], deps: pulumi.Resource[], parent: pulumi.Resource) {
  return new HealthCheck("daedalus-health", {
    host,
    url: `http://127.0.0.1:${nginxPort}/api/health`,
    expectStatus: [200],
    bodyMatch: '"status": ?"ok"',
    attempts: 12,
    description: "Daedalus /api/health",
    triggers,
    transform: { command: after(...deps) },
  }, { parent });
}
