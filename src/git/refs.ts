/**
 * An app's `ref` (branch, tag or commit) resolved to the commit it names, at preview,
 * with `git ls-remote` against the app's repository: a branch that moved shows up as a
 * change, a ref that does not exist stops the preview. Like the image digests, every
 * lookup runs before any resource, all at once, and failures come back as one RunError.
 */
import { execFile } from "node:child_process";

export interface GitRefRequest {
  readonly url: string;
  readonly ref: string;
}

/** `git ls-remote <url> <patterns...>`: its stdout (`<sha>\t<refname>` lines). */
export type LsRemote = (url: string, patterns: readonly string[]) => Promise<string>;

/** The key of a request in the result map: `<url>#<ref>`. */
export function refKey(r: GitRefRequest): string {
  return `${r.url}#${r.ref}`;
}

const FULL_COMMIT = /^[0-9a-f]{40}$/;

/** Failed lookups, one line each. A RunError (brand below): Pulumi prints the message alone. */
export class GitRefLookupError extends Error {
  readonly __pulumiRunError = true;
  readonly failures: readonly { readonly url: string; readonly ref: string; readonly reason: string }[];

  constructor(subject: string, failures: readonly { url: string; ref: string; reason: string }[]) {
    const lines = failures.map((f) => `${f.ref} of ${f.url}: ${f.reason}`);
    super(
      failures.length === 1
        ? `${subject}: cannot resolve ${lines[0]}`
        : `${subject}: cannot resolve ${failures.length} git refs:\n${lines.map((l) => `  - ${l}`).join("\n")}`,
    );
    this.name = "GitRefLookupError";
    this.failures = failures;
    this.stack = `${this.name}: ${this.message}`;
  }
}

/** The refs `ls-remote` is asked for: the full name as given, else the branch and the tag. */
export function refPatterns(ref: string): string[] {
  if (ref.startsWith("refs/")) return [ref, `${ref}^{}`];
  return [`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/tags/${ref}^{}`];
}

/**
 * The commit `ref` names in an `ls-remote` listing; an annotated tag gives the commit it
 * points to (its `^{}` line). Throws a one-line reason when there is none or two.
 */
export function pickCommit(ref: string, listing: string): string {
  const refs = new Map<string, string>();
  for (const line of listing.split("\n")) {
    const m = /^([0-9a-f]{40})\t(\S+)$/.exec(line.trim());
    if (m) refs.set(m[2]!, m[1]!);
  }
  const resolve = (name: string) => refs.get(`${name}^{}`) ?? refs.get(name);
  if (ref.startsWith("refs/")) {
    const c = resolve(ref);
    if (!c) throw new Error(`the repository has no ${ref}`);
    return c;
  }
  const branch = refs.get(`refs/heads/${ref}`);
  const tag = resolve(`refs/tags/${ref}`);
  if (branch && tag && branch !== tag) {
    throw new Error(`it is both a branch (${branch}) and a tag (${tag}); name one: refs/heads/${ref} or refs/tags/${ref}`);
  }
  const c = branch ?? tag;
  if (!c) {
    const hint = /^[0-9a-f]{4,39}$/.test(ref) ? " (a commit must be given in full: 40 hex digits)" : "";
    throw new Error(`the repository has no branch or tag named ${ref}${hint}`);
  }
  return c;
}

/** git itself, with no prompt for credentials (a preview must not hang on one) and a time limit. */
export const gitLsRemote: LsRemote = (url, patterns) =>
  new Promise((resolve, reject) => {
    execFile(
      "git",
      ["ls-remote", "--", url, ...patterns],
      { env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes" }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const text = `${String(stderr).trim() || err.message}`.split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
          reject(new Error(text.length > 300 ? `${text.slice(0, 297)}...` : text));
        } else resolve(String(stdout));
      },
    );
  });

export interface ResolveOptions {
  /** What is being deployed, first on the error line, e.g. `stack ouranos`. */
  readonly subject: string;
  /** The lookup; tests inject theirs. @default git ls-remote */
  readonly lsRemote?: LsRemote;
}

/** Each distinct url#ref of `requests` once, in `refKey` order. */
export function uniqueRequests(requests: readonly GitRefRequest[]): GitRefRequest[] {
  return [...new Map(requests.map((r) => [refKey(r), { url: r.url, ref: r.ref }])).values()].sort((a, b) => refKey(a).localeCompare(refKey(b)));
}

/**
 * `work` for each distinct url#ref, all at once: the results keyed by `refKey`, or one
 * GitRefLookupError listing every request that failed (the shape of every lookup at preview).
 */
export async function settleEach<T>(requests: readonly GitRefRequest[], subject: string, work: (r: GitRefRequest) => Promise<T>): Promise<Map<string, T>> {
  const unique = uniqueRequests(requests);
  const settled = await Promise.allSettled(unique.map(work));
  const out = new Map<string, T>();
  const failures: { url: string; ref: string; reason: string }[] = [];
  settled.forEach((s, i) => {
    const r = unique[i]!;
    if (s.status === "rejected") failures.push({ url: r.url, ref: r.ref, reason: s.reason instanceof Error ? s.reason.message : String(s.reason) });
    else out.set(refKey(r), s.value);
  });
  if (failures.length) throw new GitRefLookupError(subject, failures);
  return out;
}

/**
 * The commit of each request, keyed by `refKey`. A full commit is taken as it is (no
 * lookup: ls-remote lists only refs). Each distinct url#ref is looked up once, all at
 * once; any failure throws one GitRefLookupError listing them all.
 */
export async function resolveGitRefs(requests: readonly GitRefRequest[], opts: ResolveOptions): Promise<ReadonlyMap<string, string>> {
  const lsRemote = opts.lsRemote ?? gitLsRemote;
  return settleEach(requests, opts.subject, async (r) => (FULL_COMMIT.test(r.ref) ? r.ref : pickCommit(r.ref, await lsRemote(r.url, refPatterns(r.ref)))));
}
