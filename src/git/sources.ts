/**
 * Every app source of a stack resolved at preview, in one step before any resource: the
 * ref to its commit (`refs.ts`), then the files the app's checks need read at that
 * commit (`files.ts`). Any failure, of any app, is one RunError listing them all, so a
 * preview either knows every app's commit and files or stops naming what it could not get.
 * The stacks pass the result to their AppDeployments as `source.commit` and `source.files`.
 */
import { type GitReader, gitFileReader, type ReadFiles, type ReadTree, type TreeKind } from "./files";
import { type LsRemote, refKey, resolveGitRefs, settleEach } from "./refs";

export interface SourceRequest {
  readonly url: string;
  readonly ref: string;
  /** A commit pinned in config: used as it is, the ref is not looked up. */
  readonly commit?: string | undefined;
  /**
   * Paths in the repository the app's checks read (the compose file, …); a path ending
   * in `/` reads every file directly in that directory (see `ReadFiles`). @default none
   */
  readonly files?: readonly string[];
  /** Also list the repository's tree at the commit (where build contexts lie). @default false */
  readonly tree?: boolean;
}

export interface ResolvedSource {
  readonly url: string;
  readonly ref: string;
  readonly commit: string;
  /**
   * Each requested path's text at the commit, absent when the path is not a file there;
   * `undefined` when nothing was read (`readFiles: false`).
   */
  readonly files: Readonly<Record<string, string>> | undefined;
  /** Every path at the commit and its kind, when a request asked for it and trees are read. */
  readonly tree?: ReadonlyMap<string, TreeKind> | undefined;
}

export interface SourceAccess {
  /** `git ls-remote`; tests and offline renders pass theirs. @default the real git */
  readonly lsRemote?: LsRemote | undefined;
  /**
   * Reads files at a commit; `false` reads nothing (an offline render: the checks that
   * need the app's files then do not run). @default {@link gitFileReader} with its cache
   */
  readonly readFiles?: ReadFiles | GitReader | false | undefined;
  /**
   * Lists a commit's tree. @default the `tree` of `readFiles` when it has one (a
   * {@link gitFileReader}); none otherwise (the checks on the tree then do not run)
   */
  readonly readTree?: ReadTree | undefined;
}

/** The key of a request in the result: `<url>#<ref>`. */
export const sourceKey = refKey;

/** Resolve every request (deduplicated by url#ref), then read its files; one error for all failures. */
export async function resolveSources(
  requests: readonly SourceRequest[],
  opts: SourceAccess & { readonly subject: string },
): Promise<ReadonlyMap<string, ResolvedSource>> {
  const pinned = new Map<string, string>();
  for (const r of requests) if (r.commit) pinned.set(refKey(r), r.commit);
  const toLookUp = requests.filter((r) => !pinned.has(refKey(r)));
  const commits = new Map(pinned);
  if (toLookUp.length) {
    const found = await resolveGitRefs(toLookUp, { subject: opts.subject, ...(opts.lsRemote ? { lsRemote: opts.lsRemote } : {}) });
    for (const [k, v] of found) commits.set(k, v);
  }
  const paths = new Map<string, Set<string>>();
  const trees = new Set<string>();
  for (const r of requests) {
    const set = paths.get(refKey(r)) ?? new Set<string>();
    for (const p of r.files ?? []) set.add(p);
    paths.set(refKey(r), set);
    if (r.tree) trees.add(refKey(r));
  }
  const read: ReadFiles | undefined = opts.readFiles === false ? undefined : (opts.readFiles ?? gitFileReader());
  const readTree: ReadTree | undefined = read === undefined ? undefined : (opts.readTree ?? ("tree" in read ? (read as GitReader).tree : undefined));
  return settleEach(requests, opts.subject, async (r): Promise<ResolvedSource> => {
    const wanted = [...paths.get(refKey(r))!].sort();
    const commit = commits.get(refKey(r))!;
    if (!read) return { url: r.url, ref: r.ref, commit, files: undefined };
    const files: Record<string, string> = {};
    if (wanted.length) {
      const got = await read(r.url, r.ref, commit, wanted);
      for (const p of wanted) {
        const text = got.get(p);
        if (text !== undefined) files[p] = text;
        // A directory: its files too (`dir/` itself marks that it exists).
        if (p.endsWith("/")) for (const [k, v] of got) if (v !== undefined && k.startsWith(p) && !k.slice(p.length).includes("/")) files[k] = v;
      }
    }
    const tree = readTree && trees.has(refKey(r)) ? await readTree(r.url, r.ref, commit) : undefined;
    return { url: r.url, ref: r.ref, commit, files, ...(tree ? { tree } : {}) };
  });
}
