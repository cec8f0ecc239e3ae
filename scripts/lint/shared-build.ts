/**
 * The package build (`npm run build`: `tsc -p tsconfig.build.json`, what `npm pack`'s
 * prepack runs) emitted by `npm test`'s typecheck from the program it has already checked,
 * for the library consumer test (test/library/consumer.test.ts) to pack with
 * `--ignore-scripts` instead of building src/ a second time beside the typecheck (about 8
 * CPU s on a fresh clone; the emit from the checked program about 2).
 *
 * The emit is used only when it is provably what the build would write: tsconfig.build.json's
 * compiler options must be tsconfig.json's plus the emit options (noEmit off, declaration,
 * sourceMap), its files a subset of the typecheck's, and the stamp the typecheck writes after
 * the emit names the key of the build's inputs (src/, the tsconfigs, package.json, the
 * lockfiles) as read before the program was built and the sha256 of every file it wrote. The
 * consumer recomputes the key and hashes dist/src: any difference (an edit since, a file left
 * from an older build, a failed typecheck) and it runs the real `npm pack`. The emit itself
 * is scripts/lint/emit-build.ts (this file loads no TypeScript: the test worker reads it).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { contentKey, filesUnder } from "../content-key";

/** What the build reads besides src/ (relative to the root). */
const BUILD_FILES = ["tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json", "node_modules/.package-lock.json"];
/** package.json's scripts this build stands for: what `npm pack` runs before packing. */
const PREPACK = "npm run build";
const BUILD = "tsc -p tsconfig.build.json";
/** Where the build writes what the package ships ("files" in package.json). */
export const SHIPPED_DIR = "dist/src";

export interface Stamp {
  /** `npm test`'s run (FLEET_SHARED_BUILD_RUN), so the consumer waits for this run's emit. */
  readonly run: string;
  /** The build's inputs as the typecheck read them (sharedBuildKey). */
  readonly key: string;
  /** false: no emit to use (a type error, an emit diagnostic, different build options); `reason` says why. */
  readonly ok: boolean;
  readonly reason?: string;
  /** Every file written under dist/src, relative to the root, with its sha256. */
  readonly files: Readonly<Record<string, string>>;
}

export const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** sha256 over every input of the build (paths and bytes) and the TypeScript version. */
export function sharedBuildKey(root: string): string {
  // The compiler that emits (its version is in the lockfiles too; this also covers a
  // node_modules installed from another lockfile).
  const tsPackage = path.join(root, "node_modules/typescript/package.json");
  const typescript = existsSync(tsPackage) ? (JSON.parse(readFileSync(tsPackage, "utf8")) as { version: string }).version : "missing";
  return contentKey(root, { trees: ["src"], files: BUILD_FILES, extra: [`typescript ${typescript}`] });
}

export function writeStamp(file: string, stamp: Stamp): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(stamp)}\n`);
  renameSync(tmp, file);
}

export function readStamp(file: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Stamp;
  } catch {
    return undefined;
  }
}

/**
 * Whether dist/src is exactly the build of the current inputs: the stamp is ok, its key is
 * the inputs' key now, and dist/src holds exactly the files it lists with their bytes.
 * Returns why not, or undefined when it is.
 */
export function staleBuild(root: string, stamp: Stamp): string | undefined {
  if (!stamp.ok) return `no shared build: ${stamp.reason ?? "not ok"}`;
  // What `npm pack --ignore-scripts` leaves out must be exactly this build and nothing else.
  const scripts = (JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  const packScripts = Object.keys(scripts).filter((s) => ["prepack", "prepare", "postpack", "build"].includes(s) || s.startsWith("prebuild") || s.startsWith("postbuild"));
  if (scripts.prepack !== PREPACK || scripts.build !== BUILD || packScripts.length !== 2) return `package.json's pack scripts are not prepack "${PREPACK}" and build "${BUILD}" alone`;
  if (stamp.key !== sharedBuildKey(root)) return "the build's inputs changed since the typecheck read them";
  const listed = Object.keys(stamp.files).filter((f) => f.startsWith(`${SHIPPED_DIR}/`));
  const present = filesUnder(path.join(root, SHIPPED_DIR)).map((f) => path.relative(root, f));
  const extra = present.find((f) => !Object.hasOwn(stamp.files, f));
  if (extra) return `${extra} is not from the typecheck's emit`;
  for (const f of listed) {
    const full = path.join(root, f);
    if (!existsSync(full)) return `${f} is missing`;
    if (sha256(readFileSync(full)) !== stamp.files[f]) return `${f} changed since the typecheck wrote it`;
  }
  if (listed.length === 0) return "the emit wrote nothing under dist/src";
  return undefined;
}
