/**
 * npx tsx scripts/pr-comment.ts --base <checkout> --head <checkout> [--previews <dir>] --out <file>
 *
 * The pull-request comment the workflows post (scripts/pr-preview.sh): per stack, the
 * summary of `pulumi preview --diff` of the head (read from <previews>/<stack>.txt and
 * <stack>.code when given), and the diff of every file the stack puts on its hosts between
 * the base and the head (`npm run render` in each checkout; secrets stay markers).
 * The first line is a marker, so the poster updates its own comment in place.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const MARKER = "<!-- pulumi-fleet:pr-preview -->";
/** A forge comment holds at most 65,536 characters; the diff of a stack is cut well below. */
const MAX_DIFF = 12_000;

export interface StackReport {
  readonly stack: string;
  /** `npm run render` failed in the head (the message), or undefined. */
  readonly renderError?: string;
  /** Unified diff of the rendered files, base → head ("" when unchanged). */
  readonly diff: string;
  readonly changedFiles: readonly string[];
  /** The preview's output and exit code, when the workflow ran one. */
  readonly preview?: { readonly code: number; readonly text: string };
}

function render(checkout: string, stack: string, out: string): string | undefined {
  const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/render.ts", "--stack", stack, "--out", out], { cwd: checkout, encoding: "utf8", env: { ...process.env, INIT_CWD: checkout } });
  return r.status === 0 ? undefined : (r.stderr || r.stdout || `exit ${String(r.status)}`).trim();
}

/** Render `stack` in both checkouts and diff the results. */
export function compareStack(base: string, head: string, stack: string, previews?: string): StackReport {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-pr-"));
  try {
    const b = path.join(tmp, "base");
    const h = path.join(tmp, "head");
    // A stack new in the head has no base render: everything is added.
    if (render(base, stack, b) !== undefined) fs.mkdirSync(b, { recursive: true });
    const renderError = render(head, stack, h);
    const d = spawnSync("diff", ["-ruN", "base", "head"], { cwd: tmp, encoding: "utf8" });
    const diff = renderError ? "" : d.stdout;
    const changedFiles = [...diff.matchAll(/^\+\+\+ head\/(\S+)/gm)].map((m) => m[1]!).filter((f) => f !== "INDEX.tsv");
    let preview: StackReport["preview"];
    if (previews && fs.existsSync(path.join(previews, `${stack}.txt`))) {
      const code = Number(fs.readFileSync(path.join(previews, `${stack}.code`), "utf8").trim());
      preview = { code, text: fs.readFileSync(path.join(previews, `${stack}.txt`), "utf8") };
    }
    return { stack, ...(renderError ? { renderError } : {}), diff, changedFiles, ...(preview ? { preview } : {}) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The preview's change summary: the lines after "Resources:". */
export function previewSummary(text: string): string[] {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => /^Resources:\s*$/.test(l));
  if (i < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(i + 1)) {
    if (!l.trim()) break;
    out.push(l.trim());
  }
  return out;
}

const fence = (text: string, lang = "") => `\`\`\`${lang}\n${text.replace(/```/g, "`\u200b``")}${text.endsWith("\n") ? "" : "\n"}\`\`\``;

export function formatComment(reports: readonly StackReport[], head: string): string {
  const parts = [MARKER, `### pulumi-fleet: preview of ${head}`, ""];
  for (const r of reports) {
    parts.push(`#### Stack \`${r.stack}\``);
    if (r.preview) {
      const summary = previewSummary(r.preview.text);
      parts.push(r.preview.code === 0 ? `Preview: ${summary.length ? summary.join(", ") : "no summary"}` : `Preview **failed** (exit ${r.preview.code})`);
      const tail = r.preview.text.length > MAX_DIFF ? `…\n${r.preview.text.slice(-MAX_DIFF)}` : r.preview.text;
      parts.push("", "<details><summary>pulumi preview --diff</summary>", "", fence(tail), "", "</details>");
    }
    if (r.renderError) {
      parts.push(`Rendered files: **npm run render failed**`, "", fence(r.renderError));
    } else if (!r.changedFiles.length) {
      parts.push("Rendered files: no change");
    } else {
      parts.push(`Rendered files: ${r.changedFiles.length} changed (secrets are markers)`, "", ...r.changedFiles.map((f) => `- \`${f}\``));
      const diff = r.diff.length > MAX_DIFF ? `${r.diff.slice(0, MAX_DIFF)}\n… (cut; run npm run render on both commits for the rest)\n` : r.diff;
      parts.push("", "<details><summary>diff of rendered files</summary>", "", fence(diff, "diff"), "", "</details>");
    }
    parts.push("");
  }
  return `${parts.join("\n").trimEnd()}\n`;
}

function main(argv: readonly string[]): number {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const m = /^--(base|head|previews|out|stacks)$/.exec(argv[i] ?? "");
    if (!m || argv[i + 1] === undefined) {
      process.stderr.write(`pr-comment: unexpected argument ${JSON.stringify(argv[i])}\nusage: pr-comment.ts --base DIR --head DIR [--previews DIR] [--stacks a,b] --out FILE\n`);
      return 2;
    }
    args[m[1]!] = argv[i + 1]!;
  }
  if (!args.base || !args.head || !args.out) {
    process.stderr.write("pr-comment: --base, --head and --out are required\n");
    return 2;
  }
  const stacks = (args.stacks ?? "daarion,menagerie,ouranos").split(",").filter(Boolean);
  const reports = stacks.map((s) => compareStack(path.resolve(args.base!), path.resolve(args.head!), s, args.previews));
  const headRev = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: args.head, encoding: "utf8" }).stdout.trim() || "head";
  fs.writeFileSync(args.out, formatComment(reports, headRev));
  return reports.some((r) => r.renderError || (r.preview && r.preview.code !== 0)) ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
