import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { renderSystemdUnit, systemdUnitSchema, type SystemdUnitSpecInput } from "../../src/components/systemd";
import { systemdUnitStrict } from "../../src/remote/daemons";
import { renderTemplate } from "../../src/templating";
import { runTool } from "../helpers/validators";

/** The unit file of daedalus-deployment.md §5, cut from the seed itself. */
function seedUnit(): string {
  const seed = readFileSync(path.resolve(__dirname, "../../docs/seeds/daedalus-deployment.md"), "utf8");
  const m = /\*\*Systemd service\*\* \(`\/etc\/systemd\/system\/daedalus-api\.service`\):\n```ini\n([\s\S]*?)```/.exec(seed);
  if (!m) throw new Error("daedalus-deployment.md §5 no longer holds the daedalus-api.service block");
  return m[1]!;
}

/**
 * The seed's unit with the one line the stack adds on purpose (issue 13 item 10): the seed's
 * unit reads no file, so the service would start without the `.env` the stack writes; and
 * its code and venv reached through `current`, the live release (issue 13 item 2).
 */
function stackUnit(): string {
  const seed = seedUnit();
  const line = "Environment=DAEDALUS_ENV=production\n";
  for (const l of [line, "WorkingDirectory=/srv/daedalus/backend\n", "ExecStart=/srv/daedalus/venv/bin/uvicorn "]) {
    if (!seed.includes(l)) throw new Error(`daedalus-deployment.md §5 no longer has ${JSON.stringify(l)}`);
  }
  return seed
    .replace(line, `${line}EnvironmentFile=/srv/daedalus/current/.env\n`)
    .replace("WorkingDirectory=/srv/daedalus/backend\n", "WorkingDirectory=/srv/daedalus/current/backend\n")
    .replace("ExecStart=/srv/daedalus/venv/bin/uvicorn ", "ExecStart=/srv/daedalus/current/venv/bin/uvicorn ");
}

const daedalusTyped: SystemdUnitSpecInput = {
  name: "daedalus-api.service",
  unit: { description: "Daedalus API (FastAPI)", after: ["network.target"] },
  service: {
    type: "simple",
    user: "daedalus",
    workingDirectory: "/srv/daedalus/current/backend",
    execStart: "/srv/daedalus/current/venv/bin/uvicorn daedalus.main:app --host 127.0.0.1 --port 8000 --workers 2",
    restart: "always",
    restartSec: 5,
    environment: { DAEDALUS_ENV: "production" },
    environmentFiles: ["/srv/daedalus/current/.env"],
    standardOutput: "journal",
    standardError: "journal",
    syslogIdentifier: "daedalus",
  },
  install: { wantedBy: ["multi-user.target"] },
};

/** DAARION backups: daily at 03:00 UTC (daarion-node-standards.md; DESIGN.md seed decisions). */
const backupService: SystemdUnitSpecInput = {
  name: "daarion-backup.service",
  enable: false,
  restartOnChange: false,
  unit: { description: "DAARION database backup", after: ["network-online.target", "docker.service"], wants: ["network-online.target"] },
  service: { type: "oneshot", execStart: "/opt/microdao-daarion/scripts/backup.sh --keep-daily 7 --keep-weekly 4", workingDirectory: "/opt/microdao-daarion", syslogIdentifier: "daarion-backup" },
};
const backupTimer: SystemdUnitSpecInput = {
  name: "daarion-backup.timer",
  unit: { description: "DAARION database backup, daily at 03:00 UTC" },
  timer: { onCalendar: ["*-*-* 03:00:00 UTC"], persistent: true, unit: "daarion-backup.service" },
  install: { wantedBy: ["timers.target"] },
};

describe("renderSystemdUnit", () => {
  it("reproduces the Daedalus unit of §5 byte for byte from the verbatim template, plus its EnvironmentFile", () => {
    const template = renderTemplate("daedalus/daedalus-api.service", { uvicornPort: 8000, workers: 2 });
    expect(template).toBe(stackUnit());
    expect(renderSystemdUnit(systemdUnitSchema.parse({ name: "daedalus-api.service", content: template }))).toBe(stackUnit());
  });

  it("renders the same Daedalus unit from typed sections: identical lines, sections separated by a blank line", () => {
    const text = renderSystemdUnit(systemdUnitSchema.parse(daedalusTyped));
    expect(text.replace(/\n\n/g, "\n")).toBe(stackUnit());
    expect(text).toContain("After=network.target\n\n[Service]\n");
  });

  it("renders the backup timer and its oneshot service", () => {
    expect(renderSystemdUnit(systemdUnitSchema.parse(backupTimer))).toBe(
      [
        "[Unit]",
        "Description=DAARION database backup, daily at 03:00 UTC",
        "",
        "[Timer]",
        "OnCalendar=*-*-* 03:00:00 UTC",
        "Persistent=yes",
        "Unit=daarion-backup.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
      ].join("\n"),
    );
    const svc = renderSystemdUnit(systemdUnitSchema.parse(backupService));
    expect(svc).toContain("[Service]\nType=oneshot\nWorkingDirectory=/opt/microdao-daarion\nExecStart=/opt/microdao-daarion/scripts/backup.sh --keep-daily 7 --keep-weekly 4\n");
    expect(svc).not.toContain("[Install]");
  });

  it("quotes environment values with spaces, escapes '%', sorts variables", () => {
    const text = renderSystemdUnit(
      systemdUnitSchema.parse({
        name: "x.service",
        enable: false,
        unit: { description: "100% x" },
        service: { execStart: "/bin/true", environment: { B: "two words", A: "50%" }, environmentFiles: ["-/srv/x/.env"] },
      }),
    );
    expect(text).toContain("Description=100%% x\n");
    expect(text).toContain('Environment=A=50%%\nEnvironment="B=two words"\nEnvironmentFile=-/srv/x/.env\n');
  });
});

describe("systemd-analyze verify (real tool, offline against a temp root)", () => {
  // systemd is not PID 1 here, and the units' binaries are not installed: verify runs with
  // --root=<temp dir> holding a copy of the distribution's units, the unit under test and a
  // stub for each executable it starts, exactly as the host's validator text does it.
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  function makeRoot(units: Record<string, string>, executables: readonly string[]): string {
    const root = mkdtempSync(path.join(tmpdir(), "fleet-systemd-"));
    roots.push(root);
    mkdirSync(path.join(root, "usr/lib/systemd"), { recursive: true });
    cpSync("/usr/lib/systemd/system", path.join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
    mkdirSync(path.join(root, "etc/systemd/system"), { recursive: true });
    for (const [name, text] of Object.entries(units)) writeFileSync(path.join(root, "etc/systemd/system", name), text);
    for (const exe of executables) {
      mkdirSync(path.join(root, path.dirname(exe)), { recursive: true });
      writeFileSync(path.join(root, exe), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    }
    return root;
  }

  /** Run the host validator's own shell text, pointed at the temp root. */
  function verify(root: string, unit: string, requireUnits: string[] = []): { code: number; output: string } {
    const daemon = systemdUnitStrict(`/etc/systemd/system/${unit}`, { root, requireUnits });
    return runTool("/bin/sh", ["-c", `set -eu\n${daemon.validate!}`]);
  }

  const render = (spec: SystemdUnitSpecInput) => renderSystemdUnit(systemdUnitSchema.parse(spec));

  it("accepts the Daedalus unit, verbatim and typed", () => {
    const exe = ["/srv/daedalus/venv/bin/uvicorn"];
    const verbatim = verify(makeRoot({ "daedalus-api.service": seedUnit() }, exe), "daedalus-api.service");
    expect(verbatim).toEqual({ code: 0, output: "" });
    // The stack's: through current, the live release.
    const typed = verify(makeRoot({ "daedalus-api.service": render(daedalusTyped) }, ["/srv/daedalus/current/venv/bin/uvicorn"]), "daedalus-api.service");
    expect(typed).toEqual({ code: 0, output: "" });
  });

  it("accepts the DAARION backup timer with its service, and systemd reads 03:00 UTC daily", () => {
    const root = makeRoot({ "daarion-backup.service": render(backupService), "daarion-backup.timer": render(backupTimer) }, ["/opt/microdao-daarion/scripts/backup.sh"]);
    expect(verify(root, "daarion-backup.service")).toEqual({ code: 0, output: "" });
    expect(verify(root, "daarion-backup.timer", ["daarion-backup.service"])).toEqual({ code: 0, output: "" });
    const cal = runTool("systemd-analyze", ["calendar", "*-*-* 03:00:00 UTC"]);
    expect(cal.code).toBe(0);
    expect(cal.output).toContain("Normalized form: *-*-* 03:00:00 UTC");
  });

  it("refuses a unit whose ExecStart binary does not exist (deploy the code first)", () => {
    const res = verify(makeRoot({ "daedalus-api.service": seedUnit() }, []), "daedalus-api.service");
    expect(res.code).toBe(1);
    expect(res.output).toContain("Command /srv/daedalus/venv/bin/uvicorn is not executable: No such file or directory");
  });

  it("refuses what verify only warns about: an unknown key exits 0 from verify, 1 from the strict validator", () => {
    const text = seedUnit().replace("Restart=always\n", "Restart=always\nRestartt=5\n");
    const root = makeRoot({ "daedalus-api.service": text }, ["/srv/daedalus/venv/bin/uvicorn"]);
    const raw = runTool("/bin/sh", ["-c", `systemd-analyze verify --man=no --root='${root}' '${root}/etc/systemd/system/daedalus-api.service' 2>&1`]);
    expect(raw.code).toBe(0);
    expect(raw.output).toContain("Unknown key 'Restartt' in section [Service], ignoring.");
    const strict = verify(root, "daedalus-api.service");
    expect(strict.code).toBe(1);
    expect(strict.output).toContain("fleet: systemd-analyze verify warned about /etc/systemd/system/daedalus-api.service; fix the lines above");
  });

  it("accepts the config without the unit: on delete the helper checks it after removing the file", () => {
    // Found against a real systemd (test/docker/systemd.test.ts): destroy failed with "Unit daedalus-api.service not found."
    const root = makeRoot({}, []);
    expect(verify(root, "daedalus-api.service")).toEqual({ code: 0, output: "" });
    expect(verify(root, "daarion-backup.timer", ["daarion-backup.service"])).toEqual({ code: 0, output: "" });
  });

  it("refuses a timer whose calendar systemd cannot parse, and a timer without its service", () => {
    const badCalendar = render({ ...backupTimer, timer: { onCalendar: ["*-*-* 25:00:00"], unit: "daarion-backup.service" } });
    const root = makeRoot({ "daarion-backup.service": render(backupService), "daarion-backup.timer": badCalendar }, ["/opt/microdao-daarion/scripts/backup.sh"]);
    const res = verify(root, "daarion-backup.timer");
    expect(res.code).toBe(1);
    expect(res.output).toContain("Failed to parse calendar specification");
    // verify itself accepts a timer whose service is missing; the requireUnits check does not.
    const lonelyRoot = makeRoot({ "daarion-backup.timer": render(backupTimer) }, []);
    expect(verify(lonelyRoot, "daarion-backup.timer")).toEqual({ code: 0, output: "" });
    const lonely = verify(lonelyRoot, "daarion-backup.timer", ["daarion-backup.service"]);
    expect(lonely.code).toBe(1);
    expect(lonely.output).toContain("fleet: /etc/systemd/system/daarion-backup.timer needs daarion-backup.service, which is not installed; deploy it first (dependsOn)");
  });
});

/**
 * Issue 9 item 10: a value ending in '\' makes systemd join the next line to it, so a
 * hardening setting after it silently disappears (and `systemd-analyze verify` still
 * passes). Refused in every typed value and in verbatim content; the hardening of a
 * rendered unit is read back with `systemd-analyze security --offline=true` (systemd 252).
 */
describe("a trailing backslash never swallows a hardening setting", () => {
  const hardened: SystemdUnitSpecInput = {
    name: "hardened.service",
    unit: { description: "Hardened app" },
    service: { execStart: "/usr/bin/sleep 1000", noNewPrivileges: true, privateTmp: true, protectSystem: "strict", protectHome: "true" },
    install: { wantedBy: ["multi-user.target"] },
  };
  const RULE = "must not end with '\\' (systemd would join the next line, e.g. NoNewPrivileges=, to this value)";

  /** json_field → set, from the real `systemd-analyze security --offline=true` on the unit file. */
  function security(text: string): Record<string, boolean | null> {
    const dir = mkdtempSync(path.join(tmpdir(), "fleet-sec-"));
    writeFileSync(path.join(dir, "hardened.service"), text);
    const r = runTool("systemd-analyze", ["security", "--offline=true", "--json=short", "--no-pager", path.join(dir, "hardened.service")]);
    rmSync(dir, { recursive: true, force: true });
    const rows = JSON.parse(r.output.slice(r.output.indexOf("["))) as { json_field: string; set: boolean | null }[];
    return Object.fromEntries(rows.map((x) => [x.json_field, x.set]));
  }

  const HARDENING = { NoNewPrivileges: true, PrivateTmp: true, ProtectSystem: true, ProtectHome: true };

  it("the rendered unit keeps NoNewPrivileges, PrivateTmp, ProtectSystem and ProtectHome (systemd-analyze security --offline)", () => {
    const report = security(renderSystemdUnit(systemdUnitSchema.parse(hardened)));
    expect(Object.fromEntries(Object.keys(HARDENING).map((k) => [k, report[k]]))).toEqual(HARDENING);
  });

  it("the check is live: with a trailing '\\' on ExecStart (past the schema), systemd drops NoNewPrivileges", () => {
    const spec = systemdUnitSchema.parse(hardened);
    const text = renderSystemdUnit({ ...spec, service: { ...spec.service!, execStart: "/usr/bin/sleep 1000 \\" } });
    expect(text).toContain("ExecStart=/usr/bin/sleep 1000 \\\nNoNewPrivileges=yes\n");
    expect(security(text).NoNewPrivileges).toBe(false);
  });

  it.each([
    ["service.execStart", { ...hardened, service: { ...hardened.service!, execStart: "/usr/bin/sleep 1000 \\" } }, "service/execStart"],
    ["service.execStartPre", { ...hardened, service: { ...hardened.service!, execStartPre: ["/usr/bin/true \\"] } }, "service/execStartPre/0"],
    ["service.execReload", { ...hardened, service: { ...hardened.service!, execReload: "/bin/kill -HUP $MAINPID \\" } }, "service/execReload"],
    ["service.execStop", { ...hardened, service: { ...hardened.service!, execStop: "/bin/kill \\" } }, "service/execStop"],
    ["unit.description", { ...hardened, unit: { description: "Hardened app \\" } }, "unit/description"],
  ] as const)("refuses a trailing backslash in %s", (_, spec, at) => {
    const r = systemdUnitSchema.safeParse(spec);
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`)).toEqual([`${at}: ${RULE}`]);
  });

  it("refuses verbatim content whose continuation swallows a setting, keeps a real multi-line ExecStart", () => {
    const bad = "[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/bin/sleep 1000 \\\nNoNewPrivileges=yes\n\n[Install]\nWantedBy=multi-user.target\n";
    const r = systemdUnitSchema.safeParse({ name: "x.service", content: bad });
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`)).toEqual([
      "content: line 5 ends with '\\' before a setting, section or blank line: systemd would swallow that line into the value; remove the '\\'",
    ]);
    const good = "[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/bin/sleep \\\n  1000\nNoNewPrivileges=yes\n\n[Install]\nWantedBy=multi-user.target\n";
    expect(systemdUnitSchema.safeParse({ name: "x.service", content: good }).success).toBe(true);
  });
});
