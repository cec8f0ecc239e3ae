/**
 * One DAARION node: the standard directory layout, the repository at its pinned ref,
 * the all-in-one compose project (images pinned by digest, `.env` 0600, `.env.example`),
 * the gateway, Prometheus and Grafana configs, migrations, backups (systemd timer +
 * script, and one before every deployment), and the post-deployment checks.
 */
import * as pulumi from "@pulumi/pulumi";
import { ComposeStack } from "../../src/components/compose";
import { HealthCheck } from "../../src/components/health";
import { Directories } from "../../src/components/host";
import { SystemdUnit } from "../../src/components/systemd";
import { RemoteTask } from "../../src/components/task";
import { sha256 } from "../../src/hash";
import { remoteFile } from "../../src/remote/command";
import { plain } from "../../src/remote/daemons";
import { type Host } from "../../src/remote/host";
import { sh } from "../../src/remote/quote";
import { after } from "../../src/transform";
import { containerName, type ServiceName } from "./catalogue";
import { type DaarionConfig } from "./config";
import { containerNginx, containerPrometheus, containerRestart } from "../../src/remote/daemons";
import { ACME_ROOT, type NodePlan, ROOT } from "./plan";
import {
  checkoutScript,
  COMPOSE_FILE,
  COMPOSE_PROJECT,
  GATEWAY_CONF,
  GRAFANA_DATASOURCE,
  logsCheckScript,
  matrixConfigScript,
  metricsCheckScript,
  nodeEnv,
  PLACEHOLDER,
  PROMETHEUS_CONF,
  renderBackupScript,
  renderCompose,
  renderEnvExample,
  renderGateway,
  renderGrafanaDatasource,
  renderMigrateScript,
  renderNodeDoc,
  renderPrometheus,
  tlsCheckScript,
} from "./render";

/** The compose project's lock: container config changes never race `up`. */
const COMPOSE_LOCK = "compose-daarion";

/** The directories of daarion-node-standards.md "Стандартна Структура Ноди" (backups/ is private). */
export const LAYOUT: readonly { readonly path: string; readonly mode: string }[] = [
  { path: ROOT, mode: "0755" },
  { path: `${ROOT}/services`, mode: "0755" },
  { path: `${ROOT}/migrations`, mode: "0755" },
  { path: `${ROOT}/scripts`, mode: "0755" },
  { path: `${ROOT}/docs`, mode: "0755" },
  { path: `${ROOT}/infra`, mode: "0755" },
  { path: `${ROOT}/infra/nginx`, mode: "0755" },
  { path: `${ROOT}/infra/nginx/conf.d`, mode: "0755" },
  { path: `${ROOT}/infra/prometheus`, mode: "0755" },
  { path: `${ROOT}/infra/grafana`, mode: "0755" },
  { path: `${ROOT}/infra/grafana/provisioning`, mode: "0755" },
  { path: `${ROOT}/infra/grafana/provisioning/datasources`, mode: "0755" },
  { path: `${ROOT}/backups`, mode: "0700" },
  { path: `${ROOT}/backups/weekly`, mode: "0700" },
  { path: ACME_ROOT, mode: "0755" },
];

export const BACKUP_SERVICE = "daarion-backup.service";
export const BACKUP_TIMER = "daarion-backup.timer";

export interface NodeSecrets {
  readonly postgresPassword: pulumi.Output<string>;
  readonly grafanaAdminPassword?: pulumi.Output<string>;
}

export interface NodeInputs {
  readonly plan: NodePlan;
  readonly cfg: DaarionConfig;
  readonly host: Host;
  readonly secrets: NodeSecrets;
  /** Digest of an image (memoized: one registry lookup per image for the whole stack). */
  readonly digestOf: (image: string) => pulumi.Output<string>;
  /** What must be healthy before this node's services start (production waits for development). */
  readonly gate: readonly pulumi.Resource[];
}

function has(plan: NodePlan, name: ServiceName): boolean {
  return plan.services.includes(name);
}

export function deployNode(i: NodeInputs, parent: pulumi.Resource) {
  const { plan, host } = i;
  const n = plan.name;
  const opts = { parent };
  const file = (path: string, mode: string) => ({ path, owner: "root", group: "root", mode });
  const revision = `${plan.repo.url}#${plan.repo.ref}`;

  // ── Layout, code, scripts ─────────────────────────────────────────────────
  const dirs = new Directories(`${n}-dirs`, { host, directories: LAYOUT.map((d) => ({ path: d.path, mode: d.mode })) }, opts);

  const repo = new RemoteTask(
    `${n}-repo`,
    { host, script: checkoutScript(plan), triggers: [revision, plan.requireMerged, plan.mainBranch], transform: { command: after(dirs) } },
    opts,
  );

  const backupText = renderBackupScript(plan);
  const backupScript = remoteFile(
    `${n}-backup-script`,
    {
      host,
      target: file(`${ROOT}/scripts/backup-db.sh`, "0755"),
      daemon: { lock: "daarion-backup", validate: `sh -n ${sh(`${ROOT}/scripts/backup-db.sh`)}` },
      content: backupText,
    },
    { parent, dependsOn: [dirs] },
  );
  const migrateText = renderMigrateScript(plan);
  const migrateScript = remoteFile(
    `${n}-migrate-script`,
    {
      host,
      target: file(`${ROOT}/scripts/migrate.sh`, "0755"),
      daemon: { lock: "daarion-migrate", validate: `sh -n ${sh(`${ROOT}/scripts/migrate.sh`)}` },
      content: migrateText,
    },
    { parent, dependsOn: [dirs] },
  );

  // ── Configs read by the containers ────────────────────────────────────────
  const gatewayText = renderGateway(plan);
  const gatewayConf = remoteFile(
    `${n}-gateway-conf`,
    { host, target: file(`${ROOT}/${GATEWAY_CONF}`, "0644"), daemon: containerNginx(containerName("gateway"), COMPOSE_LOCK), content: gatewayText },
    { parent, dependsOn: [dirs] },
  );
  const prometheusText = has(plan, "prometheus") ? renderPrometheus(plan) : undefined;
  const prometheusConf = prometheusText
    ? remoteFile(
        `${n}-prometheus-conf`,
        {
          host,
          target: file(`${ROOT}/${PROMETHEUS_CONF}`, "0644"),
          daemon: containerPrometheus(containerName("prometheus"), "/etc/prometheus/prometheus.yml", COMPOSE_LOCK),
          content: prometheusText,
        },
        { parent, dependsOn: [dirs] },
      )
    : undefined;
  const grafanaConf = has(plan, "grafana")
    ? remoteFile(
        `${n}-grafana-datasource`,
        { host, target: file(`${ROOT}/${GRAFANA_DATASOURCE}`, "0644"), daemon: containerRestart(containerName("grafana"), COMPOSE_LOCK), content: renderGrafanaDatasource(plan) },
        { parent, dependsOn: [dirs] },
      )
    : undefined;
  const envExample = remoteFile(
    `${n}-env-example`,
    { host, target: file(`${ROOT}/.env.example`, "0644"), daemon: plain("daarion-env-example"), content: renderEnvExample(plan) },
    { parent, dependsOn: [dirs] },
  );

  // ── Before the services start ─────────────────────────────────────────────
  const tls = new RemoteTask(`${n}-tls`, { host, script: tlsCheckScript(plan), triggers: [plan.tls.certificate, plan.tls.key] }, opts);
  const matrix = has(plan, "matrix-synapse")
    ? new RemoteTask(
        `${n}-matrix-config`,
        { host, script: matrixConfigScript(plan), triggers: [plan.images["matrix-synapse"]!, plan.domain], transform: { command: after(dirs) } },
        opts,
      )
    : undefined;

  const composeText = renderCompose(plan);
  const digests = pulumi.all(plan.services.map((s) => (plan.pinned[s] ? pulumi.output(plan.pinned[s]) : i.digestOf(plan.images[s]!))));
  // What a deployment changes: the compose file, the images, the code revision.
  const deployment = digests.apply((ds) => sha256(JSON.stringify([composeText, plan.services.map((s, k) => `${s}@${ds[k]}`), revision])));

  // Pre-Deployment "Database backup created": before new images or migrations touch the data.
  const preBackup = has(plan, "postgres")
    ? new RemoteTask(
        `${n}-pre-deploy-backup`,
        { host, script: `exec ${sh(`${ROOT}/scripts/backup-db.sh`)} --if-running`, triggers: [deployment], transform: { command: after(backupScript) } },
        opts,
      )
    : undefined;

  const env = composeEnv(plan, i.secrets);
  const stack = new ComposeStack(
    `${n}-compose`,
    {
      host,
      project: COMPOSE_PROJECT,
      directory: ROOT,
      directoryMode: "0755",
      composeFile: COMPOSE_FILE,
      compose: { content: composeText },
      env,
      images: Object.fromEntries(plan.services.map((s) => [s, { image: plan.images[s]!, ...(plan.pinned[s] ? { digest: plan.pinned[s] } : {}) }])),
      pull: true,
      wait: { timeoutSeconds: 600 },
      resolveDigest: i.digestOf,
      transform: {
        directory: after(dirs),
        up: after(
          gatewayConf,
          envExample,
          tls,
          ...(prometheusConf ? [prometheusConf] : []),
          ...(grafanaConf ? [grafanaConf] : []),
          ...(preBackup ? [preBackup] : []),
          ...(matrix ? [matrix] : []),
          ...i.gate,
        ),
      },
    },
    opts,
  );

  // ── After the services start ──────────────────────────────────────────────
  const migrate = has(plan, "postgres")
    ? new RemoteTask(
        `${n}-migrate`,
        {
          host,
          script: `exec ${sh(`${ROOT}/scripts/migrate.sh`)}`,
          triggers: [revision, sha256(migrateText)],
          transform: { command: after(stack, repo, migrateScript) },
        },
        opts,
      )
    : undefined;

  const backupService = has(plan, "postgres")
    ? new SystemdUnit(
        `${n}-backup`,
        {
          host,
          name: BACKUP_SERVICE,
          enable: false,
          restartOnChange: false,
          unit: { description: `DAARION database backup (pg_dump of ${plan.database})`, after: ["docker.service"], wants: ["docker.service"] },
          service: { type: "oneshot", execStart: `${ROOT}/scripts/backup-db.sh`, workingDirectory: ROOT, syslogIdentifier: "daarion-backup" },
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

  const health = new HealthCheck(
    `${n}-gateway-health`,
    {
      host,
      url: `https://${plan.domain}/health`,
      resolve: { host: plan.domain, port: 443, address: "127.0.0.1" },
      expectStatus: [200],
      bodyMatch: '"status": ?"healthy"',
      attempts: 12,
      description: `DAARION gateway of ${n}`,
      triggers: [deployment, sha256(gatewayText)],
      transform: { command: after(stack, gatewayConf, ...(migrate ? [migrate] : [])) },
    },
    opts,
  );

  const metrics = prometheusConf
    ? new RemoteTask(
        `${n}-metrics-check`,
        { host, script: metricsCheckScript(plan), triggers: [deployment, sha256(prometheusText!)], transform: { command: after(stack, prometheusConf) } },
        opts,
      )
    : undefined;

  const logs = new RemoteTask(
    `${n}-logs-check`,
    { host, script: logsCheckScript(plan), triggers: [deployment], transform: { command: after(stack, health, ...(migrate ? [migrate] : [])) } },
    opts,
  );

  // Post-Deployment "Update INFRASTRUCTURE.md": the node's inventory, rewritten on every deployment.
  const doc = remoteFile(
    `${n}-doc`,
    {
      host,
      target: file(`${ROOT}/docs/NODE_INFRASTRUCTURE.md`, "0644"),
      daemon: plain("daarion-doc"),
      content: stack.images.apply((images) => renderNodeDoc(plan, images, i.cfg.rollback)),
    },
    { parent, dependsOn: [dirs] },
  );

  return { dirs, repo, backupScript, migrateScript, gatewayConf, prometheusConf, grafanaConf, envExample, tls, matrix, preBackup, stack, migrate, backupService, backupTimer, health, metrics, logs, doc };
}

export type DeployedNode = ReturnType<typeof deployNode>;

/**
 * The `.env` values for ComposeStack: plain where no secret is involved, secret
 * Outputs otherwise (the password and every URL holding it).
 */
function composeEnv(plan: NodePlan, secrets: NodeSecrets): Record<string, pulumi.Input<string>> {
  const probe = nodeEnv(plan, { postgresPassword: PLACEHOLDER, grafanaAdminPassword: PLACEHOLDER });
  const real = pulumi
    .all([secrets.postgresPassword, secrets.grafanaAdminPassword ?? pulumi.output(PLACEHOLDER)])
    .apply(([postgresPassword, grafanaAdminPassword]) => nodeEnv(plan, { postgresPassword, grafanaAdminPassword }));
  const out: Record<string, pulumi.Input<string>> = {};
  for (const [key, value] of Object.entries(probe)) {
    out[key] = value.includes(PLACEHOLDER) ? pulumi.secret(real.apply((e) => e[key]!)) : value;
  }
  return out;
}
