/**
 * Read the stack's Pulumi config, validate all of it in one pass, and only then
 * build hosts and providers. Every bad key is reported with its rule; nothing is
 * registered when anything is wrong.
 */
import * as minio from "@pulumi/minio";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { hostFromSpec, type Host } from "../remote/host";
import { ConfigError, type Problem, problemsFromZod } from "../validation/errors";
import { hostNameKey, hostSchema, type NamedHostSpec } from "./hosts";
import { minioServerSchema, type MinioServerSpec, postgresServerSchema, type PostgresServerSpec } from "./servers";

/** Reads raw config values; injectable so the loader is testable without a Pulumi runtime. */
export interface ConfigSource {
  /** The raw string value of `namespace:key`, or undefined. */
  get(key: string): string | undefined;
  /** Whether the key was stored as a secret. */
  isSecret(key: string): boolean;
  /** The value as a secret Output (the loader never reads secret plaintext itself). */
  secret(key: string): pulumi.Output<string>;
}

export function pulumiConfigSource(namespace = "fleet"): ConfigSource {
  const cfg = new pulumi.Config(namespace);
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  return {
    get: (key) => pulumi.runtime.getConfig(`${namespace}:${key}`),
    isSecret: (key) => runtime.isConfigSecret?.(`${namespace}:${key}`) ?? false,
    secret: (key) => cfg.requireSecret(key),
  };
}

export interface LoadedConfig<App> {
  readonly hosts: Readonly<Record<string, NamedHostSpec>>;
  readonly postgres: Readonly<Record<string, PostgresServerSpec>>;
  readonly minio: Readonly<Record<string, MinioServerSpec>>;
  readonly app: App;
}

export interface LoadOptions<S extends z.ZodType> {
  /** Config namespace. @default "fleet" */
  readonly namespace?: string;
  /** Key of the app settings object, e.g. "ouranos". */
  readonly appKey: string;
  readonly appSchema: S;
  /** Secret keys the stack needs besides those named by hosts and servers. */
  readonly requiredSecrets?: readonly string[];
  /** Secret keys that may be absent (the stack generates a value instead). */
  readonly optionalSecrets?: readonly string[];
  /** Cross-section rules (a role naming a host that exists…), run when every section parsed. */
  readonly check?: (config: LoadedConfig<z.output<S>>) => Problem[];
}

function parseJsonKey(source: ConfigSource, key: string, problems: Problem[], ns: string): unknown {
  const raw = source.get(key);
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    problems.push({ path: `${ns}:${key}`, message: "must be a YAML object in the stack file (could not parse it as an object)" });
    return undefined;
  }
}

function section<S extends z.ZodType>(schema: S, value: unknown, path: string, problems: Problem[]): z.output<S> | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  problems.push(...problemsFromZod(result.error).map((p) => ({ path: p.path ? `${path}/${p.path}` : path, message: p.message })));
  return undefined;
}

/**
 * Validate the whole stack config. Throws one ConfigError listing every problem.
 * Pure apart from reading config: registers no resources.
 */
export function loadConfig<S extends z.ZodType>(source: ConfigSource, options: LoadOptions<S>): LoadedConfig<z.output<S>> {
  const ns = options.namespace ?? "fleet";
  const problems: Problem[] = [];

  const hostsRaw = parseJsonKey(source, "hosts", problems, ns);
  const hosts: Record<string, NamedHostSpec> = {};
  if (hostsRaw === undefined) {
    problems.push({ path: `${ns}:hosts`, message: "is required: a map of host name to { address, hostKey, ... }" });
  } else if (typeof hostsRaw !== "object" || hostsRaw === null || Array.isArray(hostsRaw)) {
    problems.push({ path: `${ns}:hosts`, message: "must be a map of host name to settings" });
  } else {
    for (const [name, value] of Object.entries(hostsRaw)) {
      if (!hostNameKey.safeParse(name).success) {
        problems.push({ path: `${ns}:hosts/${name}`, message: "host names must be lowercase letters, digits and '-' (e.g. puck)" });
        continue;
      }
      const spec = section(hostSchema, value, `${ns}:hosts/${name}`, problems);
      if (spec) hosts[name] = { ...spec, name };
    }
  }

  const pgRaw = parseJsonKey(source, "postgres", problems, ns) ?? {};
  const postgres = section(z.record(hostNameKey, postgresServerSchema), pgRaw, `${ns}:postgres`, problems) ?? {};
  const minioRaw = parseJsonKey(source, "minio", problems, ns) ?? {};
  const minioServers = section(z.record(hostNameKey, minioServerSchema), minioRaw, `${ns}:minio`, problems) ?? {};
  const appRaw = parseJsonKey(source, options.appKey, problems, ns);
  const app = section(options.appSchema, appRaw ?? {}, `${ns}:${options.appKey}`, problems);

  // Cross-section rules need every section parsed, but not the secrets.
  if (problems.length === 0 && app !== undefined && options.check) {
    problems.push(...options.check({ hosts, postgres, minio: minioServers, app }));
  }

  // Secrets: present, and stored encrypted.
  const needed = new Map<string, string>();
  const keyHosts = new Map<string, string[]>();
  for (const h of Object.values(hosts)) keyHosts.set(h.privateKeyConfig, [...(keyHosts.get(h.privateKeyConfig) ?? []), h.name]);
  for (const [key, names] of keyHosts) {
    needed.set(key, `the SSH private key for host${names.length > 1 ? "s" : ""} ${names.map((n) => `"${n}"`).join(", ")}`);
  }
  for (const [n, s] of Object.entries(postgres)) needed.set(s.adminPasswordConfig, `the admin password of PostgreSQL server "${n}"`);
  for (const [n, s] of Object.entries(minioServers)) {
    needed.set(s.rootUserConfig, `the admin user of MinIO server "${n}"`);
    needed.set(s.rootPasswordConfig, `the admin password of MinIO server "${n}"`);
  }
  for (const k of options.requiredSecrets ?? []) if (!needed.has(k)) needed.set(k, "a secret this stack needs");
  for (const [key, what] of [...needed].sort(([a], [b]) => a.localeCompare(b))) {
    const raw = source.get(key);
    if (raw === undefined) {
      problems.push({ path: `${ns}:${key}`, message: `is required (${what}): pulumi config set --secret ${ns}:${key} <value>` });
    } else if (!source.isSecret(key)) {
      problems.push({ path: `${ns}:${key}`, message: `must be stored as a secret (${what}): pulumi config set --secret ${ns}:${key} <value>` });
    }
  }
  for (const key of options.optionalSecrets ?? []) {
    if (source.get(key) !== undefined && !source.isSecret(key)) {
      problems.push({ path: `${ns}:${key}`, message: `must be stored as a secret: pulumi config set --secret ${ns}:${key} <value>` });
    }
  }

  if (problems.length > 0 || app === undefined) throw new ConfigError(`stack config`, problems);
  return { hosts, postgres, minio: minioServers, app };
}

/** Hosts with their SSH connections (private keys read as secrets). */
export function buildHosts(source: ConfigSource, hosts: Readonly<Record<string, NamedHostSpec>>): Record<string, Host> {
  const out: Record<string, Host> = {};
  for (const [name, spec] of Object.entries(hosts)) out[name] = hostFromSpec(spec, source.secret(spec.privateKeyConfig));
  return out;
}

export interface PostgresServer {
  readonly name: string;
  readonly spec: PostgresServerSpec;
  readonly provider: postgresql.Provider;
}

/** One explicit `postgresql.Provider` per server (no ambient provider config). */
export function buildPostgresServers(
  source: ConfigSource,
  servers: Readonly<Record<string, PostgresServerSpec>>,
  opts: pulumi.CustomResourceOptions = {},
): Record<string, PostgresServer> {
  const out: Record<string, PostgresServer> = {};
  for (const [name, spec] of Object.entries(servers)) {
    const provider = new postgresql.Provider(
      `postgres-${name}`,
      {
        host: spec.host,
        port: spec.port,
        username: spec.adminUser,
        password: source.secret(spec.adminPasswordConfig),
        sslmode: spec.sslmode,
        superuser: spec.superuser,
        database: spec.database,
        connectTimeout: 15,
      },
      opts,
    );
    out[name] = { name, spec, provider };
  }
  return out;
}

export interface MinioServer {
  readonly name: string;
  readonly spec: MinioServerSpec;
  readonly provider: minio.Provider;
}

export function buildMinioServers(
  source: ConfigSource,
  servers: Readonly<Record<string, MinioServerSpec>>,
  opts: pulumi.CustomResourceOptions = {},
): Record<string, MinioServer> {
  const out: Record<string, MinioServer> = {};
  for (const [name, spec] of Object.entries(servers)) {
    const provider = new minio.Provider(
      `minio-${name}`,
      {
        minioServer: spec.endpoint,
        minioUser: source.secret(spec.rootUserConfig),
        minioPassword: source.secret(spec.rootPasswordConfig),
        minioSsl: spec.ssl,
        minioInsecure: spec.insecure,
        minioRegion: spec.region,
      },
      opts,
    );
    out[name] = { name, spec, provider };
  }
  return out;
}
