/**
 * scripts/node.sh: the Node.js 22 requirement is checked, and an older `node` on PATH is
 * never used. A stand-in `node` (a shell script that answers the two questions the script
 * asks) plays each version; the install path is not exercised here (it fetches from the
 * npm registry, which tests may not reach), .ci/run runs it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runProcess } from "../helpers/spawn";

const ROOT = path.resolve(__dirname, "../..");
const SCRIPT = path.join(ROOT, "scripts/node.sh");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "fleet-node-sh-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A directory whose `node` reports `version` (for `-v` and for `-p process.versions…`). */
function fakeNode(version: string): string {
  const dir = path.join(work, `v${version}`);
  fs.mkdirSync(dir, { recursive: true });
  const major = version.split(".")[0];
  fs.writeFileSync(path.join(dir, "node"), `#!/bin/sh\nif [ "$1" = -v ]; then echo v${version}; else echo ${major}; fi\n`, { mode: 0o755 });
  return dir;
}

/** PATH with the stand-in first and the system tools after it, but no other node. */
function pathWith(dir: string): string {
  const sys = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"].filter((d) => !fs.existsSync(path.join(d, "node")));
  const shims = path.join(work, "shims");
  fs.mkdirSync(shims, { recursive: true });
  // bash, coreutils and friends from /usr/bin without /usr/bin's node.
  for (const tool of ["bash", "dirname", "tr", "uname", "cat"]) {
    const target = path.join(shims, tool);
    if (!fs.existsSync(target)) fs.symlinkSync(`/usr/bin/${tool}`, target);
  }
  return [dir, shims, ...sys].join(":");
}

describe("scripts/node.sh", () => {
  it("--check refuses Node 20 with the fix", async () => {
    const r = await runProcess("/bin/bash", [SCRIPT, "--check"], { env: { PATH: pathWith(fakeNode("20.20.2")) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is Node.js v20.20.2; this project needs Node.js >= 22 (@pulumi/pulumi 3.259 requires it)");
    expect(r.stderr).toContain('export PATH="$(bash scripts/node.sh):$PATH"');
  });

  it("--check accepts Node 22 and later", async () => {
    for (const v of ["22.23.5", "24.1.0"]) {
      const r = await runProcess("/bin/bash", [SCRIPT, "--check"], { env: { PATH: pathWith(fakeNode(v)) } });
      expect({ v, code: r.code, stderr: r.stderr }).toEqual({ v, code: 0, stderr: "" });
    }
  });

  it("prints the directory of a node on PATH that is new enough, and fetches nothing", async () => {
    const dir = fakeNode("22.1.0");
    const r = await runProcess("/bin/bash", [SCRIPT], { env: { PATH: pathWith(dir) } });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(dir);
  });

  it("--check with no node at all names the command that installs one", async () => {
    const empty = path.join(work, "empty");
    fs.mkdirSync(empty, { recursive: true });
    const r = await runProcess("/bin/bash", [SCRIPT, "--check"], { env: { PATH: pathWith(empty) } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no 'node' on PATH; this project needs Node.js >= 22");
  });

  it("pins the sha512 of the .nvmrc version, and package.json requires the same major", () => {
    const nvmrc = fs.readFileSync(path.join(ROOT, ".nvmrc"), "utf8").trim();
    expect(nvmrc).toMatch(/^22\.\d+\.\d+$/);
    expect(fs.readFileSync(SCRIPT, "utf8")).toMatch(new RegExp(`\\[${nvmrc.replace(/\./g, "\\.")}\\]="[0-9a-f]{128}"`));
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    expect(pkg.engines.node).toBe(">=22");
    expect(fs.readFileSync(path.join(ROOT, ".npmrc"), "utf8")).toMatch(/^engine-strict=true$/m);
  });
});
