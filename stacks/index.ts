/**
 * The Pulumi program: picks the stack's composition by `pulumi.getStack()`.
 * Loaded by Pulumi's Node.js runner (CommonJS, TypeScript through its ts-node),
 * which awaits the exported promise and takes its value as the stack outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { fleetProgram } from "../src/remote/command";
import { ConfigError } from "../src/validation/errors";
import { knownStacks, STACKS } from "./registry";

function run(): Promise<unknown> {
  const name = pulumi.getStack();
  const stack = Object.hasOwn(STACKS, name) ? STACKS[name] : undefined;
  if (!stack) {
    throw new ConfigError(`stack "${name}"`, [{ path: "stack", message: `has no composition in stacks/; known stacks: ${knownStacks().join(", ")}` }]);
  }
  // One reload per host and daemon per deploy; the batches close when the composition has
  // returned, before Pulumi awaits its outputs (docs/remote-primitive.md).
  return fleetProgram(() => stack.program())();
}

// Pulumi's runner awaits the exported promise only after loading the module; marked
// handled here so that a ConfigError thrown before any resource is printed as itself,
// without Node's "PromiseRejectionHandledWarning" around it.
const program = run();
program.catch(() => undefined);
export = program;
