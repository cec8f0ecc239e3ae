/**
 * The adversarial pass of issue 9, table-driven: every class of hostile input in
 * ./adversarial-cases.ts (shell payloads, config-file injection, '..' paths, prototype
 * names, C0/C1 controls and line separators, out-of-range ports, leading dashes, empty
 * and very long values) replaces every leaf of every stack's config (the app settings
 * with defaults filled in, hosts, servers and secrets). Each case must be refused at
 * config load with a message naming that key, and the stack must register nothing;
 * the few cases that are legitimate values are listed in ACCEPTED with the reason, and
 * are checked to load (so the list cannot rot). The same classes go through every
 * component's own schema (./adversarial-components.ts), which each component parses
 * before it registers anything.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { type ConfigSource, type LoadedConfig } from "../../src/config/loader";
import { runProgram } from "../../src/testing/mocks";
import { ConfigError } from "../../src/validation/errors";
import { Daarion, loadDaarion } from "../../stacks/daarion";
import { loadMenagerie, Menagerie } from "../../stacks/menagerie";
import { loadOuranos, Ouranos } from "../../stacks/ouranos";
import { daarionConfig, daarionSettings } from "../stacks/daarion-config";
import { FALCON, menagerieConfig, PEREGRINE } from "../stacks/menagerie-config";
import { ouranosConfig } from "../stacks/ouranos-config";
import { CLASSES, hostileFor, leavesOf, withLeaf } from "./adversarial-cases";
import { COMPONENTS } from "./adversarial-components";

/** A ConfigSource over a test config map ("fleet:key" → value). */
function source(config: Record<string, unknown>, secretKeys: readonly string[]): ConfigSource {
  const get = (k: string) => {
    const v = config[`fleet:${k}`];
    return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
  };
  return {
    get,
    isSecret: (k) => secretKeys.includes(`fleet:${k}`),
    secret: (k) => pulumi.secret(get(k) ?? ""),
    keys: () => Object.keys(config).map((k) => k.slice("fleet:".length)),
  };
}

interface StackCase {
  readonly name: string;
  readonly load: (source: ConfigSource) => LoadedConfig<unknown>;
  readonly build: (source: ConfigSource) => void;
  readonly base: () => { config: Record<string, unknown>; secretKeys: string[] };
}

const STACKS: readonly StackCase[] = [
  {
    name: "ouranos",
    load: loadOuranos,
    build: (s) => void new Ouranos("ouranos", { source: s }),
    base: () => ouranosConfig({ "fleet:ouranos": { daedalus: { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" }, settings: { DAEDALUS_X: "1" } } } }),
  },
  {
    name: "menagerie",
    load: loadMenagerie,
    build: (s) => void new Menagerie("menagerie", { source: s }),
    base: () => menagerieConfig({ apps: [PEREGRINE, { ...FALCON, env: { A: "1" } }], caddy: { email: "ops@example.com", imports: ["/etc/caddy/legacy/*.caddy"] } }),
  },
  {
    name: "daarion",
    load: loadDaarion,
    build: (s) => void new Daarion("daarion", { source: s }),
    base: () => daarionConfig(daarionSettings({ nodes: [{ name: "noda1", role: "production", domain: "gateway.daarion.city", ports: { "city-service": 7001 } }] })),
  },
];

const FREE_TEXT = ["shell payload", "'..' path", "leading dash"];

/** Legitimate values: the field is free text that lands quoted (dotenv single quotes, a secret on stdin), or a name. */
const ACCEPTED: readonly { field: RegExp; classes: readonly string[]; why: string }[] = [
  { field: /^fleet:ouranos\/(daedalus|mnemosyne)\/settings\//, classes: [...FREE_TEXT, "empty string"], why: "dotenv values, written single-quoted" },
  { field: /^fleet:ouranos\/casdoor\/displayName$/, classes: [...FREE_TEXT, "empty string"], why: "display text, written single-quoted" },
  { field: /^fleet:menagerie\/apps\/\d+\/env\//, classes: [...FREE_TEXT, "empty string"], why: "dotenv values, written single-quoted" },
  { field: /^fleet:menagerie\/site\/fallback$/, classes: ["'..' path", "leading dash"], why: "response text, written double-quoted in the Caddyfile" },
  { field: /^fleet:sshPrivateKey$/, classes: [...FREE_TEXT, "config-file injection"], why: "a secret: multi-line key text, only ever on stdin" },
  { field: /^fleet:(postgresAdminPassword|minioRootUser|minioRootPassword)$/, classes: FREE_TEXT, why: "a provider credential, never in a script or file" },
  { field: /^fleet:(casdoorClientId|casdoorClientSecret|directusJwtSecret|platformDbPassword)$/, classes: FREE_TEXT, why: "a secret: single-quoted in .env, percent-encoded in URLs" },
  { field: /^fleet:daarion\/backups\/onCalendar$/, classes: ["'..' path"], why: "matches the calendar character set; its grammar is checked by systemd-analyze verify on the host" },
];

/** Prototype names are ordinary names: accepted, or refused by a rule, never a TypeError. */
const PROTOTYPE = new Set(["prototype name constructor", "prototype name __proto__"]);

interface Case {
  readonly stack: StackCase;
  readonly key: string;
  readonly cls: string;
  readonly config: Record<string, unknown>;
  readonly secretKeys: readonly string[];
}

/** Every (field, class) case of a stack, from its config with every default filled in. */
function casesOf(stack: StackCase): Case[] {
  const base = stack.base();
  const loaded = stack.load(source(base.config, base.secretKeys));
  const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
  const hosts = Object.fromEntries(Object.entries(loaded.hosts).map(([k, { name: _n, ...rest }]) => [k, rest]));
  const full: Record<string, unknown> = { ...base.config, [`fleet:${stack.name}`]: plain(loaded.app), "fleet:hosts": plain(hosts) };
  if (Object.keys(loaded.postgres).length) full["fleet:postgres"] = plain({ ...loaded.postgres });
  if (Object.keys(loaded.minio).length) full["fleet:minio"] = plain({ ...loaded.minio });
  stack.load(source(full, base.secretKeys)); // the filled-in config itself is valid
  const out: Case[] = [];
  for (const [configKey, value] of Object.entries(full)) {
    for (const leaf of leavesOf(value)) {
      for (const cls of CLASSES) {
        const hostile = hostileFor(leaf, cls);
        if (hostile === undefined) continue;
        out.push({ stack, key: [configKey, ...leaf.path].join("/"), cls: cls.name, config: { ...full, [configKey]: withLeaf(value, leaf.path, hostile) }, secretKeys: base.secretKeys });
      }
    }
  }
  return out;
}

function outcome(c: Case): { refusedNamingKey: boolean; error: unknown } {
  try {
    c.stack.load(source(c.config, c.secretKeys));
    return { refusedNamingKey: false, error: undefined };
  } catch (error) {
    // A `*Config` field names another config key: the problem is reported on that key.
    const named = error instanceof ConfigError && error.problems.some((p) => p.path === c.key || p.path.startsWith(`${c.key}/`) || (/Config$/.test(c.key) && p.path.startsWith("fleet:")));
    return { refusedNamingKey: named, error };
  }
}

function allowed(c: Case): string | undefined {
  return ACCEPTED.find((a) => a.field.test(c.key) && a.classes.includes(c.cls))?.why;
}

describe.each(STACKS)("adversarial pass over every field of stack $name", (stack) => {
  const cases = casesOf(stack);

  it.each(CLASSES.map((c) => c.name))("%s: refused at load naming the key, or a listed legitimate value", (cls) => {
    const wrong: string[] = [];
    for (const c of cases.filter((x) => x.cls === cls)) {
      const { refusedNamingKey, error } = outcome(c);
      if (error !== undefined && !(error instanceof ConfigError)) wrong.push(`${c.key}: threw ${error instanceof Error ? error.message : JSON.stringify(error)}`);
      else if (PROTOTYPE.has(cls)) continue;
      else if (allowed(c)) {
        if (error !== undefined) wrong.push(`${c.key}: listed as accepted (${allowed(c)}) but refused: ${String(error)}`);
      } else if (!refusedNamingKey) wrong.push(`${c.key}: ${error === undefined ? "accepted" : `refused without naming the key: ${String(error).slice(0, 300)}`}`);
    }
    expect(wrong).toEqual([]);
  });

  it("the stack registers nothing for any refused case (the loader runs before the first resource)", async () => {
    const refused = cases.filter((c) => outcome(c).error instanceof ConfigError);
    expect(refused.length).toBeGreaterThan(cases.length / 2);
    let thrown = 0;
    const run = await runProgram(() => {
      for (const c of refused) {
        try {
          stack.build(source(c.config, c.secretKeys));
        } catch (e) {
          if (e instanceof ConfigError) thrown++;
        }
      }
    });
    expect({ thrown, resources: run.resources.map((r) => r.name) }).toEqual({ thrown: refused.length, resources: [] });
  });
});

/** Component args that are legitimately free text, verbatim files, or numbers where 0 and -1 mean something. */
const COMPONENT_ACCEPTED: readonly { field: RegExp; classes: readonly string[]; why: string }[] = [
  { field: /^HAProxyRoute description$/, classes: [...FREE_TEXT, "empty string"], why: "a comment line in the fragment" },
  { field: /^NginxSite locations\/\d+\/(headers\/\d+\/value|returnBody)$/, classes: ["'..' path", "leading dash", "empty string"], why: "text rendered double-quoted; an empty header value removes the header" },
  { field: /^CaddySite fallback\/body$/, classes: ["'..' path", "leading dash"], why: "response text, double-quoted" },
  { field: /^PrometheusScrape (labels\/.*|alerts\/\d+\/description)$/, classes: [...FREE_TEXT, "empty string"], why: "YAML values the renderer quotes" },
  { field: /^PrometheusScrape alerts\/\d+\/(expr|summary)$/, classes: FREE_TEXT, why: "YAML values the renderer quotes; expressions are checked by promtool" },
  { field: /^ComposeStack compose\/content$/, classes: CLASSES.map((c) => c.name), why: "a verbatim compose file: the component parses it before any resource (no services: mapping → refused on compose)" },
  { field: /^ComposeStack wait\/timeoutSeconds$|^HealthCheck initialDelaySeconds$|^CertificateCheck minValidDays$/, classes: ["port 0"], why: "0 is a meaningful duration or count" },
  { field: /^PostgresDatabase connectionLimit$/, classes: ["port 0", "negative number"], why: "0 and -1 (unlimited) are PostgreSQL's own values" },
  { field: /^SystemdUnit service\/environment\/.*$/, classes: [...FREE_TEXT, "empty string"], why: "text in the unit file; quotes and backslashes are refused" },
  { field: /^SystemdUnit unit\/description$/, classes: FREE_TEXT, why: "text in the unit file; a trailing '\\' is refused" },
  { field: /^CaddyRoute headerUp\/\d+\/value$/, classes: ["'..' path", "leading dash"], why: "header text; quotes, backticks, backslashes and {env.*} are refused" },
  { field: /^RemoteTask argv\/\d+$/, classes: [...FREE_TEXT, "empty string"], why: "argv items, each quoted by sh()" },
  { field: /^HealthCheck (bodyMatch|headers\/.*|description)$/, classes: [...FREE_TEXT, "empty string"], why: "text passed to curl/grep through sh() quoting" },
  { field: /^RabbitMQVhost permissions\/(configure|write|read)$/, classes: ["'..' path", "leading dash", "empty string"], why: "permission regexes; '' is RabbitMQ's 'no access'" },
  { field: /^CasdoorApplication displayName$/, classes: [...FREE_TEXT, "empty string"], why: "display text sent as JSON" },
];

describe.each(COMPONENTS)("adversarial pass over every arg of $name", ({ name, schema, args }) => {
  const parsed = schema.safeParse(args);
  const full: unknown = parsed.success ? JSON.parse(JSON.stringify(parsed.data)) : undefined;

  it("the example args (defaults filled in) are valid", () => {
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    expect(schema.safeParse(full).success).toBe(true);
  });

  it("every hostile class on every arg: refused by the component's schema naming the arg, or listed as legitimate", () => {
    const wrong: string[] = [];
    for (const leaf of leavesOf(full)) {
      for (const cls of CLASSES) {
        const hostile = hostileFor(leaf, cls);
        if (hostile === undefined || PROTOTYPE.has(cls.name)) continue;
        const key = leaf.path.join("/");
        const r = schema.safeParse(withLeaf(full, leaf.path, hostile));
        const named = !r.success && r.error.issues.some((i) => [i.path.join("/"), `${i.path.join("/")}/`].some((p) => p === key || key.startsWith(p) || p.startsWith(`${key}/`)));
        const why = COMPONENT_ACCEPTED.find((a) => a.field.test(`${name} ${key}`) && a.classes.includes(cls.name))?.why;
        if (why) {
          if (name !== "ComposeStack" && !r.success) wrong.push(`${key} (${cls.name}): listed as accepted (${why}) but refused`);
        } else if (!named) wrong.push(`${key} (${cls.name}): ${r.success ? "accepted" : `refused elsewhere: ${r.error.issues.map((i) => i.path.join("/")).join(", ")}`}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
