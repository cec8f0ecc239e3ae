/**
 * The primitive's scripts, run for real through /bin/sh against files in a temp
 * dir, with a stand-in validator and reload that record what happened.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { type Daemon } from "../../src/remote/daemons";
import { sh } from "../../src/remote/quote";
import { haproxy } from "../../src/remote/daemons";
import { installerStdin, installHelperScript } from "../../src/remote/helper";
import { deleteFileScript, type FileTarget, helperFor, putCommand, removeCommand, runStdin, taskScript, taskStdin, wrap, writeFileScript } from "../../src/remote/scripts";
import { runProcessSync, runShell } from "../helpers/spawn";

let dir: string;
let target: FileTarget;
let daemon: Daemon;
const ctx = () => ({ lockDir: path.join(dir, "lock"), sudo: false, host: "testhost" });

/** The script may exit without reading stdin (a no-op path): runShell copes with that. */
function runSh(script: string, stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  return runShell(script, { input: stdin });
}

const reloads = () => (existsSync(path.join(dir, "reloads")) ? readFileSync(path.join(dir, "reloads"), "utf8").split("\n").filter(Boolean) : []);

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "fleet-prim-"));
  target = { path: path.join(dir, "etc", "app.conf"), owner: "root", group: "root", mode: "0640" };
  // The "validator" refuses any config containing the word BROKEN, like a real one would.
  daemon = {
    lock: "app",
    validate: `if grep -q BROKEN ${sh(target.path)}; then echo "config error: unknown directive BROKEN at line 1" >&2; exit 1; fi`,
    reload: `cat ${sh(target.path)} >> ${sh(path.join(dir, "reloads"))}`,
  };
});

describe("writeFileScript", () => {
  it("installs stdin with owner and mode, validates and reloads", async () => {
    const r = await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    expect(r).toMatchObject({ code: 0, stdout: `fleet: updated ${target.path}\n` });
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
    expect((statSync(target.path).mode & 0o777).toString(8)).toBe("640");
    expect(reloads()).toEqual(["v1"]);
  });

  it("is a no-op when bytes, owner and mode are unchanged: no reload", async () => {
    await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    const r = await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    expect(r.stdout).toBe(`fleet: unchanged ${target.path}\n`);
    expect(reloads()).toEqual(["v1"]);
  });

  it("re-applies when only the mode differs", async () => {
    await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    const r = await runSh(writeFileScript({ ...target, mode: "0600" }, daemon, ctx()), "v1\n");
    expect(r.stdout).toContain("updated");
    expect((statSync(target.path).mode & 0o777).toString(8)).toBe("600");
  });

  it("refuses a broken config: previous file back, no reload, validator's message in the error", async () => {
    await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    const r = await runSh(writeFileScript(target, daemon, ctx()), "BROKEN\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("config error: unknown directive BROKEN at line 1");
    expect(r.stderr).toBe(`fleet: the app validator refused ${target.path} on testhost; previous version restored, app not reloaded\n  config error: unknown directive BROKEN at line 1\n`);
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
    expect(reloads()).toEqual(["v1"]);
    expect(existsSync(path.join(dir, "etc", ".app.conf.fleet-prev"))).toBe(false);
    expect(existsSync(path.join(dir, "etc", ".app.conf.fleet-new"))).toBe(false);
  });

  it("removes a new file that fails validation (nothing existed before)", async () => {
    const r = await runSh(writeFileScript(target, daemon, ctx()), "BROKEN\n");
    expect(r.code).toBe(1);
    expect(existsSync(target.path)).toBe(false);
  });

  it("restores and reloads again when the reload fails", async () => {
    await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    const flaky: Daemon = { ...daemon, reload: `if grep -q v2 ${sh(target.path)}; then echo "reload refused" >&2; exit 3; fi; ${daemon.reload!}` };
    const r = await runSh(writeFileScript(target, flaky, ctx()), "v2\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("reload refused");
    expect(r.stderr).toBe(`fleet: reloading app failed after writing ${target.path} on testhost; previous version restored, app reloaded with it again\n  reload refused\n`);
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
    expect(reloads()).toEqual(["v1", "v1"]);
  });

  it("keeps the inode when asked to (bind-mounted files)", async () => {
    const t = { ...target, inPlace: true };
    await runSh(writeFileScript(t, daemon, ctx()), "v1\n");
    const inode = statSync(target.path).ino;
    await runSh(writeFileScript(t, daemon, ctx()), "v2\n");
    expect(statSync(target.path).ino).toBe(inode);
    expect(readFileSync(target.path, "utf8")).toBe("v2\n");
    await runSh(writeFileScript(t, daemon, ctx()), "BROKEN\n");
    expect(statSync(target.path).ino).toBe(inode);
    expect(readFileSync(target.path, "utf8")).toBe("v2\n");
  });

  it("re-runs the assemble step after a swap and after a restore", async () => {
    const assembled = path.join(dir, "assembled");
    const t = { ...target, assemble: `cat ${sh(target.path)} > ${sh(assembled)}` };
    await runSh(writeFileScript(t, daemon, ctx()), "v1\n");
    expect(readFileSync(assembled, "utf8")).toBe("v1\n");
    await runSh(writeFileScript(t, daemon, ctx()), "BROKEN\n");
    expect(readFileSync(assembled, "utf8")).toBe("v1\n");
  });

  it("serialises concurrent applies of the same service with flock", async () => {
    const slow: Daemon = { ...daemon, reload: `echo start >> ${sh(path.join(dir, "trace"))}; sleep 0.3; echo end >> ${sh(path.join(dir, "trace"))}` };
    const a = { ...target, path: path.join(dir, "etc", "a.conf") };
    const b = { ...target, path: path.join(dir, "etc", "b.conf") };
    await Promise.all([runSh(writeFileScript(a, slow, ctx()), "a\n"), runSh(writeFileScript(b, slow, ctx()), "b\n")]);
    expect(readFileSync(path.join(dir, "trace"), "utf8")).toBe("start\nend\nstart\nend\n");
  });

  it("never puts the content on the command line", () => {
    const script = writeFileScript(target, daemon, ctx());
    // The content ("v1\n", with its newline) never appears; "v1" alone may, by chance, in
    // the random temp directory's name (fleet-prim-6F6v1O was one).
    expect(script).not.toContain("v1\n");
    expect(script.startsWith("/bin/sh -c '")).toBe(true);
  });
});

/**
 * A full disk, for real: the target's directory is a 64 KiB tmpfs, mounted in a private
 * mount namespace (`unshare -m`, root) so nothing outside this test sees it. Each step runs
 * a script there with its stdin; afterwards the live file and the directory listing are
 * copied out for the assertions.
 */
interface TinyFsResult {
  readonly steps: readonly { code: number; stdout: string; stderr: string }[];
  readonly live: string | undefined;
  readonly entries: readonly string[];
}

function onTinyFs(steps: readonly { script: string; stdin: string }[]): TinyFsResult {
  const etc = path.dirname(target.path);
  const out = path.join(dir, "out");
  mkdirSync(etc, { recursive: true });
  mkdirSync(out, { recursive: true });
  const lines = ["set -u", `mount -t tmpfs -o size=64k tmpfs ${sh(etc)} || exit 99`];
  steps.forEach((step, i) => {
    writeFileSync(path.join(out, `in${i}`), step.stdin);
    lines.push(`${step.script} < ${sh(path.join(out, `in${i}`))} > ${sh(path.join(out, `stdout${i}`))} 2> ${sh(path.join(out, `stderr${i}`))}; echo $? > ${sh(path.join(out, `code${i}`))}`);
  });
  lines.push(`if [ -e ${sh(target.path)} ]; then cat ${sh(target.path)} > ${sh(path.join(out, "live"))}; fi`, `ls -A ${sh(etc)} > ${sh(path.join(out, "entries"))}`);
  const r = runProcessSync("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", lines.join("\n")]);
  if (r.code !== 0) throw new Error(`tmpfs driver failed (${r.code}): ${r.stderr}`);
  const read = (f: string) => readFileSync(path.join(out, f), "utf8");
  return {
    steps: steps.map((_, i) => ({ code: Number(read(`code${i}`).trim()), stdout: read(`stdout${i}`), stderr: read(`stderr${i}`) })),
    live: existsSync(path.join(out, "live")) ? read("live") : undefined,
    entries: read("entries").split("\n").filter(Boolean),
  };
}

/** `kib` KiB of text, first line `label`. */
const sized = (label: string, kib: number) => `${label}\n${"x".repeat(kib * 1024 - label.length - 2)}\n`;

describe("a full disk (issue 9 item 3)", () => {
  const marker = () => path.join(dir, "reloads");
  const counting = (): Daemon => ({ lock: "app", validate: "true", reload: `echo reloaded >> ${sh(marker())}` });

  it.each([
    // live 8 KiB, new 60 KiB: the new version itself does not fit.
    { path: "rename", inPlace: false, live: 8, next: 60 },
    // live 16 KiB, new 40 KiB: the new version fits, the backup's copy does not (a rename's
    // backup is a second name, which needs no room: the next test).
    { path: "in place, backup", inPlace: true, live: 16, next: 40 },
    // live 8 KiB, new 40 KiB: new version and backup fit; growing the live file in place does not.
    { path: "in place", inPlace: true, live: 8, next: 40 },
  ])("$path: fails naming the file, leaves the live file intact, no reload, no leftovers", ({ inPlace, live, next }) => {
    const t = { ...target, inPlace };
    const liveText = sized("live", live);
    const r = onTinyFs([
      { script: writeFileScript(t, counting(), ctx()), stdin: liveText },
      { script: writeFileScript(t, counting(), ctx()), stdin: sized("new", next) },
    ]);
    expect(r.steps[0]).toMatchObject({ code: 0, stdout: `fleet: updated ${target.path}\n` });
    expect(r.steps[1]!.code).not.toBe(0);
    expect(r.steps[1]!.stdout).not.toContain("fleet: updated");
    expect(r.steps[1]!.stderr).toMatch(new RegExp(`fleet: .*${target.path.replace(/[.]/g, "\\.")}.*(disk full|restored)`));
    expect(r.live).toBe(liveText);
    expect(r.entries).toEqual(["app.conf"]);
    expect(reloads()).toEqual(["reloaded"]);
  });

  it("rename: the backup is a second name of the live file, so a new version that fits beside it lands (16 + 40 KiB on 64 KiB)", () => {
    const r = onTinyFs([
      { script: writeFileScript(target, counting(), ctx()), stdin: sized("live", 16) },
      { script: writeFileScript(target, counting(), ctx()), stdin: sized("new", 40) },
    ]);
    expect(r.steps.map((s) => s.stdout)).toEqual([`fleet: updated ${target.path}\n`, `fleet: updated ${target.path}\n`]);
    expect(r.live).toBe(sized("new", 40));
    expect(r.entries).toEqual(["app.conf"]);
    expect(reloads()).toEqual(["reloaded", "reloaded"]);
  });

  it("delete: no room for the backup leaves the file in place and says so", () => {
    const liveText = sized("live", 40);
    const r = onTinyFs([
      { script: writeFileScript(target, counting(), ctx()), stdin: liveText },
      { script: deleteFileScript(target, counting(), ctx()), stdin: "" },
    ]);
    expect(r.steps[1]!.code).not.toBe(0);
    expect(r.steps[1]!.stderr).toContain(`fleet: could not back up ${target.path} on testhost before removing it (disk full?); file left in place`);
    expect(r.live).toBe(liveText);
    expect(r.entries).toEqual(["app.conf"]);
    expect(reloads()).toEqual(["reloaded"]);
  });
});

describe("the file helper", () => {
  it("a file resource's command is one short line that says what it does", () => {
    const cmd = putCommand({ ...target, path: "/etc/haproxy/conf.d/app.cfg", group: "haproxy" }, haproxy({ services: "direct", pidFiles: { haproxy: "/run/haproxy.pid", prometheus: "/run/p.pid", alertmanager: "/run/a.pid" }, compose: "docker compose" }), { lockDir: "/run/lock", sudo: false, host: "titania" });
    expect(cmd).toMatch(/^'\/var\/lib\/fleet\/bin\/fleet-haproxy-[0-9a-f]{12}' put '\/etc\/haproxy\/conf\.d\/app\.cfg' --owner 'root:haproxy' --mode '0640'$/);
    expect(removeCommand({ ...target, path: "/etc/x.cfg" }, daemon, { ...ctx(), sudo: true })).toMatch(/^sudo -n '\/var\/lib\/fleet\/bin\/fleet-app-[0-9a-f]{12}' rm '\/etc\/x\.cfg'$/);
  });

  it("is named by its content: another validator, host or assemble step is another file", () => {
    const a = helperFor(target, daemon, ctx());
    expect(helperFor({ ...target, path: "/elsewhere", mode: "0600" }, daemon, ctx()).name).toBe(a.name);
    expect(helperFor(target, { ...daemon, validate: "true" }, ctx()).name).not.toBe(a.name);
    expect(helperFor(target, daemon, { ...ctx(), host: "other" }).name).not.toBe(a.name);
    expect(helperFor({ ...target, assemble: "true" }, daemon, ctx()).name).not.toBe(a.name);
    expect(a.name).toBe(`fleet-app-${a.sha256.slice(0, 12)}`);
  });

  it("is installed from stdin (gzip, base64) under its name (checked against its hash), then runs the short command", () => {
    // /var/lib/fleet is a private tmpfs here: the test never touches the machine's own.
    const h = helperFor(target, daemon, ctx());
    writeFileSync(path.join(dir, "helper"), installerStdin(h));
    writeFileSync(path.join(dir, "content"), "v1\n");
    const driver = [
      "set -u",
      "mkdir -p /var/lib/fleet && mount -t tmpfs tmpfs /var/lib/fleet || exit 99",
      `/bin/sh -c ${sh(installHelperScript(h))} < ${sh(path.join(dir, "helper"))}`,
      `/bin/sh -c ${sh(installHelperScript(h))} < /dev/null`,
      `printf 'damaged' | /bin/sh -c ${sh(installHelperScript({ ...h, path: `${h.path}x` }))} || echo "refused $?"`,
      // Decodes, but to another text: refused by the hash, nothing left behind.
      `printf 'other text' | gzip | base64 | /bin/sh -c ${sh(installHelperScript({ ...h, path: `${h.path}y` }))} || echo "refused $?"`,
      `${putCommand(target, daemon, ctx())} < ${sh(path.join(dir, "content"))}`,
      `stat -c '%a' ${sh(h.path)}`,
      `ls /var/lib/fleet/bin`,
    ].join("\n");
    const r = runProcessSync("unshare", ["-m", "--propagation", "private", "/bin/sh", "-c", driver]);
    expect(r.stderr).toContain(`fleet: could not write helper ${h.path}x (disk full, or no base64 or gzip on the host?)\n`);
    expect(r.stderr).toContain(`fleet: could not write helper ${h.path}y (disk full, or no base64 or gzip on the host?)\n`);
    expect(r.stdout).toBe(
      [`fleet: installed helper ${h.path}`, `fleet: helper ${h.path} already installed`, "refused 1", "refused 1", `fleet: updated ${target.path}`, "755", h.name, ""].join("\n"),
    );
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
  });

  it("shows the daemon's last lines under the summary, not pages of them", async () => {
    const chatty: Daemon = { ...daemon, checker: "chattyd -t", validate: `i=0; while [ $i -lt 40 ]; do i=$((i+1)); echo "warning $i"; done; echo "error: bad line 3" >&2; exit 1` };
    await runSh(writeFileScript(target, daemon, ctx()), "v1\n");
    const r = await runSh(writeFileScript(target, chatty, ctx()), "v2\n");
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines[0]).toBe(`fleet: chattyd -t refused ${target.path} on testhost; previous version restored, app not reloaded`);
    expect(lines[1]).toBe("  (16 earlier lines not shown)");
    expect(lines.at(-1)).toBe("  error: bad line 3");
    expect(lines).toHaveLength(27);
  });

  it("refuses a relative or odd target path and a bad owner or mode, touching nothing", async () => {
    for (const [t, msg] of [
      [{ ...target, path: "etc/x" }, "fleet: refusing target etc/x: not an absolute path"],
      [{ ...target, path: `${dir}/../x` }, `fleet: refusing target ${dir}/../x: not a plain absolute file path`],
      [{ ...target, owner: "ro ot" }, "fleet: bad --owner 'ro ot:root': USER:GROUP"],
      [{ ...target, mode: "0999" }, "fleet: bad --mode '0999': octal, e.g. 0640"],
    ] as const) {
      const r = await runSh(writeFileScript(t, daemon, ctx()), "v1\n");
      expect(r, msg).toMatchObject({ code: 1, stderr: `${msg}\n` });
    }
    expect(existsSync(path.join(dir, "etc"))).toBe(false);
  });
});

describe("deleteFileScript", () => {
  it("removes the file, validates and reloads", async () => {
    await runSh(writeFileScript(target, { lock: "app" }, ctx()), "v1\n");
    const r = await runSh(deleteFileScript(target, { ...daemon, reload: `echo deleted >> ${sh(path.join(dir, "reloads"))}` }, ctx()));
    expect(r.code).toBe(0);
    expect(existsSync(target.path)).toBe(false);
    expect(reloads()).toEqual(["deleted"]);
  });

  it("restores the file when the config is invalid without it", async () => {
    await runSh(writeFileScript(target, { lock: "app" }, ctx()), "v1\n");
    const needsIt: Daemon = { lock: "app", validate: `test -f ${sh(target.path)} || { echo "missing include" >&2; exit 1; }` };
    const r = await runSh(deleteFileScript(target, needsIt, ctx()));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("missing include");
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
  });

  it("is a no-op for a file already gone", async () => {
    const r = await runSh(deleteFileScript(target, daemon, ctx()));
    expect(r).toMatchObject({ code: 0, stdout: `fleet: already absent ${target.path}\n` });
  });
});

describe("destroy puts back what was there before the first deploy (docs/destroy.md)", () => {
  const orig = () => path.join(dir, "etc", ".app.conf.fleet-orig");
  /** A daemon that cannot run without its main config, like HAProxy or Caddy. */
  const needsIt = (): Daemon => ({
    lock: "app",
    validate: `test -f ${sh(target.path)} || { echo "no config" >&2; exit 1; }`,
    reload: `cat ${sh(target.path)} >> ${sh(path.join(dir, "reloads"))}`,
  });
  const operatorFile = () => {
    mkdirSync(path.join(dir, "etc"), { recursive: true });
    writeFileSync(target.path, "operator\n", { mode: 0o644 });
  };

  it("create keeps the file found there; updates and delete restore it byte for byte, with its mode", async () => {
    operatorFile();
    expect((await runSh(writeFileScript(target, needsIt(), ctx(), { recordOriginal: true }), "v1\n")).code).toBe(0);
    expect(readFileSync(orig(), "utf8")).toBe("operator\n");
    expect((await runSh(writeFileScript(target, needsIt(), ctx()), "v2\n")).code).toBe(0);
    // A second create (a replace at the same path) never overwrites the first record.
    expect((await runSh(writeFileScript(target, needsIt(), ctx(), { recordOriginal: true }), "v3\n")).code).toBe(0);
    expect(readFileSync(orig(), "utf8")).toBe("operator\n");

    const r = await runSh(deleteFileScript(target, needsIt(), ctx()));
    expect(r, r.stderr).toMatchObject({ code: 0, stdout: `fleet: restored ${target.path} as it was before the first deploy\n` });
    expect(readFileSync(target.path, "utf8")).toBe("operator\n");
    expect((statSync(target.path).mode & 0o777).toString(8)).toBe("644");
    expect(existsSync(orig())).toBe(false);
    expect(reloads()).toEqual(["v1", "v2", "v3", "operator"]);
  });

  it("updates never record: a file that did not exist before the first deploy is removed", async () => {
    expect((await runSh(writeFileScript(target, daemon, ctx(), { recordOriginal: true }), "v1\n")).code).toBe(0);
    expect((await runSh(writeFileScript(target, daemon, ctx()), "v2\n")).code).toBe(0);
    expect(existsSync(orig())).toBe(false);
    const r = await runSh(deleteFileScript(target, { ...daemon, reload: "true" }, ctx()));
    expect(r).toMatchObject({ code: 0, stdout: `fleet: removed ${target.path}\n` });
    expect(existsSync(target.path)).toBe(false);
  });

  it("a main config with nothing to restore stays as last deployed, and destroy succeeds", async () => {
    expect((await runSh(writeFileScript(target, needsIt(), ctx(), { recordOriginal: true }), "v1\n")).code).toBe(0);
    const r = await runSh(deleteFileScript({ ...target, keepWithoutOriginal: true }, needsIt(), ctx()));
    expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`fleet: kept ${target.path} as last deployed`);
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
    expect(reloads()).toEqual(["v1"]);
  });

  it("an original the validator refuses is not put back: the deployed file stays, the error says so", async () => {
    operatorFile();
    const picky: Daemon = { ...needsIt(), validate: `if grep -q operator ${sh(target.path)}; then echo "bad old config" >&2; exit 1; fi` };
    expect((await runSh(writeFileScript(target, picky, ctx(), { recordOriginal: true }), "v1\n")).code).toBe(0);
    const r = await runSh(deleteFileScript(target, picky, ctx()));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("bad old config");
    expect(r.stderr.split("\n")[0]).toBe(`fleet: the app validator refused the version of ${target.path} from before the first deploy on testhost; last deployed version restored, app not reloaded`);
    expect(readFileSync(target.path, "utf8")).toBe("v1\n");
    expect(readFileSync(orig(), "utf8")).toBe("operator\n"); // kept for the next try
  });

  it("in place (bind-mounted files): the inode survives the restore", async () => {
    operatorFile();
    const inPlace = { ...target, inPlace: true };
    const ino = statSync(target.path).ino;
    expect((await runSh(writeFileScript(inPlace, needsIt(), ctx(), { recordOriginal: true }), "v1\n")).code).toBe(0);
    const r = await runSh(deleteFileScript(inPlace, needsIt(), ctx()));
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(target.path, "utf8")).toBe("operator\n");
    expect(statSync(target.path).ino).toBe(ino);
  });
});

describe("taskScript", () => {
  it("passes secrets from stdin into variables, byte for byte", async () => {
    const secret = "p@ss w'rd\"$(id)`x`;\\ end";
    const out = path.join(dir, "out");
    const script = taskScript({ body: `printf '%s' "$PW" > ${sh(out)}`, secretNames: ["PW"] }, ctx());
    expect(script).not.toContain("p@ss");
    const r = await runSh(script, taskStdin([secret]));
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(secret);
  });

  it("refuses a bad variable name", () => {
    expect(() => taskScript({ body: "true", secretNames: ["A B"] }, ctx())).toThrow('secret variable name "A B" must match');
  });
});

describe("taskScript with a run stamp (a re-addressed host re-runs nothing)", () => {
  const stamp = () => path.join(dir, "lock", "fleet-run-t.sha256");
  const body = () => `echo ran >> ${sh(path.join(dir, "runs"))}`;
  const runs = () => (existsSync(path.join(dir, "runs")) ? readFileSync(path.join(dir, "runs"), "utf8").split("\n").filter(Boolean).length : 0);
  const create = (b = body()) => taskScript({ body: b, secretNames: ["S"] }, ctx(), { path: stamp(), skipIfSame: false, name: "t" });
  const update = (b = body()) => taskScript({ body: b, secretNames: ["S"] }, ctx(), { path: stamp(), skipIfSame: true, name: "t" });

  it("create runs and records; an update with the same fingerprint runs nothing; another fingerprint runs again", async () => {
    const input = runStdin("fp-1", taskStdin(["s3cret"]));
    expect((await runSh(create(), input)).code).toBe(0);
    expect(runs()).toBe(1);
    expect(readFileSync(stamp(), "utf8")).toBe("fp-1\n");
    const same = await runSh(update(), input);
    expect(same).toMatchObject({ code: 0, stdout: "fleet: t: nothing but the connection changed since its last run; not run again\n" });
    expect(runs()).toBe(1);
    expect((await runSh(update(), runStdin("fp-2", taskStdin(["s3cret"])))).code).toBe(0);
    expect(runs()).toBe(2);
    expect(readFileSync(stamp(), "utf8")).toBe("fp-2\n");
  });

  it("secrets still arrive after the fingerprint line, byte for byte", async () => {
    const r = await runSh(create(`printf '%s' "$S"`), runStdin("fp-1", taskStdin(["a b'c"])));
    expect(r).toMatchObject({ code: 0, stdout: "a b'c" });
  });

  it("a failed run records nothing, so the next update runs; the body's own exit 0 still records", async () => {
    expect((await runSh(create("exit 3"), runStdin("fp-1", taskStdin(["x"])))).code).toBe(3);
    expect(existsSync(stamp())).toBe(false);
    expect((await runSh(create(`${body()}; exit 0`), runStdin("fp-1", taskStdin(["x"])))).code).toBe(0);
    expect(readFileSync(stamp(), "utf8")).toBe("fp-1\n");
  });
});

describe("wrap", () => {
  it("uses sudo -n for non-root users", () => {
    expect(wrap("true", { sudo: true })).toBe("sudo -n /bin/sh -c 'true'");
    expect(wrap("true", { sudo: false })).toBe("/bin/sh -c 'true'");
  });
  it("keeps hostile text inert", async () => {
    writeFileSync(path.join(dir, "canary"), "alive");
    const hostile = `x'; rm -f ${path.join(dir, "canary")} #`;
    const r = await runSh(wrap(`echo ${sh(hostile)}`, { sudo: false }));
    expect(r.stdout).toBe(`${hostile}\n`);
    expect(existsSync(path.join(dir, "canary"))).toBe(true);
  });
});

describe("sh", () => {
  it("keeps leading dashes: flags are values too", () => {
    expect(sh("--config")).toBe("'--config'");
    expect(sh("-n")).toBe("'-n'");
  });
  it("quotes hostile strings as one inert word", () => {
    expect(sh("x'; rm -rf / #")).toBe("'x'\\''; rm -rf / #'");
    expect(sh("$(id)")).toBe("'$(id)'");
    expect(() => sh("a\0b")).toThrow("NUL");
  });
});
