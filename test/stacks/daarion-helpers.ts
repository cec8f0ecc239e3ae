/**
 * Reading what the daarion program registered under mocks, the seeds' tables, and the
 * real-tool fixtures (a throwaway PostgreSQL, a fake `docker` on PATH) its tests use.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

export { COMMAND, command, dependsOn, dotenv, hostOf, isSecretInput, managedFile, nameOf, reveal, script, shellWords, stdinOf, str } from "../helpers/inputs";

// ── The seeds ────────────────────────────────────────────────────────────────

const SEEDS = path.resolve(__dirname, "../../docs/seeds");
export const OVERVIEW = readFileSync(path.join(SEEDS, "daarion-deployment-overview.md"), "utf8");
export const STANDARDS = readFileSync(path.join(SEEDS, "daarion-node-standards.md"), "utf8");

/** The text from a heading line containing `heading` to the next heading of the same or a higher level. */
export function section(doc: string, heading: string): string {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.includes(heading));
  if (start < 0) throw new Error(`seed has no heading "${heading}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  let end = lines.length;
  for (let i = start + 1; i < lines.length; i++) {
    const m = /^(#+) /.exec(lines[i]!);
    if (m && m[1]!.length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start, end).join("\n");
}

/** `- [ ] item` lines of a section, as written. */
export function checklist(doc: string, heading: string): string[] {
  return section(doc, heading)
    .split("\n")
    .filter((l) => l.startsWith("- [ ] "))
    .map((l) => l.slice("- [ ] ".length).trim());
}

export function cells(row: string): string[] {
  return row.split("|").slice(1, -1).map((c) => c.trim().replace(/^`|`$/g, ""));
}

/** The first markdown table after the heading containing `heading` (before any further heading): rows of cells. */
export function table(doc: string, heading: string): string[][] {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.includes(heading));
  if (start < 0) throw new Error(`seed has no heading "${heading}"`);
  const rows: string[] = [];
  for (let i = start + 1; i < lines.length && !/^#+ /.test(lines[i]!); i++) if (lines[i]!.startsWith("|")) rows.push(lines[i]!);
  return rows.slice(2).map(cells);
}

// ── Shell ────────────────────────────────────────────────────────────────────


// ── Mocked resources ─────────────────────────────────────────────────────────












/** The body of the nginx block opened by the line `header {` (trimmed lines, nested blocks included). */
export function nginxBlock(conf: string, header: string, occurrence = 0): string[] {
  const lines = conf.split("\n").map((l) => l.trim());
  let start = -1;
  for (let i = 0, seen = 0; i < lines.length; i++) {
    if (lines[i] === `${header} {` && seen++ === occurrence) {
      start = i;
      break;
    }
  }
  if (start < 0) throw new Error(`no "${header} {" block #${occurrence}`);
  const body: string[] = [];
  let depth = 0;
  for (let i = start; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.endsWith("{")) depth++;
    if (l === "}") {
      depth--;
      if (depth === 0) break;
    }
    if (i > start && l !== "" && !l.startsWith("#")) body.push(l);
  }
  return body;
}

// ── Real tools ───────────────────────────────────────────────────────────────

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runSh(file: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): Ran {
  const r = spawnSync("/bin/sh", [file, ...args], { env, cwd, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Write an executable. */
export function executable(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o755 });
}

export const POSTGRES_BIN = "/usr/lib/postgresql/15/bin";

/** A throwaway PostgreSQL on a unix socket in a temp dir (trust auth), with `database` created. */
export class TempPostgres {
  readonly dir: string;
  readonly socket: string;
  private readonly data: string;

  constructor(readonly database: string) {
    this.dir = tempDir("fleet-daarion-pg-");
    chmodSync(this.dir, 0o755);
    this.socket = path.join(this.dir, "sock");
    this.data = path.join(this.dir, "data");
    mkdirSync(this.socket);
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(this.dir, uid, gid);
    chownSync(this.socket, uid, gid);
    const asPostgres = (args: string[]) => execFileSync("runuser", ["-u", "postgres", "--", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    asPostgres([`${POSTGRES_BIN}/initdb`, "-D", this.data, "--username=postgres", "--auth-local=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"]);
    asPostgres([`${POSTGRES_BIN}/pg_ctl`, "-D", this.data, "-l", path.join(this.dir, "pg.log"), "-w", "-t", "60", "-o", `-k ${this.socket} -c listen_addresses=''`, "start"]);
    this.psql(["-d", "postgres", "-c", `CREATE DATABASE ${database}`]);
  }

  psql(args: readonly string[]): string {
    return execFileSync("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", this.socket, "-U", "postgres", ...args], { encoding: "utf8", timeout: 60_000 });
  }

  stop(): void {
    try {
      execFileSync("runuser", ["-u", "postgres", "--", `${POSTGRES_BIN}/pg_ctl`, "-D", this.data, "-m", "immediate", "-w", "stop"], { stdio: "ignore", timeout: 60_000 });
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
