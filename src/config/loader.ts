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
import { CONTROL } from "../validation/primitives";
import { nearest } from "../validation/suggest";
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
  /** Every key set under the namespace, without the `namespace:` prefix (the loader refuses those it does not know). */
  keys(): readonly string[];
}

export function pulumiConfigSource(namespace = "fleet"): ConfigSource {
  const cfg = new pulumi.Config(namespace);
  const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
  return {
    get: (key) => pulumi.runtime.getConfig(`${namespace}:${key}`),
    isSecret: (key) => runtime.isConfigSecret?.(`${namespace}:${key}`) ?? false,
    secret: (key) => cfg.requireSecret(key),
    keys: () =>
      Object.keys(pulumi.runtime.allConfig())
        .filter((k) => k.startsWith(`${namespace}:`))
        .map((k) => k.slice(namespace.length + 1)),
  };
}

/**
 * What the stack is: `production` (the default) or `test`, a throwaway stack that may
 * skip host-key checks (`fleet:environment: test`).
 */
export const environmentSchema = z.enum(["production", "test"], { error: 'must be "production" or "test"' });
export type Environment = z.output<typeof environmentSchema>;

/** Config keys the loader itself reads, besides the app key and the secrets. */
export const LOADER_KEYS = ["environment", "hosts", "minio", "postgres"] as const;

export interface LoadedConfig<App> {
  /** Host settings by name (a map without prototype: a name such as `constructor` is only a name). */
  readonly hosts: Readonly<Record<string, NamedHostSpec>>;
  readonly postgres: Readonly<Record<string, PostgresServerSpec>>;
  readonly minio: Readonly<Record<string, MinioServerSpec>>;
  readonly app: App;
  readonly environment: Environment;
  /** Loud warnings the loader printed (insecure settings a test environment allows). */
  readonly warnings: readonly string[];
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
  /**
   * Rule for the values of `requiredSecrets` and `optionalSecrets` (those the stack
   * writes into files), checked at load so a bad value fails before any resource;
   * messages never include the value. @default none
   */
  readonly secretRule?: z.ZodType<string>;
  /** Where warnings go. @default pulumi.log.warn */
  readonly warn?: (message: string) => void;
}

/** A map without prototype, so a user-supplied key never finds `constructor` or `toString`. */
function nullProtoMap<T>(entries: Iterable<readonly [string, T]> = []): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** An SSH private key as config holds it: text lines (PEM/OpenSSH), no other control characters. */
const privateKeyValue = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(65536, { error: "must be at most 64 KiB" })
  .refine((v) => !CONTROL.test(v.replace(/[\n\r\t]/g, "")), { error: "must be key text without control characters other than line breaks" });

/** A server admin credential (PostgreSQL, MinIO): one line. */
const adminSecretValue = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(1024, { error: "must be at most 1024 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters" });

/** Defaults of the `*Config` fields that name secret keys, by section. */
const DEFAULT_SECRET_KEYS: Readonly<Record<string, readonly string[]>> = {
  hosts: ["sshPrivateKey"],
  postgres: ["postgresAdminPassword"],
  minio: ["minioRootUser", "minioRootPassword"],
};

/** Secret keys a raw section that failed to parse names: every string `*Config` value one level down, plus the defaults. */
function referencedKeys(section: string, raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null) return [];
  const out = [...(DEFAULT_SECRET_KEYS[section] ?? [])];
  for (const entry of Object.values(raw as Record<string, unknown>)) {
    if (typeof entry !== "object" || entry === null) continue;
    for (const [k, v] of Object.entries(entry)) if (k.endsWith("Config") && typeof v === "string") out.push(v);
  }
  return out;
}

/** Host-key checks switched off: refused in production, a loud warning in a test environment. */
function insecureHostKeys(hosts: Readonly<Record<string, NamedHostSpec>>, ns: string, environment: Environment, problems: Problem[], warnings: string[]): void {
  for (const [name, h] of Object.entries(hosts)) {
    const skipped = [...(h.insecureSkipHostKey ? [`${ns}:hosts/${name}`] : []), ...(h.jump?.insecureSkipHostKey ? [`${ns}:hosts/${name}/jump`] : [])];
    for (const where of skipped) {
      if (environment !== "test") {
        problems.push({
          path: `${where}/insecureSkipHostKey`,
          message: `is refused outside a test environment: pin the host key (ssh-keyscan -t ed25519 HOST) instead; only a throwaway test stack may set ${ns}:environment: test to allow it`,
        });
      } else {
        warnings.push(
          `INSECURE: host key checks are OFF for ${where} (insecureSkipHostKey, ${ns}:environment: test): anyone on the network path can impersonate this host and receive every secret sent to it. Never use this stack for real hosts.`,
        );
      }
    }
  }
}

/** Paths (relative to `value`) of every own "__proto__" key in a parsed JSON value. */
function protoKeyPaths(value: unknown, at: readonly string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [];
  const out: string[][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k === "__proto__") out.push([...at, k]);
    out.push(...protoKeyPaths(v, [...at, k]));
  }
  return out;
}

function parseJsonKey(source: ConfigSource, key: string, problems: Problem[], ns: string): unknown {
  const raw = source.get(key);
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as unknown;
    // JSON.parse keeps "__proto__" as an own key, and zod's records drop it without a
    // word: a setting under that name would vanish. Refuse it wherever it appears.
    for (const at of protoKeyPaths(value)) problems.push({ path: `${ns}:${[key, ...at].join("/")}`, message: 'must not be named "__proto__" (a JavaScript prototype name); rename it' });
    return value;
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

  const warnings: string[] = [];
  const envRaw = source.get("environment");
  const envParsed = environmentSchema.safeParse(envRaw ?? "production");
  if (!envParsed.success) problems.push({ path: `${ns}:environment`, message: 'must be "production" or "test"' });
  const environment: Environment = envParsed.success ? envParsed.data : "production";

  const hostsRaw = parseJsonKey(source, "hosts", problems, ns);
  const hosts = nullProtoMap<NamedHostSpec>();
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
  const postgres = nullProtoMap(Object.entries(section(z.record(hostNameKey, postgresServerSchema), pgRaw, `${ns}:postgres`, problems) ?? {}));
  const minioRaw = parseJsonKey(source, "minio", problems, ns) ?? {};
  const minioServers = nullProtoMap(Object.entries(section(z.record(hostNameKey, minioServerSchema), minioRaw, `${ns}:minio`, problems) ?? {}));
  insecureHostKeys(hosts, ns, environment, problems, warnings);
  const appRaw = parseJsonKey(source, options.appKey, problems, ns);
  const app = section(options.appSchema, appRaw ?? {}, `${ns}:${options.appKey}`, problems);

  // Cross-section rules need every section parsed, but not the secrets.
  if (problems.length === 0 && app !== undefined && options.check) {
    problems.push(...options.check({ hosts, postgres, minio: minioServers, app, environment, warnings }));
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
  const serverKeys = new Set<string>();
  for (const s of Object.values(postgres)) serverKeys.add(s.adminPasswordConfig);
  for (const s of Object.values(minioServers)) serverKeys.add(s.rootUserConfig).add(s.rootPasswordConfig);
  for (const [key, what] of [...needed].sort(([a], [b]) => a.localeCompare(b))) {
    const raw = source.get(key);
    // The value's shape, never the value: a private key is multi-line text, an admin credential one line.
    const rule = keyHosts.has(key) ? privateKeyValue : serverKeys.has(key) ? adminSecretValue : undefined;
    const shape = raw === undefined || !rule ? undefined : rule.safeParse(raw);
    if (shape && !shape.success) for (const i of shape.error.issues) problems.push({ path: `${ns}:${key}`, message: `${i.message} (${what})` });
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
  if (options.secretRule) {
    for (const key of [...new Set([...(options.requiredSecrets ?? []), ...(options.optionalSecrets ?? [])])].sort()) {
      const raw = source.get(key);
      if (raw === undefined) continue;
      const r = options.secretRule.safeParse(raw);
      // Only the rule: the value itself must never reach an error message.
      if (!r.success) for (const i of r.error.issues) problems.push({ path: `${ns}:${key}`, message: i.message });
    }
  }

  // Every key under the namespace must be one the stack reads: a typo such as
  // cfServerSecrett would otherwise be ignored and a new secret generated in its place.
  // A section that did not parse still names its secrets (defaults, or its raw *Config values).
  const failed = (section: string) => problems.some((p) => p.path === `${ns}:${section}` || p.path.startsWith(`${ns}:${section}/`));
  const named = ([["hosts", hostsRaw], ["postgres", pgRaw], ["minio", minioRaw]] as const).flatMap(([section, raw]) => (failed(section) ? referencedKeys(section, raw) : []));
  const known = new Set<string>([...LOADER_KEYS, options.appKey, ...needed.keys(), ...(options.optionalSecrets ?? []), ...named]);
  for (const key of [...source.keys()].sort()) {
    if (known.has(key)) continue;
    const guess = nearest(key, known);
    problems.push({
      path: `${ns}:${key}`,
      message: guess
        ? `is not a setting of this stack; did you mean ${ns}:${guess}? (pulumi config rm ${ns}:${key})`
        : `is not a setting of this stack (known: ${[...known].sort().map((k) => `${ns}:${k}`).join(", ")}); remove it: pulumi config rm ${ns}:${key}`,
    });
  }

  if (problems.length > 0 || app === undefined) throw new ConfigError(`stack config`, problems);
  for (const w of warnings) (options.warn ?? ((m: string) => void pulumi.log.warn(m)))(w);
  return { hosts, postgres, minio: minioServers, app, environment, warnings };
}

/** Hosts with their SSH connections (private keys read as secrets). */
export function buildHosts(source: ConfigSource, hosts: Readonly<Record<string, NamedHostSpec>>): Record<string, Host> {
  const out = nullProtoMap<Host>();
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
  const out = nullProtoMap<PostgresServer>();
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
  const out = nullProtoMap<MinioServer>();
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
