/**
 * The spawn helper: a child that exits without reading its stdin is an exit code,
 * never an uncaught EPIPE (which fails the whole vitest run, whichever test caused it).
 */
import { type ChildProcess } from "node:child_process";
import { describe, expect, it } from "vitest";
import { runProcess, runProcessSync, runShell, runShellSync } from "./spawn";

// Far more than a pipe holds (64 KiB on Linux): the write cannot complete before the child exits.
const BIG = "x".repeat(16 * 1024 * 1024);

describe("runProcess", () => {
  it("reports the exit code of a child that exits without reading a large stdin (EPIPE is not an error)", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => runShell(`echo early ${i}; exit 3`, { input: BIG })));
    expect(results).toEqual(Array.from({ length: 8 }, (_, i) => ({ code: 3, stdout: `early ${i}\n`, stderr: "" })));
  });

  it("passes stdin through to a child that reads it", async () => {
    expect(await runShell("wc -c", { input: BIG })).toEqual({ code: 0, stdout: `${BIG.length}\n`, stderr: "" });
    expect(await runProcess("cat", [], { input: "a\nb\n" })).toEqual({ code: 0, stdout: "a\nb\n", stderr: "" });
  });

  it("gives a child without input /dev/null as stdin", async () => {
    expect(await runShell("cat; echo done")).toEqual({ code: 0, stdout: "done\n", stderr: "" });
  });

  it("reports a signal as 128 + its number", async () => {
    expect((await runShell("kill -TERM $$")).code).toBe(143);
  });

  it("rejects, naming the command, when the program is missing or the timeout kills it", async () => {
    await expect(runProcess("/nonexistent/fleet-tool", ["a b"], { input: "x" })).rejects.toThrow("cannot run /nonexistent/fleet-tool 'a b': spawn /nonexistent/fleet-tool ENOENT");
    // The killed shell's `sleep` keeps the pipes open: a short grace instead of the default 2 s.
    await expect(runShell("echo started; sleep 10", { timeoutMs: 300, pipeGraceMs: 100 })).rejects.toThrow(/^timed out after 300 ms: \/bin\/sh -c 'echo started; sleep 10'\n--- stdout ---\nstarted\n/);
  });

  it("tells `track` when the child starts and when it is done", async () => {
    const seen: [ChildProcess, boolean][] = [];
    await runShell("exit 0", { input: BIG, track: (c, running) => seen.push([c, running]) });
    expect(seen.map(([, r]) => r)).toEqual([true, false]);
    expect(seen[0]![0]).toBe(seen[1]![0]);
  });
});

describe("runProcessSync", () => {
  it("reports the exit code of a child that exits without reading a large stdin", () => {
    expect(runShellSync("echo early; exit 4", { input: BIG })).toEqual({ code: 4, stdout: "early\n", stderr: "" });
  });

  it("passes stdin through, and throws on a missing program or a timeout", () => {
    expect(runProcessSync("cat", [], { input: "z" })).toEqual({ code: 0, stdout: "z", stderr: "" });
    expect(() => runProcessSync("/nonexistent/fleet-tool", [])).toThrow("cannot run /nonexistent/fleet-tool: spawnSync /nonexistent/fleet-tool ENOENT");
    expect(() => runShellSync("sleep 10", { timeoutMs: 300 })).toThrow(/^timed out after 300 ms: \/bin\/sh -c 'sleep 10'/);
  });
});
