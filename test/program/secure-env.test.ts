/**
 * An env value marked secret in a stack file (`secure:` nested anywhere under the stack's
 * key, as `pulumi config set --secret --path 'fleet:menagerie.apps[0].env.API_TOKEN'`
 * writes it) stays secret end to end: the value reaches the app (so the case is not
 * vacuous), and it is found only behind secret Outputs and in 0600 secret files, never in a
 * plain resource input (which is what state and previews show in clear).
 *
 * Pulumi tells a program only that a key holds a secret somewhere, not which of its values
 * (`PULUMI_CONFIG_SECRET_KEYS` lists top-level keys), so every env value under a secret
 * stack key is treated as secret: the tests also plant a plain value beside the secure one
 * and check it is kept secret too.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { managedFiles } from "../../src/remote/command";
import { leaves, runProgram } from "../../src/testing/mocks";
import { collectFiles, renderGit, renderRunOptions, secretMarker, stackDefinition } from "../../stacks/render";

const ROOT = path.resolve(__dirname, "../..");
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Case {
  readonly stack: string;
  /** Path under `config:` of the stack file (first element the key). */
  readonly at: readonly (string | number)[];
  /** Another env value of the same map, written in plain text beside the secure one. */
  readonly plainBeside?: { readonly name: string; readonly value: string };
}

const CASES: Case[] = [
  { stack: "menagerie", at: ["fleet:menagerie", "apps", 0, "env", "API_TOKEN"], plainBeside: { name: "PLAIN_SETTING", value: "Plain-Beside-Secure-1" } },
  { stack: "menagerie", at: ["fleet:menagerie", "demo", "env", "DEMO_TOKEN"], plainBeside: { name: "DEMO_SETTING", value: "Plain-Beside-Secure-2" } },
  { stack: "ouranos", at: ["fleet:ouranos", "daedalus", "settings", "DAEDALUS_API_TOKEN"], plainBeside: { name: "DAEDALUS_PLAIN", value: "Plain-Beside-Secure-3" } },
  { stack: "ouranos", at: ["fleet:ouranos", "mnemosyne", "settings", "EMAIL_PORT"] },
];

function setAt(doc: Record<string, unknown>, at: readonly (string | number)[], value: unknown): void {
  let node = doc as Record<string | number, unknown>;
  for (const [i, k] of at.entries()) {
    if (i === at.length - 1) {
      node[k] = value;
      return;
    }
    if (node[k] === undefined || node[k] === null) node[k] = typeof at[i + 1] === "number" ? [] : {};
    node = node[k] as Record<string | number, unknown>;
  }
}

/** A project root whose stack file holds `case`'s secure value (and plain neighbour). */
function rootWith(c: Case): { root: string; marker: string } {
  const root = mkdtempSync(path.join(tmpdir(), "fleet-secure-env-"));
  dirs.push(root);
  copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
  const doc = parse(readFileSync(path.join(ROOT, `Pulumi.${c.stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
  setAt(doc.config, c.at, { secure: "v1:AAAAplantedciphertext" });
  if (c.plainBeside) setAt(doc.config, [...c.at.slice(0, -1), c.plainBeside.name], c.plainBeside.value);
  writeFileSync(path.join(root, `Pulumi.${c.stack}.yaml`), stringify(doc));
  // The marker readStackConfig puts in place of the secure value.
  const where = `${String(c.at[0])}${c.at
    .slice(1)
    .map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`))
    .join("")}`;
  return { root, marker: secretMarker(where) };
}

describe.each(CASES)("a secure value at $stack $at", (c) => {
  it("reaches the app only behind secret Outputs and in secret files", async () => {
    const { root, marker } = rootWith(c);
    const start = managedFiles().length;
    const run = await runProgram(() => stackDefinition(c.stack).program(renderGit), renderRunOptions(c.stack, root));
    const files = await collectFiles(managedFiles().slice(start));
    const needles = [marker, ...(c.plainBeside ? [c.plainBeside.value] : [])];
    for (const needle of needles) {
      const plain: string[] = [];
      let secret = 0;
      for (const r of run.resources) {
        for (const leaf of await leaves(r.props ?? {})) {
          if (!leaf.value.includes(needle)) continue;
          if (leaf.secret) secret++;
          else plain.push(`${r.type}::${r.name} ${leaf.path}`);
        }
      }
      expect(plain, `${needle} in plain inputs`).toEqual([]);
      // Not vacuous: the value reached the app's files.
      expect(secret, `${needle} reached no resource`).toBeGreaterThan(0);
      const inFiles = files.filter((f) => f.content.includes(needle));
      expect(inFiles.length, `${needle} is in no managed file`).toBeGreaterThan(0);
      expect(inFiles.filter((f) => !f.secret || f.mode !== "0600").map((f) => `${f.host}:${f.path} ${f.mode}`)).toEqual([]);
    }
  });
});
