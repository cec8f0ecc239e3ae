/**
 * The fleet's policy rules as plain functions over what the engine hands the analyzer for
 * one resource (its type, URN, inputs and options). No Pulumi import, no I/O: the pack
 * (policy/pack.ts) wires each rule into `@pulumi/policy`, and `test/cli/policy.test.ts`
 * runs them through the real engine.
 *
 * A managed file is a `command:remote:Command` whose `create` calls the host's helper
 * (`<helper> put '<path>' --owner …`, src/remote/helper.ts) with the content on `stdin`;
 * the rules that judge config files read them from there.
 */
import { parse } from "yaml";
import { checkNode } from "../scripts/check-node/rules";

/** One resource as a rule sees it. `props` are the inputs with secrets unwrapped. */
export interface ResourceView {
  readonly type: string;
  readonly urn: string;
  readonly props: Readonly<Record<string, unknown>>;
  readonly protect: boolean;
  /** The stack's tags (`pulumi stack tag set`). */
  readonly stackTags: ReadonlyMap<string, string>;
}

/** The rules: name → what the rule demands (the pack's descriptions). */
export const POLICIES = {
  "ssh-host-key-pinned": "Every SSH connection pins the host's key (connection.hostKey, and the jump host's); only a stack tagged fleet:environment=test may skip the check.",
  "no-plain-secrets": "No secret-looking value (password, token or key by name, private key, credential in a URL or env line) in an input that is not a secret Output.",
  "images-pinned-by-digest": "Every container image is pinned by digest (image@sha256:…), in docker resources and in the compose files the fleet writes.",
  "stateful-protected": "Databases, roles, buckets, volumes and generated secrets are protected (protect: true), so no preview can delete or replace them silently.",
  "metrics-not-public": "/metrics is never routed from a public frontend: HAProxy backends deny it, nginx and Caddy never proxy it without a deny.",
  "daarion-gateway-ports-only": "In a DAARION node's compose file only the gateway publishes ports (80 and 443).",
} as const;

export type PolicyName = keyof typeof POLICIES;

/** The stack tag that marks a throwaway test stack, and its value. */
export const TEST_TAG = "fleet:environment";

// ---------------------------------------------------------------------------------------
// Managed files

export interface ManagedFile {
  readonly path: string;
  readonly content: string;
}

const PUT = /\bput (?:'((?:[^']|'\\'')*)'|([^\s']+)) --owner /;

/**
 * The path a resource writes through the host's helper, when it is one. At preview a
 * command line computed from another resource is unknown, and reading it throws (the
 * pack's proxy): such a command is not judged by preview (`up` sees every value).
 */
export function managedPath(r: Pick<ResourceView, "type" | "props">): string | undefined {
  if (r.type !== "command:remote:Command") return undefined;
  let create: unknown;
  try {
    create = r.props.create;
  } catch {
    return undefined;
  }
  if (typeof create !== "string") return undefined;
  const m = PUT.exec(create);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!;
}

/**
 * The file a resource writes, when its path passes `wanted`. Only then is the content
 * read: at preview, content computed from another resource is unknown and the read makes
 * Pulumi report "can't run policy … during preview" for that resource (advisory).
 */
export function managedFile(r: Pick<ResourceView, "type" | "props">, wanted: (path: string) => boolean = () => true): ManagedFile | undefined {
  const path = managedPath(r);
  if (path === undefined || !wanted(path)) return undefined;
  const stdin = r.props.stdin;
  return typeof stdin === "string" ? { path, content: stdin } : undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------------------------------
// ssh-host-key-pinned

/** Connections of the resource that do not pin the host key. */
export function unpinnedHostKeys(r: ResourceView): string[] {
  const connection = r.props.connection;
  if (!isRecord(connection)) return [];
  if (r.stackTags.get(TEST_TAG) === "test") return [];
  const out: string[] = [];
  const unpinned = (c: Record<string, unknown>) => typeof c.hostKey !== "string" || c.hostKey.trim() === "";
  if (unpinned(connection)) {
    out.push(`connection.hostKey is not set: the SSH host key of ${String(connection.host)} is not checked; pin it (fleet:hosts/<name>/hostKey from ssh-keyscan -t ed25519 HOST), or tag a throwaway test stack ${TEST_TAG}=test`);
  }
  const proxy = connection.proxy;
  if (isRecord(proxy) && unpinned(proxy)) {
    out.push(`connection.proxy.hostKey is not set: the SSH host key of the jump host ${String(proxy.host)} is not checked; pin it (fleet:hosts/<name>/jump/hostKey)`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// no-plain-secrets

/** Values that stand for a secret without being one. */
const PLACEHOLDER = /^(?:change[_-]?me|x+|\*+|<[^>]*>|placeholder|example|redacted|none|null|false|true)$/i;
/** A reference to a variable resolved elsewhere (compose, shell, systemd). */
const REFERENCE = /^\$(?:\{[^}]+\}|[A-Za-z_][A-Za-z0-9_]*)$/;
/** Input names whose value is a secret: …password, …secret, …token, …apiKey, …privateKey. */
const SECRET_NAME = /(?:password|passwd|secret|token|apikey|privatekey|secretkey)$/;
const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
/** scheme://user:password@ with a password that is neither a reference nor a placeholder. */
const URL_CREDENTIAL = /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@'"]+:([^\s@/'"]+)@/gi;
/** KEY=value or KEY: value lines whose key names a secret. */
const SECRET_LINE = /^[ \t]*(?:export[ \t]+|-[ \t]*)?["']?([A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|SECRET_KEY)[A-Za-z0-9_]*)["']?[ \t]*[=:][ \t]*["']?([^\s"'#]*)/gim;

const harmless = (value: string): boolean => value === "" || PLACEHOLDER.test(value) || REFERENCE.test(value) || /^\$\{[^}]+\}$/.test(value);

/** Why a plain string looks like a secret (never the value itself), or undefined. */
export function secretLooking(name: string, value: string): string | undefined {
  const key = name.toLowerCase().replace(/[-_]/g, "");
  if (SECRET_NAME.test(key) && !harmless(value.trim())) return `its name says it is a secret (${name})`;
  if (PEM_PRIVATE_KEY.test(value)) return "it holds a PEM private key";
  for (const m of value.matchAll(URL_CREDENTIAL)) if (!harmless(m[1]!)) return "it holds a URL with a password (scheme://user:password@)";
  for (const m of value.matchAll(SECRET_LINE)) if (!harmless(m[2]!)) return `it sets ${m[1]} to a literal value`;
  return undefined;
}

/**
 * Walk raw inputs (secret-marked values still wrapped) and report every secret-looking
 * string that is not under a secret marker, by path. `isSecret` recognises the marker.
 */
export function plainSecrets(raw: unknown, isSecret: (v: unknown) => boolean, at = ""): string[] {
  if (isSecret(raw)) return [];
  if (Array.isArray(raw)) return raw.flatMap((v, i) => plainSecrets(v, isSecret, `${at}[${i}]`));
  if (isRecord(raw)) {
    return Object.keys(raw).flatMap((k) => {
      const v = raw[k];
      const path = at ? `${at}.${k}` : k;
      if (typeof v === "string") {
        const why = secretLooking(k, v);
        return why ? [`${path} looks like a secret (${why}) but is a plain input: pass it as a secret Output (pulumi.secret, config.requireSecret), e.g. on stdin`] : [];
      }
      return plainSecrets(v, isSecret, path);
    });
  }
  return [];
}

// ---------------------------------------------------------------------------------------
// images-pinned-by-digest

const DIGEST = /@sha256:[0-9a-f]{64}$/;
const COMPOSE_FILE = /(?:^|\/)(?:docker-)?compose[^/]*\.ya?ml$/;

function composeServices(text: string): Record<string, Record<string, unknown>> {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return {};
  }
  if (!isRecord(doc) || !isRecord(doc.services)) return {};
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, s] of Object.entries(doc.services)) if (isRecord(s)) out[name] = s;
  return out;
}

/** Images of the resource (docker resources, managed compose files) not pinned by digest. */
export function unpinnedImages(r: ResourceView): string[] {
  const bad = (image: unknown) => typeof image === "string" && !DIGEST.test(image);
  const out: string[] = [];
  if (r.type === "docker:index/container:Container" && bad(r.props.image)) out.push(`image ${String(r.props.image)} is not pinned by digest`);
  if (r.type === "docker:index/remoteImage:RemoteImage" && bad(r.props.name)) out.push(`image ${String(r.props.name)} is not pinned by digest`);
  const file = managedFile(r, (p) => COMPOSE_FILE.test(p));
  if (file) {
    for (const [name, s] of Object.entries(composeServices(file.content))) {
      // A service built on the host from the pinned checkout names a local image.
      if (s.build !== undefined) continue;
      if (s.image === undefined) out.push(`${file.path}: service ${name} has neither an image nor a build`);
      else if (bad(s.image)) out.push(`${file.path}: service ${name} runs ${JSON.stringify(s.image)}, not pinned by digest: use <image>@sha256:<digest> (the stacks resolve tags to digests at preview)`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// stateful-protected

/** Resource types that hold state a delete or replace would lose. */
export const STATEFUL_TYPES: readonly string[] = [
  "postgresql:index/database:Database",
  "postgresql:index/role:Role",
  "minio:index/s3Bucket:S3Bucket",
  "docker:index/volume:Volume",
  "random:index/randomPassword:RandomPassword",
  "random:index/randomBytes:RandomBytes",
  "random:index/randomId:RandomId",
  "random:index/randomString:RandomString",
];

/**
 * Components whose generated credential is rotated in place on purpose: a MinIO bucket's
 * user secret (the IamUser has `updateSecret: true`; its consumers read the new value on
 * the next up). Every other generated secret must never rotate (DESIGN.md).
 */
export const ROTATED_IN_PLACE: readonly string[] = ["fleet:minio:Bucket"];

/** The type of the resource's parent, from its URN's type chain. */
function parentType(urn: string): string | undefined {
  const chain = urn.split("::")[2]?.split("$") ?? [];
  return chain.length > 1 ? chain[chain.length - 2] : undefined;
}

export function unprotectedState(r: ResourceView): string[] {
  if (!STATEFUL_TYPES.includes(r.type) || r.protect) return [];
  if (r.type.startsWith("random:") && ROTATED_IN_PLACE.includes(parentType(r.urn) ?? "")) return [];
  return [`${r.type} holds state (data, or a generated secret that must never rotate) but is not protected: set protect: true (\`pulumi state unprotect\` before a deliberate delete)`];
}

// ---------------------------------------------------------------------------------------
// metrics-not-public

/** The text of the `{…}` block that opens at or after `from`. */
function blockAt(text: string, from: number): string {
  const open = text.indexOf("{", from);
  if (open < 0) return "";
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

const stripComments = (text: string) => text.replace(/#[^\n]*/g, "");

function haproxyMetrics(file: ManagedFile): string[] {
  const text = stripComments(file.content);
  const out: string[] = [];
  for (const m of text.matchAll(/\b(?:path(?:_beg|_reg|_dir)?|path,[a-z_,]+)\s+(?:-[a-z]+\s+)*\S*\/metrics\b[^\n]*/g)) {
    const line = text.slice(text.lastIndexOf("\n", m.index) + 1, text.indexOf("\n", m.index) < 0 ? undefined : text.indexOf("\n", m.index)).trim();
    if (/^(?:use_backend|use-server|http-request\s+(?:redirect|set-path|return\s+status\s+200))\b/.test(line)) out.push(`${file.path}: routes /metrics (${line})`);
  }
  const sections = text.split(/^(?=(?:backend|frontend|listen|defaults|global)\b)/m);
  for (const s of sections) {
    const name = /^backend\s+(\S+)/.exec(s)?.[1];
    if (!name) continue;
    // A backend without servers forwards nothing (e.g. the default "no route" answer).
    if (!/^\s*server\s/m.test(s)) continue;
    if (!/^\s*http-request\s+deny\b[^\n]*metrics/m.test(s)) out.push(`${file.path}: backend ${name} is served from the public frontends and does not deny /metrics (http-request deny … path,url_dec … /metrics)`);
  }
  return out;
}

const LOOPBACK_LISTEN = /^\s*listen\s+(?:127\.\d+\.\d+\.\d+|\[::1\]|localhost|unix:)/;

function nginxMetrics(file: ManagedFile): string[] {
  const text = stripComments(file.content);
  const out: string[] = [];
  for (const server of text.matchAll(/\bserver\s*\{/g)) {
    const body = blockAt(text, server.index);
    const listens = body.split("\n").filter((l) => /^\s*listen\s/.test(l));
    if (listens.length > 0 && listens.every((l) => LOOPBACK_LISTEN.test(l))) continue;
    for (const loc of body.matchAll(/\blocation\s+(?:[=~^*]+\s*)?(\S*metrics\S*)\s*\{/g)) {
      const inner = blockAt(body, loc.index);
      const refused = /^\s*deny\s+all\s*;/m.test(inner) || /^\s*return\s+(?:40[34]|444)\b/m.test(inner);
      if (!refused) out.push(`${file.path}: location ${loc[1]} is served to everyone; add allow <internal networks>; deny all; (or return 404)`);
    }
  }
  return out;
}

function caddyMetrics(file: ManagedFile): string[] {
  const text = stripComments(file.content);
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(handle_path|handle|route|reverse_proxy)\s+(\S*\/metrics\S*)/gm)) {
    const inner = m[1] === "reverse_proxy" ? "" : blockAt(text, m.index + m[0].length);
    const refused = /^\s*(?:respond\s+(?:"[^"]*"\s+)?40[34]|abort)\b/m.test(inner);
    if (!refused) out.push(`${file.path}: ${m[1]} ${m[2]} routes /metrics from a public site; respond 404 (or abort) there`);
  }
  return out;
}

/** Public frontends (HAProxy, nginx, Caddy files) that would route /metrics. */
const HAPROXY_FILE = /^\/etc\/haproxy\/.*\.cfg$/;
const CADDY_FILE = /\.caddy$|(?:^|\/)Caddyfile$/;
const NGINX_FILE = /nginx\/.*\.conf$/;

export function publicMetrics(r: ResourceView): string[] {
  const file = managedFile(r, (p) => HAPROXY_FILE.test(p) || CADDY_FILE.test(p) || NGINX_FILE.test(p));
  if (!file) return [];
  if (HAPROXY_FILE.test(file.path)) return haproxyMetrics(file);
  if (CADDY_FILE.test(file.path)) return caddyMetrics(file);
  if (NGINX_FILE.test(file.path)) return nginxMetrics(file);
  return [];
}

// ---------------------------------------------------------------------------------------
// daarion-gateway-ports-only

/** Ports a DAARION node's compose file publishes from anything but the gateway. */
export function daarionPorts(r: ResourceView): string[] {
  if (!/[:$]fleet:(?:daarion:Node|stack:Daarion)\$/.test(r.urn)) return [];
  const file = managedFile(r, (p) => COMPOSE_FILE.test(p));
  if (!file) return [];
  return checkNode({ compose: { name: file.path, text: file.content }, gateway: {} })
    .filter((f) => f.rule === "ports/published")
    .map((f) => `${file.path}:${f.line}: ${f.message}; ${f.fix}`);
}
