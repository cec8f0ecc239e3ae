/**
 * Issue 13 item 1: refs resolved to commits with the real `git ls-remote`, against local
 * bare repositories the test creates (several commits, a branch that moves, a lightweight
 * and an annotated tag, a name that is both a branch and a tag).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitRefLookupError, gitLsRemote, pickCommit, refKey, resolveGitRefs } from "../../src/git/refs";
import { git } from "../helpers/git";

let work: string;
let bare: string;
let clone: string;

function commit(message: string): string {
  writeFileSync(join(clone, "file.txt"), `${message}\n`);
  git(clone, "add", "file.txt");
  git(clone, "commit", "-q", "-m", message);
  return git(clone, "rev-parse", "HEAD");
}

const subject = "stack test";

describe("resolveGitRefs against local bare repositories", () => {
  let c1: string;
  let c2: string;
  let c3: string;
  let annotated: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "fleet-refs-"));
    bare = join(work, "app.git");
    clone = join(work, "clone");
    git(work, "init", "-q", "--bare", bare);
    git(work, "init", "-q", clone);
    c1 = commit("one");
    git(clone, "tag", "v1.0.0");
    c2 = commit("two");
    git(clone, "tag", "-a", "-m", "release 2", "v2.0.0");
    annotated = git(clone, "rev-parse", "v2.0.0");
    git(clone, "branch", "release");
    git(clone, "tag", "both", c1);
    git(clone, "branch", "both", c2);
    git(clone, "remote", "add", "origin", bare);
    git(clone, "push", "-q", "origin", "refs/heads/main", "refs/heads/release", "refs/heads/both", "--tags");
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("resolves a branch, a lightweight tag, an annotated tag (to its commit) and full ref names", async () => {
    const commits = await resolveGitRefs(
      [
        { url: bare, ref: "main" },
        { url: bare, ref: "v1.0.0" },
        { url: bare, ref: "v2.0.0" },
        { url: bare, ref: "refs/heads/release" },
        { url: bare, ref: "refs/tags/both" },
      ],
      { subject },
    );
    expect(annotated).not.toBe(c2);
    expect(Object.fromEntries(commits)).toEqual({
      [`${bare}#main`]: c2,
      [`${bare}#v1.0.0`]: c1,
      [`${bare}#v2.0.0`]: c2,
      [`${bare}#refs/heads/release`]: c2,
      [`${bare}#refs/tags/both`]: c1,
    });
  });

  it("a branch that moves resolves to its new commit (a change at the next preview)", async () => {
    const before = (await resolveGitRefs([{ url: bare, ref: "main" }], { subject })).get(`${bare}#main`);
    c3 = commit("three");
    git(clone, "push", "-q", "origin", "main");
    const after = (await resolveGitRefs([{ url: bare, ref: "main" }], { subject })).get(`${bare}#main`);
    expect(before).toBe(c2);
    expect(after).toBe(c3);
    // A tag stays where it was.
    expect((await resolveGitRefs([{ url: bare, ref: "v2.0.0" }], { subject })).get(`${bare}#v2.0.0`)).toBe(c2);
  });

  it("takes a full commit as it is, without asking the repository", async () => {
    const asked: string[] = [];
    const commits = await resolveGitRefs([{ url: bare, ref: c1 }], {
      subject,
      lsRemote: (url) => {
        asked.push(url);
        return Promise.resolve("");
      },
    });
    expect(commits.get(refKey({ url: bare, ref: c1 }))).toBe(c1);
    expect(asked).toEqual([]);
  });

  it("fails in one error listing every ref that does not resolve: missing, short commit, ambiguous, unreachable repository", async () => {
    const missing = join(work, "nowhere.git");
    const err = await resolveGitRefs(
      [
        { url: bare, ref: "main" },
        { url: bare, ref: "v9" },
        { url: bare, ref: c1.slice(0, 12) },
        { url: bare, ref: "both" },
        { url: missing, ref: "main" },
      ],
      { subject },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitRefLookupError);
    const lines = (err as Error).message.split("\n");
    expect(lines[0]).toBe("stack test: cannot resolve 4 git refs:");
    // Listed in the order of the refs (one repository here), whatever letter the random
    // commit id starts with (it sorted before "both" on some runs and after it on others).
    const expected: [string, string][] = [
      [c1.slice(0, 12), `  - ${c1.slice(0, 12)} of ${bare}: the repository has no branch or tag named ${c1.slice(0, 12)} (a commit must be given in full: 40 hex digits)`],
      ["both", `  - both of ${bare}: it is both a branch (${c2}) and a tag (${c1}); name one: refs/heads/both or refs/tags/both`],
      ["v9", `  - v9 of ${bare}: the repository has no branch or tag named v9`],
    ];
    expect(lines.slice(1, 4)).toEqual(expected.sort(([a], [b]) => a.localeCompare(b)).map(([, line]) => line));
    expect(lines[4]).toMatch(new RegExp(`^  - main of ${missing}: .*(does not appear to be a git repository|not found|No such file)`));
    expect((err as GitRefLookupError).__pulumiRunError).toBe(true);
  });

  it("pickCommit reads ls-remote's listing the way git prints it", async () => {
    const listing = await gitLsRemote(bare, ["refs/tags/v2.0.0", "refs/tags/v2.0.0^{}"]);
    expect(listing).toContain(`${annotated}\trefs/tags/v2.0.0\n`);
    expect(listing).toContain(`${c2}\trefs/tags/v2.0.0^{}\n`);
    expect(pickCommit("v2.0.0", listing)).toBe(c2);
  });
});
