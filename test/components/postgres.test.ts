import * as postgresql from "@pulumi/postgresql";
import { describe, expect, it } from "vitest";
import { PostgresDatabase } from "../../src/components/postgres";
import { credentialUrl } from "../../src/urls";
import { leaves, runProgram, unwrap } from "../helpers/pulumi";
import { refused } from "../helpers/inputs";

function provider() {
  return new postgresql.Provider("portia", { host: "portia.incus", username: "postgres", password: "admin-secret" });
}

describe("credentialUrl", () => {
  it("percent-encodes every URL-special character of the password, and a space", () => {
    const pw = "p@ss:w/rd#%+?&= x";
    const url = credentialUrl({ scheme: "postgresql+asyncpg", user: "daedalus", password: pw, host: "portia.incus", port: 5432, path: "daedalus" });
    expect(url).toBe("postgresql+asyncpg://daedalus:p%40ss%3Aw%2Frd%23%25%2B%3F%26%3D%20x@portia.incus:5432/daedalus");
    const parsed = new URL(url.replace("postgresql+asyncpg", "postgresql"));
    expect(decodeURIComponent(parsed.password)).toBe(pw);
    expect(parsed.hostname).toBe("portia.incus");
  });
});

describe("PostgresDatabase", () => {
  it("creates a generated password, a login role, a database owned by it and schema grants, protected", async () => {
    let db: PostgresDatabase | undefined;
    const run = await runProgram(() => {
      db = new PostgresDatabase("daedalus", { provider: provider(), database: "daedalus", url: { scheme: "postgresql+asyncpg", host: "portia.incus" } });
    });
    expect(run.names()).toEqual(["portia", "daedalus", "daedalus-password", "daedalus-role", "daedalus-db", "daedalus-grant-public"]);
    const role = run.get("daedalus-role");
    expect(role.inputs).toMatchObject({ name: "daedalus", login: true });
    expect(role.opts.protect).toBe(true);
    expect(run.get("daedalus-db").inputs).toMatchObject({ name: "daedalus", owner: "daedalus" });
    expect(run.get("daedalus-db").opts.protect).toBe(true);
    expect(run.get("daedalus-password").inputs).toMatchObject({ length: 32, special: false });
    expect(run.get("daedalus-password").opts.protect).toBe(true);
    expect(run.get("daedalus-grant-public").inputs).toMatchObject({
      database: "daedalus",
      role: "daedalus",
      schema: "public",
      objectType: "schema",
      privileges: ["CREATE", "USAGE"],
    });
    // Every postgresql resource uses the explicit provider.
    for (const r of run.resources.filter((x) => x.type.startsWith("postgresql:") && x.type !== "pulumi:providers:postgresql")) {
      expect(r.opts.provider, r.name).toBeDefined();
    }
    // The role's password input is secret.
    const pw = (await leaves(role.props)).find((l) => l.path === "password");
    expect(pw?.secret).toBe(true);
    expect(await import("@pulumi/pulumi").then((p) => p.isSecret(db!.url))).toBe(true);
  });

  it("uses a given password and encodes it into the URL", async () => {
    let db: PostgresDatabase | undefined;
    const pw = "p@ss:w/rd#%+?&= x";
    const run = await runProgram(() => {
      db = new PostgresDatabase("mnemosyne", { provider: provider(), database: "mnemosyne", password: pw, url: { host: "portia.incus", port: 5433 } });
    });
    expect(run.find("mnemosyne-password")).toBeUndefined();
    expect(await unwrap(db!.url)).toBe(`postgresql://mnemosyne:${encodeURIComponent(pw)}@portia.incus:5433/mnemosyne`);
  });

  it.each([
    [{ database: "Daedalus" }, "database: must be a lowercase PostgreSQL identifier"],
    [{ database: "x'; drop table users; --" }, "database: must be a lowercase PostgreSQL identifier"],
    [{ database: "a".repeat(64) }, "database: must be at most 63 bytes (PostgreSQL NAMEDATALEN); shorten it"],
    [{ database: "ok", role: "$(id)" }, "role: must be a lowercase PostgreSQL identifier"],
    [{ database: "ok", url: { host: "portia.incus;id" } }, "url/host: must be a DNS name"],
    [{ database: "ok", url: { host: "portia", scheme: "mysql" } }, "url/scheme: must be postgresql, postgres or postgresql+<driver>"],
    [{ database: "ok", passwordLength: 8 }, "passwordLength: must be at least 16"],
    [{ database: "ok", schemas: ["public\n"] }, "schemas/0: must be a lowercase PostgreSQL identifier"],
  ])("refuses %j before registering anything", async (input, message) => {
    const r = await refused(() => new PostgresDatabase("bad", { provider: undefined as unknown as postgresql.Provider, url: { host: "portia.incus" }, ...(input) }));
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain(`PostgresDatabase "bad": ${message}`);
  });
});
