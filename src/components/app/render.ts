/**
 * Pure pieces of MenagerieApp: the checkout script and the names it derives. No
 * Pulumi, no I/O.
 */
import { sh } from "../../remote/quote";

/**
 * Check out `ref` of `url` into `directory` itself (shallow), so the compose file's
 * build contexts (`build: .`) and relative mounts resolve against the source, as they
 * do for `docker compose -f compose.cloud.yml` run in a clone. Untracked files beside
 * it (`.env`, the `.src` checkout of ComposeStack) are kept; tracked files are reset
 * to the ref. Prints the commit checked out.
 */
export function checkoutScript(directory: string, repo: { readonly url: string; readonly ref: string }): string {
  return [
    `install -d -m 0750 ${sh(directory)}`,
    `cd ${sh(directory)}`,
    `if [ ! -d .git ]; then git init -q .; fi`,
    `if git remote get-url origin >/dev/null 2>&1; then git remote set-url origin ${sh(repo.url)}; else git remote add origin ${sh(repo.url)}; fi`,
    `git fetch -q --depth 1 origin ${sh(repo.ref)}`,
    `git checkout -q --force FETCH_HEAD`,
    `git rev-parse HEAD`,
  ].join("\n");
}

/** The compose project of an app: `<slug>-cloud`. */
export function cloudProject(slug: string): string {
  return `${slug}-cloud`;
}

/** The Caddy path matcher of an app: `/<slug>*`. */
export function appRoutePath(slug: string): string {
  return `/${slug}*`;
}

/** The revision deployed, as a trigger: `<url>#<ref>`. */
export function revisionOf(repo: { readonly url: string; readonly ref: string }): string {
  return `${repo.url}#${repo.ref}`;
}
