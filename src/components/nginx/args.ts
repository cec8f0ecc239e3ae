/**
 * Arguments of the nginx components. Plain data + zod; no Pulumi import.
 *
 * Every value here lands in an nginx config file that is shared with other sites
 * (everything in `conf.d/` is one `http {}` context), so the rules are strict: no
 * whitespace, quotes, `;`, braces or `$` where nginx would read them as syntax.
 */
import { z } from "zod";
import { type Host } from "../../remote/host";
import { type CommandTransform } from "../../remote/command";
import { routeLimitsSchema } from "../../validation/limits";
import { absolutePath, cidr, httpHeaderName, isHostname, isIpAddress, port, slug } from "../../validation/primitives";

// ---------------------------------------------------------------------------
// Small rules used only by nginx configs.

/** Characters allowed in a location path: a plain URL path nginx compares to the decoded URI. */
const LOCATION_CHARS = "A-Za-z0-9._~/@:+,=-";
const LOCATION_RE = new RegExp(`^(= )?/[${LOCATION_CHARS}]*$`);

/**
 * A location: a URL prefix such as `/api/`, or `= /exact` for an exact match.
 * @example "/api/"
 * @example "= /health"
 */
export const nginxLocationPath = z
  .string()
  .max(512, { error: "must be at most 512 characters" })
  .regex(LOCATION_RE, {
    error: "must be a URL prefix such as /api/ or an exact match such as = /health (letters, digits and . _ ~ / @ : + , = - only)",
  })
  // nginx resolves dot segments before it matches, so a location with one never matches.
  .refine((v) => !v.replace(/^= /, "").split("/").some((s) => s === "." || s === ".."), { error: "must not contain '.' or '..' segments (nginx resolves them before matching)" });

/** An nginx size such as `10m`, `512k` or `0` (no limit). */
export const nginxSize = z.string().regex(/^\d{1,9}[kKmMgG]?$/, { error: "must be an nginx size such as 10m, 512k or 0" });

/** An nginx duration such as `60s`, `5m` or `1h`. */
export const nginxDuration = z.string().regex(/^[1-9]\d{0,8}(ms|s|m|h|d)$/, { error: "must be a duration such as 60s, 5m or 1h" });

/** A `limit_req` rate: requests per second or per minute. */
export const nginxRate = z.string().regex(/^[1-9]\d{0,8}r\/[sm]$/, { error: "must be a request rate such as 10r/s or 300r/m" });

/**
 * A header value for `proxy_set_header`: literal text and nginx variables (`$host`,
 * `${scheme}`), rendered inside double quotes. An empty value removes the header upstream.
 */
export const nginxHeaderValue = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .refine((v) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029"\\]/.test(v), {
    error: "must be one line without double quotes or backslashes",
  })
  .refine((v) => /^([^$]|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})*$/.test(v), {
    error: "must use '$' only to start an nginx variable such as $host or ${scheme}",
  });

/**
 * Fixed response text for `return`: one line. Quotes and backslashes are escaped when
 * rendered; `$` is refused because nginx would expand it as a variable.
 */
export const nginxReturnText = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .refine((v) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029$]/.test(v), {
    error: "must be one line without '$' (nginx would expand it as a variable)",
  });

/** `server_name` entries: DNS names, `*.example.com`, `example.*`, or `_` (catch-all). */
export const nginxServerName = z
  .string()
  .max(253, { error: "must be at most 253 characters" })
  .refine(
    (v) => v === "_" || isHostname(v) || (v.startsWith("*.") && isHostname(v.slice(2))) || (v.endsWith(".*") && isHostname(v.slice(0, -2))),
    { error: "must be a DNS name, *.example.com, example.* or _ (no regex names)" },
  );

/** An upstream URL: `http(s)://HOST[:PORT][/PATH]`; `ws(s)://` is accepted for WebSocket locations. */
const PROXY_URL = /^(https?|wss?):\/\/([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?(\/[A-Za-z0-9._~/@:+,=-]*)?$/;

export interface ParsedProxyUrl {
  /** `http` or `https` (WebSocket schemes map to these). */
  readonly scheme: "http" | "https";
  readonly websocketScheme: boolean;
  /** Host name or IP literal (IPv6 without brackets). */
  readonly host: string;
  readonly port: number | undefined;
  /** URI part, e.g. `/living-map/`; undefined when the URL has none (the request URI is passed as is). */
  readonly path: string | undefined;
}

/** Split a proxyPass URL already accepted by {@link nginxProxyUrl}. */
export function parseProxyUrl(url: string): ParsedProxyUrl {
  const parsed = tryParseProxyUrl(url);
  if (!parsed) throw new Error(`not a proxy URL: ${JSON.stringify(url)}`);
  return parsed;
}

/** Split a proxyPass URL; undefined when it is not one. */
export function tryParseProxyUrl(url: string): ParsedProxyUrl | undefined {
  const m = PROXY_URL.exec(url);
  if (!m) return undefined;
  const scheme = m[1]!;
  const rawHost = m[2]!;
  return {
    scheme: scheme === "https" || scheme === "wss" ? "https" : "http",
    websocketScheme: scheme.startsWith("ws"),
    host: rawHost.startsWith("[") ? rawHost.slice(1, -1) : rawHost,
    port: m[3] === undefined ? undefined : Number(m[3]),
    path: m[4],
  };
}

export const nginxProxyUrl = z
  .string()
  .max(2048, { error: "must be at most 2048 characters" })
  .regex(PROXY_URL, {
    error: "must be http://HOST[:PORT][/PATH] or https://… (ws:// and wss:// for WebSocket locations), without spaces, quotes, '$' or query",
  })
  .refine(
    (v) => {
      const u = tryParseProxyUrl(v);
      if (!u) return true; // the regex above already reported it
      const hostOk = isIpAddress(u.host) || isHostname(u.host);
      return hostOk && (u.port === undefined || (u.port >= 1 && u.port <= 65535));
    },
    { error: "must name a valid host (DNS name or IP address) and a port between 1 and 65535" },
  );

/** Split a resolver address `IP`, `IPv4:PORT` or `[IPv6]:PORT`. */
export function parseResolverAddress(value: string): { ip: string; port: number | undefined } | undefined {
  const v6 = /^\[([0-9A-Fa-f:]+)\](?::(\d{1,5}))?$/.exec(value);
  if (v6) return { ip: v6[1]!, port: v6[2] === undefined ? undefined : Number(v6[2]) };
  const v4 = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(value);
  if (v4) return { ip: v4[1]!, port: v4[2] === undefined ? undefined : Number(v4[2]) };
  if (value.includes(":")) return { ip: value, port: undefined };
  return undefined;
}

/** A DNS server for nginx's runtime `resolver`: `IP`, `IPv4:PORT` or `[IPv6]:PORT`. */
const resolverAddress = z.string().refine(
  (v) => {
    const a = parseResolverAddress(v);
    return a !== undefined && isIpAddress(a.ip) && (a.port === undefined || (a.port >= 1 && a.port <= 65535));
  },
  { error: "must be a DNS server address: an IP such as 127.0.0.11 (Docker's embedded DNS), IP:PORT or [IPv6]:PORT" },
);

/** A log target: an absolute path or `off`. */
const logTarget = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .refine((v) => v === "off" || absolutePath.safeParse(v).success, {
    error: "must be \"off\" or an absolute path of letters, digits and . _ @ + - /",
  });

/** A file name for `index`. */
const indexFile = z
  .string()
  .max(255, { error: "must be at most 255 characters" })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, { error: "must be a file name of letters, digits and . _ -" });

/** A name for a `log_format` defined elsewhere in the http context. */
const logFormatName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: "must be a log_format name such as combined" });

// ---------------------------------------------------------------------------
// Schemas.

export const nginxRateLimitSchema = z.strictObject({
  /** Requests per second or minute per client address. @example "10r/s" */
  rate: nginxRate,
  /** Requests queued above the rate before 503s. @default 0 */
  burst: z
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .min(0, { error: "must be 0 or more" })
    .max(1_000_000, { error: "must be at most 1000000" })
    .default(0),
  /** Serve the burst immediately instead of pacing it. @default false */
  nodelay: z.boolean().default(false),
  /**
   * Share one zone between locations (e.g. every `/api/<service>/` counts against one
   * `api` budget, as the DAARION standard's `zone=api_limit` does). Locations naming the
   * same zone must use the same rate. The zone is `<site>_<zone>`; unnamed zones are
   * `<site>_<n>` (n = the location's position in the rendered file).
   * @default none (a zone of its own)
   */
  zone: slug.optional(),
});

export const nginxHeaderSchema = z.strictObject({
  name: httpHeaderName,
  value: nginxHeaderValue,
});

export const nginxStaticSchema = z.strictObject({
  /** `root` for this location (the URI is appended). @default the site's root */
  root: absolutePath.optional(),
  /** `alias` for this location (the location prefix is replaced). Mutually exclusive with root. */
  alias: absolutePath.optional(),
});

export const nginxLocationSchema = z.strictObject({
  /** URL prefix, or `= /exact`. @example "/api/" */
  path: nginxLocationPath,
  /**
   * Upstream URL. With a path, the matched prefix is replaced by it (nginx semantics:
   * `/api/auth/x` → `http://auth-service:7011/` + `x`); without one the request URI is
   * passed unchanged.
   * @example "http://127.0.0.1:8000"
   */
  proxyPass: nginxProxyUrl.optional(),
  /** Proxy WebSocket upgrades: HTTP/1.1, Upgrade/Connection headers, long read timeout. @default false */
  websocket: z.boolean().default(false),
  /** Upstream read/send timeout. @default "3600s" for WebSocket locations, nginx's 60s otherwise */
  readTimeout: nginxDuration.optional(),
  /** Only these IPv4 addresses/CIDRs may use the location (`allow …; deny all;`). @default none (open) */
  allow: z.array(cidr).max(64, { error: "must list at most 64 networks" }).optional(),
  /** Per-client request rate limit (`limit_req`). */
  rateLimit: nginxRateLimitSchema.optional(),
  /**
   * Headers set on the upstream request, in addition to (or overriding) Host,
   * X-Real-IP, X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host.
   */
  headers: z.array(nginxHeaderSchema).max(64, { error: "must list at most 64 headers" }).default([]),
  /** `client_max_body_size` for this location. @example "50m" */
  clientMaxBodySize: nginxSize.optional(),
  /** Answer with this status instead of proxying or serving files. @example 204 */
  returnStatus: z
    .number({ error: "must be a number" })
    .int({ error: "must be an integer" })
    .min(200, { error: "must be an HTTP status between 200 and 599" })
    .max(599, { error: "must be an HTTP status between 200 and 599" })
    .optional(),
  /** Body (or, for 301/302/303/307/308, the redirect URL) sent with returnStatus. */
  returnBody: nginxReturnText.optional(),
  /** Content type of returnBody. @default "text/plain" */
  returnContentType: z
    .string()
    .regex(/^[a-z]+\/[a-z0-9.+-]+$/, { error: "must be a media type such as text/plain or application/json" })
    .optional(),
  /** Serve files from disk (the site's root unless root/alias is given here). */
  static: nginxStaticSchema.optional(),
});

export const nginxResolverSchema = z.strictObject({
  /** DNS servers nginx asks at request time. @default ["127.0.0.11"] (Docker's embedded DNS) */
  addresses: z
    .array(resolverAddress)
    .min(1, { error: "must list at least one DNS server" })
    .max(8, { error: "must list at most 8 DNS servers" })
    .default(["127.0.0.11"]),
  /** How long answers are cached, overriding the record TTL. @default "10s" */
  valid: nginxDuration.default("10s"),
  /** Ask for AAAA records too. @default false */
  ipv6: z.boolean().default(false),
});

export const nginxSiteSchema = z
  .strictObject({
    /**
     * The site's slug: the file `conf.d/<site>.conf` and the prefix of its zone and map
     * names, so two sites never collide in the shared http context. Changing it replaces the file.
     * @example "daedalus"
     */
    site: slug,
    /** Port nginx listens on. @example 22181 */
    listen: port,
    /** Address to bind the port on. @default none (all addresses) */
    address: z
      .string()
      .refine((v) => isIpAddress(v), { error: "must be an IPv4 or IPv6 address to listen on, e.g. 127.0.0.1" })
      .optional(),
    /** Mark this server as the default for its address:port. @default false */
    defaultServer: z.boolean().default(false),
    /** `server_name` values. @default none (nginx's default, the empty name) */
    serverNames: z.array(nginxServerName).max(64, { error: "must list at most 64 names" }).default([]),
    /** Directory static files are served from. @example "/srv/daedalus/frontend/build" */
    root: absolutePath.optional(),
    /** Serve `/index.html` for paths with no file (single-page app routing). Needs root. @default false */
    spa: z.boolean().default(false),
    /** `index` files. @default ["index.html"] */
    index: z.array(indexFile).min(1, { error: "must list at least one file" }).max(8).default(["index.html"]),
    /** Locations (prefix or exact). Order does not matter to nginx; the file lists them sorted. */
    locations: z.array(nginxLocationSchema).max(256, { error: "must list at most 256 locations" }).default([]),
    /**
     * Resolve upstream host names at request time through these DNS servers instead of
     * once at startup. Needed for a gateway in front of containers: `nginx -t` and nginx
     * start fail outright when any upstream name does not resolve, and a recreated
     * container's new address is never picked up. IP literals and `localhost` stay static.
     * @default none (names resolve once, at start and reload, through the system resolver)
     */
    resolver: nginxResolverSchema.optional(),
    /**
     * Pass on the X-Forwarded-Proto sent by the proxy in front (HAProxy terminating TLS),
     * falling back to this server's scheme when absent. Only for servers reached solely
     * through that proxy. @default false (always this server's own scheme)
     */
    trustForwardedProto: z.boolean().default(false),
    /**
     * The site's request limits: `client_max_body_size`, `proxy_read_timeout` and
     * `proxy_send_timeout` of the server block; a location's own `clientMaxBodySize` or
     * `readTimeout` (and a WebSocket location's hour) overrides them there.
     * @default { maxBodySize: "256m", readTimeout: "300s", sendTimeout: "300s" } (fits uploads; nginx's own default body limit is 1m)
     * @example { maxBodySize: "2g", readTimeout: "15m" }
     */
    limits: routeLimitsSchema.prefault({}),
    /** `access_log` path or `off`. @default none (the http context's) */
    accessLog: logTarget.optional(),
    /** `log_format` name for accessLog. @default none (combined) */
    accessLogFormat: logFormatName.optional(),
    /** `error_log` path. @default none (the http context's) */
    errorLog: absolutePath.optional(),
    /** `error_log` level. @default "error" */
    errorLogLevel: z.enum(["debug", "info", "notice", "warn", "error", "crit", "alert", "emerg"]).optional(),
  })
  .superRefine((v, ctx) => {
    const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: "custom", path, message });

    if (v.spa && !v.root) issue(["spa"], "needs root: set root to the directory of the built app, or remove spa");
    if (v.locations.length === 0 && !v.root) issue(["locations"], "must list at least one location, or set root to serve static files");
    if (v.accessLogFormat && (v.accessLog === undefined || v.accessLog === "off")) {
      issue(["accessLogFormat"], "needs accessLog set to a path");
    }
    if (v.errorLogLevel && !v.errorLog) issue(["errorLogLevel"], "needs errorLog set to a path");

    const paths = new Map<string, number>();
    const zones = new Map<string, { rate: string; index: number }>();
    v.locations.forEach((loc, i) => {
      const at = (...rest: PropertyKey[]) => ["locations", i, ...rest];
      const first = paths.get(loc.path);
      if (first !== undefined) issue(at("path"), `duplicate location "${loc.path}" (also locations/${first}); merge them`);
      else paths.set(loc.path, i);
      if (loc.path === "/" && v.root && v.spa) {
        issue(at("path"), "\"/\" is already served by root with spa: true; remove spa or this location");
      }

      const kinds = [loc.proxyPass !== undefined, loc.returnStatus !== undefined, loc.static !== undefined].filter(Boolean).length;
      if (kinds !== 1) issue(at(), "must set exactly one of proxyPass, returnStatus or static");

      if (loc.proxyPass === undefined) {
        if (loc.websocket) issue(at("websocket"), "needs proxyPass");
        if (loc.readTimeout) issue(at("readTimeout"), "needs proxyPass");
        if (loc.headers.length) issue(at("headers"), "needs proxyPass");
      } else {
        const u = tryParseProxyUrl(loc.proxyPass);
        if (u?.websocketScheme && !loc.websocket) issue(at("proxyPass"), "uses ws:// or wss://: set websocket: true, or use http:// or https://");
      }
      if (loc.returnBody !== undefined && loc.returnStatus === undefined) issue(at("returnBody"), "needs returnStatus");
      if (loc.returnContentType !== undefined && loc.returnBody === undefined) issue(at("returnContentType"), "needs returnBody");
      if (loc.returnStatus !== undefined && [301, 302, 303, 307, 308].includes(loc.returnStatus) && !loc.returnBody) {
        issue(at("returnBody"), `is required for a ${loc.returnStatus} redirect: the URL to redirect to`);
      }

      if (loc.static) {
        if (loc.static.root && loc.static.alias) issue(at("static"), "must set root or alias, not both");
        if (!loc.static.root && !loc.static.alias && !v.root) issue(at("static"), "needs a directory: set static.root, static.alias or the site's root");
        if (loc.static.alias) {
          if (loc.path.startsWith("= ")) {
            // An exact location maps one URI to one file; fine either way.
          } else if (loc.path.endsWith("/") !== loc.static.alias.endsWith("/")) {
            // `location /static { alias /srv/static/; }` serves /static../etc: keep both slashed or neither.
            issue(at("static", "alias"), "must end with '/' exactly when the location path does (otherwise /prefix../ escapes the directory)");
          }
        }
      }

      const lowerNames = new Set<string>();
      loc.headers.forEach((h, j) => {
        const k = h.name.toLowerCase();
        if (lowerNames.has(k)) issue(at("headers", j, "name"), `duplicate header "${h.name}"`);
        lowerNames.add(k);
        if (loc.websocket && (k === "upgrade" || k === "connection")) {
          issue(at("headers", j, "name"), `"${h.name}" is set by websocket: true; remove it`);
        }
      });

      if (loc.rateLimit?.zone) {
        const z0 = zones.get(loc.rateLimit.zone);
        if (z0 && z0.rate !== loc.rateLimit.rate) {
          issue(at("rateLimit", "rate"), `must equal the rate of zone "${loc.rateLimit.zone}" at locations/${z0.index} (${z0.rate}); a zone has one rate`);
        } else if (!z0) zones.set(loc.rateLimit.zone, { rate: loc.rateLimit.rate, index: i });
      }
    });
  });

export type NginxLocationSpec = z.output<typeof nginxLocationSchema>;
export type NginxRateLimitSpec = z.output<typeof nginxRateLimitSchema>;
export type NginxResolverSpec = z.output<typeof nginxResolverSchema>;
export type NginxSiteSpecInput = z.input<typeof nginxSiteSchema>;
export type NginxSiteSpec = z.output<typeof nginxSiteSchema>;

export const nginxLayoutSchema = z.strictObject({
  /**
   * Directory whose `*.conf` the main nginx.conf includes in the http context
   * (Debian: `include /etc/nginx/conf.d/*.conf;`). @default "/etc/nginx/conf.d"
   */
  confDir: absolutePath.default("/etc/nginx/conf.d"),
});
export type NginxLayout = z.output<typeof nginxLayoutSchema>;
export type NginxLayoutInput = z.input<typeof nginxLayoutSchema>;

export interface NginxSiteArgs extends NginxSiteSpecInput {
  /** The host nginx runs on (e.g. Puck, or the DAARION gateway node). */
  host: Host;
  /** Where nginx's per-site files live on the host. */
  layout?: NginxLayoutInput;
  transform?: {
    /** The site file command. */
    config?: CommandTransform;
  };
}
