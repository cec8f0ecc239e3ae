/**
 * Daemons in containers: validated and reloaded through `docker exec`/`docker kill`/
 * `docker restart` of the running container. Pure: shell text built with the quoting
 * helper. A compose project's own files are the compose component's
 * (`src/components/compose/project.ts`).
 */
import { sh } from "../quote";
import { type Daemon } from "./types";

/*
 * Daemons in containers whose config directory is bind-mounted: a new file is visible
 * inside the running container at once, so it is checked there with the daemon's own
 * tool, then the daemon reloads; the primitive restores the previous file when either
 * fails. Before the container's first start there is nothing to check against, and
 * compose `up` starts it with the file. Pass the compose project's lock (`compose-<project>`)
 * so a config change never races `up`.
 */
function whenRunning(container: string, command: string, otherwise: string): string {
  return `if [ "$(docker inspect --format '{{.State.Running}}' ${sh(container)} 2>/dev/null || true)" = true ]; then ${command}; else echo ${sh(otherwise)}; fi`;
}

/** nginx in the gateway container: `nginx -t` on the whole config, then `nginx -s reload`. */
export function containerNginx(container: string, lock = `container-${container}`): Daemon {
  return {
    lock,
    service: `nginx in ${container}`,
    checker: "nginx -t",
    validate: whenRunning(container, `docker exec ${sh(container)} nginx -t`, `fleet: ${container} is not running yet; nginx checks the config when it starts`),
    reload: whenRunning(container, `docker exec ${sh(container)} nginx -s reload`, `fleet: ${container} is not running yet; it reads the config when it starts`),
  };
}

/** Prometheus in its container: `promtool check config`, then SIGHUP (Prometheus reloads its config on HUP). */
export function containerPrometheus(container: string, config: string, lock = `container-${container}`): Daemon {
  return {
    lock,
    service: `prometheus in ${container}`,
    checker: "promtool check config",
    validate: whenRunning(container, `docker exec ${sh(container)} promtool check config ${sh(config)}`, `fleet: ${container} is not running yet; Prometheus checks the config when it starts`),
    reload: whenRunning(container, `docker kill --signal HUP ${sh(container)} >/dev/null`, `fleet: ${container} is not running yet; it reads the config when it starts`),
  };
}

/** Grafana reads provisioning files only at start: restart it when it runs. */
export function containerRestart(container: string, lock = `container-${container}`): Daemon {
  return {
    lock,
    service: container,
    reload: whenRunning(container, `docker restart ${sh(container)} >/dev/null`, `fleet: ${container} is not running yet; it reads the file when it starts`),
  };
}

/**
 * Caddy in a container (e.g. `caddy-proxy`): validation runs in it and the reload is a
 * restart, since a bind-mounted Caddyfile would be re-read from a stale inode.
 */
export function containerCaddy(container: string, validate: string): Daemon {
  return {
    lock: `caddy-${container}`,
    service: `caddy in ${container}`,
    checker: "caddy validate",
    validate: `docker exec ${sh(container)} ${validate}`,
    // A restart, not `caddy reload`: a bind-mounted Caddyfile would be re-read from a stale inode.
    reload: `docker restart ${sh(container)} >/dev/null`,
  };
}
