/**
 * Cheap stack traces for @pulumi/pulumi's promise bookkeeping, in the test workers and
 * in the child processes that load the program the way Pulumi's runner does.
 *
 * Pulumi's `debuggablePromise` (runtime/debuggable.js) reads `new Error().stack` for
 * every promise it makes, thousands per stack build, and keeps the text only to print
 * it when PULUMI_DEBUG_PROMISE_LEAKS is set. Every `.stack` goes through whichever
 * source-map rewriting is installed as Error.prepareStackTrace (vite's in a vitest
 * worker, source-map-support's under Pulumi's runner), which was about 40% of the CPU
 * time of building a stack under mocks. The hook below sits in front of whatever
 * Error.prepareStackTrace is, now or later (an accessor: a later assignment becomes
 * the hook it calls; assigning the hook itself back restores the one it replaced), and
 * gives traces taken inside `debuggablePromise` a one-line
 * text saying how to get the real one. Every other trace is formatted exactly as
 * before (test failures keep their TypeScript positions). With
 * PULUMI_DEBUG_PROMISE_LEAKS set nothing is changed.
 *
 * It is JavaScript source so that a child `node -e` launcher can run the same code
 * (`PROMISE_STACKS_PRELUDE + launcher`); the worker runs it with vm.runInThisContext.
 */
import { runInThisContext } from "node:vm";

export const SKIPPED_TRACE = "(promise trace not formatted in tests; set PULUMI_DEBUG_PROMISE_LEAKS=1 to get it)";

export const PROMISE_STACKS_PRELUDE = `
(() => {
  const mark = Symbol.for("fleet.cheapPulumiPromiseStacks");
  if (process.env.PULUMI_DEBUG_PROMISE_LEAKS || Error[mark]) return;
  let inner = Error.prepareStackTrace;
  const v8Format = (error, stack) => String(error) + stack.map((site) => "\\n    at " + site.toString()).join("");
  const hook = (error, stack) => {
    if (stack.length > 0 && stack[0].getFunctionName() === "debuggablePromise") return ${JSON.stringify(SKIPPED_TRACE)};
    return typeof inner === "function" ? inner(error, stack) : v8Format(error, stack);
  };
  Object.defineProperty(Error, mark, { value: true });
  // A library that swaps the hook for a moment saves what it reads (this hook) and puts it
  // back (callsites, under ESLint's config loader): putting the hook back restores the
  // one it replaced, instead of making the hook call itself.
  const replaced = [];
  Object.defineProperty(Error, "prepareStackTrace", {
    configurable: true,
    get: () => hook,
    set: (fn) => {
      if (fn === hook) { if (replaced.length > 0) inner = replaced.pop(); return; }
      replaced.push(inner);
      inner = fn;
    },
  });
})();
`;

/** Install the hook in this process (idempotent: vitest runs setup files once per test file). */
export function cheapPulumiPromiseStacks(): void {
  runInThisContext(PROMISE_STACKS_PRELUDE, { filename: "test/helpers/stack-traces.ts (prelude)" });
}
