/**
 * The node's five scripts: the database backup and the migrations (files on the host,
 * run by systemd and by the deployment), the TLS check before the gateway starts, and
 * the post-deployment checks of metrics and logs (tasks). The repository checkout is
 * in checkout.ts.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { sh } from "../../../src/remote/quote";
import { renderTemplate, templatesDir } from "../../../src/templating";
import { containerName, NETWORK, serviceWith, theService } from "../catalogue";
import { ACME_ROOT, ROOT } from "../layout";
import { containerOf, healthOf, type NodePlan, portOf } from "../plan";
import { scrapeJobs } from "./prometheus";

export interface ScriptPaths {
  /** The node directory (ROOT on hosts; a temp dir in tests). */
  readonly root: string;
}

/** The database's container: the node's name for it (the standards' when the node runs no database; its script then finds none). */
function databaseContainer(plan: NodePlan): string {
  const name = theService("database").name;
  return plan.containers[name] ?? containerName(name);
}

export function renderBackupScript(plan: NodePlan, paths: ScriptPaths = { root: ROOT }): string {
  const backups = `${paths.root}/backups`;
  return renderTemplate("daarion/scripts/backup-db.sh.njk", {
    node: plan.name,
    container: databaseContainer(plan),
    database: plan.database,
    backups,
    onCalendar: plan.backups.onCalendar,
    keepDaily: plan.backups.keepDaily,
    keepWeekly: plan.backups.keepWeekly,
    q: { container: sh(databaseContainer(plan)), database: sh(plan.database), backups: sh(backups) },
  });
}

export function renderMigrateScript(plan: NodePlan, paths: ScriptPaths = { root: ROOT }): string {
  const migrations = `${paths.root}/migrations`;
  const order = Object.keys(plan.migrations.order)
    .sort((a, b) => Number(a) - Number(b))
    .flatMap((n) => plan.migrations.order[n]!.map((f) => `${n} ${f}`));
  return renderTemplate("daarion/scripts/migrate.sh.njk", {
    node: plan.name,
    container: databaseContainer(plan),
    migrations,
    baseline: plan.migrations.baseline ?? "",
    order,
    lexer: readFileSync(path.join(templatesDir(), "migrations/sql-statements.awk"), "utf8").trimEnd(),
    q: {
      container: sh(databaseContainer(plan)),
      database: sh(plan.database),
      migrations: sh(migrations),
      baseline: sh(plan.migrations.baseline ?? ""),
    },
  });
}

/** The TLS certificate and key the gateway needs, present before it starts. */
export function tlsCheckScript(plan: NodePlan): string {
  const fix = `obtain it first, e.g. certbot certonly --standalone -d ${plan.domain} before the first deployment (later renewals: certbot renew --webroot -w ${ACME_ROOT})`;
  return [plan.tls.certificate, plan.tls.key]
    .map((f) => `if [ ! -r ${sh(f)} ]; then echo ${sh(`fleet: ${f} (TLS for ${plan.domain}) is missing on ${plan.name}; ${fix}`)} >&2; exit 1; fi`)
    .concat([`echo ${sh(`fleet: TLS certificate and key for ${plan.domain} present`)}`])
    .join("\n");
}

/**
 * Post-Deployment "Metrics appearing in Prometheus": every scrape job has a target up,
 * asked of Prometheus itself inside its container (its port is not published), with a
 * bounded wait of a few scrape intervals.
 */
export function metricsCheckScript(plan: NodePlan, attempts = 12, delaySeconds = 10): string {
  const collector = serviceWith(plan.services, "scrapes");
  if (!collector) throw new Error(`node ${plan.name} runs no metrics collector to check`);
  const jobs = scrapeJobs(plan).map((j) => j.jobName);
  const container = containerOf(plan, collector.name);
  const port = portOf(plan, collector.name);
  return [
    `jobs=${sh(jobs.join(" "))}`,
    "attempt=1",
    "while :; do",
    "  missing=''",
    "  for job in $jobs; do",
    `    body=$(docker exec ${sh(container)} wget -q -O - "http://localhost:${port}/api/v1/query?query=up%7Bjob%3D%22$job%22%7D" 2>/dev/null || true)`,
    `    printf '%s' "$body" | grep -Eq '"value":\\[[0-9.e+]+,"1"\\]' || missing="$missing $job"`,
    "  done",
    `  if [ -z "$missing" ]; then echo ${sh(`fleet: Prometheus on ${plan.name} scrapes every job: ${jobs.join(", ")}`)}; exit 0; fi`,
    `  if [ "$attempt" -ge ${attempts} ]; then echo ${sh(`fleet: Prometheus on ${plan.name} has no metrics (up == 1) after ${attempts} attempts for:`)}"$missing" >&2; exit 1; fi`,
    `  sleep ${delaySeconds}`,
    "  attempt=$((attempt + 1))",
    "done",
  ].join("\n");
}

/** The services of a node probed from the host (no check inside their images), with the URL path and port asked. */
export function hostProbes(plan: NodePlan): { readonly name: string; readonly container: string; readonly port: number; readonly path: string }[] {
  return plan.services.flatMap((name) => {
    const probe = healthOf(plan, name);
    if (!("host" in probe)) return [];
    return [{ name, container: containerOf(plan, name), port: probe.host.port ?? portOf(plan, name), path: probe.host.path }];
  });
}

/**
 * The health of the services whose images are not asked to hold curl or wget: the host's
 * curl GETs each one's path at the container's address on daarion_net (nothing is
 * published), until every one answers 2xx/3xx or the attempts run out; the failure
 * names each service that did not answer and what curl said. None when every service
 * has a check of its own.
 */
export function servicesHealthScript(plan: NodePlan, attempts = 12, delaySeconds = 10): string | undefined {
  const probes = hostProbes(plan);
  if (probes.length === 0) return undefined;
  const addressOf = `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`;
  return [
    "probe() {",
    `  ip=$(docker inspect -f ${sh(addressOf)} "$1" 2>/dev/null) || { echo "container $1 not found"; return 1; }`,
    '  [ -n "$ip" ] && [ "$ip" != "<no value>" ] || { echo "container $1 has no address on the network"; return 1; }',
    '  curl -sS -o /dev/null --max-time 5 -w "%{http_code}" "http://$ip:$2$3" 2>&1 | grep -Eq "^[23][0-9][0-9]$" || { echo "GET http://$ip:$2$3 from the host did not answer 2xx/3xx"; return 1; }',
    "}",
    "attempt=1",
    "while :; do",
    "  failed=''",
    ...probes.map((p) => `  why=$(probe ${sh(p.container)} ${p.port} ${sh(p.path)}) || failed="$failed
  ${p.name}: $why"`),
    `  if [ -z "$failed" ]; then echo ${sh(`fleet: ${probes.length} services of ${plan.name} answer their health path from the host: ${probes.map((p) => p.name).join(", ")}`)}; exit 0; fi`,
    `  if [ "$attempt" -ge ${attempts} ]; then printf '%s\n' ${sh(`fleet: services of ${plan.name} not healthy after ${attempts} attempts (probed from the host, nothing inside their images):`)} >&2; printf '%b\n' "$failed" >&2; exit 1; fi`,
    `  sleep ${delaySeconds}`,
    "  attempt=$((attempt + 1))",
    "done",
  ].join("\n");
}

/**
 * Post-Deployment "No critical errors in logs": the standards' JSON logs of every
 * container of the node, over the monitoring window, must hold no CRITICAL line.
 */
export function logsCheckScript(plan: NodePlan, since = "15m"): string {
  const containers = plan.services.map((name) => containerOf(plan, name));
  return [
    `containers=${sh(containers.join(" "))}`,
    "found=''",
    "for c in $containers; do",
    `  lines=$(docker logs --since ${sh(since)} "$c" 2>&1 | grep -E '"level": ?"CRITICAL"' || true)`,
    `  if [ -n "$lines" ]; then found="$found $c"; printf '%s\\n' "$lines" | head -n 5 | sed "s/^/$c: /" >&2; fi`,
    "done",
    `if [ -n "$found" ]; then echo ${sh(`fleet: CRITICAL log lines in the last ${since} on ${plan.name} from:`)}"$found" >&2; exit 1; fi`,
    `echo ${sh(`fleet: no CRITICAL log lines in the last ${since} on ${plan.name}`)}`,
  ].join("\n");
}
