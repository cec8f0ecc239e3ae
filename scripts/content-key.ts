/**
 * A hash of every input some deterministic work reads, by path and bytes in a fixed order:
 * the key of the library consumer test's cache (test/helpers/content-cache.ts) and of the
 * package build `npm test`'s typecheck shares with it (scripts/lint/shared-build.ts).
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

export interface KeyInputs {
  /** Directories (relative to the root) whose every file, by path and content, is an input. */
  readonly trees?: readonly string[];
  /** Single files (relative); a missing one counts as "missing". */
  readonly files?: readonly string[];
  /** Other inputs (versions, command lines). */
  readonly extra?: readonly string[];
}

/** Every file (and symbolic link) under dir, recursively, as full paths; none when dir is missing. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(full));
    else if (entry.isFile() || entry.isSymbolicLink()) out.push(full);
  }
  return out;
}

/** sha256 over the inputs' paths and bytes, in a fixed order. */
export function contentKey(root: string, inputs: KeyInputs): string {
  const h = createHash("sha256");
  const files = [...(inputs.trees ?? []).flatMap((t) => filesUnder(path.join(root, t)).map((f) => path.relative(root, f))), ...(inputs.files ?? [])].sort();
  for (const rel of files) {
    const full = path.join(root, rel);
    h.update(`file ${rel}\0`);
    h.update(existsSync(full) ? readFileSync(full) : "missing");
    h.update("\0");
  }
  for (const e of inputs.extra ?? []) h.update(`extra ${e}\0`);
  return h.digest("hex");
}
