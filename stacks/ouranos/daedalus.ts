/**
 * Daedalus on Puck (daedalus-deployment.md §5) as one AppDeployment: system user,
 * /srv/daedalus layout, source at a pinned ref, venv + backend, frontend build, .env,
 * nginx on 22181, the systemd unit exactly as specified, migrations on every code
 * change, the HAProxy route, the health verifications and the scrape job. The
 * development compose variant is `mode: compose`.
 */
import type * as pulumi from "@pulumi/pulumi";
import { type AppCheckArgs, type AppDeploymentArgs, AppDeployment, type AppTaskArgs } from "../../src/components/app";
import { loadAlertRules, loadDashboard } from "../../src/components/prometheus";
import { type Host } from "../../src/remote/host";
import { healthCheckSchema } from "../../src/components/health/args";
import { healthCheckScript } from "../../src/components/health/render";
import { sh } from "../../src/remote/quote";
import { type ReleaseLayout, ROLLBACK_NOTE, releaseActivateScript, releaseCreateScript, releaseLines } from "../../src/remote/releases";
import { renderTemplate } from "../../src/templating";
import { after, aliased } from "../../src/transform";
import { type OuranosConfig } from "./config";
import { type HAProxyEdge, type PrometheusEdge, puckRoute, puckScrape } from "./edges";

export const DAEDALUS_ROOT = "/srv/daedalus";
/** The source checkout releases are exported from (production mode). */
export const DAEDALUS_REPO = `${DAEDALUS_ROOT}/repo`;
export const DAEDALUS_UNIT = "daedalus-api.service";
/** Where the unit file goes (SystemdUnit's default directory). */
export const DAEDALUS_UNIT_FILE = `/etc/systemd/system/${DAEDALUS_UNIT}`;
/** The env file the stack writes: the next release's env; each release holds its own copy as `.env`. */
export const DAEDALUS_ENV_FILE = `${DAEDALUS_ROOT}/.env`;
/** What the earlier in-place layout had in /srv/daedalus beside its .git: adopted as a release. */
const IN_PLACE_PARTS = ["backend", "frontend", "venv"] as const;

export interface DaedalusInputs {
  readonly cfg: OuranosConfig;
  readonly puck: Host;
  /** The commit `repo.ref` names (resolved at preview, or pinned); undefined: whatever the ref names at checkout. */
  readonly commit?: string | undefined;
  readonly databaseUrl: pulumi.Output<string>;
  readonly s3: { readonly endpoint: string; readonly accessKey: pulumi.Output<string>; readonly secretKey: pulumi.Output<string> };
}

/** Where Daedalus is reached and watched from. */
export interface DaedalusEdges {
  /** HAProxy on Titania: the route (`/api/health` health, `/metrics` denied) and the SPA check through it. */
  readonly haproxy?: HAProxyEdge & {
    /** The address the check through HAProxy connects to. */
    readonly checkAddress: string;
    /** The SSO application the SPA check waits for (its answer may be Casdoor's redirect). */
    readonly sso?: pulumi.Resource;
  };
  /** Prometheus on Prospero: the scrape job (alerts, dashboard) and the /metrics check from there. */
  readonly prometheus?: PrometheusEdge;
}

export interface DaedalusOptions {
  /**
   * The component the parts were children of before they were one AppDeployment (the
   * stack): each part keeps its name, and an alias to its old parent keeps it in an
   * existing deployment.
   */
  readonly formerParent?: pulumi.Resource;
}

/** Every DAEDALUS_* setting of the backend `.env`: the seed's, then the configured extras. */
export function daedalusEnv(i: DaedalusInputs): Record<string, pulumi.Input<string>> {
  const d = i.cfg.daedalus;
  return {
    DAEDALUS_ENV: "production",
    DAEDALUS_DATABASE_URL: i.databaseUrl,
    DAEDALUS_S3_ENDPOINT: i.s3.endpoint,
    DAEDALUS_S3_ACCESS_KEY: i.s3.accessKey,
    DAEDALUS_S3_SECRET_KEY: i.s3.secretKey,
    DAEDALUS_S3_BUCKET: d.bucket,
    ...d.settings,
  };
}

/**
 * Lines that end a build step whose part of the release was built already (its marker,
 * written last, exists): a release deployed again (a ref set back after a rollback) is
 * not rebuilt, and so never rebuilt while it serves.
 */
function builtOnce(part: "backend" | "frontend"): string[] {
  return [`if [ -f .fleet-built-${part} ]; then echo "fleet: the ${part} of release \${release##*/} is built already"; exit 0; fi`];
}

/**
 * The release layout of the production mode: builds in /srv/daedalus/releases/<commit12>,
 * releases (a build and its env) in /srv/daedalus/releases/<commit12>-<env12>, current,
 * repo/, and the .env the stack writes, copied into each release.
 */
export function daedalusReleases(i: Pick<DaedalusInputs, "cfg">): ReleaseLayout {
  return { root: DAEDALUS_ROOT, repository: DAEDALUS_REPO, keep: i.cfg.daedalus.keepReleases, envFile: DAEDALUS_ENV_FILE, parts: IN_PLACE_PARTS, legacy: true };
}

/**
 * What a new release must pass once `current` points at it and the unit restarted, or it
 * is swapped back: the API's own /api/health straight from uvicorn, the SPA's build in the
 * release, then both through puck's nginx (the site is installed before the activation):
 * a release uvicorn serves but nginx cannot reach is rolled back too.
 */
export function daedalusReleaseChecks(uvicornPort: number, nginxPort: number): { name: string; body: string }[] {
  const index = `${DAEDALUS_ROOT}/current/frontend/build/index.html`;
  return [
    {
      name: "api-health",
      body: healthCheckScript(
        healthCheckSchema.parse({ url: `http://127.0.0.1:${uvicornPort}/api/health`, expectStatus: [200], bodyMatch: '"status": ?"ok"', attempts: 12, description: "Daedalus API /api/health (uvicorn)" }),
      ),
    },
    { name: "spa-build", body: `[ -f ${sh(index)} ] || { echo ${sh(`fleet: ${index} is missing: the release has no SPA build`)} >&2; exit 1; }` },
    {
      name: "api-via-nginx",
      body: healthCheckScript(
        healthCheckSchema.parse({ url: `http://127.0.0.1:${nginxPort}/api/health`, expectStatus: [200], bodyMatch: '"status": ?"ok"', attempts: 3, description: "Daedalus /api/health through puck's nginx" }),
      ),
    },
    {
      name: "spa-via-nginx",
      body: healthCheckScript(healthCheckSchema.parse({ url: `http://127.0.0.1:${nginxPort}/`, expectStatus: [200], attempts: 3, description: "Daedalus SPA through puck's nginx" })),
    },
  ];
}

/**
 * Alembic's `upgrade head` from the new release's build, with the .env the stack wrote
 * (the new release's env). Migrations are not
 * undone by a rollback (a downgrade may drop data): when they moved the database, the
 * release keeps a note ({@link ROLLBACK_NOTE}) that a failed activation prints: the
 * revision the database stays at, the one before, and the command that would go back.
 */
export function daedalusMigrateScript(layout: ReleaseLayout): string {
  const env = layout.envFile;
  // The first word of the last line `alembic current` prints ("0042abc (head)").
  const revision = `"$alembic" current 2>/dev/null | sed -n 's/^\\([0-9A-Za-z_]\\{1,\\}\\).*/\\1/p' | tail -n 1`;
  return [
    "set -eu",
    ...releaseLines(layout),
    `cd "$release/backend"`,
    `set -a; . ${sh(env)}; set +a`,
    `alembic="$release/venv/bin/alembic"`,
    `before=$(${revision})`,
    `"$alembic" upgrade head`,
    `after=$(${revision})`,
    `if [ "$before" != "$after" ]; then`,
    `  printf '%s\\n' ${sh("fleet: the database stays at alembic revision ")}"\${after:-none}"${sh(" (migrations are not undone by a rollback; before this release it was at ")}"\${before:-none}"${sh(
      `). If the restored release cannot run on it: cd `,
    )}"$release/backend"${sh(` && set -a && . ${env} && set +a && ../venv/bin/alembic downgrade `)}"\${before:-base}"${sh(" (docs/runbook-ouranos.md, Daedalus releases)")} > "$release/${ROLLBACK_NOTE}"`,
    `fi`,
  ].join("\n");
}

/**
 * Daedalus as one AppDeployment named `daedalus`; its parts keep the names they had
 * (`daedalus-user`, `-dirs`, `-checkout`, `-env`, `-backend`, `-frontend`, `-migrate`,
 * `-api`, `-site` or `-dev`, `-route`, `-health`, `-spa-via-haproxy`, `-scrape`,
 * `-metrics-from-prospero`).
 */
export function daedalusApp(i: DaedalusInputs, edges: DaedalusEdges, parent: pulumi.Resource, opts: DaedalusOptions = {}): AppDeployment {
  const d = i.cfg.daedalus;
  const production = d.mode === "production";
  // Build steps run as daedalus from the root; each finds its release in releases/.target.
  const asDaedalus = { user: "daedalus", cwd: DAEDALUS_ROOT };
  // Re-run on a new ref only (the commit is not part of it), as the checks through HAProxy always did.
  const refTrigger = `${d.repo.url}#${d.repo.ref}`;

  // Production runs from releases (src/remote/releases.ts): each commit is exported from
  // the checkout in repo/ and built beside the live release, and each commit with each
  // .env is a release; migrated, then `current` is swapped, the unit restarted (once: the
  // unit has no restart of its own) and checked, through nginx too, and swapped back (code
  // and env) on a failed check.
  const releases = daedalusReleases(i);
  const tasks: Record<string, AppTaskArgs> = production
    ? {
        // The checkout's commit into releases/<commit12>, and with the .env as it is now the
        // release releases/<commit12>-<env12> (the first up adopts an in-place tree).
        release: { ...asDaedalus, script: releaseCreateScript(releases), phase: "before", after: ["source", "env"], rerunOn: ["revision", "env"] },
        backend: {
          ...asDaedalus,
          script: [
            "set -eu",
            ...releaseLines(releases),
            `cd "$release"`,
            ...builtOnce("backend"),
            `[ -x venv/bin/python ] || python3 -m venv venv`,
            "venv/bin/pip install --quiet --upgrade pip",
            "if [ -f backend/pyproject.toml ] || [ -f backend/setup.py ]; then venv/bin/pip install --quiet ./backend; else venv/bin/pip install --quiet -r backend/requirements.txt; fi",
            "touch .fleet-built-backend",
          ].join("\n"),
          phase: "before",
          after: ["release"],
          rerunOn: ["revision"],
        },
        // Schema changes only through Alembic, whenever the code (or the database URL) changes:
        // the new release's migrations, while the live release still serves.
        migrate: {
          ...asDaedalus,
          script: daedalusMigrateScript(releases),
          phase: "before",
          after: ["backend", "env"],
          rerunOn: ["revision", "env"],
        },
        // The SPA's build, in the release: `current` switches the API and the SPA together.
        frontend: {
          ...asDaedalus,
          script: ["set -eu", ...releaseLines(releases), `cd "$release"`, ...builtOnce("frontend"), "cd frontend", "npm ci --no-audit --no-fund", "npm run build", "test -f build/index.html", "touch ../.fleet-built-frontend"].join("\n"),
          phase: "before",
          after: ["release"],
          rerunOn: ["revision"],
        },
        // current -> the new release, the deploy's one restart, its checks (through nginx
        // too: after the site); a failed one swaps back (as root: systemctl). A new commit,
        // a new .env or a new unit file each run it.
        activate: {
          script: releaseActivateScript(releases, {
            app: "Daedalus",
            hostName: i.puck.name,
            restart: `systemctl restart -- ${sh(DAEDALUS_UNIT)}`,
            checks: daedalusReleaseChecks(d.uvicornPort, d.nginxPort),
            unitFile: DAEDALUS_UNIT_FILE,
          }),
          phase: "after",
          after: ["deployment", "site"],
          rerunOn: ["revision", "env", "service"],
        },
      }
    : {};

  const checks: Record<string, AppCheckArgs> = {
    // `/api/health` returns {"status": "ok"} through nginx on the app host.
    health: {
      url: `http://127.0.0.1:${d.nginxPort}/api/health`,
      expectStatus: [200],
      bodyMatch: '"status": ?"ok"',
      attempts: 12,
      description: "Daedalus /api/health",
      after: production ? ["deployment", "site", "activate"] : ["deployment"],
      rerunOn: production ? ["revision", "env", "service"] : ["revision", "env"],
    },
    ...(edges.haproxy
      ? {
          // The SPA through HAProxy: 200, or Casdoor's redirect to its login page (DESIGN.md).
          "spa-via-haproxy": {
            host: edges.haproxy.host,
            url: `https://${d.domain}/`,
            resolve: { host: d.domain, port: 443, address: edges.haproxy.checkAddress },
            expectStatus: [200, 302, 303],
            description: "Daedalus SPA through HAProxy",
            attempts: 10,
            triggers: [refTrigger],
            after: ["route", "health"],
            ...(edges.haproxy.sso ? { transform: { command: after(edges.haproxy.sso) } } : {}),
          },
        }
      : {}),
    ...(edges.prometheus
      ? {
          "metrics-from-prospero": {
            host: edges.prometheus.host,
            url: `http://${i.cfg.dns.app}:${d.nginxPort}/metrics`,
            bodyMatch: "^# (HELP|TYPE) ",
            description: "Daedalus /metrics reachable from Prospero",
            attempts: 10,
            triggers: [refTrigger],
            after: ["health"],
          },
        }
      : {}),
  };

  const unitOrProject: Pick<AppDeploymentArgs, "service" | "compose" | "site"> = production
    ? {
        // Installed and enabled (started on a fresh host), never restarted on its own: the
        // activation restarts it once per deploy, on the release it checks.
        service: { name: DAEDALUS_UNIT, content: renderTemplate("daedalus/daedalus-api.service", { uvicornPort: d.uvicornPort, workers: d.workers }), restartOnChange: false },
        site: {
          site: "daedalus",
          listen: d.nginxPort,
          root: `${DAEDALUS_ROOT}/current/frontend/build`,
          spa: true,
          trustForwardedProto: true,
          locations: [
            { path: "/api/", proxyPass: `http://127.0.0.1:${d.uvicornPort}` },
            { path: "/metrics", proxyPass: `http://127.0.0.1:${d.uvicornPort}`, allow: i.cfg.metrics.allow },
          ],
          after: ["frontend"],
        },
      }
    : {
        compose: {
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
          // The api image built from backend/ of the checkout, tagged by the commit previewed.
          ...(i.commit ? { buildTag: i.commit.slice(0, 12) } : {}),
          // The app's own .env (envFile) is the api container's env_file; compose's
          // interpolation file is separate, and the checkout stays owned by daedalus.
          envFile: ".compose.env",
          directoryOwner: { user: "daedalus", group: "daedalus" },
        },
      };

  const formerly = opts.formerParent ? aliased({ parent: opts.formerParent }) : undefined;
  return new AppDeployment(
    "daedalus",
    {
      host: i.puck,
      names: { data: "daedalus-dirs", service: "daedalus-api", compose: "daedalus-dev" },
      user: { name: "daedalus", home: DAEDALUS_ROOT },
      data: [{ path: DAEDALUS_ROOT, owner: "daedalus", mode: "0755" }],
      // Production: into /srv/daedalus/repo, the tree releases are exported from. The dev
      // compose variant: into /srv/daedalus itself (the repository holds backend/ and
      // frontend/, .env untracked beside them). Not serialised with the dev compose
      // project: the project waits for the checkout in the program.
      source: {
        url: d.repo.url,
        ref: d.repo.ref,
        ...(i.commit ? { commit: i.commit } : {}),
        ...(production ? { directory: DAEDALUS_REPO } : { directory: DAEDALUS_ROOT, createDirectory: false }),
        user: "daedalus",
        lock: false,
      },
      envFile: { path: DAEDALUS_ENV_FILE, owner: "daedalus", group: "daedalus", mode: "0600", values: daedalusEnv(i) },
      ...unitOrProject,
      tasks,
      ...(edges.haproxy ? { route: puckRoute(i.cfg, { name: "daedalus", domain: d.domain, port: d.nginxPort, healthPath: "/api/health" }, edges.haproxy) } : {}),
      checks,
      ...(edges.prometheus
        ? {
            scrape: puckScrape(i.cfg, { name: "daedalus", port: d.nginxPort }, edges.prometheus, {
              alerts: loadAlertRules("daedalus/alerts.yml"),
              ...(i.cfg.prometheus.grafana ? { dashboard: { json: loadDashboard("daedalus/dashboard.json"), fileName: "daedalus" } } : {}),
            }),
          }
        : {}),
      ...(formerly
        ? {
            transform: {
              user: formerly,
              data: formerly,
              checkout: formerly,
              env: formerly,
              compose: formerly,
              service: formerly,
              site: formerly,
              route: formerly,
              scrape: formerly,
              tasks: Object.fromEntries(Object.keys(tasks).map((k) => [k, formerly])),
              checks: Object.fromEntries(Object.keys(checks).map((k) => [k, formerly])),
            },
          }
        : {}),
    },
    { parent },
  );
}
