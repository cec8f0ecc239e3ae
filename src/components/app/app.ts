import * as pulumi from "@pulumi/pulumi";
import { CaddyRoute } from "../caddy/route";
import { CaddySite } from "../caddy/site";
import { type ComposeStackArgs } from "../compose/args";
import { composeLock } from "../compose/project";
import { ComposeStack } from "../compose/stack";
import { type HealthCheckArgs } from "../health/args";
import { HealthCheck } from "../health/check";
import { Directories } from "../host/system";
import { type RemoteTaskArgs } from "../task/args";
import { RemoteTask } from "../task/task";
import { sha256 } from "../../hash";
import { childName } from "../../naming";
import { gitCheckoutScript } from "../../remote/checkout";
import { type Host } from "../../remote/host";
import { after, transform } from "../../transform";
import { ConfigError, type Problem, problemsFromZod } from "../../validation/errors";
import { type CaddyRouteArgs } from "../caddy/args";
import {
  type AppIdentity,
  appClashes,
  appDirectory,
  appHealthPath,
  type MenagerieAppArgs,
  type MenagerieAppSpec,
  menagerieAppSchema,
  type MenagerieSecrets,
} from "./args";
import { appRoutePath, cloudProject, revisionOf } from "./render";
import { type DirectoriesArgs } from "./deployment-args";

/** The apps already on each site, so a second app on one path or port is refused. */
const appsOfSite = new WeakMap<CaddySite, AppIdentity[]>();

const SECRET_KEYS: readonly (keyof MenagerieSecrets)[] = ["directusJwtSecret", "cfServerSecret", "platformDbUrl"];

/**
 * One app of a managed cloud behind a shared Caddy site, the way the Peregrine seed
 * runs `menagerie.circuitforge.tech/peregrine`: the app's `compose.cloud.yml` from its
 * repository at a pinned ref as compose project `<slug>-cloud`, with `CLOUD_MODE=true`,
 * `CLOUD_DATA_ROOT` and the cloud's shared secrets in its `.env`; a Caddy
 * `handle /<slug>*` route on the shared site proxying to the app's port with the
 * session cookie passed as `X-CF-Session`; the data root; and health checks on the
 * port and through Caddy. Onboarding the next app is one more `MenagerieApp`.
 *
 * Children, in order: `-data` (the data root) and, with `build`, `-checkout` (the
 * repository in the project directory) → `-compose` (ComposeStack) → `-route` (once
 * the app is up) → `-health` (on the port) and `-health-via-caddy`.
 *
 * The seed's "Adding a New App to the Cloud" has six steps. Steps 1–3 are changes to
 * the app's code, not infrastructure, and must be in the ref deployed:
 * 1. `resolve_session("<slug>")` at the top of each page (`cloud_session.py`);
 * 2. `get_db_path()` instead of `DEFAULT_DB`;
 * 3. `app/telemetry.py` and `log_usage_event()` at key actions.
 * Step 4 (`compose.cloud.yml` with the port, `CLOUD_MODE=true` and the data mount) is
 * also the app's: the file must publish `port` on an address the Caddy container
 * reaches through `upstreamHost` (e.g. `"8506:8501"`, not `127.0.0.1:8506:8501`) and
 * bind-mount `${CLOUD_DATA_ROOT}`. Every `${VAR}` it uses must be set (checked on
 * the host before anything is written). Step 5 is the route this component adds;
 * step 6 (`<data_root>/<user-id>/<slug>/`) the app does on first login.
 *
 * With `build` (the default) the repository is checked out into the project directory
 * and built there, beside `.env`: the app's `.dockerignore` must exclude `.env` and `.src`.
 *
 * Apps of one site are checked against each other: one path (slug), one port per
 * Docker host or upstream, one project directory each.
 *
 * #### Peregrine on the menagerie site
 * ```ts
 * new MenagerieApp("peregrine", {
 *   host: bastion,
 *   site: menagerie,
 *   domain: "menagerie.circuitforge.tech",
 *   dataRoot: "/devl/menagerie-data",
 *   slug: "peregrine",
 *   repo: { url: "https://git.circuitforge.tech/pyr0ball/peregrine.git", ref: "v2.3.0" },
 *   port: 8505,
 *   secrets: { directusJwtSecret, cfServerSecret, platformDbUrl },
 * });
 * ```
 *
 * #### Onboarding falcon: the same cloud, its own slug, repo and port
 * ```ts
 * new MenagerieApp("falcon", { ...cloud, slug: "falcon", repo: { url: falconRepo, ref: "v0.1.0" }, port: 8506 });
 * ```
 *
 * #### A registry image instead of a build
 * ```ts
 * new MenagerieApp("heron", { ...cloud, slug: "heron", repo, port: 8507, build: false, images: { app: { image: "registry.example.com/heron:1.2" } } });
 * ```
 */
export class MenagerieApp extends pulumi.ComponentResource {
  /** The app's slug. */
  public readonly slug: string;
  /** Compose project name, `<slug>-cloud`. */
  public readonly project: string;
  /** Project directory on the Docker host. */
  public readonly directory: string;
  /** The host port the app publishes. */
  public readonly port: number;
  /** The app's public URL through the site. */
  public readonly url: string;
  /** The compose file as deployed. */
  public readonly composeContent: pulumi.Output<string>;
  /** The raw children. */
  public readonly nodes: {
    readonly data: Directories;
    readonly checkout?: RemoteTask;
    readonly compose: ComposeStack;
    readonly route: CaddyRoute;
    readonly health: HealthCheck;
    readonly healthViaCaddy?: HealthCheck;
  };

  constructor(name: string, args: MenagerieAppArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `MenagerieApp "${name}"`;
    const spec = parse();
    super(MenagerieApp.__pulumiType, name, {}, opts);
    const parent = this;
    const { host, site, secrets, transform: hooks } = args;
    const project = cloudProject(spec.slug);
    const directory = appDirectory(spec);
    const revision = revisionOf(spec.repo);
    const healthPath = appHealthPath(spec);
    const url = `https://${spec.domain}/${spec.slug}/`;

    const data = createData();
    const checkout = spec.build ? createCheckout() : undefined;
    const compose = createCompose();
    const route = createRoute();
    const health = createHealth();
    const healthViaCaddy = spec.health.viaCaddy ? createHealthViaCaddy() : undefined;

    this.slug = spec.slug;
    this.project = project;
    this.directory = directory;
    this.port = spec.port;
    this.url = url;
    this.composeContent = compose.composeContent;
    this.nodes = { data, ...(checkout ? { checkout } : {}), compose, route, health, ...(healthViaCaddy ? { healthViaCaddy } : {}) };
    this.registerOutputs({ slug: spec.slug, project, directory, port: spec.port, url });

    /** Every rule before anything exists: the args, the secrets, and the other apps of the site. */
    function parse(): MenagerieAppSpec {
      const { host: h, site: s, secrets: sec, resolveDigest: _resolve, transform: _transform, ...rest } = args;
      const problems: Problem[] = [];
      const parsed = menagerieAppSchema.safeParse(rest);
      if (!parsed.success) problems.push(...problemsFromZod(parsed.error));
      if (!isHost(h)) problems.push({ path: "host", message: "is required: the Docker host the app runs on" });
      if (!(s instanceof CaddySite)) problems.push({ path: "site", message: "is required: the CaddySite the app's route goes into" });
      for (const key of SECRET_KEYS) {
        if ((sec as Partial<MenagerieSecrets> | undefined)?.[key] === undefined) problems.push({ path: `secrets/${key}`, message: "is required" });
      }
      if (!parsed.success || problems.length) throw new ConfigError(subject, problems);
      const p = parsed.data;
      const me: AppIdentity = { label: subject, slug: p.slug, port: p.port, host: h.name, upstreamHost: p.upstreamHost, directory: appDirectory(p) };
      const others = appsOfSite.get(s) ?? [];
      const clashes = others.flatMap((o) => appClashes(o, me));
      if (clashes.length) throw new ConfigError(subject, clashes);
      appsOfSite.set(s, [...others, me]);
      return p;
    }

    function createData() {
      const a: DirectoriesArgs = {
        host,
        directories: [{ path: spec.dataRoot, owner: spec.data.owner, group: spec.data.group, mode: spec.data.mode }],
      };
      return new Directories(...transform(hooks?.data, childName(name, "data"), a, { parent }));
    }

    function createCheckout() {
      const a: RemoteTaskArgs = {
        host,
        script: gitCheckoutScript({ url: spec.repo.url, ref: spec.repo.ref, directory, directoryMode: "0750" }),
        // Serialised with the project's compose operations: `up --build` reads this tree.
        lock: composeLock(project),
        triggers: [revision],
      };
      return new RemoteTask(...transform(hooks?.checkout, childName(name, "checkout"), a, { parent }));
    }

    function createCompose() {
      const env: ComposeStackArgs["env"] = {
        CLOUD_MODE: "true",
        CLOUD_DATA_ROOT: spec.dataRoot,
        DIRECTUS_JWT_SECRET: pulumi.secret(secrets.directusJwtSecret),
        CF_SERVER_SECRET: pulumi.secret(secrets.cfServerSecret),
        PLATFORM_DB_URL: pulumi.secret(secrets.platformDbUrl),
        ...spec.env,
      };
      const a: ComposeStackArgs = {
        host,
        project,
        directory,
        composeFile: spec.composeFile,
        // Fetched and checked on the host (every ${VAR} set) before .env or the file is written.
        compose: { git: { url: spec.repo.url, ref: spec.repo.ref, path: spec.composeFile, sparse: true } },
        env,
        images: spec.images,
        build: spec.build,
        // A new ref may leave the compose file as it was: rebuild and restart anyway.
        triggers: [revision],
        ...(args.resolveDigest ? { resolveDigest: args.resolveDigest } : {}),
        // The source tree and the data root exist before the project is touched
        // (a bind mount of a missing directory would be created by Docker as root 0755).
        transform: { directory: after(data, ...(checkout ? [checkout] : [])) },
      };
      return new ComposeStack(...transform(hooks?.compose, childName(name, "compose"), a, { parent }));
    }

    function createRoute() {
      const a: CaddyRouteArgs = {
        site,
        route: spec.slug,
        path: appRoutePath(spec.slug),
        upstreams: [`http://${spec.upstreamHost}:${spec.port}`],
        // cloud_session.py reads the Directus session token from the full cookie header.
        headerUp: [{ name: "X-CF-Session", value: "{header.Cookie}" }],
        // Routed once the app answers; on delete, unrouted before it goes down.
        transform: { fragment: after(compose.nodes.up) },
      };
      return new CaddyRoute(...transform(hooks?.route, childName(name, "route"), a, { parent }));
    }

    function checkTriggers(): pulumi.Input<unknown>[] {
      return [revision, compose.composeContent.apply(sha256)];
    }

    function createHealth() {
      const a: HealthCheckArgs = {
        host,
        url: `http://127.0.0.1:${spec.port}${healthPath}`,
        expectStatus: spec.health.expectStatus,
        ...(spec.health.bodyMatch ? { bodyMatch: spec.health.bodyMatch } : {}),
        description: `${spec.slug} on port ${spec.port}`,
        triggers: checkTriggers(),
        transform: { command: after(compose.nodes.up) },
      };
      return new HealthCheck(...transform(hooks?.health, childName(name, "health"), a, { parent }));
    }

    function createHealthViaCaddy() {
      const portPart = spec.caddyCheck.port === 443 ? "" : `:${spec.caddyCheck.port}`;
      const a: HealthCheckArgs = {
        host: site.host,
        url: `https://${spec.domain}${portPart}${healthPath}`,
        resolve: { host: spec.domain, port: spec.caddyCheck.port, address: spec.caddyCheck.address },
        expectStatus: spec.health.expectStatus,
        ...(spec.health.bodyMatch ? { bodyMatch: spec.health.bodyMatch } : {}),
        description: `${spec.slug} through Caddy`,
        triggers: checkTriggers(),
        transform: { command: after(route.nodes.fragment, compose.nodes.up) },
      };
      return new HealthCheck(...transform(hooks?.healthViaCaddy, childName(name, "health-via-caddy"), a, { parent }));
    }

  }

  static readonly __pulumiType = "fleet:menagerie:App";
}

function isHost(value: unknown): value is Host {
  return typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string" && "connection" in value && "spec" in value;
}
