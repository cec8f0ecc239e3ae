/**
 * Issue 13 item 6: the DAARION migration runner (templates/daarion/scripts/migrate.sh.njk)
 * on migration sets as real projects have them, against the real PostgreSQL 15 on portia.
 *
 * The script is the one the daarion stack deploys (`noda1-migrate-script`'s stdin, from the
 * program built under mocks with the config under test); it runs over real SSH on portia
 * with its migrations/ beside it, and a stand-in for `docker exec -i daarion-postgres psql`
 * that runs portia's own psql against portia's server (the node's container holds the same
 * psql). Each test gets a fresh database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MockRun, runProgram } from "../../src/testing/mocks";
import { command, stdinOf } from "../helpers/inputs";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN } from "../stacks/daarion-config";
import { type Fleet, startHosts } from "./harness";

const ROOT = "/opt/microdao-daarion";

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function deployedScript(settings: Record<string, unknown>): Promise<string> {
  const { Daarion } = await import("../../stacks/daarion");
  const { config, secretKeys } = daarionConfig(settings);
  const run: MockRun = await runProgram(() => new Daarion("daarion").outputs, {
    stack: "daarion",
    config,
    secretKeys,
    calls: { [REGISTRY_TOKEN]: (args) => ({ id: String(args.name), name: args.name, sha256Digest: digestFor(String(args.name)) }) },
  });
  return stdinOf(command(run, "noda1-migrate-script"));
}

/** A header like the DAARION standard's; many real files have none. */
function withHeader(version: string, body: string): string {
  return [`-- Migration: ${version}`, "-- Description: test", "-- Date: 2025-11-20", "-- Author: DAARION Team", `-- Rollback: See ${version}_rollback.sql`, body, ""].join("\n");
}

describe("migrate.sh on real migration sets, against PostgreSQL on portia", () => {
  let fleet: Fleet;
  let plain: string;
  let seq = 0;

  /** psql as the admin on portia's server, from inside portia. */
  const psql = async (database: string, sql: string): Promise<string> => {
    const pg = fleet.postgres;
    const r = await fleet.run("portia", `PGPASSWORD='${pg.adminPassword}' psql -X -q -w -h 127.0.0.1 -p ${pg.port} -U postgres -d ${database} -v ON_ERROR_STOP=1 -A -t`, sql);
    if (r.code !== 0) throw new Error(`psql: ${r.stderr}`);
    return r.stdout.trim();
  };

  /**
   * A node directory on portia: the deployed migrate.sh (paths pointed at it), these
   * migrations, a fresh database; `run()` runs the script over SSH.
   */
  async function node(files: Record<string, string>, script = plain, prepare = ""): Promise<{ db: string; run: () => Promise<Ran>; write: (name: string, text: string) => Promise<void> }> {
    const db = `mig_${process.pid}_${++seq}`;
    await psql("postgres", `CREATE DATABASE ${db};`);
    if (prepare) await psql(db, prepare);
    const dir = `/tmp/fleet-migrate-${process.pid}-${seq}`;
    const pg = fleet.postgres;
    const local = script.replaceAll(`'${ROOT}/migrations'`, `'${dir}/migrations'`).replace("database='daarion_memory'", `database='${db}'`);
    expect(local).not.toBe(script);
    const docker = [
      "#!/bin/sh",
      '[ "$1" = exec ] && [ "$2" = -i ] && [ "$3" = daarion-postgres ] || { echo "stand-in docker: only exec -i daarion-postgres" >&2; exit 9; }',
      "shift 3; cmd=$1; shift",
      `PGPASSWORD='${pg.adminPassword}' exec "$cmd" -w -h 127.0.0.1 -p ${pg.port} "$@"`,
      "",
    ].join("\n");
    const write = async (name: string, text: string) => {
      const r = await fleet.run("portia", `mkdir -p '${dir}/migrations' && cat > '${dir}/migrations/${name}'`, text);
      if (r.code !== 0) throw new Error(r.stderr);
    };
    const setup = await fleet.run("portia", `mkdir -p '${dir}/bin' '${dir}/migrations' && cat > '${dir}/migrate.sh' && chmod 0755 '${dir}/migrate.sh'`, local);
    if (setup.code !== 0) throw new Error(setup.stderr);
    await fleet.run("portia", `cat > '${dir}/bin/docker' && chmod 0755 '${dir}/bin/docker'`, docker);
    for (const [name, text] of Object.entries(files)) await write(name, text);
    return { db, write, run: () => fleet.run("portia", `PATH='${dir}/bin':/usr/sbin:/usr/bin:/sbin:/bin '${dir}/migrate.sh'`, undefined, 120_000) };
  }

  const tables = (db: string) => psql(db, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'");
  const recorded = (db: string) => psql(db, "SELECT string_agg(name || ':' || how, ',' ORDER BY version::numeric, applied_at, name) FROM schema_migrations");

  beforeAll(async () => {
    fleet = await startHosts({ names: ["portia"] });
    plain = await deployedScript(daarionSettings());
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  it("applies files without a header, with or without their own BEGIN/COMMIT, each in the runner's transaction, then nothing on a re-run", async () => {
    const n = await node({
      "001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
      "002_sessions.sql": withHeader("002", "BEGIN;\nCREATE TABLE sessions (id int PRIMARY KEY, user_id int REFERENCES users(id));\nCOMMIT;"),
      "10_living_map.sql": "begin transaction;\n-- a comment; COMMIT;\nCREATE TABLE living_map (id int, note text DEFAULT 'BEGIN; COMMIT;');\nCREATE FUNCTION touch() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql;\nend;\n",
      "001_rollback.sql": "DROP TABLE users;\n",
      "002_sessions.down.sql": "DROP TABLE sessions;\n",
    });
    const first = await n.run();
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout.split("\n").filter((l) => l.startsWith("fleet: applied"))).toEqual([
      "fleet: applied migrations/001_users.sql",
      "fleet: applied migrations/002_sessions.sql",
      "fleet: applied migrations/10_living_map.sql",
    ]);
    expect(await recorded(n.db)).toBe("001_users.sql:applied,002_sessions.sql:applied,10_living_map.sql:applied");
    expect(await tables(n.db)).toBe("living_map,schema_migrations,sessions,users");
    const again = await n.run();
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe("fleet: 0 migration(s) applied, 3 already applied");
  });

  it("refuses transaction control inside a file and statements that cannot run in a transaction, naming file and line, before applying anything", async () => {
    const n = await node({
      "001_ok.sql": "CREATE TABLE ok (id int);\n",
      "002_two_transactions.sql": "BEGIN;\nCREATE TABLE a (id int);\nCOMMIT;\nBEGIN;\nCREATE TABLE b (id int);\nCOMMIT;\n",
      "003_escape.sql": "CREATE TABLE c (id int);\nCOMMIT;\nCREATE TABLE d (id int);\n",
      "004_concurrently.sql": "-- indexes\nCREATE UNIQUE INDEX CONCURRENTLY ok_id ON ok (id);\n",
      "005_maintenance.sql": "VACUUM ANALYZE ok;\nALTER SYSTEM SET work_mem = '64MB';\nCREATE DATABASE other;\n",
      "006_psql.sql": "\\set ON_ERROR_STOP off\nCOPY ok FROM STDIN;\n1\n\\.\n",
      "007_rollback_inside.sql": "CREATE TABLE e (id int);\nROLLBACK;\n",
    });
    const r = await n.run();
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")).toEqual([
      "fleet: migrations/002_two_transactions.sql: line 1: 'BEGIN' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      "fleet: migrations/002_two_transactions.sql: line 3: 'COMMIT' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      "fleet: migrations/002_two_transactions.sql: line 4: 'BEGIN' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      "fleet: migrations/002_two_transactions.sql: line 6: 'COMMIT' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      "fleet: migrations/003_escape.sql: line 2: 'COMMIT' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      "fleet: migrations/004_concurrently.sql: line 2: 'CREATE UNIQUE INDEX CONCURRENTLY ok_id ON ok (id)' cannot run inside a transaction, and the runner applies each file in one; put it in a step of its own outside the migrations (or drop CONCURRENTLY)",
      "fleet: migrations/005_maintenance.sql: line 1: 'VACUUM ANALYZE ok' cannot run inside a transaction, and the runner applies each file in one; put it in a step of its own outside the migrations (or drop CONCURRENTLY)",
      "fleet: migrations/005_maintenance.sql: line 2: 'ALTER SYSTEM SET work_mem = '64MB'' cannot run inside a transaction, and the runner applies each file in one; put it in a step of its own outside the migrations (or drop CONCURRENTLY)",
      "fleet: migrations/005_maintenance.sql: line 3: 'CREATE DATABASE other' cannot run inside a transaction, and the runner applies each file in one; put it in a step of its own outside the migrations (or drop CONCURRENTLY)",
      "fleet: migrations/006_psql.sql: line 1: '\\set ON_ERROR_STOP off' is a psql command; migrations hold SQL only",
      "fleet: migrations/006_psql.sql: line 2: 'COPY ok FROM STDIN' reads its rows from the file through psql; write them as INSERT statements",
      "fleet: migrations/006_psql.sql: line 4: '\\.' is a psql command; migrations hold SQL only",
      "fleet: migrations/007_rollback_inside.sql: line 2: 'ROLLBACK' controls the transaction, and the runner applies each file in one transaction; remove it (a file may only wrap all of its statements in one BEGIN ... COMMIT)",
      `fleet: 13 problem(s) in /tmp/fleet-migrate-${process.pid}-${seq}/migrations; no migration was applied`,
      "",
    ]);
    expect(await tables(n.db)).toBe("schema_migrations");
    expect(await psql("postgres", "SELECT count(*) FROM pg_database WHERE datname = 'other'")).toBe("0");
  });

  it("refuses a file not named NNN_description.sql, an edited applied file and one numbered before the latest applied", async () => {
    const n = await node({ "001_users.sql": "CREATE TABLE users (id int);\n", "create_sessions.sql": "CREATE TABLE sessions (id int);\n" });
    const named = await n.run();
    expect(named.code).toBe(1);
    expect(named.stderr.split("\n")[0]).toBe(
      "fleet: migrations/create_sessions.sql: must be named NNN_description.sql (digits, '_', a description of letters, digits, '_', '.' and '-'), e.g. 007_create_agents_tables.sql",
    );
    expect(await tables(n.db)).toBe("");
    await fleet.run("portia", `rm '/tmp/fleet-migrate-${process.pid}-${seq}/migrations/create_sessions.sql'`);
    await n.write("005_x.sql", "CREATE TABLE x (id int);\n");
    expect((await n.run()).code).toBe(0);
    await n.write("003_late.sql", "CREATE TABLE late (id int);\n");
    const late = await n.run();
    expect(late.code).toBe(1);
    expect(late.stderr.split("\n")[0]).toBe("fleet: migrations/003_late.sql: is numbered before the latest applied migration (5); renumber it after 5");
    expect(await recorded(n.db)).toBe("001_users.sql:applied,005_x.sql:applied");
  });

  it("a failure names the file and the line, rolls that file back whole and stops there", async () => {
    const n = await node({
      "001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
      "002_broken.sql": "CREATE TABLE half_done (id int);\n\nINSERT INTO users VALUES (1);\nINSERT INTO users\n  VALUES (1);\n",
      "003_after.sql": "CREATE TABLE after_broken (id int);\n",
    });
    const r = await n.run();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("fleet: applied migrations/001_users.sql");
    expect(r.stderr.split("\n")[0]).toBe('fleet: migrations/002_broken.sql: line 4: ERROR:  duplicate key value violates unique constraint "users_pkey"');
    expect(r.stderr).toContain("fleet: migrations/002_broken.sql failed and was rolled back; the migrations after it were not applied");
    expect(await tables(n.db)).toBe("schema_migrations,users");
    expect(await recorded(n.db)).toBe("001_users.sql:applied");
  });

  it("refuses two files with one number, naming both and the config key that orders them", async () => {
    const n = await node({
      "004_add_agents.sql": "CREATE TABLE agents (id int PRIMARY KEY);\n",
      "004_add_agent_index.sql": "CREATE INDEX agents_id ON agents (id);\n",
      "0004_more.sql": "SELECT 1;\n",
    });
    const r = await n.run();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        `fleet: migrations: 0004_more.sql 004_add_agent_index.sql 004_add_agents.sql share the number 4; declare their order in the stack config (fleet:daarion migrations.order."4": [...]), or renumber them`,
        `fleet: 1 problem(s) in /tmp/fleet-migrate-${process.pid}-${seq}/migrations; no migration was applied`,
        "",
      ].join("\n"),
    );
    expect(await tables(n.db)).toBe("");
  });

  it("applies files that share a number in the order the config declares", async () => {
    const script = await deployedScript(daarionSettings({ migrations: { order: { "004": ["004_add_agents.sql", "004_add_agent_index.sql"] } } }));
    const n = await node(
      {
        "003_base.sql": "CREATE TABLE base (id int);\n",
        // Alphabetically the index comes first and would fail: the declared order wins.
        "004_add_agent_index.sql": "CREATE INDEX agents_id ON agents (id);\n",
        "004_add_agents.sql": "CREATE TABLE agents (id int PRIMARY KEY);\n",
        "005_after.sql": "CREATE TABLE after4 (id int);\n",
      },
      script,
    );
    const r = await n.run();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await recorded(n.db)).toBe("003_base.sql:applied,004_add_agents.sql:applied,004_add_agent_index.sql:applied,005_after.sql:applied");
  });

  it("adopts an existing database through the node's baseline: recorded with checksums, not run; later files applied", async () => {
    const settings = daarionSettings();
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "002" };
    const script = await deployedScript(settings);
    const files = {
      "001_users.sql": "CREATE TABLE users (id int PRIMARY KEY);\n",
      // Hand-made deployments carry what a fresh one would refuse; adopted files never run.
      "002_index.sql": "CREATE INDEX CONCURRENTLY users_id ON users (id);\n",
      "003_sessions.sql": "CREATE TABLE sessions (id int);\n",
    };
    // The node already runs the app: its tables exist, no schema_migrations.
    const n = await node(files, script, "CREATE TABLE users (id int PRIMARY KEY); INSERT INTO users VALUES (7); CREATE INDEX users_id ON users (id);");
    const r = await n.run();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toEqual([
      "fleet: baseline: recorded migrations/001_users.sql as applied (not run)",
      "fleet: baseline: recorded migrations/002_index.sql as applied (not run)",
      "fleet: applied migrations/003_sessions.sql",
      "fleet: 1 migration(s) applied, 0 already applied",
      "",
    ]);
    expect(await recorded(n.db)).toBe("001_users.sql:baseline,002_index.sql:baseline,003_sessions.sql:applied");
    expect(await psql(n.db, "SELECT count(*) FROM users")).toBe("1");
    const sums = await psql(n.db, "SELECT string_agg(checksum, ',' ORDER BY name) FROM schema_migrations WHERE how = 'baseline'");
    expect(sums.split(",")).toHaveLength(2);
    for (const s of sums.split(",")) expect(s).toMatch(/^[0-9a-f]{64}$/);
    // An adopted file edited later is refused like any applied one.
    await n.write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY);\n");
    const edited = await n.run();
    expect(edited.code).toBe(1);
    expect(edited.stderr).toMatch(/^fleet: migrations\/001_users\.sql: changed after it was applied \(sha256 [0-9a-f]{64}, now [0-9a-f]{64}\); never edit an applied migration, add a new one\n/);
  });

  it("an empty database ignores the baseline and applies everything (a new node)", async () => {
    const settings = daarionSettings();
    (settings.nodes as Record<string, unknown>[])[0]!.migrations = { baseline: "001" };
    const n = await node({ "001_users.sql": "CREATE TABLE users (id int);\n", "002_more.sql": "CREATE TABLE more (id int);\n" }, await deployedScript(settings));
    const r = await n.run();
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("fleet: the database is empty: baseline 001 not used, every migration is applied");
    expect(await recorded(n.db)).toBe("001_users.sql:applied,002_more.sql:applied");
  });

  it("keeps a database recorded by the previous runner (version as the key): no re-run, the table re-keyed by name", async () => {
    const sum = "0".repeat(64);
    const n = await node(
      { "001_users.sql": "CREATE TABLE users (id int);\n", "002_more.sql": "CREATE TABLE more (id int);\n" },
      plain,
      `CREATE TABLE users (id int); CREATE TABLE schema_migrations (version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());`,
    );
    const { createHash } = await import("node:crypto");
    const real = createHash("sha256").update("CREATE TABLE users (id int);\n").digest("hex");
    expect(real).not.toBe(sum);
    await psql(n.db, `INSERT INTO schema_migrations (version, name, checksum) VALUES ('001', '001_users.sql', '${real}');`);
    const r = await n.run();
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["fleet: applied migrations/002_more.sql", "fleet: 1 migration(s) applied, 1 already applied"]);
    expect(await psql(n.db, "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.conrelid = 'schema_migrations'::regclass AND c.contype = 'p'")).toBe("name");
  });
});
