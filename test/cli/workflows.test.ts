/**
 * The workflows (.github/workflows, .forgejo/workflows) pass actionlint, built from the Go
 * module github.com/rhysd/actionlint by scripts/build-actionlint.sh into .engine/bin; a
 * broken copy fails it with the line. Both forges' workflows only call scripts/pr-preview.sh.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runProcess } from "../helpers/spawn";
import { ENGINE_BIN, REPO } from "./pulumi";

const ACTIONLINT = path.join(ENGINE_BIN, "actionlint");
const FILES = [".github/workflows", ".forgejo/workflows"].flatMap((d) => readdirSync(path.join(REPO, d)).filter((f) => f.endsWith(".yml")).map((f) => path.join(d, f)));
const work = mkdtempSync(path.join(os.tmpdir(), "fleet-actionlint-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function lint(cwd: string, files: string[]) {
  if (!existsSync(ACTIONLINT)) throw new Error(`${ACTIONLINT} is missing: run scripts/build-actionlint.sh`);
  return runProcess(ACTIONLINT, ["-no-color", ...files], { cwd, timeoutMs: 120_000 });
}

describe("workflows", () => {
  it("exist for both forges: preview and deploy", () => {
    expect(FILES.sort()).toEqual([".forgejo/workflows/deploy.yml", ".forgejo/workflows/preview.yml", ".github/workflows/deploy.yml", ".github/workflows/preview.yml"]);
  });

  it("pass actionlint", async () => {
    const r = await lint(REPO, FILES);
    expect({ code: r.code, out: r.stdout + r.stderr }).toEqual({ code: 0, out: "" });
  });

  it("a broken workflow fails actionlint, naming the line", async () => {
    mkdirSync(path.join(work, ".github/workflows"), { recursive: true });
    const text = readFileSync(path.join(REPO, ".github/workflows/preview.yml"), "utf8").replace("runs-on: ubuntu-latest", "runs-on: ubuntu-latest\n    timeout-minutes: soon");
    writeFileSync(path.join(work, ".github/workflows/preview.yml"), text);
    const r = await lint(work, [".github/workflows/preview.yml"]);
    expect(r.code).toBe(1);
    const line = text.split("\n").findIndex((l) => l.includes("timeout-minutes: soon")) + 1;
    expect(r.stdout).toMatch(new RegExp(`^\\.github/workflows/preview\\.yml:${line}:\\d+: `, "m"));
  });

  it("only call the script in the repository for the work", () => {
    for (const f of FILES) {
      const runs = [...readFileSync(path.join(REPO, f), "utf8").matchAll(/^\s+run: (.*)$/gm)].map((m) => m[1]!);
      expect(runs.filter((r) => r.includes("pulumi ")).length, f).toBe(0);
      expect(runs.some((r) => r.startsWith("bash scripts/pr-preview.sh ")), f).toBe(true);
    }
  });
});
