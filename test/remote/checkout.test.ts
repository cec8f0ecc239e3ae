/**
 * The one git checkout (src/remote/checkout.ts), run for real with `sh` against local
 * repositories: a project tree with its untracked files, a ref moving forward, a sparse
 * tree that becomes full, the merged-into-main check on a history without blobs, the
 * current directory of a task with `cwd`, and a ref the repository does not have.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type GitCheckout, gitCheckoutScript } from "../../src/remote/checkout";
import { runTool } from "../helpers/validators";

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com", GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };

const dir = mkdtempSync(path.join(tmpdir(), "fleet-checkout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh origin repository with one commit of `files`, tagged `v1`. */
function origin(name: string, files: Record<string, string>): { readonly url: string; readonly git: (...args: string[]) => string; readonly commit: (files: Record<string, string>, tag: string) => string } {
  const root = path.join(dir, name);
  const git = (...args: string[]) => execFileSync("git", ["-C", root, ...args], { env: gitEnv, encoding: "utf8" }).trim();
  execFileSync("git", ["init", "-q", "-b", "main", root], { env: gitEnv });
  const commit = (f: Record<string, string>, tag: string) => {
    for (const [p, text] of Object.entries(f)) {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), text);
    }
    git("add", ".");
    git("commit", "-q", "-m", tag);
    git("tag", tag);
    return git("rev-parse", "HEAD");
  };
  commit(files, "v1");
  return { url: `file://${root}`, git, commit };
}

function run(c: GitCheckout, cwd?: string) {
  return runTool("sh", ["-c", `set -eu\n${gitCheckoutScript(c)}`], { env: gitEnv, ...(cwd ? { cwd } : {}) });
}

describe("gitCheckoutScript", () => {
  it("checks out the ref into the directory with its mode, keeps untracked files, resets tracked ones, moves to the next ref", () => {
    const o = origin("app", { "compose.cloud.yml": "services: {}\n", Dockerfile: "FROM python:3.12-slim\n" });
    const v1 = o.git("rev-parse", "HEAD");
    const work = path.join(dir, "opt", "falcon-cloud");
    const c = (ref: string): GitCheckout => ({ url: o.url, ref, directory: work, directoryMode: "0750" });

    expect(run(c("v1"))).toEqual({ code: 0, output: `${v1}\n` });
    expect(readFileSync(path.join(work, "Dockerfile"), "utf8")).toBe("FROM python:3.12-slim\n");
    expect(execFileSync("stat", ["-c", "%a", work], { encoding: "utf8" }).trim()).toBe("750");

    // What ComposeStack writes beside the checkout, and a local edit of a tracked file.
    writeFileSync(path.join(work, ".env"), "CF_SERVER_SECRET='x'\n");
    writeFileSync(path.join(work, "Dockerfile"), "FROM edited\n");
    const v2 = o.commit({ "compose.cloud.yml": "services: {x: {image: busybox}}\n" }, "v2");
    expect(run(c("v2"))).toEqual({ code: 0, output: `${v2}\n` });
    expect(readFileSync(path.join(work, "compose.cloud.yml"), "utf8")).toBe("services: {x: {image: busybox}}\n");
    expect(readFileSync(path.join(work, "Dockerfile"), "utf8")).toBe("FROM python:3.12-slim\n");
    expect(readFileSync(path.join(work, ".env"), "utf8")).toBe("CF_SERVER_SECRET='x'\n");
    // Idempotent.
    expect(run(c("v2"))).toEqual({ code: 0, output: `${v2}\n` });
    // A ref the repository does not have fails and leaves the tree as it was.
    expect(run(c("v9.9.9")).code).not.toBe(0);
    expect(readFileSync(path.join(work, "compose.cloud.yml"), "utf8")).toBe("services: {x: {image: busybox}}\n");
  });

  it("follows a changed remote URL", () => {
    const a = origin("moved-a", { "f.txt": "a\n" });
    const b = origin("moved-b", { "f.txt": "b\n" });
    const work = path.join(dir, "moved");
    expect(run({ url: a.url, ref: "v1", directory: work }).code).toBe(0);
    expect(run({ url: b.url, ref: "v1", directory: work })).toEqual({ code: 0, output: `${b.git("rev-parse", "HEAD")}\n` });
    expect(readFileSync(path.join(work, "f.txt"), "utf8")).toBe("b\n");
  });

  it("checks out only the sparse path, and the whole tree again when it is no longer sparse", () => {
    const o = origin("sparse", { "deploy/compose.yml": "services: {}\n", "src/app.py": "print(1)\n" });
    const work = path.join(dir, "sparse-tree");
    expect(run({ url: o.url, ref: "v1", directory: work, sparsePath: "deploy/compose.yml" }).code).toBe(0);
    expect(existsSync(path.join(work, "deploy/compose.yml"))).toBe(true);
    expect(existsSync(path.join(work, "src/app.py"))).toBe(false);
    expect(run({ url: o.url, ref: "v1", directory: work }).code).toBe(0);
    expect(readFileSync(path.join(work, "src/app.py"), "utf8")).toBe("print(1)\n");
  });

  it("refuses a commit that is not merged into the branch, on a history without blobs", () => {
    const o = origin("merged", { "migrations/001.sql": "select 1;\n" });
    o.git("checkout", "-q", "-b", "feature");
    const feature = o.commit({ "migrations/002.sql": "select 2;\n" }, "feature-1");
    o.git("checkout", "-q", "main");
    const work = path.join(dir, "merged-tree");
    const c = (ref: string): GitCheckout => ({ url: o.url, ref, directory: work, history: "treeless", mergedInto: { branch: "main", why: "merge it first" } });

    expect(run(c("v1")).code).toBe(0);
    const refused = run(c("feature-1"));
    expect(refused.code).toBe(1);
    // (a file:// remote may warn that it ignores the blob filter first)
    expect(refused.output.split("\n").slice(-2)).toEqual([`fleet: feature-1 (${feature}) is not merged into main of ${o.url}; merge it first`, ""]);
    expect(existsSync(path.join(work, "migrations/002.sql"))).toBe(false);
    o.git("merge", "-q", "--ff-only", "feature");
    expect(run(c("feature-1"))).toEqual({ code: 0, output: `${feature}\n` });
    expect(readFileSync(path.join(work, "migrations/002.sql"), "utf8")).toBe("select 2;\n");
  });

  it("checks out into the current directory when no directory is given (a task's cwd)", () => {
    const o = origin("cwd", { "backend/main.py": "app = 1\n" });
    const work = path.join(dir, "srv-daedalus");
    mkdirSync(work);
    writeFileSync(path.join(work, ".env"), "X=1\n");
    expect(run({ url: o.url, ref: "v1" }, work)).toEqual({ code: 0, output: `${o.git("rev-parse", "HEAD")}\n` });
    expect(readFileSync(path.join(work, "backend/main.py"), "utf8")).toBe("app = 1\n");
    expect(readFileSync(path.join(work, ".env"), "utf8")).toBe("X=1\n");
  });

  it("quotes every value: a hostile ref or directory is data, not shell", () => {
    const o = origin("hostile", { "f.txt": "x\n" });
    const pwned = path.join(dir, "pwned");
    const r = run({ url: o.url, ref: `v1'; touch ${pwned} #`, directory: path.join(dir, "a b$(touch pwned)") });
    expect(r.code).not.toBe(0);
    expect(existsSync(pwned)).toBe(false);
    expect(existsSync(path.join(dir, "a b$(touch pwned)", ".git"))).toBe(true);
  });
});
