/**
 * Where a DAARION node keeps things on its host: the standard directory layout of
 * daarion-node-standards.md "Стандартна Структура Ноди" and the files the stack manages
 * in it. Plain constants: the service table, the plan, the renderers and the node
 * component all read them.
 */

/** daarion-node-standards.md "Стандартна Структура Ноди". */
export const ROOT = "/opt/microdao-daarion";
/** The repository checkout (code and migrations at the pinned ref), beside the managed files. */
export const REPO_DIR = `${ROOT}/.repo`;
/** Where the gateway serves ACME http-01 challenges from (certbot --webroot). */
export const ACME_ROOT = "/var/www/certbot";

/** The directories of the standard layout (backups/ is private). */
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

/** The compose project: its name and file (relative to ROOT). */
export const COMPOSE_PROJECT = "daarion";
export const COMPOSE_FILE = "docker-compose.all.yml";

/** Config files the containers read, relative to ROOT. */
export const GATEWAY_CONF = "infra/nginx/conf.d/default.conf";
export const PROMETHEUS_CONF = "infra/prometheus/prometheus.yml";
export const GRAFANA_DATASOURCE = "infra/grafana/provisioning/datasources/prometheus.yml";

/** The node's scripts and its inventory document. */
export const BACKUP_SCRIPT = `${ROOT}/scripts/backup-db.sh`;
export const MIGRATE_SCRIPT = `${ROOT}/scripts/migrate.sh`;
export const NODE_DOC = `${ROOT}/docs/NODE_INFRASTRUCTURE.md`;

/** The systemd units of the daily backup. */
export const BACKUP_SERVICE = "daarion-backup.service";
export const BACKUP_TIMER = "daarion-backup.timer";
