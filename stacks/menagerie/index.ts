/**
 * Stack `menagerie`: the Peregrine managed cloud from peregrine-cloud-deployment.md.
 * Caddy in the `caddy-proxy` container on the bastion serves `menagerie.circuitforge.tech`
 * (its fallback, log and one `handle /<slug>*` route per app); each app of
 * `fleet:menagerie.apps` is an {@link AppDeployment} built by {@link cloudApp}
 * (Peregrine first; onboarding the next one is one more entry); the public demo is one
 * more ({@link demoApp}). Every requirement of
 * the seed is a resource here or an explicit check (see test/stacks/menagerie.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { AppDeployment, type AppDeploymentArgs } from "../../src/components/app";
import { CaddyServer, CaddySite } from "../../src/components/caddy";
import { type CaddySiteRef } from "../../src/components/caddy/args";
import { PLACEHOLDER_DIGEST } from "../../src/components/compose/render";
import { lookupDigests, registryReader } from "../../src/components/compose/digests";
import { buildHosts, type ConfigSource, loadConfig, type LoadedConfig, pulumiConfigSource } from "../../src/config/loader";
import { type ResolvedSource, resolveSources, type SourceAccess, type SourceRequest, sourceKey } from "../../src/git/sources";
import { type Host } from "../../src/remote/host";
import { ConfigError, type Problem } from "../../src/validation/errors";
import { secretValue } from "../../src/validation/primitives";
import { MENAGERIE_OPTIONAL_SECRETS, MENAGERIE_REQUIRED_SECRETS, type MenagerieConfig, menagerieSchema } from "./config";
import { type AppIdentity, appClashes, appDirectory, appRules, cloudApp, cloudProject, cloudAppArgs, demoApp, demoAppArgs, isWithin } from "./apps";
import { APP_SECRET_ARGS, appSecretName, cfServerSecret, postgresUrl } from "./secrets";
import { generatedSecret } from "../../src/config/secrets";
import { isSecretName } from "../../src/components/compose/interpolation";

export { MENAGERIE_OPTIONAL_SECRETS, MENAGERIE_REQUIRED_SECRETS } from "./config";

export interface MenagerieOptions {
  readonly source?: ConfigSource;
  /** Resolve an image tag to its digest (defaults to @pulumi/docker's registry lookup). */
  readonly resolveDigest?: (image: string) => pulumi.Input<string>;
  /**
   * Each app's repository at its ref, resolved at preview (`menagerieProgram`): the commit
   * deployed and the compose file read at it, keyed by `sourceKey`. @default none: the
   * hosts fetch whatever the refs name, and the compose files are checked there
   */
  readonly sources?: ReadonlyMap<string, ResolvedSource>;
}

/**
 * What each app (and the demo) needs of its repository at preview: the commit, its
 * compose file, and for an app built from source its tree (where the build contexts
 * lie) and each sibling's commit and tree.
 */
export function menagerieSources(cfg: MenagerieConfig): SourceRequest[] {
  const siblings = (a: MenagerieConfig["apps"][number]): SourceRequest[] => Object.values(a.siblings).map((r) => ({ url: r.url, ref: r.ref, tree: true }));
  const out: SourceRequest[] = cfg.apps.flatMap((a) => [{ url: a.repo.url, ref: a.repo.ref, files: [a.composeFile], tree: a.build }, ...siblings(a)]);
  if (cfg.demo.enabled) {
    const app = cfg.apps.find((a) => a.slug === cfg.demo.app);
    // The demo always builds, with the app's siblings.
    if (app) out.push({ url: app.repo.url, ref: cfg.demo.ref ?? app.repo.ref, files: [cfg.demo.composeFile], tree: true }, ...siblings(app));
  }
  return out;
}

/** Each sibling of an app resolved at preview, by name. */
function resolvedSiblings(app: MenagerieConfig["apps"][number], sources: ReadonlyMap<string, ResolvedSource> | undefined): Record<string, ResolvedSource | undefined> | undefined {
  if (!sources) return undefined;
  return Object.fromEntries(Object.entries(app.siblings).map(([n, r]) => [n, sources.get(sourceKey(r))]));
}

const NS = "fleet:menagerie";

/** Cross-references between sections and between apps; every problem at its config path. */
export function crossCheck(c: LoadedConfig<MenagerieConfig>): Problem[] {
  const problems: Problem[] = [];
  const cfg = c.app;
  const hostNames = Object.keys(c.hosts);
  for (const [role, name] of Object.entries(cfg.roles)) {
    if (!Object.hasOwn(c.hosts, name)) problems.push({ path: `${NS}/roles/${role}`, message: `names host "${name}", which is not under fleet:hosts (have: ${hostNames.join(", ") || "none"})` });
  }
  const rolesKnown = Object.hasOwn(c.hosts, cfg.roles.app) && Object.hasOwn(c.hosts, cfg.roles.caddy);
  if (rolesKnown && cfg.roles.app !== cfg.roles.caddy && cfg.upstreamHost === "host.docker.internal") {
    problems.push({
      path: `${NS}/roles/app`,
      message: `must be the Caddy host (${cfg.roles.caddy}) while upstreamHost is host.docker.internal, the Docker host of the caddy-proxy container; or set upstreamHost to an address of ${cfg.roles.app} the container reaches`,
    });
  }

  // The apps: each one's own rules, then every pair.
  const identities: AppIdentity[] = [];
  cfg.apps.forEach((app, i) => {
    for (const p of appRules(app, cfg)) problems.push({ path: `${NS}/apps/${i}/${p.path}`, message: p.message });
    const me: AppIdentity = { label: `apps/${i} (${app.slug})`, slug: app.slug, project: cloudProject(app), port: app.port, host: cfg.roles.app, upstreamHost: cfg.upstreamHost, directory: appDirectory(app) };
    for (const other of identities) for (const p of appClashes(other, me)) problems.push({ path: `${NS}/apps/${i}/${p.path}`, message: p.message });
    identities.push(me);
  });

  // The platform database shares the Docker host when it is reached the same way.
  const dbShared = cfg.platformDb.host === cfg.upstreamHost;
  if (dbShared) {
    cfg.apps.forEach((app, i) => {
      if (app.port === cfg.platformDb.port) problems.push({ path: `${NS}/apps/${i}/port`, message: `${app.port} is the platform database's port (platformDb.port); give ${app.slug} another port` });
    });
  }

  if (cfg.demo.enabled) {
    const d = cfg.demo;
    if (!cfg.apps.some((a) => a.slug === d.app)) {
      problems.push({ path: `${NS}/demo/app`, message: `names app "${d.app}", which is not in apps (have: ${cfg.apps.map((a) => a.slug).join(", ")})` });
    }
    for (const other of identities) {
      if (other.port === d.port) problems.push({ path: `${NS}/demo/port`, message: `${d.port} is already the port of ${other.label} on host ${other.host}; give the demo its own port` });
      if (isWithin(other.directory, d.directory) || isWithin(d.directory, other.directory)) {
        problems.push({ path: `${NS}/demo/directory`, message: `${d.directory} overlaps the project directory ${other.directory} of ${other.label}; give the demo its own directory` });
      }
      if (other.project === d.project) problems.push({ path: `${NS}/demo/project`, message: `${d.project} is already the compose project of ${other.label}; give the demo its own project` });
    }
    if (dbShared && d.port === cfg.platformDb.port) problems.push({ path: `${NS}/demo/port`, message: `${d.port} is the platform database's port (platformDb.port); give the demo another port` });
    if (isWithin(d.directory, cfg.dataRoot) || isWithin(cfg.dataRoot, d.directory)) {
      problems.push({ path: `${NS}/demo/directory`, message: `${d.directory} overlaps the data root ${cfg.dataRoot}; use a directory outside it` });
    }
    if (d.address === cfg.site.address) problems.push({ path: `${NS}/demo/address`, message: `must differ from site.address (${cfg.site.address}): the demo has its own site` });
  }
  return problems;
}

/**
 * Env values whose name says they hold a secret (`API_TOKEN`, `SESSION_SECRET`, …) while
 * `fleet:menagerie` holds no encrypted value: written in plain text in the stack file.
 * Pulumi tells a program only that a key holds a secret somewhere, so once one value under
 * the key is `secure:`, every env value under it is kept secret (the `.env` is a 0600
 * secret file either way).
 */
export function plainSecretEnv(cfg: MenagerieConfig, keyIsSecret: boolean): Problem[] {
  if (keyIsSecret) return [];
  const problems: Problem[] = [];
  const fix = (at: string, k: string) =>
    `looks like a secret but is stored in plain text: store it encrypted (pulumi config set --secret --path 'fleet:menagerie.${at}.${k}' VALUE)`;
  cfg.apps.forEach((app, i) => {
    for (const k of Object.keys(app.env).sort()) {
      if (isSecretName(k)) problems.push({ path: `${NS}/apps/${i}/env/${k}`, message: `${fix(`apps[${i}].env`, k)}, or list it in apps/${i}/secrets to have it generated` });
    }
  });
  for (const k of Object.keys(cfg.demo.env).sort()) if (isSecretName(k)) problems.push({ path: `${NS}/demo/env/${k}`, message: fix("demo.env", k) });
  return problems;
}

/** The stack's config, every rule checked (throws one ConfigError before any resource). */
export function loadMenagerie(source: ConfigSource): LoadedConfig<MenagerieConfig> {
  return loadConfig(source, {
    appKey: "menagerie",
    appSchema: menagerieSchema,
    requiredSecrets: [...MENAGERIE_REQUIRED_SECRETS],
    optionalSecrets: [...MENAGERIE_OPTIONAL_SECRETS],
    check: (c) => [...crossCheck(c), ...plainSecretEnv(c.app, source.isSecret("menagerie"))],
    secretRule: secretValue,
  });
}

export class Menagerie extends pulumi.ComponentResource {
  constructor(name: string, opts: MenagerieOptions = {}) {
    const source = opts.source ?? pulumiConfigSource();
    const loaded = loadMenagerie(source);
    const hosts = buildHosts(source, loaded.hosts);
    // Every app's args, checked against its files read at preview, before any resource.
    checkApps(loaded.app, hosts, opts);
    super("fleet:stack:Menagerie", name, {}, {});
    const parent = this;
    const cfg = loaded.app;
    const host = (role: keyof MenagerieConfig["roles"]): Host => hosts[cfg.roles[role]]!;
    const bastion = host("caddy");
    const appHost = host("app");

    // ── Caddy in the caddy-proxy container ─────────────────────────────────────
    // The container must bind-mount the whole configDir (sites/ and routes/ beside the
    // Caddyfile): files are rewritten in place and applied with `docker restart`,
    // never `caddy reload` (seed, "Caddy inode gotcha").
    const layout = {
      configDir: cfg.caddy.configDir,
      container: { name: cfg.caddy.container, configDir: cfg.caddy.containerConfigDir },
    };
    const server = cfg.caddy.manageServer
      ? new CaddyServer("caddy", { host: bastion, layout, imports: cfg.caddy.imports, ...(cfg.caddy.email ? { email: cfg.caddy.email } : {}) }, { parent })
      : undefined;
    const site = new CaddySite(
      "menagerie-site",
      {
        ...(server ? { server } : { host: bastion, layout }),
        site: "menagerie",
        addresses: [cfg.site.address],
        encode: ["gzip", "zstd"],
        fallback: { body: cfg.site.fallback, status: 503 },
        log: { output: cfg.site.log, format: "json" },
      },
      { parent },
    );

    // ── Shared secrets ─────────────────────────────────────────────────────────
    const serverSecret = cfServerSecret(source, parent);
    const platformDbUrl = pulumi.secret(source.secret("platformDbPassword").apply((pw) => postgresUrl(cfg.platformDb, pw)));
    const secrets = { directusJwtSecret: source.secret("directusJwtSecret"), cfServerSecret: serverSecret, platformDbUrl };

    // ── The apps ───────────────────────────────────────────────────────────────
    const apps: Record<string, AppDeployment> = {};
    const cloud = { domain: cfg.site.address, dataRoot: cfg.dataRoot, data: cfg.data, upstreamHost: cfg.upstreamHost, caddyCheck: cfg.caddyCheck };
    cfg.apps.forEach((app, i) => {
      const appSecrets = Object.fromEntries(app.secrets.map((k) => [k, generatedSecret(appSecretName(app.slug, k), parent, { generator: APP_SECRET_ARGS })]));
      apps[app.slug] = cloudApp(
        app,
        { cloud, host: appHost, site, secrets, appSecrets, resolveDigest: opts.resolveDigest, resolved: opts.sources?.get(sourceKey(app.repo)), siblings: resolvedSiblings(app, opts.sources), configKey: appKey(i) },
        { parent },
      );
    });

    // ── The demo ───────────────────────────────────────────────────────────────
    const demo = cfg.demo.enabled ? createDemo() : undefined;

    this.outputs = {
      url: `https://${cfg.site.address}/`,
      apps: Object.fromEntries(cfg.apps.map((a) => [a.slug, `https://${cfg.site.address}/${a.slug}/`])),
      ...(demo ? { demoUrl: `https://${cfg.demo.address}/${cfg.demo.app}/` } : {}),
      // The commit each app (and the demo, under its project name) deploys, when resolved at preview.
      ...(opts.sources ? { commits: Object.fromEntries([...Object.entries(apps), ...(demo ? [[cfg.demo.project, demo.app] as const] : [])].flatMap(([n, a]) => (a.commit ? [[n, a.commit]] : []))) } : {}),
      // For the operator's backup (`pulumi stack output cfServerSecret --show-secrets`):
      // losing it loses every user's data.
      cfServerSecret: serverSecret,
    };
    this.nodes = { server, site, apps, demo };
    this.registerOutputs(this.outputs);

    /** The demo's own site, and the demo as an app on it. */
    function createDemo() {
      const d = cfg.demo;
      const demoSite = new CaddySite(
        "demo-site",
        {
          ...(server ? { server } : { host: bastion, layout }),
          site: "demo",
          addresses: [d.address],
          encode: ["gzip", "zstd"],
          log: { output: d.log, format: "json" },
        },
        { parent },
      );
      const i = cfg.apps.findIndex((a) => a.slug === d.app);
      const app = cfg.apps[i]!;
      const resolved = opts.sources?.get(sourceKey({ url: app.repo.url, ref: d.ref ?? app.repo.ref }));
      const deployment = demoApp(
        { demo: d, app, host: appHost, site: demoSite, upstreamHost: cfg.upstreamHost, caddyCheck: cfg.caddyCheck, resolveDigest: opts.resolveDigest, formerParent: parent, resolved, siblings: resolvedSiblings(app, opts.sources), configKey: appKey(i) },
        { parent },
      );
      return { site: demoSite, app: deployment };
    }
  }

  public readonly outputs: Record<string, pulumi.Input<unknown>>;
  public readonly nodes: {
    readonly server: CaddyServer | undefined;
    readonly site: CaddySite;
    readonly apps: Readonly<Record<string, AppDeployment>>;
    readonly demo: { readonly site: CaddySite; readonly app: AppDeployment } | undefined;
  };
}

/** An app's entry in config, as a refused build's fix names it. */
function appKey(i: number): string {
  return `fleet:menagerie.apps[${i}]`;
}

/**
 * Each app's (and the demo's) AppDeployment args checked before the stack registers
 * anything (`AppDeployment.check`: with `sources`, against the app's compose file read at
 * the resolved commit: every `${VAR}` set, the routed port published, and where its
 * services build from, on the trees of its checkout and siblings at their commits, issue
 * 13 item 3). The sites and secrets do not exist yet: stand-ins take their place (the
 * check reads neither). Throws one ConfigError naming each app's problems at `<app>/<path>`.
 */
function checkApps(cfg: MenagerieConfig, hosts: Readonly<Record<string, Host>>, opts: MenagerieOptions): void {
  const appHost = hosts[cfg.roles.app]!;
  const bastion = hosts[cfg.roles.caddy]!;
  const site = (slug: string): CaddySiteRef => ({ site: slug, host: bastion, layout: { configDir: cfg.caddy.configDir }, nodes: {} as CaddySiteRef["nodes"] });
  const unset = pulumi.output("");
  const secrets = { directusJwtSecret: unset, cfServerSecret: unset, platformDbUrl: unset };
  const cloud = { domain: cfg.site.address, dataRoot: cfg.dataRoot, data: cfg.data, upstreamHost: cfg.upstreamHost, caddyCheck: cfg.caddyCheck };
  const problems: Problem[] = [];
  const check = (name: string, args: AppDeploymentArgs) => {
    try {
      AppDeployment.check(name, args);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      problems.push(...e.problems.map((p) => ({ path: `${name}/${p.path}`, message: p.message })));
    }
  };
  cfg.apps.forEach((app, i) => {
    const appSecrets = Object.fromEntries(app.secrets.map((k) => [k, unset]));
    const resolved = opts.sources?.get(sourceKey(app.repo));
    const siblings = resolvedSiblings(app, opts.sources);
    check(app.slug, cloudAppArgs(app, { cloud, host: appHost, site: site("menagerie"), secrets, appSecrets, resolveDigest: () => PLACEHOLDER_DIGEST, resolved, siblings, configKey: appKey(i) }));
  });
  const d = cfg.demo;
  const i = cfg.apps.findIndex((a) => a.slug === d.app);
  const app = cfg.apps[i];
  if (d.enabled && app) {
    const resolved = opts.sources?.get(sourceKey({ url: app.repo.url, ref: d.ref ?? app.repo.ref }));
    const siblings = resolvedSiblings(app, opts.sources);
    check(d.project, demoAppArgs({ demo: d, app, host: appHost, site: site("demo"), upstreamHost: cfg.upstreamHost, caddyCheck: cfg.caddyCheck, formerParent: undefined, resolved, siblings, configKey: appKey(i) }));
  }
  if (problems.length) throw new ConfigError("stack menagerie: apps", problems);
}

export function menagerie(opts: MenagerieOptions = {}): Record<string, pulumi.Input<unknown>> {
  return new Menagerie("menagerie", opts).outputs;
}

/**
 * What `pulumi preview`/`up` run: bad config fails first; then every app's ref is
 * resolved to a commit and its compose file read at that commit (`resolveSources`: one
 * error naming every ref or file that could not be had), so the checks that need the
 * app's files run before any resource; then the registry images of `images` (any
 * app's, built or not) whose digest is not pinned are looked up (no Docker daemon
 * needed), one error naming each image and its registry; then the stack. Services
 * built on the host look no image up.
 */
export async function menagerieProgram(opts: Pick<MenagerieOptions, "source"> & SourceAccess = {}): Promise<Record<string, pulumi.Input<unknown>>> {
  const source = opts.source ?? pulumiConfigSource();
  const loaded = loadMenagerie(source);
  const sources = await resolveSources(menagerieSources(loaded.app), { subject: "stack menagerie (fleet:menagerie.apps[].repo)", lsRemote: opts.lsRemote, readFiles: opts.readFiles });
  const images = [...new Set(loaded.app.apps.flatMap((a) => Object.values(a.images).filter((i) => !i.digest).map((i) => i.image)))].sort();
  if (images.length === 0) return menagerie({ source, sources });
  const digests = await lookupDigests(images, {
    subject: "stack menagerie",
    hint: "pin digests under fleet:menagerie.apps[].images.<service>.digest, or make the registry reachable from here",
    // The Docker host named is the apps' host (never dialled: see registryReader).
    provider: registryReader("menagerie-registry", loaded.hosts[loaded.app.roles.app]!),
  });
  return menagerie({
    source,
    sources,
    resolveDigest: (image) => {
      const digest = digests.get(image);
      if (!digest) throw new Error(`menagerie: no digest looked up for ${image}`);
      return digest;
    },
  });
}
