/**
 * Pure renderers for a compose project: the `.env` file, the image-digest rewrite of
 * the compose file, and the check that runs before a compose file is deployed.
 * No Pulumi, no I/O; deterministic (sorted keys, one trailing newline).
 */
import { isMap, isScalar, parseDocument, type YAMLMap } from "yaml";
import { Memo } from "../../memo";
import { ConfigError, type Problem } from "../../validation/errors";
import { envName, envValue } from "../../validation/primitives";
import { type BuildRules, buildProblems, buildSections, builtImage } from "./build";
import { ComposeParseError, isSecretName, missingComposeVariables, whereOf } from "./interpolation";

const BANNER = "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.";

/** Which compose reads the env file: `docker compose` (v2) or `docker-compose` (v1). */
export type ComposeDialect = "docker compose" | "docker-compose";

/**
 * What is wrong with env entries for an env file read by `dialect`, as problems
 * at `env/<KEY>`. Single-quoted values are literal in compose v2; docker-compose v1
 * (python-dotenv) still expands `${...}` and reads `\\` as one backslash inside them.
 */
export function envProblems(env: Readonly<Record<string, string>>, dialect: ComposeDialect = "docker compose"): Problem[] {
  const problems: Problem[] = [];
  for (const key of Object.keys(env).sort()) {
    const rules: string[] = [];
    const k = envName.safeParse(key);
    if (!k.success) rules.push(...k.error.issues.map((i) => i.message));
    const value = env[key]!;
    const v = envValue.safeParse(value);
    if (!v.success) rules.push(...v.error.issues.map((i) => i.message));
    if (typeof value === "string" && value.endsWith("\\")) rules.push("must not end with a backslash (it would escape the closing quote)");
    if (dialect === "docker-compose" && typeof value === "string") {
      if (value.includes("${")) rules.push("must not contain '${' on a docker-compose v1 host (it expands ${...} even inside single quotes)");
      if (value.includes("\\\\")) rules.push("must not contain '\\\\' on a docker-compose v1 host (it reads it as one backslash)");
    }
    for (const message of rules) problems.push({ path: `env/${key}`, message });
  }
  return problems;
}

/**
 * The `.env` file compose reads for interpolation: `KEY='value'`, one per line,
 * sorted. Single quotes make compose take the value literally: no `$` expansion,
 * `#` is not a comment. Values that cannot be written that way are refused, naming
 * the key (see `envProblems`).
 */
export function renderEnvFile(env: Readonly<Record<string, string>>, subject = "env file", dialect: ComposeDialect = "docker compose"): string {
  const problems = envProblems(env, dialect);
  if (problems.length) throw new ConfigError(subject, problems);
  const keys = Object.keys(env).sort();
  return [BANNER, ...keys.map((k) => `${k}='${env[k]}'`)].join("\n") + "\n";
}

/**
 * The repository of an image reference: `host:5000/team/app:1.2` → `host:5000/team/app`.
 * The tag separator is the last `:` after the last `/`.
 */
export function imageRepository(image: string): string {
  const at = image.indexOf("@");
  const base = at >= 0 ? image.slice(0, at) : image;
  const slash = base.lastIndexOf("/");
  const colon = base.lastIndexOf(":");
  return colon > slash ? base.slice(0, colon) : base;
}

/** `repo@sha256:…` for an image and its digest. */
export function pinnedImage(image: string, digest: string): string {
  return `${imageRepository(image)}@${digest}`;
}

/** The service names of a compose file, in file order. Throws ComposeParseError. */
export function composeServices(text: string): string[] {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, logLevel: "error" });
  if (doc.errors.length) throw new ComposeParseError(`is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  const services = doc.get("services", true);
  if (!isMap(services)) throw new ComposeParseError("must have a services: mapping");
  return services.items.map((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)));
}

/**
 * Rewrite `image:` of the given services to `pins[service]` (e.g. `repo@sha256:…`),
 * keeping everything else (comments, order, anchors, quoting) as written.
 * Throws ConfigError naming every service that is not in the file.
 */
export function pinImages(text: string, pins: Readonly<Record<string, string>>, subject = "compose file"): string {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, logLevel: "error" });
  if (doc.errors.length) {
    throw new ConfigError(subject, [{ path: "compose", message: `is not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}` }]);
  }
  const services = doc.get("services", true);
  if (!isMap(services)) throw new ConfigError(subject, [{ path: "compose", message: "must have a services: mapping" }]);
  const names = services.items.map((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)));
  const problems: Problem[] = [];
  for (const service of Object.keys(pins).sort()) {
    const node = services.get(service, true);
    if (node === undefined) {
      problems.push({ path: `images/${service}`, message: `service "${service}" is not in the compose file (services: ${names.join(", ") || "none"})` });
    } else if (!isMap(node)) {
      problems.push({ path: `images/${service}`, message: `service "${service}" must be a mapping in the compose file (not an alias or scalar) to pin its image` });
    } else {
      (node as YAMLMap).set("image", pins[service]);
    }
  }
  if (problems.length) throw new ConfigError(subject, problems);
  // Never fold long strings and keep `[a, b]` as written: a reformatted file is correct
  // YAML but a noisy diff on the host.
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** A digest that stands in for one not resolved yet, to check a plain compose file before any resource. */
export const PLACEHOLDER_DIGEST = `sha256:${"0".repeat(64)}`;

export interface ComposePlan {
  /** Names the env file provides. */
  readonly env: readonly string[];
  /** Pinned image reference per service. */
  readonly pins: Readonly<Record<string, string>>;
  /** Other services the stack names, by the path of the arg naming them (e.g. `files/0/restart/0`). */
  readonly services?: Readonly<Record<string, string>>;
  /**
   * Services with a `build:` section: where they may build from (`BuildRules`; the
   * services of `pins` are run from their prebuilt image, their `build:` removed so
   * nothing builds them), and the tag of what is built (`image:
   * <project>-<service>:<tag>`, e.g. the commit). @default not checked, not tagged
   */
  readonly build?: Omit<BuildRules, "prebuilt"> & { readonly project: string; readonly tag?: string | undefined };
}

/**
 * The compose file with each service of `prebuilt` stripped of its `build:` section and
 * every other service with one tagged `image: <project>-<service>:<tag>` (when a tag is
 * given). Formatting kept as in `pinImages`.
 */
export function tagBuilds(text: string, prebuilt: readonly string[], project: string, tag: string | undefined): string {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, logLevel: "error" });
  const services = doc.get("services", true);
  if (!isMap(services)) return text;
  let changed = false;
  for (const s of buildSections(text)) {
    const node = services.get(s.service, true);
    if (!isMap(node)) continue;
    if (prebuilt.includes(s.service)) {
      (node as YAMLMap).delete("build");
      changed = true;
    } else if (tag !== undefined) {
      (node as YAMLMap).set("image", builtImage(project, s.service, tag));
      changed = true;
    }
  }
  return changed ? doc.toString({ lineWidth: 0, flowCollectionPadding: false }) : text;
}

/**
 * The compose file as deployed: images pinned, then every `${VAR}` checked against
 * the env names. Throws one ConfigError listing every problem: services in `images`
 * missing from the file, invalid `${...}` expressions, and each variable referenced
 * without a default that env does not provide, with the services that need it.
 */
export function prepareCompose(text: string, plan: ComposePlan, subject = "compose file"): string {
  // The same file is prepared for the check before any resource and again when deployed,
  // and by every build of the program in one process: the result is a function of the text
  // and the plan (the subject only names a refusal, and refusals are not kept). A plan with
  // build rules (trees of checkouts) is prepared every time.
  // A field added to ComposePlan must be added to the key: `rest` then fails to type-check.
  const { env, pins, services, build, ...rest } = plan;
  const nothingElse: Record<string, never> = rest;
  if (build || Object.keys(nothingElse).length) return prepareComposeText(text, plan, subject);
  const byKey = (o: Readonly<Record<string, string>> | undefined) => Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const key = JSON.stringify([text, [...new Set(env)].sort(), byKey(pins), byKey(services)]);
  return preparedCompose.get(key, () => prepareComposeText(text, plan, subject));
}

/** Prepared compose files by text and plan ({@link prepareCompose}). */
const preparedCompose = new Memo<string>(256);

function prepareComposeText(text: string, plan: ComposePlan, subject: string): string {
  const problems: Problem[] = [];
  let pinned = pinImages(text, plan.pins, subject);
  if (plan.build) {
    // Services pinned to a prebuilt image lose their build: section; the others are tagged.
    const prebuilt = Object.keys(plan.pins);
    try {
      problems.push(...buildProblems(text, { ...plan.build, prebuilt }));
    } catch (e) {
      if (e instanceof ComposeParseError) throw new ConfigError(subject, [{ path: "compose", message: e.message }]);
      throw e;
    }
    pinned = tagBuilds(pinned, prebuilt, plan.build.project, plan.build.tag);
  }
  let found: ReturnType<typeof missingComposeVariables>;
  try {
    found = missingComposeVariables(pinned, plan.env);
  } catch (e) {
    if (e instanceof ComposeParseError) throw new ConfigError(subject, [{ path: "compose", message: e.message }]);
    throw e;
  }
  const known = composeServices(pinned);
  for (const [path, service] of Object.entries(plan.services ?? {})) {
    if (!known.includes(service)) problems.push({ path, message: `service "${service}" is not in the compose file (services: ${known.join(", ") || "none"})` });
  }
  for (const bad of found.invalid) {
    problems.push({ path: `compose/${bad.path}`, message: `${bad.expression} in ${whereOf(bad)} ${bad.reason}` });
  }
  const byName = new Map<string, { wheres: string[]; required: boolean }>();
  for (const m of found.missing) {
    const where = `${whereOf(m)} (${m.path}: ${m.expression})`;
    const entry = byName.get(m.name) ?? { wheres: [], required: false };
    if (!entry.wheres.includes(where)) entry.wheres.push(where);
    // `${NAME:?msg}`: the author made it mandatory, so a default is not the fix.
    if (/^\$\{[_a-zA-Z0-9]+:?\?/.test(m.expression)) entry.required = true;
    byName.set(m.name, entry);
  }
  for (const [name, { wheres, required }] of [...byName.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    problems.push({
      path: `env/${name}`,
      message: required
        ? `is required by ${wheres.join(", ")} but env does not set it; add ${name} to env`
        : `is referenced without a default by ${wheres.join(", ")} but env does not set it (compose would substitute an empty string); add ${name} to env or write \${${name}:-default}`,
    });
  }
  // A secret with a default in the file: the service would run with a value anyone can
  // read in the repository (`${JWT_SECRET:-changeme}`). It must be provided or generated.
  const defaulted = new Map<string, string[]>();
  for (const d of found.defaulted) {
    if (!isSecretName(d.name) || byName.has(d.name)) continue;
    const where = `${whereOf(d)} (${d.path}: ${d.expression})`;
    const wheres = defaulted.get(d.name) ?? [];
    if (!wheres.includes(where)) wheres.push(where);
    defaulted.set(d.name, wheres);
  }
  for (const [name, wheres] of [...defaulted.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    problems.push({
      path: `env/${name}`,
      message: `is a secret that ${wheres.join(", ")} reads with a default, and env does not set it: the service would run with the compose file's default, which anyone with the repository can read; set ${name} in env as a secret (provided, or generated by the stack)`,
    });
  }
  if (problems.length) throw new ConfigError(subject, problems);
  return pinned;
}
