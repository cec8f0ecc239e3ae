/**
 * The worker's stack-trace hook (stack-traces.ts, installed by setup.ts): Pulumi's
 * per-promise traces are skipped, every other trace is still source-mapped to the
 * TypeScript line it was thrown on.
 */
import * as debuggable from "@pulumi/pulumi/runtime/debuggable";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runProcessSync } from "./spawn";
import { PROMISE_STACKS_PRELUDE, SKIPPED_TRACE } from "./stack-traces";

// Internal to Pulumi (marked @internal, so not in its declarations): the function every runtime promise goes through.
const { debuggablePromise } = debuggable as unknown as { debuggablePromise: <T>(p: Promise<T>, ctx: string) => Promise<T> };

describe("stack traces in the test workers", () => {
  it("maps an ordinary error to this TypeScript file and line", () => {
    const stack = new Error("mapped-marker").stack!;
    const want = readFileSync(__filename, "utf8").split("\n").findIndex((l) => l.includes('new Error("mapped-marker")')) + 1;
    expect(stack.split("\n")[1]).toMatch(new RegExp(`stack-traces\\.test\\.ts:${want}:\\d+\\)?$`));
  });

  it("does not format the trace Pulumi keeps on every promise", async () => {
    const promise = Promise.resolve(1);
    await debuggablePromise(promise, "test");
    expect((promise as unknown as { _debugStackTrace?: string })._debugStackTrace).toBe(SKIPPED_TRACE);
    // The same hook on a trace taken elsewhere: mapped as before.
    expect(new Error("x").stack).toContain("stack-traces.test.ts:");
  });

  it("survives a library that replaces the hook for a moment and puts back what it read (callsites, under ESLint), nested too", () => {
    // What such a library does: read the property (the hook, here), set its own, assign back what it read.
    const read = (): typeof Error.prepareStackTrace => Reflect.get(Error, "prepareStackTrace");
    const outer = read();
    Error.prepareStackTrace = (error) => `outer:${String(error)}`;
    const inner = read();
    Error.prepareStackTrace = (_e, stack) => stack;
    const sites = new Error("sites").stack as unknown as NodeJS.CallSite[];
    Error.prepareStackTrace = inner;
    const afterInner = new Error("x").stack;
    Error.prepareStackTrace = outer;
    expect(Array.isArray(sites)).toBe(true);
    expect(afterInner).toBe("outer:Error: x");
    // Put back as it was: mapped to this file, no recursion.
    expect(new Error("after").stack).toContain("stack-traces.test.ts:");
  });
});

describe("the prelude in a plain node process (as the runner test's launcher uses it)", () => {
  it("stays in front of a hook installed later, and skips only debuggablePromise's traces", () => {
    const script = `${PROMISE_STACKS_PRELUDE}
      Error.prepareStackTrace = (error, stack) => "custom:" + error.message + ":" + stack[0].getFunctionName();
      function debuggablePromise() { return new Error("in pulumi").stack; }
      function elsewhere() { return new Error("mine").stack; }
      console.log(JSON.stringify([debuggablePromise(), elsewhere()]));`;
    const r = runProcessSync(process.execPath, ["-e", script]);
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([SKIPPED_TRACE, "custom:mine:elsewhere"]);
  });

  it("changes nothing when PULUMI_DEBUG_PROMISE_LEAKS is set", () => {
    const script = `${PROMISE_STACKS_PRELUDE}
      function debuggablePromise() { return new Error("in pulumi").stack; }
      console.log(debuggablePromise().split("\\n")[1].trim().split(" ")[1]);`;
    const r = runProcessSync(process.execPath, ["-e", script], { env: { ...process.env, PULUMI_DEBUG_PROMISE_LEAKS: "1" } });
    expect(r).toEqual({ code: 0, stdout: "debuggablePromise\n", stderr: "" });
  });
});
