/**
 * When the library consumer test may pack the typecheck's emit instead of building
 * (scripts/lint/shared-build.ts): only while dist/src is exactly what the stamp lists, for
 * the inputs as they are now, and `npm pack`'s scripts are the build alone. A small project
 * in a temp directory; the emit itself is compared with `tsc -p tsconfig.build.json` by
 * hand (docs/testing.md) and exercised by `npm test` through the consumer test.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256, sharedBuildKey, staleBuild, type Stamp } from "../../scripts/lint/shared-build";

let root = "";
const PACKAGE = { name: "p", version: "1.0.0", scripts: { build: "tsc -p tsconfig.build.json", prepack: "npm run build", test: "vitest" } };

function put(rel: string, text: string): void {
  mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  writeFileSync(path.join(root, rel), text);
}

/** The stamp the typecheck writes after emitting `files` (written to disk here). */
function emitted(files: Record<string, string>): Stamp {
  for (const [rel, text] of Object.entries(files)) put(rel, text);
  return { run: "r1", key: sharedBuildKey(root), ok: true, files: Object.fromEntries(Object.entries(files).map(([rel, text]) => [rel, sha256(text)])) };
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), "fleet-shared-build-"));
  put("package.json", JSON.stringify(PACKAGE));
  put("tsconfig.json", "{}");
  put("tsconfig.build.json", "{}");
  put("src/a.ts", "export const a = 1;\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe("staleBuild: the typecheck's emit is packed only when it is the build of the current inputs", () => {
  const EMIT = { "dist/src/a.js": "exports.a = 1;\n", "dist/src/a.d.ts": "export declare const a = 1;\n" };

  it("current: the inputs unchanged, dist/src exactly the listed files with their bytes", () => {
    expect(staleBuild(root, emitted(EMIT))).toBeUndefined();
  });

  it("a source changed after the typecheck read it", () => {
    const stamp = emitted(EMIT);
    put("src/a.ts", "export const a = 2;\n");
    expect(staleBuild(root, stamp)).toBe("the build's inputs changed since the typecheck read them");
  });

  it("a new source file, or a changed build config", () => {
    const stamp = emitted(EMIT);
    put("src/b.ts", "export const b = 1;\n");
    expect(staleBuild(root, stamp)).toBe("the build's inputs changed since the typecheck read them");
    rmSync(path.join(root, "src/b.ts"));
    expect(staleBuild(root, stamp)).toBeUndefined();
    put("tsconfig.build.json", '{"compilerOptions":{"declarationMap":true}}');
    expect(staleBuild(root, stamp)).toBe("the build's inputs changed since the typecheck read them");
  });

  it("an emitted file changed, or missing, since", () => {
    const stamp = emitted(EMIT);
    put("dist/src/a.js", "exports.a = 3;\n");
    expect(staleBuild(root, stamp)).toBe("dist/src/a.js changed since the typecheck wrote it");
    rmSync(path.join(root, "dist/src/a.js"));
    expect(staleBuild(root, stamp)).toBe("dist/src/a.js is missing");
  });

  it("a file under dist/src the emit did not write (left by an older build) would be packed: refused", () => {
    const stamp = emitted(EMIT);
    put("dist/src/removed.js", "old\n");
    expect(staleBuild(root, stamp)).toBe("dist/src/removed.js is not from the typecheck's emit");
  });

  it("no usable emit: the typecheck failed, or wrote nothing", () => {
    expect(staleBuild(root, { run: "r1", key: sharedBuildKey(root), ok: false, reason: "the typecheck reported 2 errors", files: {} })).toBe("no shared build: the typecheck reported 2 errors");
    expect(staleBuild(root, { run: "r1", key: sharedBuildKey(root), ok: true, files: {} })).toBe("the emit wrote nothing under dist/src");
  });

  it("npm pack would run more than the build (another script, or another build command): refused", () => {
    const stamp = emitted(EMIT);
    for (const scripts of [
      { ...PACKAGE.scripts, prepare: "node setup.js" },
      { ...PACKAGE.scripts, postbuild: "cp -r assets dist/" },
      { ...PACKAGE.scripts, build: "tsc -p tsconfig.build.json && node copy.js" },
      { ...PACKAGE.scripts, prepack: "npm run build && npm run docs" },
    ]) {
      put("package.json", JSON.stringify({ ...PACKAGE, scripts }));
      // package.json is an input too: the key alone already refuses; the scripts are checked on their own.
      expect(staleBuild(root, { ...stamp, key: sharedBuildKey(root) })).toBe(`package.json's pack scripts are not prepack "npm run build" and build "tsc -p tsconfig.build.json" alone`);
    }
  });
});
