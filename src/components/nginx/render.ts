/**
 * Pure renderer for an nginx site file (`conf.d/<site>.conf`): the http-level zones
 * and maps the site needs, then its `server {}` block. Deterministic: locations sorted,
 * one trailing newline, no timestamps.
 *
 * Everything in `conf.d/` shares one http context, so every http-level name this file
 * defines starts with the site: `limit_req` zones are `<site>_<zone|n>` (the slug has no
 * `_`, so the first `_` ends the site part and two sites can never produce the same
 * zone), map variables are `$<site with - as _>_…` (slugs never contain `_`, so this
 * is one-to-one).
 */
import { nginxLimitLines } from "../../validation/limits";
import { isIpAddress } from "../../validation/primitives";
import { type NginxLocationSpec, type NginxSiteSpec, parseProxyUrl } from "./args";

const BANNER = "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.";
const I1 = "    ";
const I2 = "        ";

/** Read timeout for WebSocket locations unless one is given: an idle socket stays open an hour. */
export const WEBSOCKET_READ_TIMEOUT = "3600s";

/** The per-request variable holding the upstream host name in runtime-resolved locations. */
export const UPSTREAM_VARIABLE = "$fleet_upstream";

/** The site slug as an nginx variable-name fragment. */
export function nginxIdent(site: string): string {
  return site.replace(/-/g, "_");
}

/** Name of the `$http_upgrade` → Connection map of a site. */
export function nginxUpgradeVariable(site: string): string {
  return `$${nginxIdent(site)}_connection_upgrade`;
}

/** Name of the X-Forwarded-Proto pass-through map of a site. */
export function nginxForwardedProtoVariable(site: string): string {
  return `$${nginxIdent(site)}_forwarded_proto`;
}

/** Name of a `limit_req` zone: `<site>_<zone>` when shared by name, `<site>_<n>` otherwise. */
export function nginxZoneName(site: string, position: number, zone: string | undefined): string {
  return `${site}_${zone ?? position}`;
}

/** Locations in file order: by path, an exact match before the prefix of the same path. */
export function sortLocations(locations: readonly NginxLocationSpec[]): NginxLocationSpec[] {
  const key = (l: NginxLocationSpec) => (l.path.startsWith("= ") ? `${l.path.slice(2)}\u0000` : `${l.path}\u0001`);
  return [...locations].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** An nginx double-quoted string; nginx reads `\"` and `\\` back as `"` and `\`. */
function quote(text: string): string {
  return `"${text.replace(/[\\"]/g, "\\$&")}"`;
}

/** Whether a proxyPass host is resolved at request time (through the site's resolver). */
export function resolvesAtRuntime(spec: NginxSiteSpec, host: string): boolean {
  return spec.resolver !== undefined && !isIpAddress(host) && host !== "localhost";
}

interface Zone {
  readonly name: string;
  readonly rate: string;
}

function zonesOf(spec: NginxSiteSpec, sorted: readonly NginxLocationSpec[]): { zones: Zone[]; byLocation: Map<NginxLocationSpec, string> } {
  const zones: Zone[] = [];
  const seen = new Set<string>();
  const byLocation = new Map<NginxLocationSpec, string>();
  sorted.forEach((loc, i) => {
    if (!loc.rateLimit) return;
    const name = nginxZoneName(spec.site, i + 1, loc.rateLimit.zone);
    byLocation.set(loc, name);
    if (!seen.has(name)) {
      seen.add(name);
      zones.push({ name, rate: loc.rateLimit.rate });
    }
  });
  return { zones, byLocation };
}

function proxyHeaders(spec: NginxSiteSpec, loc: NginxLocationSpec): [string, string][] {
  const proto = spec.trustForwardedProto ? nginxForwardedProtoVariable(spec.site) : "$scheme";
  const headers: [string, string][] = [
    ["Host", "$host"],
    ["X-Real-IP", "$remote_addr"],
    ["X-Forwarded-For", "$proxy_add_x_forwarded_for"],
    ["X-Forwarded-Proto", proto],
    ["X-Forwarded-Host", "$host"],
  ];
  const extra = [...loc.headers].sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
  for (const h of extra) {
    const at = headers.findIndex(([n]) => n.toLowerCase() === h.name.toLowerCase());
    if (at >= 0) headers[at] = [h.name, h.value];
    else headers.push([h.name, h.value]);
  }
  if (loc.websocket) headers.push(["Upgrade", "$http_upgrade"], ["Connection", nginxUpgradeVariable(spec.site)]);
  return headers;
}

function proxyLines(spec: NginxSiteSpec, loc: NginxLocationSpec, proxyPass: string): string[] {
  const u = parseProxyUrl(proxyPass);
  const hostInUrl = u.host.includes(":") ? `[${u.host}]` : u.host;
  const portPart = u.port === undefined ? "" : `:${u.port}`;
  const exact = loc.path.startsWith("= ");
  const prefix = exact ? loc.path.slice(2) : loc.path;
  const lines: string[] = [];
  if (resolvesAtRuntime(spec, u.host)) {
    // A variable in proxy_pass makes nginx resolve the name per request through
    // `resolver` (so `nginx -t`/start never fail on a container that is not up yet, and a
    // recreated container's new address is picked up). With a variable, nginx no longer
    // replaces the location prefix by the URL's path itself, so the rewrite does exactly
    // that, and proxy_redirect restores the Location rewriting `default` would have done.
    lines.push(`set ${UPSTREAM_VARIABLE} ${u.host};`);
    if (u.path !== undefined) {
      lines.push(exact ? `rewrite ^${escapeRegex(prefix)}$ ${u.path} break;` : `rewrite ^${escapeRegex(prefix)}(.*)$ ${u.path}$1 break;`);
    }
    lines.push(`proxy_pass ${u.scheme}://${UPSTREAM_VARIABLE}${portPart};`);
    lines.push(
      u.path !== undefined
        ? `proxy_redirect ${u.scheme}://${hostInUrl}${portPart}${u.path} ${prefix};`
        : `proxy_redirect ${u.scheme}://${hostInUrl}${portPart}/ /;`,
    );
  } else {
    lines.push(`proxy_pass ${u.scheme}://${hostInUrl}${portPart}${u.path ?? ""};`);
  }
  if (loc.websocket) lines.push("proxy_http_version 1.1;");
  // A TLS upstream by name: send SNI, which nginx leaves off by default.
  if (u.scheme === "https" && !isIpAddress(u.host)) lines.push("proxy_ssl_server_name on;");
  for (const [name, value] of proxyHeaders(spec, loc)) {
    // A lone variable reads best bare (as operators write it); anything else is quoted.
    lines.push(`proxy_set_header ${name} ${/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(value) ? value : quote(value)};`);
  }
  const timeout = loc.readTimeout ?? (loc.websocket ? WEBSOCKET_READ_TIMEOUT : undefined);
  if (timeout) lines.push(`proxy_read_timeout ${timeout};`, `proxy_send_timeout ${timeout};`);
  return lines;
}

function locationBlock(spec: NginxSiteSpec, loc: NginxLocationSpec, zone: string | undefined): string[] {
  const body: string[] = [];
  if (loc.allow) body.push(...loc.allow.map((c) => `allow ${c};`), "deny all;");
  if (loc.rateLimit && zone) {
    body.push(`limit_req zone=${zone}${loc.rateLimit.burst > 0 ? ` burst=${loc.rateLimit.burst}` : ""}${loc.rateLimit.nodelay ? " nodelay" : ""};`);
  }
  if (loc.clientMaxBodySize) body.push(`client_max_body_size ${loc.clientMaxBodySize};`);
  if (loc.proxyPass !== undefined) body.push(...proxyLines(spec, loc, loc.proxyPass));
  if (loc.static) {
    if (loc.static.root) body.push(`root ${loc.static.root};`);
    if (loc.static.alias) body.push(`alias ${loc.static.alias};`);
    if (!loc.static.root && !loc.static.alias) body.push("# files from the site's root");
  }
  if (loc.returnStatus !== undefined) {
    const redirect = [301, 302, 303, 307, 308].includes(loc.returnStatus);
    if (loc.returnBody !== undefined && !redirect) body.push(`default_type ${loc.returnContentType ?? "text/plain"};`);
    body.push(loc.returnBody !== undefined ? `return ${loc.returnStatus} ${quote(loc.returnBody)};` : `return ${loc.returnStatus};`);
  }
  return [`${I1}location ${loc.path} {`, ...body.map((l) => `${I2}${l}`), `${I1}}`];
}

function listenLine(spec: NginxSiteSpec): string {
  const addr = spec.address === undefined ? "" : spec.address.includes(":") ? `[${spec.address}]:` : `${spec.address}:`;
  return `listen ${addr}${spec.listen}${spec.defaultServer ? " default_server" : ""};`;
}

/** The whole `conf.d/<site>.conf`. */
export function renderNginxSite(spec: NginxSiteSpec): string {
  const sorted = sortLocations(spec.locations);
  const { zones, byLocation } = zonesOf(spec, sorted);
  const http: string[] = [];
  for (const z of zones) http.push(`limit_req_zone $binary_remote_addr zone=${z.name}:10m rate=${z.rate};`);
  if (sorted.some((l) => l.websocket)) {
    http.push(`map $http_upgrade ${nginxUpgradeVariable(spec.site)} {`, `${I1}default upgrade;`, `${I1}'' close;`, "}");
  }
  if (spec.trustForwardedProto) {
    http.push(
      `map $http_x_forwarded_proto ${nginxForwardedProtoVariable(spec.site)} {`,
      `${I1}default $http_x_forwarded_proto;`,
      `${I1}'' $scheme;`,
      "}",
    );
  }

  const server: string[] = [listenLine(spec)];
  if (spec.serverNames.length) server.push(`server_name ${spec.serverNames.join(" ")};`);
  if (spec.root) server.push(`root ${spec.root};`, `index ${spec.index.join(" ")};`);
  server.push(...nginxLimitLines(spec.limits));
  if (spec.accessLog !== undefined) server.push(`access_log ${spec.accessLog}${spec.accessLogFormat ? ` ${spec.accessLogFormat}` : ""};`);
  if (spec.errorLog !== undefined) server.push(`error_log ${spec.errorLog}${spec.errorLogLevel ? ` ${spec.errorLogLevel}` : ""};`);
  if (spec.resolver) {
    // A bare IPv6 address needs brackets in nginx; IP:PORT and [IPv6]:PORT are written as given.
    const addrs = spec.resolver.addresses.map((a) => (a.includes(":") && !a.startsWith("[") && !/^[0-9.]+:\d+$/.test(a) ? `[${a}]` : a));
    server.push(`resolver ${addrs.join(" ")} valid=${spec.resolver.valid} ipv6=${spec.resolver.ipv6 ? "on" : "off"};`, "resolver_timeout 5s;");
  }

  const locations: string[] = [];
  if (spec.root && !sorted.some((l) => l.path === "/")) {
    locations.push(`${I1}location / {`, `${I2}try_files $uri $uri/ ${spec.spa ? "/index.html" : "=404"};`, `${I1}}`);
  }
  for (const loc of sorted) {
    if (locations.length) locations.push("");
    locations.push(...locationBlock(spec, loc, byLocation.get(loc)));
  }

  const out = [BANNER, `# site: ${spec.site}`];
  if (http.length) out.push("", ...http);
  out.push("", "server {", ...server.map((l) => `${I1}${l}`), "", ...locations, "}");
  return out.join("\n") + "\n";
}
