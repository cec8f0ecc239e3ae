/**
 * One reload per daemon per deploy (issue 15), at the level of the file helper: files
 * written with `put --defer` are validated with the whole config and recorded as waiting;
 * `reload` makes all of them live at once, or puts every one back when the reload fails.
 * Run for real through /bin/sh in a temp dir, the helper called by its path as on a host.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { type Daemon } from "../../src/remote/daemons";
import { bundlePart, type FileHelper, putArgs, rmArgs } from "../../src/remote/helper";
import { sh } from "../../src/remote/quote";
import { installHelperIn } from "../helpers/inputs";
import { type FileTarget, helperFor, helperForFiles } from "../../src/remote/scripts";
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
  return runShell(`${sh(install(helperFor(target, daemon, ctx())))} ${args}`, { input: stdin });
}
/** Writes `h` as an executable file in the temp dir (once); its path. */
const install = (h: FileHelper): string => installHelperIn(dir, h);
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

describe("put --bundled --and (several files of one resource: one SSH session, one transaction)", () => {
  /** The one helper call `remoteFiles` runs, stdin the bundle. */
  const putAll = async (files: readonly [FileTarget, string][], stdin?: string, defer = true) => {
    const targets = files.map(([t]) => t);
    const exe = install(helperForFiles(targets, daemon, ctx()));
    return runShell(`${sh(exe)} ${putArgs(targets, false, defer, true)}`, { input: stdin ?? files.map(([t, c]) => bundlePart(t.path, c)).join("") });
  };
  const rmAll = (targets: readonly FileTarget[], defer = false) => runShell(`${sh(install(helperForFiles(targets, daemon, ctx())))} ${rmArgs(targets, defer)}`);
  /** The validator records each run: one whole-config check per call, however many files. */
  const counted = () => {
    daemon = { ...daemon, validate: `echo >> ${sh(path.join(dir, "checks"))}; ${daemon.validate!}` };
  };
  const checks = () => (existsSync(path.join(dir, "checks")) ? readFileSync(path.join(dir, "checks"), "utf8").split("\n").length - 1 : 0);

  it("takes each file's part, even when the validator reads stdin; validates once; both wait for the one reload", async () => {
    daemon = { ...daemon, validate: `cat > /dev/null; ${daemon.validate!}` };
    counted();
    const a = file("a.conf");
    const b = file("b.conf");
    // No trailing newline and multi-byte characters: the part is counted in bytes.
    const r = await putAll([
      [a, "a1 \u00e9t\u00e9"],
      [b, "b1\n"],
    ]);
    expect(r).toMatchObject({ code: 0, stdout: `fleet: updated ${a.path}; appd reload pending\nfleet: updated ${b.path}; appd reload pending\n` });
    expect(checks()).toBe(1);
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
    // Both unchanged: nothing validated, nothing waiting.
    expect(
      await putAll([
        [a, "a1 \u00e9t\u00e9"],
        [b, "b2\n"],
      ]),
    ).toMatchObject({ code: 0, stdout: `fleet: unchanged ${a.path}\nfleet: unchanged ${b.path}\n` });
    // The first put, the reload's own check, the second put: none for the third.
    expect(checks()).toBe(3);
  });

  it("a refused second file puts back both files, names both and shows the validator's message; nothing waits for the reload", async () => {
    counted();
    const a = file("a.conf");
    const b = file("b.conf");
    writeFileSync(a.path, "a0\n");
    const r = await putAll([
      [a, "a1\n"],
      [b, "BROKEN\n"],
    ]);
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toBe(`fleet: appd -t refused ${a.path} and ${b.path} on testhost; ${a.path}: previous version restored, ${b.path}: new file removed, appd not reloaded`);
    expect(lines.slice(1)).toContain("  appd: BROKEN is not a directive");
    expect(checks()).toBe(1);
    expect(read("a.conf")).toBe("a0\n");
    expect(read("b.conf")).toBeUndefined();
    expect(readdirSync(etc).filter((f) => f.includes(".fleet-"))).toEqual([]);
    expect(await reload(a)).toMatchObject({ code: 0, stdout: "fleet: nothing waiting for a appd reload on testhost\n" });
    expect(reloads()).toEqual([]);
  });

  it("without --defer, one reload for both; a failed reload puts both back and reloads with them again", async () => {
    counted();
    const a = file("a.conf");
    const b = file("b.conf");
    expect(await putAll([[a, "a1\n"], [b, "b1\n"]], undefined, false)).toMatchObject({ code: 0, stdout: `fleet: updated ${a.path}\nfleet: updated ${b.path}\n` });
    expect(reloads()).toEqual(["a1 b1 "]);
    writeFileSync(path.join(dir, "fail-reload"), "");
    const r = await putAll([[a, "a2\n"], [b, "b2\n"]], undefined, false);
    expect(r.stderr.split("\n")[0]).toBe(
      `fleet: reloading appd failed after writing ${a.path} and writing ${b.path} on testhost; ${a.path}: previous version restored, ${b.path}: previous version restored, reloading appd with them failed too`,
    );
    expect([read("a.conf"), read("b.conf")]).toEqual(["a1\n", "b1\n"]);
    expect(checks()).toBe(2);
  });

  it("a second part that cannot be read touches neither file: both are staged before the lock, the first one's temp file removed", async () => {
    const a = file("a.conf");
    const b = file("b.conf");
    writeFileSync(a.path, "a0\n");
    const inode = statSync(a.path).ino;
    const r = await putAll([[a, "x"], [b, "x"]], `${bundlePart(a.path, "a1\n")}#fleet-file 10 ${b.path}\nb1\n`);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toBe(`fleet: could not write the new version of ${b.path} on testhost (disk full, or stdin ended early?); live file untouched\n`);
    // Never swapped in (a restore would have put back a copy: another inode).
    expect([read("a.conf"), statSync(a.path).ino]).toEqual(["a0\n", inode]);
    expect(read("b.conf")).toBeUndefined();
    expect(readdirSync(etc).filter((f) => f.includes(".fleet-"))).toEqual([]);
    expect(reloads()).toEqual([]);
  });

  it("the assemble step of the one file that has it runs once for all of them, and again after a refusal", async () => {
    const assemble = `cat ${sh(etc)}/*.frag > ${sh(path.join(etc, "all.derived"))} 2>/dev/null || :`;
    daemon = { ...daemon, validate: `if grep -q BROKEN ${sh(etc)}/*.conf ${sh(path.join(etc, "all.derived"))}; then echo "appd: BROKEN" >&2; exit 1; fi` };
    const a = file("a.conf");
    const m = file("a.frag", assemble);
    expect((await putAll([[a, "a1\n"], [m, "m1\n"]])).code).toBe(0);
    expect(read("all.derived")).toBe("m1\n");
    const r = await putAll([[a, "a2\n"], [m, "BROKEN\n"]]);
    expect(r.stderr.split("\n")[0]).toBe(`fleet: appd -t refused ${a.path} and ${m.path} on testhost; ${a.path}: previous version restored, ${m.path}: previous version restored, appd not reloaded`);
    expect([read("a.conf"), read("a.frag"), read("all.derived")]).toEqual(["a1\n", "m1\n", "m1\n"]);
    expect(() => helperForFiles([m, file("b.frag", "true")], daemon, ctx())).toThrow(/different assemble steps/);
  });

  it("rm --and removes both with one check; a refused removal puts both back and names both", async () => {
    counted();
    const a = file("a.conf");
    const b = file("b.conf");
    const keep = file("keep.conf");
    expect((await putAll([[a, "a1\n"], [b, "b1\n"], [keep, "k1\n"]], undefined, false)).code).toBe(0);
    // The config is refused without b.conf (BROKEN is fine only next to it).
    daemon = { ...daemon, validate: `echo >> ${sh(path.join(dir, "checks"))}; if [ ! -e ${sh(b.path)} ]; then echo "appd: keep needs b" >&2; exit 1; fi` };
    const refused = await rmAll([b, a]);
    expect(refused.stderr.split("\n")[0]).toBe(`fleet: appd -t refused the config without ${b.path} and the config without ${a.path} on testhost; ${b.path}: last deployed version restored, ${a.path}: last deployed version restored, appd not reloaded`);
    expect([read("a.conf"), read("b.conf")]).toEqual(["a1\n", "b1\n"]);
    daemon = { ...daemon, validate: `echo >> ${sh(path.join(dir, "checks"))}` };
    const checks0 = checks();
    expect(await rmAll([b, a])).toMatchObject({ code: 0, stdout: `fleet: removed ${b.path}\nfleet: removed ${a.path}\n` });
    expect(checks() - checks0).toBe(1);
    expect(reloads()).toEqual(["a1 b1 k1 ", "k1 "]);
    expect(await rmAll([b, a])).toMatchObject({ code: 0, stdout: `fleet: already absent ${b.path}\nfleet: already absent ${a.path}\n` });
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

describe("put --set (the files of one resource: a file whose path moved is removed with the write)", () => {
  const sub = (d: string, name: string, assemble?: string): FileTarget => {
    mkdirSync(path.join(etc, d), { recursive: true });
    return { ...file(path.join(d, name)), ...(assemble ? { assemble } : {}) };
  };
  const putSet = (files: readonly [FileTarget, string][], defer = true) => {
    const targets = files.map(([t]) => t);
    return runShell(`${sh(install(helperForFiles(targets, daemon, ctx())))} ${putArgs(targets, false, defer, true, true)}`, { input: files.map(([t, c]) => bundlePart(t.path, c)).join("") });
  };
  const rmSet = (targets: readonly FileTarget[]) => runShell(`${sh(install(helperForFiles(targets, daemon, ctx())))} ${rmArgs(targets, false, true)}`);
  const checks = () => (existsSync(path.join(dir, "checks")) ? readFileSync(path.join(dir, "checks"), "utf8").split("\n").length - 1 : 0);

  beforeEach(() => {
    // Every fragment under etc/ counts, in any subdirectory: a file left behind is still read.
    daemon = {
      ...daemon,
      validate: `echo >> ${sh(path.join(dir, "checks"))}; if cat ${sh(etc)}/*.conf ${sh(etc)}/*/*.conf 2>/dev/null | grep -q BROKEN; then echo "appd: BROKEN is not a directive" >&2; exit 1; fi`,
    };
  });

  it("moving the second file to another directory removes the old one in the same transaction: one check, both wait for the one reload", async () => {
    const backend = file("app.conf");
    const oldMap = sub("hosts.d", "app.conf");
    const newMap = sub("maps.d", "app.conf");
    expect((await putSet([[backend, "b1\n"], [oldMap, "m1\n"]])).code).toBe(0);
    expect(checks()).toBe(1);
    const r = await putSet([[backend, "b1\n"], [newMap, "m1\n"]]);
    expect(r).toMatchObject({ code: 0, stdout: `fleet: unchanged ${backend.path}\nfleet: updated ${newMap.path}; appd reload pending\nfleet: removed ${oldMap.path}; appd reload pending\n` });
    expect(checks()).toBe(2);
    expect([read("hosts.d/app.conf"), read("maps.d/app.conf")]).toEqual([undefined, "m1\n"]);
    expect((await reload(backend)).code).toBe(0);
    expect(readFileSync(path.join(etc, ".app.conf.fleet-set"), "utf8")).toBe(`${backend.path}\n${newMap.path}\n`);
    // Unchanged files: nothing checked, nothing removed.
    expect(await putSet([[backend, "b1\n"], [newMap, "m1\n"]])).toMatchObject({ code: 0, stdout: `fleet: unchanged ${backend.path}\nfleet: unchanged ${newMap.path}\n` });
    expect(checks()).toBe(3);
  });

  it("a refused move puts back both the new file and the old one, names them, and keeps the old record", async () => {
    const backend = file("app.conf");
    const oldMap = sub("hosts.d", "app.conf");
    const newMap = sub("maps.d", "app.conf");
    expect((await putSet([[backend, "b1\n"], [oldMap, "m1\n"]], false)).code).toBe(0);
    const r = await putSet([[backend, "b1\n"], [newMap, "BROKEN\n"]], false);
    expect(r.stderr.split("\n")[0]).toBe(
      `fleet: appd -t refused ${newMap.path} and the config without ${oldMap.path} on testhost; ${newMap.path}: new file removed, ${oldMap.path}: last deployed version restored, appd not reloaded`,
    );
    expect([read("hosts.d/app.conf"), read("maps.d/app.conf")]).toEqual(["m1\n", undefined]);
    expect(readFileSync(path.join(etc, ".app.conf.fleet-set"), "utf8")).toBe(`${backend.path}\n${oldMap.path}\n`);
    expect(reloads()).toEqual(["b1 "]);
  });

  it("a set deployed before the record existed records it on its next put, changed or not; rm --set forgets it", async () => {
    const backend = file("app.conf");
    const map = sub("hosts.d", "app.conf");
    // Written without --set (an older helper): no record.
    expect((await runShell(`${sh(install(helperForFiles([backend, map], daemon, ctx())))} ${putArgs([backend, map], false, false, true)}`, { input: bundlePart(backend.path, "b1\n") + bundlePart(map.path, "m1\n") })).code).toBe(0);
    expect(existsSync(path.join(etc, ".app.conf.fleet-set"))).toBe(false);
    expect(await putSet([[backend, "b1\n"], [map, "m1\n"]])).toMatchObject({ code: 0, stdout: `fleet: unchanged ${backend.path}\nfleet: unchanged ${map.path}\n` });
    expect(readFileSync(path.join(etc, ".app.conf.fleet-set"), "utf8")).toBe(`${backend.path}\n${map.path}\n`);
    expect(await rmSet([map, backend])).toMatchObject({ code: 0, stdout: `fleet: removed ${map.path}\nfleet: removed ${backend.path}\n` });
    expect(readdirSync(etc).filter((f) => f.startsWith("."))).toEqual([]);
  });
});
