/**
 * The repository at a node's pinned ref: the checkout script of the `<node>-repo` task.
 */
import { sh } from "../../../src/remote/quote";
import { REPO_DIR, ROOT } from "../layout";
import { type NodePlan } from "../plan";

export interface CheckoutOptions {
  readonly root: string;
  readonly repoDir: string;
}

/**
 * The repository at the pinned ref into `.repo` (history without blobs, so the
 * merged-into-main check can walk it), the check that a production ref is merged into
 * the main branch, then `migrations/` mirrored into the node directory.
 */
export function checkoutScript(plan: Pick<NodePlan, "repo" | "requireMerged" | "mainBranch">, paths: CheckoutOptions = { root: ROOT, repoDir: REPO_DIR }): string {
  const { url, ref } = plan.repo;
  const lines = [
    "umask 022",
    `repo=${sh(paths.repoDir)}`,
    `root=${sh(paths.root)}`,
    `mkdir -p "$repo"`,
    `cd "$repo"`,
    "[ -d .git ] || git init -q",
    "git remote remove origin >/dev/null 2>&1 || true",
    `git remote add origin ${sh(url)}`,
    `git fetch -q --filter=blob:none origin ${sh(ref)}`,
    `commit=$(git rev-parse 'FETCH_HEAD^{commit}')`,
  ];
  if (plan.requireMerged) {
    const branch = `refs/remotes/origin/${plan.mainBranch}`;
    lines.push(
      `git fetch -q --filter=blob:none origin ${sh(`+refs/heads/${plan.mainBranch}:${branch}`)}`,
      `if ! git merge-base --is-ancestor "$commit" ${sh(branch)}; then`,
      `  echo ${sh(`fleet: ${ref} (`)}"$commit"${sh(`) is not merged into ${plan.mainBranch} of ${url}; merge it first (daarion-node-standards.md Pre-Deployment: Git branch merged to main)`)} >&2`,
      "  exit 1",
      "fi",
    );
  }
  lines.push(
    `git checkout -q --force "$commit"`,
    `if [ ! -d migrations ]; then echo ${sh(`fleet: ${url} at ${ref} has no migrations/ directory`)} >&2; exit 1; fi`,
    // Mirror: a migration removed from the repository disappears from the node too.
    `rm -rf "$root/.migrations.next" "$root/.migrations.prev"`,
    `cp -R migrations "$root/.migrations.next"`,
    `if [ -d "$root/migrations" ]; then mv "$root/migrations" "$root/.migrations.prev"; fi`,
    `mv "$root/.migrations.next" "$root/migrations"`,
    `rm -rf "$root/.migrations.prev"`,
    `echo ${sh(`fleet: ${url} at ${ref} = `)}"$commit"`,
  );
  return lines.join("\n");
}
