/**
 * Stand-in images for the apps' compose files (no public registry is reachable): busybox
 * programs under the image names the stacks use, answering the health paths and the
 * subcommands the compose files and tasks call, plus a real nginx (Debian's binary and
 * its libraries) wherever a compose file runs nginx with a mounted config.
 */
import { type StandIn, withLibraries } from "./images";

/** `curl [-f] [options] URL` through busybox wget, which fails on HTTP errors as `curl -f` does. */
export const CURL = `#!/bin/sh
# curl stand-in (tests): fetch the last argument, fail on an HTTP error (like curl -f).
for a; do url=$a; done
exec wget -q -O /dev/null "$url"
`;

/** A busybox httpd as PID 1 that stops on SIGTERM (docker stop) instead of waiting for SIGKILL. */
function serve(port: number, root: string): string {
  return `httpd -f -v -p ${port} -h ${root} & pid=$!; trap 'kill $pid; exit 0' TERM INT; wait $pid`;
}

/**
 * Debian's nginx with the libraries it links, a minimal nginx.conf including conf.d/*.conf;
 * `curl: false` builds it without curl or wget (a compose file must not assume them).
 */
export function realNginx(opts: { readonly curl?: boolean } = {}): StandIn {
  const curl = opts.curl !== false;
  return {
    copies: { ...withLibraries(["/usr/sbin/nginx"]), "/etc/nginx/mime.types": "/etc/nginx/mime.types" },
    files: {
      "/etc/nginx/nginx.conf": [
        "# nginx stand-in image (tests): Debian's nginx, the layout of the official image.",
        "user www-data;",
        "worker_processes 1;",
        "error_log stderr;",
        "pid /run/nginx.pid;",
        "events { worker_connections 256; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    access_log /dev/stdout;",
        "    include /etc/nginx/conf.d/*.conf;",
        "}",
        "",
      ].join("\n"),
      "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
      "/etc/group": "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n",
    },
    ...(curl ? { scripts: { "/usr/bin/curl": CURL } } : { withoutApplets: ["wget"] }),
    dirs: ["/etc/nginx/conf.d", "/var/log/nginx", "/var/lib/nginx", "/run", "/var/www"],
    cmd: ["/usr/sbin/nginx", "-g", "daemon off;"],
  };
}

/**
 * Mnemosyne (stacks/ouranos/mnemosyne.ts): one image, the subcommands `web` (:8000,
 * /live/, /ready/, /metrics), `mcp` (:8001, /mcp/health), `worker` (answers `celery
 * inspect ping`), `collectstatic` (fills /app/staticfiles), `migrate`, `setup`, and
 * `python manage.py ensure_service_user|seed_signing_key`. No curl or wget inside
 * (issue 13 item 7: the stack probes it from the hosts).
 */
export function mnemosyneApp(version: string, required: Readonly<Record<"web" | "mcp" | "worker", readonly string[]>> = { web: [], mcp: [], worker: [] }): StandIn {
  // Like the real app (Django settings read with os.environ[...]), each long-running
  // subcommand refuses to start when a variable its service needs is unset or empty.
  const requireEnv = (names: readonly string[], what: string) =>
    names.map((n) => `[ -n "\${${n}:-}" ] || { echo "mnemosyne stand-in ${what}: ${n} is not set" >&2; exit 1; }`).join("\n");
  const entrypoint = `#!/bin/sh
# Mnemosyne stand-in (tests only).
set -e
case "$1" in
  web) ${requireEnv(required.web, "web")}
  ;;
  mcp) ${requireEnv(required.mcp, "mcp")}
  ;;
  worker) ${requireEnv(required.worker, "worker")}
  ;;
esac
case "$1" in
  web)
    mkdir -p /srv/app/live /srv/app/ready
    echo '{"status": "ok"}' > /srv/app/live/index.html
    cp /srv/app/live/index.html /srv/app/ready/index.html
    printf '# HELP mnemosyne_up Stand-in.\\n# TYPE mnemosyne_up gauge\\nmnemosyne_up 1\\n' > /srv/app/metrics
    echo "mnemosyne ${version} web on :8000"
    ${serve(8000, "/srv/app")} ;;
  mcp)
    mkdir -p /srv/mcp/mcp
    echo '{"status": "ok"}' > /srv/mcp/mcp/health
    echo "mnemosyne ${version} mcp on :8001"
    ${serve(8001, "/srv/mcp")} ;;
  worker)
    echo "mnemosyne ${version} worker ready"
    trap 'exit 0' TERM INT
    while :; do sleep 3600 & wait $!; done ;;
  collectstatic)
    mkdir -p /app/staticfiles
    echo 'body { margin: 0 }' > /app/staticfiles/mnemosyne.css
    echo "1 static file copied to '/app/staticfiles'." ;;
  migrate) echo "Operations to perform: no migrations to apply." ;;
  setup) echo "setup: done" ;;
  *) exec "$@" ;;
esac
`;
  const python = `#!/bin/sh
# python stand-in (tests): the manage.py commands the stack's tasks run.
[ "$1" = manage.py ] || { echo "python stand-in: only manage.py" >&2; exit 2; }
case "$2" in
  ensure_service_user)
    [ "$3" = --username ] && [ "$5" = --password ] && [ -n "$6" ] || { echo "usage: ensure_service_user --username U --password P" >&2; exit 2; }
    echo "service user $4 ensured" ;;
  seed_signing_key) cat /proc/sys/kernel/random/uuid ;;
  *) echo "python stand-in: unknown command $2" >&2; exit 2 ;;
esac
`;
  const celery = `#!/bin/sh
# celery stand-in (tests): \`celery -A mnemosyne inspect ping -d NAME\` answers while the worker runs.
[ "$1 $2 $3 $4" = "-A mnemosyne inspect ping" ] && kill -0 1 && echo "-> $6: OK pong"
`;
  return {
    scripts: { "/entrypoint": entrypoint, "/usr/bin/python": python, "/usr/bin/celery": celery },
    withoutApplets: ["wget"],
    entrypoint: ["/entrypoint"],
    cmd: ["web"],
  };
}

