/**
 * Pure renderers for HAProxy: the shared main config, one backend fragment per
 * route and one host-map fragment per route. Deterministic: sorted, one trailing newline.
 */
import { sh } from "../../remote/quote";
import { sizeBytes, timeoutSeconds } from "../../validation/limits";
import { type HAProxyFrontendSpec, type HAProxyLayout, type HAProxyRouteSpec } from "./args";

const BANNER = "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.";

/** The resolvers section name every fleet backend server uses. */
export const RESOLVERS = "fleet";

export function renderHaproxyBackend(route: HAProxyRouteSpec): string {
  const lines = [
    BANNER,
    `# route: ${route.backend} (${[...route.domains].sort().join(", ")})`,
    ...(route.description ? [`# ${route.description}`] : []),
    `backend ${route.backend}`,
    `    mode http`,
    `    option httpchk`,
    `    http-check send meth ${route.healthMethod} uri ${route.healthPath}`,
    `    http-check expect rstatus ${route.healthStatus}`,
    `    option forwardfor`,
    `    timeout server ${Math.max(timeoutSeconds(route.limits.readTimeout), timeoutSeconds(route.limits.sendTimeout))}s`,
    ...(route.limits.maxBodySize === "0" ? [] : [`    http-request deny deny_status 413 if { req.hdr_val(content-length) gt ${sizeBytes(route.limits.maxBodySize)} }`]),
    ...denyRules(route.denyPaths),
    `    http-request set-header X-Forwarded-Proto https if { ssl_fc }`,
    // A name that does not resolve must never block a reload (DESIGN.md seed decisions):
    // start with no address, resolve at runtime through the fleet resolvers.
    `    default-server check inter 5s fall 3 rise 2 init-addr last,libc,none resolvers ${RESOLVERS}`,
    ...[...route.servers].sort((a, b) => a.name.localeCompare(b.name)).map((s) => `    server ${s.name} ${s.address}:${s.port}`),
  ];
  return lines.join("\n") + "\n";
}

/** A path segment as a regex HAProxy reads unquoted: '.' as `[.]` (no backslashes for the config parser to eat). */
function segmentRegex(segment: string): string {
  return segment.replace(/\./g, "[.]");
}

/**
 * `http-request deny` lines that refuse each path however a client spells it. The
 * backend (nginx, uvicorn) decodes `%XX`, merges `//`, drops `/./` and resolves `/../`
 * before it matches a location, so matching the raw path lets `/%6detrics`,
 * `//metrics` or `/x/../metrics` through. The rules match the decoded path (`url_dec`)
 * with any run of empty or `.` segments before each segment, case-insensitively, up
 * to a `/`, `;` or the end; a decoded path that has a `..` segment and names the
 * path's last segment anywhere is refused too (HAProxy cannot resolve `..` without
 * the experimental `normalize-uri`), and so is a path whose encoding does not decode
 * (nginx would refuse it; we cannot judge it). `path` excludes the query string.
 */
export function denyRules(denyPaths: readonly string[]): string[] {
  if (denyPaths.length === 0) return [];
  const rules = [
    `    http-request deny deny_status 400 if { path -m sub % } !{ path,url_dec -m found }`,
    `    http-request deny deny_status 400 if { path -m sub %00 }`,
  ];
  for (const p of [...new Set(denyPaths)].sort()) {
    const segments = p.split("/").filter((s) => s !== "");
    const regex = `^${segments.map((s) => `(/[.]?)*/${segmentRegex(s)}`).join("")}([/;]|$)`;
    const last = segments[segments.length - 1]!;
    rules.push(
      `    http-request deny deny_status 403 if { path,url_dec -m reg -i ${regex} }`,
      `    http-request deny deny_status 403 if { path,url_dec -m reg (^|/)[.][.](/|$) } { path,url_dec -m sub -i ${last} }`,
    );
  }
  return rules;
}

export function renderHaproxyMapFragment(route: HAProxyRouteSpec): string {
  const lines = [...new Set(route.domains.map((d) => d.toLowerCase()))].sort().map((d) => `${d} ${route.backend}`);
  return `# route: ${route.backend}\n${lines.join("\n")}\n`;
}

/**
 * Shell that rebuilds the host map from the fragments, refusing a domain claimed by
 * two routes (HAProxy would silently use the first) and a map line naming a backend no
 * config defines. Every HAProxy file of a host runs it (the main config and each route),
 * so they share one file helper per host (one installer); it creates the fragment
 * directories and the map first, for the main config that reads the map.
 */
export function haproxyAssembleScript(layout: HAProxyLayout): string {
  const next = `${layout.map}.fleet-assemble`;
  // The positional parameters keep only the regular files among them.
  const onlyFiles = `for f in "$@"; do shift; if [ -f "$f" ]; then set -- "$@" "$f"; fi; done`;
  // A fixed number of processes whatever the number of routes, and as few as it can: this
  // runs under the host's HAProxy lock once per route file, and a grep per fragment and per
  // backend made a first deploy of N routes cost N² processes. awk reads each file on its
  // own, so a fragment without a final newline never joins the next one.
  return [
    `{ { [ -d ${sh(layout.fragments)} ] && [ -d ${sh(layout.mapFragments)} ]; } || mkdir -p ${sh(layout.fragments)} ${sh(layout.mapFragments)}; }`,
    `set -- ${sh(layout.mapFragments)}/*.map`,
    onlyFiles,
    // Identical lines once: a route upgraded from two resources has its old `<backend>.map`
    // beside its `<backend>.route.map` until the old resource's delete removes it.
    `{ if [ $# -gt 0 ]; then awk '!/^#/' "$@"; fi; } | sort -u > ${sh(next)}`,
    // One awk for both checks, over the sorted map: a domain twice (adjacent lines, two
    // backends) is reported before a backend that is not defined. haproxy -c cannot see
    // backends named through map(): check them here, or a route would validate, reload and
    // answer 503. Defined: every 'backend NAME' line of the main config and the fragments.
    `set -- ${sh(layout.config)} ${sh(layout.fragments)}/*.cfg`,
    onlyFiles,
    `problem=$(awk -v map=${sh(next)} 'FILENAME != map { if ($0 ~ /^backend[[:space:]]/) defined[$2] = 1; next } NF == 0 { next } $1 == last && dup == "" { dup = $1 } { last = $1 } !($2 in defined) && missing == "" { missing = $2 } END { if (dup != "") print "domain claimed by two routes: " dup; else if (missing != "") print "the host map routes to backend " missing ", which no config defines" }' "$@" ${sh(next)})`,
    `if [ -n "$problem" ]; then rm -f ${sh(next)}; echo "fleet: $problem" >&2; exit 1; fi`,
    // Same bytes: leave the live map (and its mtime) alone.
    `if cmp -s ${sh(next)} ${sh(layout.map)}; then rm -f ${sh(next)}; else chmod 0644 ${sh(next)} && mv -f ${sh(next)} ${sh(layout.map)}; fi`,
  ].join(" && ");
}

export function renderHaproxyMain(spec: HAProxyFrontendSpec, layout: HAProxyLayout): string {
  const global = [
    "global",
    "    log /dev/log local0",
    "    log /dev/log local1 notice",
    `    stats socket ${spec.adminSocket} mode 660 level admin`,
    "    stats timeout 30s",
    ...(spec.chroot ? ["    chroot /var/lib/haproxy"] : []),
    ...(spec.user ? [`    user ${spec.user}`, `    group ${spec.user}`] : []),
    ...(spec.https
      ? [
          "    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
          "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        ]
      : []),
  ];
  const defaults = [
    "defaults",
    "    log global",
    "    mode http",
    "    option httplog",
    "    option dontlognull",
    "    timeout connect 5s",
    "    timeout client 60s",
    "    timeout server 60s",
    "    timeout tunnel 1h",
  ];
  const resolvers = [
    `resolvers ${RESOLVERS}`,
    ...(spec.nameservers.length
      ? spec.nameservers.map((n, i) => `    nameserver ns${i + 1} ${n.address}:${n.port}`)
      : ["    parse-resolv-conf"]),
    "    resolve_retries 3",
    "    timeout resolve 1s",
    "    timeout retry 1s",
    "    hold valid 10s",
    // Keep the last good address when DNS fails or times out: a resolver outage
    // must not put every name-addressed server into maintenance.
    "    hold nx 30s",
    "    hold other 1h",
    "    hold refused 1h",
    "    hold timeout 1h",
    "    hold obsolete 30s",
  ];
  const route = `    use_backend %[req.hdr(host),lower,word(1,:),map(${layout.map})] if { req.hdr(host),lower,word(1,:),map(${layout.map}) -m found }`;
  const frontends: string[] = [];
  if (spec.https) {
    frontends.push(
      "frontend http",
      `    bind ${spec.httpBind}`,
      ...(spec.https.redirect ? ["    http-request redirect scheme https code 301"] : [route, "    default_backend fleet_no_route"]),
      "",
      "frontend https",
      `    bind ${spec.https.bind} ssl crt ${spec.https.certDir} alpn h2,http/1.1`,
      "    http-request set-header X-Forwarded-Proto https",
      route,
      "    default_backend fleet_no_route",
    );
  } else {
    frontends.push("frontend http", `    bind ${spec.httpBind}`, route, "    default_backend fleet_no_route");
  }
  const noRoute = ["backend fleet_no_route", '    http-request return status 503 content-type text/plain string "no route for this host\\n"'];
  return [BANNER, "# Routes live in " + layout.fragments + " (backends) and " + layout.mapFragments + " (host map).", "", ...global, "", ...defaults, "", ...resolvers, "", ...frontends, "", ...noRoute].join("\n") + "\n";
}
