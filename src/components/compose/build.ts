/**
 * Services of a compose file that build from source (`build:`), and the rules for where
 * they may build from (issue 13 item 3): a build context (and its Dockerfile and
 * additional contexts), resolved the way compose resolves it (relative to the project
 * directory), must lie inside the app's checkout or a declared sibling checkout, never in
 * the directory that holds the project's `.env` (its secrets would be sent to the
 * builder) nor in a directory holding other apps. With the repository's tree at the
 * commit (read at preview), a context must also be a directory there reached through no
 * symbolic link (a link can point anywhere on the host), and its Dockerfile a file.
 *
 * Pure: no Pulumi, no I/O. Problems are at `compose/services/<service>/build` and name the
 * service, the context as written and where it resolves, and the fix.
 */
import { posix } from "node:path";
import { type TreeKind } from "../../git/files";
import { type Problem } from "../../validation/errors";
import { interpolateKnown } from "./inspect";
import { parseCompose } from "./interpolation";

export type { TreeKind } from "../../git/files";

/** One directory builds may use: a checkout on the host, and (at preview) its tree at the commit. */
export interface BuildRoot {
  /** The checkout's directory on the host, absolute. */
  readonly directory: string;
  /** How messages name it, e.g. `the checkout of https://…/peregrine.git at v2.3.0 (3f2a…)`. */
  readonly label: string;
  /** Every path of the repository at the commit and its kind; without it the tree rules do not run. */
  readonly tree?: ReadonlyMap<string, TreeKind> | undefined;
}

export interface BuildRules {
  /** Where compose resolves the file's relative paths (`--project-directory`). */
  readonly projectDirectory: string;
  /** The directory holding the project's `.env` and compose file: never (inside) a build context. */
  readonly envDirectory: string;
  /** Where contexts may lie: the checkout first, then declared siblings. */
  readonly roots: readonly BuildRoot[];
  /** Values compose interpolates the file with (the `.env`), as far as they are known. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the project builds at all (`up --build`). */
  readonly build: boolean;
  /** Services run from a prebuilt image instead (`images`): never built. */
  readonly prebuilt: readonly string[];
  /** The fix offered for a context outside the roots; `<service>` stands for the service. @default a generic one */
  readonly fix?: string | undefined;
}

/** A service's `build:` section, its strings as written. */
export interface BuildSection {
  readonly service: string;
  /** `.` when the section names none. */
  readonly context: string;
  readonly dockerfile: string | undefined;
  /** Whether the Dockerfile is inline (`dockerfile_inline`): no file to check. */
  readonly inline: boolean;
  /** `additional_contexts`, name → value as written. */
  readonly additional: readonly (readonly [string, string])[];
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Every service with a `build:` section, in file order. Throws ComposeParseError on unreadable YAML. */
export function buildSections(text: string): BuildSection[] {
  const services = asRecord(parseCompose(text).services) ?? {};
  const out: BuildSection[] = [];
  for (const [service, value] of Object.entries(services)) {
    const build = asRecord(value)?.build;
    if (build === undefined || build === null) continue;
    if (typeof build === "string") {
      out.push({ service, context: build, dockerfile: undefined, inline: false, additional: [] });
      continue;
    }
    const b = asRecord(build) ?? {};
    const additional: [string, string][] = [];
    const extra = b.additional_contexts;
    if (Array.isArray(extra)) {
      for (const e of extra) {
        const s = String(e);
        const eq = s.indexOf("=");
        if (eq > 0) additional.push([s.slice(0, eq), s.slice(eq + 1)]);
      }
    } else {
      for (const [k, v] of Object.entries(asRecord(extra) ?? {})) additional.push([k, String(v)]);
    }
    out.push({
      service,
      context: typeof b.context === "string" ? b.context : ".",
      dockerfile: typeof b.dockerfile === "string" ? b.dockerfile : undefined,
      inline: b.dockerfile_inline !== undefined,
      additional,
    });
  }
  return out;
}

/** True when `path` is `dir` or below it (both absolute and normalised). */
function within(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir === "/" ? "/" : `${dir}/`);
}

/** A context that is not a directory on the host: a git URL, an HTTP(S) tarball, an image or another service. */
function remoteContext(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^git@/.test(value) || /^(docker-image|service|oci-layout):/.test(value);
}

/** Where a path of the compose file resolves: `undefined` when it needs a variable whose value is not known. */
function resolvePath(value: string, base: string, env: Readonly<Record<string, string>>): string | undefined {
  const text = interpolateKnown(value, env);
  if (text === undefined) return undefined;
  return posix.resolve(base, text === "" ? "." : text);
}

/** One place a build reads from, with how messages name it. */
interface BuildInput {
  readonly service: string;
  /** `context`, `dockerfile` or `additional_contexts/<name>`. */
  readonly what: string;
  readonly written: string;
  /** Resolved on the host; undefined: a variable with no known value, or a remote context. */
  readonly resolved: string | undefined;
  readonly remote: boolean;
  readonly kind: "tree" | "blob";
}

function inputsOf(section: BuildSection, rules: BuildRules): BuildInput[] {
  const out: BuildInput[] = [];
  const base = rules.projectDirectory;
  const context = remoteContext(section.context) ? undefined : resolvePath(section.context, base, rules.env);
  out.push({ service: section.service, what: "context", written: section.context, resolved: context, remote: remoteContext(section.context), kind: "tree" });
  if (!section.inline && context !== undefined) {
    const file = section.dockerfile ?? "Dockerfile";
    out.push({ service: section.service, what: "dockerfile", written: file, resolved: resolvePath(file, context, rules.env), remote: false, kind: "blob" });
  }
  for (const [name, value] of section.additional) {
    const remote = remoteContext(value);
    out.push({ service: section.service, what: `additional_contexts/${name}`, written: value, resolved: remote ? undefined : resolvePath(value, base, rules.env), remote, kind: "tree" });
  }
  return out;
}

function describe(i: BuildInput): string {
  const where = i.resolved !== undefined && i.resolved !== i.written ? ` (${i.resolved})` : "";
  const what = i.what === "context" ? "builds from context" : i.what === "dockerfile" ? "builds with the Dockerfile" : `builds with ${i.what.replace("/", " ")}`;
  return `service "${i.service}" ${what} "${i.written}"${where}`;
}

const DEFAULT_FIX = "build from a directory inside the checkout, declare the other checkout as a sibling (fetched at its own pinned ref), or run a prebuilt image for the service";

/**
 * What is wrong with where the file's services build from, known from the file alone
 * (and the trees of the roots, when given): see the module doc. Services in `prebuilt`
 * are not built and not checked; without `build`, every other service with a `build:`
 * section is refused (nothing would build it).
 */
export function buildProblems(text: string, rules: BuildRules): Problem[] {
  const problems: Problem[] = [];
  const rootsText = rules.roots.map((r) => r.label).join(" or ");
  const fix = rules.fix ?? DEFAULT_FIX;
  for (const section of buildSections(text)) {
    if (rules.prebuilt.includes(section.service)) continue;
    const path = `compose/services/${section.service}/build`;
    if (!rules.build) {
      problems.push({
        path,
        message: `service "${section.service}" builds from source (context "${section.context}") but this project does not build: run a prebuilt image for it (images.${section.service}: image and digest), or build it from the checkout`,
      });
      continue;
    }
    let contextRefused = false;
    for (const input of inputsOf(section, rules)) {
      // A Dockerfile is judged only in a context that is acceptable (one message per refusal).
      if (contextRefused && input.what === "dockerfile") continue;
      const reason = inputProblem(input, rules, rootsText, fix.replaceAll("<service>", section.service));
      if (reason === undefined) continue;
      problems.push({ path, message: `${describe(input)}, ${reason}` });
      if (input.what === "context") contextRefused = true;
    }
  }
  return problems;
}

/** Why a build may not read `input` (the text after its description), or undefined. */
function inputProblem(input: BuildInput, rules: BuildRules, rootsText: string, fix: string): string | undefined {
  if (input.remote) return `which is not a directory of the checkout: a build must come from the checkout at its pinned commit; ${fix}`;
  if (input.resolved === undefined) return "which depends on a variable whose value is not known before the build; write the path out in the compose file";
  const resolved = input.resolved;
  if (input.kind === "tree" && within(rules.envDirectory, resolved)) {
    return `which holds the project's .env (${rules.envDirectory}): its secrets would be sent to the builder; ${fix}`;
  }
  const root = rules.roots.find((r) => within(resolved, r.directory));
  if (!root) return `outside ${rootsText || "any checkout"}; ${fix}`;
  if (!root.tree) return undefined;
  return treeProblem(root.tree, posix.relative(root.directory, resolved), input.kind)?.replaceAll("%s", root.label);
}

/**
 * Why `rel` is not a `kind` reached without symbolic links in `tree`, with the fix (`%s`
 * stands for the root's label), or undefined.
 */
function treeProblem(tree: ReadonlyMap<string, TreeKind>, rel: string, kind: "tree" | "blob"): string | undefined {
  const noun = kind === "tree" ? "a directory" : "a file";
  const missing = `which is not ${noun} in %s; commit it there, or name ${noun} the repository has at that commit`;
  if (rel === "") return kind === "tree" ? undefined : missing;
  const parts = rel.split("/");
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/");
    const found = tree.get(prefix);
    if (found === "link") return `where ${prefix} is a symbolic link in %s, which may lead out of the checkout; name the directory it points to instead`;
    if (found === "commit") return `where ${prefix} is a git submodule in %s, which is not fetched; declare its repository as a sibling checkout instead`;
    if (found === undefined || (i < parts.length && found !== "tree") || (i === parts.length && found !== kind)) return missing;
  }
  return undefined;
}

/**
 * The image a service built from source is tagged with: `<project>-<service>:<tag>`
 * (compose's own default name, lowercase, plus the tag, e.g. the commit).
 */
export function builtImage(project: string, service: string, tag: string): string {
  return `${project}-${service.toLowerCase()}:${tag}`;
}
