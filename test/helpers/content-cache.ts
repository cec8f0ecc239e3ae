/**
 * A cache of expensive, deterministic test work (the library consumer test's pack and
 * strict type-check) in the git-ignored .cache/, keyed by a hash of every input the
 * work reads. Same inputs, same key: the stored result is reused; any changed byte in
 * an input gives a new key and the work runs again. One entry is kept per cache
 * directory (the newest), so it does not grow. The key: scripts/content-key.ts.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import * as path from "node:path";

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
