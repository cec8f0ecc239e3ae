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
