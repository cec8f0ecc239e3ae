/**
 * scripts/post-comment.ts against a stand-in of the forges' issue-comments API on loopback:
 * the first run creates the comment, the next updates the same one (found by its marker),
 * with each forge's authorization header and paging.
 */
import * as http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postComment } from "../../scripts/post-comment";
import { MARKER } from "../../scripts/pr-comment";

interface Seen {
  method: string;
  url: string;
  auth: string;
  body: string;
}
const seen: Seen[] = [];
let comments: { id: number; body: string }[] = [];
let server: http.Server;
let api = "";

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", auth: req.headers.authorization ?? "", body });
      const url = new URL(req.url ?? "/", "http://x");
      res.setHeader("Content-Type", "application/json");
      if (req.method === "GET" && /\/repos\/o\/r\/issues\/7\/comments$/.test(url.pathname)) {
        const page = Number(url.searchParams.get("page"));
        return res.end(JSON.stringify(page === 1 ? comments : []));
      }
      if (req.method === "POST" && url.pathname.endsWith("/repos/o/r/issues/7/comments")) {
        const c = { id: 100 + comments.length, body: (JSON.parse(body) as { body: string }).body };
        comments.push(c);
        res.statusCode = 201;
        return res.end(JSON.stringify(c));
      }
      const m = /\/repos\/o\/r\/issues\/comments\/(\d+)$/.exec(url.pathname);
      if (req.method === "PATCH" && m) {
        const c = comments.find((x) => x.id === Number(m[1]))!;
        c.body = (JSON.parse(body) as { body: string }).body;
        return res.end(JSON.stringify(c));
      }
      res.statusCode = 404;
      res.end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  api = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("post-comment", () => {
  it("creates the comment once, then updates it in place (GitHub)", async () => {
    comments = [{ id: 1, body: "LGTM" }];
    seen.length = 0;
    const t = { api, repository: "o/r", pr: 7, token: "tkn", kind: "github" as const };
    expect(await postComment(t, `${MARKER}\nfirst\n`)).toEqual({ action: "created", id: 101 });
    expect(await postComment(t, `${MARKER}\nsecond\n`)).toEqual({ action: "updated", id: 101 });
    expect(comments).toEqual([{ id: 1, body: "LGTM" }, { id: 101, body: `${MARKER}\nsecond\n` }]);
    expect(seen.map((s) => `${s.method} ${s.url.replace(/\?.*/, "")}`)).toEqual([
      "GET /repos/o/r/issues/7/comments", "GET /repos/o/r/issues/7/comments", "POST /repos/o/r/issues/7/comments",
      "GET /repos/o/r/issues/7/comments", "PATCH /repos/o/r/issues/comments/101",
    ]);
    expect(new Set(seen.map((s) => s.auth))).toEqual(new Set(["Bearer tkn"]));
    expect(seen[0]!.url).toContain("per_page=100&page=1");
  });

  it("speaks Forgejo's paging and token header", async () => {
    comments = [];
    seen.length = 0;
    await postComment({ api: `${api}/`, repository: "o/r", pr: 7, token: "tkn", kind: "forgejo" }, `${MARKER}\nx\n`);
    expect(seen[0]!.url).toBe("/repos/o/r/issues/7/comments?limit=50&page=1");
    expect(seen.every((s) => s.auth === "token tkn")).toBe(true);
  });

  it("refuses a comment without the marker, and reports an API error", async () => {
    await expect(postComment({ api, repository: "o/r", pr: 7, token: "t", kind: "github" }, "hello")).rejects.toThrow("must start with the marker line");
    await expect(postComment({ api, repository: "o/x", pr: 7, token: "t", kind: "github" }, `${MARKER}\n`)).rejects.toThrow("post-comment: listing comments of #7: HTTP 404");
  });
});
