/**
 * A DAARION node's migration set checked at preview (issue 13 item 2): the files of
 * `migrations/` read at the commit the node's ref resolved to (src/git/sources.ts) go
 * through the node's own runner (`migrate.sh --check`, the same script the host runs,
 * so the rules cannot drift: names, numbers and declared order, the baseline's file,
 * each file's statements against the one-transaction rule), before any resource of the
 * stack is registered. A bad set is a preview error naming the file and the line.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { type ResolvedSource } from "../../src/git/sources";
import { ConfigError, type Problem } from "../../src/validation/errors";
import { serviceWith } from "./catalogue";
import { type NodePlan } from "./plan";
import { renderMigrateScript } from "./render/scripts";

/** The directory of the repository the migrations come from, as `ReadFiles` names a directory. */
export const MIGRATIONS_DIR = "migrations/";

/** Whether the node runs migrations (it has the database service). */
export function runsMigrations(plan: NodePlan): boolean {
  return serviceWith(plan.services, "database") !== undefined;
}

/**
 * What the node's runner says of the files of `migrations/` in `files` (path → text at
 * the commit): one message per problem (`migrations/004_x.sql: line 3: …`), none when
 * the set passes. The runner is the node's rendered migrate.sh, run by `sh` here.
 */
export function migrationSetProblems(plan: NodePlan, files: Readonly<Record<string, string>>): string[] {
  const root = mkdtempSync(path.join(tmpdir(), "fleet-migrations-"));
  try {
    const dir = path.join(root, "migrations");
    mkdirSync(dir);
    for (const [p, text] of Object.entries(files)) {
      if (!p.startsWith(MIGRATIONS_DIR) || p === MIGRATIONS_DIR) continue;
      writeFileSync(path.join(dir, p.slice(MIGRATIONS_DIR.length)), text);
    }
    const script = path.join(root, "migrate.sh");
    writeFileSync(script, renderMigrateScript(plan, { root }));
    const r = spawnSync("sh", [script, "--check", dir], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C" } });
    if (r.error) throw new Error(`cannot run the migration runner's checks (sh): ${r.error.message}`);
    if (r.status === 0) return [];
    const lines = r.stderr.split("\n").filter((l) => l.startsWith("fleet: migrations"));
    return lines.length ? lines.map((l) => l.slice("fleet: ".length)) : [r.stderr.trim() || `the runner's checks exited ${r.status}`];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Every node's migration set at its resolved commit, checked before anything registers:
 * one ConfigError for all nodes (`nodes/<node>/migrations: migrations/… at <url> <commit>`).
 * Nodes whose source was not read (an offline render) are not checked.
 */
export function checkMigrationSets(plans: readonly NodePlan[], sourceOf: (plan: NodePlan) => ResolvedSource | undefined): void {
  const problems: Problem[] = [];
  for (const plan of plans) {
    const src = sourceOf(plan);
    if (!runsMigrations(plan) || src?.files === undefined) continue;
    const at = `${plan.repo.url} at ${plan.repo.ref} (${src.commit})`;
    if (!Object.hasOwn(src.files, MIGRATIONS_DIR)) {
      problems.push({ path: `nodes/${plan.name}/migrations`, message: `${at} has no migrations/ directory; the node's runner applies the migrations from it` });
      continue;
    }
    for (const message of migrationSetProblems(plan, src.files)) problems.push({ path: `nodes/${plan.name}/migrations`, message: `${message} (${at})` });
  }
  if (problems.length) throw new ConfigError("stack daarion", problems);
}
