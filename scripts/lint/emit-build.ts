/**
 * The typecheck's side of the shared package build (scripts/lint/shared-build.ts): which
 * options let the typecheck's program emit exactly what `tsc -p tsconfig.build.json` writes,
 * and the emit of the build's files from that program once it is checked.
 */
import { rmSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { sha256, SHIPPED_DIR, type Stamp } from "./shared-build";

/** The emit options the build adds to tsconfig.json; every other option must be the same. */
const EMIT_OPTIONS = ["noEmit", "declaration", "sourceMap"] as const;
/** Options that name the config or the typecheck's build info, not what is compiled. */
const IGNORED_OPTIONS = new Set<string>(["configFilePath", "incremental", "tsBuildInfoFile", ...EMIT_OPTIONS]);

/**
 * The options to give the typecheck's program so that it can emit the build: tsconfig.json's
 * (`checked`) with the build's emit options, or why not. Only the emit options may differ.
 */
export function buildEmitOptions(checked: ts.ParsedCommandLine, buildTsconfig: string): { options: ts.CompilerOptions; fileNames: readonly string[] } | { reason: string } {
  const build = ts.getParsedCommandLineOfConfigFile(buildTsconfig, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  if (!build) return { reason: `${buildTsconfig}: not read` };
  if (build.errors.length) return { reason: `${buildTsconfig}: ${ts.flattenDiagnosticMessageText(build.errors[0]!.messageText, "\n")}` };
  const keys = new Set([...Object.keys(build.options), ...Object.keys(checked.options)].filter((k) => !IGNORED_OPTIONS.has(k)));
  for (const k of keys) {
    if (JSON.stringify(build.options[k]) !== JSON.stringify(checked.options[k])) return { reason: `compiler option ${k} differs between the build and the typecheck` };
  }
  if (build.options.noEmit) return { reason: `${buildTsconfig} has noEmit` };
  const checkedFiles = new Set(checked.fileNames);
  const outside = build.fileNames.find((f) => !checkedFiles.has(f));
  if (outside) return { reason: `${outside} is built but not type-checked` };
  const options: ts.CompilerOptions = { ...checked.options };
  for (const k of EMIT_OPTIONS) {
    if (build.options[k] === undefined) delete options[k];
    else options[k] = build.options[k];
  }
  return { options, fileNames: build.fileNames };
}

/**
 * Emit the build's files from `program` (already type-checked) into dist, dropping what an
 * older build left under dist/src, and return the stamp to write. `ok` is false when the
 * program has errors (the real build would fail) or the emit reports any.
 */
export function emitBuild(root: string, program: ts.Program, fileNames: readonly string[], run: string, key: string, typeErrors: number): Stamp {
  if (typeErrors > 0) return { run, key, ok: false, reason: `the typecheck reported ${typeErrors} errors`, files: {} };
  rmSync(path.join(root, SHIPPED_DIR), { recursive: true, force: true });
  const files: Record<string, string> = {};
  const problems: string[] = [];
  for (const name of fileNames) {
    const sf = program.getSourceFile(name);
    if (!sf || sf.isDeclarationFile) continue;
    const r = program.emit(sf, (file, text) => {
      ts.sys.writeFile(file, text);
      files[path.relative(root, file)] = sha256(text);
    });
    if (r.emitSkipped) problems.push(`${path.relative(root, name)}: emit skipped`);
    for (const d of r.diagnostics) problems.push(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
  }
  if (problems.length) return { run, key, ok: false, reason: problems[0], files: {} };
  return { run, key, ok: true, files };
}

