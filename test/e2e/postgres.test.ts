/**
 * End to end: PostgresDatabase's SQL-side expectations on the real PostgreSQL 15 on portia.
 *
 * The postgresql provider does not run here (there is no Pulumi engine), so the test reads
 * what the component hands it (the resolved inputs of the mocked Role, Database and Grant)
 * and issues the equivalent SQL as the admin over the network; that SQL stands in for the
 * provider's own statements (CREATE ROLE ... LOGIN PASSWORD ... CONNECTION LIMIT ...,
 * CREATE DATABASE ... OWNER ..., GRANT CREATE, USAGE ON SCHEMA ... TO ...). Then it proves
 * what the application relies on, with the component's own `url` output: the role logs in
 * with the URL's percent-decoded password, owns its database, and can create tables in
 * `public`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as postgresql from "@pulumi/postgresql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresDatabase } from "../../src/components/postgres";
import { ADDRESSES, type Fleet, runCmd, startHosts } from "./harness";
import { build, plain, reveal } from "./program";

/** Every character a URL gives a meaning to, and a space. */
const SPECIAL_PASSWORD = "p@ss:w/rd#%+?&= x";

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface AppliedDatabase {
  readonly role: string;
  readonly password: string;
  readonly database: string;
  readonly url: string;
}

describe("PostgresDatabase on the real PostgreSQL", () => {
  let fleet: Fleet;
  let home: string;
  const applied = new Map<string, AppliedDatabase>();

  /** psql from the root namespace over the test network; nothing from the environment leaks in. */
  function psql(user: string, password: string, database: string, args: readonly string[], input?: string): Promise<Result> {
    return runCmd(
      "/usr/bin/psql",
      ["-X", "-w", "-h", ADDRESSES.portia, "-p", String(fleet.postgres.port), "-U", user, "-d", database, "-v", "ON_ERROR_STOP=1", "-tA", ...args],
      {
        ...(input !== undefined ? { input } : {}),
        env: { PATH: "/usr/bin:/bin", HOME: home, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5", PGSSLMODE: "disable" },
        timeoutMs: 30_000,
      },
    );
  }

  function admin(database: string, args: readonly string[], input?: string): Promise<Result> {
    return psql(fleet.postgres.adminUser, fleet.postgres.adminPassword, database, args, input);
  }

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "fleet-e2e-psql-"));
    fleet = await startHosts({ names: ["portia"] });

    const pg = fleet.postgres;
    const built = await build(() => {
      const provider = new postgresql.Provider("portia", {
        host: ADDRESSES.portia,
        port: pg.port,
        username: pg.adminUser,
        password: pg.adminPassword,
        sslmode: "disable",
        superuser: true,
      });
      return {
        shop: new PostgresDatabase("shop", { provider, database: "shop", password: SPECIAL_PASSWORD, url: { host: "portia.incus" } }),
        ledger: new PostgresDatabase("ledger", { provider, database: "ledger", role: "ledger_app", url: { host: "portia.incus" } }),
      };
    });

    for (const [name, db] of Object.entries(built.value)) {
      const role = reveal(built.run.get(`${name}-role`).inputs) as { name: string; login: boolean; password: string; connectionLimit: number };
      const database = reveal(built.run.get(`${name}-db`).inputs) as { name: string; owner: string };
      const grants = built.run.resources.filter((r) => r.type === "postgresql:index/grant:Grant" && r.parentName === name);
      expect(role.login, name).toBe(true);
      expect(Number.isInteger(role.connectionLimit), name).toBe(true);
      expect(grants.length, name).toBeGreaterThan(0);

      // --- Stand-in for the provider: the statements it issues for Role, Database, Grant.
      const created = await admin(
        "postgres",
        ["-v", `role=${role.name}`, "-v", `password=${role.password}`, "-v", `limit=${role.connectionLimit}`, "-v", `db=${database.name}`, "-v", `owner=${database.owner}`],
        [`CREATE ROLE :"role" LOGIN PASSWORD :'password' CONNECTION LIMIT :limit;`, `CREATE DATABASE :"db" OWNER :"owner";`, ""].join("\n"),
      );
      expect(created.code, created.stderr).toBe(0);
      for (const g of grants) {
        const grant = reveal(g.inputs) as { database: string; role: string; schema: string; objectType: string; privileges: string[] };
        expect(grant.objectType).toBe("schema");
        for (const p of grant.privileges) expect(p).toMatch(/^[A-Z]+$/);
        const granted = await admin(
          grant.database,
          ["-v", `schema=${grant.schema}`, "-v", `role=${grant.role}`],
          `GRANT ${grant.privileges.join(", ")} ON SCHEMA :"schema" TO :"role";\n`,
        );
        expect(granted.code, granted.stderr).toBe(0);
      }

      applied.set(name, { role: role.name, password: role.password, database: database.name, url: await plain(db.url) });
    }
  });

  afterAll(async () => {
    await fleet?.teardown();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it.each(["shop", "ledger"])("%s: the role logs in with the password percent-decoded from the component's url", async (name) => {
    const db = applied.get(name)!;
    const url = new URL(db.url);
    expect(url.protocol).toBe("postgresql:");
    expect(url.hostname).toBe("portia.incus");
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const database = decodeURIComponent(url.pathname.slice(1));
    expect({ user, password, database }).toEqual({ user: db.role, password: db.password, database: db.database });
    if (name === "shop") expect(password).toBe(SPECIAL_PASSWORD);
    else expect(password).toBe(`MockPw-${name}-password-Zq9`); // what the mocked RandomPassword gave

    const ok = await psql(user, password, database, ["-c", "select current_user, current_database(), inet_server_addr()"]);
    expect(ok, ok.stderr).toMatchObject({ code: 0, stdout: `${db.role}|${db.database}|${ADDRESSES.portia}\n` });

    // The URL as-is, percent-decoded by libpq itself, from inside portia (where portia.incus resolves).
    const libpq = await fleet.exec("portia", ["psql", "-X", "-w", "-tA", db.url, "-c", "select current_user"], { env: { PGCONNECT_TIMEOUT: "5" } });
    expect(libpq, libpq.stderr).toMatchObject({ code: 0, stdout: `${db.role}\n` });

    // The still-encoded text, or any other password, is refused.
    if (url.password !== password) {
      const raw = await psql(user, url.password, database, ["-c", "select 1"]);
      expect(raw.code).not.toBe(0);
      expect(raw.stderr).toContain(`password authentication failed for user "${db.role}"`);
    }
    const wrong = await psql(user, `${password}x`, database, ["-c", "select 1"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`password authentication failed for user "${db.role}"`);
  });

  it.each(["shop", "ledger"])("%s: the role owns its database", async (name) => {
    const db = applied.get(name)!;
    const owner = await admin("postgres", ["-v", `db=${db.database}`], "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db';\n");
    expect(owner, owner.stderr).toMatchObject({ code: 0, stdout: `${db.role}\n` });
    // \l says the same.
    const list = await admin("postgres", ["-l"]);
    expect(list.stdout.split("\n").map((l) => l.split("|").slice(0, 2).join("|"))).toContain(`${db.database}|${db.role}`);
  });

  it.each(["shop", "ledger"])("%s: the role can create tables in public", async (name) => {
    const db = applied.get(name)!;
    const password = decodeURIComponent(new URL(db.url).password);
    const r = await psql(db.role, password, db.database, [], "CREATE TABLE t(id int);\nINSERT INTO t VALUES (1);\nSELECT schemaname, tableowner, (SELECT count(*) FROM t) FROM pg_tables WHERE tablename = 't';\n");
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: `CREATE TABLE\nINSERT 0 1\npublic|${db.role}|1\n` });
    const priv = await admin(db.database, ["-v", `role=${db.role}`], "SELECT has_schema_privilege(:'role', 'public', 'CREATE'), has_schema_privilege(:'role', 'public', 'USAGE');\n");
    expect(priv.stdout).toBe("t|t\n");
  });
});
