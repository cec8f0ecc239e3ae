/**
 * One reload per daemon per deploy (issue 15), at the level of the file helper: files
 * written with `put --defer` are validated with the whole config and recorded as waiting;
 * `reload` makes all of them live at once, or puts every one back when the reload fails.
 * Run for real through /bin/sh in a temp dir, the helper called by its path as on a host.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { type Daemon } from "../../src/remote/daemons";
import { bundlePart, putArgs, rmArgs } from "../../src/remote/helper";
import { sh } from "../../src/remote/quote";
import { type FileTarget, helperFor } from "../../src/remote/scripts";
import { runShell } from "../helpers/spawn";

let dir: string;
let etc: string;
let daemon: Daemon;
const ctx = () => ({ lockDir: path.join(dir, "lock"), sudo: false, host: "testhost" });
const file = (name: string, assemble?: string): FileTarget => ({ path: path.join(etc, name), owner: "root", group: "root", mode: "0644", ...(assemble ? { assemble } : {}) });

/** Each reload records what the "daemon" loaded: every fragment's content, in name order. */
const reloads = (): string[] => (existsSync(path.join(dir, "reloads")) ? readFileSync(path.join(dir, "reloads"), "utf8").split("\n").filter(Boolean) : []);
const read = (name: string): string | undefined => (existsSync(path.join(etc, name)) ? readFileSync(path.join(etc, name), "utf8") : undefined);

/** Install the helper of `target` as an executable file in the temp dir and run it with `args`. */
async function helper(target: FileTarget, args: string, stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  const h = helperFor(target, daemon, ctx());
  const exe = path.join(dir, h.name);
  if (!existsSync(exe)) {
    writeFileSync(exe, h.text);
    chmodSync(exe, 0o755);
  }
  return runShell(`${sh(exe)} ${args}`, { input: stdin });
}
const put = (t: FileTarget, content: string, defer = true) => helper(t, putArgs(t, false, defer), content);
const reload = (t: FileTarget) => helper(t, "reload");

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "fleet-reload-"));
  etc = path.join(dir, "etc");
  mkdirSync(etc);
  // The "validator" refuses any fragment containing BROKEN; the "reload" fails while the
  // file `fail-reload` exists, and otherwise records what it loaded.
  daemon = {
    lock: "app",
    service: "appd",
    checker: "appd -t",
    validate: `if grep -l BROKEN ${sh(etc)}/*.conf; then echo "appd: BROKEN is not a directive" >&2; exit 1; fi`,
    reload: `if [ -e ${sh(path.join(dir, "fail-reload"))} ]; then echo "appd: cannot bind" >&2; exit 1; fi; cat ${sh(etc)}/*.conf | tr '\\n' ' ' >> ${sh(path.join(dir, "reloads"))}; echo >> ${sh(path.join(dir, "reloads"))}`,
  };
});

describe("put --defer and reload", () => {
  it("writes and validates each file without reloading; one reload makes all of them live; a second has nothing to do", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    expect(await put(a, "a1\n")).toMatchObject({ code: 0, stdout: `fleet: updated ${a.path}; appd reload pending\n` });
    expect(await put(b, "b1\n")).toMatchObject({ code: 0, stdout: `fleet: updated ${b.path}; appd reload pending\n` });
    expect(reloads()).toEqual([]);
    expect(await reload(a)).toMatchObject({ code: 0, stdout: `fleet: reloaded appd on testhost for ${a.path} ${b.path}\n` });
    expect(reloads()).toEqual(["a1 b1 "]);
    expect(await reload(b)).toMatchObject({ code: 0, stdout: "fleet: nothing waiting for a appd reload on testhost\n" });
    expect(reloads()).toEqual(["a1 b1 "]);
    // Nothing of the bookkeeping is left behind.
    expect(existsSync(path.join(dir, "lock", "fleet-app.pending"))).toBe(false);
    expect(existsSync(path.join(etc, ".a.conf.fleet-live"))).toBe(false);
  });

  it("unchanged bytes are not recorded: the reload finds nothing waiting", async () => {
    const a = file("a.conf");
    await put(a, "a1\n", false);
    expect(reloads()).toEqual(["a1 "]);
    expect((await put(a, "a1\n")).stdout).toBe(`fleet: unchanged ${a.path}\n`);
    expect((await reload(a)).stdout).toBe("fleet: nothing waiting for a appd reload on testhost\n");
    expect(reloads()).toEqual(["a1 "]);
  });

  it("a file the validator refuses is put back and named; the files accepted before it stay on disk, waiting, and the next reload makes them live", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    await put(b, "b1\n", false);
    expect(await put(a, "a1\n")).toMatchObject({ code: 0 });
    const refused = await put(b, "b2 BROKEN\n");
    expect(refused.code).toBe(1);
    expect(refused.stderr.split("\n")[0]).toBe(`fleet: appd -t refused ${b.path} on testhost; previous version restored, appd not reloaded`);
    expect(read("b.conf")).toBe("b1\n");
    expect(read("a.conf")).toBe("a1\n");
    expect(reloads()).toEqual(["b1 "]);
    expect((await reload(a)).code).toBe(0);
    expect(reloads()).toEqual(["b1 ", "a1 b1 "]);
  });

  it("a reload that fails puts back every waiting file as the daemon runs it (the first live version, not an intermediate one), reloads again, and names the files", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    await put(a, "a1\n", false);
    await put(a, "a2\n");
    await put(a, "a3\n");
    await put(b, "b1\n");
    writeFileSync(path.join(dir, "fail-reload"), "");
    const r = await reload(a);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(`fleet: reloading appd failed on testhost after writing ${a.path} ${b.path}; live versions restored, reloading appd with them failed too`);
    expect(r.stderr).toContain("appd: cannot bind");
    expect(read("a.conf")).toBe("a1\n");
    expect(read("b.conf")).toBeUndefined();
    expect(existsSync(path.join(dir, "lock", "fleet-app.pending"))).toBe(false);
    expect(reloads()).toEqual(["a1 "]);
  });

  it("a failed reload re-assembles derived files with the helper that wrote each fragment", async () => {
    const assemble = `cat ${sh(etc)}/*.map 2>/dev/null > ${sh(path.join(dir, "hosts.map"))} || true`;
    const m = file("x.map", assemble);
    const a = file("a.conf");
    await put(m, "x -> a1\n", false);
    await put(m, "x -> a2\n");
    expect(readFileSync(path.join(dir, "hosts.map"), "utf8")).toBe("x -> a2\n");
    writeFileSync(path.join(dir, "fail-reload"), "");
    // The reload runs with another file's helper (no assemble step of its own).
    expect((await reload(a)).code).toBe(1);
    expect(read("x.map")).toBe("x -> a1\n");
    expect(readFileSync(path.join(dir, "hosts.map"), "utf8")).toBe("x -> a1\n");
  });

  it("any other reload of the daemon (a removal, an immediate write) makes the waiting files live and clears them", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    await put(b, "b1\n", false);
    await put(a, "a1\n");
    expect(await helper(b, rmArgs(b))).toMatchObject({ code: 0, stdout: `fleet: removed ${b.path}\n` });
    expect(reloads()).toEqual(["b1 ", "a1 "]);
    expect((await reload(a)).stdout).toBe("fleet: nothing waiting for a appd reload on testhost\n");
    expect(reloads()).toEqual(["b1 ", "a1 "]);
  });
});

describe("hold and rm --defer (a destroy: one reload after the last removal)", () => {
  const hold = (t: FileTarget) => helper(t, "hold");
  const rm = (t: FileTarget) => helper(t, rmArgs(t, true));

  it("without a hold, rm --defer reloads at once (a removal in an up)", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    await put(a, "a1\n", false);
    await put(b, "b1\n", false);
    expect(await rm(a)).toMatchObject({ code: 0, stdout: `fleet: removed ${a.path}\n` });
    expect(reloads()).toEqual(["a1 ", "a1 b1 ", "b1 "]);
  });

  it("after hold, each removal is validated without reloading; the next reload makes all of them live at once and ends the hold", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    const c = file("c.conf");
    const d = file("d.conf");
    for (const [t, v] of [[a, "a1"], [b, "b1"], [c, "c1"], [d, "d1"]] as const) await put(t, `${v}\n`);
    await reload(a);
    expect(reloads()).toEqual(["a1 b1 c1 d1 "]);
    expect(await hold(a)).toMatchObject({ code: 0, stdout: "fleet: appd reloads on testhost held for the removals that follow\n" });
    expect(await rm(a)).toMatchObject({ code: 0, stdout: `fleet: removed ${a.path}; appd reload pending\n` });
    expect(await rm(b)).toMatchObject({ code: 0, stdout: `fleet: removed ${b.path}; appd reload pending\n` });
    expect(read("a.conf")).toBeUndefined();
    expect(reloads()).toEqual(["a1 b1 c1 d1 "]);
    expect(await reload(c)).toMatchObject({ code: 0, stdout: `fleet: reloaded appd on testhost for ${a.path} ${b.path}\n` });
    expect(reloads()).toEqual(["a1 b1 c1 d1 ", "c1 d1 "]);
    expect(existsSync(path.join(dir, "lock", "fleet-app.held"))).toBe(false);
    // The hold ended with that reload: the next removal reloads at once.
    expect(await rm(c)).toMatchObject({ code: 0, stdout: `fleet: removed ${c.path}\n` });
    expect(reloads()).toEqual(["a1 b1 c1 d1 ", "c1 d1 ", "d1 "]);
  });

  it("a removal the validator refuses is put back and named, held or not", async () => {
    const a = file("a.conf");
    const need = file("need.conf");
    await put(a, "a1\n", false);
    await put(need, "n1\n", false);
    // The "validator" now needs need.conf.
    daemon = { ...daemon, validate: `[ -e ${sh(need.path)} ] || { echo "appd: need.conf is missing" >&2; exit 1; }` };
    await hold(a);
    const r = await rm(need);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(`fleet: appd -t refused the config without ${need.path} on testhost; last deployed version restored, appd not reloaded`);
    expect(read("need.conf")).toBe("n1\n");
  });

  it("when the reload after held removals fails, the removed files are put back as the daemon runs them, and it reloads with them again", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    await put(a, "a1\n", false);
    await put(b, "b1\n", false);
    await hold(a);
    await rm(a);
    writeFileSync(path.join(dir, "fail-reload"), "");
    const r = await reload(b);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(`fleet: reloading appd failed on testhost after writing ${a.path}; live versions restored, reloading appd with them failed too`);
    expect(read("a.conf")).toBe("a1\n");
    expect(existsSync(path.join(dir, "lock", "fleet-app.held"))).toBe(false);
  });

  it("a file put back to its version from before the first deploy waits for the reload too", async () => {
    const a = file("a.conf");
    writeFileSync(a.path, "a0\n");
    expect((await helper(a, putArgs(a, true, false), "a1\n")).code).toBe(0);
    await hold(a);
    expect(await rm(a)).toMatchObject({ code: 0, stdout: `fleet: restored ${a.path} as it was before the first deploy; appd reload pending\n` });
    expect(reloads()).toEqual(["a1 "]);
    expect((await reload(a)).code).toBe(0);
    expect(reloads()).toEqual(["a1 ", "a0 "]);
    expect(read("a.conf")).toBe("a0\n");
    expect(existsSync(path.join(etc, ".a.conf.fleet-orig"))).toBe(false);
  });
});

describe("put --bundled (several files of one resource in one SSH session)", () => {
  /** One shell line as `remoteFiles` runs it: each file's helper call, stdin the bundle. */
  const putAll = async (files: readonly [FileTarget, string][], stdin?: string) => {
    const line = files.map(([t]) => `${sh(path.join(dir, helperFor(t, daemon, ctx()).name))} ${putArgs(t, false, true, true)}`).join(" && ");
    for (const [t] of files) await helper(t, "hold"); // installs each helper (hold is cleared by the reload below)
    return runShell(line, { input: stdin ?? files.map(([t, c]) => bundlePart(t.path, c)).join("") });
  };

  it("each call takes exactly its part, even when the validator reads stdin; both wait for the one reload", async () => {
    daemon = { ...daemon, validate: `cat > /dev/null; ${daemon.validate!}` };
    const a = file("a.conf");
    const b = file("b.conf");
    // No trailing newline and multi-byte characters: the part is counted in bytes.
    const r = await putAll([
      [a, "a1 \u00e9t\u00e9"],
      [b, "b1\n"],
    ]);
    expect(r).toMatchObject({ code: 0, stdout: `fleet: updated ${a.path}; appd reload pending\nfleet: updated ${b.path}; appd reload pending\n` });
    expect(read("a.conf")).toBe("a1 \u00e9t\u00e9");
    expect(read("b.conf")).toBe("b1\n");
    expect((await reload(a)).code).toBe(0);
    expect(reloads()).toEqual(["a1 \u00e9t\u00e9b1 "]);
    // Again with the first unchanged: it still takes only its part.
    expect(
      await putAll([
        [a, "a1 \u00e9t\u00e9"],
        [b, "b2\n"],
      ]),
    ).toMatchObject({ code: 0, stdout: `fleet: unchanged ${a.path}\nfleet: updated ${b.path}; appd reload pending\n` });
    expect(read("b.conf")).toBe("b2\n");
  });

  it("a refused second file is put back and named; the first stays written and waiting, as with two resources", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    const r = await putAll([
      [a, "a1\n"],
      [b, "BROKEN\n"],
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`fleet: appd -t refused ${b.path} on testhost; new file removed, appd not reloaded`);
    expect(read("a.conf")).toBe("a1\n");
    expect(read("b.conf")).toBeUndefined();
    expect((await reload(a)).code).toBe(0);
    expect(reloads()).toEqual(["a1 "]);
  });

  it("a part that names another file, or is shorter than its header says, leaves the live file untouched", async () => {
    const a = file("a.conf");
    writeFileSync(a.path, "a0\n");
    const wrong = await putAll([[a, "x"]], bundlePart(path.join(etc, "other.conf"), "a1\n"));
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain(`the bundle on stdin holds ${path.join(etc, "other.conf")} where ${a.path} was expected on testhost; live file untouched`);
    const short = await putAll([[a, "x"]], `#fleet-file 10 ${a.path}\na1\n`);
    expect(short.code).not.toBe(0);
    expect(short.stderr).toContain(`could not write the new version of ${a.path} on testhost (disk full, or stdin ended early?); live file untouched`);
    const bad = await putAll([[a, "x"]], `a1\n`);
    expect(bad.stderr).toContain(`bad bundle header for ${a.path} on testhost`);
    expect(read("a.conf")).toBe("a0\n");
    expect(reloads()).toEqual([]);
  });
});
