/**
 * npm test's lint cache (scripts/lint): a file's key must change whenever anything its
 * type-aware lint result can depend on changes, and only then.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lintKeys } from "../../scripts/lint/keys";

const root = mkdtempSync(path.join(tmpdir(), "fleet-lint-keys-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}

write("tsconfig.json", JSON.stringify({ compilerOptions: { module: "commonjs", moduleResolution: "node", strict: true, resolveJsonModule: true }, include: ["src"] }));
write("eslint.config.mjs", "export default [];\n");
write("src/a.ts", 'import { b } from "./b";\nimport { readFileSync } from "node:fs";\nexport const a = b + String(readFileSync);\n');
write("src/b.ts", 'import data from "./data.json";\nexport const b = data.x;\n');
write("src/data.json", '{ "x": "1" }\n');
write("src/c.ts", 'export type C = import("./d").D;\n');
write("src/d.ts", "export type D = string;\n");
write("src/lone.ts", "export const lone = 1;\n");

const files = ["src/a.ts", "src/b.ts", "src/c.ts", "src/d.ts", "src/lone.ts"].map((f) => path.join(root, f));
const keys = (extra: string[] = ["node v22"]) => {
  const k = lintKeys({ root, files, setupFiles: ["eslint.config.mjs", "tsconfig.json"], extra });
  return Object.fromEntries([...k].map(([f, v]) => [path.relative(root, f), v]));
};

/** The files whose key differs after `change`; the change is undone afterwards. */
function changed(change: () => void, undo: () => void, extra?: string[]): string[] {
  const before = keys();
  change();
  try {
    const after = keys(extra);
    return Object.keys(before).filter((f) => before[f] !== after[f]).sort();
  } finally {
    undo();
  }
}

describe("lint cache keys", () => {
  it("are stable for unchanged inputs", () => {
    expect(keys()).toEqual(keys());
    expect(new Set(Object.values(keys())).size).toBe(files.length);
  });

  it("change for a file and every file that imports it, directly or not (JSON and import() types too)", () => {
    expect(changed(() => write("src/data.json", '{ "x": 1 }\n'), () => write("src/data.json", '{ "x": "1" }\n'))).toEqual(["src/a.ts", "src/b.ts"]);
    expect(changed(() => write("src/b.ts", 'import data from "./data.json";\nexport const b = 2;\n'), () => write("src/b.ts", 'import data from "./data.json";\nexport const b = data.x;\n'))).toEqual(["src/a.ts", "src/b.ts"]);
    expect(changed(() => write("src/d.ts", "export type D = number;\n"), () => write("src/d.ts", "export type D = string;\n"))).toEqual(["src/c.ts", "src/d.ts"]);
  });

  it("change for every file when the lint setup, a tool version or a global declaration changes", () => {
    const all = ["src/a.ts", "src/b.ts", "src/c.ts", "src/d.ts", "src/lone.ts"];
    expect(changed(() => write("eslint.config.mjs", "export default [{}];\n"), () => write("eslint.config.mjs", "export default [];\n"))).toEqual(all);
    expect(changed(() => undefined, () => undefined, ["node v24"])).toEqual(all);
    expect(changed(() => write("src/globals.d.ts", "declare const LATE: string;\n"), () => rmSync(path.join(root, "src/globals.d.ts")))).toEqual(all);
    expect(changed(() => write("src/lone.ts", "export const lone = 1;\ndeclare global { interface X { y: 1 } }\n"), () => write("src/lone.ts", "export const lone = 1;\n"))).toEqual(all);
  });
});
