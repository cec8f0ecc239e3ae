/**
 * npm test's typecheck and lint from one TypeScript program (scripts/lint/check.ts): on a
 * small project with one type error and one floating promise, the typecheck prints what
 * `tsc --noEmit` prints for it, the type-aware lint rule gets its types from that
 * program, and a repeated incremental run still reports both.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { check } from "../../scripts/lint/check";
import { HANG_LIMIT_MS, runProcess } from "../helpers/spawn";

const repo = path.resolve(__dirname, "../..");
const root = mkdtempSync(path.join(tmpdir(), "fleet-lint-check-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}

symlinkSync(path.join(repo, "node_modules"), path.join(root, "node_modules"));
write("tsconfig.json", JSON.stringify({ compilerOptions: { strict: true, target: "ES2022", module: "commonjs", lib: ["ES2022"], types: [] }, include: ["src"] }));
write(
  "eslint.config.mjs",
  'import tseslint from "typescript-eslint";\n' +
    'export default tseslint.config({ ignores: ["**/*.mjs"] }, ...tseslint.configs.recommendedTypeChecked, { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } });\n',
);
write("src/ok.ts", "export const ok = 1;\n");
// A floating promise: only a rule with the program's types sees that `later()` returns one.
write("src/later.ts", 'import { wait } from "./wait";\nexport function later(): void {\n  wait();\n}\n');
write("src/wait.ts", "export async function wait(): Promise<number> {\n  return Promise.resolve(1);\n}\n");
write("src/bad.ts", 'export const n: number = "not a number";\n');

async function run(opts: { typecheck: boolean; useCache: boolean }) {
  let out = "";
  const result = await check({ root, ...opts, write: (t) => (out += t) });
  return { result, out };
}

describe("scripts/lint/check.ts: typecheck and lint from one program", () => {
  it("prints what tsc --noEmit prints, and the type-aware rule finds the floating promise", async () => {
    const tsc = await runProcess(path.join(repo, "node_modules/.bin/tsc"), ["--noEmit", "-p", "tsconfig.json"], { cwd: root, timeoutMs: HANG_LIMIT_MS });
    expect(tsc.code).toBe(2);
    expect(tsc.stdout).toContain("src/bad.ts(1,14): error TS2322");

    const { result, out } = await run({ typecheck: true, useCache: false });
    expect(result).toEqual({ typeErrors: 1, lintErrors: 1 });
    expect(out.startsWith(tsc.stdout)).toBe(true);
    expect(out).toContain("typecheck: 1 errors");
    expect(out).toMatch(/later\.ts\n\s+3:3\s+error\s+Promises must be awaited.*@typescript-eslint\/no-floating-promises/);
  });

  it("without the typecheck, lints with the program's types and reports no type error", async () => {
    const { result, out } = await run({ typecheck: false, useCache: false });
    expect(result).toEqual({ typeErrors: 0, lintErrors: 1 });
    expect(out).not.toContain("TS2322");
    expect(out).toContain("@typescript-eslint/no-floating-promises");
  });

  it("a repeated incremental run reports the same errors (kept in the build info, the file with a message linted again)", async () => {
    rmSync(path.join(root, ".cache"), { recursive: true, force: true });
    const first = await run({ typecheck: true, useCache: true });
    const again = await run({ typecheck: true, useCache: true });
    expect(again.result).toEqual({ typeErrors: 1, lintErrors: 1 });
    expect(again.out).toContain("src/bad.ts(1,14): error TS2322");
    expect(first.out).toContain("lint: 4 files, 4 linted, 0 unchanged");
    expect(again.out).toContain("lint: 4 files, 1 linted, 3 unchanged");
  });
});
