/**
 * The Pulumi program: picks the stack's composition by `pulumi.getStack()`.
 * Loaded by Pulumi's Node.js runner (CommonJS, TypeScript through its ts-node).
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../src/validation/errors";
import { ouranos } from "./ouranos";

const stacks: Record<string, () => Record<string, pulumi.Input<unknown>>> = {
  ouranos: () => ouranos(),
};

function run(): Record<string, pulumi.Input<unknown>> {
  const name = pulumi.getStack();
  const build = stacks[name];
  if (!build) {
    throw new ConfigError(`stack "${name}"`, [
      { path: "stack", message: `has no composition in stacks/; known stacks: ${Object.keys(stacks).join(", ")}` },
    ]);
  }
  return build();
}

export = run();
