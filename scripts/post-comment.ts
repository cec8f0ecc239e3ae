/**
 * npx tsx scripts/post-comment.ts <comment.md>
 *
 * Posts the pull request's preview comment, or updates the one posted before (found by
 * the marker on its first line, scripts/pr-comment.ts), through the issue-comments API
 * GitHub and Forgejo/Gitea share: GET/POST {api}/repos/{repo}/issues/{n}/comments,
 * PATCH {api}/repos/{repo}/issues/comments/{id}.
 * Environment: FORGE_API_URL (https://api.github.com, or https://forge.example/api/v1),
 * FORGE_REPOSITORY (owner/name), FORGE_PR (number), FORGE_TOKEN, FORGE_KIND (github|forgejo).
 */
import * as fs from "node:fs";
import { MARKER } from "./pr-comment";

interface Comment {
  readonly id: number;
  readonly body: string;
}

export interface ForgeTarget {
  readonly api: string;
  readonly repository: string;
  readonly pr: number;
  readonly token: string;
  readonly kind: "github" | "forgejo";
}

/** Create or update the marked comment; returns what was done. */
export async function postComment(t: ForgeTarget, body: string): Promise<{ action: "created" | "updated"; id: number }> {
  if (!body.startsWith(MARKER)) throw new Error("post-comment: the comment must start with the marker line");
  const headers = {
    Authorization: t.kind === "github" ? `Bearer ${t.token}` : `token ${t.token}`,
    Accept: "application/json",
    "Content-Type": "application/json",
  };
  const base = `${t.api.replace(/\/$/, "")}/repos/${t.repository}/issues`;
  let found: Comment | undefined;
  for (let page = 1; page <= 50 && !found; page++) {
    const q = t.kind === "github" ? `per_page=100&page=${page}` : `limit=50&page=${page}`;
    const r = await fetch(`${base}/${t.pr}/comments?${q}`, { headers });
    if (!r.ok) throw new Error(`post-comment: listing comments of #${t.pr}: HTTP ${r.status} ${await r.text()}`);
    const comments = (await r.json()) as Comment[];
    found = comments.find((c) => c.body.startsWith(MARKER));
    if (comments.length === 0) break;
  }
  const r = found
    ? await fetch(`${base}/comments/${found.id}`, { method: "PATCH", headers, body: JSON.stringify({ body }) })
    : await fetch(`${base}/${t.pr}/comments`, { method: "POST", headers, body: JSON.stringify({ body }) });
  if (!r.ok) throw new Error(`post-comment: ${found ? "updating" : "creating"} the comment: HTTP ${r.status} ${await r.text()}`);
  const saved = (await r.json()) as Comment;
  return { action: found ? "updated" : "created", id: saved.id };
}

async function main(argv: readonly string[]): Promise<number> {
  const need = (k: string) => {
    const v = process.env[k];
    if (!v) throw new Error(`post-comment: ${k} is not set`);
    return v;
  };
  if (argv.length !== 1) {
    process.stderr.write("usage: post-comment.ts <comment.md>\n");
    return 2;
  }
  const kind = (process.env.FORGE_KIND ?? "github") === "forgejo" ? "forgejo" : "github";
  const done = await postComment(
    { api: need("FORGE_API_URL"), repository: need("FORGE_REPOSITORY"), pr: Number(need("FORGE_PR")), token: need("FORGE_TOKEN"), kind },
    fs.readFileSync(argv[0]!, "utf8"),
  );
  process.stdout.write(`post-comment: ${done.action} comment ${done.id}\n`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (c) => (process.exitCode = c),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
