/**
 * Issue 13 item 10: the app really gets its configuration. Daedalus's unit runs in
 * /srv/daedalus/current/backend (the live release's, issue 13 item 2) while the stack
 * writes /srv/daedalus/.env, which the release step copies into the release (the unit
 * reads current/.env); the seed's unit reads no file, so the real service would start
 * without its database URL.
 *
 * Proof with a real systemd (test/e2e/systemd.ts: this machine's /usr booted in a
 * container) and a stand-in app that refuses to start when a variable is missing: the
 * stack's own scripts (taken from the ouranos program built under mocks) create the user
 * and directory, write the `.env`, make the release (`daedalus-release`: the commit of a
 * local repository, checked out as daedalus, with the `.env` copied in), run the migration
 * task, install and enable the unit. The stand-ins replace what needs package registries
 * (`pip install`, `npm run build`): the build's `venv/bin/uvicorn` and `venv/bin/alembic`
 * are shell scripts that check every variable of the `.env` the stack wrote, refuse to
 * start naming the missing ones, and otherwise record the environment, directory and
 * user they run with.
 */
import { chownSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { sh } from "../../src/remote/quote";
import { testRepository } from "../helpers/git";
import { buildOuranos, variantConfig } from "../program/ouranos";
import { reveal } from "./program";
import { type BootedSystemd, bootSystemd, runProgramCommand } from "./systemd";


/** Values systemd, sh and compose must all read the same way from a single-quoted line. */
const TRICKY = 'a  b $HOME ${PATH} #not-a-comment "dq" back\\slash %41 `id`';

interface Cmd {
  readonly name: string;
  readonly create: string;
  readonly stdin: string;
}

/** The `.env` the stack wrote (`KEY='value'` lines, see renderEnvFile) as a map. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)='([^']*)'$/.exec(line);
    if (!m) throw new Error(`unexpected .env line: ${line}`);
    env[m[1]!] = m[2]!;
  }
  return env;
}

/** `env -0` output as a map. */
function parseEnvDump(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of text.split("\0")) {
    if (!entry) continue;
    const eq = entry.indexOf("=");
    env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** A stand-in for `name` that refuses to start unless every one of `vars` is set. */
function standIn(name: string, vars: readonly string[], keepRunning: boolean): string {
  return [
    "#!/bin/sh",
    `# Stand-in for ${name}: refuses to start unless every variable the stack provides is set.`,
    `out=/srv/daedalus/standin-${name}`,
    "missing=",
    `for v in ${vars.join(" ")}; do eval "[ \\"\\\${$v+set}\\" = set ]" || missing="$missing $v"; done`,
    'if [ -n "$missing" ]; then echo "missing:$missing" > "$out.new" && mv "$out.new" "$out.refused"; echo "stand-in: missing$missing" >&2; exit 1; fi',
    'pwd -P > "$out.cwd"; id -un > "$out.user"; env -0 > "$out.new" && mv "$out.new" "$out.env"',
    keepRunning ? "exec sleep infinity" : "exit 0",
    "",
  ].join("\n");
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("Daedalus under a real systemd: the service sees every variable of the stack's .env", () => {
  let srv: string;
  let systemd: BootedSystemd;
  let cmds: Map<string, Cmd>;
  let expected: Record<string, string>;
  /** The build the stand-ins are in: releases/<commit12>, as daedalus-release exports it. */
  let RELEASE: string;

  const runCmd = async (name: string) => {
    // The file helper a command calls is installed first, as the engine orders it.
    const r = await runProgramCommand(systemd, cmds, name);
    if (r.code !== 0) throw new Error(`${name}: exit ${r.code}\n${r.stdout}${r.stderr}`);
    return r;
  };

  beforeAll(async () => {
    // Settings beyond the seed's, one with every character a parser could take apart.
    const base = variantConfig("all secrets set").config;
    const ouranos = JSON.parse(base["fleet:ouranos"]!) as { daedalus: Record<string, unknown> };
    ouranos.daedalus.settings = { DAEDALUS_LOG_LEVEL: "info", DAEDALUS_PROBE_TRICKY: TRICKY };
    const built = await buildOuranos("all secrets set", {
      config: { "fleet:ouranos": JSON.stringify(ouranos) },
      randomValue: (name) => `pw-${name}-$x #y "z" %`,
    });
    cmds = new Map(
      built.run.byType("command:remote:Command").map((r) => {
        const i = reveal(r.inputs) as Record<string, unknown>;
        return [r.name, { name: r.name, create: String(i.create), stdin: typeof i.stdin === "string" ? i.stdin : "" }];
      }),
    );
    expected = parseEnvFile(cmds.get("daedalus-env")!.stdin);

    srv = mkdtempSync(join(tmpdir(), "fleet-app-env-"));
    chmodSync(srv, 0o755);
    systemd = await bootSystemd(`fleet-app-env-${process.pid}`, [{ source: srv, target: "/srv" }]);

    // The stack's own scripts, in the engine's order (user → directory → .env), then the
    // stand-ins where the checkout and the venv would be.
    await runCmd("daedalus-user-useradd");
    await runCmd("daedalus-dirs-install");
    await runCmd("daedalus-env");
    const uid = Number((await systemd.run("id -u daedalus")).stdout.trim());
    const gid = Number((await systemd.run("id -g daedalus")).stdout.trim());
    // The release step of the stack on a commit checked out as daedalus (git refuses another owner's repository).
    const origin = testRepository(srv, "origin");
    RELEASE = origin.commit("main", { "backend/README": "stand-in backend\n" }, "v1").slice(0, 12);
    const served = await systemd.run(
      `cp -r /srv/origin.git /srv/served.git && chown -R daedalus:daedalus /srv/served.git && runuser -u daedalus -- /bin/sh -c ${sh(`set -eu\n${gitCheckoutScript({ url: "file:///srv/served.git", ref: "main", directory: "/srv/daedalus/repo", directoryMode: "0750" })}`)}`,
    );
    if (served.code !== 0) throw new Error(`checkout: ${served.stdout}${served.stderr}`);
    await runCmd("daedalus-release-command");
    for (const dir of [`releases/${RELEASE}/venv`, `releases/${RELEASE}/venv/bin`]) {
      mkdirSync(join(srv, "daedalus", dir));
      chownSync(join(srv, "daedalus", dir), uid, gid);
    }
    const vars = Object.keys(expected);
    writeFileSync(join(srv, `daedalus/releases/${RELEASE}/venv/bin/uvicorn`), standIn("uvicorn", vars, true), { mode: 0o755 });
    writeFileSync(join(srv, `daedalus/releases/${RELEASE}/venv/bin/alembic`), standIn("alembic", vars, false), { mode: 0o755 });
  }, 300_000);

  afterAll(async () => {
    await systemd?.stop();
    if (srv) rmSync(srv, { recursive: true, force: true });
  }, 120_000);

  it("the .env the stack writes holds the database URL and the extra settings", () => {
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(["DAEDALUS_DATABASE_URL", "DAEDALUS_ENV", "DAEDALUS_S3_SECRET_KEY", "DAEDALUS_PROBE_TRICKY"]));
    expect(expected.DAEDALUS_PROBE_TRICKY).toBe(TRICKY);
    // The file on the host is the stack's, mode 0600, owned by the service user.
    const r = readFileSync(join(srv, "daedalus/.env"), "utf8");
    expect(parseEnvFile(r)).toEqual(expected);
    // The release current names holds a copy, 0600: what the unit reads (EnvironmentFile=/srv/daedalus/current/.env).
    expect(readFileSync(join(srv, "daedalus/current/.env"), "utf8")).toBe(r);
    expect(statSync(join(srv, "daedalus/current/.env")).mode & 0o777).toBe(0o600);
  });

  it("the migration task (`alembic upgrade head` in the release's backend/) sees every variable, byte for byte", async () => {
    await runCmd("daedalus-migrate-command");
    const seen = parseEnvDump(readFileSync(join(srv, "daedalus/standin-alembic.env"), "utf8"));
    for (const [k, v] of Object.entries(expected)) expect({ [k]: seen[k] }).toEqual({ [k]: v });
    expect(readFileSync(join(srv, "daedalus/standin-alembic.cwd"), "utf8").trim()).toBe(`/srv/daedalus/releases/${RELEASE}/backend`);
    expect(readFileSync(join(srv, "daedalus/standin-alembic.user"), "utf8").trim()).toBe("daedalus");
  }, 120_000);

  it("the unit the stack installs starts the service with every variable, byte for byte, in the release's backend/ as daedalus", async () => {
    await runCmd("daedalus-api-unit");
    await runCmd("daedalus-api-enable");
    const envPath = join(srv, "daedalus/standin-uvicorn.env");
    const refused = join(srv, "daedalus/standin-uvicorn.refused");
    const outcome = await until("the stand-in uvicorn to start or refuse", () =>
      existsSync(envPath) ? "started" : existsSync(refused) ? `refused: ${readFileSync(refused, "utf8")}` : undefined,
    );
    expect(outcome).toBe("started");
    const seen = parseEnvDump(readFileSync(envPath, "utf8"));
    for (const [k, v] of Object.entries(expected)) expect({ [k]: seen[k] }).toEqual({ [k]: v });
    expect(readFileSync(join(srv, "daedalus/standin-uvicorn.cwd"), "utf8").trim()).toBe(`/srv/daedalus/releases/${RELEASE}/backend`);
    expect(readFileSync(join(srv, "daedalus/standin-uvicorn.user"), "utf8").trim()).toBe("daedalus");
    const active = await systemd.run("systemctl is-active daedalus-api.service; systemctl is-enabled daedalus-api.service");
    expect(active.stdout.split("\n").slice(0, 2)).toEqual(["active", "enabled"]);
  }, 180_000);

  it("the stand-in can fail: the seed's unit as written (no EnvironmentFile=) is refused, naming the database URL", async () => {
    const unit = cmds.get("daedalus-api-unit")!.stdin;
    expect(unit).toContain("EnvironmentFile=/srv/daedalus/current/.env\n");
    const seedUnit = unit
      .replace("EnvironmentFile=/srv/daedalus/current/.env\n", "")
      .replace("/srv/daedalus/current/venv/bin/uvicorn", "/srv/daedalus/current/venv/bin/uvicorn-seed")
      .replace("SyslogIdentifier=daedalus", "SyslogIdentifier=daedalus-seed");
    writeFileSync(join(srv, `daedalus/releases/${RELEASE}/venv/bin/uvicorn-seed`), standIn("uvicorn-seed", Object.keys(expected), true), { mode: 0o755 });
    const r = await systemd.run("cat > /etc/systemd/system/daedalus-seed.service && systemctl daemon-reload && systemctl start daedalus-seed.service", seedUnit);
    expect(r.code).toBe(0);
    const refused = join(srv, "daedalus/standin-uvicorn-seed.refused");
    const text = await until("the seed unit's stand-in to refuse", () => (existsSync(refused) ? readFileSync(refused, "utf8") : undefined));
    const missing = text.trim().split(/\s+/).slice(1);
    expect(missing).toContain("DAEDALUS_DATABASE_URL");
    expect(missing).not.toContain("DAEDALUS_ENV"); // the unit's own Environment= line
    expect(existsSync(join(srv, "daedalus/standin-uvicorn-seed.env"))).toBe(false);
    await systemd.run("systemctl stop daedalus-seed.service");
  }, 120_000);
});
