/**
 * Every app source of a stack resolved at preview, in one step before any resource: the
 * ref to its commit (`refs.ts`), then the files the app's checks need read at that
 * commit (`files.ts`). Any failure, of any app, is one RunError listing them all, so a
 * preview either knows every app's commit and files or stops naming what it could not get.
 * The stacks pass the result to their AppDeployments as `source.commit` and `source.files`.
 */
import { gitFileReader, type ReadFiles } from "./files";
import { GitRefLookupError, type LsRemote, refKey, resolveGitRefs } from "./refs";

export interface SourceRequest {
  readonly url: string;
  readonly ref: string;
  /** A commit pinned in config: used as it is, the ref is not looked up. */
  readonly commit?: string | undefined;
  /** Paths in the repository the app's checks read (the compose file, …). @default none */
  readonly files?: readonly string[];
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
}

export interface SourceAccess {
  /** `git ls-remote`; tests and offline renders pass theirs. @default the real git */
  readonly lsRemote?: LsRemote | undefined;
  /**
   * Reads files at a commit; `false` reads nothing (an offline render: the checks that
   * need the app's files then do not run). @default {@link gitFileReader} with its cache
   */
  readonly readFiles?: ReadFiles | false | undefined;
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
  for (const r of requests) {
    const set = paths.get(refKey(r)) ?? new Set<string>();
    for (const p of r.files ?? []) set.add(p);
    paths.set(refKey(r), set);
  }
  const unique = [...new Map(requests.map((r) => [refKey(r), { url: r.url, ref: r.ref }])).values()].sort((a, b) => refKey(a).localeCompare(refKey(b)));
  const read: ReadFiles | undefined = opts.readFiles === false ? undefined : (opts.readFiles ?? gitFileReader());
  const settled = await Promise.allSettled(
    unique.map(async (r) => {
      const wanted = [...paths.get(refKey(r))!].sort();
      const commit = commits.get(refKey(r))!;
      if (!read) return { url: r.url, ref: r.ref, commit, files: undefined } satisfies ResolvedSource;
      const files: Record<string, string> = {};
      if (wanted.length) {
        const got = await read(r.url, r.ref, commit, wanted);
        for (const p of wanted) {
          const text = got.get(p);
          if (text !== undefined) files[p] = text;
        }
      }
      return { url: r.url, ref: r.ref, commit, files } satisfies ResolvedSource;
    }),
  );
  const out = new Map<string, ResolvedSource>();
  const failures: { url: string; ref: string; reason: string }[] = [];
  settled.forEach((s, i) => {
    const r = unique[i]!;
    if (s.status === "rejected") failures.push({ ...r, reason: s.reason instanceof Error ? s.reason.message : String(s.reason) });
    else out.set(refKey(r), s.value);
  });
  if (failures.length) throw new GitRefLookupError(opts.subject, failures);
  return out;
}
