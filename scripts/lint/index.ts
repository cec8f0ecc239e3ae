/**
 * `npm test`'s lint: `eslint .` with the same config, files and output, except that a
 * file is not linted again while its key (scripts/lint/keys.ts: the file, every
 * project file it imports, the project's globals, the lint setup) is one it linted
 * clean with before. The clean keys live in .cache/eslint/clean.json; without it
 * (a fresh clone, CI) every file is linted. Files with any message are never
 * recorded, so their messages are printed on every run. `npm run lint` stays the
 * plain `eslint .`.
 *
 *   npx tsx scripts/lint/index.ts           # FLEET_LINT_CACHE=0 lints everything
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ESLint } from "eslint";
import { lintKeys } from "./keys";

const root = path.resolve(__dirname, "../..");
const store = path.join(root, ".cache/eslint/clean.json");

/** The files `eslint .` lints: every file under root a config object applies to and no ignore pattern removes. */
async function lintedFiles(eslint: ESLint): Promise<string[]> {
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name === ".git" || entry.name === "node_modules") continue;
        // A directory ignored as a whole ("dist/**"): nothing below it is linted.
        if (await eslint.isPathIgnored(path.join(full, "x.ts"))) continue;
        await visit(full);
      } else if (entry.isFile() && !(await eslint.isPathIgnored(full)) && (await eslint.calculateConfigForFile(full)) !== undefined) {
        out.push(full);
      }
    }
  };
  await visit(root);
  return out.sort();
}

function readStore(): Record<string, string> {
  if (process.env.FLEET_LINT_CACHE === "0") return {};
  try {
    return JSON.parse(readFileSync(store, "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

async function main(): Promise<number> {
  const eslint = new ESLint({ cwd: root });
  const files = await lintedFiles(eslint);
  const eslintVersion = (JSON.parse(readFileSync(path.join(root, "node_modules/eslint/package.json"), "utf8")) as { version: string }).version;
  const keys = lintKeys({
    root,
    files,
    setupFiles: ["eslint.config.mjs", "tsconfig.json", "package.json", "package-lock.json", "node_modules/.package-lock.json", "scripts/lint/index.ts", "scripts/lint/keys.ts"],
    extra: [process.version, `eslint ${eslintVersion}`],
  });
  const clean = readStore();
  const rel = (f: string) => path.relative(root, f);
  const todo = files.filter((f) => clean[rel(f)] !== keys.get(f));

  const results = todo.length ? await eslint.lintFiles(todo) : [];
  const formatter = await eslint.loadFormatter("stylish");
  const text = await formatter.format(results);
  if (text) process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);

  const next: Record<string, string> = {};
  for (const f of files) if (clean[rel(f)] === keys.get(f)) next[rel(f)] = keys.get(f)!;
  for (const r of results) if (r.messages.length === 0) next[rel(r.filePath)] = keys.get(r.filePath)!;
  mkdirSync(path.dirname(store), { recursive: true });
  const tmp = `${store}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 1)}\n`);
  renameSync(tmp, store);

  const errors = results.reduce((n, r) => n + r.errorCount + r.fatalErrorCount, 0);
  process.stdout.write(`lint: ${files.length} files, ${todo.length} linted, ${files.length - todo.length} unchanged since a clean lint (${path.relative(root, store)})\n`);
  return errors > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`lint: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 2;
  },
);
