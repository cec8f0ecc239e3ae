/**
 * The daarion stack's migration settings (issue 13 item 6): the order of files that share
 * a number, and a node's baseline, reach the deployed migrate.sh; bad values are refused by
 * path. What the script does with them runs against PostgreSQL in test/e2e/migrations.test.ts.
 * The same script's `--check` runs at preview on migrations/ at the resolved commit (issue 13
 * item 2): a bad set is a preview error naming the file and the line, before any resource.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitFileReader, type ReadFiles } from "../../src/git/files";
import { gitLsRemote, type LsRemote } from "../../src/git/refs";
import { type MockRun, runProgram } from "../../src/testing/mocks";
import { ConfigError } from "../../src/validation/errors";
import { daarionSchema } from "../../stacks/daarion/config";
import { checkMigrationSets, migrationSetProblems } from "../../stacks/daarion/migrations";
import { planNodes } from "../../stacks/daarion/plan";
import { renderMigrateScript } from "../../stacks/daarion/render/scripts";
import { git } from "../helpers/git";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN, REPO } from "./daarion-config";

function problems(settings: Record<string, unknown>): string[] {
  const r = daarionSchema.safeParse(settings);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`);
}

describe("daarion migrations config", () => {
  it("renders the declared order and the node's baseline into migrate.sh", () => {
    const settings = daarionSettings({ migrations: { order: { "4": ["004_b.sql", "004_a.sql"], "012": ["12_x.sql", "012_y.sql"] } } });
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "012" };
    const { plans } = planNodes(daarionSchema.parse(settings));
    const script = renderMigrateScript(plans[0]!);
    const order = /cat <<'ORDER'\n([\s\S]*?)ORDER\n/.exec(script)![1];
    expect(order).toBe("4 004_b.sql\n4 004_a.sql\n012 12_x.sql\n012 012_y.sql\n");
    expect(script).toContain("\nbaseline='012'\n");
    expect(renderMigrateScript(plans[1]!)).toContain("\nbaseline=''\n");
    expect(script).toContain("\nlexer=$(cat <<'AWK'\n# Managed by pulumi-fleet. The statements of one SQL migration file");
  });

  it.each([
    [{ order: { "004": ["004_a.sql"] } }, "migrations/order/004: must list the two or more files that share this number"],
    [{ order: { "004": ["005_a.sql", "004_b.sql"] } }, "migrations/order/004/0: must be a file numbered 004"],
    [{ order: { "004": ["004_a.sql", "004_a.sql"] } }, "migrations/order/004/1: is listed twice"],
    [{ order: { "4a": ["004_a.sql", "004_b.sql"] } }, "migrations/order/4a: must be a migration number (digits), e.g. 004"],
    [{ order: { "004": ["004_a.sql", "004_b'; rm -rf /.sql"] } }, "migrations/order/004/1: must be a migration file name such as 004_add_agents.sql"],
  ])("refuses %j", (migrations, message) => {
    expect(problems(daarionSettings({ migrations }))).toEqual([message]);
  });

  it("refuses a baseline that is not a number", () => {
    const settings = daarionSettings();
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "12; DROP" };
    expect(problems(settings)).toEqual(["nodes/0/migrations/baseline: must be a migration number (digits), e.g. 004"]);
  });
});

/** The rules the host's runner applies, asked of it at preview (`migrate.sh --check`). */
describe("daarion migration set checked by the node's runner at preview", () => {
  const plan = () => planNodes(daarionSchema.parse(daarionSettings())).plans[0]!;
  const set = (files: Record<string, string>) => Object.fromEntries([["migrations/", ""], ...Object.entries(files).map(([k, v]) => [`migrations/${k}`, v])]);

  it("passes the sets real projects have: no header, a file in its own BEGIN ... COMMIT, rollbacks beside them", () => {
    expect(
      migrationSetProblems(
        plan(),
        set({
          "001_users.sql": "CREATE TABLE users (id int);\n",
          "002_sessions.sql": "-- Migration: 002\nCREATE TABLE sessions (id int);\n",
          "10_living_map.sql": "begin transaction;\nCREATE TABLE living_map (id int, note text DEFAULT 'BEGIN; COMMIT;');\nend;\n",
          "001_rollback.sql": "DROP TABLE users;\n",
          "002_sessions.down.sql": "DROP TABLE sessions;\n",
        }),
      ),
    ).toEqual([]);
  });

  it("names the file and the line of each statement the runner refuses, and duplicate numbers without a declared order", () => {
    expect(
      migrationSetProblems(
        plan(),
        set({
          "001_ok.sql": "CREATE TABLE ok (id int);\n",
          "003_escape.sql": "CREATE TABLE c (id int);\nCOMMIT;\nCREATE TABLE d (id int);\n",
          "004_concurrently.sql": "-- indexes\nCREATE UNIQUE INDEX CONCURRENTLY ok_id ON ok (id);\n",
          "005_a.sql": "SELECT 1;\n",
          "005_b.sql": "SELECT 2;\n",
          "006_header.sql": "-- Migration: 007\nSELECT 1;\n",
        }),
      ),
    ).toEqual([
      "migrations/006_header.sql: line 1: '-- Migration: 007' does not match the file's number 006",
      "migrations: 005_a.sql 005_b.sql share the number 5; declare their order in the stack config (fleet:daarion migrations.order.\"5\": [...]), or renumber them",
    ]);
    // Names and numbers first (as on the host); with those fixed, each file's statements.
    expect(
      migrationSetProblems(
        plan(),
        set({
          "003_escape.sql": "CREATE TABLE c (id int);\nCOMMIT;\nCREATE TABLE d (id int);\n",
          "004_concurrently.sql": "-- indexes\nCREATE UNIQUE INDEX CONCURRENTLY ok_id ON ok (id);\n",
          "006_psql.sql": "\\set ON_ERROR_STOP off\nSELECT 1;\n",
        }),
      ),
    ).toEqual([
      "migrations/003_escape.sql: line 2: 'COMMIT' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      "migrations/004_concurrently.sql: line 2: 'CREATE UNIQUE INDEX CONCURRENTLY ok_id ON ok (id)' cannot run inside a transaction, and the runner applies each file in one; put it in a step of its own outside the migrations (or drop CONCURRENTLY)",
      "migrations/006_psql.sql: line 1: '\\set ON_ERROR_STOP off' is a psql command; migrations hold SQL only",
    ]);
  });

  it("takes duplicate numbers in the order config declares, and checks the baseline names a file", () => {
    const settings = daarionSettings({ migrations: { order: { "5": ["005_b.sql", "005_a.sql"] } } });
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "009" };
    const p = planNodes(daarionSchema.parse(settings)).plans[0]!;
    expect(migrationSetProblems(p, set({ "005_a.sql": "SELECT 1;\n", "005_b.sql": "SELECT 2;\n" }))).toEqual(["migrations: the baseline 009 names no migration file"]);
    expect(migrationSetProblems(p, set({ "005_a.sql": "SELECT 1;\n", "005_b.sql": "SELECT 2;\n", "009_adopted.sql": "SELECT 3;\n" }))).toEqual([]);
  });
});

describe("every node's set, one error", () => {
  it("names a commit without migrations/ for each node that runs a database; nodes whose files were not read are not checked", () => {
    const { plans } = planNodes(daarionSchema.parse(daarionSettings()));
    const src = { url: REPO.url, ref: REPO.ref, commit: "c".repeat(40) };
    expect(() => checkMigrationSets(plans, () => ({ ...src, files: { "README.md": "x\n" } }))).toThrow(
      `stack daarion has 2 problems:\n  - nodes/noda1/migrations: ${REPO.url} at v1.0.0 (${"c".repeat(40)}) has no migrations/ directory; the node's runner applies the migrations from it\n  - nodes/noda2/migrations: ${REPO.url} at v1.0.0 (${"c".repeat(40)}) has no migrations/ directory; the node's runner applies the migrations from it`,
    );
    expect(() => checkMigrationSets(plans, () => ({ ...src, files: undefined }))).not.toThrow();
  });
});

describe("daarion preview against a repository whose migration set is bad", () => {
  let work: string;
  let bare: string;
  let clone: string;
  let lsRemote: LsRemote;
  let readFiles: ReadFiles;

  beforeAll(() => {
    work = mkdtempSync(path.join(tmpdir(), "fleet-daarion-migrations-"));
    bare = path.join(work, "daarion.git");
    clone = path.join(work, "daarion");
    git(work, "init", "-q", "--bare", bare);
    git(work, "init", "-q", clone);
    git(clone, "remote", "add", "origin", bare);
    const commit = (branch: string, files: Record<string, string>) => {
      git(clone, "checkout", "-q", "-B", branch);
      for (const [p, text] of Object.entries(files)) {
        mkdirSync(path.dirname(path.join(clone, p)), { recursive: true });
        writeFileSync(path.join(clone, p), text);
      }
      git(clone, "add", "-A");
      git(clone, "commit", "-q", "-m", branch);
      git(clone, "push", "-q", "-f", "origin", `HEAD:refs/heads/${branch}`);
    };
    commit("main", { "migrations/001_init.sql": "CREATE TABLE t (id int);\n", "migrations/002_more.sql": "ALTER TABLE t ADD COLUMN n int;\n" });
    commit("bad", { "migrations/003_reindex.sql": "-- maintenance\nSELECT 1;\nVACUUM t;\n" });
    lsRemote = (url, patterns) => {
      if (url !== REPO.url) throw new Error(`unexpected URL ${url}`);
      return gitLsRemote(bare, patterns);
    };
    readFiles = gitFileReader({ cacheDir: path.join(work, "cache"), fetchUrl: (url) => (url === REPO.url ? bare : url) });
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function previewAt(ref: string): Promise<{ error: unknown; run: MockRun }> {
    const { daarionProgram } = await import("../../stacks/daarion");
    const { config, secretKeys } = daarionConfig(daarionSettings({ repo: { url: REPO.url, ref } }));
    let error: unknown;
    const run = await runProgram(
      async () => {
        try {
          return await daarionProgram({ lsRemote, readFiles });
        } catch (e) {
          error = e;
          return {};
        }
      },
      { stack: "daarion", config, secretKeys, calls: { [REGISTRY_TOKEN]: (a) => ({ id: String(a.name), name: a.name, sha256Digest: digestFor(String(a.name)) }) } },
    );
    return { error, run };
  }

  it("a good set at the resolved commit previews the stack", async () => {
    const { error, run } = await previewAt("main");
    expect(error).toBeUndefined();
    expect(run.resources.length).toBeGreaterThan(0);
  });

  it("a bad set is a preview error naming the file, the line and the commit, before any resource of the stack", async () => {
    const commit = git(clone, "rev-parse", "bad");
    const { error, run } = await previewAt("bad");
    expect(error).toBeInstanceOf(ConfigError);
    const at = `(${REPO.url} at bad (${commit}))`;
    const why = "'VACUUM t' cannot run inside a transaction, and the runner applies each file in one; put it in a step of its own outside the migrations (or drop CONCURRENTLY)";
    // Both nodes run a database, both from the same commit.
    expect((error as Error).message).toBe(
      `stack daarion has 2 problems:\n  - nodes/noda1/migrations: migrations/003_reindex.sql: line 3: ${why} ${at}\n  - nodes/noda2/migrations: migrations/003_reindex.sql: line 3: ${why} ${at}`,
    );
    expect(run.resources).toEqual([]);
  });
});
