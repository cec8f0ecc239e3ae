/**
 * Arguments of SystemdUnit. Plain data + zod; no Pulumi value import.
 */
import { z } from "zod";
import type * as pulumi from "@pulumi/pulumi";
import { type Host } from "../../remote/host";
import { type CommandTransform } from "../../remote/command";
import { absolutePath, CONTROL, envName, oneLine, unitName as unitNamePrimitive, unixName } from "../../validation/primitives";

/** systemd joins a line ending in `\` with the next one: a value must not end with one. */
const TRAILING_BACKSLASH = "must not end with '\\' (systemd would join the next line, e.g. NoNewPrivileges=, to this value)";
const noTrailingBackslash = (v: string) => !v.endsWith("\\");

/**
 * In verbatim unit text, a continuation (`\` at the end of a line) into a line that is
 * itself a setting, a section header or blank: systemd would swallow that line into the
 * value (a hardening setting silently gone). Returns the 1-based line number, or undefined.
 */
export function swallowedLine(content: string): number | undefined {
  const lines = content.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.endsWith("\\")) continue;
    const next = lines[i + 1]!.trim();
    if (next === "" || next.startsWith("[") || /^[A-Za-z][A-Za-z0-9]*\s*=/.test(next)) return i + 1;
  }
  return undefined;
}

/** A unit name that is also safe as a `systemctl` argument (no leading '-' or '.'). */
export const unitName = unitNamePrimitive.refine((v) => !/^[-.][A-Za-z0-9:_.@-]*$/.test(v), {
  error: "must start with a letter, digit, '_', ':' or '@'",
});

/**
 * A command line as systemd reads it in `ExecStart=`: the absolute path of the executable
 * (optionally after systemd's prefixes `-@:+!`), then arguments. systemd splits it itself;
 * no shell is involved, so `$VAR` means systemd's environment expansion and `%` a specifier.
 */
export const execLine = z
  .string()
  .max(4096, { error: "must be at most 4096 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters", abort: true })
  .refine((v) => /^[-@:+!]{0,4}\/[A-Za-z0-9._@+/-]+( \S.*)?$/.test(v), {
    error: "must start with the absolute path of the executable, e.g. /srv/app/venv/bin/uvicorn app:main",
  })
  .refine((v) => !(v.split(" ")[0] ?? "").split("/").includes(".."), { error: "must not contain '..' in the executable path" })
  .refine(noTrailingBackslash, { error: TRAILING_BACKSLASH });

/** A systemd time span: seconds as a number, or `5s`, `1min 30s`, `2h`, `infinity`. */
export const timeSpan = z.union(
  [
    z.number().int().min(0),
    z.string().regex(/^(infinity|\d+(us|ms|s|min|h|d|w)( \d+(us|ms|s|min|h|d|w))*)$/, {
      error: "must be a time span such as 5s, 1min 30s or 2h",
    }),
  ],
  { error: "must be seconds (a number) or a time span such as 5s, 1min 30s or 2h" },
);

/**
 * A calendar expression for `OnCalendar=` (checked on the host by `systemd-analyze verify`).
 * @example "*-*-* 03:00:00 UTC"
 */
export const calendarSpec = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(256, { error: "must be at most 256 characters" })
  .regex(/^[A-Za-z0-9*:/,.~+_ -]+$/, { error: "must be a systemd calendar expression such as daily or *-*-* 03:00:00 UTC" });

/** An `Environment=` value: one line, no `"` or `\` (values are double-quoted when they hold spaces). */
export const unitEnvValue = z
  .string()
  .max(4096, { error: "must be at most 4096 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters" })
  .refine((v) => !v.includes('"') && !v.includes("\\"), { error: 'must not contain " or \\' });

const unitList = z.array(unitName).max(64).default([]);

export const unitSectionSchema = z.strictObject({
  /** `Description=`. */
  description: oneLine.min(1, { error: "must not be empty" }).refine(noTrailingBackslash, { error: TRAILING_BACKSLASH }),
  /** `Documentation=` URIs. @default [] */
  documentation: z.array(z.string().regex(/^(https?|file|info|man):[^\s"'\\]+$/, { error: "must be a http(s):, file:, info: or man: URI" })).default([]),
  /** `After=`. @default [] */
  after: unitList,
  /** `Before=`. @default [] */
  before: unitList,
  /** `Wants=`. @default [] */
  wants: unitList,
  /** `Requires=`. @default [] */
  requires: unitList,
  /** `PartOf=`. @default [] */
  partOf: unitList,
});

export const serviceSectionSchema = z.strictObject({
  /** `Type=`. @default none (systemd's default, simple) */
  type: z.enum(["simple", "exec", "forking", "oneshot", "notify", "idle"], { error: "must be simple, exec, forking, oneshot, notify or idle" }).optional(),
  /** `User=`. @default none (root) */
  user: unixName.optional(),
  /** `Group=`. @default none */
  group: unixName.optional(),
  /** `WorkingDirectory=`. */
  workingDirectory: absolutePath.optional(),
  /** `ExecStartPre=` lines, in order. @default [] */
  execStartPre: z.array(execLine).max(32).default([]),
  /**
   * `ExecStart=`. A change restarts the service.
   * @example "/srv/daedalus/venv/bin/uvicorn daedalus.main:app --host 127.0.0.1 --port 8000 --workers 2"
   */
  execStart: execLine,
  /** `ExecReload=`. */
  execReload: execLine.optional(),
  /** `ExecStop=`. */
  execStop: execLine.optional(),
  /** `Restart=`. */
  restart: z.enum(["no", "always", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog"], { error: "must be no, always, on-success, on-failure, on-abnormal, on-abort or on-watchdog" }).optional(),
  /** `RestartSec=`. */
  restartSec: timeSpan.optional(),
  /** `TimeoutStartSec=`. */
  timeoutStartSec: timeSpan.optional(),
  /** `TimeoutStopSec=`. */
  timeoutStopSec: timeSpan.optional(),
  /** `Environment=` pairs, one line each, sorted by name. No secrets here: use `environmentFiles`. @default {} */
  environment: z.record(z.string(), unitEnvValue).default({}),
  /** `EnvironmentFile=` paths (a leading `-` makes one optional). @default [] */
  environmentFiles: z
    .array(
      z
        .string()
        .max(1024, { error: "must be at most 1024 characters" })
        .regex(/^-?\/[A-Za-z0-9._@+/-]*$/, { error: "must be an absolute path, optionally prefixed with '-'" })
        .refine((v) => !v.split("/").includes(".."), { error: "must not contain '..' segments" }),
    )
    .max(16)
    .default([]),
  /** `StandardOutput=`. */
  standardOutput: z.enum(["journal", "inherit", "null", "tty", "kmsg", "journal+console", "kmsg+console"]).optional(),
  /** `StandardError=`. */
  standardError: z.enum(["journal", "inherit", "null", "tty", "kmsg", "journal+console", "kmsg+console"]).optional(),
  /** `SyslogIdentifier=`, the journal tag (`{unit="..."}` in Loki). */
  syslogIdentifier: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "must be 1-64 of letters, digits, '_', '.' and '-'" }).optional(),
  /** `NoNewPrivileges=`. */
  noNewPrivileges: z.boolean().optional(),
  /** `PrivateTmp=`. */
  privateTmp: z.boolean().optional(),
  /** `ProtectSystem=`. */
  protectSystem: z.enum(["true", "false", "full", "strict"]).optional(),
  /** `ProtectHome=`. */
  protectHome: z.enum(["true", "false", "read-only", "tmpfs"]).optional(),
  /** `ReadWritePaths=`. @default [] */
  readWritePaths: z.array(absolutePath).max(32).default([]),
});

export const timerSectionSchema = z
  .strictObject({
    /**
     * `OnCalendar=` expressions.
     * @default []
     * @example ["*-*-* 03:00:00 UTC"]
     */
    onCalendar: z.array(calendarSpec).max(16).default([]),
    /** `OnBootSec=`. */
    onBootSec: timeSpan.optional(),
    /** `OnUnitActiveSec=`. */
    onUnitActiveSec: timeSpan.optional(),
    /** `Persistent=`: catch up a run missed while the host was down. */
    persistent: z.boolean().optional(),
    /** `RandomizedDelaySec=`. */
    randomizedDelaySec: timeSpan.optional(),
    /** `AccuracySec=`. */
    accuracySec: timeSpan.optional(),
    /** `Unit=`. @default the timer's own name with `.service` */
    unit: unitName.optional(),
  })
  .superRefine((v, ctx) => {
    if (!v.onCalendar.length && v.onBootSec === undefined && v.onUnitActiveSec === undefined) {
      ctx.addIssue({ code: "custom", path: ["onCalendar"], message: "is required: a timer needs onCalendar, onBootSec or onUnitActiveSec" });
    }
  });

export const installSectionSchema = z.strictObject({
  /** `WantedBy=`. @default [] */
  wantedBy: unitList,
  /** `RequiredBy=`. @default [] */
  requiredBy: unitList,
});

export const systemdUnitSchema = z
  .strictObject({
    /**
     * The unit file name under `directory`. Changing it replaces the unit (the old one is
     * disabled and removed).
     * @example "daedalus-api.service"
     */
    name: unitName,
    /** `[Unit]` section (typed form). */
    unit: unitSectionSchema.optional(),
    /** `[Service]` section, for `.service` units. */
    service: serviceSectionSchema.optional(),
    /** `[Timer]` section, for `.timer` units. */
    timer: timerSectionSchema.optional(),
    /** `[Install]` section. */
    install: installSectionSchema.optional(),
    /**
     * The unit file verbatim, instead of the typed sections: written byte for byte.
     * @example renderTemplate("daedalus/daedalus-api.service", { uvicornPort: 8000, workers: 2 })
     */
    content: z
      .string()
      .min(1, { error: "must not be empty" })
      .max(65536, { error: "must be at most 64 KiB" })
      .refine((v) => !v.includes("\0"), { error: "must not contain NUL bytes" })
      .refine((v) => v.endsWith("\n"), { error: "must end with a newline" })
      .superRefine((v, ctx) => {
        const line = swallowedLine(v);
        if (line !== undefined) {
          ctx.addIssue({ code: "custom", message: `line ${line} ends with '\\' before a setting, section or blank line: systemd would swallow that line into the value; remove the '\\'` });
        }
      })
      .optional(),
    /** Directory the unit file goes to. @default "/etc/systemd/system" */
    directory: absolutePath.default("/etc/systemd/system"),
    /**
     * `systemctl enable --now` on create (and `disable --now` on delete). Set false for a
     * service that only a timer starts. @default true
     */
    enable: z.boolean().default(true),
    /**
     * `systemctl restart` whenever the unit's content or `restartTriggers` change (and on
     * first deploy, which starts it). Set false for a oneshot service a timer runs, or the
     * change would run the job. @default true
     */
    restartOnChange: z.boolean().default(true),
  })
  .superRefine((v, ctx) => {
    const kind = v.name.slice(v.name.lastIndexOf(".") + 1);
    const typed = v.unit !== undefined || v.service !== undefined || v.timer !== undefined || v.install !== undefined;
    if (v.content !== undefined) {
      if (typed) ctx.addIssue({ code: "custom", path: ["content"], message: "must not be combined with unit/service/timer/install: give either the typed sections or the verbatim content" });
      const header = kind === "service" ? "[Service]" : kind === "timer" ? "[Timer]" : undefined;
      if (header && !v.content.split("\n").includes(header)) ctx.addIssue({ code: "custom", path: ["content"], message: `must have a ${header} section for a .${kind} unit` });
      if (v.enable && !v.content.split("\n").includes("[Install]")) {
        ctx.addIssue({ code: "custom", path: ["content"], message: "must have an [Install] section when enable is true; or set enable: false" });
      }
      return;
    }
    if (!typed) {
      ctx.addIssue({ code: "custom", path: ["unit"], message: "is required: give the typed sections (unit, service or timer, install) or the verbatim content" });
      return;
    }
    if (kind !== "service" && kind !== "timer") {
      ctx.addIssue({ code: "custom", path: ["name"], message: `typed sections render .service and .timer units; give "content" for a .${kind} unit` });
      return;
    }
    if (!v.unit) ctx.addIssue({ code: "custom", path: ["unit"], message: "is required: at least a description" });
    if (kind === "service") {
      if (!v.service) ctx.addIssue({ code: "custom", path: ["service"], message: "is required for a .service unit" });
      if (v.timer) ctx.addIssue({ code: "custom", path: ["timer"], message: "must not be set on a .service unit; declare a separate .timer unit" });
      for (const key of Object.keys(v.service?.environment ?? {})) {
        const r = envName.safeParse(key);
        if (!r.success) ctx.addIssue({ code: "custom", path: ["service", "environment", key], message: r.error.issues[0]?.message ?? "bad name" });
      }
    } else {
      if (!v.timer) ctx.addIssue({ code: "custom", path: ["timer"], message: "is required for a .timer unit" });
      if (v.service) ctx.addIssue({ code: "custom", path: ["service"], message: "must not be set on a .timer unit; declare the .service unit separately" });
    }
    if (v.enable && !v.install?.wantedBy.length && !v.install?.requiredBy.length) {
      ctx.addIssue({
        code: "custom",
        path: ["install", "wantedBy"],
        message: `is required when enable is true (systemctl enable needs an [Install] target, e.g. ${kind === "timer" ? "timers.target" : "multi-user.target"}); or set enable: false`,
      });
    }
  });

export type SystemdUnitSpecInput = z.input<typeof systemdUnitSchema>;
export type SystemdUnitSpec = z.output<typeof systemdUnitSchema>;
export type UnitSection = z.output<typeof unitSectionSchema>;
export type ServiceSection = z.output<typeof serviceSectionSchema>;
export type TimerSection = z.output<typeof timerSectionSchema>;
export type InstallSection = z.output<typeof installSectionSchema>;

export interface SystemdUnitArgs extends SystemdUnitSpecInput {
  /** The host; must have `services: "systemd"`. */
  host: Host;
  /**
   * Values whose change restarts the unit besides its own content: the env file's hash,
   * the code revision. Content hashes or versions, never timestamps.
   * @default []
   * @example [envFile.contentHash, release.revision]
   */
  restartTriggers?: pulumi.Input<string>[];
  transform?: {
    /** The unit file command. */
    unit?: CommandTransform;
    /** The `systemctl restart` task. */
    restart?: CommandTransform;
    /** The `systemctl enable --now` task. */
    enable?: CommandTransform;
  };
}
