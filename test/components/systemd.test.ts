import { describe, expect, it } from "vitest";
import { leaves, runProgram } from "../helpers/pulumi";
import { testHost } from "../helpers/hosts";
import { SystemdUnit, type SystemdUnitArgs } from "../../src/components/systemd";
import { systemdUnitStrict } from "../../src/remote/daemons";
import { taskScript, putCommand } from "../../src/remote/scripts";
import { renderTemplate } from "../../src/templating";
import { refused, componentNames, rerunOf, revisionHash, scriptText } from "../helpers/inputs";
import { sha256 } from "../../src/hash";

const daedalusUnit = renderTemplate("daedalus/daedalus-api.service", { uvicornPort: 8000, workers: 2 });



describe("SystemdUnit", () => {
  it("writes the Daedalus unit verbatim, restarts it on change, then enables it", async () => {
    const run = await runProgram(() => {
      new SystemdUnit("daedalus-api", { host: testHost("puck"), name: "daedalus-api.service", content: daedalusUnit, restartTriggers: ["env-sha256-abc", "rev-1234"] });
    });
    expect(componentNames(run)).toEqual(["daedalus-api", "daedalus-api-unit", "daedalus-api-restart", "daedalus-api-enable"]);
    expect(run.get("daedalus-api").type).toBe("fleet:systemd:Unit");
    for (const child of ["unit", "restart", "enable"]) expect(run.get(`daedalus-api-${child}`).parentName).toBe("daedalus-api");

    const host = testHost("puck");
    const path = "/etc/systemd/system/daedalus-api.service";
    const unit = run.get("daedalus-api-unit");
    expect(unit.inputs.stdin).toBe(daedalusUnit);
    expect(unit.inputs.create).toBe(putCommand({ path, owner: "root", group: "root", mode: "0644" }, systemdUnitStrict(path), host.scripts, { recordOriginal: true }));
    expect(scriptText(String(unit.inputs.create))).toContain(`systemd-analyze verify --man=no '${path}'`);
    expect(scriptText(String(unit.inputs.create))).toContain("systemctl daemon-reload");
    expect(unit.inputs.triggers).toEqual(["host=puck", `path=${path}`]);

    const restart = run.get("daedalus-api-restart");
    expect(restart.inputs.create).toBe(
      taskScript({ body: `systemctl restart -- 'daedalus-api.service'\n# fleet revision: ${revisionHash([sha256(daedalusUnit), "env-sha256-abc", "rev-1234"])}`, lock: "systemd-daedalus-api.service" }, host.scripts, {
        path: `${host.scripts.lockDir}/fleet-run-daedalus-api-restart.sha256`,
        skipIfSame: false,
        name: "daedalus-api-restart",
      }),
    );
    // A re-addressed host updates only the connection: the restart then runs nothing.
    expect(String(restart.inputs.update)).toContain("nothing but the connection changed since its last run; not run again");
    // A new unit or deploy changes the script (an update), never triggers (the command plugin would replace it).
    expect(restart.inputs.triggers).toBeUndefined();
    expect(restart.opts.dependsOn).toEqual([expect.objectContaining({ __name: "daedalus-api-unit" })]);

    const enable = run.get("daedalus-api-enable");
    expect(scriptText(String(enable.inputs.create))).toContain("systemctl enable --now -- 'daedalus-api.service'");
    expect(scriptText(String(enable.inputs.delete))).toContain(`if [ -e '${path}' ]; then systemctl disable --now -- 'daedalus-api.service'`);
    expect(enable.inputs.triggers).toEqual([`path=${path}`, "host=puck"]);
    expect(enable.opts.replaceOnChanges).toEqual(expect.arrayContaining(["triggers"]));
    expect(enable.opts.dependsOn).toEqual([expect.objectContaining({ __name: "daedalus-api-restart" })]);
  });

  it("restarts when a restart trigger changes, and only then", async () => {
    const triggersOf = async (restartTriggers: string[]) => {
      const run = await runProgram(() => {
        new SystemdUnit("d", { host: testHost("puck"), name: "daedalus-api.service", content: daedalusUnit, restartTriggers });
      });
      return rerunOf(run.get("d-restart"));
    };
    expect(await triggersOf(["env-1"])).toEqual(await triggersOf(["env-1"]));
    expect(await triggersOf(["env-1"])).not.toEqual(await triggersOf(["env-2"]));
  });

  it("a timer-run oneshot service is only written; its timer is written, restarted and enabled", async () => {
    const run = await runProgram(() => {
      const svc = new SystemdUnit("backup", {
        host: testHost("node1"),
        name: "daarion-backup.service",
        enable: false,
        restartOnChange: false,
        unit: { description: "DAARION database backup" },
        service: { type: "oneshot", execStart: "/opt/microdao-daarion/scripts/backup.sh" },
      });
      new SystemdUnit(
        "backup-timer",
        {
          host: testHost("node1"),
          name: "daarion-backup.timer",
          unit: { description: "DAARION database backup, daily at 03:00 UTC" },
          timer: { onCalendar: ["*-*-* 03:00:00 UTC"], persistent: true },
          install: { wantedBy: ["timers.target"] },
        },
        { dependsOn: [svc] },
      );
    });
    expect(componentNames(run)).toEqual(["backup", "backup-unit", "backup-timer", "backup-timer-unit", "backup-timer-restart", "backup-timer-enable"]);
    const timer = run.get("backup-timer-unit");
    expect(String(timer.inputs.stdin)).toContain("OnCalendar=*-*-* 03:00:00 UTC\nPersistent=yes\n");
    // The timer's validator also insists its service is installed.
    expect(scriptText(String(timer.inputs.create))).toContain("[ -e '/etc/systemd/system/daarion-backup.service' ]");
    expect(scriptText(String(run.get("backup-timer-restart").inputs.create))).toContain("systemctl restart -- 'daarion-backup.timer'");
    expect(scriptText(String(run.get("backup-timer-enable").inputs.create))).toContain("systemctl enable --now -- 'daarion-backup.timer'");
    expect(run.get("backup-timer").opts.dependsOn).toEqual([expect.objectContaining({ __name: "backup" })]);
  });

  it("needs no secrets: only the SSH connection is secret, nothing is hidden from logs", async () => {
    const run = await runProgram(() => {
      new SystemdUnit("daedalus-api", { host: testHost("puck"), name: "daedalus-api.service", content: daedalusUnit, restartTriggers: ["x"] });
    });
    for (const r of run.byType("command:remote:Command")) {
      expect(r.inputs.logging).toBe("stdoutAndStderr");
      expect((await leaves(r.props)).filter((l) => l.secret && !l.path.startsWith("connection.")).map((l) => l.path)).toEqual([]);
    }
  });

  it("refuses a host without systemd, registering nothing", async () => {
    const { message, run } = await refused(() => new SystemdUnit("d", { host: testHost("box", { services: "direct" }), name: "daedalus-api.service", content: daedalusUnit }));
    expect(message).toBe('SystemdUnit "d": host: must be a host with services: "systemd" (systemctl and systemd-analyze need systemd); host "box" has services: "direct"');
    expect(run.resources).toEqual([]);
  });

  describe("refuses hostile or wrong input with the exact message and registers nothing", () => {
    const typed = (): SystemdUnitArgs => ({
      host: testHost("puck"),
      name: "daedalus-api.service",
      unit: { description: "Daedalus API (FastAPI)" },
      service: { execStart: "/srv/daedalus/venv/bin/uvicorn daedalus.main:app", user: "daedalus" },
      install: { wantedBy: ["multi-user.target"] },
    });
    // Deliberately loose: hostile values of the wrong type on purpose.
    const svc = (over: Record<string, unknown>): SystemdUnitArgs => ({ ...typed(), service: { ...typed().service, ...over } as NonNullable<SystemdUnitArgs["service"]> });
    const cases: [string, () => SystemdUnitArgs, string][] = [
      ["a unit name with a slash", () => ({ ...typed(), name: "../../etc/cron.d/x.service" }), "name: must be a systemd unit name such as app.service or app.timer (letters, digits, : _ . @ -)"],
      ["a shell-injection unit name", () => ({ ...typed(), name: "x'; rm -rf / #.service" }), "name: must be a systemd unit name such as app.service or app.timer (letters, digits, : _ . @ -)"],
      ["a unit name that reads as a flag", () => ({ ...typed(), name: "--force.service" }), "name: must start with a letter, digit, '_', ':' or '@'"],
      ["an over-long unit name", () => ({ ...typed(), name: `${"a".repeat(250)}.service` }), "name: must be at most 255 characters"],
      ["a relative ExecStart", () => svc({ execStart: "venv/bin/uvicorn app:main" }), "service/execStart: must start with the absolute path of the executable, e.g. /srv/app/venv/bin/uvicorn app:main"],
      ["an ExecStart smuggling a directive", () => svc({ execStart: "/bin/true\nExecStartPost=/bin/sh -c id" }), "service/execStart: must be one line without control characters"],
      ["an ExecStart escaping with ..", () => svc({ execStart: "/srv/../bin/sh -c id" }), "service/execStart: must not contain '..' in the executable path"],
      ["a shell-injection user", () => svc({ user: "root; id" }), "service/user: must start with a lowercase letter or '_' and contain only a-z, 0-9, '_' and '-'"],
      ["a relative working directory", () => svc({ workingDirectory: "srv/daedalus" }), "service/workingDirectory: must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)"],
      ["an environment name with a space", () => svc({ environment: { "A B": "x" } }), "service/environment/A B: must be an environment variable name: A-Z, 0-9 and '_'"],
      ["an environment value with a newline", () => svc({ environment: { A: "x\n[Service]" } }), "service/environment/A: must be one line without control characters"],
      ["an English RestartSec", () => svc({ restartSec: "five seconds" }), "service/restartSec: must be a time span such as 5s, 1min 30s or 2h"],
      ["a description with a newline", () => ({ ...typed(), unit: { description: "x\nExecStart=/bin/sh" } }), "unit/description: must be one line without control characters"],
      ["typed sections and content together", () => ({ ...typed(), content: daedalusUnit }), "content: must not be combined with unit/service/timer/install: give either the typed sections or the verbatim content"],
      ["enable without an [Install] target", () => ({ ...typed(), install: undefined }), "install/wantedBy: is required when enable is true (systemctl enable needs an [Install] target, e.g. multi-user.target); or set enable: false"],
      ["a typed .socket unit", () => ({ ...typed(), name: "x.socket" }), 'name: typed sections render .service and .timer units; give "content" for a .socket unit'],
      ["verbatim content with a NUL byte", () => ({ host: testHost("puck"), name: "x.service", content: "[Service]\nExecStart=/bin/true\0\n[Install]\n" }), "content: must not contain NUL bytes"],
      ["a calendar with a shell metacharacter", () => ({ host: testHost("puck"), name: "b.timer", unit: { description: "b" }, timer: { onCalendar: ["daily; id"] }, install: { wantedBy: ["timers.target"] } }), "timer/onCalendar/0: must be a systemd calendar expression such as daily or *-*-* 03:00:00 UTC"],
      ["a timer without any trigger", () => ({ host: testHost("puck"), name: "b.timer", unit: { description: "b" }, timer: {}, install: { wantedBy: ["timers.target"] } }), "timer/onCalendar: is required: a timer needs onCalendar, onBootSec or onUnitActiveSec"],
      ["an unknown key", () => ({ ...typed(), execStart: "/bin/true" }) as SystemdUnitArgs, '(root): unknown key "execStart"; remove or rename it'],
    ];
    it.each(cases)("%s", async (_what, args, expected) => {
      const { message, run } = await refused(() => new SystemdUnit("bad", args()));
      expect(message).toBe(`SystemdUnit "bad": ${expected}`);
      expect(run.resources).toEqual([]);
    });
  });
});
