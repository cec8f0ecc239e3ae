import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { CaddyRoute } from "../caddy/route";
import { type CaddyRouteArgs, caddyRouteSchema } from "../caddy/args";
import { type ComposeStackArgs } from "../compose/args";
import { ComposeStack, checkComposeStack } from "../compose/stack";
import { type HAProxyRouteArgs, haproxyRouteSchema } from "../haproxy/args";
import { HAProxyRoute } from "../haproxy/route";
import { type HealthCheckArgs, healthCheckSchema } from "../health/args";
import { HealthCheck } from "../health/check";
import { healthCheckScript } from "../health/render";
import { Directories, directoriesSchema, SystemUser, systemUserSchema } from "../host/system";
import { type NginxSiteArgs, nginxSiteSchema, tryParseProxyUrl } from "../nginx/args";
import { NginxSite } from "../nginx/site";
import { prometheusScrapeSchema } from "../prometheus/args";
import { PrometheusScrape } from "../prometheus/scrape";
import { type SystemdUnitArgs, systemdUnitSchema } from "../systemd/args";
import { SystemdUnit } from "../systemd/unit";
import { type RemoteTaskArgs, remoteTaskSchema } from "../task/args";
import { RemoteTask } from "../task/task";
import { envProblems, renderEnvFile } from "../compose/render";
import { sha256 } from "../../hash";
import { childName } from "../../naming";
import { remoteFile } from "../../remote/command";
import { plain } from "../../remote/daemons";
import { type Host } from "../../remote/host";
import { after, type Transform, transform } from "../../transform";
import { ConfigError, type Problem, problemsFromZod } from "../../validation/errors";
import {
  APP_RESERVED_ROLES,
  APP_STEPS,
  type AppChildRole,
  type AppCheckArgs,
  type AppDeploymentArgs,
  type AppEnvFile,
  appEnvFileSchema,
  type AppSiteArgs,
  type AppRerunOn,
  type AppSource,
  type AppTaskArgs,
  appAfterSchema,
  appPhaseSchema,
  appRerunOnSchema,
  appRevision,
  appRole,
  appSecretName,
  appSourceSchema,
  type DirectoriesArgs,
  type SystemUserInput,
} from "./args";
import { gitCheckoutScript } from "../../remote/checkout";
import { envName, slug } from "../../validation/primitives";
import { describePorts, externalNetworks, type PublishedPort, publishedPorts } from "../compose/inspect";
import { ComposeParseError } from "../compose/interpolation";
import { composeLock } from "../compose/project";

/** What the constructor works from once every rule passed. */
interface AppPlan {
  readonly source: AppSource | undefined;
  readonly revision: string | undefined;
  readonly envFile: AppEnvFile | undefined;
  readonly routeAfter: readonly string[];
  readonly siteAfter: readonly string[];
  /** `afterRoute`: the check waits for the route (directly or through an earlier check), so it is created after it. */
  readonly checks: readonly { readonly key: string; readonly after: readonly string[]; readonly rerunOn: readonly AppRerunOn[]; readonly afterRoute: boolean }[];
  /**
   * The checks `up` also runs on the app's host once the containers settle (see
   * `gatesUp`), as shell bodies: a failing one rolls the compose project back.
   */
  readonly upChecks: readonly { readonly name: string; readonly body: string }[];
  readonly tasks: readonly { readonly key: string; readonly phase: "before" | "after"; readonly after: readonly string[]; readonly rerunOn: readonly AppRerunOn[] }[];
  /** External networks of a compose file read at preview (an inline one's are ComposeStack's own). */
  readonly networks: readonly string[];
  /** The names of the children the component names itself. */
  readonly names: Readonly<Record<AppChildRole, string>>;
}

/**
 * One app, deployed the way every stack deploys apps: its source at a pinned ref →
 * a compose project or a systemd service → a route (Caddy, HAProxy or nginx) →
 * health checks → a Prometheus scrape job, with one-time tasks before or after the
 * deployment and its secrets only in the project's 0600 `.env`. Each part is the
 * library's own component, given its own args; this component names them, orders
 * them and ties their re-runs to the revision deployed.
 *
 * Children (all optional but one of `compose`/`service`): `-user` (SystemUser) →
 * `-data` (Directories) and `-checkout` (RemoteTask: `source.url` at `source.ref`
 * into `source.directory`) → `-env` (the app's own 0600 `.env`) → `before` tasks →
 * `-compose` (ComposeStack) or `-service` (SystemdUnit) → `after` tasks → `-site`
 * (NginxSite on the app's host) → `-route` (CaddyRoute, HAProxyRoute or NginxSite; by
 * default once the app is up) → checks `-<key>` (HealthCheck; by default once the
 * app is up) → `-scrape` (PrometheusScrape).
 *
 * Ordering between parts is named by step (`source`, `up`, `deployment`, `route`,
 * `env`, `site`), by task key or (for a check) by an earlier check's key in `after`,
 * because a component's `dependsOn` does not reach its children (STYLE 17). Checks
 * and tasks re-run on what `rerunOn` names (`revision`, the deployed `compose` file,
 * the pinned `images`, the `.env`, the `service` unit).
 *
 * A new version is routed to only once it is healthy: the route waits for every check
 * that does not wait for the route, and the checks of a compose app that run on the
 * app's own host before the route (no password, waiting for nothing after `up`) also run
 * inside the project's `up` once its containers settle; the first that fails rolls the
 * project back to the last deploy that came up (ComposeStack `upChecks`), and `up` fails
 * naming the check, the host and what was restored, so the previous version serves.
 *
 * Every rule is checked before anything is registered: this component's own (one of
 * `compose`/`service`, step and task names, roles) and each child's args with the
 * child's schema, reported at their path (`compose/env/X: …`).
 *
 * #### An app of the menagerie cloud: compose file from its repository, behind Caddy
 * ```ts
 * new AppDeployment("falcon", {
 *   host: bastion,
 *   source: { url: "https://git.circuitforge.tech/pyr0ball/falcon.git", ref: "v0.1.0", directory: "/opt/falcon-cloud/src/falcon" },
 *   data: [{ path: "/devl/menagerie-data", mode: "0700" }],
 *   compose: {
 *     project: "falcon-cloud", directory: "/opt/falcon-cloud", composeFile: "compose.cloud.yml", build: true, projectDirectory: "/opt/falcon-cloud/src/falcon",
 *     compose: { git: { url: repo.url, ref: repo.ref, path: "compose.cloud.yml", sparse: true } },
 *     env: { CLOUD_MODE: "true" },
 *   },
 *   secrets: { CF_SERVER_SECRET: cfServerSecret },
 *   route: { caddy: { site, route: "falcon", path: "/falcon*", upstreams: ["http://host.docker.internal:8506"] } },
 *   checks: {
 *     health: { url: "http://127.0.0.1:8506/falcon/", rerunOn: ["revision", "compose"] },
 *     "health-via-caddy": { host: site.host, url: "https://menagerie.circuitforge.tech/falcon/", after: ["route", "up"], rerunOn: ["revision", "compose"] },
 *   },
 * });
 * ```
 *
 * #### Mnemosyne: an inline compose file, an HAProxy route, probes and a scrape job
 * ```ts
 * new AppDeployment("mnemosyne", {
 *   host: puck,
 *   compose: { project: "mnemosyne", directory: "/opt/mnemosyne", compose: { content }, env, tasks: [{ name: "migrate", run: ["run", "--rm", "-T", "app", "migrate"] }] },
 *   route: { haproxy: { host: titania, backend: "mnemosyne", domains: ["mnemosyne.example.com"], servers: [{ name: "puck", address: "puck.incus", port: 23181 }] }, after: [] },
 *   checks: { live: { host: prospero, url: "http://puck.incus:23181/live/", after: ["deployment"], rerunOn: ["compose", "images"] } },
 *   scrape: { host: prospero, jobName: "mnemosyne", targets: ["puck.incus:23181"] },
 * });
 * ```
 *
 * #### Daedalus: a systemd service run as its own user from releases, its .env, a local nginx site
 * Each commit is built into `/srv/daedalus/releases/<commit12>` beside the live one, each
 * commit with each .env is a release, switched to through `current` only when healthy
 * (src/remote/releases.ts; the unit and the site reach the code and the .env through
 * `current`; the activation is the unit's only restart and checks through the site too).
 * ```ts
 * const layout = { root: "/srv/daedalus", repository: "/srv/daedalus/repo", keep: 3, envFile: "/srv/daedalus/.env", parts: ["backend", "frontend", "venv"] };
 * new AppDeployment("daedalus", {
 *   host: puck,
 *   user: { name: "daedalus", home: "/srv/daedalus" },
 *   data: [{ path: "/srv/daedalus", owner: "daedalus" }],
 *   source: { url, ref, commit, directory: "/srv/daedalus/repo", user: "daedalus" },
 *   envFile: { path: "/srv/daedalus/.env", owner: "daedalus", group: "daedalus", values: { DAEDALUS_DATABASE_URL: db.url } },
 *   service: { name: "daedalus-api.service", content: unit, restartOnChange: false },
 *   tasks: {
 *     release: { user: "daedalus", script: releaseCreateScript(layout), phase: "before", after: ["source", "env"], rerunOn: ["revision", "env"] },
 *     backend: { user: "daedalus", script: "…pip install in the release…", phase: "before", after: ["release"], rerunOn: ["revision"] },
 *     migrate: { user: "daedalus", script: "…alembic upgrade head…", phase: "before", after: ["backend", "env"], rerunOn: ["revision", "env"] },
 *     activate: { script: releaseActivateScript(layout, { app: "Daedalus", hostName: "puck", restart, checks, unitFile }), after: ["deployment", "site"], rerunOn: ["revision", "env", "service"] },
 *   },
 *   site: { site: "daedalus", listen: 22181, root: "/srv/daedalus/current/frontend/build", spa: true, locations: [{ path: "/api/", proxyPass: "http://127.0.0.1:8000" }] },
 *   checks: { health: { url: "http://127.0.0.1:22181/api/health", after: ["deployment", "site", "activate"], rerunOn: ["revision", "env", "service"] } },
 * });
 * ```
 */
export class AppDeployment extends pulumi.ComponentResource {
  /** `<url>#<ref>` (`@<commit>` when pinned) of the source deployed, when there is a source. */
  public readonly revision: string | undefined;
  /** The commit deployed, when the source's ref was resolved at preview (`source.commit`). */
  public readonly commit: string | undefined;
  /** The compose file as deployed (images pinned), with `compose`. */
  public readonly composeContent: pulumi.Output<string> | undefined;
  /** Pinned image reference per service, with `compose`. */
  public readonly images: pulumi.Output<Record<string, string>> | undefined;
  /** stdout of each compose task with `captureStdout`, as a secret. */
  public readonly taskOutputs: Readonly<Record<string, pulumi.Output<string>>>;
  /** The raw children. */
  public readonly nodes: {
    readonly user?: SystemUser;
    readonly data?: Directories;
    readonly checkout?: RemoteTask;
    readonly env?: command.remote.Command;
    readonly compose?: ComposeStack;
    readonly service?: SystemdUnit;
    readonly site?: NginxSite;
    readonly route?: CaddyRoute | HAProxyRoute | NginxSite;
    readonly checks: Readonly<Record<string, HealthCheck>>;
    readonly tasks: Readonly<Record<string, RemoteTask>>;
    readonly scrape?: PrometheusScrape;
  };

  constructor(name: string, args: AppDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    const plan = AppDeployment.check(name, args);
    super(AppDeployment.__pulumiType, name, {}, opts);
    const parent = this;
    const { host, transform: hooks } = args;
    const { source, revision } = plan;

    const user = args.user ? createUser() : undefined;
    const data = args.data ? createData() : undefined;
    const checkout = source?.directory !== undefined ? createCheckout(source, source.directory) : undefined;
    const envText = plan.envFile ? envFileText(`AppDeployment "${name}": envFile/values`, args.envFile!.values) : undefined;
    const env = plan.envFile && envText ? createEnvFile(plan.envFile, envText) : undefined;
    // A hash of the .env (secret: derived from secrets) rebuilds or restarts the app on change.
    const envHash = envText ? pulumi.secret(envText.apply(sha256)) : undefined;
    // What exists before the app is touched: its tree, its data and its .env.
    const prepared: pulumi.Resource[] = [...(data ? [data] : []), ...(checkout ? [checkout] : []), ...(env ? [env] : [])];
    // Each part is created after everything it may wait for (the rules of `check`: a task
    // waits only for a task before it, a check only for a check before it).
    const tasks: Record<string, RemoteTask> = {};
    const checks: Record<string, HealthCheck> = {};
    for (const t of plan.tasks.filter((x) => x.phase === "before")) tasks[t.key] = createTask(t.key, t.after, t.rerunOn);
    const before = Object.values(tasks);
    const compose = args.compose ? createCompose() : undefined;
    const service = args.service ? createService() : undefined;
    // The site comes before the tasks of phase after when one of them waits for it (an
    // activation that checks the app through it); `check` refuses the cycle.
    const siteFirst = args.site !== undefined && plan.tasks.some((t) => t.phase === "after" && t.after.includes("site"));
    let site = siteFirst ? createSite() : undefined;
    for (const t of plan.tasks.filter((x) => x.phase === "after")) tasks[t.key] = createTask(t.key, t.after, t.rerunOn);
    if (args.site && !siteFirst) site = createSite();
    // Checks that do not wait for the route come first: the route waits for them, so a
    // version that is not healthy is never routed to.
    for (const c of plan.checks.filter((x) => !x.afterRoute)) checks[c.key] = createCheck(c.key, c.after, c.rerunOn);
    const route = args.route ? createRoute() : undefined;
    for (const c of plan.checks.filter((x) => x.afterRoute)) checks[c.key] = createCheck(c.key, c.after, c.rerunOn);
    const scrape = args.scrape ? new PrometheusScrape(...transform(hooks?.scrape, plan.names.scrape, args.scrape, { parent })) : undefined;

    this.revision = revision;
    this.commit = source?.commit;
    this.composeContent = compose?.composeContent;
    this.images = compose?.images;
    this.taskOutputs = compose?.taskOutputs ?? {};
    this.nodes = {
      ...(user ? { user } : {}),
      ...(data ? { data } : {}),
      ...(checkout ? { checkout } : {}),
      ...(env ? { env } : {}),
      ...(compose ? { compose } : {}),
      ...(service ? { service } : {}),
      ...(site ? { site } : {}),
      ...(route ? { route } : {}),
      checks,
      tasks,
      ...(scrape ? { scrape } : {}),
    };
    this.registerOutputs({ revision, ...(source?.commit ? { commit: source.commit } : {}) });

    /** The resources a step (or a task key) names; checked to exist by `check`. */
    function step(s: string): pulumi.Resource[] {
      switch (s) {
        case "source":
          return checkout ? [checkout] : [];
        case "up":
          return compose ? [compose.nodes.up] : service ? [service] : [];
        case "deployment":
          return compose ? [compose] : service ? [service] : [];
        case "route":
          return route ? [route] : [];
        case "env":
          return env ? [env] : [];
        case "site":
          return site ? [site] : [];
        default:
          return tasks[s] ? [tasks[s]] : checks[s] ? [checks[s]] : [];
      }
    }
    function steps(list: readonly string[]): pulumi.Resource[] {
      return list.flatMap(step);
    }
    /** The values `rerunOn` names, in its order (each checked to exist by `check`). */
    function rerunValues(list: readonly AppRerunOn[]): pulumi.Input<unknown>[] {
      return list.map((r): pulumi.Input<unknown> => {
        switch (r) {
          case "revision":
            return revision!;
          case "compose":
            return compose!.composeContent.apply(sha256);
          case "images":
            return compose!.images;
          case "env":
            return envHash!;
          case "service":
            return service!.contentHash;
        }
      });
    }

    function createUser() {
      const a = { ...(args.user as SystemUserInput), host };
      return new SystemUser(...transform(hooks?.user, plan.names.user, a, { parent }));
    }

    function createData() {
      const a: DirectoriesArgs = { host, directories: args.data!, ...(user ? { transform: { command: after(user) } } : {}) };
      return new Directories(...transform(hooks?.data, plan.names.data, a, { parent }));
    }

    function createCheckout(s: AppSource, directory: string) {
      const lock = s.lock === false ? undefined : (s.lock ?? (args.compose ? composeLock(args.compose.project) : undefined));
      // A directory of `data` has its owner and mode from there: the checkout enters it.
      // A checkout under a directory of `data` (Daedalus's /srv/daedalus/repo) waits for it too.
      const made = s.createDirectory === false;
      const under = (args.data ?? []).some((d) => typeof d?.path === "string" && directory.startsWith(`${d.path.replace(/\/+$/, "")}/`));
      const waitFor = [...(user ? [user] : []), ...((made || under) && data ? [data] : [])];
      const a: RemoteTaskArgs = {
        host,
        ...(s.user ? { user: s.user } : {}),
        ...(made ? { cwd: directory } : {}),
        script: gitCheckoutScript({ url: s.url, ref: s.ref, ...(s.commit !== undefined ? { commit: s.commit } : {}), ...(made ? {} : { directory, directoryMode: "0750" }) }),
        // Serialised with the project's compose operations: `up --build` reads this tree.
        ...(lock ? { lock } : {}),
        // A new commit is an update of the checkout, not a replacement (the command plugin replaces on triggers).
        revision: [revision!],
        ...(waitFor.length ? { transform: { command: after(...waitFor) } } : {}),
      };
      return new RemoteTask(...transform(hooks?.checkout, plan.names.checkout, a, { parent }));
    }

    function createEnvFile(f: AppEnvFile, content: pulumi.Output<string>) {
      const owner = f.owner ?? "root";
      return remoteFile(
        plan.names.env,
        {
          host,
          target: { path: f.path, owner, group: f.group ?? owner, mode: f.mode ?? "0600" },
          daemon: plain(f.lock ?? name),
          content,
          secret: true,
          ...(hooks?.env ? { transform: hooks.env } : {}),
        },
        { parent, ...(data ? { dependsOn: [data] } : user ? { dependsOn: [user] } : {}) },
      );
    }

    function createTask(key: string, waitFor: readonly string[], rerunOn: readonly AppRerunOn[]) {
      const { host: taskHost, phase: _phase, after: _after, rerunOn: _rerunOn, triggers, transform: taskHooks, ...rest } = args.tasks![key]!;
      const rerun = rerunValues(rerunOn);
      const a: RemoteTaskArgs = {
        ...rest,
        host: taskHost ?? host,
        // What rerunOn names re-runs the task as an update; the caller's own triggers still replace.
        ...(rerun.length ? { revision: rerun } : {}),
        ...(triggers ? { triggers } : {}),
        transform: { command: chain(after(...steps(waitFor)), taskHooks?.command) },
      };
      return new RemoteTask(...transform(hooks?.tasks?.[key], childName(name, key), a, { parent }));
    }

    function createCompose() {
      const c = args.compose!;
      const secretEnv = Object.fromEntries(Object.entries(args.secrets ?? {}).map(([k, v]) => [k, pulumi.secret(v)]));
      // A compose file from the app's own repository at the app's ref: exactly the commit previewed.
      const git = "git" in c.compose ? c.compose.git : undefined;
      const pinned = git && source?.commit && git.url === source.url && git.ref === source.ref ? { git: { ...git, commit: source.commit } } : undefined;
      const trees = buildTreesOf(c, source);
      const a: ComposeStackArgs = {
        ...c,
        host,
        ...(pinned ? { compose: pinned } : {}),
        ...(trees ? { buildTrees: trees } : {}),
        ...(plan.networks.length ? { networks: [...new Set([...(c.networks ?? []), ...plan.networks])].sort() } : {}),
        // The new version's health on the app's host gates `up`: unhealthy, it is rolled back.
        ...(plan.upChecks.length ? { upChecks: [...(c.upChecks ?? []), ...plan.upChecks] } : {}),
        env: { ...secretEnv, ...(c.env ?? {}) },
        // A new ref (or .env) may leave the compose file as it was: rebuild and restart anyway.
        ...(revision || envHash || c.triggers ? { triggers: [...(revision ? [revision] : []), ...(envHash ? [envHash] : []), ...(c.triggers ?? [])] } : {}),
        transform: {
          ...c.transform,
          // The source tree, the data and the .env exist before the project is touched (a
          // bind mount of a missing directory would be created by Docker as root 0755).
          ...(prepared.length ? { directory: chain(after(...prepared), c.transform?.directory) } : {}),
          ...(before.length ? { up: chain(after(...before), c.transform?.up) } : {}),
          // Adoption stops and removes what runs by hand: the tasks of phase before (a backup
          // of the database that still runs, a one-time setup) come first, as for `up`.
          ...(before.length && c.adopt ? { adopt: chain(after(...before), c.transform?.adopt) } : {}),
        },
      };
      return new ComposeStack(...transform(hooks?.compose, plan.names.compose, a, { parent }));
    }

    function createService() {
      const s = args.service!;
      const waitFor = [...prepared, ...before];
      const a: SystemdUnitArgs = {
        ...s,
        host,
        ...(revision || envHash || s.restartTriggers ? { restartTriggers: [...(revision ? [revision] : []), ...(envHash ? [envHash] : []), ...(s.restartTriggers ?? [])] } : {}),
        // The unit file too: its check (systemd-analyze verify) wants ExecStart's binary, which
        // the tree and the before tasks make (Daedalus's venv, in the release current names).
        transform: {
          ...s.transform,
          ...(waitFor.length ? { unit: chain(after(...waitFor), s.transform?.unit), restart: chain(after(...waitFor), s.transform?.restart) } : {}),
        },
      };
      return new SystemdUnit(...transform(hooks?.service, plan.names.service, a, { parent }));
    }

    function createSite() {
      const { after: _after, ...n } = args.site!;
      const waitFor = steps(plan.siteAfter);
      const hook = waitFor.length ? chain(after(...waitFor), n.transform?.config) : n.transform?.config;
      const a: NginxSiteArgs = { ...n, host, transform: { ...n.transform, ...(hook ? { config: hook } : {}) } };
      return new NginxSite(...transform(hooks?.site, plan.names.site, a, { parent }));
    }

    function createRoute(): CaddyRoute | HAProxyRoute | NginxSite {
      const r = args.route!;
      const waitFor = steps(plan.routeAfter);
      const routeName = plan.names.route;
      if (r.caddy) {
        const hook = waitFor.length ? chain(after(...waitFor), r.caddy.transform?.fragment) : r.caddy.transform?.fragment;
        const a: CaddyRouteArgs = { ...r.caddy, transform: { ...r.caddy.transform, ...(hook ? { fragment: hook } : {}) } };
        return new CaddyRoute(...transform<CaddyRouteArgs>(hooks?.route, routeName, a, { parent }));
      }
      if (r.haproxy) {
        // Both fragments are one command (`<route>-files`): it waits once; the deprecated
        // backend and map hooks are the caller's own and reach the same command after it.
        const t = r.haproxy.transform;
        const files = waitFor.length ? chain(after(...waitFor), t?.files) : t?.files;
        const a: HAProxyRouteArgs = { ...r.haproxy, transform: { ...t, ...(files ? { files } : {}) } };
        return new HAProxyRoute(...transform<HAProxyRouteArgs>(hooks?.route, routeName, a, { parent }));
      }
      const n = r.nginx;
      const hook = waitFor.length ? chain(after(...waitFor), n.transform?.config) : n.transform?.config;
      const a: NginxSiteArgs = { ...n, transform: { ...n.transform, ...(hook ? { config: hook } : {}) } };
      return new NginxSite(...transform<NginxSiteArgs>(hooks?.route, routeName, a, { parent }));
    }

    function createCheck(key: string, waitFor: readonly string[], rerunOn: readonly AppRerunOn[]) {
      const { host: checkHost, after: _after, rerunOn: _rerunOn, triggers, transform: checkHooks, ...rest } = args.checks![key]!;
      const rerun = rerunValues(rerunOn);
      const a: HealthCheckArgs = {
        ...rest,
        host: checkHost ?? host,
        ...(rerun.length ? { revision: rerun } : {}),
        ...(triggers ? { triggers } : {}),
        transform: { command: chain(after(...steps(waitFor)), checkHooks?.command) },
      };
      return new HealthCheck(...transform(hooks?.checks?.[key], childName(name, key), a, { parent }));
    }
  }

  /**
   * Every rule of the args, before anything is registered: this component's own and
   * each child's args against the child's schema, as one ConfigError whose paths
   * start at the args (`compose/env/X`, `checks/health/url`).
   */
  static check(name: string, args: AppDeploymentArgs): AppPlan {
    const subject = `AppDeployment "${name}"`;
    const problems: Problem[] = [];
    const add = (base: string, issues: readonly Problem[]) => problems.push(...issues.map((p) => ({ path: p.path ? `${base}/${p.path}` : base, message: p.message })));
    const zod = (base: string, schema: { safeParse(v: unknown): { success: true } | { success: false; error: Parameters<typeof problemsFromZod>[0] } }, value: unknown) => {
      const r = schema.safeParse(value);
      if (!r.success) add(base, problemsFromZod(r.error));
    };

    const names = Object.fromEntries(APP_RESERVED_ROLES.map((role) => [role, args.names?.[role] ?? childName(name, role)])) as Record<AppChildRole, string>;
    for (const [role, given] of Object.entries(args.names ?? {})) {
      if (!(APP_RESERVED_ROLES as readonly string[]).includes(role)) problems.push({ path: `names/${role}`, message: `must be one of ${APP_RESERVED_ROLES.join(", ")}` });
      else if (typeof given !== "string" || !(given === name || given.startsWith(`${name}-`)) || !/^[a-z][a-z0-9-]*$/.test(given)) {
        problems.push({ path: `names/${role}`, message: `must be "${name}" or start with "${name}-" (lowercase letters, digits and '-'), so the child carries the app's name` });
      }
    }
    const taken = [...Object.values(names), ...Object.keys(args.checks ?? {}).map((k) => childName(name, k)), ...Object.keys(args.tasks ?? {}).map((k) => childName(name, k))];
    for (const dup of new Set(taken.filter((n, i) => taken.indexOf(n) !== i))) problems.push({ path: "names", message: `two children would be named ${dup}; give each its own name` });

    if (!isHost(args.host)) problems.push({ path: "host", message: "is required: the host the app runs on (from defineHost)" });
    let source: AppSource | undefined;
    if (args.source !== undefined) {
      const r = appSourceSchema.safeParse(args.source);
      if (r.success) source = r.data;
      else add("source", problemsFromZod(r.error));
    }
    if (args.data !== undefined) zod("data", directoriesSchema.shape.directories, args.data);
    if (source?.createDirectory === false) {
      if (source.directory === undefined) problems.push({ path: "source/createDirectory", message: "needs source/directory: false means the checkout enters a directory of data" });
      else if (!(Array.isArray(args.data) && args.data.some((d) => d?.path === source.directory))) {
        problems.push({ path: "source/createDirectory", message: `is false, so ${source.directory} must be one of data (made there with its owner and mode); add it to data or drop createDirectory` });
      }
    }
    if (args.user !== undefined) zod("user", systemUserSchema, args.user);
    let envFile: AppEnvFile | undefined;
    if (args.envFile !== undefined) {
      const { values, ...spec } = args.envFile;
      const r = appEnvFileSchema.safeParse(spec);
      if (r.success) envFile = r.data;
      else add("envFile", problemsFromZod(r.error));
      if (typeof values !== "object" || values === null) problems.push({ path: "envFile/values", message: "is required: the variables, KEY: value" });
      else {
        // Names and plain values now; Output values are checked the same way when they resolve.
        const entries = Object.entries(values);
        const plainValues = Object.fromEntries(entries.filter((e): e is [string, string] => typeof e[1] === "string"));
        add("envFile/values", envProblems(plainValues).map((p) => ({ path: p.path.replace(/^env\//, ""), message: p.message })));
        for (const [k] of entries.filter(([, v]) => typeof v !== "string")) {
          const r = envName.safeParse(k);
          if (!r.success) add(`envFile/values/${k}`, problemsFromZod(r.error));
        }
      }
      if (envFile && envFile.lock === undefined && !slug.safeParse(name).success) problems.push({ path: "envFile/lock", message: `is required: the app's name "${name}" is not a lock name (${LOCK_RULE})` });
    }

    const kinds = (["compose", "service"] as const).filter((k) => args[k] !== undefined);
    if (kinds.length !== 1) problems.push({ path: kinds.length ? "service" : "compose", message: "give exactly one of compose (a compose project) or service (a systemd unit)" });
    // The compose file when it is known now: inline, or read at preview from the app's
    // repository at the resolved commit (`source.files`). Its checks then run here,
    // before anything of the app is registered.
    const composeFile = args.compose !== undefined ? knownCompose(args.compose.compose, source, problems) : undefined;
    const plainEnv = Object.fromEntries(
      Object.entries({ ...(args.secrets ?? {}), ...(args.compose?.env ?? {}) }).filter((e): e is [string, string] => typeof e[1] === "string"),
    );
    if (args.compose !== undefined && isHost(args.host)) {
      const trees = buildTreesOf(args.compose, source);
      try {
        const compose = composeFile?.fromRepository ? { content: composeFile.text } : args.compose.compose;
        checkComposeStack(names.compose, { ...args.compose, compose, host: args.host, env: { ...(args.secrets ?? {}), ...(args.compose.env ?? {}) }, ...(trees ? { buildTrees: trees } : {}) });
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        // A refused build already names the checkout at its commit (with the tree read at preview).
        const named = (p: Problem) => trees !== args.compose!.buildTrees && /^compose\/services\/[^/]+\/build$/.test(p.path);
        add("compose", composeFile?.fromRepository ? e.problems.map((p) => (named(p) ? p : { ...p, message: `${p.message} (${composeFile.label})` })) : e.problems);
      }
    }
    if (args.service !== undefined) {
      const { restartTriggers: _rt, transform: _t, ...spec } = args.service;
      zod("service", systemdUnitSchema, spec);
    }
    if (args.site !== undefined) {
      const { after: _after, transform: _t, layout: _l, host: h, ...spec } = args.site as AppSiteArgs & { host?: unknown };
      if (h !== undefined) problems.push({ path: "site/host", message: "must not be set: the site runs on the app's host" });
      zod("site", nginxSiteSchema, spec);
    }
    if (args.secrets !== undefined) {
      if (args.compose === undefined) problems.push({ path: "secrets", message: "needs compose: secrets go into the compose project's .env" });
      for (const k of Object.keys(args.secrets)) {
        const r = appSecretName.safeParse(k);
        if (!r.success) add(`secrets/${k}`, problemsFromZod(r.error));
        if (args.compose?.env && Object.hasOwn(args.compose.env, k)) problems.push({ path: `secrets/${k}`, message: "is also set in compose/env; set it in one place" });
      }
    }

    // Keys of tasks and checks become child names, so they share one namespace.
    const taskKeys = Object.keys(args.tasks ?? {});
    const checkKeys = Object.keys(args.checks ?? {});
    for (const [base, keys] of [["tasks", taskKeys], ["checks", checkKeys]] as const) {
      for (const k of keys) {
        const r = appRole.safeParse(k);
        if (!r.success) add(`${base}/${k}`, problemsFromZod(r.error));
      }
    }
    for (const k of checkKeys.filter((c) => taskKeys.includes(c))) problems.push({ path: `checks/${k}`, message: `is also a task key; give each child its own key (the child is named ${name}-${k})` });

    const known = new Set<string>([...APP_STEPS, ...taskKeys]);
    const available = (s: string) =>
      (s === "source" && args.source?.directory !== undefined) ||
      ((s === "up" || s === "deployment") && kinds.length > 0) ||
      (s === "route" && args.route !== undefined) ||
      (s === "env" && args.envFile !== undefined) ||
      (s === "site" && args.site !== undefined) ||
      taskKeys.includes(s);
    /** `earlier`: keys of tasks (or checks) made before this one, which it may name. */
    const checkAfter = (base: string, list: unknown, self?: string, earlier: { kind: "task" | "check"; keys: readonly string[] } = { kind: "task", keys: taskKeys }): string[] => {
      const r = appAfterSchema.safeParse(list);
      if (!r.success) {
        add(base, problemsFromZod(r.error));
        return [];
      }
      const ownKind = earlier.kind === "check" ? checkKeys : taskKeys;
      r.data.forEach((s, i) => {
        const isCheck = earlier.kind === "check" && checkKeys.includes(s);
        if (!known.has(s) && !isCheck) {
          problems.push({ path: `${base}/${i}`, message: `must be a step (${APP_STEPS.join(", ")}) or a task key (${taskKeys.join(", ") || "none"})${earlier.kind === "check" ? " or the key of a check before it" : ""}` });
        } else if (s === self) problems.push({ path: `${base}/${i}`, message: `must not name the ${earlier.kind} itself` });
        else if (!isCheck && !available(s)) problems.push({ path: `${base}/${i}`, message: `names ${s}, which this app does not have` });
        else if (ownKind.includes(s) && (isCheck || earlier.kind === "task") && !earlier.keys.includes(s)) {
          problems.push({ path: `${base}/${i}`, message: `names ${s}, a ${isCheck ? "check" : "task"} declared after this one; declare ${s} first` });
        }
      });
      return r.data;
    };
    const checkRerun = (base: string, list: unknown, phase?: "before" | "after"): AppRerunOn[] => {
      const rr = appRerunOnSchema.safeParse(list ?? []);
      if (!rr.success) {
        add(base, problemsFromZod(rr.error));
        return [];
      }
      rr.data.forEach((x, i) => {
        if (x === "revision" && args.source === undefined) problems.push({ path: `${base}/${i}`, message: "names revision, but the app has no source" });
        if ((x === "compose" || x === "images") && args.compose === undefined) problems.push({ path: `${base}/${i}`, message: `names ${x}, but the app has no compose project` });
        if (x === "env" && args.envFile === undefined) problems.push({ path: `${base}/${i}`, message: "names env, but the app has no envFile" });
        if (x === "service" && args.service === undefined) problems.push({ path: `${base}/${i}`, message: "names service, but the app has no systemd service" });
        if (phase === "before" && (x === "compose" || x === "images" || x === "service")) problems.push({ path: `${base}/${i}`, message: `names ${x}, which a task of phase before runs ahead of` });
      });
      return rr.data;
    };

    const tasks = taskKeys.map((key) => {
      const t: AppTaskArgs = args.tasks![key]!;
      const { host: h, secrets: _s, triggers: _tr, transform: _t, phase, after: afterList, rerunOn, ...spec } = t;
      if (h !== undefined && !isHost(h)) problems.push({ path: `tasks/${key}/host`, message: "must be a host from defineHost" });
      zod(`tasks/${key}`, remoteTaskSchema, spec);
      const ph = appPhaseSchema.safeParse(phase ?? "after");
      if (!ph.success) add(`tasks/${key}/phase`, problemsFromZod(ph.error));
      const p = ph.success ? ph.data : "after";
      const defaults = p === "after" ? ["deployment"] : args.source?.directory !== undefined ? ["source"] : [];
      // Tasks are made in order, before tasks first: a task may name only those made before it.
      const phaseOf = (k: string) => (args.tasks![k]!.phase ?? "after");
      const made = taskKeys.filter((k) => (phaseOf(k) === "before" && (p === "after" || taskKeys.indexOf(k) < taskKeys.indexOf(key))) || (p === "after" && phaseOf(k) === "after" && taskKeys.indexOf(k) < taskKeys.indexOf(key)));
      // (A before task naming an after task is refused below, with the reason.)
      const waitFor = checkAfter(`tasks/${key}/after`, afterList ?? defaults, key, { kind: "task", keys: p === "before" ? [...made, ...taskKeys.filter((k) => phaseOf(k) === "after")] : made });
      if (p === "before" && waitFor.some((s) => s === "up" || s === "deployment")) {
        problems.push({ path: `tasks/${key}/after`, message: "must not wait for up or deployment: the deployment waits for a task of phase before" });
      }
      if (waitFor.some((s) => s === "route" || (s === "site" && p === "before"))) {
        problems.push({
          path: `tasks/${key}/after`,
          message: p === "before" ? "must not wait for route or site: tasks of phase before come before them (the route and the site may wait for a task)" : "must not wait for route: tasks come before it (the route may wait for a task)",
        });
      }
      return { key, phase: p, after: waitFor, rerunOn: checkRerun(`tasks/${key}/rerunOn`, rerunOn, p) };
    });
    // A `before` task may not wait for an `after` task (the deployment would wait for itself).
    for (const t of tasks.filter((x) => x.phase === "before")) {
      for (const s of t.after) if (tasks.some((o) => o.key === s && o.phase === "after")) problems.push({ path: `tasks/${t.key}/after`, message: `names ${s}, a task of phase after, which waits for the deployment that waits for ${t.key}` });
    }

    // A check waits for the route when it names it, or names an earlier check that does
    // (tasks never wait for the route); those are created after the route, the rest before.
    const afterRoute = new Set<string>();
    const checks = checkKeys.map((key) => {
      const c: AppCheckArgs = args.checks![key]!;
      const { host: h, password, triggers: _tr, transform: _t, after: afterList, rerunOn, ...spec } = c;
      if (h !== undefined && !isHost(h)) problems.push({ path: `checks/${key}/host`, message: "must be a host from defineHost" });
      const parsed = healthCheckSchema.safeParse(spec);
      if (!parsed.success) add(`checks/${key}`, problemsFromZod(parsed.error));
      if ((spec.basicAuthUser === undefined) !== (password === undefined)) problems.push({ path: `checks/${key}/password`, message: "give both basicAuthUser and password, or neither" });
      const waitFor = checkAfter(`checks/${key}/after`, afterList ?? (kinds.length ? ["up"] : []), key, { kind: "check", keys: checkKeys.slice(0, checkKeys.indexOf(key)) });
      if (waitFor.some((s) => s === "route" || afterRoute.has(s))) afterRoute.add(key);
      const gate = parsed.success && password === undefined && gatesUp(args, h, waitFor, taskKeys);
      return { key, after: waitFor, rerunOn: checkRerun(`checks/${key}/rerunOn`, rerunOn), afterRoute: afterRoute.has(key), ...(gate ? { upCheck: { name: key, body: healthCheckScript(parsed.data) } } : {}) };
    });

    let routeAfter: string[] = [];
    if (args.route !== undefined) {
      const r = args.route;
      const routeKinds = (["caddy", "haproxy", "nginx"] as const).filter((k) => r[k] !== undefined);
      if (routeKinds.length !== 1) problems.push({ path: "route", message: "give exactly one of caddy, haproxy or nginx" });
      if (r.caddy) {
        const { site, host: _h, layout: _l, transform: _t, ...spec } = r.caddy;
        if (site === undefined) problems.push({ path: "route/caddy/site", message: "is required: a CaddySite, or the slug of a site managed elsewhere" });
        zod("route/caddy", caddyRouteSchema, spec);
      }
      if (r.haproxy) {
        const { host: h, layout: _l, transform: _t, ...spec } = r.haproxy;
        if (!isHost(h)) problems.push({ path: "route/haproxy/host", message: "is required: the HAProxy host" });
        zod("route/haproxy", haproxyRouteSchema, spec);
      }
      if (r.nginx) {
        const { host: h, layout: _l, transform: _t, ...spec } = r.nginx;
        if (!isHost(h)) problems.push({ path: "route/nginx/host", message: "is required: the nginx host" });
        zod("route/nginx", nginxSiteSchema, spec);
      }
      // By default the route waits for the app to be up and for every check that does not
      // wait for the route itself: the new version must be healthy before it is routed to.
      const preRoute = checks.filter((c) => !c.afterRoute).map((c) => c.key);
      const given = r.after ?? [...(kinds.length ? ["up"] : []), ...preRoute];
      routeAfter = checkAfter("route/after", given, undefined, { kind: "check", keys: checkKeys });
      routeAfter.forEach((x, i) => {
        if (checkKeys.includes(x) && !preRoute.includes(x)) problems.push({ path: `route/after/${i}`, message: `names check ${x}, which waits for the route itself` });
      });
      if (routeAfter.includes("route")) problems.push({ path: "route/after", message: "must not name the route itself" });
    }
    let siteAfter: string[] = [];
    if (args.site !== undefined) {
      siteAfter = checkAfter("site/after", args.site.after ?? (kinds.length ? ["up"] : []));
      if (siteAfter.includes("site")) problems.push({ path: "site/after", message: "must not name the site itself" });
      if (siteAfter.includes("route")) problems.push({ path: "site/after", message: "must not name the route: the route comes after the site (and may wait for it)" });
      // A task of phase after that waits for the site, and a site that waits for a task of phase after: a cycle.
      const waiting = tasks.filter((t) => t.phase === "after" && t.after.includes("site")).map((t) => t.key);
      siteAfter.forEach((s, i) => {
        if (waiting.length && tasks.some((t) => t.key === s && t.phase === "after")) {
          problems.push({ path: `site/after/${i}`, message: `names ${s}, a task of phase after, while ${waiting.join(", ")} waits for the site; the site may wait for tasks of phase before only` });
        }
      });
    }

    if (args.scrape !== undefined) {
      const { host: h, grafanaHost: _g, layout: _l, grafanaLayout: _gl, transform: _t, ...spec } = args.scrape;
      if (!isHost(h)) problems.push({ path: "scrape/host", message: "is required: the Prometheus host" });
      zod("scrape", prometheusScrapeSchema, spec);
    }

    let networks: string[] = [];
    if (composeFile) {
      let published: PublishedPort[] | undefined;
      try {
        published = publishedPorts(composeFile.text, plainEnv);
        if (composeFile.fromRepository) networks = externalNetworks(composeFile.text, plainEnv);
      } catch (e) {
        // Unreadable YAML is reported by the compose check above.
        if (!(e instanceof ComposeParseError)) throw e;
      }
      if (published) {
        for (const r of routedPorts(args.route, args.site)) {
          if (published.some((p) => p.from <= r.port && r.port <= p.to)) continue;
          problems.push({
            path: r.path,
            message: `routes to port ${r.port}, which ${composeFile.label} does not publish (it publishes ${describePorts(published)}); publish ${r.port} there or route to a port it publishes`,
          });
        }
      }
    }

    if (problems.length) throw new ConfigError(subject, problems);
    const upChecks = checks.flatMap((c) => (c.upCheck ? [c.upCheck] : []));
    return { source, revision: source ? appRevision(source) : undefined, envFile, routeAfter, siteAfter, checks, upChecks, tasks, names, networks };
  }

  static readonly __pulumiType = "fleet:app:Deployment";
}

/**
 * Whether a check also gates the compose project's `up` (runs in it once the containers
 * settle; failing, the project is rolled back to the last deploy that came up and `up`
 * fails naming the check): a check of a compose app, run on the app's own host, with no
 * password, that waits for nothing later than `up` (`up`, `source`, `env`, tasks of phase
 * before) — `deployment` only when the project has no tasks. The check stays a resource
 * of its own too, and the route waits for it as before. A check from another host, or one
 * that needs an after task (migrations), cannot roll back: it only fails the deploy, ahead
 * of the route when the route waits for it.
 */
function gatesUp(args: AppDeploymentArgs, checkHost: Host | undefined, waitFor: readonly string[], taskKeys: readonly string[]): boolean {
  const compose = args.compose;
  if (compose === undefined || (compose.wait?.timeoutSeconds ?? 1) === 0) return false;
  if (checkHost !== undefined && checkHost !== args.host && checkHost.name !== args.host.name) return false;
  const before = new Set(taskKeys.filter((k) => (args.tasks![k]!.phase ?? "after") === "before"));
  const noTasks = (compose.tasks ?? []).length === 0;
  return waitFor.every((s) => s === "up" || s === "source" || s === "env" || before.has(s) || (s === "deployment" && noTasks));
}

/** Two hooks of one child, the component's first, then the caller's. */
function chain<A extends object>(first: Transform<A> | undefined, second: Transform<A> | undefined): Transform<A> | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return (args, opts, name) => {
    for (const hook of [first, second]) {
      if (typeof hook === "function") hook(args, opts, name);
      else Object.assign(args, hook);
    }
  };
}

const LOCK_RULE = "lowercase letters, digits and '-'; set envFile/lock";

/** The `.env` text of `values` (sorted `KEY='value'` lines), checked again once Outputs resolve. */
function envFileText(subject: string, values: Readonly<Record<string, pulumi.Input<string>>>): pulumi.Output<string> {
  const keys = Object.keys(values);
  return pulumi.all(keys.map((k) => pulumi.output(values[k]!))).apply((resolved) => renderEnvFile(Object.fromEntries(keys.map((k, i) => [k, resolved[i]!])), subject));
}

function isHost(value: unknown): value is Host {
  return typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string" && "connection" in value && "spec" in value;
}

/**
 * The compose file's text when it is known before anything is registered: inline
 * content that is a plain string, or a file of the app's own repository (same URL and
 * ref as `source`) read at preview into `source.files`. A file the repository does not
 * have there is a problem at `compose/compose/git/path`.
 */
function knownCompose(
  compose: ComposeStackArgs["compose"],
  source: AppSource | undefined,
  problems: Problem[],
): { readonly text: string; readonly fromRepository: boolean; readonly label: string } | undefined {
  if ("content" in compose) return typeof compose.content === "string" ? { text: compose.content, fromRepository: false, label: "the compose file" } : undefined;
  const git = compose.git;
  if (!source?.files || git.url !== source.url || git.ref !== source.ref) return undefined;
  const at = `${git.url} at ${git.ref}${source.commit ? ` (${source.commit})` : ""}`;
  const text = Object.hasOwn(source.files, git.path) ? source.files[git.path] : undefined;
  if (text === undefined) {
    problems.push({ path: "compose/compose/git/path", message: `${git.path} is not a file in ${at}` });
    return undefined;
  }
  return { text, fromRepository: true, label: `${git.path} of ${at}` };
}

/**
 * The build roots' trees of a compose project: the caller's (`compose.buildTrees`, e.g.
 * sibling checkouts) and the app's checkout read at preview (`source.tree`, at
 * `source.directory`, where the compose project builds when that is its project directory).
 */
function buildTreesOf(compose: Omit<ComposeStackArgs, "host">, source: AppSource | undefined): ComposeStackArgs["buildTrees"] {
  const dir = source?.directory;
  // Read at preview (its files or its tree): the checkout is named by its commit.
  const read = source?.tree !== undefined || source?.files !== undefined;
  if (!read || dir === undefined || (compose.projectDirectory ?? compose.directory) !== dir) return compose.buildTrees;
  const label = `the checkout of ${source.url} at ${source.ref}${source.commit ? ` (${source.commit})` : ""}`;
  return { ...compose.buildTrees, [dir]: { label, tree: source.tree } };
}

/**
 * The ports the route and the app's own site send requests to, at their arg paths: Caddy
 * upstreams, HAProxy servers, and the nginx locations' proxyPass (a route's or the
 * site's; without a port in the URL, the scheme's: 80, or 443 for https/wss).
 */
function routedPorts(route: AppDeploymentArgs["route"], site: AppDeploymentArgs["site"]): { path: string; port: number }[] {
  const out: { path: string; port: number }[] = [];
  route?.caddy?.upstreams?.forEach((u, i) => {
    const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:\[[^\]]+\]|[^:/]+):(\d{1,5})(?:\/|$)/.exec(u);
    if (m) out.push({ path: `route/caddy/upstreams/${i}`, port: Number(m[1]) });
  });
  route?.haproxy?.servers?.forEach((sv, i) => {
    if (typeof sv.port === "number") out.push({ path: `route/haproxy/servers/${i}/port`, port: sv.port });
  });
  const nginx = (base: string, locations: NginxSiteArgs["locations"]) =>
    locations?.forEach((l, i) => {
      const u = typeof l.proxyPass === "string" ? tryParseProxyUrl(l.proxyPass) : undefined;
      if (u) out.push({ path: `${base}/locations/${i}/proxyPass`, port: u.port ?? (u.scheme === "https" ? 443 : 80) });
    });
  nginx("route/nginx", route?.nginx?.locations);
  nginx("site", site?.locations);
  return out;
}
