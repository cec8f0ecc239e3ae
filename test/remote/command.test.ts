/**
 * remoteFile under mocks: what the engine is given for a managed file (docs/remote-primitive.md).
 * The helper's behaviour is tested by running it (scripts.test.ts); this is about the
 * resources: one short command, a preview that shows the content, one installer per
 * host and helper, registered by every program that needs it.
 */
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { haproxy, nginx } from "../../src/remote/daemons";
import { helperAt } from "../../src/remote/helper";
import { remoteFile } from "../../src/remote/command";
import { type Host } from "../../src/remote/host";
import { testHost } from "../helpers/hosts";
import { helperCall, isHelperInstaller, ownDependsOn, dependsOn, str } from "../helpers/inputs";
import { type MockRun, runProgram } from "../helpers/pulumi";

const backend = { path: "/etc/haproxy/conf.d/app.cfg", owner: "root", group: "haproxy", mode: "0640" };

function files(host: Host, content: string, extra = true): void {
  remoteFile("app-backend", { host, target: backend, daemon: haproxy(host.spec), content }, {});
  if (extra) {
    remoteFile("other-backend", { host, target: { ...backend, path: "/etc/haproxy/conf.d/other.cfg" }, daemon: haproxy(host.spec), content: "backend other\n" }, {});
    remoteFile("site", { host, target: { path: "/etc/nginx/conf.d/app.conf", owner: "root", group: "root", mode: "0644" }, daemon: nginx(host.spec), content: "server {}\n" }, {});
  }
}

const inputsOf = (run: MockRun, name: string) => run.get(name).inputs;

describe("remoteFile", () => {
  it("a changed file changes only its stdin: the command the preview shows stays the same line", async () => {
    const host = testHost("titania");
    const a = await runProgram(() => files(host, "backend app\n    server a 10.0.0.1:80\n", false));
    const b = await runProgram(() => files(host, "backend app\n    server b 10.0.0.2:80\n", false));
    const [ia, ib] = [inputsOf(a, "app-backend"), inputsOf(b, "app-backend")];
    const changed = Object.keys({ ...ia, ...ib }).filter((k) => JSON.stringify(ia[k]) !== JSON.stringify(ib[k]));
    expect(changed).toEqual(["stdin"]);
    for (const which of ["create", "update", "delete"] as const) {
      expect(str(ia[which]).split("\n"), which).toHaveLength(1);
      expect(str(ia[which]).length, which).toBeLessThan(200);
    }
    expect(str(ia.create)).toMatch(/^'\/var\/lib\/fleet\/bin\/fleet-haproxy-[0-9a-f]{12}' put '\/etc\/haproxy\/conf\.d\/app\.cfg' --owner 'root:haproxy' --mode '0640' --keep-original$/);
    expect(str(ia.update)).toBe(str(ia.create).replace(" --keep-original", ""));
    expect(str(ia.delete)).toMatch(/^'\/var\/lib\/fleet\/bin\/fleet-haproxy-[0-9a-f]{12}' rm '\/etc\/haproxy\/conf\.d\/app\.cfg'$/);
  });

  it("one installer per host and helper, shared by the files that use it, each file depending on its own", async () => {
    const run = await runProgram(() => files(testHost("titania"), "backend app\n"));
    const installers = run.names().filter(isHelperInstaller);
    expect(installers).toHaveLength(2);
    expect(installers.every((n) => /^titania-fleet-(haproxy|nginx)-[0-9a-f]{12}$/.test(n))).toBe(true);
    for (const name of ["app-backend", "other-backend", "site"]) {
      const mine = dependsOn(run.get(name)).filter(isHelperInstaller);
      expect(mine, name).toHaveLength(1);
      expect(ownDependsOn(run.get(name)), name).toEqual([]);
      const installer = run.get(mine[0]!);
      const helper = helperCall(run.get(name))!.helper;
      expect(mine[0]).toBe(`titania-${helper.name}`);
      // The installer carries the helper's text on stdin (gzip, base64: a third of its size in
      // the state); the file's command names its path.
      expect(gunzipSync(Buffer.from(str(installer.inputs.stdin), "base64")).toString("utf8")).toBe(helper.text);
      expect(str(installer.inputs.stdin).length).toBeLessThan(helper.text.length / 2);
      expect(helperAt(helper.path)).toBe(helper);
      expect(installer.inputs.delete).toBeUndefined();
    }
    expect(dependsOn(run.get("app-backend")).filter(isHelperInstaller)).toEqual(dependsOn(run.get("other-backend")).filter(isHelperInstaller));
  });

  it("every program registers its own installers, even with a Host object shared between programs", async () => {
    // The Automation API runs inline programs in one process; tests build many programs.
    const host = testHost("titania");
    const first = await runProgram(() => files(host, "backend app\n", false));
    const second = await runProgram(() => files(host, "backend app\n", false));
    expect(first.names().filter(isHelperInstaller)).toHaveLength(1);
    expect(second.names().filter(isHelperInstaller)).toEqual(first.names().filter(isHelperInstaller));
  });
});
