/**
 * Zod building blocks shared by every config schema and component. Each rule says in
 * its message what is allowed, so an operator reading `hosts/puck/address: ...` knows
 * the fix without opening this file.
 *
 * Validation files never import `@pulumi/*` (house style 3): they run on plain data.
 */
import { isIP } from "node:net";
import { z } from "zod";

/** Characters that change meaning in a POSIX shell or break a config line. */
const SHELL_META = /[\s'"`$\\;&|<>(){}[\]*?!#~^\n\r\0]/;
/**
 * C0 and C1 control characters, DEL, and the Unicode line and paragraph separators
 * (U+2028, U+2029; U+0085 NEL is C1): anything a terminal, a config parser or a
 * JavaScript/YAML reader may take as a line break or a control sequence.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Whether `value` holds a control character or a line separator (see CONTROL). */
export function hasControl(value: string): boolean {
  return CONTROL.test(value);
}

/** RFC 1123 hostname: dot-separated labels of [a-z0-9-], no leading/trailing hyphen. */
const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-f:]+(%[a-z0-9]+)?$/i;

export function isHostname(value: string): boolean {
  if (value.length === 0 || value.length > 253) return false;
  return value.split(".").every((label) => HOST_LABEL.test(label));
}

export function isIpAddress(value: string): boolean {
  // node:net parses IPv6 for real: ':' or '1:2' are not addresses (the old pattern took any run of hex digits and colons).
  return IPV4.test(value) || (value.includes(":") && IPV6.test(value) && isIP(value) === 6);
}

/** A DNS name or an IP literal. */
export const hostname = z
  .string()
  .max(253, { error: "must be at most 253 characters" })
  .refine((v) => isHostname(v) || isIpAddress(v), {
    error: "must be a DNS name (letters, digits, '-' and '.') or an IP address",
  });

/** A DNS name (no IP literal), e.g. a virtual host served by a proxy. */
export const domainName = z
  .string()
  .max(253, { error: "must be at most 253 characters" })
  .refine((v) => isHostname(v) && v.includes("."), {
    error: "must be a fully qualified DNS name such as app.example.com",
  });

export const port = z
  .number({ error: "must be a number" })
  .int({ error: "must be an integer" })
  .min(1, { error: "must be between 1 and 65535" })
  .max(65535, { error: "must be between 1 and 65535" });

/** An absolute POSIX path without `..`, whitespace or shell metacharacters. */
export const absolutePath = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(/^\/[A-Za-z0-9._@+/-]*$/, {
    error: "must be an absolute path of letters, digits and . _ @ + - / (no spaces or shell metacharacters)",
  })
  .refine((v) => !v.split("/").includes(".."), { error: "must not contain '..' segments" })
  .refine((v) => !v.includes("//"), { error: "must not contain '//'" });

/** A URL path such as `/api/health`: starts with `/`, printable, no spaces or quotes. */
export const urlPath = z
  .string()
  .max(2048, { error: "must be at most 2048 characters" })
  .regex(/^\/[A-Za-z0-9._~!$&()*+,;=:@%/-]*(\?[A-Za-z0-9._~!$&()*+,;=:@%/?-]*)?$/, {
    error: "must be a URL path starting with '/', without spaces, quotes or '#'",
  })
  .refine((v) => !CONTROL.test(v), { error: "must not contain control characters" })
  // Servers resolve dot segments first: a path with one never means what it says.
  .refine((v) => !(v.split("?")[0] ?? "").split("/").some((s) => s === "." || s === ".."), { error: "must not contain '.' or '..' segments" });

/** A POSIX user or group name as `useradd` accepts by default. */
export const unixName = z
  .string()
  .max(32, { error: "must be at most 32 characters" })
  .regex(/^[a-z_][a-z0-9_-]*$/, {
    error: "must start with a lowercase letter or '_' and contain only a-z, 0-9, '_' and '-'",
  });

/** An unquoted PostgreSQL identifier: lowercase, at most 63 bytes (NAMEDATALEN - 1). */
export const pgIdentifier = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(63, { error: "must be at most 63 bytes (PostgreSQL NAMEDATALEN); shorten it" })
  .regex(/^[a-z_][a-z0-9_]*$/, {
    error: "must be a lowercase PostgreSQL identifier: start with a-z or '_', then a-z, 0-9, '_'",
  });

/** A systemd unit file name. */
export const unitName = z
  .string()
  .max(255, { error: "must be at most 255 characters" })
  .regex(/^[A-Za-z0-9:_.@-]+\.(service|timer|socket|target|path|mount)$/, {
    error: "must be a systemd unit name such as app.service or app.timer (letters, digits, : _ . @ -)",
  });

/**
 * A short name used to build file names, resource names, nginx zones and the like:
 * lowercase letters, digits and '-', starting with a letter.
 */
export const slug = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(63, { error: "must be at most 63 characters" })
  .regex(/^[a-z][a-z0-9-]*$/, {
    error: "must start with a lowercase letter and contain only a-z, 0-9 and '-'",
  });

/** An environment variable name. */
export const envName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[A-Z_][A-Z0-9_]*$/, { error: "must be an environment variable name: A-Z, 0-9 and '_'" });

/** A plain value that lands in a config file or script: printable, no shell metacharacters. */
export const safeToken = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .refine((v) => !SHELL_META.test(v) && !CONTROL.test(v), {
    error: "must not contain whitespace, control characters, quotes or shell metacharacters ($ ` ; & | < > ( ) etc.)",
  });

/** A free-text value on one line (a description, an alert summary): no control characters. */
export const oneLine = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters" });

/** A value for a dotenv file: one line, no NUL, no single quote (values are single-quoted). */
export const envValue = z
  .string()
  .max(8192, { error: "must be at most 8192 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters" })
  .refine((v) => !v.includes("'"), { error: "must not contain a single quote (env values are single-quoted)" });

/** A Prometheus/Go duration such as `15s`, `1m`, `5m`, `1h30m`. */
export const promDuration = z
  .string()
  .regex(/^((\d+)(y|w|d|h|m|s|ms))+$/, { error: "must be a duration such as 15s, 1m or 1h30m" });

/** An IPv4 CIDR or address, as nginx `allow` takes it. */
export const cidr = z
  .string()
  .regex(/^(\d{1,3}\.){3}\d{1,3}(\/(3[0-2]|[12]?\d))?$/, { error: "must be an IPv4 address or CIDR such as 10.10.0.0/24" })
  .refine((v) => (v.split("/")[0] ?? "").split(".").every((o) => Number(o) <= 255), {
    error: "must have octets between 0 and 255",
  });

/** A container image reference, optionally with a tag and/or digest. */
export const imageRef = z
  .string()
  .max(512, { error: "must be at most 512 characters" })
  .regex(/^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/, {
    error: "must be an image reference such as registry.example.com/app:1.2 or app@sha256:<64 hex>",
  });

export const sha256Digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, { error: "must be sha256:<64 hex digits>" });

/** A git ref (branch, tag or commit) as accepted by `git check-ref-format` and safe in a script. */
export const gitRef = z
  .string()
  .max(255, { error: "must be at most 255 characters" })
  .regex(/^[A-Za-z0-9._/-]+$/, { error: "must be a git branch, tag or commit of letters, digits and . _ / -" })
  .refine((v) => !v.startsWith("-") && !v.includes("..") && !v.endsWith(".lock") && !v.endsWith("/"), {
    error: "must be a valid git ref (no leading '-', no '..', no trailing '/' or '.lock')",
  });

/** A full git commit id: what a ref named when it was resolved. */
export const gitCommit = z.string().regex(/^[0-9a-f]{40}$/, { error: "must be a full commit id (40 lowercase hex digits)" });

/** A git remote URL: https or ssh form. */
export const gitUrl = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(/^(https:\/\/[A-Za-z0-9][A-Za-z0-9.-]*(:\d+)?\/[A-Za-z0-9._~][A-Za-z0-9._/~-]*|(ssh:\/\/)?[A-Za-z0-9_][A-Za-z0-9_.-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._/~][A-Za-z0-9._/~-]*)$/, {
    error: "must be an https:// or ssh git URL without spaces or shell metacharacters, no part starting with '-' (git would read it as an option)",
  });

/**
 * A secret the stack writes into a dotenv file or a URL (passwords, keys): not empty,
 * one line without control characters, no single quote (dotenv values are
 * single-quoted). Checked at config load; the message never repeats the value.
 */
export const secretValue = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(8192, { error: "must be at most 8192 characters" })
  .refine((v) => !CONTROL.test(v), { error: "must be one line without control characters" })
  .refine((v) => !v.includes("'"), { error: "must not contain a single quote (it lands in single-quoted .env values); choose another value" });

/** An http(s) URL without whitespace or quotes. */
export const httpUrl = z
  .string()
  .max(2048, { error: "must be at most 2048 characters" })
  .regex(/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?(\/[A-Za-z0-9._~!$&()*+,;=:@%/-]*)?(\?[A-Za-z0-9._~!$&()*+,;=:@%/?-]*)?$/, {
    error: "must be an http:// or https:// URL without spaces or quotes",
  });

/** A file mode as an octal string, e.g. "0644". */
export const fileMode = z.string().regex(/^0[0-7]{3}$/, { error: "must be an octal mode such as 0644 or 0600" });

/** An HTTP header name as proxies set it (nginx proxy_set_header, Caddy header_up). */
export const httpHeaderName = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { error: "must be an HTTP header name: a letter, then letters, digits and '-'" });

/**
 * A Docker container name, e.g. `caddy-proxy` (as `docker exec` and `docker restart` take it).
 * dockerd's rule (`RestrictedNamePattern`, `[a-zA-Z0-9][a-zA-Z0-9_.-]+`): two characters at least.
 */
export const containerName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: "must be a container name: a letter or digit, then letters, digits and _ . -" })
  .refine((v) => v.length !== 1, { error: "must be at least 2 characters (Docker refuses a one-character container name)" });

/** A Docker volume name, e.g. `postgres_data` (dockerd's `RestrictedVolumeNamePattern`: as a container name, two characters at least). */
export const volumeName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: "must be a Docker volume name: a letter or digit, then letters, digits and _ . -" })
  .refine((v) => v.length !== 1, { error: "must be at least 2 characters (Docker refuses a one-character volume name)" });

/** Directories a host mount must not be (the whole tree): the system's own, the kernel's, the container engine's. */
const MOUNT_TREES = ["/bin", "/boot", "/dev", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root", "/run/containerd", "/run/docker.sock", "/sbin", "/sys", "/usr", "/var/lib/docker", "/var/run/containerd", "/var/run/docker.sock"];
/** Directories a host mount must not be exactly (a dedicated directory below them is fine, e.g. /etc/letsencrypt). */
const MOUNT_EXACT = ["/", "/etc", "/home", "/opt", "/run", "/srv", "/tmp", "/var", "/var/lib", "/var/run"];

/** Why `path` must not be mounted from the host into a container, or undefined. */
export function mountProblem(path: string): string | undefined {
  const p = path.length > 1 ? path.replace(/\/+$/, "") : path;
  const tree = MOUNT_TREES.find((d) => p === d || p.startsWith(`${d}/`));
  if (MOUNT_EXACT.includes(p) || tree) {
    return `must not be ${tree ? `in ${tree}` : p} (the host's root, a system directory or the container engine's socket): mount a dedicated directory such as /etc/letsencrypt`;
  }
  return undefined;
}

/** A host directory bind-mounted into a container: absolute, and not the root or a system directory. */
export const hostMountPath = absolutePath.superRefine((v, ctx) => {
  const problem = mountProblem(v);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
