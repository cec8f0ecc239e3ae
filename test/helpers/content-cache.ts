/**
 * A cache of expensive, deterministic test work (the library consumer test's pack and
 * strict type-check) in the git-ignored .cache/, keyed by a hash of every input the
 * work reads. Same inputs, same key: the stored result is reused; any changed byte in
 * an input gives a new key and the work runs again. One entry is kept per cache
 * directory (the newest), so it does not grow.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import * as path from "node:path";

export interface KeyInputs {
  /** Directories (relative to the root) whose every file, by path and content, is an input. */
  readonly trees?: readonly string[];
  /** Single files (relative); a missing one counts as "missing". */
  readonly files?: readonly string[];
  /** Other inputs (versions, command lines). */
  readonly extra?: readonly string[];
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(full);
  }
  return out;
}

/** sha256 over the inputs' paths and bytes, in a fixed order. */
export function contentKey(root: string, inputs: KeyInputs): string {
  const h = createHash("sha256");
  const files = [...(inputs.trees ?? []).flatMap((t) => walk(path.join(root, t)).map((f) => path.relative(root, f))), ...(inputs.files ?? [])].sort();
  for (const rel of files) {
    const full = path.join(root, rel);
    h.update(`file ${rel}\0`);
    h.update(existsSync(full) ? readFileSync(full) : "missing");
    h.update("\0");
  }
  for (const e of inputs.extra ?? []) h.update(`extra ${e}\0`);
  return h.digest("hex");
}

export class ContentCache {
  constructor(readonly dir: string) {}

  /** The stored directory for `key`, or undefined. */
  get(key: string): string | undefined {
    const entry = path.join(this.dir, key);
    return existsSync(entry) ? entry : undefined;
  }

  /** Move `workDir` in as the entry for `key` (dropping older entries); returns where it now is. */
  put(key: string, workDir: string): string {
    mkdirSync(this.dir, { recursive: true });
    const entry = path.join(this.dir, key);
    for (const old of readdirSync(this.dir)) if (old !== key) rmSync(path.join(this.dir, old), { recursive: true, force: true });
    if (existsSync(entry)) return entry;
    try {
      renameSync(workDir, entry);
    } catch {
      // Another filesystem (/tmp on tmpfs): keep using the work dir; nothing is stored.
      return workDir;
    }
    return entry;
  }
}
