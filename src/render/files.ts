/**
 * Review rendering: every file a program would put on its hosts, written to
 * `<out>/<host>/<absolute path>`. Secrets never reach this code as plaintext: the
 * program is run under mocks whose secrets are visible markers.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { managedFiles } from "../remote/command";

export interface RenderedFile {
  readonly host: string;
  readonly path: string;
  readonly mode: string;
  readonly owner: string;
  readonly group: string;
  readonly secret: boolean;
  readonly content: string;
  readonly resourceName: string;
}

/** The marker that stands for a secret value in rendered files. */
export function secretMarker(name: string): string {
  return `SECRET__${name.replace(/[^A-Za-z0-9_-]/g, "_")}__`;
}

async function resolve(value: pulumi.Input<string>): Promise<string> {
  return new Promise((ok) => pulumi.output(value).apply((v) => ok(v)));
}

/** Resolve the content of every managed file registered in this process. */
export async function collectFiles(): Promise<RenderedFile[]> {
  const out: RenderedFile[] = [];
  for (const f of managedFiles()) {
    out.push({
      host: f.host,
      path: f.target.path,
      mode: f.target.mode,
      owner: f.target.owner,
      group: f.target.group,
      secret: f.secret,
      content: await resolve(f.content),
      resourceName: f.resourceName,
    });
  }
  return out.sort((a, b) => `${a.host}${a.path}`.localeCompare(`${b.host}${b.path}`));
}

/** Write files under `outDir/<host>/<path>` plus an index of owners and modes. */
export function writeFiles(outDir: string, files: readonly RenderedFile[]): void {
  const index: string[] = [];
  for (const f of files) {
    const dest = path.join(outDir, f.host, f.path);
    mkdirSync(path.dirname(dest), { recursive: true });
    writeFileSync(dest, f.content);
    index.push(`${f.host}\t${f.path}\t${f.owner}:${f.group}\t${f.mode}${f.secret ? "\tsecret" : ""}\t${f.resourceName}`);
  }
  writeFileSync(path.join(outDir, "INDEX.tsv"), `host\tpath\towner\tmode\tsecret\tresource\n${index.join("\n")}\n`);
}
