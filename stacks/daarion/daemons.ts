/**
 * Validate and reload commands for configs read by daemons that run in the node's
 * containers (the gateway's nginx, Prometheus, Grafana). The config directories are
 * bind-mounted, so a new file is visible inside the running container at once: it is
 * checked there with the daemon's own tool, then the daemon reloads; the primitive
 * restores the previous file when either fails. Before the container's first start
 * there is nothing to check against, and `up` starts it with the file.
 *
 * These belong in src/remote/daemons.ts beside `caddy(host, { container })`; they live
 * here until the library has them.
 */
import { type Daemon } from "../../src/remote/daemons";
import { sh } from "../../src/remote/quote";

/** Shares the compose project's lock, so a config change never races `up`. */
const LOCK = "compose-daarion";

function whenRunning(container: string, command: string, otherwise: string): string {
  return `if [ "$(docker inspect --format '{{.State.Running}}' ${sh(container)} 2>/dev/null || true)" = true ]; then ${command}; else echo ${sh(otherwise)}; fi`;
}

/** nginx in the gateway container: `nginx -t` on the whole config, then `nginx -s reload`. */
export function containerNginx(container: string): Daemon {
  return {
    lock: LOCK,
    validate: whenRunning(container, `docker exec ${sh(container)} nginx -t`, `fleet: ${container} is not running yet; nginx checks the config when it starts`),
    reload: whenRunning(container, `docker exec ${sh(container)} nginx -s reload`, `fleet: ${container} is not running yet; it reads the config when it starts`),
  };
}

/** Prometheus in its container: `promtool check config`, then SIGHUP (Prometheus reloads its config on HUP). */
export function containerPrometheus(container: string, config: string): Daemon {
  return {
    lock: LOCK,
    validate: whenRunning(container, `docker exec ${sh(container)} promtool check config ${sh(config)}`, `fleet: ${container} is not running yet; Prometheus checks the config when it starts`),
    reload: whenRunning(container, `docker kill --signal HUP ${sh(container)} >/dev/null`, `fleet: ${container} is not running yet; it reads the config when it starts`),
  };
}

/** Grafana reads provisioning files only at start: restart it when it runs. */
export function containerRestart(container: string): Daemon {
  return {
    lock: LOCK,
    reload: whenRunning(container, `docker restart ${sh(container)} >/dev/null`, `fleet: ${container} is not running yet; it reads the file when it starts`),
  };
}
