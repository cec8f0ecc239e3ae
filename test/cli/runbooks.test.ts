/**
 * Every command in the runbooks (docs/runbook-*.md, the ```sh blocks) is real:
 * - `pulumi config set …` lines run with the real CLI (v3.259.0, .engine/bin) in a copy of
 *   the project, on the runbook's stack, and the stack file they leave is valid against
 *   the stack's JSON Schema (so every key and path they name exists and takes that value);
 * - every other `pulumi …` line: the subcommand exists and takes each flag the line uses
 *   (`pulumi <subcommand> --help` of the same CLI);
 * - `npm run X -- …`: X is a script of package.json and its program names each flag (its
 *   usage text);
 * - `bash scripts/…`: the script exists.
 * Host operations (`ssh <host> …`), `git`, `export` and `tar` lines run on the operator's
 * machine or the hosts and are not run here; a line of any other program fails the test,
 * so a new kind of command gets a check before it gets into a runbook.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import Ajv from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { schemaPath } from "../../stacks/schema";
import { cli, copyProject, REPO, requireEngine } from "./pulumi";

const work = mkdtempSync(path.join(tmpdir(), "fleet-runbooks-"));
beforeAll(() => requireEngine());
afterAll(() => rmSync(work, { recursive: true, force: true }));

const RUNBOOKS = readdirSync(path.join(REPO, "docs")).filter((f) => /^runbook-.*\.md$/.test(f)).sort();
const NOT_RUN_HERE = new Set(["ssh", "git", "export", "tar"]);

/** The lines of the ```sh blocks, comments and leading blanks removed. */
export function shellLines(markdown: string): string[] {
  const out: string[] = [];
  let inSh = false;
  for (const raw of markdown.split("\n")) {
    const line = raw.trim();
    if (/^```sh\b/.test(line)) inSh = true;
    else if (line.startsWith("```")) inSh = false;
    else if (inSh && line !== "" && !line.startsWith("#")) out.push(line);
  }
  return out;
}

/**
 * Words of one command line as the shell splits them (quotes removed); a `$(…)` or `…`
 * stands for a value the operator supplies, a `< file` for stdin, a `#` starts a comment,
 * and only the first command of a pipeline is kept.
 */
export function words(line: string): { argv: string[]; stdin: boolean } {
  const argv: string[] = [];
  let cur = "";
  let has = false;
  let stdin = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      cur += line.slice(i + 1, end);
      has = true;
      i = end;
    } else if (c === '"') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length && !(line[j] === '"' && depth === 0); j++) {
        if (line.startsWith("$(", j)) depth++;
        else if (line[j] === ")" && depth > 0) depth--;
      }
      cur += line.slice(i + 1, j);
      has = true;
      i = j;
    } else if (c === "$" && line[i + 1] === "(") {
      // An unquoted $(…) is one word: the operator's value.
      let depth = 0;
      let j = i;
      for (; j < line.length; j++) {
        if (line[j] === "(") depth++;
        else if (line[j] === ")" && --depth === 0) break;
      }
      cur += line.slice(i, j + 1);
      has = true;
      i = j;
    } else if (c === " " || c === "\t") {
      if (has) argv.push(cur);
      cur = "";
      has = false;
    } else if (c === "#" && !has) {
      break;
    } else if (c === "|" && !has) {
      break;
    } else if (c === "<" && !has) {
      stdin = true;
      break;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) argv.push(cur);
  return { argv, stdin };
}

const supplied = (v: string) => v.includes("$(") || v.includes("…");

const flags = (argv: readonly string[]) => argv.filter((a) => /^--[a-z]/.test(a)).map((a) => a.split("=")[0]!);

describe.each(RUNBOOKS)("docs/%s", (runbook) => {
  const lines = shellLines(readFileSync(path.join(REPO, "docs", runbook), "utf8"));
  const stack = /^runbook-(.+)\.md$/.exec(runbook)![1]!;
  const hasStack = existsSync(path.join(REPO, `Pulumi.${stack}.yaml`));

  it("has commands, each of a program this test knows", () => {
    expect(lines.length).toBeGreaterThan(2);
    const unknown = lines.filter((l) => !["pulumi", "npm", "bash", ...NOT_RUN_HERE].includes(words(l).argv[0] ?? ""));
    expect(unknown).toEqual([]);
  });

  it("every pulumi subcommand exists and takes the flags used", async () => {
    const c = cli(REPO, path.join(work, `help-${stack}`));
    const seen = new Map<string, string>();
    const problems: string[] = [];
    for (const line of lines) {
      const { argv } = words(line);
      if (argv[0] !== "pulumi") continue;
      // The words before the first flag; the CLI's own Usage line says which of them are
      // the subcommand (`stack output NAME` → `pulumi stack output [property-name]`).
      const leading: string[] = [];
      for (const a of argv.slice(1)) {
        if (a.startsWith("-")) break;
        leading.push(a);
      }
      const key = leading.join(" ");
      if (!seen.has(key)) {
        const r = await c.run([...leading.map((a) => (supplied(a) ? "placeholder" : a)), "--help"]);
        if (r.code !== 0) problems.push(`pulumi ${key} --help exited ${r.code}: ${r.stderr.slice(0, 300)}`);
        seen.set(key, r.stdout);
      }
      const help = seen.get(key)!;
      const usage = /^Usage:\n {2}pulumi ((?:[a-z-]+ ?)+)/m.exec(help)?.[1]?.trim().split(" ") ?? [];
      if (usage.length === 0 || usage.some((w, i) => leading[i] !== w)) problems.push(`pulumi ${key}: the CLI resolves it to \`pulumi ${usage.join(" ")}\`, not a subcommand of the line (${line})`);
      for (const f of flags(argv)) if (!new RegExp(`(^|[ ,])${f}\\b`, "m").test(help)) problems.push(`pulumi ${usage.join(" ")} has no flag ${f} (${line})`);
    }
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(1);
  });

  it("every npm script and script file exists, and its program takes the flags used", () => {
    const scripts = (JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const problems: string[] = [];
    for (const line of lines) {
      const { argv } = words(line);
      if (argv[0] === "npm") {
        if (argv[1] !== "run" || !argv[2] || !scripts[argv[2]]) {
          problems.push(`not an npm script of package.json: ${line}`);
          continue;
        }
        const entry = /\b(scripts\/[\w./-]+\.ts)\b/.exec(scripts[argv[2]]!)?.[1];
        const src = entry ? readFileSync(path.join(REPO, entry), "utf8") : "";
        for (const f of flags(argv.slice(argv.indexOf("--") + 1))) if (!new RegExp(`${f}(?![\\w-])`).test(src)) problems.push(`${argv[2]} (${entry ?? scripts[argv[2]]!}) does not take ${f}: ${line}`);
      }
      if (argv[0] === "bash" && !existsSync(path.join(REPO, argv[1] ?? ""))) problems.push(`no such script: ${line}`);
    }
    expect(problems).toEqual([]);
  });

  // Only a stack's runbook sets config (runbook-state-backend.md has no stack).
  if (hasStack) it("the `pulumi config set` lines run on the stack and leave a stack file valid against its schema", async () => {
    const dir = path.join(work, `${stack}-project`);
    copyProject(dir, [stack]);
    const c = cli(dir, path.join(work, `home-${stack}`));
    mkdirSync(path.join(work, `state-${stack}`));
    await c.ok(["login", `file://${path.join(work, `state-${stack}`)}`]);
    await c.ok(["stack", "init", stack, "--secrets-provider", "passphrase"]);
    let ran = 0;
    for (const line of lines) {
      const { argv, stdin } = words(line);
      if (argv[0] !== "pulumi" || argv[1] !== "config" || argv[2] !== "set") continue;
      // The operator's values ('…', $(…), < file) become a placeholder; keys and paths stay as written.
      const args = argv.slice(1).map((a) => (supplied(a) ? "runbook-placeholder" : a));
      await c.ok(args, stdin ? "runbook-placeholder\n" : undefined);
      ran++;
    }
    expect(ran).toBeGreaterThan(0);
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    const validate = ajv.compile(JSON.parse(readFileSync(path.join(REPO, schemaPath(stack)), "utf8")) as object);
    const doc = parse(readFileSync(path.join(dir, `Pulumi.${stack}.yaml`), "utf8")) as unknown;
    const ok = validate(doc);
    expect((validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`)).toEqual([]);
    expect(ok).toBe(true);
  });
});
