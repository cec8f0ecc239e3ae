/**
 * Arguments of PostgresDatabase. Plain data + zod.
 */
import type * as postgresql from "@pulumi/postgresql";
import type * as random from "@pulumi/random";
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { type Transform } from "../../transform";
import { hostname, pgIdentifier, port } from "../../validation/primitives";

export const postgresDatabaseSchema = z.strictObject({
  /**
   * Database name. Changing it replaces the database (it is protected, so the
   * change stops at `pulumi up` until protection is lifted).
   * @example "daedalus"
   */
  database: pgIdentifier,
  /** Login role that owns the database. @default the database name */
  role: pgIdentifier.optional(),
  /** Schemas the role gets USAGE and CREATE on (PostgreSQL 15 no longer grants CREATE on public to PUBLIC). @default ["public"] */
  schemas: z.array(pgIdentifier).max(32).default(["public"]),
  /** Maximum connections for the role; -1 is unlimited. @default -1 */
  connectionLimit: z.number().int().min(-1).max(10000).default(-1),
  /** Length of the generated password. Ignored when `password` is given. @default 32 */
  passwordLength: z.number().int().min(16, { error: "must be at least 16" }).max(128).default(32),
  /** How applications reach the server (may differ from the provider's address). */
  url: z
    .strictObject({
      /** URL scheme, e.g. `postgresql+asyncpg` for SQLAlchemy's asyncpg driver. @default "postgresql" */
      scheme: z
        .string()
        .regex(/^postgres(ql)?(\+[a-z0-9]+)?$/, { error: "must be postgresql, postgres or postgresql+<driver>" })
        .default("postgresql"),
      host: hostname,
      port: port.default(5432),
    }),
  /** Protect the role and database from deletion. @default true */
  protect: z.boolean().default(true),
});

export type PostgresDatabaseSpecInput = z.input<typeof postgresDatabaseSchema>;
export type PostgresDatabaseSpec = z.output<typeof postgresDatabaseSchema>;

export interface PostgresDatabaseArgs extends PostgresDatabaseSpecInput {
  /** The explicit provider for the server (see `buildPostgresServers`). */
  provider: postgresql.Provider;
  /** Use this password instead of generating one (a secret). */
  password?: pulumi.Input<string>;
  transform?: {
    password?: Transform<random.RandomPasswordArgs>;
    role?: Transform<postgresql.RoleArgs>;
    database?: Transform<postgresql.DatabaseArgs>;
    grant?: Transform<postgresql.GrantArgs>;
  };
}

