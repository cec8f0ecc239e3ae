/**
 * Database and object-store servers a stack talks to through Pulumi providers.
 * Plain data + zod; admin credentials are named by config key, never inlined.
 */
import { z } from "zod";
import { hostname, pgIdentifier, port } from "../validation/primitives";
import { configKeyName } from "./hosts";

export const postgresServerSchema = z.strictObject({
  /** Address clients and the provider use, e.g. `portia.incus`. */
  host: hostname,
  /** @default 5432 */
  port: port.default(5432),
  /** Admin role the provider connects as. @default "postgres" */
  adminUser: pgIdentifier.default("postgres"),
  /** Secret config key holding the admin password. @default "postgresAdminPassword" */
  adminPasswordConfig: configKeyName.default("postgresAdminPassword"),
  /** libpq sslmode for the provider. @default "prefer" */
  sslmode: z.enum(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]).default("prefer"),
  /** The admin is a superuser (false on managed services). @default true */
  superuser: z.boolean().default(true),
  /** Maintenance database the provider connects to. @default "postgres" */
  database: pgIdentifier.default("postgres"),
});
export type PostgresServerSpec = z.output<typeof postgresServerSchema>;

export const minioServerSchema = z.strictObject({
  /** API endpoint as host:port, e.g. `nyx.helu.ca:8555`. */
  endpoint: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, { error: "must be HOST:PORT such as nyx.helu.ca:8555" }),
  /** Use TLS. @default true */
  ssl: z.boolean().default(true),
  /** Skip TLS verification (self-signed certificate). @default false */
  insecure: z.boolean().default(false),
  /** @default "us-east-1" */
  region: z.string().regex(/^[a-z0-9-]{1,32}$/, { error: "must be a region name such as us-east-1" }).default("us-east-1"),
  /** Secret config key holding the root/admin user. @default "minioRootUser" */
  rootUserConfig: configKeyName.default("minioRootUser"),
  /** Secret config key holding the root/admin password. @default "minioRootPassword" */
  rootPasswordConfig: configKeyName.default("minioRootPassword"),
});
export type MinioServerSpec = z.output<typeof minioServerSchema>;

/** The URL applications use to reach a MinIO server. */
export function minioUrl(spec: MinioServerSpec): string {
  return `${spec.ssl ? "https" : "http"}://${spec.endpoint}`;
}
