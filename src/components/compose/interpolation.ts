/**
 * Compose variable interpolation, read statically: which `$VAR` / `${VAR}` a compose
 * file references, and which of them the stack's env file does not provide.
 *
 * Compose substitutes an unset variable with an empty string and only warns, so an
 * unprovided `${DB_HOST}` becomes `DB_HOST: ""` in a running container. The rule
 * (issue text): every `${VAR}` without a default that the compose content references
 * must be provided, or the program fails naming the variable and the service.
 *
 * Syntax follows compose-go (Compose v2), which docker-compose 1.x agrees with on
 * everything this module reports:
 * - `$$` is a literal `$`;
 * - `$VAR` and `${VAR}` need VAR;
 * - `${VAR:-default}` / `${VAR-default}` use the default when VAR is unset (the
 *   default may itself reference variables, needed only when VAR is unset);
 * - `${VAR:?message}` / `${VAR?message}` make VAR required (compose fails);
 * - `${VAR:+alt}` / `${VAR+alt}` substitute `alt` when VAR is set;
 * - a `${` that does not match the above is invalid (both compose versions fail);
 * - a lone `$` before anything else is kept literally by v2 (v1 rejects it; the
 *   host-side `config -q` catches that).
 * Only values are interpolated, never mapping keys. YAML anchors and merge keys
 * (`<<: *defaults`) are resolved first, as compose does.
 *
 * Pure: no Pulumi, no I/O.
 */
import { parse } from "yaml";
import { deepFreeze, Memo } from "../../memo";

/** How a reference treats an unset variable. */
export type ReferenceKind =
  /** `$VAR` or `${VAR}`: substituted, empty when unset. */
  | "plain"
  /** `${VAR:-x}` / `${VAR-x}`: the default is used when unset. */
  | "default"
  /** `${VAR:?msg}` / `${VAR?msg}`: compose fails when unset. */
  | "required"
  /** `${VAR:+x}` / `${VAR+x}`: `x` when set, empty otherwise. */
  | "alternate";

export interface VariableReference {
  /** The variable name, e.g. `DB_HOST`. */
  readonly name: string;
  readonly kind: ReferenceKind;
  /** The expression as written, e.g. `${DB_HOST:-portia.incus}`. */
  readonly expression: string;
  /** True when the reference sits inside another one's default or alternate value. */
  readonly conditional: boolean;
  /** The service whose value holds the reference, when under `services:`. */
  readonly service?: string;
  /** Top-level section: `services`, `volumes`, `networks`, `x-common`, ... */
  readonly section: string;
  /** Slash path to the value, e.g. `services/app/environment/DB_HOST`. */
  readonly path: string;
}

export interface InvalidExpression {
  readonly expression: string;
  readonly service?: string;
  readonly section: string;
  readonly path: string;
  readonly reason: string;
}

/** A variable the env file must provide, and where it is needed. */
export interface MissingVariable {
  readonly name: string;
  readonly service?: string;
  readonly section: string;
  readonly path: string;
  readonly expression: string;
}

export interface ComposeVariables {
  readonly references: readonly VariableReference[];
  readonly invalid: readonly InvalidExpression[];
}

type Operator = "" | ":-" | "-" | ":?" | "?" | ":+" | "+";

/** One `$…` expression in a string. */
type Token =
  | { readonly type: "ref"; readonly name: string; readonly op: Operator; readonly arg: string; readonly raw: string }
  | { readonly type: "invalid"; readonly raw: string; readonly reason: string };

const NAME_START = /[_a-zA-Z]/;
const NAME_CHAR = /[_a-zA-Z0-9]/;
const BRACED = /^([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-+?])([\s\S]*))?$/;

/** Index of the `}` closing the `${` at `start` (compose-go's getFirstBraceClosingIndex), or -1. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === "}") {
      depth--;
      if (depth === 0) return i;
    }
    if (text.startsWith("${", i)) {
      depth++;
      i++;
    }
  }
  return -1;
}

/** Split a string into its `$` expressions. Literal text and `$$` escapes are skipped. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf("$", i);
    if (at < 0) break;
    const next = text[at + 1];
    if (next === "$") {
      i = at + 2;
      continue;
    }
    if (next === "{") {
      const end = closingBrace(text, at);
      if (end < 0) {
        tokens.push({ type: "invalid", raw: text.slice(at), reason: "has no closing '}'" });
        break;
      }
      const raw = text.slice(at, end + 1);
      const m = BRACED.exec(text.slice(at + 2, end));
      if (!m) {
        tokens.push({
          type: "invalid",
          raw,
          reason: "is not a valid substitution: use ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error} or ${NAME:+alt} (write $$ for a literal $)",
        });
      } else {
        tokens.push({ type: "ref", name: m[1]!, op: (m[2] ?? "") as Operator, arg: m[3] ?? "", raw });
      }
      i = end + 1;
      continue;
    }
    if (next !== undefined && NAME_START.test(next)) {
      let end = at + 2;
      while (end < text.length && NAME_CHAR.test(text[end]!)) end++;
      const raw = text.slice(at, end);
      tokens.push({ type: "ref", name: raw.slice(1), op: "", arg: "", raw });
      i = end;
      continue;
    }
    // A lone `$`: literal in compose v2.
    i = at + 1;
  }
  return tokens;
}

function kindOf(op: Operator): ReferenceKind {
  switch (op) {
    case "":
      return "plain";
    case ":-":
    case "-":
      return "default";
    case ":?":
    case "?":
      return "required";
    case ":+":
    case "+":
      return "alternate";
  }
}

interface Place {
  readonly service?: string;
  readonly section: string;
  readonly path: string;
}

/** Every reference in one string, nested defaults included. */
export function findVariablesInString(text: string, place: Place = { section: "", path: "" }): ComposeVariables {
  const references: VariableReference[] = [];
  const invalid: InvalidExpression[] = [];
  const visit = (s: string, conditional: boolean): void => {
    for (const t of tokenize(s)) {
      if (t.type === "invalid") {
        invalid.push({ ...place, expression: t.raw, reason: t.reason });
        continue;
      }
      references.push({ ...place, name: t.name, kind: kindOf(t.op), expression: t.raw, conditional });
      // The text after `?` is an error message, not interpolated.
      if (kindOf(t.op) === "default" || kindOf(t.op) === "alternate") visit(t.arg, true);
    }
  };
  visit(text, false);
  return { references, invalid };
}

/**
 * Names `text` needs from the environment to interpolate without an empty
 * substitution, given the `provided` names.
 */
export function missingInString(text: string, provided: ReadonlySet<string>): { name: string; expression: string }[] {
  const out: { name: string; expression: string }[] = [];
  for (const t of tokenize(text)) {
    if (t.type === "invalid") continue;
    const set = provided.has(t.name);
    switch (kindOf(t.op)) {
      case "plain":
      case "required":
        if (!set) out.push({ name: t.name, expression: t.raw });
        break;
      case "default":
        if (!set) out.push(...missingInString(t.arg, provided));
        break;
      case "alternate":
        if (set) out.push(...missingInString(t.arg, provided));
        break;
    }
  }
  return out;
}

/** Thrown when the compose text is not YAML compose can read. */
export class ComposeParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ComposeParseError";
  }
}

/** Parsed compose files by text: a program checks, deploys and inspects the same file several times. */
const parsedCompose = new Memo<Record<string, unknown>>(256);

/**
 * Parse compose YAML the way compose reads it: anchors and `<<` merge keys resolved.
 * The result is shared by every caller with the same text, so it is frozen (read it, do
 * not change it); text that is not a compose mapping throws, every time.
 */
export function parseCompose(text: string): Record<string, unknown> {
  return parsedCompose.get(text, () => deepFreeze(parseComposeText(text)));
}

function parseComposeText(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parse(text, { merge: true, uniqueKeys: true, prettyErrors: false, logLevel: "error" });
  } catch (e) {
    throw new ComposeParseError(`is not valid YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new ComposeParseError("must be a YAML mapping with a services: section");
  }
  const root = doc as Record<string, unknown>;
  const services = root.services;
  if (services === null || typeof services !== "object" || Array.isArray(services)) {
    throw new ComposeParseError("must have a services: mapping");
  }
  return root;
}

/** Every string value with its place (keys are not interpolated by compose). */
function* stringValues(value: unknown, path: string[]): Generator<{ text: string; path: string[] }> {
  if (typeof value === "string") {
    yield { text: value, path };
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* stringValues(value[i], [...path, String(i)]);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) yield* stringValues(v, [...path, k]);
  }
}

function placeOf(path: readonly string[]): Place {
  const section = path[0] ?? "";
  const service = section === "services" ? path[1] : undefined;
  return { ...(service !== undefined ? { service } : {}), section, path: path.join("/") };
}

/** Every variable reference and invalid expression in a compose file. Throws ComposeParseError. */
export function findComposeVariables(text: string): ComposeVariables {
  const root = parseCompose(text);
  const references: VariableReference[] = [];
  const invalid: InvalidExpression[] = [];
  for (const { text: s, path } of stringValues(root, [])) {
    const found = findVariablesInString(s, placeOf(path));
    references.push(...found.references);
    invalid.push(...found.invalid);
  }
  return { references, invalid };
}

/**
 * Names that hold a secret by the usual conventions: a `_`-separated word SECRET(S),
 * PASSWORD, PASSWD, PASS, PWD, TOKEN, APIKEY or CREDENTIAL(S), or a name ending in KEY
 * (`SECRET_KEY`, `JWT_SECRET`, `DB_PASSWORD`, `ADMIN_TOKEN`, `API_KEY`).
 */
export const SECRET_NAME = /(^|_)(SECRETS?|PASSWORD|PASSWD|PASS|PWD|TOKEN|APIKEY|CREDENTIALS?)(_|$)|(^|_)[A-Z0-9]*KEY$/;

/** True when `name` looks like a variable that holds a secret ({@link SECRET_NAME}). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name.toUpperCase());
}

/**
 * The variables a compose file needs that `provided` does not give, with where
 * each is needed (per service, or per top-level section), in file order; and
 * (`defaulted`) those not provided whose default in the file is used instead.
 * Throws ComposeParseError when the text is not a compose mapping.
 */
export function missingComposeVariables(
  text: string,
  provided: Iterable<string>,
): { missing: MissingVariable[]; invalid: InvalidExpression[]; defaulted: MissingVariable[] } {
  const have = new Set(provided);
  const root = parseCompose(text);
  const missing: MissingVariable[] = [];
  const invalid: InvalidExpression[] = [];
  const defaulted: MissingVariable[] = [];
  for (const { text: s, path } of stringValues(root, [])) {
    const place = placeOf(path);
    for (const m of missingInString(s, have)) missing.push({ ...place, name: m.name, expression: m.expression });
    const found = findVariablesInString(s, place);
    invalid.push(...found.invalid);
    for (const r of found.references) {
      if (r.kind === "default" && !have.has(r.name)) defaulted.push({ ...place, name: r.name, expression: r.expression });
    }
  }
  return { missing, invalid, defaulted };
}

/** `service "app"` or `section "volumes"`: where a finding is, in operator words. */
export function whereOf(f: { readonly service?: string; readonly section: string }): string {
  return f.service !== undefined ? `service "${f.service}"` : `section "${f.section}"`;
}
