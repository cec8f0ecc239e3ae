/**
 * Arguments of the Caddy components. Plain data + zod; no Pulumi import.
 *
 * Layout on the host (all under `configDir`, default `/etc/caddy`):
 * ```
 * Caddyfile                 CaddyServer: global options + `import <sites>/*.caddy`
 * sites/<site>.caddy        CaddySite: one site block, importing its routes
 * routes/<site>/<route>.caddy  CaddyRoute: one `handle <path> { reverse_proxy … }` per app
 * ```
 */
import { z } from "zod";
import { type Host } from "../../remote/host";
import { type CommandTransform } from "../../remote/command";
import type * as command from "@pulumi/command";
import { routeLimitsSchema } from "../../validation/limits";
import { absolutePath, containerName, httpHeaderName, isHostname, isIpAddress, slug } from "../../validation/primitives";

// ---------------------------------------------------------------------------
// Small rules used only by Caddyfiles.

/** Split a Caddy site address: `[scheme://]host[:port]` or `:port`. */
export function isCaddySiteAddress(value: string): boolean {
  const m = /^(?:(https?):\/\/)?(\*\.)?([A-Za-z0-9.-]*|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?$/.exec(value);
  if (!m) return false;
  const host = m[3] ?? "";
  const port = m[4] === undefined ? undefined : Number(m[4]);
  if (port !== undefined && (port < 1 || port > 65535)) return false;
  if (host === "") return port !== undefined && m[2] === undefined;
  const bare = host.startsWith("[") ? host.slice(1, -1) : host;
  return isHostname(bare) || isIpAddress(bare);
}

/** A site address: `menagerie.circuitforge.tech`, `*.example.com`, `http://example.com:8080` or `:8080`. */
export const caddySiteAddress = z
  .string()
  .max(260, { error: "must be at most 260 characters" })
  .refine(isCaddySiteAddress, {
    error: "must be a site address such as app.example.com, *.example.com, http://app.example.com:8080 or :8080",
  });

/** A path matcher for `handle`: a URL path, optionally ending in `*`. */
export const caddyPathMatcher = z
  .string()
  .max(512, { error: "must be at most 512 characters" })
  .regex(/^\/[A-Za-z0-9._~/@:+,=-]*\*?$/, {
    error: "must be a path matcher such as /peregrine* or /api/ (letters, digits and . _ ~ / @ : + , = -, optionally ending in *)",
  })
  // Caddy matches the cleaned path: a matcher with a dot segment never matches.
  .refine((v) => !v.replace(/\*$/, "").split("/").some((s) => s === "." || s === ".."), { error: "must not contain '.' or '..' segments" });

/** Literal text in a Caddyfile value: no quotes (a backtick opens a Caddyfile raw string), backslashes or braces (placeholders). */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CADDY_LITERAL = /^[^\u0000-\u001f\u007f-\u009f\u2028\u2029"`\\{}]*$/;

/** Response text for `respond`: one line, rendered in double quotes. */
export const caddyText = z
  .string()
  .min(1, { error: "must not be empty" })
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(CADDY_LITERAL, {
    error: "must be one line without double quotes, backticks, backslashes or braces (Caddy would expand {placeholders})",
  });

/**
 * Placeholders a header value may use: request data only. `{env.*}` and `{file.*}` are
 * refused: a route fragment must not be able to send the proxy's environment or files upstream.
 */
const PLACEHOLDER =
  /^(header\.[A-Za-z0-9-]+|cookie\.[A-Za-z0-9_.-]+|query\.[A-Za-z0-9_.-]+|labels\.\d+|http\.request\.[a-z0-9_.]+(\.[A-Za-z0-9-]+)?|host|hostport|method|path|port|query|remote|remote_host|remote_port|scheme|uri|upstream_hostport|tls_[a-z_]+)$/;

export function isCaddyHeaderValue(value: string): boolean {
  if (value.length === 0) return false;
  // Literal runs and {placeholder}s, alternating.
  const parts = value.split(/(\{[^{}]*\})/);
  return parts.every((part, i) => (i % 2 === 1 ? PLACEHOLDER.test(part.slice(1, -1)) : CADDY_LITERAL.test(part)));
}

/** A `header_up` value: text and request placeholders such as `{header.Cookie}`. */
export const caddyHeaderValue = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .refine(isCaddyHeaderValue, {
    error:
      "must be one line of text and request placeholders such as {header.Cookie} or {remote_host} (no quotes, backticks, backslashes, {env.*} or {file.*})",
  });

/** Split an upstream `[http(s)://]host[:port]`; undefined when it is not one. */
export function parseCaddyUpstream(value: string): { scheme: string | undefined; host: string; port: number | undefined } | undefined {
  const m = /^(?:(https?):\/\/)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::(\d{1,5}))?$/.exec(value);
  if (!m) return undefined;
  const host = m[2]!;
  return { scheme: m[1], host: host.startsWith("[") ? host.slice(1, -1) : host, port: m[3] === undefined ? undefined : Number(m[3]) };
}

/** A `reverse_proxy` upstream: `http://host.docker.internal:8505`, `127.0.0.1:8505`. */
export const caddyUpstream = z
  .string()
  .max(300, { error: "must be at most 300 characters" })
  .refine(
    (v) => {
      const u = parseCaddyUpstream(v);
      return u !== undefined && (isHostname(u.host) || isIpAddress(u.host)) && (u.port === undefined || (u.port >= 1 && u.port <= 65535));
    },
    { error: "must be an upstream such as http://host.docker.internal:8505 or 127.0.0.1:8505 (no path)" },
  );

/** An ACME account e-mail. */
const email = z
  .string()
  .max(254, { error: "must be at most 254 characters" })
  .regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, { error: "must be an e-mail address such as ops@example.com" });

/** A file or glob Caddy imports: an absolute path, optionally ending in a `*` glob on the last segment. */
const importPath = z
  .string()
  .max(1024, { error: "must be at most 1024 characters" })
  .regex(/^\/[A-Za-z0-9._@+/-]*(\/[A-Za-z0-9._@+-]*\*[A-Za-z0-9._@+-]*)?$/, {
    error: "must be an absolute path as Caddy sees it, optionally with one * in the file name (e.g. /etc/caddy/legacy/*.caddy)",
  })
  .refine((v) => !v.split("/").includes(".."), { error: "must not contain '..' segments" });

// ---------------------------------------------------------------------------
// Layout.

export const caddyLayoutSchema = z.strictObject({
  /**
   * Directory on the host holding the Caddyfile, `sites/` and `routes/`.
   * @default "/etc/caddy"
   * @example "/devl/caddy-proxy"
   */
  configDir: absolutePath.default("/etc/caddy"),
  /**
   * Caddy runs in this container, with `configDir` bind-mounted at `container.configDir`.
   * Files are then rewritten in place (a single-file bind mount pins the inode), validated
   * with `docker exec <name> caddy validate` and applied with `docker restart <name>`.
   * `sites/` and `routes/` must be visible in the container: mount the directory, or
   * both subdirectories, not only the Caddyfile.
   * @default none (Caddy on the host)
   * @example { name: "caddy-proxy", configDir: "/etc/caddy" }
   */
  container: z
    .strictObject({
      name: containerName,
      /** Where the container sees `configDir`. @default "/etc/caddy" */
      configDir: absolutePath.default("/etc/caddy"),
    })
    .optional(),
});
export type CaddyLayout = z.output<typeof caddyLayoutSchema>;
export type CaddyLayoutInput = z.input<typeof caddyLayoutSchema>;

// ---------------------------------------------------------------------------
// CaddyServer: the main Caddyfile.

export const caddyServerSchema = z.strictObject({
  /** ACME account e-mail (`email` global option). @default none */
  email: email.optional(),
  /**
   * Admin endpoint: `off`, or a listen address such as `localhost:2019`.
   * Keep it on (the default) for host Caddy with `caddy reload`; a container restarted
   * on each change may turn it off. @default none (Caddy's localhost:2019)
   */
  admin: z
    .string()
    .regex(/^(off|[A-Za-z0-9.-]*:\d{1,5})$/, { error: "must be off or a listen address such as localhost:2019" })
    .optional(),
  /** `auto_https` global option. @default none (fully automatic HTTPS) */
  autoHttps: z.enum(["off", "disable_redirects", "disable_certs", "ignore_loaded_certs"]).optional(),
  /**
   * Other files to import before the managed sites, as Caddy sees them: hand-written
   * site blocks that already live in this Caddyfile, moved to their own file.
   * @default []
   */
  imports: z.array(importPath).max(64, { error: "must list at most 64 files" }).default([]),
});
export type CaddyServerSpecInput = z.input<typeof caddyServerSchema>;
export type CaddyServerSpec = z.output<typeof caddyServerSchema>;

export interface CaddyServerArgs extends CaddyServerSpecInput {
  /** The host Caddy runs on (or the Docker host of its container). */
  host: Host;
  layout?: CaddyLayoutInput;
  transform?: {
    /** The main Caddyfile command. */
    caddyfile?: CommandTransform;
  };
}

// ---------------------------------------------------------------------------
// CaddySite: one site block.

export const caddySiteSchema = z
  .strictObject({
    /**
     * Slug naming the site's file (`sites/<site>.caddy`) and its route directory
     * (`routes/<site>/`). Changing it replaces the file.
     * @example "menagerie"
     */
    site: slug,
    /** Site addresses (host names; Caddy obtains certificates for them). @example ["menagerie.circuitforge.tech"] */
    addresses: z.array(caddySiteAddress).min(1, { error: "must list at least one address" }).max(32, { error: "must list at most 32 addresses" }),
    /** `encode` formats, in order of preference. @default [] (no compression) @example ["gzip", "zstd"] */
    encode: z.array(z.enum(["gzip", "zstd"], { error: 'must be "gzip" or "zstd"' })).max(2).default([]),
    /** Answer for paths no route handles (`handle { respond … }`). @default none (an empty 200) */
    fallback: z
      .strictObject({
        /** Response body. */
        body: caddyText,
        /** Status. @default 503 */
        status: z
          .number({ error: "must be a number" })
          .int({ error: "must be an integer" })
          .min(200, { error: "must be an HTTP status between 200 and 599" })
          .max(599, { error: "must be an HTTP status between 200 and 599" })
          .default(503),
      })
      .optional(),
    /** Access log of the site. @default none (no access log) */
    log: z
      .strictObject({
        /** `stdout`, `stderr`, `discard`, or a file path as Caddy sees it. */
        output: z.string().refine((v) => ["stdout", "stderr", "discard"].includes(v) || absolutePath.safeParse(v).success, {
          error: "must be stdout, stderr, discard or an absolute file path",
        }),
        /** @default "json" */
        format: z.enum(["json", "console"]).default("json"),
      })
      .optional(),
  })
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.addresses.forEach((a, i) => {
      const k = a.toLowerCase();
      if (seen.has(k)) ctx.addIssue({ code: "custom", path: ["addresses", i], message: `duplicate address "${a}"` });
      seen.add(k);
    });
    if (new Set(v.encode).size !== v.encode.length) ctx.addIssue({ code: "custom", path: ["encode"], message: "must not repeat a format" });
  });
export type CaddySiteSpecInput = z.input<typeof caddySiteSchema>;
export type CaddySiteSpec = z.output<typeof caddySiteSchema>;

// ---------------------------------------------------------------------------
// CaddyRoute: one path of a site, routed to an app.

export const caddyHeaderUpSchema = z.strictObject({
  name: httpHeaderName,
  value: caddyHeaderValue,
});

export const caddyRouteSchema = z
  .strictObject({
    /**
     * Slug naming the fragment file (`routes/<site>/<route>.caddy`), usually the app.
     * @example "peregrine"
     */
    route: slug,
    /** Path matcher handled by this route. @example "/peregrine*" */
    path: caddyPathMatcher,
    /** Strip the matched prefix before proxying (`handle_path`). @default false (`handle`: the app sees the full path) */
    stripPrefix: z.boolean().default(false),
    /** Upstreams, load-balanced by Caddy. @example ["http://host.docker.internal:8505"] */
    upstreams: z.array(caddyUpstream).min(1, { error: "must list at least one upstream" }).max(16, { error: "must list at most 16 upstreams" }),
    /**
     * Request headers set for the upstream (`header_up NAME VALUE`).
     * @default []
     * @example [{ name: "X-CF-Session", value: "{header.Cookie}" }]
     */
    headerUp: z.array(caddyHeaderUpSchema).max(32, { error: "must list at most 32 headers" }).default([]),
    /**
     * The route's request limits: `request_body { max_size }` (a larger body is answered
     * 413) and the proxy transport's `read_timeout`/`write_timeout` towards the upstream.
     * @default { maxBodySize: "256m", readTimeout: "300s", sendTimeout: "300s" } (fits uploads)
     * @example { maxBodySize: "2g", readTimeout: "15m" }
     */
    limits: routeLimitsSchema.prefault({}),
  })
  .superRefine((v, ctx) => {
    const names = new Set<string>();
    v.headerUp.forEach((h, i) => {
      const k = h.name.toLowerCase();
      if (names.has(k)) ctx.addIssue({ code: "custom", path: ["headerUp", i, "name"], message: `duplicate header "${h.name}"` });
      names.add(k);
    });
    const ups = new Set<string>();
    v.upstreams.forEach((u, i) => {
      if (ups.has(u)) ctx.addIssue({ code: "custom", path: ["upstreams", i], message: `duplicate upstream "${u}"` });
      ups.add(u);
    });
    if (v.stripPrefix && v.path === "/*") ctx.addIssue({ code: "custom", path: ["stripPrefix"], message: "has no prefix to strip for /*; remove it" });
  });
export type CaddyRouteSpecInput = z.input<typeof caddyRouteSchema>;
export type CaddyRouteSpec = z.output<typeof caddyRouteSchema>;

// ---------------------------------------------------------------------------
// Component args (the Pulumi side). A server or site is referred to by what the args
// read of it, not by its class: this module stays below the components (no import cycle).

/** What a site reads of its CaddyServer (the class implements it). */
export interface CaddyServerRef {
  readonly host: Host;
  readonly layout: CaddyLayout;
  readonly nodes: { readonly caddyfile: command.remote.Command };
}

/** What a route reads of its CaddySite (the class implements it). */
export interface CaddySiteRef {
  readonly site: string;
  readonly host: Host;
  readonly layout: CaddyLayout;
  readonly nodes: { readonly site: command.remote.Command };
}

export interface CaddySiteArgs extends CaddySiteSpecInput {
  /**
   * The CaddyServer whose Caddyfile imports this site: gives the host and layout, and
   * orders the site after the Caddyfile. Omit when the Caddyfile is owned elsewhere
   * (another program, or by hand with `import sites/*.caddy`); then set host.
   */
  server?: CaddyServerRef;
  /** The host, when there is no server. */
  host?: Host;
  /** Where Caddy's files live, when there is no server. */
  layout?: CaddyLayoutInput;
  transform?: {
    /** The site file command. */
    site?: CommandTransform;
  };
}

export interface CaddyRouteArgs extends CaddyRouteSpecInput {
  /**
   * The site this route belongs to: a CaddySite of this program (host, layout and
   * ordering come from it), or the slug of a site managed elsewhere (then set host).
   * Changing it replaces the fragment.
   */
  site: CaddySiteRef | string;
  /** The host, when site is a slug. */
  host?: Host;
  /** Where Caddy's files live, when site is a slug. */
  layout?: CaddyLayoutInput;
  transform?: {
    /** The fragment file command. */
    fragment?: CommandTransform;
  };
}
