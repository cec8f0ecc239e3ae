/**
 * The stacks this program composes, by name, and the checks of a render request that
 * need nothing else. `npm run render` answers a usage error, an unknown stack or an
 * output directory it must not touch from this module alone, without loading any
 * composition or Pulumi (≈ 2 CPU s more per run through tsx). stacks/registry.ts keys
 * its entries by these names: a stack in one list and not the other does not compile.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { RenderUsageError } from "./usage-error";

export const STACK_NAMES = ["daarion", "menagerie", "ouranos"] as const;
export type StackName = (typeof STACK_NAMES)[number];

/** The usage error for a stack name that `known` lacks, listing the known ones. */
export function unknownStack(stack: string, known: readonly string[]): RenderUsageError {
  return new RenderUsageError(`unknown stack "${stack}"; known stacks: ${[...known].sort().join(", ")}`);
}

/** Refuse a stack name that is not one of {@link STACK_NAMES}. */
export function checkStackName(stack: string): void {
  if (!(STACK_NAMES as readonly string[]).includes(stack)) throw unknownStack(stack, STACK_NAMES);
}

/**
 * Make `outDir` ready for a render: absent or empty as it is, a previous render (an
 * INDEX.tsv) removed with `clean`, anything else refused.
 */
export function prepareOutDir(outDir: string, clean: boolean): void {
  if (!existsSync(outDir)) return;
  const entries = readdirSync(outDir);
  if (entries.length === 0) return;
  if (clean && entries.includes("INDEX.tsv")) {
    rmSync(outDir, { recursive: true, force: true });
    return;
  }
  throw new RenderUsageError(
    clean
      ? `${outDir} is not empty and holds no INDEX.tsv, so it is not a previous render; refusing to delete it`
      : `${outDir} is not empty; choose a new or empty directory, or pass --clean to replace a previous render`,
  );
}
