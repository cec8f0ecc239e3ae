/**
 * Run the real daemons' own validators on rendered files. No skips: a missing tool
 * throws, so CI fails instead of passing unchecked (.ci/run installs them).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runProcessSync } from "./spawn";

export interface ToolResult {
  readonly code: number;
  readonly output: string;
}

/** Run a command; never throws on a non-zero exit (the caller asserts), throws when the tool is missing. */
export function runTool(cmd: string, args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): ToolResult {
  let r;
  try {
    r = runProcessSync(cmd, args, { ...opts, input: opts.input ?? "" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`validator "${cmd}" is not installed: run scripts/ci-deps.sh`);
    throw e;
  }
  return { code: r.code, output: `${r.stdout}${r.stderr}` };
}

/** A fresh temp dir; `files` maps relative paths to contents. */
export function tempTree(files: Record<string, string>, prefix = "fleet-"): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  for (const [rel, text] of Object.entries(files)) {
    const full = path.join(dir, rel);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return dir;
}

/** Assert a tool accepted the input, showing its output when it did not. */
export function expectValid(result: ToolResult, what: string): void {
  if (result.code !== 0) throw new Error(`${what} rejected by its validator (exit ${result.code}):\n${result.output}`);
}

/**
 * A throwaway nginx prefix whose nginx.conf includes `files` (written to conf.d/) in
 * the http context, exactly like Debian's `include /etc/nginx/conf.d/*.conf;`, with
 * every path nginx writes inside it: `nginx -t -c <dir>/nginx.conf -p <dir>` checks them.
 */
export function nginxPrefix(files: Record<string, string>, extraHttp = ""): string {
  const dir = tempTree(Object.fromEntries(Object.entries(files).map(([name, text]) => [`conf.d/${name}`, text])), "fleet-nginx-");
  mkdirSync(path.join(dir, "tmp"), { recursive: true });
  mkdirSync(path.join(dir, "conf.d"), { recursive: true });
  writeFileSync(path.join(dir, "nginx.conf"), harnessConf(dir, extraHttp));
  return dir;
}

function harnessConf(dir: string, extraHttp: string): string {
  return [
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log;`,
    "events {}",
    "http {",
    `    access_log ${dir}/access.log;`,
    `    client_body_temp_path ${dir}/tmp/body;`,
    `    proxy_temp_path ${dir}/tmp/proxy;`,
    `    fastcgi_temp_path ${dir}/tmp/fastcgi;`,
    `    uwsgi_temp_path ${dir}/tmp/uwsgi;`,
    `    scgi_temp_path ${dir}/tmp/scgi;`,
    extraHttp,
    `    include ${dir}/conf.d/*.conf;`,
    "}",
    "",
  ].join("\n");
}
