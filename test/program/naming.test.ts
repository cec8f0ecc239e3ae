/**
 * House style 7: every child of a component is named `${parent}-<role>`, so names
 * stay unique and readable across a whole stack. Checked over the full ouranos graph.
 * One exception: an app's workload may carry the app's own name (AppDeployment's
 * `names`, e.g. Mnemosyne's compose project `mnemosyne`, whose files are named after it).
 */
import { describe, expect, it } from "vitest";
import { runProgram } from "../../src/testing/mocks";
import { ouranosConfig, registryCalls } from "../stacks/ouranos-config";

describe("child naming across the ouranos stack", () => {
  it("every child of a fleet component carries its parent's name as prefix", async () => {
    const { ouranos } = await import("../../stacks/ouranos");
    const { config, secretKeys } = ouranosConfig();
    const run = await runProgram(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
    // The parent's type from the parent itself: an app and its workload may share a name.
    const typeOfParent = (r: (typeof run.resources)[number]) => (r.opts.parent as unknown as { __pulumiType?: string } | undefined)?.__pulumiType ?? "";
    const offenders = run.resources
      .filter((r) => r.parentName !== undefined && typeOfParent(r).startsWith("fleet:") && !typeOfParent(r).startsWith("fleet:stack:"))
      .filter((r) => !r.name.startsWith(`${r.parentName}-`) && !(r.name === r.parentName && typeOfParent(r) === "fleet:app:Deployment"))
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
