/**
 * The repository at a node's pinned ref, and its migrations mirrored beside it: the
 * script of the `<node>-repo` task (the checkout itself is the library's one, src/remote/checkout.ts).
 */
import { gitCheckoutLines } from "../../../src/remote/checkout";
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
export function repoSyncScript(
  plan: Pick<NodePlan, "repo" | "requireMerged" | "mainBranch"> & { readonly commit?: string | undefined },
  paths: CheckoutOptions = { root: ROOT, repoDir: REPO_DIR },
): string {
  const { url, ref } = plan.repo;
  return [
    "umask 022",
    `root=${sh(paths.root)}`,
    ...gitCheckoutLines({
      url,
      ref,
      directory: paths.repoDir,
      history: "treeless",
      // The commit previewed, even if the ref has moved since.
      ...(plan.commit ? { commit: plan.commit } : {}),
      ...(plan.requireMerged
        ? { mergedInto: { branch: plan.mainBranch, why: "merge it first (daarion-node-standards.md Pre-Deployment: Git branch merged to main)" } }
        : {}),
    }),
    `if [ ! -d migrations ]; then echo ${sh(`fleet: ${url} at ${ref} has no migrations/ directory`)} >&2; exit 1; fi`,
    // Mirror: a migration removed from the repository disappears from the node too.
    `rm -rf "$root/.migrations.next" "$root/.migrations.prev"`,
    `cp -R migrations "$root/.migrations.next"`,
    `if [ -d "$root/migrations" ]; then mv "$root/migrations" "$root/.migrations.prev"; fi`,
    `mv "$root/.migrations.next" "$root/migrations"`,
    `rm -rf "$root/.migrations.prev"`,
    `echo ${sh(`fleet: ${url} at ${ref} = `)}"$commit"`,
  ].join("\n");
}
