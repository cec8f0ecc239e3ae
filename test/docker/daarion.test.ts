/**
 * DAARION's all-in-one node as stack daarion builds it (the public `Daarion` component
 * from a config, as `pulumi up` would: compose file, gateway conf, prometheus.yml, `.env`,
 * scripts, tasks and checks), started for real on puck: 24 containers on daarion_net,
 * stand-in images under the stack's image names (./daarion.ts) pulled by digest from
 * puck's registry, the real nginx as the gateway with the rendered config and a TLS
 * certificate, the real PostgreSQL for migrate.sh and backup-db.sh, the real Prometheus
 * with the rendered prometheus.yml for the metrics check. The repository (migrations/)
 * is cloned over SSH from a bare repository on puck. Every compose health check and each
 * of the stack's checks must pass.
 *
 * Then a node made by hand before the stack, under other container and volume names
 * (issue 13 item 9): configured with those names, the first up backs it up, adopts it and
 * converges, on the volume that holds its data.
 *
 * Not run here: the backup timer's two SystemdUnits (puck runs no systemd; SystemdUnit is
 * proven against a real systemd in systemd.test.ts).
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemdUnit } from "../../src/components/systemd";
import { Daarion } from "../../stacks/daarion";
import { CATALOGUE, service as serviceDef, type ServiceName } from "../../stacks/daarion/catalogue";
import { type Fleet, REGISTRY, startHosts } from "../e2e/harness";
import { build, type Built } from "../e2e/program";
import { UPSTREAM_STANDINS, daarionService } from "./daarion";
import { applyDiff, changedCommands, destroyAll } from "./deploy";
import { pushImages, registryDigest } from "./images";

const DOMAIN = "gateway.daarion.city";
const OWN = `${REGISTRY}/ivantytar/microdao-daarion`;
const TLS_MOUNT = "/srv/letsencrypt";
const REPO_DIR = "/srv/microdao-daarion.git";
const MIGRATION = [
  "-- Migration: 001",
  "-- Description: the agents table",
  "-- Date: 2025-01-15",
  "-- Author: fleet tests",
  "-- Rollback: See 001_rollback.sql",
  "BEGIN;",
  "CREATE TABLE agents (id serial PRIMARY KEY, name text NOT NULL);",
  "COMMIT;",
  "",
].join("\n");
/** The node's SystemdUnits (backup service and timer): puck has no systemd. */
const SYSTEMD_UNITS = ["puck-backup", "puck-backup-timer"];

describe("DAARION's all-in-one compose project on a real Docker engine", () => {
  let fleet: Fleet;
  let built: Built<Daarion>;
  let images: Record<string, string> = {};
  /** One of DAARION's own images (all are the same stand-in). */
  let ownImage = "";
  /** The commands of the SystemdUnits (and their helper installers), left out: puck has no systemd. */
  let needsSystemd = new Set<string>();

  const config = (upstream: Readonly<Record<string, string>>, node: Readonly<Record<string, unknown>> = {}, postgresPassword?: string) => {
    const h = fleet.hosts.puck;
    return {
      stack: "daarion",
      config: {
        "fleet:hosts": { puck: { address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, services: "systemd" } },
        "fleet:sshPrivateKey": h.privateKey,
        ...(postgresPassword ? { "fleet:daarionPostgresPassword": postgresPassword } : {}),
        "fleet:daarion": {
          repo: { url: `root@${h.fqdn}:${REPO_DIR}`, ref: "v1.0.0" },
          registry: OWN,
          tag: "1.0.0",
          images: Object.fromEntries(Object.entries(upstream).map(([s, image]) => [s, { image }])),
          // The stand-ins of DAARION's own services export /metrics: declared, so they are scraped.
          probes: Object.fromEntries(CATALOGUE.filter((d) => d.image === "own" && d.name !== "frontend").map((d) => [d.name, { metrics: {} }])),
          nodes: [{ name: "puck", role: "production", domain: DOMAIN, tls: { mount: TLS_MOUNT }, ...node }],
        },
      },
      secretKeys: ["fleet:sshPrivateKey", ...(postgresPassword ? ["fleet:daarionPostgresPassword"] : [])],
    };
  };
  /** The commands of a build's SystemdUnits (and their helper installers), left out: puck has no systemd. */
  const systemdCommands = (b: Built<Daarion>) => {
    const units = b.commands.filter((c) => c.parent !== undefined && SYSTEMD_UNITS.includes(c.parent));
    return { units, skip: new Set([...units.map((c) => c.name), ...units.flatMap((c) => c.installers.map((i) => i.name))]) };
  };
  const program = () => new Daarion("daarion", { resolveDigest: (image) => registryDigest(image) });

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck"], docker: true });
    const puck = fleet.hosts.puck;
    const root = (p: string) => join(puck.rootDir, p);

    // /var/www/certbot (the ACME webroot the gateway mounts) inside puck only: a private /var/www.
    mkdirSync(root("/var/www"), { recursive: true });
    const bind = await fleet.exec("puck", ["mount", "--bind", root("/var/www"), "/var/www"]);
    expect(bind.code, bind.stderr).toBe(0);

    // The certificate certbot would have obtained, and curl on puck trusting it (puck's own ~/.curlrc).
    const live = root(`${TLS_MOUNT}/live/${DOMAIN}`);
    mkdirSync(live, { recursive: true });
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${DOMAIN}`, "-addext", `subjectAltName=DNS:${DOMAIN}`,
      "-keyout", join(live, "privkey.pem"), "-out", join(live, "fullchain.pem"),
    ], { stdio: "pipe" });
    writeFileSync(root("/root/.curlrc"), `cacert = ${TLS_MOUNT}/live/${DOMAIN}/fullchain.pem\n`);

    // The repository: main with one migration, tag v1.0.0 on it; puck's root clones it over SSH.
    const work = root("/srv/daarion-work");
    mkdirSync(join(work, "migrations"), { recursive: true });
    writeFileSync(join(work, "migrations", "001_create_agents.sql"), MIGRATION);
    const git = (cwd: string, ...args: string[]) =>
      execFileSync("git", ["-c", "user.name=fleet", "-c", "user.email=fleet@test", "-c", "init.defaultBranch=main", ...args], { cwd, stdio: "pipe" });
    git(work, "init", "-q");
    git(work, "add", ".");
    git(work, "commit", "-q", "-m", "001 agents");
    git(work, "tag", "v1.0.0");
    git(puck.rootDir, "clone", "-q", "--bare", work, root(REPO_DIR));
    mkdirSync(root("/root/.ssh"), { recursive: true, mode: 0o700 });
    copyFileSync(puck.identityFile, root("/root/.ssh/id_ed25519"));
    chmodSync(root("/root/.ssh/id_ed25519"), 0o600);
    copyFileSync(puck.knownHostsFile, root("/root/.ssh/known_hosts"));

    // The image names the stack renders (its catalogue's upstream images), then one stand-in per name.
    const probe = await build(() => new Daarion("daarion", { resolveDigest: () => `sha256:${"0".repeat(64)}` }), config({}));
    const plan = probe.value.plans[0]!;
    const upstream: Record<string, string> = {};
    const own: string[] = [];
    for (const s of plan.services) {
      const image = plan.images[s]!;
      if (image.startsWith(`${OWN}/`)) own.push(image);
      else upstream[s] = `${REGISTRY}/${image}`;
    }
    images = { ...upstream };
    await pushImages(fleet, own, daarionService());
    ownImage = own[0]!;
    for (const [s, image] of Object.entries(upstream)) {
      const standIn = UPSTREAM_STANDINS[s];
      if (!standIn) throw new Error(`no stand-in image for ${s} (${image}): add one to test/docker/daarion.ts`);
      await pushImages(fleet, [image], standIn());
    }
  }, 600_000);
  afterAll(async () => {
    await fleet?.teardown();
  });

  it("deploys: 24 containers healthy on daarion_net, the gateway serves every route over TLS, and every check of the stack passes", async () => {
    built = await build(program, config(images));
    const plan = built.value.plans[0]!;
    expect(plan.services.length).toBe(24);
    // What is left out is exactly the backup units' commands.
    expect(built.run.byType(SystemdUnit.__pulumiType).map((r) => r.name).sort()).toEqual(SYSTEMD_UNITS);
    const { units, skip } = systemdCommands(built);
    needsSystemd = skip;
    expect(units.map((c) => c.name)).toEqual(["puck-backup-unit", "puck-backup-timer-unit", "puck-backup-timer-restart", "puck-backup-timer-enable"]);

    const applied = await applyDiff(fleet, undefined, built, 900_000, needsSystemd);
    expect(applied.ran).toEqual(expect.arrayContaining(["puck-repo-command", "puck-tls-command", "puck-matrix-config-command", "puck-pre-deploy-backup-command", "puck-compose-up", "puck-migrate-command", "puck-gateway-health-check", "puck-services-health-command", "puck-metrics-check-command", "puck-logs-check-command"]));

    // Every service running, from its image pinned by the registry's digest: healthy by its
    // compose check, or (DAARION's own images, which hold no curl or wget here) with no check
    // inside and healthy from the host (services-health below).
    const ps = await fleet.run(
      "puck",
      "docker inspect --format '{{index .Config.Labels \"com.docker.compose.service\"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.Config.Image}}' $(docker ps -aq --filter label=com.docker.compose.project=daarion) | sort",
    );
    expect(ps.code, ps.stderr).toBe(0);
    const rows = ps.stdout.trim().split("\n").map((l) => l.split(" "));
    expect(rows.map((r) => r[0]).sort()).toEqual([...plan.services].sort());
    for (const [service, status, health, image] of rows) {
      const own = serviceDef(service as ServiceName).image === "own";
      expect(`${service} ${status} ${health}`).toBe(`${service} running ${own ? "none" : "healthy"}`);
      if (own) {
        // Exec form, as a healthcheck's CMD runs them: busybox sh would run its own wget
        // applet without a wget on PATH, and `command -v curl wget` stops at the first miss.
        const tools = await fleet.run("puck", `for t in curl wget; do docker exec daarion-${service} $t --help >/dev/null 2>&1 && printf '%s ' $t; done; true`);
        expect(`${service}: ${tools.stdout.trim()}`).toBe(`${service}: `);
      }
      const ref = plan.images[service as keyof typeof plan.images]!;
      expect(image).toBe(`${ref.slice(0, ref.lastIndexOf(":"))}@${await registryDigest(ref)}`);
    }

    // On the network and volumes the compose file declares (matrix_data is created before
    // `up` by the matrix-config task, so compose finds it; no others exist); only the
    // gateway publishes ports.
    const net = await fleet.run(
      "puck",
      "docker network ls -q --filter name=^daarion_net$ | wc -l; docker volume ls -q | sort | tr '\\n' ' '; echo; " +
        "docker ps --filter label=com.docker.compose.project=daarion --format '{{.Names}} {{.Ports}}' | grep -- '->' ",
    );
    const [nets, volumes, published] = net.stdout.split("\n");
    expect(nets).toBe("1");
    expect(volumes!.trim().split(" ")).toEqual(["grafana_data", "matrix_data", "nats_data", "postgres_data", "prometheus_data", "redis_data"]);
    expect(published).toMatch(/^daarion-gateway .*0\.0\.0\.0:443->443\/tcp/);
    expect(net.stdout.trim().split("\n").length).toBe(3);

    // The real nginx with the rendered gateway conf: TLS, the routes, the redirect.
    const curl = async (path: string, scheme = "https") => {
      const port = scheme === "https" ? 443 : 80;
      const r = await fleet.run("puck", `curl -sS --resolve ${DOMAIN}:${port}:127.0.0.1 -o - -w '\\n%{http_code}' ${scheme}://${DOMAIN}${path}`);
      expect(r.code, r.stderr).toBe(0);
      const i = r.stdout.lastIndexOf("\n");
      return { body: r.stdout.slice(0, i), status: Number(r.stdout.slice(i + 1)) };
    };
    expect(await curl("/health")).toEqual({ status: 200, body: '{"status": "healthy", "service": "gateway", "version": "1.0.0", "dependencies": {}}' });
    for (const [path, service] of [["/api/auth/health", "auth-service"], ["/api/dao/health", "dao-service"], ["/api/city/health", "city-service"], ["/api/living-map/health", "living-map-service"]]) {
      const r = await curl(path!);
      expect(r.status, path).toBe(200);
      expect(JSON.parse(r.body), path).toMatchObject({ status: "healthy", service });
    }
    expect(await curl("/api/nope/x")).toMatchObject({ status: 404 });
    expect(await curl("/_matrix/client/versions")).toMatchObject({ status: 200, body: '{"versions": ["v1.11"]}\n' });
    expect((await curl("/")).body).toContain("<title>DAARION</title>");
    expect(await curl("/anything", "http")).toMatchObject({ status: 301 });

    // The stack's checks ran and passed: the gateway over TLS, Prometheus (real) scraping all 18 jobs, the logs.
    for (const name of ["puck-tls-command", "puck-gateway-health-check", "puck-services-health-command", "puck-metrics-check-command", "puck-logs-check-command"]) {
      expect(applied.results[name]?.code, name).toBe(0);
    }
    expect(applied.results["puck-services-health-command"]!.stdout).toMatch(/answer their health path from the host: .*auth-service/);
    expect(applied.results["puck-metrics-check-command"]!.stdout).toMatch(/scrapes every job: prometheus, grafana, auth-service, .*space-service/);
    expect(applied.results["puck-pre-deploy-backup-command"]!.stdout).toContain("nothing to back up before its first start");
    expect(applied.results["puck-matrix-config-command"]!.stdout).toContain("Generating config file /data/homeserver.yaml");

    // The migration from the repository (cloned over SSH at v1.0.0) is in the real PostgreSQL.
    expect(applied.results["puck-migrate-command"]!.stdout).toContain("fleet: applied migrations/001_create_agents.sql");
    const db = await fleet.run("puck", "docker exec daarion-postgres psql -X -A -t -U postgres -d daarion_memory -c 'SELECT name FROM schema_migrations' -c 'SELECT count(*) FROM agents'");
    expect(db.code, db.stderr).toBe(0);
    expect(db.stdout).toBe("001_create_agents.sql\n0\n");

    // The backup script (what the timer runs) dumps it with the real pg_dump.
    const dump = "/opt/microdao-daarion/backups/daarion_memory_*.sql";
    const backup = await fleet.run("puck", `/opt/microdao-daarion/scripts/backup-db.sh && grep -c -e 'PostgreSQL database dump complete' -e 'CREATE TABLE public.agents' ${dump}`);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toMatch(/^fleet: backed up daarion_memory to \/opt\/microdao-daarion\/backups\/daarion_memory_\d{8}_\d{6}\.sql \(1 daily, 0 weekly kept\)\n2\n$/);
  }, 1_200_000);

  it("the services' stand-in refuses to start when a variable the compose file passes arrives empty (the running ones saw every one)", async () => {
    const base = "-e SERVICE_NAME=city-service -e PORT=7001 -e DATABASE_URL=postgresql://postgres:pw@postgres:5432/daarion_memory -e REDIS_URL=redis://redis:6379 -e NATS_URL=nats://nats:4222";
    const ok = await fleet.run("puck", `docker run -d --name env-proof ${base} -e AUTH_SERVICE_URL=http://auth-service:7020 ${ownImage} >/dev/null && sleep 3 && docker inspect -f '{{.State.Running}}' env-proof; docker rm -f env-proof >/dev/null`);
    expect(ok.stdout.trim()).toBe("true");
    const refused = await fleet.run("puck", `docker run --rm ${base} -e AUTH_SERVICE_URL= ${ownImage}`);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("city-service: empty variables (not provided by the node's .env): AUTH_SERVICE_URL");
  });

  it("an unchanged program changes nothing", async () => {
    const again = await build(program, config(images));
    expect(changedCommands(built, again)).toEqual([]);
  });

  it("delete takes the project down and keeps the data volumes", async () => {
    await destroyAll(fleet, built, needsSystemd);
    const r = await fleet.run("puck", "docker ps -aq --filter label=com.docker.compose.project=daarion | wc -l; docker volume ls -q | sort | tr '\\n' ' '");
    expect(r.stdout).toBe("0\ngrafana_data matrix_data nats_data postgres_data prometheus_data redis_data ");
  }, 300_000);
  it("adopts a node made by hand under other container and volume names: backed up, replaced by the project's own on its volume, the data kept, the gateway reaching the services by name", async () => {
    const PASSWORD = "by-hand-Pw-7c1e";
    const hand = { postgres: "microdao-db", "city-service": "microdao-city", gateway: "microdao-nginx" };
    // The older deployment: PostgreSQL with data on its own volume, a service, on a hand-made daarion_net.
    const made = await fleet.run(
      "puck",
      [
        "docker network create daarion_net >/dev/null",
        "docker volume create microdao_pgdata >/dev/null",
        `docker run -d --name ${hand.postgres} --network daarion_net --network-alias postgres -v microdao_pgdata:/var/lib/postgresql/data -e POSTGRES_USER=postgres -e POSTGRES_PASSWORD=${PASSWORD} -e POSTGRES_DB=daarion_memory ${images.postgres} >/dev/null`,
        `i=0; until docker exec ${hand.postgres} pg_isready -q -U postgres -d daarion_memory; do i=$((i+1)); [ $i -lt 60 ] || exit 1; sleep 1; done`,
        `docker exec ${hand.postgres} psql -X -q -v ON_ERROR_STOP=1 -U postgres -d daarion_memory -c "CREATE TABLE agents (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO agents (name) VALUES ('by-hand')"`,
        `docker run -d --name ${hand["city-service"]} --network daarion_net -e SERVICE_NAME=city-service -e PORT=7001 -e DATABASE_URL=postgresql://postgres:${PASSWORD}@postgres:5432/daarion_memory -e REDIS_URL=redis://redis:6379/0 -e NATS_URL=nats://nats:4222 ${OWN}/city-service:1.0.0 >/dev/null`,
      ].join(" && "),
    );
    expect(made.code, made.stderr).toBe(0);

    // City Federation alone (its dependencies come along), under the names that run.
    const node = {
      role: "federation",
      services: { remove: ["matrix-synapse", "dao-service", "prometheus"] },
      containers: hand,
      volumes: { postgres: "microdao_pgdata" },
      migrations: { baseline: "001" },
    };
    const running = ["postgres", "redis", "nats", "auth-service", "pdp-service", "city-service", "gateway"];
    const adopted = await build(program, config(Object.fromEntries(Object.entries(images).filter(([s]) => running.includes(s))), node, PASSWORD));
    const plan = adopted.value.plans[0]!;
    expect([...plan.services].sort()).toEqual([...running].sort());
    const { skip } = systemdCommands(adopted);
    const applied = await applyDiff(fleet, undefined, adopted, 900_000, skip);
    const order = applied.ran.filter((n) => ["puck-pre-deploy-backup-command", "puck-compose-adopt", "puck-compose-up", "puck-migrate-command", "puck-gateway-health-check"].includes(n));
    expect(order).toEqual(["puck-pre-deploy-backup-command", "puck-compose-adopt", "puck-compose-up", "puck-migrate-command", "puck-gateway-health-check"]);
    const adoptErr = applied.results["puck-compose-adopt"]!.stderr;
    for (const c of [hand.postgres, hand["city-service"]]) expect(adoptErr).toContain(`fleet: container ${c} runs outside project daarion (project 'none'): backing it up into /opt/microdao-daarion/backups/adopted/${c}-`);
    expect(adoptErr).toContain("fleet: network daarion_net (made outside project daarion) removed; compose creates it again");
    // The database was dumped by the node's own backup before anything changed.
    expect(applied.results["puck-pre-deploy-backup-command"]!.stdout).toMatch(/^fleet: backed up daarion_memory to /m);

    // The project's containers under the configured names; PostgreSQL on the hand-made volume, with its data.
    const ps = await fleet.run(
      "puck",
      "docker inspect --format '{{.Name}} {{index .Config.Labels \"com.docker.compose.project\"}} {{index .Config.Labels \"com.docker.compose.service\"}} {{.State.Status}}' $(docker ps -aq --filter label=com.docker.compose.project=daarion) | sort",
    );
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout.trim().split("\n").sort()).toEqual(
      running.map((s) => `/${plan.containers[s as ServiceName]} daarion ${s} running`).sort(),
    );
    const db = await fleet.run(
      "puck",
      `docker inspect --format '{{range .Mounts}}{{.Name}}{{end}}' ${hand.postgres} && docker exec ${hand.postgres} psql -X -A -t -U postgres -d daarion_memory -c 'SELECT name FROM agents' -c 'SELECT name, how FROM schema_migrations'`,
    );
    expect(db.code, db.stderr).toBe(0);
    expect(db.stdout).toBe("microdao_pgdata\nby-hand\n001_create_agents.sql|baseline\n");
    expect(applied.results["puck-migrate-command"]!.stdout).toContain("fleet: baseline: recorded migrations/001_create_agents.sql as applied (not run)");

    // The backups: each old container's inspect, and PostgreSQL's volume as it was, taken stopped.
    const backup = await fleet.run("puck", `cd /opt/microdao-daarion/backups/adopted && ls | sed 's/-[0-9]*T[0-9]*Z$//' && tar -xzOf ${hand.postgres}-*/volume-microdao_pgdata.tar.gz ./PG_VERSION`);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stdout).toBe(`${hand["city-service"]}\n${hand.postgres}\n15\n`);

    // The gateway (container microdao-nginx) reaches the service by its compose name.
    const city = await fleet.run("puck", `curl -sS --resolve ${DOMAIN}:443:127.0.0.1 https://${DOMAIN}/api/city/health`);
    expect(city.code, city.stderr).toBe(0);
    expect(JSON.parse(city.stdout)).toMatchObject({ status: "healthy", service: "city-service" });
    expect(applied.results["puck-services-health-command"]!.stdout).toMatch(/answer their health path from the host: .*city-service/);

    // Converged: an unchanged program changes nothing, and adoption finds nothing more.
    expect(changedCommands(adopted, await build(program, config(Object.fromEntries(Object.entries(images).filter(([s]) => running.includes(s))), node, PASSWORD)))).toEqual([]);
    await destroyAll(fleet, adopted, skip);
    const left = await fleet.run("puck", "docker ps -aq | wc -l; docker volume ls -q --filter name=^microdao_pgdata$");
    expect(left.stdout).toBe("0\nmicrodao_pgdata\n");
  }, 1_200_000);
});
