/**
 * The app's own files at the commit its ref was resolved to, read at preview: a local
 * bare repository per URL (a cache, `~/.cache/pulumi-fleet/git/<sha256 of the URL>.git`)
 * fetches that one commit (`--depth 1`), then `git cat-file` reads each path and `git
 * ls-tree` lists the tree. Checks that need the app's files (compose variables, published
 * ports, external networks, build contexts) run on what this returns, before any
 * resource of the app is registered.
 */
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { sha256 } from "../hash";

/** What a path of a repository's tree is at a commit: a directory, a file, a symbolic link, a submodule. */
export type TreeKind = "tree" | "blob" | "link" | "commit";

/**
 * The text of each path at `commit` (`undefined`: no such file there). A path ending in
 * `/` names a directory: the result holds each file directly in it (`dir/name`), and the
 * path itself (text `""`) when the directory exists at that commit.
 */
export type ReadFiles = (url: string, ref: string, commit: string, paths: readonly string[]) => Promise<ReadonlyMap<string, string | undefined>>;

/** Every path of the repository at `commit` (directories included) and what it is. */
export type ReadTree = (url: string, ref: string, commit: string) => Promise<ReadonlyMap<string, TreeKind>>;

/** A {@link ReadFiles} that also lists trees (the one {@link gitFileReader} returns). */
export type GitReader = ReadFiles & { readonly tree: ReadTree };

export interface GitFileReaderOptions {
  /** Where the bare repositories live. @default `$XDG_CACHE_HOME/pulumi-fleet/git` or `~/.cache/pulumi-fleet/git` */
  readonly cacheDir?: string;
  /** The URL git fetches from, when it differs from the configured one (tests: a local bare repository). @default the URL itself */
  readonly fetchUrl?: (url: string) => string;
}

/** The default cache directory of {@link gitFileReader}. */
export function defaultGitCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "pulumi-fleet", "git");
}

function run(cwd: string, args: readonly string[], maxBuffer = 16 * 1024 * 1024): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "git",
      [...args],
      { cwd, env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? "ssh -o BatchMode=yes" }, timeout: 120_000, maxBuffer },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function oneLine(text: string): string {
  const t = text.split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
  return t.length > 300 ? `${t.slice(0, 297)}...` : t;
}

/**
 * A {@link ReadFiles} backed by the real git, with `tree` listing a commit's tree. Reads
 * of one URL are serialised (one bare repository each); a commit already in the cache is
 * not fetched again. The ref is fetched first (servers that refuse a fetch by commit id
 * still serve their refs), then the commit by id if the ref has moved since it was resolved.
 */
export function gitFileReader(opts: GitFileReaderOptions = {}): GitReader {
  const queue = new Map<string, Promise<unknown>>();
  function serial<T>(url: string, work: () => Promise<T>): Promise<T> {
    const previous = queue.get(url) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    queue.set(url, next);
    return next;
  }
  const readFiles: ReadFiles = (url, ref, commit, paths) => serial(url, () => read(url, ref, commit, paths));
  const tree: ReadTree = (url, ref, commit) => serial(url, () => list(url, ref, commit));
  return Object.assign(readFiles, { tree });

  /** The cache's bare repository of `url`, holding `commit`. */
  async function fetched(url: string, ref: string, commit: string): Promise<string> {
    const dir = join(opts.cacheDir ?? defaultGitCache(), `${sha256(url).slice(0, 32)}.git`);
    mkdirSync(dir, { recursive: true });
    const from = opts.fetchUrl ? opts.fetchUrl(url) : url;
    if ((await run(dir, ["rev-parse", "--git-dir"])).code !== 0 || (await run(dir, ["rev-parse", "--is-bare-repository"])).stdout.trim() !== "true") {
      const init = await run(dir, ["init", "-q", "--bare", "."]);
      if (init.code !== 0) throw new Error(`cannot create the cache ${dir}: ${oneLine(init.stderr)}`);
    }
    const has = async () => (await run(dir, ["cat-file", "-e", `${commit}^{commit}`])).code === 0;
    if (!(await has())) {
      const byRef = await run(dir, ["fetch", "-q", "--no-tags", "--depth", "1", "--", from, ref]);
      if (!(await has())) {
        const byId = await run(dir, ["fetch", "-q", "--no-tags", "--depth", "1", "--", from, commit]);
        if (byId.code !== 0 || !(await has())) {
          throw new Error(`cannot fetch commit ${commit} (${ref}): ${oneLine(byId.stderr || byRef.stderr) || "the server did not send it"}`);
        }
      }
    }
    return dir;
  }

  async function read(url: string, ref: string, commit: string, paths: readonly string[]): Promise<ReadonlyMap<string, string | undefined>> {
    const dir = await fetched(url, ref, commit);
    const out = new Map<string, string | undefined>();
    for (const path of [...paths].sort()) {
      if (path.endsWith("/")) {
        for (const [p, text] of await readDirectory(dir, commit, path)) out.set(p, text);
        continue;
      }
      const kind = await run(dir, ["cat-file", "-t", `${commit}:${path}`]);
      if (kind.code !== 0 || kind.stdout.trim() !== "blob") {
        out.set(path, undefined);
        continue;
      }
      const blob = await run(dir, ["cat-file", "blob", `${commit}:${path}`]);
      if (blob.code !== 0) throw new Error(`cannot read ${path} at ${commit}: ${oneLine(blob.stderr)}`);
      out.set(path, blob.stdout);
    }
    return out;
  }

  /** The files directly in `path` (`dir/`) at `commit`, and `dir/` itself when it is a directory there. */
  async function readDirectory(dir: string, commit: string, path: string): Promise<[string, string][]> {
    const kind = await run(dir, ["cat-file", "-t", `${commit}:${path.slice(0, -1)}`]);
    if (kind.code !== 0 || kind.stdout.trim() !== "tree") return [];
    const listed = await run(dir, ["ls-tree", "-z", commit, "--", path]);
    if (listed.code !== 0) throw new Error(`cannot list ${path} at ${commit}: ${oneLine(listed.stderr)}`);
    const out: [string, string][] = [[path, ""]];
    for (const entry of listed.stdout.split("\0").filter(Boolean).sort()) {
      const m = /^\d+ blob [0-9a-f]+\t(.+)$/s.exec(entry);
      if (!m) continue;
      const blob = await run(dir, ["cat-file", "blob", `${commit}:${m[1]}`]);
      if (blob.code !== 0) throw new Error(`cannot read ${m[1]} at ${commit}: ${oneLine(blob.stderr)}`);
      out.push([m[1]!, blob.stdout]);
    }
    return out;
  }

  async function list(url: string, ref: string, commit: string): Promise<ReadonlyMap<string, TreeKind>> {
    const dir = await fetched(url, ref, commit);
    const r = await run(dir, ["ls-tree", "-r", "-t", "-z", "--full-tree", commit], 256 * 1024 * 1024);
    if (r.code !== 0) throw new Error(`cannot list the tree of ${commit}: ${oneLine(r.stderr)}`);
    return parseLsTree(r.stdout);
  }
}

/** `git ls-tree -r -t -z` output (`<mode> <type> <id>\t<path>\0`…) as path → kind. */
export function parseLsTree(output: string): ReadonlyMap<string, TreeKind> {
  const out = new Map<string, TreeKind>();
  for (const entry of output.split("\0")) {
    const tab = entry.indexOf("\t");
    if (tab < 0) continue;
    const [mode, type] = entry.slice(0, tab).split(" ");
    const path = entry.slice(tab + 1);
    out.set(path, mode === "120000" ? "link" : type === "tree" ? "tree" : type === "commit" ? "commit" : "blob");
  }
  return out;
}
