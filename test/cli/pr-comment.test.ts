/**
 * scripts/pr-comment.ts against two commits of a fixture repository (this project's
 * program, copied; the head moves menagerie's app to another port): the comment names the
 * changed rendered files and carries their diff, with secrets as markers and unchanged
 * stacks said to be unchanged; a preview's summary is quoted from its output.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareStack, formatComment, MARKER, previewSummary, type StackReport } from "../../scripts/pr-comment";

const ROOT = path.resolve(__dirname, "../..");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-pr-comment-"));
const repo = path.join(work, "repo");
const base = path.join(work, "base");
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd, encoding: "utf8" });

let menagerie: StackReport;
let daarion: StackReport;

beforeAll(() => {
  fs.mkdirSync(repo);
  for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json", "Pulumi.menagerie.yaml", "Pulumi.daarion.yaml", "Pulumi.ouranos.yaml"]) fs.copyFileSync(path.join(ROOT, f), path.join(repo, f));
  for (const d of ["src", "stacks", "templates", "scripts"]) fs.cpSync(path.join(ROOT, d), path.join(repo, d), { recursive: true });
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(repo, "node_modules"));
  fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n");
  git(repo, "init", "-q", "-b", "main");
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "base");
  const file = path.join(repo, "Pulumi.menagerie.yaml");
  const text = fs.readFileSync(file, "utf8");
  expect(text).toContain("        port: 8505\n");
  fs.writeFileSync(file, text.replace("        port: 8505\n", "        port: 8515\n"));
  git(repo, "commit", "-q", "-am", "peregrine on port 8515");
  git(repo, "worktree", "add", "-q", base, "HEAD~1");
  fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(base, "node_modules"));
  menagerie = compareStack(base, repo, "menagerie");
  daarion = compareStack(base, repo, "daarion");
}, 600_000);

describe("the pull-request comment", () => {
  it("lists the rendered files the head changes, with their diff", () => {
    expect(menagerie.renderError).toBeUndefined();
    expect(menagerie.changedFiles.length).toBeGreaterThan(0);
    expect(menagerie.diff).toMatch(/^-.*8505/m);
    expect(menagerie.diff).toMatch(/^\+.*8515/m);
    const comment = formatComment([daarion, menagerie], "abc1234");
    expect(comment.split("\n")[0]).toBe(MARKER);
    expect(comment).toContain("### pulumi-fleet: preview of abc1234");
    expect(comment).toContain("#### Stack `daarion`\nRendered files: no change\n");
    expect(comment).toContain(`#### Stack \`menagerie\`\nRendered files: ${menagerie.changedFiles.length} changed (secrets are markers)\n`);
    for (const f of menagerie.changedFiles) expect(comment).toContain(`- \`${f}\``);
    expect(comment).toContain("```diff\n");
  });

  it("keeps secrets as markers", () => {
    expect(menagerie.diff).not.toMatch(/CF_SERVER_SECRET='(?!SECRET__)/);
    expect(daarion.diff).toBe("");
  });

  it("quotes a preview's summary and says when it failed", () => {
    const text = "Previewing update (menagerie):\n …\nResources:\n    ~ 2 to update\n    44 unchanged\n\nDuration: 3s\n";
    expect(previewSummary(text)).toEqual(["~ 2 to update", "44 unchanged"]);
    const ok = formatComment([{ ...menagerie, preview: { code: 0, text } }], "abc1234");
    expect(ok).toContain("Preview: ~ 2 to update, 44 unchanged\n");
    const bad = formatComment([{ ...menagerie, preview: { code: 255, text: "error: preview failed\n" } }], "abc1234");
    expect(bad).toContain("Preview **failed** (exit 255)");
  });
});
