/**
 * `DaarionNode`: one DAARION node as a component. Its services are one app, an
 * `AppDeployment` (`<node>`, type fleet:app:Deployment) of the all-in-one compose project
 * (images pinned by digest, `.env` 0600) with its tasks (the repository at its pinned
 * ref, the TLS check, one-time setups, the backup before every deployment, migrations,
 * the metrics check) and the gateway's health check. Around it, the node's own parts:
 * the standard directory layout, the config files the containers read (the gateway's,
 * Prometheus's, Grafana's: whichever the node runs), `.env.example`, the backup script
 * and its systemd timer, the migrate script, the logs check and the inventory document.
 *
 * What a node runs comes from its plan (plan.ts); what each service needs comes from
 * its row of the service table (catalogue.ts): the node reads the rows' fields (`config`,
 * `setup`, `database`, `scrapes`, `secret`), never service names.
 */
import * as pulumi from "@pulumi/pulumi";
import { composeLock } from "../../src/components/compose";
import { type HealthCheck } from "../../src/components/health";
import { Directories } from "../../src/components/host";
import { SystemdUnit } from "../../src/components/systemd";
import { RemoteTask } from "../../src/components/task";
import { type AppCheckArgs, AppDeployment, type AppTaskArgs } from "../../src/components/app";
import { appRevision } from "../../src/components/app/args";
import { sha256 } from "../../src/hash";
import { remoteFile } from "../../src/remote/command";
import { containerNginx, containerPrometheus, containerRestart, type Daemon, plain, shellScript } from "../../src/remote/daemons";
import { type Host } from "../../src/remote/host";
import { sh } from "../../src/remote/quote";
import { after, aliased, formerParent as aliasFormerParent } from "../../src/transform";
import { type ConfigFile, type EnvSecrets, NETWORK, service, type ServiceDef, serviceWith, type ServiceSecret } from "./catalogue";
import { type DaarionConfig } from "./config";
import {
  BACKUP_SCRIPT,
  BACKUP_SERVICE,
  BACKUP_TIMER,
  COMPOSE_FILE,
  COMPOSE_PROJECT,
  LAYOUT,
  MIGRATE_SCRIPT,
  NODE_DOC,
  ROOT,
} from "./layout";
import { containerOf, type NodePlan, volumeOf } from "./plan";
import { repoSyncScript } from "./render/checkout";
import { renderCompose } from "./render/compose";
import { renderNodeDoc } from "./render/doc";
import { nodeEnv, PLACEHOLDER, renderEnvExample } from "./render/env";
import { renderGateway } from "./render/gateway";
import { renderGrafanaDatasource, renderPrometheus } from "./render/prometheus";
import { logsCheckScript, metricsCheckScript, renderBackupScript, renderMigrateScript, servicesHealthScript, tlsCheckScript } from "./render/scripts";

/** The compose project's lock: container config changes never race `up`. */
const COMPOSE_LOCK = composeLock(COMPOSE_PROJECT);

/** The text of each config file the table names, by its resource role. */
const CONFIG_TEXT: Readonly<Record<ConfigFile["child"], (plan: NodePlan) => string>> = {
  "gateway-conf": renderGateway,
  "prometheus-conf": renderPrometheus,
  "grafana-datasource": renderGrafanaDatasource,
};

/** How the service's container checks and picks up its config file. */
function configDaemon(plan: NodePlan, def: ServiceDef, file: ConfigFile): Daemon {
  const container = containerOf(plan, def.name);
  switch (file.reload) {
    case "nginx":
      return containerNginx(container, COMPOSE_LOCK);
    case "prometheus":
      return containerPrometheus(container, file.containerPath ?? `/etc/prometheus/prometheus.yml`, COMPOSE_LOCK);
    case "restart":
      return containerRestart(container, COMPOSE_LOCK);
  }
}

/** The secrets of a node: the database password always; the others when a service the node runs needs them. */
export type NodeSecrets = { readonly postgresPassword: pulumi.Output<string> } & { readonly [K in ServiceSecret]?: pulumi.Output<string> };

/** The secrets a plan needs besides the postgres password (from the `secret` of its services' rows). */
export function serviceSecrets(plan: NodePlan): ServiceSecret[] {
  return [...new Set(plan.services.flatMap((s) => service(s).secret ?? []))];
}

export interface DaarionNodeArgs {
  /** The node's plan, every rule checked (`planNodes`, which the stack runs before any resource). */
  readonly plan: NodePlan;
  readonly host: Host;
  /** The rollback plan, listed in the node's document. */
  readonly rollback: DaarionConfig["rollback"];
  readonly secrets: NodeSecrets;
  /** Digest of an image (memoized by the stack: one registry lookup per image for all nodes). */
  readonly digestOf: (image: string) => pulumi.Output<string>;
  /** What must be healthy before this node's services start (production waits for development). */
  readonly gate?: readonly pulumi.Resource[];
  /**
   * The commit `repo.ref` named at preview (`daarionProgram`): part of the revision (a
   * branch that moved re-runs the checkout and the migrations) and the commit the
   * `-repo` task checks out even if the ref moved since. @default whatever the ref names when the task runs
   */
  readonly commit?: string | undefined;
}

/**
 * A DAARION node. Children are `<name>-<role>` (`noda1-dirs`, `noda1-gateway-conf`, the
 * app `noda1` and its `noda1-compose`, `noda1-migrate`, …).
 *
 * Until this component existed every one of these resources was registered directly
 * under the node's parent (the `Daarion` stack); each carries an alias to that parent
 * (the app's children through its transform hooks), so an existing deployment sees the
 * same resources (same URNs through the aliases), no replace.
 */
export class DaarionNode extends pulumi.ComponentResource {
  /** The gateway's health check after every deployment (what a later node can wait for). */
  public readonly health: HealthCheck;
  /** The deployed image reference per service, pinned by digest. */
  public readonly images: pulumi.Output<Record<string, string>>;
  /** The commit of the repository deployed, when it was resolved at preview. */
  public readonly commit: string | undefined;
  /** The raw children. */
  public readonly nodes: ReturnType<typeof createAll>;

  constructor(name: string, args: DaarionNodeArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(DaarionNode.__pulumiType, name, {}, opts);
    const formerParent = opts.parent;
    this.nodes = createAll(name, args, this, formerParent);
    this.health = this.nodes.health;
    this.images = this.nodes.stack.images;
    this.commit = args.commit;
    this.registerOutputs({ images: this.images, ...(args.commit ? { commit: args.commit } : {}) });
  }

  static readonly __pulumiType = "fleet:daarion:Node";
}

function createAll(n: string, i: DaarionNodeArgs, parent: pulumi.Resource, formerParent: pulumi.Resource | undefined) {
  const { plan, host } = i;
  const aliases = formerParent ? [aliasFormerParent(formerParent)] : [];
  const opts = { parent, aliases };
  const file = (path: string, mode: string) => ({ path, owner: "root", group: "root", mode });
  const revision = appRevision({ ...plan.repo, commit: i.commit });
  const runs = plan.services.map(service);
  const database = serviceWith(plan.services, "database");
  const collector = serviceWith(plan.services, "scrapes");
  const entry = serviceWith(plan.services, "publishes");
  if (!entry?.config) throw new Error(`DAARION node ${n} has no entry point with a config file (the table's gateway)`);

  // ── Layout and the node's own files ───────────────────────────────────────
  const dirs = new Directories(`${n}-dirs`, { host, directories: LAYOUT.map((d) => ({ path: d.path, mode: d.mode })) }, opts);
  const backupScript = scriptFile("backup-script", BACKUP_SCRIPT, "daarion-backup", renderBackupScript(plan));
  const migrateText = renderMigrateScript(plan);
  const migrateScript = scriptFile("migrate-script", MIGRATE_SCRIPT, "daarion-migrate", migrateText);

  // Configs read by the containers: the row's `config` of each service the node runs.
  const configs = new Map<string, { text: string; file: pulumi.Resource }>();
  for (const def of runs) {
    if (!def.config) continue;
    const text = CONFIG_TEXT[def.config.child](plan);
    const conf = remoteFile(
      `${n}-${def.config.child}`,
      { host, target: file(`${ROOT}/${def.config.path}`, "0644"), daemon: configDaemon(plan, def, def.config), content: text },
      { ...opts, dependsOn: [dirs] },
    );
    configs.set(def.name, { text, file: conf });
  }
  const entryConf = configs.get(entry.name)!;
  const collectorConf = collector ? configs.get(collector.name) : undefined;
  const envExample = remoteFile(
    `${n}-env-example`,
    { host, target: file(`${ROOT}/.env.example`, "0644"), daemon: plain("daarion-env-example"), content: renderEnvExample(plan) },
    { ...opts, dependsOn: [dirs] },
  );

  // ── The services: one app, the all-in-one compose project ─────────────────
  const composeText = renderCompose(plan);
  const digests = pulumi.all(plan.services.map((s) => (plan.pinned[s] ? pulumi.output(plan.pinned[s]) : i.digestOf(plan.images[s]!))));
  // What a deployment changes: the compose file, the images, the code revision.
  const deployment = digests.apply((ds) => sha256(JSON.stringify([composeText, plan.services.map((s, k) => `${s}@${ds[k]}`), revision])));

  const tasks: Record<string, AppTaskArgs> = {
    // The repository at the pinned ref; migrations wait for it, the services do not.
    repo: { script: repoSyncScript({ ...plan, commit: i.commit }), triggers: [revision, plan.requireMerged, plan.mainBranch], phase: "after", after: [], transform: { command: after(dirs) } },
    tls: { script: tlsCheckScript(plan), triggers: [plan.tls.certificate, plan.tls.key], phase: "before", after: [] },
  };
  for (const def of runs) {
    if (!def.setup) continue;
    tasks[def.setup.child] = {
      script: def.setup.script({ domain: plan.domain, image: plan.images[def.name]!, volume: volumeOf(plan, def.name) }),
      triggers: [plan.images[def.name]!, plan.domain],
      phase: "before",
      after: [],
      transform: { command: after(dirs) },
    };
  }
  if (database) {
    // Pre-Deployment "Database backup created": before new images or migrations touch the data.
    tasks["pre-deploy-backup"] = { script: `exec ${sh(BACKUP_SCRIPT)} --if-running`, triggers: [deployment], phase: "before", after: [], transform: { command: after(backupScript) } };
    tasks.migrate = { script: `exec ${sh(MIGRATE_SCRIPT)}`, triggers: [revision, sha256(migrateText)], after: ["deployment", "repo"], transform: { command: after(migrateScript) } };
  }
  const servicesHealth = servicesHealthScript(plan);
  if (servicesHealth) {
    // Services whose images are not assumed to hold curl or wget, probed from the host.
    tasks["services-health"] = { script: servicesHealth, triggers: [deployment], after: ["deployment"] };
  }
  if (collectorConf) {
    // Post-Deployment "Metrics appearing in Prometheus".
    tasks["metrics-check"] = { script: metricsCheckScript(plan), triggers: [deployment, sha256(collectorConf.text)], after: ["deployment"], transform: { command: after(collectorConf.file) } };
  }
  const checks: Record<string, AppCheckArgs> = {
    "gateway-health": {
      url: `https://${plan.domain}/health`,
      resolve: { host: plan.domain, port: 443, address: "127.0.0.1" },
      expectStatus: [200],
      bodyMatch: '"status": ?"healthy"',
      attempts: 12,
      description: `DAARION gateway of ${n}`,
      triggers: [deployment, sha256(entryConf.text)],
      after: ["deployment", ...(database ? ["migrate"] : [])],
      transform: { command: after(entryConf.file) },
    },
  };
  // Before DaarionNode the app's parts were children of the node's parent.
  const formerly = aliased(...aliases);
  const app = new AppDeployment(
    n,
    {
      host,
      compose: {
        project: COMPOSE_PROJECT,
        directory: ROOT,
        directoryMode: "0755",
        composeFile: COMPOSE_FILE,
        compose: { content: composeText },
        env: composeEnv(plan, i.secrets),
        images: Object.fromEntries(plan.services.map((s) => [s, { image: plan.images[s]!, ...(plan.pinned[s] ? { digest: plan.pinned[s] } : {}) }])),
        pull: true,
        wait: { timeoutSeconds: 600 },
        // The host's probes of the services without a check in their image gate `up` too:
        // a new version that does not answer them is rolled back to the last one that did.
        ...(servicesHealth ? { upChecks: [{ name: "services-health", body: servicesHealth }] } : {}),
        resolveDigest: i.digestOf,
        // The node's container names (the standards' daarion-<service> unless configured) and
        // network daarion_net: what an older hand-made node runs.
        ...(plan.adopt ? { adopt: { containers: plan.services.map((s) => containerOf(plan, s)), networks: [NETWORK], backupDir: `${ROOT}/backups/adopted` } } : {}),
        transform: { directory: after(dirs), up: after(...[...configs.values()].map((c) => c.file), envExample, ...(i.gate ?? [])) },
      },
      tasks,
      checks,
      transform: {
        compose: formerly,
        tasks: Object.fromEntries(Object.keys(tasks).map((k) => [k, formerly])),
        checks: Object.fromEntries(Object.keys(checks).map((k) => [k, formerly])),
      },
    },
    { parent },
  );
  const stack = app.nodes.compose!;
  const health = app.nodes.checks["gateway-health"]!;
  const migrate = app.nodes.tasks.migrate;

  // ── After the services start ──────────────────────────────────────────────
  const backupService = database
    ? new SystemdUnit(
        `${n}-backup`,
        {
          host,
          name: BACKUP_SERVICE,
          enable: false,
          restartOnChange: false,
          unit: { description: `DAARION database backup (pg_dump of ${plan.database})`, after: ["docker.service"], wants: ["docker.service"] },
          service: { type: "oneshot", execStart: BACKUP_SCRIPT, workingDirectory: ROOT, syslogIdentifier: "daarion-backup" },
          transform: { unit: after(backupScript) },
        },
        opts,
      )
    : undefined;
  const backupTimer = backupService
    ? new SystemdUnit(
        `${n}-backup-timer`,
        {
          host,
          name: BACKUP_TIMER,
          unit: { description: `DAARION database backup, ${plan.backups.onCalendar}` },
          timer: { onCalendar: [plan.backups.onCalendar], persistent: true, unit: BACKUP_SERVICE },
          install: { wantedBy: ["timers.target"] },
          transform: { unit: after(backupService) },
        },
        opts,
      )
    : undefined;
  // Post-Deployment "No critical errors in logs": after the health check (a task of the app cannot wait for a check).
  const logs = new RemoteTask(
    `${n}-logs-check`,
    { host, script: logsCheckScript(plan), triggers: [deployment], transform: { command: after(stack, health, ...(migrate ? [migrate] : [])) } },
    opts,
  );

  // Post-Deployment "Update INFRASTRUCTURE.md": the node's inventory, rewritten on every deployment.
  const doc = remoteFile(
    `${n}-doc`,
    { host, target: file(NODE_DOC, "0644"), daemon: plain("daarion-doc"), content: stack.images.apply((images) => renderNodeDoc(plan, images, i.rollback)) },
    { ...opts, dependsOn: [dirs] },
  );

  return { dirs, backupScript, migrateScript, configs, envExample, app, stack, health, backupService, backupTimer, logs, doc };

  /** A script of the node, syntax-checked by `sh -n` before it replaces the previous one. */
  function scriptFile(role: string, path: string, lock: string, content: string) {
    return remoteFile(`${n}-${role}`, { host, target: file(path, "0755"), daemon: shellScript(lock, path), content }, { ...opts, dependsOn: [dirs] });
  }
}

/**
 * The `.env` values for ComposeStack: plain where no secret is involved, secret
 * Outputs otherwise (the passwords and every URL holding one).
 */
function composeEnv(plan: NodePlan, secrets: NodeSecrets): Record<string, pulumi.Input<string>> {
  const probe = nodeEnv(plan, { postgresPassword: PLACEHOLDER, grafanaAdminPassword: PLACEHOLDER });
  const real = pulumi
    .all([secrets.postgresPassword, secrets.grafanaAdminPassword ?? pulumi.output(PLACEHOLDER)])
    .apply(([postgresPassword, grafanaAdminPassword]): Record<string, string> => nodeEnv(plan, { postgresPassword, grafanaAdminPassword } satisfies EnvSecrets));
  const out: Record<string, pulumi.Input<string>> = {};
  for (const [key, value] of Object.entries(probe)) {
    out[key] = value.includes(PLACEHOLDER) ? pulumi.secret(real.apply((e) => e[key]!)) : value;
  }
  return out;
}
