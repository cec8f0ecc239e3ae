/**
 * Pure renderers for Caddy: the main Caddyfile, one file per site, one fragment per
 * route. Output is what `caddy fmt` would print (tabs, one trailing newline).
 *
 * Paths inside rendered files are the paths Caddy sees (inside its container when it
 * runs in one); paths the remote primitive writes are the host's. {@link caddyPaths}
 * gives both.
 */
import { sh } from "../../remote/quote";
import { caddySize } from "../../validation/limits";
import { type CaddyLayout, type CaddyRouteSpec, type CaddyServerSpec, type CaddySiteSpec } from "./args";

const BANNER = "# Managed by pulumi-fleet. Local edits are overwritten on the next `pulumi up`.";

export interface CaddyPaths {
  readonly caddyfile: string;
  /** Site files, `<site>.caddy`. */
  readonly sitesDir: string;
  /** Route fragments, `<site>/<route>.caddy`. */
  readonly routesDir: string;
}

function pathsUnder(dir: string): CaddyPaths {
  return { caddyfile: `${dir}/Caddyfile`, sitesDir: `${dir}/sites`, routesDir: `${dir}/routes` };
}

/** Where files are written (`host`) and where Caddy reads them (`caddy`; differs in a container). */
export function caddyPaths(layout: CaddyLayout): { readonly host: CaddyPaths; readonly caddy: CaddyPaths } {
  return { host: pathsUnder(layout.configDir), caddy: pathsUnder(layout.container?.configDir ?? layout.configDir) };
}

export function caddySiteFile(paths: CaddyPaths, site: string): string {
  return `${paths.sitesDir}/${site}.caddy`;
}

export function caddyRouteDir(paths: CaddyPaths, site: string): string {
  return `${paths.routesDir}/${site}`;
}

export function caddyRouteFile(paths: CaddyPaths, site: string, route: string): string {
  return `${caddyRouteDir(paths, site)}/${route}.caddy`;
}

/**
 * A Caddyfile token: bare when it can be (as operators write `{header.Cookie}`), else
 * double-quoted: whitespace would split it and a leading `#` would start a comment.
 * Values never hold `"` or `\` (validated).
 */
function token(value: string): string {
  return value === "" || /\s/.test(value) || value.startsWith("#") ? `"${value}"` : value;
}

/** The main Caddyfile: global options, hand-kept imports, then every managed site. */
export function renderCaddyfile(spec: CaddyServerSpec, paths: CaddyPaths): string {
  const global: string[] = [];
  if (spec.email) global.push(`email ${spec.email}`);
  if (spec.admin) global.push(`admin ${spec.admin}`);
  if (spec.autoHttps) global.push(`auto_https ${spec.autoHttps}`);
  const out = [BANNER, `# Sites: ${paths.sitesDir}/*.caddy; their routes: ${paths.routesDir}/<site>/*.caddy`];
  if (global.length) out.push("{", ...global.map((l) => `\t${l}`), "}", "");
  else out.push("");
  // A glob matching nothing is fine for Caddy (a warning), so a server with no sites yet validates.
  out.push(...spec.imports.map((p) => `import ${p}`), `import ${paths.sitesDir}/*.caddy`);
  return out.join("\n") + "\n";
}

/** One site block; its routes are imported from `routes/<site>/` before the fallback. */
export function renderCaddySite(spec: CaddySiteSpec, paths: CaddyPaths): string {
  const body: string[][] = [];
  if (spec.encode.length) body.push([`encode ${spec.encode.join(" ")}`]);
  body.push([`import ${caddyRouteDir(paths, spec.site)}/*.caddy`]);
  if (spec.fallback) {
    // `handle` without a matcher sorts after every path handle, wherever it is written.
    body.push(["handle {", `\trespond "${spec.fallback.body}" ${spec.fallback.status}`, "}"]);
  }
  if (spec.log) {
    const output = ["stdout", "stderr", "discard"].includes(spec.log.output) ? spec.log.output : `file ${spec.log.output}`;
    body.push(["log {", `\toutput ${output}`, `\tformat ${spec.log.format}`, "}"]);
  }
  const lines = [
    BANNER,
    `# site: ${spec.site}; routes: ${caddyRouteDir(paths, spec.site)}/*.caddy`,
    `${spec.addresses.join(", ")} {`,
    ...body.flatMap((block, i) => [...(i ? [""] : []), ...block.map((l) => `\t${l}`)]),
    "}",
  ];
  return lines.join("\n") + "\n";
}

/** One route fragment, valid only inside its site block (which imports it). */
export function renderCaddyRoute(spec: CaddyRouteSpec, site: string): string {
  const proxy = `reverse_proxy ${spec.upstreams.join(" ")}`;
  const headers = [...spec.headerUp].sort((a, b) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : 1));
  const { limits } = spec;
  const proxyLines = [
    `${proxy} {`,
    ...headers.map((h) => `\theader_up ${h.name} ${token(h.value)}`),
    "\ttransport http {",
    `\t\tread_timeout ${limits.readTimeout}`,
    `\t\twrite_timeout ${limits.sendTimeout}`,
    "\t}",
    "}",
  ];
  const body = limits.maxBodySize === "0" ? [] : ["request_body {", `\tmax_size ${caddySize(limits.maxBodySize)}`, "}"];
  const lines = [
    BANNER,
    `# route: ${spec.route} (site: ${site})`,
    `${spec.stripPrefix ? "handle_path" : "handle"} ${spec.path} {`,
    ...[...body, ...proxyLines].map((l) => `\t${l}`),
    "}",
  ];
  return lines.join("\n") + "\n";
}

/**
 * Shell run after a route fragment is swapped in (and after a restore): refuse two
 * fragments of one site handling the same path, which Caddy would accept and serve
 * from whichever sorts first. Runs in a subshell so its `exit` never ends the caller.
 */
export function caddyRouteCheckScript(hostRouteDir: string, site: string): string {
  return (
    `( dup=$(for f in ${sh(hostRouteDir)}/*.caddy; do if [ -f "$f" ]; then grep -E '^handle(_path)? ' "$f" | cut -d' ' -f2; fi; done | sort | uniq -d); ` +
    `if [ -n "$dup" ]; then echo ${sh(`fleet: a path of site ${site} is handled by two routes:`)} $dup >&2; exit 1; fi )`
  );
}
