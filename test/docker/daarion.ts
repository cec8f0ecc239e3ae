/**
 * Stand-in images for DAARION's all-in-one compose file (stacks/daarion), under the image
 * names the stack renders (no public registry is reachable here). Where the node's own
 * scripts or configs talk to a daemon, the daemon is Debian's real binary copied into
 * the image with its libraries: PostgreSQL (migrate.sh's psql, backup-db.sh's pg_dump,
 * the compose check's pg_isready), Prometheus (the rendered prometheus.yml, the metrics
 * check's query) and nginx (the rendered gateway). The others are busybox programs that
 * answer their health checks the way the compose file asks (curl, wget, redis-cli).
 */
import { CURL, realNginx } from "./standins";
import { type StandIn, withLibraries } from "./images";

/**
 * Busybox httpds in the background, stopped on SIGTERM (docker stop) with their shell.
 * `port` and `root` are shell words (a number, a path, or `"$port"`).
 */
function serveAll(servers: readonly { port: string; root: string }[]): string {
  const starts = servers.map((s) => `httpd -f -v -p ${s.port} -h ${s.root} & pids="$pids $!"`).join("\n");
  return `pids=""\n${starts}\ntrap 'kill $pids; exit 0' TERM INT\nwait`;
}

/**
 * DAARION's own services (one image pushed under each service's name): the standards'
 * `GET /health` and `/metrics` on `$PORT` as `$SERVICE_NAME`; the frontend (neither set)
 * on :80. A backend refuses to start without the `.env` values the compose file passes
 * (DATABASE_URL, REDIS_URL, NATS_URL), and every service refuses a variable that arrived
 * empty (a `${KEY}` the node's `.env` does not set), so a container that runs proves they
 * reached it.
 */
export function daarionService(): StandIn {
  const entrypoint = `#!/bin/sh
# DAARION service stand-in (tests only).
set -e
name=\${SERVICE_NAME:-frontend}
port=\${PORT:-80}
# A variable the compose file passes as \${KEY} that the node's .env lacks arrives empty:
# refuse to start, naming it (every variable the stack provides must reach the process).
empty=$(env | grep -E '^[A-Za-z_][A-Za-z0-9_]*=$' | cut -d= -f1 | tr '\\n' ' ')
[ -z "$empty" ] || { echo "$name: empty variables (not provided by the node's .env): $empty" >&2; exit 1; }
if [ "$name" != frontend ]; then
  for v in DATABASE_URL REDIS_URL NATS_URL; do
    eval "val=\\\${$v:-}"
    [ -n "$val" ] || { echo "$name: $v is not set" >&2; exit 1; }
  done
  case "$DATABASE_URL" in postgresql://*@postgres:5432/*) ;; *) echo "$name: DATABASE_URL is not a postgresql:// URL to postgres:5432" >&2; exit 1 ;; esac
fi
root=/srv/www
body='{"status": "healthy", "service": "'"$name"'", "version": "stand-in", "dependencies": {}}'
# /health at the service's root and under the upstream prefixes the gateway keeps.
for p in "" /api/city /api/space /living-map; do mkdir -p "$root$p"; printf '%s\\n' "$body" > "$root$p/health"; done
printf '# HELP daarion_service_up Stand-in.\\n# TYPE daarion_service_up gauge\\ndaarion_service_up{service="%s"} 1\\n' "$name" > "$root/metrics"
[ "$name" != frontend ] || printf '<!doctype html>\\n<title>DAARION</title>\\n' > "$root/index.html"
echo "$name stand-in on :$port"
${serveAll([{ port: '"$port"', root: '"$root"' }])}
`;
  // No curl or wget inside: the stack probes DAARION's own services from the host (issue 13).
  return { scripts: { "/entrypoint": entrypoint }, entrypoint: ["/entrypoint"], cmd: [], withoutApplets: ["wget"] };
}

const PG = "/usr/lib/postgresql/15";

/**
 * Debian's PostgreSQL 15 as the `postgres` image: the official image's contract (an
 * empty data volume is initialised with POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB,
 * local connections trusted, others by password) with the real initdb, postgres,
 * psql, pg_dump and pg_isready.
 */
export function realPostgres(): StandIn {
  const entrypoint = `#!/bin/sh
# PostgreSQL stand-in image (tests): Debian's binaries, the official image's first-start contract.
set -e
export PGDATA=/var/lib/postgresql/data
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 0700 "$PGDATA"
as_pg() { su -s /bin/sh postgres -c "$*"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "\${POSTGRES_USER:?POSTGRES_USER is not set}" "\${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is not set}" "\${POSTGRES_DB:?POSTGRES_DB is not set}"
  printf '%s\\n' "$POSTGRES_PASSWORD" > /tmp/pwfile; chown postgres /tmp/pwfile
  as_pg "initdb -D $PGDATA -U $POSTGRES_USER --pwfile=/tmp/pwfile --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C" >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  as_pg "pg_ctl -D $PGDATA -o '-c listen_addresses=' -w start" >/dev/null
  psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \\"$POSTGRES_DB\\"" >/dev/null
  as_pg "pg_ctl -D $PGDATA -m fast -w stop" >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec su -s /bin/sh postgres -c "exec postgres -D $PGDATA -c listen_addresses='*'"
`;
  const bins = ["postgres", "initdb", "pg_ctl", "psql", "pg_dump", "pg_isready"].map((b) => `${PG}/bin/${b}`);
  const libs = ["plpgsql.so", "dict_snowball.so"].map((l) => `${PG}/lib/${l}`);
  return {
    copies: { ...withLibraries([...bins, ...libs]), "/usr/share/zoneinfo/UTC": "/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/GMT": "/usr/share/zoneinfo/GMT" },
    trees: { "/usr/share/postgresql/15": "/usr/share/postgresql/15" },
    files: {
      "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh\n",
      "/etc/group": "root:x:0:\npostgres:x:999:\n",
    },
    scripts: { "/usr/local/bin/docker-entrypoint.sh": entrypoint },
    dirs: ["/var/lib/postgresql", "/var/run/postgresql"],
    env: { PATH: `${PG}/bin:/usr/local/bin:/usr/bin:/bin`, TZ: "UTC", PGDATA: "/var/lib/postgresql/data" },
    entrypoint: ["/usr/local/bin/docker-entrypoint.sh"],
    cmd: ["postgres"],
  };
}

/** Debian's Prometheus as `prom/prometheus`: the official image's entrypoint and layout. */
export function realPrometheus(): StandIn {
  return {
    copies: withLibraries(["/usr/bin/prometheus"]),
    files: { "/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" },
    dirs: ["/etc/prometheus", "/prometheus"],
    entrypoint: ["/usr/bin/prometheus"],
    cmd: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
  };
}

/** The gateway: the real nginx (the rendered conf.d is mounted over /etc/nginx/conf.d). */
export function gateway(): StandIn {
  return realNginx();
}

/**
 * `redis:7-alpine` with `redis-server --appendonly yes`: answers PING with +PONG on
 * :6379 (busybox nc), keeps its append-only file in the /data volume; `redis-cli ping`
 * asks it over TCP.
 */
export function redis(): StandIn {
  const server = `#!/bin/sh
# redis-server stand-in (tests): RESP PING on :6379; --appendonly yes keeps /data/appendonly.aof.
[ "$1 $2" = "--appendonly yes" ] && : >> /data/appendonly.aof
echo "redis stand-in ready to accept connections on :6379"
nc -ll -p 6379 -e /usr/local/bin/redis-reply & pid=$!
trap 'kill $pid; exit 0' TERM INT
wait $pid
`;
  const reply = `#!/bin/sh
while IFS= read -r line; do
  case "$line" in PING*|ping*) printf '+PONG\\r\\n'; exit 0 ;; *) printf -- '-ERR stand-in knows only PING\\r\\n'; exit 0 ;; esac
done
`;
  const cli = `#!/bin/sh
# redis-cli stand-in (tests): \`redis-cli ping\` over TCP to :6379.
[ "$1" = ping ] || { echo "redis-cli stand-in: only ping" >&2; exit 2; }
out=$(printf 'PING\\r\\n' | nc -w 2 127.0.0.1 6379 | tr -d '\\r')
[ "$out" = "+PONG" ] || { echo "Could not connect to Redis at 127.0.0.1:6379" >&2; exit 1; }
echo PONG
`;
  return {
    scripts: { "/usr/local/bin/redis-server": server, "/usr/local/bin/redis-reply": reply, "/usr/local/bin/redis-cli": cli },
    dirs: ["/data"],
    env: { PATH: "/usr/local/bin:/usr/bin:/bin" },
    cmd: ["redis-server"],
  };
}

/** `nats:2.10-alpine` with `-js -sd /data -m 8222`: the client port and the monitor's /healthz. */
export function nats(): StandIn {
  const server = `#!/bin/sh
# nats-server stand-in (tests): -m PORT serves /healthz, -sd DIR must be writable (JetStream store).
monitor=""; store=""
while [ $# -gt 0 ]; do
  case "$1" in -m) monitor=$2; shift ;; -sd) store=$2; shift ;; esac
  shift
done
[ -n "$monitor" ] || { echo "nats stand-in: no -m monitor port" >&2; exit 1; }
mkdir -p "$store/jetstream" /srv/monitor /srv/client
echo '{"status":"ok"}' > /srv/monitor/healthz
echo "nats stand-in: client :4222, monitor :$monitor, store $store"
${serveAll([{ port: "4222", root: "/srv/client" }, { port: '"$monitor"', root: "/srv/monitor" }])}
`;
  return { scripts: { "/nats-server": server }, entrypoint: ["/nats-server"], cmd: ["-js"] };
}

/**
 * `matrixdotorg/synapse`: `generate` writes /data/homeserver.yaml for SYNAPSE_SERVER_NAME
 * (the stack's matrix-config task runs it once); the server refuses to start without it,
 * as the real start.py does, and answers /health and /_matrix/client/versions on :8008.
 */
export function synapse(): StandIn {
  const start = `#!/bin/sh
# Synapse stand-in (tests).
set -e
config=/data/homeserver.yaml
case "\${1:-run}" in
  generate)
    : "\${SYNAPSE_SERVER_NAME:?SYNAPSE_SERVER_NAME is required by generate}"
    printf 'server_name: "%s"\\nreport_stats: %s\\n' "$SYNAPSE_SERVER_NAME" "\${SYNAPSE_REPORT_STATS:-no}" > "$config"
    echo "Generating config file $config" ;;
  run)
    [ -f "$config" ] || { echo "Config file '$config' does not exist." >&2; exit 1; }
    mkdir -p /srv/www/_matrix/client
    echo OK > /srv/www/health
    echo '{"versions": ["v1.11"]}' > /srv/www/_matrix/client/versions
    echo "synapse stand-in for $(sed -n 's/^server_name: "\\(.*\\)"$/\\1/p' "$config") on :8008"
    ${serveAll([{ port: "8008", root: "/srv/www" }]).split("\n").join("\n    ")} ;;
  *) echo "synapse stand-in: unknown command $1" >&2; exit 2 ;;
esac
`;
  return { scripts: { "/start.py": start, "/usr/bin/curl": CURL }, dirs: ["/data"], entrypoint: ["/start.py"], cmd: ["run"] };
}

/** `grafana/grafana`: /api/health and /metrics on :3000, once its provisioned datasource and admin password are there. */
export function grafana(): StandIn {
  const run = `#!/bin/sh
# Grafana stand-in (tests).
set -e
ds=/etc/grafana/provisioning/datasources/prometheus.yml
[ -r "$ds" ] || { echo "grafana stand-in: $ds is not mounted" >&2; exit 1; }
[ -n "\${GF_SECURITY_ADMIN_PASSWORD:-}" ] || { echo "grafana stand-in: GF_SECURITY_ADMIN_PASSWORD is empty" >&2; exit 1; }
mkdir -p /srv/www/api
echo '{"database": "ok", "version": "stand-in"}' > /srv/www/api/health
printf '# HELP grafana_stand_in_up Stand-in.\\n# TYPE grafana_stand_in_up gauge\\ngrafana_stand_in_up 1\\n' > /srv/www/metrics
echo "grafana stand-in on :3000, datasource $(grep -c 'type: prometheus' "$ds") prometheus"
${serveAll([{ port: "3000", root: "/srv/www" }])}
`;
  return { scripts: { "/run.sh": run }, dirs: ["/var/lib/grafana", "/etc/grafana/provisioning"], entrypoint: ["/run.sh"], cmd: [] };
}

/** The stand-in for each service the catalogue runs from an upstream image; DAARION's own images get `daarionService()`. */
export const UPSTREAM_STANDINS: Readonly<Record<string, () => StandIn>> = {
  postgres: realPostgres,
  redis,
  nats,
  "matrix-synapse": synapse,
  prometheus: realPrometheus,
  grafana,
  gateway,
};
