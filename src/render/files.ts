/**
 * Review rendering: every file a program would put on its hosts, written to
 * `<out>/<host>/<absolute path>`. Secrets never reach this code as plaintext: the
 * program is run under mocks whose secrets are visible markers.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { managedFiles, type ManagedFileRecord } from "../remote/command";

export interface RenderedFile {
  readonly host: string;
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret: boolean;
  readonly content: string;
  readonly resourceName: string;
  /** Shell the host runs after writing the file to rebuild derived files (not written out). */
  readonly assemble?: string;
}

/** The marker that stands for a secret value in rendered files. */
export function secretMarker(name: string): string {
  return `SECRET__${name.replace(/[^A-Za-z0-9_-]/g, "_")}__`;
}

/** What every marker looks like. */
export const SECRET_MARKER_PATTERN = /SECRET__[A-Za-z0-9_-]+?__/g;

async function resolve(value: pulumi.Input<string>): Promise<string> {
  return new Promise((ok) => pulumi.output(value).apply((v) => ok(v)));
}

/** Byte-order comparison: the same order on every machine and locale. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Resolve the content of managed files (by default every one registered in this
 * process), sorted by host and path. Two files at the same place are an error.
 */
export async function collectFiles(records: readonly ManagedFileRecord[] = managedFiles()): Promise<RenderedFile[]> {
  const out: RenderedFile[] = [];
  for (const f of records) {
    out.push({
      host: f.host,
      path: f.target.path,
      mode: f.target.mode,
      owner: f.target.owner,
      group: f.target.group,
      secret: f.secret,
      content: await resolve(f.content),
      resourceName: f.resourceName,
      ...(f.target.assemble !== undefined ? { assemble: f.target.assemble } : {}),
    });
  }
  out.sort((a, b) => byCodeUnits(a.host, b.host) || byCodeUnits(a.path, b.path));
  for (let i = 1; i < out.length; i++) {
    const [a, b] = [out[i - 1]!, out[i]!];
    if (a.host === b.host && a.path === b.path) {
      throw new Error(`${a.host}:${a.path} is managed twice (resources "${a.resourceName}" and "${b.resourceName}")`);
    }
  }
  return out;
}

/** Where a file lands under `outDir`; refuses paths that would escape `outDir/<host>`. */
export function renderedPath(outDir: string, f: Pick<RenderedFile, "host" | "path">): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(f.host)) throw new Error(`host name ${JSON.stringify(f.host)} cannot be a directory name`);
  if (!f.path.startsWith("/") || path.posix.normalize(f.path) !== f.path || f.path.endsWith("/")) {
    throw new Error(`${f.host}: ${JSON.stringify(f.path)} is not a normalized absolute file path`);
  }
  return path.join(outDir, f.host, ...f.path.slice(1).split("/"));
}

export const INDEX_COLUMNS = ["host", "path", "owner", "group", "mode", "secret", "resource"] as const;

/** The INDEX.tsv text: `#` header lines, a column line, one row per file. */
export function renderIndex(files: readonly RenderedFile[], header: readonly string[] = []): string {
  const rows = files.map((f) => [f.host, f.path, f.owner, f.group, f.mode, f.secret ? "secret" : "-", f.resourceName].join("\t"));
  return [...header.map((h) => (h.startsWith("#") ? h : `# ${h}`)), INDEX_COLUMNS.join("\t"), ...rows].join("\n") + "\n";
}

/**
 * Write files under `outDir/<host>/<path>` (with the target's mode) plus INDEX.tsv
 * listing owner, group, mode and the secret flag. Returns the index text.
 */
export function writeFiles(outDir: string, files: readonly RenderedFile[], header: readonly string[] = []): string {
  mkdirSync(outDir, { recursive: true });
  for (const f of files) {
    const dest = renderedPath(outDir, f);
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, f.content, { mode: 0o600 });
    chmodSync(dest, parseInt(f.mode, 8) & 0o777);
  }
  const index = renderIndex(files, header);
  writeFileSync(path.join(outDir, "INDEX.tsv"), index);
  return index;
}
