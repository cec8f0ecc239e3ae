import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runProcessSync } from "./spawn";

/**
 * The real git in `cwd`, with a fixed author and `main` as the default branch, for tests that
 * build local repositories; throws with git's message on failure, returns stdout trimmed.
 */
export function git(cwd: string, ...args: string[]): string {
  const r = runProcessSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main", ...args], { cwd });
  if (r.code !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim();
}

/** What a commit does to a path: its new text, a symbolic link to `link`, or `null` to remove it. */
export type FileChange = string | { readonly link: string } | null;

/** A local bare repository standing for an app's remote, and a clone that pushes to it. */
export interface TestRepository {
  /** The bare repository (what the configured URL is answered from). */
  readonly bare: string;
  /** The working clone. */
  readonly clone: string;
  /** Commit `files` (path → change; parents made) on `branch`, force-push it, return the commit. */
  commit(branch: string, files: Readonly<Record<string, FileChange>>, message: string): string;
  /** Tag the clone's HEAD (annotated when `message`) and push the tag. */
  tag(name: string, message?: string): string;
}

/**
 * `<work>/<name>.git` (bare) and `<work>/<name>` (its clone, remote `origin`). `allowFilter`:
 * the bare repository serves `--filter=blob:none` fetches, as GitHub does.
 */
export function testRepository(work: string, name: string, opts: { readonly allowFilter?: boolean } = {}): TestRepository {
  const bare = join(work, `${name}.git`);
  const clone = join(work, name);
  git(work, "init", "-q", "--bare", bare);
  if (opts.allowFilter) git(bare, "config", "uploadpack.allowFilter", "true");
  git(work, "init", "-q", clone);
  git(clone, "remote", "add", "origin", bare);
  return {
    bare,
    clone,
    commit(branch, files, message) {
      git(clone, "checkout", "-q", "-B", branch);
      for (const [path, change] of Object.entries(files)) {
        const at = join(clone, path);
        if (change === null) {
          unlinkSync(at);
          continue;
        }
        mkdirSync(dirname(at), { recursive: true });
        if (typeof change === "string") writeFileSync(at, change);
        else symlinkSync(change.link, at);
      }
      git(clone, "add", "-A");
      git(clone, "commit", "-q", "--allow-empty", "-m", message);
      git(clone, "push", "-q", "-f", "origin", `HEAD:refs/heads/${branch}`);
      return git(clone, "rev-parse", "HEAD");
    },
    tag(tagName, message) {
      git(clone, "tag", ...(message !== undefined ? ["-a", "-m", message] : []), tagName);
      git(clone, "push", "-q", "origin", tagName);
      return git(clone, "rev-parse", `${tagName}^{commit}`);
    },
  };
}
