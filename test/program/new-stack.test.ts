/**
 * The worked example of a new stack in docs/CONTRIBUTING-COMPONENTS.md ("A new stack"),
 * kept as files in test/fixtures/new-stack/ and checked two ways:
 * - the docs show those files as they are (with `../../src/` for the fixture's deeper
 *   import paths), so the example cannot drift from code that compiles and runs;
 * - registered like a registry line does (its entry added to `STACKS` for this file), the
 *   stack is one of `knownStacks()` and every per-stack safety check applies to it
 *   unchanged (stack-safety.ts, as test/program/stacks.test.ts runs them for the others).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { knownStacks, type RenderableStack, STACKS } from "../../stacks/registry";
import { refused } from "../helpers/inputs";
import { NEW_STACKS } from "../fixtures/new-stack/stacks/registry";
import { PLANTED, stackSafetyTests } from "./stack-safety";

const ROOT = path.resolve(__dirname, "../..");
const FIXTURE = path.join(ROOT, "test/fixtures/new-stack");
const DOC = path.join(ROOT, "docs/CONTRIBUTING-COMPONENTS.md");

/** The docs' code blocks that name a file: "```<lang> <path>" … "```". */
function documentedFiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of readFileSync(DOC, "utf8").matchAll(/^```[a-z]+ (\S+)\n([\s\S]*?)^```$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

// The registry line, as it would be in stacks/registry.ts; taken out again after this file.
const registry = STACKS as Record<string, RenderableStack>;
registry.heron = NEW_STACKS.heron!;
afterAll(() => {
  delete registry.heron;
});

describe("the docs' new stack (heron)", () => {
  it("is shown in the docs exactly as the fixture's files", () => {
    const docs = documentedFiles();
    const fixture = (rel: string) => readFileSync(path.join(FIXTURE, rel), "utf8").replaceAll('"../../../../../src/', '"../../src/');
    for (const file of ["stacks/heron/config.ts", "stacks/heron/index.ts", "Pulumi.heron.yaml"]) {
      expect({ file, text: docs.get(file) }).toEqual({ file, text: fixture(file) });
    }
    // The registry line: the entry of the fixture's registry, verbatim.
    const line = docs.get("stacks/registry.ts");
    expect(line).toBeDefined();
    expect(readFileSync(path.join(FIXTURE, "stacks/registry.ts"), "utf8")).toContain(line!);
  });

  it("once registered, is a known stack (describe.each over knownStacks() picks it up)", () => {
    expect(knownStacks()).toContain("heron");
  });

  it("refuses bad config like the others, before any resource", async () => {
    const { heron } = await import("../fixtures/new-stack/stacks/heron");
    const r = await refused(() => heron(), { config: { "fleet:hosts": {}, "fleet:heron": { repo: { url: "https://x/$(id)", ref: "v1" } } } });
    expect(r.run.resources).toEqual([]);
    expect(r.message).toContain("fleet:heron/repo/url: must be an https:// or ssh git URL");
  });

  stackSafetyTests("heron", {
    root: FIXTURE,
    plant: {
      override: { "fleet:heron": (v) => ({ ...(v as object), repo: { url: `https://git.example.net/birds/${PLANTED}.git`, ref: "v1.0.0" } }) },
      expect: ["command:remote:Command::heron-checkout-command create"],
    },
  });
});
