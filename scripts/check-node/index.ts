/**
 * npm run check-node -- <dir> [--json]
 *
 * Judges a DAARION node's files, as copied from the host, against the node standards
 * (docs/seeds/daarion-node-standards.md; rules in scripts/check-node/rules.ts) and prints
 * each finding with its rule, file and line, and the fix. <dir> is the node's directory
 * (/opt/microdao-daarion on the host), holding what it has of:
 *   docker-compose.all.yml      the compose file (or docker-compose.yml)
 *   .env                        the environment the compose file reads
 *   infra/nginx/conf.d/*.conf   the gateway's config
 *   migrations/*.sql            the database migrations
 *   schema_migrations.txt       optional: what was applied, from
 *     docker exec daarion-postgres psql -U postgres -d daarion_memory -A -t -F ' ' \
 *       -c 'SELECT version, name, checksum FROM schema_migrations ORDER BY version'
 * Exit: 0 clean, 1 violations, 2 usage or unreadable input.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { checkNode, type Finding, NodeInputError, type NodeFiles, RULES } from "./rules";

const USAGE = "usage: npm run check-node -- <dir> [--json]";
const COMPOSE_NAMES = ["docker-compose.all.yml", "docker-compose.yml", "compose.yml", "compose.yaml"];

class UsageError extends Error {}

/** Read a node's directory into the checker's input. */
export function readNode(dir: string): NodeFiles {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UsageError(`${dir} is not a directory`);
  const read = (rel: string) => (fs.existsSync(path.join(dir, rel)) ? fs.readFileSync(path.join(dir, rel), "utf8") : undefined);
  const composeName = COMPOSE_NAMES.find((n) => fs.existsSync(path.join(dir, n)));
  const gatewayDir = path.join(dir, "infra/nginx/conf.d");
  const gateway: Record<string, string> = {};
  if (fs.existsSync(gatewayDir)) {
    for (const f of fs.readdirSync(gatewayDir).filter((n) => n.endsWith(".conf")).sort()) gateway[`infra/nginx/conf.d/${f}`] = fs.readFileSync(path.join(gatewayDir, f), "utf8");
  }
  const migDir = path.join(dir, "migrations");
  const migrations = fs.existsSync(migDir)
    ? fs
        .readdirSync(migDir)
        .filter((n) => n.endsWith(".sql"))
        .sort()
        .map((name) => ({ name, sha256: createHash("sha256").update(fs.readFileSync(path.join(migDir, name))).digest("hex") }))
    : undefined;
  if (!composeName) throw new UsageError(`${dir} has no compose file (${COMPOSE_NAMES.join(", ")}): is it a node's directory?`);
  return {
    compose: { name: composeName, text: fs.readFileSync(path.join(dir, composeName), "utf8") },
    env: read(".env"),
    gateway,
    migrations,
    applied: read("schema_migrations.txt"),
  };
}

/** The human report: one block per finding, then a summary line. */
export function formatReport(dir: string, findings: readonly Finding[]): string {
  if (!findings.length) return `check-node: ${dir}: clean (${Object.keys(RULES).length} rules)\n`;
  const lines = findings.map((f) => `${f.file}${f.line ? `:${f.line}` : ""}: ${f.rule}: ${f.message}\n  fix: ${f.fix}`);
  const rules = new Set(findings.map((f) => f.rule)).size;
  return `${lines.join("\n")}\ncheck-node: ${dir}: ${findings.length} violation${findings.length === 1 ? "" : "s"} of ${rules} rule${rules === 1 ? "" : "s"}\n`;
}

export function main(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): number {
  try {
    const json = argv.includes("--json");
    const rest = argv.filter((a) => a !== "--json");
    if (rest.some((a) => a === "-h" || a === "--help")) {
      out(`${USAGE}\n`);
      return 0;
    }
    const unknown = rest.find((a) => a.startsWith("-"));
    if (unknown) throw new UsageError(`unknown option ${unknown}`);
    if (rest.length !== 1) throw new UsageError(rest.length ? "one directory at a time" : "missing <dir>");
    const dir = path.resolve(process.env.INIT_CWD ?? process.cwd(), rest[0]!);
    const findings = checkNode(readNode(dir));
    if (json) out(`${JSON.stringify({ dir, ok: findings.length === 0, findings }, null, 2)}\n`);
    else out(formatReport(dir, findings));
    return findings.length ? 1 : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err(`check-node: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    if (e instanceof NodeInputError) {
      err(`check-node: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

if (require.main === module) {
  process.exitCode = main(
    process.argv.slice(2),
    (s) => process.stdout.write(s),
    (s) => process.stderr.write(s),
  );
}
