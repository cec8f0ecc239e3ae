/**
 * One TypeScript program for `npm test`'s typecheck and its type-aware lint. Both used to
 * build their own program of the same files (`tsc --noEmit` and typescript-eslint's
 * project service), parsing and checking everything twice: the lint hands this program to
 * typescript-eslint (`parserOptions.programs`), and the typecheck asks the same program
 * for exactly the diagnostics `tsc --noEmit -p tsconfig.json` reports, in tsc's order and
 * format. With a build-info file the program is tsc's incremental one: a repeated run
 * re-checks only what changed, like `tsc --incremental`.
 */
import ts from "typescript";
import { buildEmitOptions } from "./emit-build";

export interface ProjectProgram {
  /** The program of every file the tsconfig includes, with its type checker. */
  readonly program: ts.Program;
  /** What `tsc --noEmit -p <tsconfig>` reports for the program (and writes the build info, when kept). */
  typecheck(): readonly ts.Diagnostic[];
  /**
   * With `buildTsconfig`: the files the build compiles, when the program was given the
   * build's emit options (so it can emit them, scripts/lint/emit-build.ts), or why not.
   */
  readonly build?: { readonly fileNames: readonly string[] } | { readonly reason: string };
}

/**
 * The program `tsc --noEmit -p tsconfig` builds; with `buildInfoFile`, as
 * `--incremental --tsBuildInfoFile buildInfoFile` (the previous check's results reused
 * for unchanged files).
 */
export function projectProgram(tsconfig: string, buildInfoFile?: string, buildTsconfig?: string): ProjectProgram {
  const host: ts.ParseConfigFileHost = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(`${tsconfig}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    },
  };
  const cli: ts.CompilerOptions = buildInfoFile ? { noEmit: true, incremental: true, tsBuildInfoFile: buildInfoFile } : { noEmit: true };
  const config = ts.getParsedCommandLineOfConfigFile(tsconfig, cli, host);
  if (!config) throw new Error(`${tsconfig}: not read`);
  // The build's emit options (noEmit off, declarations, source maps) change no diagnostic of
  // tsc --noEmit: the checker only records which aliases declarations need. Nothing is
  // emitted for the typecheck itself: with them on, only the build info is written.
  const build = buildTsconfig ? buildEmitOptions(config, buildTsconfig) : undefined;
  const options = build && "options" in build ? build.options : config.options;
  const shared = build === undefined ? undefined : "reason" in build ? { reason: build.reason } : { fileNames: build.fileNames };
  const roots = { rootNames: config.fileNames, options, projectReferences: config.projectReferences, configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(config) };
  if (!buildInfoFile) {
    const program = ts.createProgram(roots);
    return { program, build: shared, typecheck: () => tscDiagnostics(program, () => (options.noEmit ? program.emit().diagnostics : [])) };
  }
  const builder = ts.createIncrementalProgram(roots);
  // With noEmit, the builder's emit writes only the build info; without, emitBuildInfo does
  // (TypeScript 5.9's builder has it; it is not in the public declarations).
  const emitBuildInfo = () => (builder as unknown as { emitBuildInfo(): ts.EmitResult }).emitBuildInfo().diagnostics;
  return { program: builder.getProgram(), build: shared, typecheck: () => tscDiagnostics(builder, () => (options.noEmit ? builder.emit().diagnostics : emitBuildInfo())) };
}

/** What a program and an incremental builder program both answer. */
interface DiagnosticSource {
  getCompilerOptions(): ts.CompilerOptions;
  getConfigFileParsingDiagnostics(): readonly ts.Diagnostic[];
  getSyntacticDiagnostics(): readonly ts.Diagnostic[];
  getOptionsDiagnostics(): readonly ts.Diagnostic[];
  getGlobalDiagnostics(): readonly ts.Diagnostic[];
  getSemanticDiagnostics(): readonly ts.Diagnostic[];
  getDeclarationDiagnostics(): readonly ts.Diagnostic[];
}

/**
 * tsc's own sequence (emitFilesAndReportErrors in TypeScript 5.9): semantic diagnostics
 * only when the files parse and the options are valid, declaration diagnostics under
 * noEmit when declarations are on, then the emit's, sorted and deduplicated.
 */
function tscDiagnostics(p: DiagnosticSource, emit: () => readonly ts.Diagnostic[]): readonly ts.Diagnostic[] {
  const options = p.getCompilerOptions();
  const all: ts.Diagnostic[] = [...p.getConfigFileParsingDiagnostics()];
  const configCount = all.length;
  all.push(...p.getSyntacticDiagnostics());
  if (all.length === configCount) {
    all.push(...p.getOptionsDiagnostics(), ...p.getGlobalDiagnostics());
    if (all.length === configCount) all.push(...p.getSemanticDiagnostics());
    if (options.noEmit && (options.declaration || options.composite) && all.length === configCount) all.push(...p.getDeclarationDiagnostics());
  }
  all.push(...emit());
  return ts.sortAndDeduplicateDiagnostics(all);
}

/** Diagnostics as tsc prints them when its output is not a terminal: `file(line,col): error TSnnnn: message`, paths relative to `cwd`. */
export function formatTsc(diagnostics: readonly ts.Diagnostic[], cwd: string): string {
  return ts.formatDiagnostics(diagnostics, { getCurrentDirectory: () => cwd, getCanonicalFileName: (f) => f, getNewLine: () => "\n" });
}
