/**
 * Arguments of the HAProxy components. Plain data + zod; no Pulumi import.
 */
import { z } from "zod";
import { type Host } from "../../remote/host";
import { type CommandTransform } from "../../remote/command";
import { routeLimitsSchema } from "../../validation/limits";
import { absolutePath, domainName, hostname, oneLine, port, slug, unixName, urlPath } from "../../validation/primitives";

/**
 * A path HAProxy refuses, e.g. `/metrics`: plain segments of letters, digits and
 * `. _ ~ -` (no `%`, query, `.` or `..` segment), since the rule matches the decoded,
 * normalised path and a spelling with escapes would only hide what it denies.
 */
export const denyPath = z
  .string()
  .max(256, { error: "must be at most 256 characters" })
  .regex(/^(\/[A-Za-z0-9._~-]+)+\/?$/, { error: "must be a plain path such as /metrics: segments of letters, digits and . _ ~ - (no '%', '?', '//' or bare '/')" })
  .refine((v) => !v.split("/").some((s) => s === "." || s === ".."), { error: "must not contain '.' or '..' segments" });

export const haproxyServerSchema = z.strictObject({
  /** Server name inside the backend, e.g. `puck`. */
  name: slug,
  /** Address HAProxy connects to; DNS names resolve at runtime and never block a reload. */
  address: hostname,
  port,
});

export const haproxyRouteSchema = z
  .strictObject({
    /**
     * Backend name and fragment file name. Changing it replaces the route.
     * @example "daedalus"
     */
    backend: slug,
    /** Host headers routed to this backend (case-insensitive, port ignored). */
    domains: z.array(domainName).min(1, { error: "must list at least one domain" }).max(64),
    /** `option httpchk` request path, e.g. `/api/health`. */
    healthPath: urlPath,
    /** HTTP method for the health check. @default "GET" */
    healthMethod: z.enum(["GET", "HEAD", "OPTIONS"]).default("GET"),
    /** Status codes counted as healthy, as an `http-check expect status` rstatus. @default "^[23]" (2xx/3xx: a redirect to SSO counts as up) */
    healthStatus: z.string().regex(/^\^?[0-9[\]|()-]+\$?$/, { error: "must be a status regex such as ^[23] or ^200$" }).default("^[23]"),
    /**
     * Paths HAProxy answers 403 for (exact or as a prefix with '/'), e.g. `/metrics`
     * that the backend restricts to internal networks: behind the proxy every request
     * comes from the proxy's internal address. Matched on the decoded, normalised path
     * in any case (`/%6detrics`, `//metrics`, `/./metrics`, `/x/../metrics`, `/METRICS`
     * are refused too). @default []
     */
    denyPaths: z.array(denyPath).max(32).default([]),
    /**
     * The route's request limits: `timeout server` of the backend (the longer of
     * readTimeout and sendTimeout: HAProxy has one server-side inactivity timeout) and a
     * 413 for a request whose Content-Length exceeds maxBodySize. HAProxy streams bodies
     * and cannot bound a chunked one: the app's own server behind it bounds those.
     * @default { maxBodySize: "256m", readTimeout: "300s", sendTimeout: "300s" } (fits uploads; the shared defaults section says 60s)
     * @example { maxBodySize: "2g", readTimeout: "15m" }
     */
    limits: routeLimitsSchema.prefault({}),
    /** Backend servers. */
    servers: z.array(haproxyServerSchema).min(1, { error: "must list at least one server" }).max(64),
    /** Extra comment line at the top of the fragment. */
    description: oneLine.optional(),
  })
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.servers.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: "custom", path: ["servers", i, "name"], message: `duplicate server name "${s.name}"` });
      seen.add(s.name);
    });
    const doms = new Set<string>();
    v.domains.forEach((d, i) => {
      const k = d.toLowerCase();
      if (doms.has(k)) ctx.addIssue({ code: "custom", path: ["domains", i], message: `duplicate domain "${d}"` });
      doms.add(k);
    });
  });

export type HAProxyRouteSpecInput = z.input<typeof haproxyRouteSchema>;
export type HAProxyRouteSpec = z.output<typeof haproxyRouteSchema>;

export const haproxyLayoutSchema = z.strictObject({
  /** @default "/etc/haproxy/haproxy.cfg" */
  config: absolutePath.default("/etc/haproxy/haproxy.cfg"),
  /** Backend fragments, loaded by `-f DIR` after the main config. @default "/etc/haproxy/conf.d" */
  fragments: absolutePath.default("/etc/haproxy/conf.d"),
  /** Host-map fragments, one per route. @default "/etc/haproxy/hosts.d" */
  mapFragments: absolutePath.default("/etc/haproxy/hosts.d"),
  /** Assembled host → backend map read by the frontend. @default "/etc/haproxy/hosts.map" */
  map: absolutePath.default("/etc/haproxy/hosts.map"),
});
export type HAProxyLayout = z.output<typeof haproxyLayoutSchema>;
export const defaultHaproxyLayout: HAProxyLayout = haproxyLayoutSchema.parse({});

export interface HAProxyRouteArgs extends HAProxyRouteSpecInput {
  /** The HAProxy host (Titania). */
  host: Host;
  /** Where HAProxy's files live on the host. */
  layout?: Partial<HAProxyLayout>;
  transform?: {
    /** The command that writes both fragments (`<name>-files`). */
    files?: CommandTransform;
    /** @deprecated The fragments are one command now: applied to `files`, after `files`' own hook. */
    backend?: CommandTransform;
    /** @deprecated The fragments are one command now: applied to `files`, after `backend`. */
    map?: CommandTransform;
  };
}

export const haproxyFrontendSchema = z.strictObject({
  /** HTTP bind, e.g. `*:80`. @default ":80" */
  httpBind: z.string().regex(/^([0-9.]*|\*|\[[0-9a-f:]+\]):\d{1,5}$/, { error: "must be ADDRESS:PORT such as :80 or 10.0.0.1:80" }).default(":80"),
  /**
   * HTTPS bind with a certificate directory; omit to serve plain HTTP only.
   * @example { bind: ":443", certDir: "/etc/haproxy/certs" }
   */
  https: z
    .strictObject({
      bind: z.string().regex(/^([0-9.]*|\*|\[[0-9a-f:]+\]):\d{1,5}$/, { error: "must be ADDRESS:PORT such as :443" }).default(":443"),
      certDir: absolutePath,
      /** Redirect plain HTTP to HTTPS. @default true */
      redirect: z.boolean().default(true),
    })
    .optional(),
  /** Nameservers for runtime resolution of backend names; `parse-resolv-conf` when empty. */
  nameservers: z.array(z.strictObject({ address: hostname, port: port.default(53) })).max(8).default([]),
  /** Stats/admin socket path. @default "/run/haproxy/admin.sock" */
  adminSocket: absolutePath.default("/run/haproxy/admin.sock"),
  /** Run as this user after binding (omit in containers/test hosts). @default "haproxy" */
  user: unixName.nullable().default("haproxy"),
  /** Daemonize and chroot like Debian's default config. @default true */
  chroot: z.boolean().default(true),
});
export type HAProxyFrontendSpecInput = z.input<typeof haproxyFrontendSchema>;
export type HAProxyFrontendSpec = z.output<typeof haproxyFrontendSchema>;

export interface HAProxyFrontendArgs extends HAProxyFrontendSpecInput {
  host: Host;
  layout?: Partial<HAProxyLayout>;
  transform?: { config?: CommandTransform };
}
