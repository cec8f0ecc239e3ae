import { expect, it } from "vitest";
import { runProgram } from "../../src/testing/mocks";
import { ouranosConfig, registryCalls } from "./ouranos-config";

it("builds", async () => {
  const { ouranos } = await import("../../stacks/ouranos");
  const { config, secretKeys } = ouranosConfig();
  const run = await runProgram(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
  console.log(run.names().join("\n"));
  expect(run.resources.length).toBeGreaterThan(20);
});
