/**
 * What a compose file needs from the host and offers to it, read from the file itself
 * (interpolated with the env the stack writes, as compose would): the host ports it
 * publishes and the external networks it expects to exist. Checked at preview against
 * the route's port (issue 13 item 5) and used to create missing networks before `up`
 * (item 4). Pure: no Pulumi, no I/O. Throws ComposeParseError on unreadable YAML.
 */
import { parseCompose } from "./interpolation";

/** A host port (or range) a service publishes. */
export interface PublishedPort {
  readonly service: string;
  /** First and last host port (equal for one port). */
  readonly from: number;
  readonly to: number;
  /** The address it is published on, when the file names one. */
  readonly hostIp?: string;
  /** The entry as written, for messages. */
  readonly entry: string;
}

const VAR = /\$(?:\{([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?-)([^}]*))?\}|([_a-zA-Z][_a-zA-Z0-9]*))/g;

/**
 * `text` with `$VAR`, `${VAR}` and `${VAR:-default}`/`${VAR-default}` substituted from
 * `env`; `undefined` when a variable without a default is not in `env` (its value is
 * not known here: the entry is then not counted).
 */
export function interpolateKnown(text: string, env: Readonly<Record<string, string>>): string | undefined {
  let unknown = false;
  // `$$` is a literal `$`: substitute between them only.
  const out = text
    .split("$$")
    .map((part) =>
      part.replace(VAR, (_m, braced: string | undefined, op: string | undefined, def: string | undefined, bare: string | undefined) => {
        const name = (braced ?? bare)!;
        const value = Object.hasOwn(env, name) ? env[name] : undefined;
        if (op === ":-") return value !== undefined && value !== "" ? value : (def ?? "");
        if (op === "-") return value !== undefined ? value : (def ?? "");
        if (value === undefined) unknown = true;
        return value ?? "";
      }),
    )
    .join("$");
  return unknown ? undefined : out;
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function range(text: string): { from: number; to: number } | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text.trim());
  if (!m) return undefined;
  const from = Number(m[1]);
  const to = m[2] !== undefined ? Number(m[2]) : from;
  return from >= 1 && to <= 65535 && from <= to ? { from, to } : undefined;
}

/** Split `[ip:]host:container[/proto]` (an IPv6 address in brackets). */
function shortSyntax(entry: string): { hostIp?: string; published?: string } {
  const spec = entry.replace(/\/(tcp|udp|sctp)$/, "");
  let hostIp: string | undefined;
  let rest = spec;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  if (v6) {
    hostIp = v6[1];
    rest = v6[2]!;
  }
  const parts = rest.split(":");
  if (parts.length === 1) return hostIp !== undefined ? { hostIp } : {};
  if (parts.length === 2) return { ...(hostIp !== undefined ? { hostIp } : {}), published: parts[0]! };
  return { hostIp: parts.slice(0, -2).join(":"), published: parts[parts.length - 2]! };
}

/** Every host port the file publishes (a container port alone publishes none: Docker picks one). */
export function publishedPorts(text: string, env: Readonly<Record<string, string>> = {}): PublishedPort[] {
  const root = parseCompose(text);
  const out: PublishedPort[] = [];
  for (const [service, def] of Object.entries(asRecord(root.services) ?? {})) {
    const ports = asRecord(def)?.ports;
    if (!Array.isArray(ports)) continue;
    for (const p of ports) {
      if (typeof p === "number") continue;
      if (typeof p === "string") {
        const entry = interpolateKnown(p, env);
        if (entry === undefined) continue;
        const { hostIp, published } = shortSyntax(entry);
        const r = published ? range(published) : undefined;
        if (r) out.push({ service, ...r, ...(hostIp ? { hostIp } : {}), entry: p });
        continue;
      }
      const long = asRecord(p);
      const raw = long?.published;
      if (typeof raw !== "string" && typeof raw !== "number") continue;
      const published = interpolateKnown(String(raw), env);
      const hostIp = typeof long!.host_ip === "string" ? interpolateKnown(long!.host_ip, env) : undefined;
      const r = published !== undefined ? range(published) : undefined;
      if (r) out.push({ service, ...r, ...(hostIp ? { hostIp } : {}), entry: `published: ${String(raw)}` });
    }
  }
  return out;
}

/**
 * The Docker names of the networks the file declares `external: true` (compose
 * refuses to start when one is missing), sorted and unique. `name:` gives the Docker
 * name; else the key. A name that depends on an unknown variable is left out.
 */
export function externalNetworks(text: string, env: Readonly<Record<string, string>> = {}): string[] {
  const root = parseCompose(text);
  const names = new Set<string>();
  for (const [key, def] of Object.entries(asRecord(root.networks) ?? {})) {
    const d = asRecord(def);
    if (!d) continue;
    const ext = d.external;
    const legacy = asRecord(ext);
    if (ext !== true && ext !== "true" && !legacy) continue;
    const raw = typeof legacy?.name === "string" ? legacy.name : typeof d.name === "string" ? d.name : key;
    const name = interpolateKnown(raw, env);
    if (name !== undefined && name !== "") names.add(name);
  }
  return [...names].sort();
}

/** `8505`, `8505-8510` of published ports, for messages. */
export function describePorts(ports: readonly PublishedPort[]): string {
  const list = [...new Set(ports.map((p) => (p.from === p.to ? String(p.from) : `${p.from}-${p.to}`)))];
  return list.length ? list.join(", ") : "none";
}

/**
 * What a first `up` of the file as project `project` creates under fixed names, so an
 * older deployment holding those names can be adopted (ComposeStack's `adopt`): each
 * service's container (`container_name:`, else compose's `<project>-<service>-1`) and
 * each network the file declares that compose creates (`name:`, else
 * `<project>_<key>`; not the external ones). A name that depends on an unknown
 * variable is left out.
 */
export function projectNames(text: string, project: string, env: Readonly<Record<string, string>> = {}): { containers: string[]; networks: string[] } {
  const root = parseCompose(text);
  const containers: string[] = [];
  for (const [service, def] of Object.entries(asRecord(root.services) ?? {})) {
    const fixed = asRecord(def)?.container_name;
    const name = typeof fixed === "string" ? interpolateKnown(fixed, env) : `${project}-${service}-1`;
    if (name !== undefined && name !== "") containers.push(name);
  }
  const networks: string[] = [];
  for (const [key, def] of Object.entries(asRecord(root.networks) ?? {})) {
    const d = asRecord(def) ?? {};
    if (d.external !== undefined && d.external !== false && d.external !== "false") continue;
    const name = typeof d.name === "string" ? interpolateKnown(d.name, env) : `${project}_${key}`;
    if (name !== undefined && name !== "") networks.push(name);
  }
  return { containers, networks };
}
