/**
 * The one git checkout of the library: a repository at a pinned ref into a working
 * tree on a host. Every source checkout (an app's tree, a git-sourced compose file, a
 * DAARION node's repository, Daedalus's code) is built here, so a fix to how we fetch
 * (quoting, a moved remote, a sparse tree that was full before) lands everywhere at once.
 * Pure: shell lines built with the quoting helper; nothing runs here.
 */
import { sh } from "./quote";

export interface GitCheckout {
  /** Repository URL (checked by the `gitUrl` rule before it gets here). */
  readonly url: string;
  /** Branch, tag or commit to check out (the `gitRef` rule). */
  readonly ref: string;
  /**
   * The working tree, created when missing and entered. Omit it to check out into the
   * current directory (a task with `cwd`).
   */
  readonly directory?: string;
  /**
   * Mode of `directory`, set with `install -d -m` (also on an existing directory).
   * @default created with `mkdir -p` under the script's umask
   */
  readonly directoryMode?: string;
  /**
   * `"shallow"`: the ref's commit only (`--depth 1`). `"treeless"`: its history without
   * file contents (`--filter=blob:none`), for the `mergedInto` ancestry check.
   * @default "shallow"
   */
  readonly history?: "shallow" | "treeless";
  /**
   * The commit `ref` named when it was resolved (at preview, `src/git/refs.ts`): if the ref
   * has moved since, this commit is fetched by id and checked out instead, and a server that
   * cannot serve it fails the checkout naming both. @default whatever `ref` names when it runs
   */
  readonly commit?: string;
  /** Check out only this path of the repository (sparse checkout); the whole tree otherwise. */
  readonly sparsePath?: string;
  /**
   * Refuse a commit that is not in this branch of the same remote (fetched as
   * `refs/remotes/origin/<branch>`), with `why` appended to the message.
   */
  readonly mergedInto?: { readonly branch: string; readonly why: string };
}

/**
 * Lines (POSIX sh) that leave the working tree at the ref's commit, with the shell in it
 * and `$commit` holding the commit. The remote is set anew on every run (a changed URL
 * takes effect); tracked files are reset to the ref, untracked ones (an `.env`, a nested
 * checkout) are kept. The caller adds its umask before and what it prints after.
 */
export function gitCheckoutLines(c: GitCheckout): string[] {
  const fetch = c.history === "treeless" ? "--filter=blob:none" : "--depth 1";
  const lines: string[] = [];
  if (c.directory !== undefined) {
    lines.push(c.directoryMode !== undefined ? `install -d -m ${sh(c.directoryMode)} ${sh(c.directory)}` : `mkdir -p ${sh(c.directory)}`, `cd ${sh(c.directory)}`);
  }
  lines.push("[ -d .git ] || git init -q .", "git remote remove origin >/dev/null 2>&1 || true", `git remote add origin ${sh(c.url)}`);
  lines.push(
    ...(c.sparsePath !== undefined
      ? ["git config core.sparseCheckout true", `printf '%s\\n' ${sh(`/${c.sparsePath}`)} > .git/info/sparse-checkout`]
      : ["git config core.sparseCheckout false", "rm -f .git/info/sparse-checkout"]),
  );
  lines.push(`git fetch -q ${fetch} origin ${sh(c.ref)}`, `commit=$(git rev-parse 'FETCH_HEAD^{commit}')`);
  if (c.commit !== undefined) {
    const moved = `fleet: ${c.ref} of ${c.url} no longer names ${c.commit} (previewed) and that commit cannot be fetched; run pulumi preview and up again`;
    lines.push(`if [ "$commit" != ${sh(c.commit)} ]; then git fetch -q ${fetch} origin ${sh(c.commit)} || { echo ${sh(moved)} >&2; exit 1; }; commit=${sh(c.commit)}; fi`);
  }
  if (c.mergedInto) {
    const branch = `refs/remotes/origin/${c.mergedInto.branch}`;
    lines.push(
      `git fetch -q ${fetch} origin ${sh(`+refs/heads/${c.mergedInto.branch}:${branch}`)}`,
      `if ! git merge-base --is-ancestor "$commit" ${sh(branch)}; then`,
      `  echo ${sh(`fleet: ${c.ref} (`)}"$commit"${sh(`) is not merged into ${c.mergedInto.branch} of ${c.url}; ${c.mergedInto.why}`)} >&2`,
      "  exit 1",
      "fi",
    );
  }
  lines.push(`git checkout -q --force "$commit"`);
  if (c.sparsePath === undefined) {
    // A tree that was sparse before keeps its skip-worktree bits: clear them.
    lines.push(`if git ls-files -v | grep -q '^S '; then git ls-files -z | xargs -0 git update-index --no-skip-worktree; git checkout -q --force HEAD -- .; fi`);
  }
  return lines;
}

/** `gitCheckoutLines` as a script that prints the commit checked out. */
export function gitCheckoutScript(c: GitCheckout): string {
  return [...gitCheckoutLines(c), `echo "$commit"`].join("\n");
}
