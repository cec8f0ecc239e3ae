/**
 * The end-to-end harness itself: real sshd with pinned host keys, private per-host
 * directories, the bridge and /etc/hosts, every daemon answering, and a teardown that
 * leaves nothing behind.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADDRESSES, CADDY_BODY, type Fleet, HEALTH_BODY, HOST_NAMES, runCmd, startHosts } from "./harness";
import { alive, processesMentioning } from "./procs";

const ALL = [...HOST_NAMES];

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe("e2e harness", () => {
  let fleet: Fleet;
  let scratch: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "fleet-harness-test-"));
    const t0 = Date.now();
    fleet = await startHosts({ names: ALL });
    console.log(`startHosts(${ALL.join(", ")}): ${Date.now() - t0} ms`);
  }, 240_000);

  afterAll(async () => {
    // Already torn down by the last test; a second call must be a no-op.
    await fleet?.teardown();
    rmSync(scratch, { recursive: true, force: true });
  }, 120_000);

  it("describes every host with a pinned key and the fleet's client key", () => {
    for (const name of ALL) {
      const h = fleet.hosts[name];
      expect(h).toMatchObject({ name, address: ADDRESSES[name], port: 22, user: "root", fqdn: `${name}.incus` });
      expect(h.hostKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/]+={0,3}$/);
      expect(h.privateKey).toContain("BEGIN OPENSSH PRIVATE KEY");
      expect(readFileSync(h.knownHostsFile, "utf8")).toContain(`${h.address},${name}.incus,${name} ${h.hostKey}`);
    }
  });

  it("refuses a second fleet while this one is up", async () => {
    await expect(startHosts({ names: ["puck"] })).rejects.toThrow(/already running in this process/);
    expect((await fleet.run("puck", "echo still-up")).stdout).toBe("still-up\n");
  });

  it("logs in over SSH as root with the pinned key, running the command string as-is", async () => {
    for (const name of ALL) {
      const r = await fleet.run(name, 'echo "$(id -u) $(hostname)"; echo err >&2; exit 3');
      expect(r).toEqual({ code: 3, stdout: `0 ${name}\n`, stderr: "err\n" });
    }
    const piped = await fleet.run("titania", "wc -c; cat >/dev/null", "hello\n");
    expect(piped.stdout.trim()).toBe("6");
  });

  it("refuses a host key that does not match the known_hosts entry", async () => {
    const bogus = join(scratch, "bogus");
    await runCmd("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", bogus]);
    const bogusKey = readFileSync(`${bogus}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const wrongKnownHosts = join(scratch, "known_hosts.wrong");
    writeFileSync(wrongKnownHosts, `${ADDRESSES.titania} ${bogusKey}\n`);
    const wrong = await runCmd("ssh", [...fleet.sshArgs("titania", { knownHostsFile: wrongKnownHosts }), "--", "echo reached"]);
    expect(wrong.code).toBe(255);
    expect(wrong.stdout).not.toContain("reached");
    expect(wrong.stderr).toMatch(/Host key verification failed/);

    // An empty known_hosts is no better: StrictHostKeyChecking=yes never adds keys.
    const empty = join(scratch, "known_hosts.empty");
    writeFileSync(empty, "");
    const unknown = await runCmd("ssh", [...fleet.sshArgs("titania", { knownHostsFile: empty }), "--", "echo reached"]);
    expect(unknown.code).toBe(255);
    expect(unknown.stderr).toMatch(/Host key verification failed/);
    expect(readFileSync(empty, "utf8")).toBe("");

    // And login is key-only: another client key is refused.
    const other = await runCmd("ssh", [...fleet.sshArgs("titania", { identityFile: bogus }), "--", "echo reached"]);
    expect(other.code).toBe(255);
    expect(other.stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it("gives every host its own /etc/<daemon>, /srv, /opt and /run", async () => {
    const marker = `probe-${process.pid}-${Date.now()}`;
    const w = await fleet.run("titania", `echo ${marker} > /etc/haproxy/isolation-probe && echo ${marker} > /srv/probe && cat /etc/haproxy/isolation-probe`);
    expect(w).toMatchObject({ code: 0, stdout: `${marker}\n` });
    expect(readFileSync(join(fleet.hosts.titania.rootDir, "etc/haproxy/isolation-probe"), "utf8")).toBe(`${marker}\n`);
    expect(existsSync("/etc/haproxy/isolation-probe")).toBe(false); // the real /etc is untouched
    for (const other of ["portia", "prospero", "puck"] as const) {
      const r = await fleet.run(other, "test -e /etc/haproxy/isolation-probe || test -e /srv/probe; echo $?");
      expect(r.stdout.trim(), other).toBe("1");
    }

    // nginx: Debian's tree everywhere, the harness site only on puck, no default site.
    const puck = await fleet.run("puck", "ls /etc/nginx/conf.d; ls /etc/nginx/sites-enabled; test -f /etc/nginx/nginx.conf && echo conf");
    expect(puck.stdout).toBe("fleet-harness\nconf\n");
    const titania = await fleet.run("titania", "ls /etc/nginx/sites-enabled /etc/nginx/conf.d; ls /etc/nginx/sites-available");
    expect(titania.stdout).not.toContain("fleet-harness");
    expect(titania.stdout).not.toContain("default");

    // /run is private: each host sees its own daemons' pid files; /run/lock exists.
    const runs = await Promise.all(ALL.map((h) => fleet.run(h, "ls /run; test -d /run/lock && test -d /run/sshd && echo dirs")));
    const [tRun, pRun, prRun, puRun] = runs.map((r) => r.stdout);
    expect(tRun).toContain("haproxy.pid");
    expect(pRun).toContain("postgresql");
    expect(prRun).toContain("prometheus.pid");
    expect(puRun).toContain("nginx.pid");
    expect(puRun).not.toContain("haproxy.pid");
    for (const r of runs) expect(r.stdout).toContain("dirs");

    // exec (nsenter) sees the same mount namespace as SSH sessions.
    const e = await fleet.exec("titania", ["cat", "/etc/haproxy/isolation-probe"]);
    expect(e).toMatchObject({ code: 0, stdout: `${marker}\n` });
    expect((await fleet.exec("puck", ["hostname"])).stdout.trim()).toBe("puck");
  });

  it("bridges the hosts and resolves <name>.incus through /etc/hosts", async () => {
    const health = await fleet.curl("titania", "http://puck.incus:8080/health");
    expect(health.status).toBe(200);
    expect(health.body).toBe(HEALTH_BODY);
    expect(JSON.parse(health.body)).toEqual({ status: "ok" });
    expect(health.headers["content-type"]).toEqual(["application/json"]);
    expect((await fleet.curl("portia", "http://puck.incus:8080/fail")).status).toBe(500);
    const hosts = await fleet.run("prospero", "getent hosts titania.incus portia.incus prospero.incus puck.incus");
    expect(hosts.stdout).toMatch(/^10\.231\.0\.11\s+titania\.incus\b/m);
    expect(hosts.stdout).toMatch(/^10\.231\.0\.14\s+puck\.incus\b/m);
  });

  it("runs HAProxy in master-worker mode: 503 for unknown hosts, reloads what SSH writes", async () => {
    const unknown = await fleet.curl("portia", "http://titania.incus/", { headers: { Host: "nobody.example" } });
    expect(unknown.status).toBe(503);

    // A script over SSH writes a backend and a map entry and reloads the master.
    const backend = "backend puck_nginx\n    server puck puck.incus:8080\n";
    const write = await fleet.run(
      "titania",
      "cat > /etc/haproxy/conf.d/puck.cfg && echo 'health.test puck_nginx' > /etc/haproxy/hosts.map && " +
        'haproxy -c -q -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d && kill -USR2 "$(cat /run/haproxy.pid)"',
      backend,
    );
    expect(write).toMatchObject({ code: 0, stderr: "" });
    await waitUntil("HAProxy to route health.test to puck", 10_000, async () => {
      const r = await fleet.curl("portia", "http://titania.incus/health", { headers: { Host: "health.test" } });
      return r.status === 200 && r.body === HEALTH_BODY;
    });

    const revert = await fleet.run("titania", ': > /etc/haproxy/hosts.map && rm /etc/haproxy/conf.d/puck.cfg && kill -USR2 "$(cat /run/haproxy.pid)"');
    expect(revert.code).toBe(0);
    await waitUntil("HAProxy to drop the route again", 10_000, async () => {
      const r = await fleet.curl("portia", "http://titania.incus/health", { headers: { Host: "health.test" } });
      return r.status === 503;
    });
    const sock = await fleet.run("titania", "test -S /run/haproxy-admin.sock && echo sock");
    expect(sock.stdout).toBe("sock\n");
  });

  it("runs Prometheus (and Alertmanager) with pid files a reload can signal", async () => {
    const ready = await runCmd("curl", ["-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}", `http://${ADDRESSES.prospero}:9090/-/ready`]);
    expect(ready.stdout).toBe("200");
    const pid = await fleet.run("prospero", 'cat /proc/"$(cat /run/prometheus.pid)"/comm && kill -HUP "$(cat /run/prometheus.pid)"');
    expect(pid).toMatchObject({ code: 0, stdout: "prometheus\n" });
    expect((await fleet.curl("prospero", `http://${ADDRESSES.prospero}:9090/-/ready`)).status).toBe(200);
    expect((await fleet.curl("prospero", `http://${ADDRESSES.prospero}:9093/-/ready`)).status).toBe(200);
    const am = await fleet.run("prospero", 'cat /proc/"$(cat /run/alertmanager.pid)"/comm');
    expect(am.stdout.trim()).toBe("prometheus-aler"); // comm is truncated to 15 characters
  });

  it("runs PostgreSQL 15 reachable with the admin password from the root namespace", async () => {
    const pg = fleet.postgres;
    expect(pg).toMatchObject({ host: ADDRESSES.portia, port: 5432, adminUser: "postgres" });
    const env = { PATH: "/usr/bin:/bin", HOME: scratch, PGCONNECT_TIMEOUT: "5" };
    const args = ["-h", pg.host, "-p", String(pg.port), "-U", pg.adminUser, "-d", "postgres", "-tAc", "select current_user, inet_server_addr(), current_setting('server_version_num')::int / 10000"];
    const ok = await runCmd("/usr/bin/psql", args, { env: { ...env, PGPASSWORD: pg.adminPassword } });
    expect(ok).toMatchObject({ code: 0, stdout: `postgres|${ADDRESSES.portia}|15\n` });
    const bad = await runCmd("/usr/bin/psql", args, { env: { ...env, PGPASSWORD: "wrong" } });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/password authentication failed/);
    // Over SSH, the unix socket in the host's private /run/postgresql (local trust for postgres).
    const local = await fleet.run("portia", "psql -U postgres -tAc 'select 1'");
    expect(local).toMatchObject({ code: 0, stdout: "1\n" });
  });

  it("runs nginx and Caddy on puck, reloadable over SSH", async () => {
    const caddy = await fleet.curl("titania", `http://${ADDRESSES.puck}:8081/`);
    expect(caddy).toMatchObject({ status: 200, body: CADDY_BODY });
    const reloads = await fleet.run("puck", "nginx -t -q && nginx -s reload && caddy reload --config /etc/caddy/Caddyfile --adapter caddyfile");
    expect(reloads.code, reloads.stderr).toBe(0);
    expect((await fleet.curl("titania", `http://${ADDRESSES.puck}:8081/`)).body).toBe(CADDY_BODY);
    expect((await fleet.curl("titania", "http://puck.incus:8080/health")).status).toBe(200);
  });

  it("tears down everything it started, idempotently", async () => {
    const pids = (await Promise.all(ALL.map((h) => fleet.pids(h)))).flat();
    expect(pids.length).toBeGreaterThanOrEqual(ALL.length * 2);
    const workDir = fleet.workDir;
    const t0 = Date.now();
    await fleet.teardown();
    console.log(`teardown: ${Date.now() - t0} ms`);
    await fleet.teardown();

    const netns = await runCmd("ip", ["netns", "list"]);
    expect(netns.stdout.split("\n").filter((l) => l.startsWith("fleet-"))).toEqual([]);
    const links = await runCmd("ip", ["-o", "link", "show"]);
    expect(links.stdout).not.toMatch(/\d+: (fleetbr0|vf-)/);
    expect(pids.filter(alive)).toEqual([]);
    expect(processesMentioning(workDir)).toEqual([]);
    expect(existsSync(workDir)).toBe(false);
    // Without the bridge, 10.231.0.0/24 would follow the default route: refuse instead.
    await expect(fleet.run("titania", "true")).rejects.toThrow(/torn down/);
  });
});
