/**
 * The DAARION node standards (docs/seeds/daarion-node-standards.md) as checks over a
 * node's files: pure functions from file texts to findings, no I/O. `npm run check-node`
 * (scripts/check-node/index.ts) reads a directory and prints them.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";

/** The rules, each with what the standard says; a finding names one of them. */
export const RULES = {
  "credentials/default": "no default or well-known password, key or token (postgres, admin, changeme, …)",
  "credentials/hard-coded": "no credential written into the compose file; it comes from .env (`${VAR}`)",
  "image/unpinned": "every image has a tag other than latest, or a digest",
  "healthcheck/missing": "every service has a Docker healthcheck, or the label com.daarion.health=host:<path> (probed from the host by the node's health task)",
  "ports/published": "only the gateway publishes ports, and only 80 and 443",
  "naming/container": "containers are named daarion-<service>",
  "naming/network": "services join the one network daarion_net, and no other",
  "naming/volume": "named volumes are <service>_data",
  "gateway/rate-limit": "the gateway limits /api/ to 10r/s with burst 20 (limit_req)",
  "migrations/name": "migrations are named XXX_description.sql",
  "migrations/duplicate": "every migration has its own number",
  "migrations/gap": "migration numbers run 001, 002, … without a gap",
  "migrations/edited": "an applied migration is never edited (its sha256 matches schema_migrations)",
} as const;

export type RuleId = keyof typeof RULES;

export interface Finding {
  readonly rule: RuleId;
  /** Path relative to the node's directory. */
  readonly file: string;
  /** 1-based line, or 0 when the finding is about the file as a whole. */
  readonly line: number;
  readonly message: string;
  readonly fix: string;
}

/** A node's files as copied from the host; absent ones are undefined. */
export interface NodeFiles {
  /** File name and text of the compose file (docker-compose.all.yml). */
  readonly compose?: { readonly name: string; readonly text: string };
  readonly env?: string;
  /** Gateway configs by relative path (infra/nginx/conf.d/*.conf). */
  readonly gateway: Readonly<Record<string, string>>;
  /** Migration files by name (migrations/*.sql) with their sha256. */
  readonly migrations?: readonly { readonly name: string; readonly sha256: string }[];
  /**
   * What the database says was applied: lines "version name sha256" as
   * `SELECT version, name, checksum FROM schema_migrations` prints them with `-A -t -F ' '`.
   */
  readonly applied?: string;
}

/** The project prefix of container names and the one network. */
export const PROJECT = "daarion";
export const NETWORK = `${PROJECT}_net`;
/** Service names that are the node's gateway (the standard's examples). */
const GATEWAY_SERVICES = new Set(["gateway", "gateway-nginx", "nginx"]);
const GATEWAY_PORTS = new Set(["80", "443"]);

/** Well-known default credentials, compared case-insensitively. */
const DEFAULT_SECRETS = new Set([
  "postgres", "password", "passw0rd", "admin", "administrator", "root", "toor", "secret", "changeme", "change_me", "change-me",
  "default", "123456", "12345678", "qwerty", "letmein", "guest", "test", "example", "daarion", "minioadmin", "grafana", "redis", "nats",
]);
/** Names of settings that hold a credential. */
const SECRET_NAME = /(PASSWORD|PASSWD|PASS|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)$/i;
/** A credential inside a URL: scheme://user:password@host. */
const URL_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]*)@/i;

function isDefaultSecret(value: string): boolean {
  return value === "" || DEFAULT_SECRETS.has(value.toLowerCase());
}

/** A value that only refers to the environment (`${VAR}`, `$VAR`), holding no literal credential. */
function onlyReference(value: string): boolean {
  return /^(\$\{[A-Za-z_][A-Za-z0-9_]*(:?[-?][^}]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)$/.test(value);
}

/** Parse a .env file: KEY=value lines, quotes removed, with line numbers. */
export function parseEnv(text: string): { key: string; value: string; line: number }[] {
  const out: { key: string; value: string; line: number }[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) return;
    let value = m[2]!;
    if (/^'.*'$/.test(value) || /^".*"$/.test(value)) value = value.slice(1, -1);
    out.push({ key: m[1]!, value, line: i + 1 });
  });
  return out;
}

function checkEnv(text: string): Finding[] {
  const out: Finding[] = [];
  for (const { key, value, line } of parseEnv(text)) {
    const inUrl = URL_PASSWORD.exec(value)?.[1];
    if (SECRET_NAME.test(key) && isDefaultSecret(value)) {
      out.push({
        rule: "credentials/default",
        file: ".env",
        line,
        message: `${key} is ${value === "" ? "empty" : `a default value ("${value}")`}`,
        fix: `set a generated value: openssl rand -base64 32 (the fleet's daarion stack generates it: leave fleet:daarionPostgresPassword unset or set it with pulumi config set --secret)`,
      });
    } else if (inUrl !== undefined && isDefaultSecret(decodeURIComponent(inUrl))) {
      out.push({
        rule: "credentials/default",
        file: ".env",
        line,
        message: `${key} carries a default password ("${inUrl}") in its URL`,
        fix: "put the generated database password in the URL (percent-encoded), the same as POSTGRES_PASSWORD",
      });
    }
  }
  return out;
}

/** The text of a scalar node; "" for anything else. */
function scalarText(n: unknown): string {
  return isScalar(n) ? String(n.value) : "";
}

/** A service's labels as `key=value` strings, from the list form or the map form of `labels:`. */
function labelValues(svc: YAMLMap): string[] {
  const labels = svc.get("labels", true);
  if (isSeq(labels)) return labels.items.map(scalarText);
  if (isMap(labels)) return labels.items.map((pair) => `${scalarText(pair.key)}=${scalarText(pair.value)}`);
  return [];
}

/** Files that cannot be judged at all (not YAML, no services); the CLI exits 2. */
export class NodeInputError extends Error {}

interface Located {
  readonly node: Node | null | undefined;
}

/** The compose file's checks. */
function checkCompose(name: string, text: string, env: ReadonlyMap<string, string>): Finding[] {
  const out: Finding[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const lineOf = (n: Located["node"]): number => (n?.range ? lc.linePos(n.range[0]).line : 0);
  const add = (rule: RuleId, node: Located["node"], message: string, fix: string) => out.push({ rule, file: name, line: lineOf(node), message, fix });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new NodeInputError(`${name}:${e.linePos?.[0]?.line ?? 0}: is not valid YAML: ${e.message.split("\n")[0]}`);
  }
  const root = doc.contents;
  const services = isMap(root) ? root.get("services", true) : undefined;
  if (!isMap(services)) throw new NodeInputError(`${name}: has no services: map`);
  const interpolate = (v: string) =>
    v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, k: string, d: string | undefined) => env.get(k) ?? d ?? "");

  for (const pair of services.items) {
    const svcName = isScalar(pair.key) ? String(pair.key.value) : "";
    const keyNode = pair.key as Node;
    const svc = pair.value;
    if (!isMap(svc)) continue;
    const gateway = GATEWAY_SERVICES.has(svcName);

    // Images: a tag other than latest, or a digest.
    const imageNode = svc.get("image", true);
    const image = isScalar(imageNode) ? interpolate(String(imageNode.value)) : undefined;
    if (image === undefined) {
      if (!svc.has("build")) add("image/unpinned", keyNode, `service ${svcName} has no image`, "name the image with a version tag or a digest");
    } else {
      const m = /^(?<name>[^@]+?)(?::(?<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(?<digest>sha256:[a-f0-9]{64}))?$/.exec(image);
      const tag = m?.groups?.tag;
      const digest = m?.groups?.digest;
      if (!digest && (!tag || tag === "latest")) {
        add(
          "image/unpinned",
          imageNode,
          `service ${svcName}: image ${image} is ${tag ? "tagged :latest" : "untagged (that is :latest)"}`,
          "pin a version tag or a digest (image: name@sha256:…); the fleet's daarion stack pins digests (fleet:daarion.images.<service>.digest)",
        );
      }
    }

    // Health checks.
    const hc = svc.get("healthcheck", true);
    const hcTest = isMap(hc) ? hc.get("test", true) : undefined;
    const disabled = isMap(hc) && (hc.get("disable") === true || (isSeq(hcTest) && isScalar(hcTest.items[0]) && String(hcTest.items[0].value) === "NONE"));
    // An image without curl or wget is probed from the host through its address on the
    // network; the compose file declares it with a label naming the probed path.
    const hostProbed = !isMap(hc) && labelValues(svc).some((l) => /^com\.daarion\.health=host:\/\S*$/.test(l));
    if ((!isMap(hc) || !hcTest || disabled) && !hostProbed) {
      add(
        "healthcheck/missing",
        isMap(hc) ? hc : keyNode,
        `service ${svcName} has ${disabled ? "its health check disabled" : "no health check"}`,
        `add healthcheck: { test: ["CMD", "curl", "-f", "http://localhost:<port>/health"], interval: 30s, timeout: 10s, retries: 3, start_period: 40s }`,
      );
    }

    // Ports: only the gateway, only 80 and 443.
    const ports = svc.get("ports", true);
    if (isSeq(ports)) {
      for (const p of ports.items) {
        const spec = isScalar(p) ? String(p.value) : isMap(p) ? scalarText(p.get("published", true) ?? p.get("target", true)) : "";
        // "[ip:]host:container[/proto]"; the published port is the one before the last ':'.
        const parts = spec.replace(/\/(tcp|udp)$/, "").split(":");
        const published = isMap(p) ? spec : parts.length >= 2 ? parts[parts.length - 2]! : parts[0]!;
        if (!gateway) {
          add("ports/published", p as Node, `service ${svcName} publishes port ${spec}`, `remove ports: from ${svcName}; services talk over ${NETWORK}, and the outside reaches them through the gateway (/api/<service>/)`);
        } else if (!GATEWAY_PORTS.has(published)) {
          add("ports/published", p as Node, `the gateway publishes port ${spec}`, "the gateway publishes 80 and 443 only");
        }
      }
    }
    const netMode = svc.get("network_mode", true);
    if (isScalar(netMode) && String(netMode.value) === "host") {
      add("ports/published", netMode, `service ${svcName} uses network_mode: host (every port it listens on is public)`, `remove network_mode and join ${NETWORK}`);
    }

    // Names.
    const cn = svc.get("container_name", true);
    const wantName = `${PROJECT}-${svcName}`;
    if (!isScalar(cn) || String(cn.value) !== wantName) {
      add(
        "naming/container",
        isScalar(cn) ? cn : keyNode,
        `service ${svcName} ${isScalar(cn) ? `is named ${String(cn.value)}` : "has no container_name"}`,
        `container_name: ${wantName}`,
      );
    }
    const nets = svc.get("networks", true);
    const netNames = isSeq(nets) ? nets.items.map((n) => (isScalar(n) ? String(n.value) : "")) : isMap(nets) ? nets.items.map((i) => (isScalar(i.key) ? String(i.key.value) : "")) : [];
    if (!(isScalar(netMode) && String(netMode.value) === "host")) {
      if (!netNames.includes(NETWORK)) add("naming/network", nets ?? keyNode, `service ${svcName} is not on ${NETWORK}`, `networks: [${NETWORK}]`);
      for (const other of netNames.filter((n) => n !== NETWORK)) {
        add("naming/network", nets, `service ${svcName} joins network ${other}`, `use the one network ${NETWORK}`);
      }
    }
    const vols = svc.get("volumes", true);
    if (isSeq(vols)) {
      for (const v of vols.items) {
        const source = isScalar(v) ? String(v.value).split(":")[0]! : isMap(v) && v.get("type") === "volume" ? scalarText(v.get("source", true)) : "";
        if (!source || source.startsWith("/") || source.startsWith(".") || source.startsWith("~") || source.startsWith("$")) continue;
        if (!/^[a-z0-9][a-z0-9-]*_data$/.test(source)) {
          add("naming/volume", v as Node, `service ${svcName} mounts volume ${source}`, `name it <service>_data, e.g. ${svcName.split("-")[0]}_data`);
        }
      }
    }

    // Credentials written into the compose file.
    const envNode = svc.get("environment", true);
    const entries: { key: string; value: string; node: Node }[] = [];
    if (isMap(envNode)) {
      for (const i of envNode.items) if (isScalar(i.key)) entries.push({ key: String(i.key.value), value: i.value === null || i.value === undefined ? "" : String(isScalar(i.value) ? i.value.value : ""), node: (i.value ?? i.key) as Node });
    } else if (isSeq(envNode)) {
      for (const i of envNode.items) {
        if (!isScalar(i)) continue;
        const [k, ...rest] = String(i.value).split("=");
        if (rest.length) entries.push({ key: k!, value: rest.join("="), node: i });
      }
    }
    for (const { key, value, node } of entries) {
      const inUrl = URL_PASSWORD.exec(value)?.[1];
      if (SECRET_NAME.test(key) && value !== "" && !onlyReference(value)) {
        add(
          isDefaultSecret(value) ? "credentials/default" : "credentials/hard-coded",
          node,
          `service ${svcName}: ${key} is written into the compose file${isDefaultSecret(value) ? ` as a default value ("${value}")` : ""}`,
          `${key}: "\${${key}}" with the value in .env (mode 0600, not in git)`,
        );
      } else if (inUrl !== undefined && !inUrl.startsWith("${") && !onlyReference(inUrl)) {
        add(
          isDefaultSecret(decodeURIComponent(inUrl)) ? "credentials/default" : "credentials/hard-coded",
          node,
          `service ${svcName}: ${key} carries a password in its URL`,
          `${key}: "\${${key}}" with the URL in .env`,
        );
      }
    }
  }

  // Top-level networks and volumes.
  const topNets = isMap(root) ? root.get("networks", true) : undefined;
  if (isMap(topNets)) {
    for (const i of topNets.items) {
      const key = isScalar(i.key) ? String(i.key.value) : "";
      const nameNode = isMap(i.value) ? i.value.get("name", true) : undefined;
      const real = isScalar(nameNode) ? String(nameNode.value) : key;
      if (real !== NETWORK) add("naming/network", (nameNode ?? i.key) as Node, `network ${key}${real !== key ? ` (named ${real})` : ""} is not ${NETWORK}`, `one network: networks: { ${NETWORK}: { name: ${NETWORK} } }`);
    }
  }
  const topVols = isMap(root) ? root.get("volumes", true) : undefined;
  if (isMap(topVols)) {
    for (const i of (topVols as YAMLMap).items) {
      const key = isScalar(i.key) ? String(i.key.value) : "";
      const nameNode = isMap(i.value) ? i.value.get("name", true) : undefined;
      const real = isScalar(nameNode) ? String(nameNode.value) : key;
      if (!/^[a-z0-9][a-z0-9-]*_data$/.test(key) || real !== key) {
        add("naming/volume", (nameNode ?? i.key) as Node, `volume ${key}${real !== key ? ` (named ${real})` : ""} is not named <service>_data, key and name alike`, `rename it <service>_data (e.g. postgres_data) with name: set to the same`);
      }
    }
  }
  return out;
}

/** The gateway's nginx config: a 10r/s zone, and limit_req in every /api/ location. */
function checkGateway(file: string, text: string): Finding[] {
  const out: Finding[] = [];
  const lines = text.split("\n");
  const zone = lines.findIndex((l) => /^\s*limit_req_zone\s+\S+\s+zone=([A-Za-z0-9_]+):\S+\s+rate=10r\/s\s*;/.test(l));
  const api: number[] = [];
  lines.forEach((l, i) => {
    if (/^\s*location\s+(\^~\s+|=\s+)?\/api(\/|\s|\{)/.test(l)) api.push(i);
  });
  if (api.length && zone < 0) {
    out.push({ rule: "gateway/rate-limit", file, line: 0, message: "has /api/ locations but no limit_req_zone at rate=10r/s", fix: "limit_req_zone $binary_remote_addr zone=api_limit:10m rate=10r/s;" });
  }
  for (const start of api) {
    // The location's block: up to its matching closing brace.
    let depth = 0;
    let limited = false;
    for (let i = start; i < lines.length; i++) {
      const l = lines[i]!.replace(/#.*$/, "");
      if (/^\s*limit_req\s+zone=\S+\s+burst=20\b/.test(l)) limited = true;
      depth += (l.match(/\{/g) ?? []).length - (l.match(/\}/g) ?? []).length;
      if (depth <= 0 && i > start) break;
      if (depth <= 0 && l.includes("}")) break;
    }
    if (!limited) {
      out.push({ rule: "gateway/rate-limit", file, line: start + 1, message: `${lines[start]!.trim().replace(/\s*\{$/, "")} has no limit_req with burst=20`, fix: "limit_req zone=api_limit burst=20 nodelay;" });
    }
  }
  return out;
}

/** Migrations: names, unique numbers, no gaps, and no edit of an applied one. */
function checkMigrations(files: readonly { name: string; sha256: string }[], applied: string | undefined): Finding[] {
  const out: Finding[] = [];
  const byNumber = new Map<string, string>();
  for (const { name } of [...files].sort((a, b) => a.name.localeCompare(b.name))) {
    if (/^\d{3}_rollback\.sql$/.test(name)) continue;
    if (!/^\d{3}_[A-Za-z0-9][A-Za-z0-9_-]*\.sql$/.test(name)) {
      out.push({ rule: "migrations/name", file: `migrations/${name}`, line: 0, message: "is not named XXX_description.sql", fix: "rename it to three digits, '_' and a description, e.g. 007_create_agents_tables.sql" });
      continue;
    }
    const n = name.slice(0, 3);
    const first = byNumber.get(n);
    if (first) {
      out.push({ rule: "migrations/duplicate", file: `migrations/${name}`, line: 0, message: `has the same number as ${first}`, fix: "give it the next free number after the last migration" });
      continue;
    }
    byNumber.set(n, name);
  }
  const numbers = [...byNumber.keys()].map(Number).sort((a, b) => a - b);
  let expected = 1;
  for (const n of numbers) {
    if (n !== expected) {
      const missing = n - expected === 1 ? String(expected).padStart(3, "0") : `${String(expected).padStart(3, "0")}–${String(n - 1).padStart(3, "0")}`;
      out.push({ rule: "migrations/gap", file: `migrations/${byNumber.get(String(n).padStart(3, "0"))!}`, line: 0, message: `follows a gap: ${missing} missing`, fix: "number migrations without gaps (renumber this one, unless it is already applied)" });
    }
    expected = n + 1;
  }
  if (applied !== undefined) {
    const sums = new Map(files.map((f) => [f.name, f.sha256]));
    applied.split("\n").forEach((raw, i) => {
      const [version, name, sum] = raw.trim().split(/\s+/);
      if (!version || !name || !sum) return;
      const now = sums.get(name);
      if (now === undefined) {
        out.push({ rule: "migrations/edited", file: "schema_migrations.txt", line: i + 1, message: `migration ${name} was applied but its file is gone`, fix: `restore migrations/${name} from git; never delete an applied migration` });
      } else if (now !== sum) {
        out.push({ rule: "migrations/edited", file: `migrations/${name}`, line: 0, message: `changed after it was applied (sha256 ${sum.slice(0, 12)}…, now ${now.slice(0, 12)}…)`, fix: `restore the applied version from git and put the change in a new migration` });
      }
    });
  }
  return out;
}

/** Every finding for a node, sorted by file, line and rule. */
export function checkNode(files: NodeFiles): Finding[] {
  const env = new Map((files.env === undefined ? [] : parseEnv(files.env)).map((e) => [e.key, e.value]));
  const out: Finding[] = [
    ...(files.env === undefined ? [] : checkEnv(files.env)),
    ...(files.compose ? checkCompose(files.compose.name, files.compose.text, env) : []),
    ...Object.entries(files.gateway).flatMap(([f, t]) => checkGateway(f, t)),
    ...(files.migrations ? checkMigrations(files.migrations, files.applied) : []),
  ];
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule) || a.message.localeCompare(b.message));
}
