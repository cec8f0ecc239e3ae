/**
 * The lint of scripts/lint/index.ts (`npm test`'s lint and, with `typecheck`, its
 * typecheck), over the project at `root`; see index.ts for what it does and why.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import ts from "typescript";
import { lintKeys } from "./keys";
import { formatTsc, projectProgram, type ProjectProgram } from "./program";
import { emitBuild } from "./emit-build";
import { readStamp, sharedBuildKey, staleBuild, type Stamp, writeStamp } from "./shared-build";

/** The files `eslint .` lints: every file under root a config object applies to and no ignore pattern removes. */
async function lintedFiles(eslint: ESLint, root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === ".git" || entry.name === "node_modules") continue;
        // A directory ignored as a whole ("dist/**"): nothing below it is linted.
        if (await eslint.isPathIgnored(path.join(full, "x.ts"))) continue;
        await visit(full);
      } else if (entry.isFile() && !(await eslint.isPathIgnored(full)) && (await eslint.calculateConfigForFile(full)) !== undefined) {
        out.push(full);
      }
    }
  };
  await visit(root);
  return out.sort();
}

function readStore(store: string, useCache: boolean): Record<string, string> {
  if (!useCache) return {};
  try {
    return JSON.parse(readFileSync(store, "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

export interface CheckOptions {
  /** The project root: tsconfig.json and the lint config are there, `.cache/` is written there. */
  readonly root: string;
  /** Also the typecheck (tsc --noEmit), from the lint's program. */
  readonly typecheck: boolean;
  /** Skip files that linted clean with the same key (.cache/eslint/clean.json). */
  readonly useCache: boolean;
  /** Where the report goes (stdout). */
  readonly write: (text: string) => void;
  /**
   * With the typecheck: also emit the package build (tsconfig.build.json) from the checked
   * program into dist/, and write `stampFile` for run `run` (scripts/lint/shared-build.ts).
   */
  readonly sharedBuild?: { readonly buildTsconfig: string; readonly stampFile: string; readonly run: string };
}

export interface CheckResult {
  /** tsc's error count (0 without the typecheck). */
  readonly typeErrors: number;
  /** ESLint's error count. */
  readonly lintErrors: number;
}

export async function check(opts: CheckOptions): Promise<CheckResult> {
  const { root, write } = opts;
  const store = path.join(root, ".cache/eslint/clean.json");
  const files = await lintedFiles(new ESLint({ cwd: root }), root);
  const eslintVersion = (JSON.parse(readFileSync(path.join(root, "node_modules/eslint/package.json"), "utf8")) as { version: string }).version;
  const keys = lintKeys({
    root,
    files,
    setupFiles: ["eslint.config.mjs", "tsconfig.json", "package.json", "package-lock.json", "node_modules/.package-lock.json", "scripts/lint/index.ts", "scripts/lint/check.ts", "scripts/lint/keys.ts", "scripts/lint/program.ts", "scripts/lint/emit-build.ts", "scripts/lint/shared-build.ts", "scripts/content-key.ts"],
    extra: [process.version, `eslint ${eslintVersion}`],
  });
  const clean = readStore(store, opts.useCache);
  const rel = (f: string) => path.relative(root, f);
  const todo = files.filter((f) => clean[rel(f)] !== keys.get(f));

  // The build's inputs as they are before the program reads them: a file changed after this
  // gives the consumer another key, and it builds for itself.
  const shared = opts.typecheck ? opts.sharedBuild : undefined;
  const sharedKey = shared ? sharedBuildKey(root) : "";
  // Built only when something needs it: the typecheck, or a file to lint.
  const project: ProjectProgram | undefined =
    opts.typecheck || todo.length
      ? projectProgram(path.join(root, "tsconfig.json"), opts.typecheck ? path.join(root, ".cache/typecheck.tsbuildinfo") : undefined, shared?.buildTsconfig)
      : undefined;
  let typeErrors = 0;
  if (opts.typecheck && project) {
    const diagnostics = project.typecheck();
    typeErrors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error).length;
    write(formatTsc(diagnostics, root));
    write(`typecheck: ${typeErrors} errors (tsc --noEmit -p tsconfig.json, the lint's program, ${project.program.getRootFileNames().length} files)\n`);
    if (shared) write(`${sharedBuildStep(root, shared, sharedKey, project, typeErrors)}\n`);
  }

  const eslint = project ? new ESLint({ cwd: root, overrideConfig: { languageOptions: { parserOptions: { projectService: false, programs: [project.program] } } } }) : undefined;
  const results = eslint && todo.length ? await eslint.lintFiles(todo) : [];
  const formatter = await new ESLint({ cwd: root }).loadFormatter("stylish");
  const text = await formatter.format(results);
  if (text) write(text.endsWith("\n") ? text : `${text}\n`);

  const next: Record<string, string> = {};
  for (const f of files) if (clean[rel(f)] === keys.get(f)) next[rel(f)] = keys.get(f)!;
  for (const r of results) if (r.messages.length === 0) next[rel(r.filePath)] = keys.get(r.filePath)!;
  mkdirSync(path.dirname(store), { recursive: true });
  const tmp = `${store}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 1)}\n`);
  renameSync(tmp, store);

  const lintErrors = results.reduce((n, r) => n + r.errorCount + r.fatalErrorCount, 0);
  write(`lint: ${files.length} files, ${todo.length} linted, ${files.length - todo.length} unchanged since a clean lint (${path.relative(root, store)})\n`);
  return { typeErrors, lintErrors };
}


/** Emit the package build from the checked program unless dist/src is already it; the stamp says which. */
function sharedBuildStep(root: string, shared: NonNullable<CheckOptions["sharedBuild"]>, key: string, project: ProjectProgram, typeErrors: number): string {
  let stamp: Stamp;
  let current = false;
  try {
    const previous = readStamp(shared.stampFile);
    if (!project.build || "reason" in project.build) {
      stamp = { run: shared.run, key, ok: false, reason: project.build?.reason ?? "no build options", files: {} };
    } else if (typeErrors === 0 && previous?.key === key && staleBuild(root, previous) === undefined) {
      stamp = { ...previous, run: shared.run };
      current = true;
    } else {
      stamp = emitBuild(root, project.program, project.build.fileNames, shared.run, key, typeErrors);
    }
  } catch (e) {
    stamp = { run: shared.run, key, ok: false, reason: e instanceof Error ? e.message : String(e), files: {} };
  }
  writeStamp(shared.stampFile, stamp);
  const what = !stamp.ok ? `not shared: ${stamp.reason}` : current ? "dist/src already current" : `${Object.keys(stamp.files).length} files emitted into dist/src`;
  return `build (tsc -p ${path.relative(root, shared.buildTsconfig)} from the same program, for test/library/consumer.test.ts): ${what}`;
}
