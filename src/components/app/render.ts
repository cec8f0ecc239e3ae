/**
 * Pure pieces of MenagerieApp: the names it derives. No Pulumi, no I/O.
 */

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
