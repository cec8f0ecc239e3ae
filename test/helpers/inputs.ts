/**
 * Reading what a program registered under mocks: the engine's secret wrappers, the
 * remote primitive's wrapped scripts, managed files. Shared by the stack tests.
 */
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../../src/hash";
import { type FileHelper, helperAt } from "../../src/remote/helper";
import { sh as shq } from "../../src/remote/quote";
import { type MockRun, type RecordedResource, runProgram, type RunOptions } from "../../src/testing/mocks";
import { ConfigError } from "../../src/validation/errors";

export const COMMAND = "command:remote:Command";

/** POSIX sh words of `line`: quotes removed, no expansion. */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length && '$`"\\\n'.includes(line[i + 1]!)) {
          cur += line[i + 1];
          i += 2;
        } else {
          cur += line[i];
          i++;
        }
      }
      if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
      i++;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export function isSecretInput(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig;
}

/** The value with the engine's secret wrappers removed. */
export function reveal(v: unknown): unknown {
  if (isSecretInput(v)) return reveal(v.value);
  if (Array.isArray(v)) return v.map(reveal);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
  return v;
}

/** Every string an input holds outside a secret wrapper. */
export function plainLeaves(v: unknown, at = ""): { path: string; value: string }[] {
  if (isSecretInput(v)) return [];
  if (typeof v === "string") return [{ path: at, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => plainLeaves(x, `${at}[${i}]`));
  if (v !== null && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => plainLeaves(x, at ? `${at}.${k}` : k));
  return [];
}

export function str(v: unknown): string {
  const r = reveal(v);
  if (typeof r !== "string") throw new Error(`expected a string, got ${typeof r}`);
  return r;
}

export function nameOf(res: unknown): string | undefined {
  return (res as { __name?: string } | undefined)?.__name;
}

export function dependsOn(r: RecordedResource): string[] {
  const d = r.opts.dependsOn;
  const list: unknown[] = Array.isArray(d) ? d : d ? [d] : [];
  return list.map((x) => nameOf(x) ?? "?");
}

/** The per-host file-helper installer resources (`<host>-fleet-<service>-<hash>`, src/remote/command.ts). */
export function isHelperInstaller(name: string): boolean {
  return /-fleet-[a-z0-9-]+-[0-9a-f]{12}$/.test(name);
}

/** Names of everything registered but the helper installers: the components and their children. */
export function componentNames(run: MockRun): string[] {
  return run.names().filter((n) => !isHelperInstaller(n));
}

/** `dependsOn` names without the helper installer every managed file depends on. */
export function ownDependsOn(r: RecordedResource): string[] {
  return dependsOn(r).filter((n) => !isHelperInstaller(n));
}

export function command(run: MockRun, name: string): RecordedResource {
  const r = run.get(name);
  if (r.type !== COMMAND) throw new Error(`${name} is a ${r.type}, not a command`);
  return r;
}

/** A stamped task reads its run fingerprint from stdin's first line (src/remote/scripts.ts RunStamp). */
const RUN_READ = "IFS= read -r __run || true";

/**
 * A managed file's command, `[sudo -n] <helper> put|rm PATH [flags]`, split into the
 * helper (as built by this process) and its arguments; undefined for other commands.
 */
export function helperCallOf(commandText: string): { helper: FileHelper; args: string[] } | undefined {
  const w = shellWords(commandText);
  const words = w[0] === "sudo" && w[1] === "-n" ? w.slice(2) : w;
  const helper = words[0] === undefined ? undefined : helperAt(words[0]);
  return helper ? { helper, args: words.slice(1) } : undefined;
}

export function helperCall(r: RecordedResource, which: "create" | "delete" | "update" = "create"): { helper: FileHelper; args: string[] } | undefined {
  return helperCallOf(str(r.inputs[which]));
}

/**
 * Writes `h` into `dir` as an executable file named as on a host (once) and returns its path:
 * the helper run for real by its path, as a file resource's command runs it.
 */
export function installHelperIn(dir: string, h: FileHelper): string {
  const exe = join(dir, h.name);
  if (!existsSync(exe)) {
    writeFileSync(exe, h.text);
    chmodSync(exe, 0o755);
  }
  return exe;
}

/**
 * A command as something this machine can run: a managed file's helper call becomes the
 * self-contained `/bin/sh -c '<helper text>' fleet put …` (nothing installed); any other
 * command is returned as it is.
 */
export function runnable(r: RecordedResource, which: "create" | "delete" | "update" = "create"): string {
  const call = helperCall(r, which);
  if (!call) return str(r.inputs[which]);
  return `/bin/sh -c ${shq(call.helper.text)} fleet ${call.args.map(shq).join(" ")}`;
}

/**
 * What a command runs, as text to assert on: the body of `/bin/sh -c '<body>'` (with its
 * `set -eu`), or for a managed file its helper's text (profile and engine: the validator,
 * reload and assemble steps) followed by the command line itself (the path, owner, mode).
 */
export function scriptText(commandText: string): string {
  const call = helperCallOf(commandText);
  if (call) return `${call.helper.text}\n${commandText}`;
  return wrappedBody(commandText);
}

/** `scriptText` of a command (on create by default), without the wrapper's `set -eu`. */
export function script(r: RecordedResource, which: "create" | "delete" | "update" = "create"): string {
  const text = scriptText(str(r.inputs[which]));
  if (helperCall(r, which)) return text;
  if (!text.startsWith("set -eu\n")) throw new Error(`${r.name}: not a wrapped script`);
  const body = text.slice("set -eu\n".length);
  if (!body.includes(RUN_READ)) return body;
  // A stamped task's run record (the fingerprint read, the update's skip guard, the
  // subshell and the record line; tested in test/remote) is left out, so the body reads
  // as the task wrote it.
  const lines = body.split("\n").filter((l) => l !== RUN_READ && !/^if \[ -n "\$__run" \] && \[ "\$\(cat /.test(l));
  const open = lines.indexOf("(");
  const record = lines.length - 1;
  if (open < 0 || lines[record - 1] !== ")" || !lines[record]!.startsWith('if [ -n "$__run" ]; then mkdir -p ')) throw new Error(`${r.name}: unexpected run record`);
  return [...lines.slice(0, open), ...lines.slice(open + 1, record - 1)].join("\n");
}

/** The task reads its run fingerprint from stdin's first line. */
function stamped(r: RecordedResource): boolean {
  return typeof r.inputs.create === "string" && r.inputs.create.includes(RUN_READ);
}

/** stdin as the script's own input: a stamped task's first line (its run fingerprint) left out. */
export function stdinOf(r: RecordedResource): string {
  const text = str(r.inputs.stdin);
  if (!stamped(r)) return text;
  const nl = text.indexOf("\n");
  if (nl !== 64 || !/^[0-9a-f]{64}$/.test(text.slice(0, nl))) throw new Error(`${r.name}: stdin does not start with a run fingerprint`);
  return text.slice(nl + 1);
}

export function hostOf(r: RecordedResource): string {
  return (reveal(r.inputs.connection) as { host: string }).host;
}

/** Target, owner (`user:group`) and mode of a managed file, from what `remoteFile` recorded for it. */
export function managedFile(r: RecordedResource): { target: string; owner: string; mode: string } {
  if (!r.file) throw new Error(`${r.name} is not a managed file`);
  const { path, owner, group, mode } = r.file.target;
  return { target: path, owner: `${owner}:${group}`, mode };
}

/**
 * A per-file cache of program builds: each distinct program is built once and shared
 * by the tests that read it (a stack build takes seconds).
 */
export function buildCache<T>(): (key: string, make: () => Promise<T>) => Promise<T> {
  const builds = new Map<string, Promise<T>>();
  return (key, make) => {
    let b = builds.get(key);
    if (!b) {
      b = make();
      builds.set(key, b);
    }
    return b;
  };
}

/** The script body inside `/bin/sh -c '<body>'` (one level of single quoting undone). */
export function wrappedBody(script: unknown): string {
  const text = String(script);
  if (!(text.startsWith("/bin/sh -c '") && text.endsWith("'"))) throw new Error(`not a /bin/sh -c '…' script: ${text.slice(0, 40)}`);
  return text.slice("/bin/sh -c '".length, -1).replace(/'\\''/g, "'");
}

/**
 * Run `build` under mocks (with `options`, e.g. a stack's config) expecting a ConfigError;
 * returns its message and the run (to assert nothing was registered). `build` may be async
 * (a stack program); anything but a ConfigError, or no error, fails the test.
 */
export async function refused(build: () => unknown, options: RunOptions = {}): Promise<{ message: string; run: MockRun }> {
  let error: unknown;
  const run = await runProgram(async () => {
    try {
      await build();
    } catch (e) {
      error = e;
    }
  }, options);
  if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(error)}`);
  return { message: error.message, run };
}

/** A rendered dotenv file (single-quoted values, as renderEnvFile writes them) as a map. */
export function dotenv(content: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of content.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(line);
    if (!m) throw new Error(`not a KEY='value' line: ${line.split("=")[0]}=…`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * The files of a bundle on stdin (`remoteFiles`: per file a `#fleet-file BYTES PATH` line,
 * then its bytes), by path, in order.
 */
export function bundleParts(stdin: string): Map<string, string> {
  const parts = new Map<string, string>();
  let rest = Buffer.from(stdin, "utf8");
  while (rest.length > 0) {
    const nl = rest.indexOf(10);
    const m = /^#fleet-file (\d+) (\/.*)$/.exec(rest.subarray(0, nl < 0 ? rest.length : nl).toString("utf8"));
    if (nl < 0 || !m) throw new Error(`not a bundle part: ${rest.subarray(0, 60).toString("utf8")}`);
    const end = nl + 1 + Number(m[1]);
    if (end > rest.length) throw new Error(`bundle part ${m[2]} is shorter than its header says`);
    parts.set(m[2]!, rest.subarray(nl + 1, end).toString("utf8"));
    rest = rest.subarray(end);
  }
  return parts;
}

/** The hash remoteTask's `revision` puts in a script (`# fleet revision: <hash>`) for these values. */
export function revisionHash(values: readonly unknown[]): string {
  return sha256(JSON.stringify(values));
}

/**
 * What re-runs a task's command, as the engine sees it: its `triggers` (a change replaces
 * it) and the revision line of its update script (a change updates it).
 */
export function rerunOf(r: RecordedResource): { readonly triggers: unknown; readonly revision: string | undefined } {
  const update = reveal(r.inputs.update);
  return { triggers: reveal(r.inputs.triggers), revision: typeof update === "string" ? /# fleet revision: ([0-9a-f]{64})/.exec(update)?.[1] : undefined };
}
