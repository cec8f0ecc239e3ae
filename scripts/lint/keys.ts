/**
 * Cache keys for `npm test`'s lint (scripts/lint/index.ts). A type-aware lint result of a
 * file depends on the file, on every project file it imports (directly or not: their
 * types flow into it), on the project's global declarations, and on the lint setup
 * (config, tsconfig, installed packages, Node). The key of a file is a sha256 of
 * exactly those; a file whose key has not changed since it linted clean is not linted
 * again. Anything else (a changed dependency, a new global, another package version)
 * gives a new key.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";

export interface LintKeyInputs {
  /** Absolute path of the project root (where tsconfig.json is). */
  readonly root: string;
  /** Absolute paths of the files to key (the files the linter would lint). */
  readonly files: readonly string[];
  /** Files (relative to root) every key depends on: lint config, tsconfig, lockfiles. */
  readonly setupFiles: readonly string[];
  /** Other inputs of every key (tool versions). */
  readonly extra: readonly string[];
}

/** A file that declares globals: a script (no import/export), a .d.ts, or `declare global` / `declare module`. */
function declaresGlobals(file: string, text: string): boolean {
  return file.endsWith(".d.ts") || /^\s*declare\s+(global|module)\b/m.test(text) || !/^\s*(import|export)\b/m.test(text);
}

/** Project files (not packages) that `file` imports, references or `import()`s, resolved as tsc resolves them. */
function projectImports(file: string, text: string, options: ts.CompilerOptions): string[] {
  const info = ts.preProcessFile(text, true, true);
  const out: string[] = [];
  for (const ref of info.referencedFiles) out.push(path.resolve(path.dirname(file), ref.fileName));
  for (const imp of info.importedFiles) {
    const r = ts.resolveModuleName(imp.fileName, file, options, ts.sys).resolvedModule;
    if (r && !r.isExternalLibraryImport) out.push(path.resolve(r.resolvedFileName));
  }
  return out;
}

/** sha256 per file (absolute path -> hex key). */
export function lintKeys(inputs: LintKeyInputs): Map<string, string> {
  const { root } = inputs;
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  const options = parsed?.options ?? {};
  const programFiles = (parsed?.fileNames ?? []).map((f) => path.resolve(f));

  const texts = new Map<string, string>();
  const text = (f: string): string => {
    let t = texts.get(f);
    if (t === undefined) {
      t = existsSync(f) ? readFileSync(f, "utf8") : "\0missing";
      texts.set(f, t);
    }
    return t;
  };
  const digest = (f: string): string => createHash("sha256").update(text(f)).digest("hex");

  // Every key: the setup, the tool versions, and each file that declares globals.
  const common = createHash("sha256");
  for (const rel of [...inputs.setupFiles].sort()) common.update(`setup ${rel}\0${digest(path.join(root, rel))}\0`);
  for (const e of inputs.extra) common.update(`extra ${e}\0`);
  for (const f of [...new Set([...programFiles, ...inputs.files])].sort()) {
    if (declaresGlobals(f, text(f))) common.update(`global ${path.relative(root, f)}\0${digest(f)}\0`);
  }
  const commonKey = common.digest("hex");

  const edges = new Map<string, string[]>();
  const deps = (f: string): string[] => {
    let d = edges.get(f);
    if (!d) {
      d = /\.(c|m)?tsx?$/.test(f) ? projectImports(f, text(f), options) : [];
      edges.set(f, d);
    }
    return d;
  };

  const keys = new Map<string, string>();
  for (const file of inputs.files) {
    const seen = new Set<string>([file]);
    const stack = [file];
    while (stack.length) {
      for (const d of deps(stack.pop()!)) {
        if (!seen.has(d)) {
          seen.add(d);
          stack.push(d);
        }
      }
    }
    const h = createHash("sha256").update(`${commonKey}\0file ${path.relative(root, file)}\0`);
    for (const f of [...seen].sort()) h.update(`${path.relative(root, f)}\0${digest(f)}\0`);
    keys.set(file, h.digest("hex"));
  }
  return keys;
}
