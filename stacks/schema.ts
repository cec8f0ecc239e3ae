/**
 * JSON Schema of each stack file (`Pulumi.<stack>.yaml`), generated from the zod schemas
 * the program itself validates config with (`z.toJSONSchema`), so an editor completes and
 * flags the same keys `pulumi preview` does. `npm run schema` writes them to
 * `schemas/<stack>.schema.json`; `test/stacks/schema.test.ts` fails when one is stale.
 *
 * The schema holds the shape of every key (types, patterns, enums, unknown keys); the
 * rules that span keys (a role naming a host that exists, unique ports, …) and the secret
 * values themselves are checked by the program at load, before any resource.
 */
import { z } from "zod";
import { hostNameKey, hostSchema } from "../src/config/hosts";
import { environmentSchema, LOADER_KEYS } from "../src/config/loader";
import { minioServerSchema, postgresServerSchema } from "../src/config/servers";
import { daarionSchema } from "./daarion/config";
import { menagerieSchema } from "./menagerie/config";
import { ouranosSchema } from "./ouranos/config";
import { type SecretVariable, STACKS } from "./registry";

/** Pulumi's config namespace of this project (`name` in Pulumi.yaml). */
export const NAMESPACE = "fleet";

/** The key of each stack's own settings and the zod schema that validates them. */
export const STACK_CONFIG_SCHEMAS: Readonly<Record<string, { readonly key: string; readonly schema: z.ZodType }>> = {
  daarion: { key: "daarion", schema: daarionSchema },
  menagerie: { key: "menagerie", schema: menagerieSchema },
  ouranos: { key: "ouranos", schema: ouranosSchema },
};

/** Where the schema of `stack` is checked in, relative to the repository root. */
export function schemaPath(stack: string): string {
  return `schemas/${stack}.schema.json`;
}

/** The comment line that points editors (yaml-language-server) at the schema. */
export function schemaModeline(stack: string): string {
  return `# yaml-language-server: $schema=./${schemaPath(stack)}`;
}

type JsonSchema = Record<string, unknown>;

function toJson(schema: z.ZodType): JsonSchema {
  // Input side: what a person writes (defaults optional). draft-07, which editors' YAML
  // servers and ajv both read. Transforms have no JSON form and accept anything here;
  // the program checks them.
  const out = z.toJSONSchema(schema, { io: "input", target: "draft-7", unrepresentable: "any" }) as JsonSchema;
  delete out.$schema;
  return out;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The apps' secret variables, one per line, for the stack key's description ("" when none). */
function secretVariablesText(ns: string, vars: readonly SecretVariable[]): string {
  if (vars.length === 0) return "";
  const lines = [...vars]
    .sort((a, b) => a.app.localeCompare(b.app) || a.variable.localeCompare(b.variable))
    .map((v) => `- ${v.app}: ${v.variable} <- ${v.key !== undefined ? `${ns}:${v.key}` : v.generated ?? "generated"}`);
  return `\nSecret variables the apps read (each set by the stack from a secret config key, or generated; none falls back to a default in the app):\n${lines.join("\n")}`;
}

/** The JSON Schema of `Pulumi.<stack>.yaml`, deterministic (the same text on every run). */
export function stackFileSchema(stack: string): JsonSchema {
  const own = Object.hasOwn(STACK_CONFIG_SCHEMAS, stack) ? STACK_CONFIG_SCHEMAS[stack] : undefined;
  const def = Object.hasOwn(STACKS, stack) ? STACKS[stack] : undefined;
  if (!own || !def) throw new Error(`unknown stack "${stack}"; known stacks: ${Object.keys(STACK_CONFIG_SCHEMAS).sort().join(", ")}`);
  const { key, schema } = own;
  const { requiredSecrets, optionalSecrets, secretVariables } = def;
  const ns = NAMESPACE;
  const secret: JsonSchema = {
    description: `A secret: set it with \`pulumi config set --secret ${ns}:<key> <value>\` (the file holds only the ciphertext).`,
    type: "object",
    properties: { secure: { type: "string", minLength: 1 } },
    required: ["secure"],
    additionalProperties: false,
  };
  const plainKeys = [...LOADER_KEYS, key];
  const secretKeys = [...new Set(["sshPrivateKey", ...requiredSecrets, ...optionalSecrets])].sort();
  const properties: Record<string, JsonSchema> = {
    [`${ns}:environment`]: {
      ...toJson(environmentSchema),
      description: '"production" (the default) or "test": a throwaway stack that may set insecureSkipHostKey.',
    },
    [`${ns}:hosts`]: {
      description: "Hosts by name: how to reach each one over SSH (address, pinned hostKey, port, user, …).",
      type: "object",
      propertyNames: toJson(hostNameKey),
      additionalProperties: toJson(hostSchema),
    },
    [`${ns}:postgres`]: {
      description: "PostgreSQL servers by name (admin connection; the password is a secret).",
      type: "object",
      propertyNames: toJson(hostNameKey),
      additionalProperties: toJson(postgresServerSchema),
    },
    [`${ns}:minio`]: {
      description: "MinIO servers by name (endpoint; root user and password are secrets).",
      type: "object",
      propertyNames: toJson(hostNameKey),
      additionalProperties: toJson(minioServerSchema),
    },
    [`${ns}:${key}`]: { ...toJson(schema), description: `The settings of stack ${stack}.${secretVariablesText(ns, secretVariables)}` },
  };
  for (const k of secretKeys) {
    const required = requiredSecrets.includes(k) || k === "sshPrivateKey";
    const readBy = secretVariables.filter((v) => v.key === k).map((v) => `${v.app} as ${v.variable}`);
    properties[`${ns}:${k}`] = {
      ...secret,
      description: `${required ? "Required" : "Optional (generated and kept when absent)"} secret: pulumi config set --secret ${ns}:${k} …${readBy.length ? ` Read by ${readBy.join(", ")}.` : ""}`,
    };
  }
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: `Pulumi.${stack}.yaml`,
    description: `Stack ${stack} of project ${ns}. Generated from the program's zod schemas by \`npm run schema\` (stacks/schema.ts); do not edit.`,
    type: "object",
    properties: {
      config: {
        type: "object",
        properties: properties,
        // Other secrets a host or server names (privateKeyConfig, adminPasswordConfig, …):
        // any other key of the namespace must be stored as a secret. (Disjoint from the
        // keys above, which JSON Schema would otherwise check against both.)
        patternProperties: {
          [`^${escapeRegex(ns)}:(?!(${[...plainKeys, ...secretKeys].map(escapeRegex).join("|")})$)[a-zA-Z][a-zA-Z0-9_-]*$`]: secret,
        },
        // Keys of other namespaces (a provider's settings, pulumi:…) are not ours to judge;
        // a malformed key of ours is.
        propertyNames: { not: { pattern: `^${escapeRegex(ns)}:(?![a-zA-Z][a-zA-Z0-9_-]*$)` } },
      },
      secretsprovider: { type: "string" },
      encryptedkey: { type: "string" },
      encryptionsalt: { type: "string" },
      environment: {},
    },
    required: ["config"],
  };
}
