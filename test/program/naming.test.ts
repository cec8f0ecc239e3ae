/**
 * House style 7: every child of a component is named `${parent}-<role>`, so names
 * stay unique and readable across a whole stack. Checked over the full ouranos graph.
 */
import { describe, expect, it } from "vitest";
import { runProgram } from "../../src/testing/mocks";
import { ouranosConfig, registryCalls } from "../stacks/ouranos-config";

describe("child naming across the ouranos stack", () => {
  it("every child of a fleet component carries its parent's name as prefix", async () => {
    const { ouranos } = await import("../../stacks/ouranos");
    const { config, secretKeys } = ouranosConfig();
    const run = await runProgram(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
    const typeOf = new Map(run.resources.map((r) => [r.name, r.type]));
    const offenders = run.resources
      .filter((r) => r.parentName !== undefined && (typeOf.get(r.parentName) ?? "").startsWith("fleet:") && !(typeOf.get(r.parentName) ?? "").startsWith("fleet:stack:"))
      .filter((r) => !r.name.startsWith(`${r.parentName}-`))
      .map((r) => `${r.parentName} > ${r.name}`);
    expect(offenders).toEqual([]);
    // And the check is not vacuous.
    expect(run.resources.filter((r) => r.parentName === "mnemosyne").length).toBeGreaterThan(5);
  });

  it("names are unique per type", async () => {
    const { ouranos } = await import("../../stacks/ouranos");
    const { config, secretKeys } = ouranosConfig();
    const run = await runProgram(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
    const keys = run.resources.map((r) => `${r.type}::${r.name}`);
    expect(keys.length).toBe(new Set(keys).size);
  });
});
