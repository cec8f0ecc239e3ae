/**
 * scripts/pr-preview.sh preview, as the workflows run it, with the real CLI and plugins
 * from .engine/bin against a file:// backend: two commits of a fixture repository (this
 * project's program; the head moves menagerie's app to another port), the real
 * `pulumi preview --diff` of the head, and the comment text it would post (written to
 * $OUT: no forge token here).
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runProcess } from "../helpers/spawn";
import { appRepositories } from "../helpers/app-repositories";
import { ENGINE_BIN, REPO, requireEngine, sshKey } from "./pulumi";

const work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-pr-preview-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd, encoding: "utf8" });

describe("scripts/pr-preview.sh preview", () => {
  it("previews the head with the real engine and writes the comment for the pull request", async () => {
    requireEngine();
    const repo = path.join(work, "repo");
    fs.mkdirSync(repo);
    for (const f of ["Pulumi.yaml", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "Pulumi.menagerie.yaml"]) fs.copyFileSync(path.join(REPO, f), path.join(repo, f));
    for (const d of ["src", "stacks", "templates", "scripts", "policy"]) fs.cpSync(path.join(REPO, d), path.join(repo, d), { recursive: true });
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(repo, "node_modules"));
    fs.writeFileSync(path.join(repo, ".gitignore"), "node_modules\n.pr-preview\n");
    git(repo, "init", "-q", "-b", "main");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "base");
    const baseSha = git(repo, "rev-parse", "HEAD").trim();
    const file = path.join(repo, "Pulumi.menagerie.yaml");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("        port: 8505\n", "        port: 8515\n"));
    git(repo, "commit", "-q", "-am", "peregrine on port 8515");

    const home = path.join(work, "home");
    fs.mkdirSync(path.join(home, "state"), { recursive: true });
    const env = {
      // The app repositories Pulumi.menagerie.yaml names, local: the preview resolves the ref and reads the compose file.
      ...appRepositories(path.join(work, "git")),
      PATH: `${ENGINE_BIN}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      HOME: home,
      PULUMI_HOME: path.join(home, "pulumi"),
      PULUMI_BACKEND_URL: `file://${path.join(home, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "fleet-cli-test",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      NO_COLOR: "1",
    };
    const pulumi = (args: string[], input?: string) => runProcess(path.join(ENGINE_BIN, "pulumi"), [...args, "--non-interactive"], { cwd: repo, env, timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
    expect((await pulumi(["login", env.PULUMI_BACKEND_URL])).code).toBe(0);
    expect((await pulumi(["stack", "init", "menagerie"])).code).toBe(0);
    expect((await pulumi(["config", "set", "--secret", "fleet:sshPrivateKey"], fs.readFileSync(sshKey(work), "utf8"))).code).toBe(0);
    for (const k of ["directusJwtSecret", "platformDbPassword"]) expect((await pulumi(["config", "set", "--secret", `fleet:${k}`, "s3cr3t-value-for-" + k])).code).toBe(0);

    const out = path.join(work, "comment.md");
    const r = await runProcess("bash", ["scripts/pr-preview.sh", "preview"], { cwd: repo, env: { ...env, BASE_SHA: baseSha, STACKS: "menagerie", OUT: out }, timeoutMs: 600_000 });
    expect({ code: r.code, err: r.stderr.slice(-2000) }).toMatchObject({ code: 0 });
    const comment = fs.readFileSync(out, "utf8");
    expect(comment.split("\n")[0]).toBe("<!-- pulumi-fleet:pr-preview -->");
    // The summary is the engine's own count for the head: asked of the CLI here rather than
    // written down, so a stack that gains a resource does not break this test.
    const own = await pulumi(["preview", "--stack", "menagerie"]);
    expect({ code: own.code, err: own.stderr.slice(-2000) }).toMatchObject({ code: 0 });
    const creates = /\+ (\d+) to create/.exec(own.stdout)?.[1];
    expect(creates, "`pulumi preview` printed no create count").toMatch(/^\d+$/);
    expect(comment).toContain(`#### Stack \`menagerie\`\nPreview: + ${creates} to create\n`);
    expect(comment).toContain("<summary>pulumi preview --diff</summary>");
    expect(comment).toMatch(/Rendered files: \d+ changed \(secrets are markers\)/);
    expect(comment).toMatch(/^-.*8505/m);
    expect(comment).toMatch(/^\+.*8515/m);
    expect(comment).not.toContain("s3cr3t-value-for-");
    // The preview ran the policy pack (policy/), and the stack passed it.
    expect(fs.readFileSync(path.join(repo, ".pr-preview", "previews", "menagerie.txt"), "utf8")).toMatch(/^Policy Packs run:\n +Name +Version\n +fleet\|local\|policy +0\.1\.0$/m);
    expect(git(repo, "worktree", "list")).not.toContain(".pr-preview/base");
  }, 900_000);
});
