/**
 * Pure renderer for systemd unit files: typed sections → unit file text. Keys come in
 * a fixed, conventional order (the order an operator writes them in, e.g. the Daedalus
 * unit of daedalus-deployment.md §5); maps are sorted; sections are separated by a blank
 * line; one trailing newline.
 */
import {
  type InstallSection,
  type ServiceSection,
  type SystemdUnitSpec,
  type TimerSection,
  type UnitSection,
} from "./args";

type Line = readonly [key: string, value: string | number | boolean | undefined];

function lines(entries: readonly Line[]): string[] {
  const out: string[] = [];
  for (const [key, value] of entries) {
    if (value === undefined) continue;
    out.push(`${key}=${typeof value === "boolean" ? (value ? "yes" : "no") : value}`);
  }
  return out;
}

function list(values: readonly string[]): string | undefined {
  return values.length ? values.join(" ") : undefined;
}

/** `%` starts a specifier in unit files: a literal one is `%%`. */
function literal(value: string): string {
  return value.replace(/%/g, "%%");
}

function environmentLine(name: string, value: string): string {
  const pair = `${name}=${literal(value)}`;
  return /\s/.test(value) ? `"${pair}"` : pair;
}

function renderUnit(u: UnitSection): string[] {
  return [
    "[Unit]",
    ...lines([
      ["Description", literal(u.description)],
      ["Documentation", list(u.documentation)],
      ["After", list(u.after)],
      ["Before", list(u.before)],
      ["Wants", list(u.wants)],
      ["Requires", list(u.requires)],
      ["PartOf", list(u.partOf)],
    ]),
  ];
}

function renderService(s: ServiceSection): string[] {
  const env = Object.entries(s.environment).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    "[Service]",
    ...lines([
      ["Type", s.type],
      ["User", s.user],
      ["Group", s.group],
      ["WorkingDirectory", s.workingDirectory],
    ]),
    ...s.execStartPre.map((l) => `ExecStartPre=${l}`),
    ...lines([
      ["ExecStart", s.execStart],
      ["ExecReload", s.execReload],
      ["ExecStop", s.execStop],
      ["Restart", s.restart],
      ["RestartSec", s.restartSec],
      ["TimeoutStartSec", s.timeoutStartSec],
      ["TimeoutStopSec", s.timeoutStopSec],
    ]),
    ...env.map(([k, v]) => `Environment=${environmentLine(k, v)}`),
    ...s.environmentFiles.map((f) => `EnvironmentFile=${f}`),
    ...lines([
      ["StandardOutput", s.standardOutput],
      ["StandardError", s.standardError],
      ["SyslogIdentifier", s.syslogIdentifier],
      ["NoNewPrivileges", s.noNewPrivileges],
      ["PrivateTmp", s.privateTmp],
      ["ProtectSystem", s.protectSystem],
      ["ProtectHome", s.protectHome],
      ["ReadWritePaths", list(s.readWritePaths)],
    ]),
  ];
}

function renderTimer(t: TimerSection): string[] {
  return [
    "[Timer]",
    ...t.onCalendar.map((c) => `OnCalendar=${c}`),
    ...lines([
      ["OnBootSec", t.onBootSec],
      ["OnUnitActiveSec", t.onUnitActiveSec],
      ["Persistent", t.persistent],
      ["RandomizedDelaySec", t.randomizedDelaySec],
      ["AccuracySec", t.accuracySec],
      ["Unit", t.unit],
    ]),
  ];
}

function renderInstall(i: InstallSection): string[] {
  return ["[Install]", ...lines([["WantedBy", list(i.wantedBy)], ["RequiredBy", list(i.requiredBy)]])];
}

/** The unit file's text: the verbatim `content` as given, or the typed sections rendered. */
export function renderSystemdUnit(spec: SystemdUnitSpec): string {
  if (spec.content !== undefined) return spec.content;
  const sections: string[][] = [];
  if (spec.unit) sections.push(renderUnit(spec.unit));
  if (spec.service) sections.push(renderService(spec.service));
  if (spec.timer) sections.push(renderTimer(spec.timer));
  if (spec.install && (spec.install.wantedBy.length || spec.install.requiredBy.length)) sections.push(renderInstall(spec.install));
  return sections.map((s) => s.join("\n")).join("\n\n") + "\n";
}
