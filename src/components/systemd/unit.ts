import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { sha256 } from "../../hash";
import { remoteFile, remoteTask } from "../../remote/command";
import { systemdUnitStrict } from "../../remote/daemons";
import { sh } from "../../remote/quote";
import { ConfigError, parseOrThrow } from "../../validation/errors";
import { childName } from "../../naming";
import { type SystemdUnitArgs, type SystemdUnitSpec, systemdUnitSchema } from "./args";
import { renderSystemdUnit } from "./render";

/**
 * A systemd unit on a host: the unit file (verified with `systemd-analyze verify`, then
 * `daemon-reload`, restored on failure), a restart whenever its content or
 * `restartTriggers` change, and `systemctl enable --now`. Services and timers render from
 * typed sections; any unit can be given verbatim. Requires a host with `services: "systemd"`.
 *
 * `verify` refuses a unit whose `ExecStart=` binary does not exist yet: make the unit
 * depend on whatever installs the code (`dependsOn`).
 *
 * #### The Daedalus API, verbatim from its deployment document, restarted on env changes
 * ```ts
 * new SystemdUnit("daedalus-api", {
 *   host: puck,
 *   name: "daedalus-api.service",
 *   content: renderTemplate("daedalus/daedalus-api.service", { uvicornPort: 8000, workers: 2 }),
 *   restartTriggers: [envFile.contentHash],
 * }, { dependsOn: [venv] });
 * ```
 *
 * #### A daily backup at 03:00 UTC: a oneshot service and its timer
 * ```ts
 * const svc = new SystemdUnit("backup", { host, name: "daarion-backup.service", enable: false, restartOnChange: false,
 *   unit: { description: "DAARION backup" }, service: { type: "oneshot", execStart: "/opt/microdao-daarion/scripts/backup.sh" } });
 * new SystemdUnit("backup-timer", { host, name: "daarion-backup.timer",
 *   unit: { description: "DAARION backup, daily 03:00 UTC" },
 *   timer: { onCalendar: ["*-*-* 03:00:00 UTC"], persistent: true }, install: { wantedBy: ["timers.target"] } }, { dependsOn: [svc] });
 * ```
 */
export class SystemdUnit extends pulumi.ComponentResource {
  /** The unit name, e.g. `daedalus-api.service`. */
  public readonly unitName: string;
  /** The unit file path on the host. */
  public readonly path: string;
  /** sha256 of the unit file's content. */
  public readonly contentHash: string;
  /** The raw children. */
  public readonly nodes: {
    readonly unit: command.remote.Command;
    readonly restart?: command.remote.Command;
    readonly enable?: command.remote.Command;
  };

  constructor(name: string, args: SystemdUnitArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `SystemdUnit "${name}"`;
    const spec = parseOrThrow(subject, systemdUnitSchema, specOf(args));
    if (args.host.spec.services !== "systemd") {
      // systemctl and systemd-analyze need systemd as PID 1 on the host.
      throw new ConfigError(subject, [
        { path: "host", message: `must be a host with services: "systemd" (systemctl and systemd-analyze need systemd); host "${args.host.name}" has services: "${args.host.spec.services}"` },
      ]);
    }
    super(SystemdUnit.__pulumiType, name, {}, opts);
    const parent = this;
    const host = args.host;
    const unit = spec.name;
    const path = `${spec.directory}/${unit}`;
    const content = renderSystemdUnit(spec);
    const contentHash = sha256(content);
    const triggered = timerTarget(spec, content);

    const file = createFile();
    const restart = spec.restartOnChange ? createRestart() : undefined;
    const enable = spec.enable ? createEnable() : undefined;

    this.unitName = unit;
    this.path = path;
    this.contentHash = contentHash;
    this.nodes = { unit: file, ...(restart ? { restart } : {}), ...(enable ? { enable } : {}) };
    this.registerOutputs({ unitName: unit, path, contentHash });

    function createFile() {
      return remoteFile(
        childName(name, "unit"),
        {
          host,
          target: { path, owner: "root", group: "root", mode: "0644" },
          daemon: systemdUnitStrict(path, { requireUnits: triggered ? [triggered] : [] }),
          content,
          transform: args.transform?.unit,
        },
        { parent },
      );
    }

    // Restart runs before enable: on the first deploy it starts the unit, and
    // `enable --now` then only enables it, so a new service starts once, not twice.
    function createRestart() {
      return remoteTask(
        childName(name, "restart"),
        {
          host,
          run: { body: `systemctl restart -- ${sh(unit)}`, lock: `systemd-${unit}` },
          // A restart on a new unit or deploy is an update of this command, not a replacement.
          revision: [contentHash, ...(args.restartTriggers ?? [])],
          transform: args.transform?.restart,
        },
        { parent, dependsOn: [file] },
      );
    }

    function createEnable() {
      return remoteTask(
        childName(name, "enable"),
        {
          host,
          run: { body: `systemctl enable --now -- ${sh(unit)}`, lock: `systemd-${unit}` },
          onDelete: {
            body: `if [ -e ${sh(path)} ]; then systemctl disable --now -- ${sh(unit)}; else echo ${sh(`fleet: ${path} already absent`)}; fi`,
            lock: `systemd-${unit}`,
          },
          // A new host (by name) or unit name is a new enablement: replace, so the old one is
          // disabled (remoteTask adds the host's name; its address and port are not identity).
          triggers: [`path=${path}`],
          transform: args.transform?.enable,
        },
        { parent, dependsOn: [restart ?? file], replaceOnChanges: ["triggers"] },
      );
    }
  }

  static readonly __pulumiType = "fleet:systemd:Unit";
}

/** The unit a timer starts (`Unit=`, else the timer's name with `.service`); undefined for other units. */
export function timerTarget(spec: SystemdUnitSpec, content: string): string | undefined {
  if (!spec.name.endsWith(".timer")) return undefined;
  const explicit = spec.timer?.unit ?? /^Unit=(\S+)\s*$/m.exec(content)?.[1];
  return explicit ?? spec.name.replace(/\.timer$/, ".service");
}

function specOf(args: SystemdUnitArgs): unknown {
  const { host: _host, restartTriggers: _rt, transform: _transform, ...spec } = args;
  return spec;
}
