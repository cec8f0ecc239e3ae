/**
 * How Caddy's files are applied: validator and reload for host or container Caddy,
 * and the file target (in place when bind-mounted into a container). Pure.
 */
import { caddy, type Daemon } from "../../remote/daemons";
import { type Host } from "../../remote/host";
import { type FileTarget } from "../../remote/scripts";
import { type Problem, problemsFromZod } from "../../validation/errors";
import { type CaddyLayout } from "./args";
import { caddyPaths } from "./render";
import { type z } from "zod";

/**
 * `caddy validate` of the whole Caddyfile, then a reload: `systemctl reload caddy` (or
 * `caddy reload`) on the host, `docker restart <container>` in a container, where a
 * reload would re-read the stale inode of a bind-mounted Caddyfile (Peregrine seed,
 * "Caddy inode gotcha").
 */
export function caddyDaemon(host: Host, layout: CaddyLayout): Daemon {
  const config = caddyPaths(layout).caddy.caddyfile;
  return layout.container ? caddy(host.spec, { config, container: layout.container.name }) : caddy(host.spec, { config });
}

/** A Caddy file: root-owned, world-readable, rewritten in place when Caddy runs in a container. */
export function caddyTarget(path: string, layout: CaddyLayout, assemble?: string): FileTarget {
  return {
    path,
    owner: "root",
    group: "root",
    mode: "0644",
    ...(layout.container ? { inPlace: true } : {}),
    ...(assemble ? { assemble } : {}),
  };
}

/** safeParse with problems collected under `at` instead of thrown, so a component reports everything at once. */
export function collect<S extends z.ZodType>(problems: Problem[], schema: S, value: unknown, at: readonly PropertyKey[] = []): z.output<S> | undefined {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  problems.push(...problemsFromZod(r.error, at));
  return undefined;
}
