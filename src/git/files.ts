/**
 * The app's own files at the commit its ref was resolved to, read at preview: a local
 * bare repository per URL (a cache, `~/.cache/pulumi-fleet/git/<sha256 of the URL>.git`)
 * fetches that one commit (`--depth 1`), then `git cat-file` reads each path. Checks
 * that need the app's files (compose variables, published ports, external networks)
 * run on what this returns, before any resource of the app is registered.
 */
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { sha256 } from "../hash";

/** The text of each path at `commit` (`undefined`: no such file there). */
export type ReadFiles = (url: string, ref: string, commit: string, paths: readonly string[]) => Promise<ReadonlyMap<string, string | undefined>>;

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
 * A {@link ReadFiles} backed by the real git. Reads of one URL are serialised (one bare
 * repository each); a commit already in the cache is not fetched again. The ref is
 * fetched first (servers that refuse a fetch by commit id still serve their refs), then
 * the commit by id if the ref has moved since it was resolved.
 */
export function gitFileReader(opts: GitFileReaderOptions = {}): ReadFiles {
  const queue = new Map<string, Promise<unknown>>();
  return (url, ref, commit, paths) => {
    const previous = queue.get(url) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => read(url, ref, commit, paths));
    queue.set(url, next);
    return next;
  };

  async function read(url: string, ref: string, commit: string, paths: readonly string[]): Promise<ReadonlyMap<string, string | undefined>> {
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
    const out = new Map<string, string | undefined>();
    for (const path of [...paths].sort()) {
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
}
