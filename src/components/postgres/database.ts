import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { childName } from "../../naming";
import { transform } from "../../transform";
import { parseOrThrow } from "../../validation/errors";
import { credentialUrl } from "../../urls";
import { type PostgresDatabaseArgs, postgresDatabaseSchema } from "./args";

/**
 * A PostgreSQL login role and a database it owns, with USAGE and CREATE on its
 * schemas (PostgreSQL 15 semantics), a generated password unless one is given, and
 * a percent-encoded connection URL as a secret output. Role and database are
 * protected: deleting them takes an explicit unprotect.
 *
 * #### An app database with an asyncpg URL
 * ```ts
 * const db = new PostgresDatabase("daedalus", {
 *   provider: portia.provider,
 *   database: "daedalus",
 *   url: { scheme: "postgresql+asyncpg", host: "portia.incus" },
 * });
 * export const url = db.url; // secret
 * ```
 *
 * #### Bring your own password
 * ```ts
 * new PostgresDatabase("legacy", { provider, database: "legacy", password: cfg.requireSecret("legacyDbPassword"), url: { host: "db" } });
 * ```
 */
export class PostgresDatabase extends pulumi.ComponentResource {
  /** Role name. */
  public readonly role: pulumi.Output<string>;
  /** Database name. */
  public readonly database: pulumi.Output<string>;
  /** The role's password (secret). */
  public readonly password: pulumi.Output<string>;
  /** Connection URL, user and password percent-encoded (secret). */
  public readonly url: pulumi.Output<string>;
  public readonly host: string;
  public readonly port: number;
  public readonly nodes: {
    readonly password?: random.RandomPassword;
    readonly role: postgresql.Role;
    readonly database: postgresql.Database;
    readonly grants: readonly postgresql.Grant[];
  };

  constructor(name: string, args: PostgresDatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    const { provider, password: givenPassword, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`PostgresDatabase "${name}"`, postgresDatabaseSchema, rest);
    super(PostgresDatabase.__pulumiType, name, {}, opts);
    const parent = this;
    const roleName = spec.role ?? spec.database;
    const childOpts: pulumi.CustomResourceOptions = { parent, provider, protect: spec.protect };

    const generated = givenPassword === undefined ? createPassword() : undefined;
    const password = pulumi.secret(givenPassword ?? generated!.result);
    const role = createRole();
    const database = createDatabase();
    const grants = spec.schemas.map(createGrant);

    this.role = role.name;
    this.database = database.name;
    this.password = password;
    this.host = spec.url.host;
    this.port = spec.url.port;
    this.url = pulumi.secret(
      pulumi
        .all([role.name, password, database.name])
        .apply(([r, p, d]) => credentialUrl({ scheme: spec.url.scheme, user: r, password: p, host: spec.url.host, port: spec.url.port, path: d })),
    );
    this.nodes = { ...(generated ? { password: generated } : {}), role, database, grants };
    this.registerOutputs({ role: this.role, database: this.database, url: this.url });

    function createPassword() {
      return new random.RandomPassword(
        ...transform(
          hooks?.password,
          childName(name, "password"),
          { length: spec.passwordLength, special: false, minLower: 2, minUpper: 2, minNumeric: 2 },
          // A new password would lock the app out: never replace it silently.
          { parent, protect: spec.protect },
        ),
      );
    }

    function createRole() {
      return new postgresql.Role(
        ...transform(
          hooks?.role,
          childName(name, "role"),
          { name: roleName, login: true, password, connectionLimit: spec.connectionLimit },
          { ...childOpts, additionalSecretOutputs: ["password"] },
        ),
      );
    }

    function createDatabase() {
      return new postgresql.Database(
        ...transform(
          hooks?.database,
          childName(name, "db"),
          { name: spec.database, owner: role.name },
          { ...childOpts, dependsOn: [role] },
        ),
      );
    }

    function createGrant(schema: string) {
      return new postgresql.Grant(
        ...transform(
          hooks?.grant,
          childName(name, `grant-${schema}`),
          { database: database.name, role: role.name, schema, objectType: "schema", privileges: ["CREATE", "USAGE"] },
          { parent, provider, dependsOn: [database] },
        ),
      );
    }
  }

  static readonly __pulumiType = "fleet:postgres:Database";
}
