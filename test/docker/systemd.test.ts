/**
 * SystemdUnit against a real systemd: a Debian root filesystem built from Debian's
 * packages (scripts/build-systemd-root.sh) booted with systemd-nspawn, systemd as PID 1,
 * in prospero's network namespace, its own sshd on :2200. Daedalus's unit as stack
 * ouranos builds it (daedalusApp: the SystemUser, the Directories, the `.env` and the
 * SystemdUnit; the checkout, builds and migrations are left out) is deployed through the
 * components' own scripts over SSH, with a stand-in uvicorn (busybox httpd) as the binary
 * of each release under /srv/daedalus/releases, reached through `current` (its `.env` too);
 * the unit is never restarted on its own: the program's own `daedalus-activate` swaps
 * releases, restarts the unit (once, also for a changed unit file) and rolls back a bad
 * one. Puck's nginx is not part of this test: what the activation asks through it is
 * answered by a busybox httpd on the site's port (test/e2e/releases.test.ts runs the real
 * nginx with the stack's site).
 *
 * The container's root is read-only with a tmpfs overlay: every run boots the same tree.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemdUnit } from "../../src/components/systemd";
import { defineHost, type Host } from "../../src/remote/host";
import { ouranosSchema } from "../../stacks/ouranos/config";
import { daedalusApp } from "../../stacks/ouranos/daedalus";
import { ADDRESSES, type Fleet, netnsName, type RunResult, runCmd, startHosts } from "../e2e/harness";
import { build, type Built } from "../e2e/program";
import { applyDiff, changedCommands, DeployError, destroyAll, type Runner } from "./deploy";

const TREE = process.env.FLEET_SYSTEMD_ROOT ?? resolve(__dirname, "../../.engine/systemd-root");
const HOST = "prospero";
const SSH_PORT = 2200;
const UVICORN = 18000;
/** What runs here of daedalusApp: the user, the directory, the `.env` the unit reads, the unit. */
const SETUP = ["daedalus-user", "daedalus-dirs", "daedalus-env"];
const UNIT = ["daedalus-api"];
const DEPLOYED = [...SETUP, ...UNIT];
/** Releases made by hand as the release step and the builds would leave them (<commit12>-<env12>). */
const [R1, R2, R3] = ["a1a1a1a1a1a1-e1e1e1e1e1e1", "b2b2b2b2b2b2-e1e1e1e1e1e1", "c3c3c3c3c3c3-e1e1e1e1e1e1"] as const;
/** The port of Daedalus's nginx site (the stack's default), where a stand-in answers here. */
const NGINX = 22181;

/**
 * The stand-in for a release's uvicorn: busybox httpd answering /api/health on
 * --host:--port (the release's backend/health.json when it has one), and /where: the
 * directory it was started in (the unit's WorkingDirectory, resolved through current).
 */
const STAND_IN = `#!/bin/sh
# uvicorn stand-in (tests): serves /api/health and /where on --host:--port until stopped.
while [ $# -gt 0 ]; do
  case "$1" in --host) host=$2; shift ;; --port) port=$2; shift ;; --workers) workers=$2; shift ;; esac
  shift
done
www=$(mktemp -d)
mkdir -p "$www/api"
if [ -f health.json ]; then cp health.json "$www/api/health"; else echo '{"status": "ok"}' > "$www/api/health"; fi
pwd -P > "$www/where"
echo "daedalus stand-in on $host:$port, $workers workers, as $(id -un) in $(pwd -P)"
exec busybox httpd -f -p "$host:$port" -h "$www"
`;

/**
 * curl for the release checks (the Debian test root has busybox, not curl; Puck has curl,
 * as every HealthCheck there assumes): the one form healthCheckScript uses
 * (`-o FILE -w %{http_code} … URL`), answered by busybox wget: 200 when it fetched the body
 * (it fails on any other status), 000 otherwise, as the test's own requests ask
 * (busybox's `wget -S` crashes in this root).
 */
const CURL_SHIM = `#!/bin/sh
out=/dev/null; url=
while [ $# -gt 0 ]; do
  case "$1" in -o) out=$2; shift ;; -w|--max-time|-X) shift ;; -*) ;; *) url=$1 ;; esac
  shift
done
if busybox wget -q -O - "$url" > "$out"; then printf 200; else printf 000; fi
`;

/** A release as daedalus-release and the builds leave it: the stand-in as its venv's uvicorn, an SPA build, the `.env`. */
function release(name: string, health?: string): string {
  return [
    `r=/srv/daedalus/releases/${name}`,
    'install -d -o daedalus -g daedalus "$r" "$r/venv/bin" "$r/backend" "$r/frontend/build"',
    'install -m 0600 -o daedalus -g daedalus /srv/daedalus/.env "$r/.env"',
    `cat > "$r/venv/bin/uvicorn" <<'EOF'\n${STAND_IN}EOF`,
    'chmod 0755 "$r/venv/bin/uvicorn"',
    'echo "<!doctype html>" > "$r/frontend/build/index.html"',
    ...(health ? [`echo '${health}' > "$r/backend/health.json"`] : []),
  ].join("\n");
}

describe("SystemdUnit against a real systemd (Debian in systemd-nspawn)", () => {
  let fleet: Fleet;
  let dir: string;
  let nspawn: ChildProcess | undefined;
  let nspawnLog = "";
  let host: Host;
  let runner: Runner;
  let deployed: Built<unknown>;

  const ssh = (script: string, stdin?: string, timeoutMs = 60_000): Promise<RunResult> => {
    const args = fleet.sshArgs(HOST, { knownHostsFile: join(dir, "known_hosts") });
    args[args.indexOf("-p") + 1] = String(SSH_PORT);
    return runCmd("ssh", [...args, "--", script], { ...(stdin !== undefined ? { input: stdin } : {}), timeoutMs });
  };
  const sh = async (script: string): Promise<string> => {
    const r = await ssh(script);
    if (r.code !== 0) throw new Error(`${script} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  };

  const program = (opts: { ref?: string; workers?: number } = {}) => () => {
    const cfg = ouranosSchema.parse({
      daedalus: { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: opts.ref ?? "v1.4.2" }, uvicornPort: UVICORN, workers: opts.workers ?? 2 },
      mnemosyne: { image: "registry.example/r/mnemosyne:latest", webImage: "nginx:alpine" },
    });
    const parent = new pulumi.ComponentResource("fleet:test:Ouranos", "ouranos");
    const secret = (v: string) => pulumi.secret(v);
    return daedalusApp(
      { cfg, puck: host, databaseUrl: secret("postgresql://daedalus:pw@portia.incus/daedalus"), s3: { endpoint: "https://nyx.helu.ca:8555", accessKey: secret("ak"), secretKey: secret("sk") } },
      {},
      parent,
    );
  };
  /** Everything but the commands named in `names` or whose component is (and their helper installers). */
  const outside = (built: Built<unknown>, names: readonly string[]): Set<string> => {
    const keep = built.commands.filter((c) => names.includes(c.name) || (c.parent !== undefined && names.includes(c.parent)));
    const kept = new Set([...keep.map((c) => c.name), ...keep.flatMap((c) => c.installers.map((i) => i.name))]);
    return new Set(built.commands.map((c) => c.name).filter((n) => !kept.has(n)));
  };
  const mainPid = async () => Number((await sh("systemctl show -P MainPID daedalus-api.service")).trim());
  const health = () => sh(`busybox wget -q -O - http://127.0.0.1:${UVICORN}/api/health`);
  const where = () => sh(`busybox wget -q -O - http://127.0.0.1:${UVICORN}/where`);

  beforeAll(async () => {
    if (!existsSync(join(TREE, "lib/systemd/systemd"))) throw new Error(`no Debian root filesystem at ${TREE}: run scripts/build-systemd-root.sh`);
    fleet = await startHosts({ names: [HOST] });
    dir = mkdtempSync(join(tmpdir(), "fleet-systemd-"));
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "fleet-systemd", "-f", join(dir, "host_key")]);
    const hostKey = readFileSync(join(dir, "host_key.pub"), "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(join(dir, "known_hosts"), `[${ADDRESSES[HOST]}]:${SSH_PORT} ${hostKey}\n`);
    writeFileSync(join(dir, "authorized_keys"), readFileSync(`${fleet.hosts[HOST].identityFile}.pub`), { mode: 0o600 });
    writeFileSync(
      join(dir, "sshd.conf"),
      `# systemd test container\nPort ${SSH_PORT}\nListenAddress ${ADDRESSES[HOST]}\nHostKey /etc/ssh/fleet_host_key\nAuthorizedKeysFile /etc/ssh/fleet_authorized_keys\nPermitRootLogin prohibit-password\n`,
    );
    nspawn = spawn(
      "systemd-nspawn",
      [
        "--quiet",
        `--directory=${TREE}`,
        "--volatile=overlay",
        "--register=no",
        "--keep-unit",
        `--network-namespace-path=/run/netns/${netnsName(HOST)}`,
        `--machine=fleet-systemd-${process.pid}`,
        "--console=pipe",
        `--bind-ro=${join(dir, "sshd.conf")}:/etc/ssh/sshd_config.d/fleet.conf`,
        `--bind-ro=${join(dir, "host_key")}:/etc/ssh/fleet_host_key`,
        `--bind-ro=${join(dir, "authorized_keys")}:/etc/ssh/fleet_authorized_keys`,
        "--boot",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    nspawn.stdout?.on("data", (b: Buffer) => (nspawnLog += b.toString()));
    nspawn.stderr?.on("data", (b: Buffer) => (nspawnLog += b.toString()));
    nspawn.on("error", (e) => (nspawnLog += `spawn failed: ${e.message}\n`));

    // Bounded wait for the container's sshd, then for systemd to finish booting.
    let last: RunResult | undefined;
    for (let i = 0; i < 120 && nspawn.exitCode === null; i++) {
      last = await ssh("systemctl is-system-running --wait", undefined, 90_000);
      if (last.stdout.trim() === "running" || last.stdout.trim() === "degraded") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (!last || !["running", "degraded"].includes(last.stdout.trim())) {
      throw new Error(`the container did not boot (nspawn exit ${nspawn.exitCode}); last ssh: ${JSON.stringify(last)}\n${nspawnLog}`);
    }
    host = defineHost("puck", { address: ADDRESSES[HOST], port: SSH_PORT, user: "root", hostKey, services: "systemd" }, fleet.hosts[HOST].privateKey);
    runner = { run: (_host, script, stdin, timeoutMs) => ssh(script, stdin, timeoutMs) };
  }, 300_000);

  afterAll(async () => {
    if (nspawn && nspawn.exitCode === null) {
      // nspawn turns SIGTERM into an orderly poweroff of the container.
      const exited = new Promise<void>((r) => nspawn!.once("exit", () => r()));
      nspawn.kill("SIGTERM");
      const timer = setTimeout(() => nspawn?.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    await fleet?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it("boots systemd as PID 1 from the Debian tree", async () => {
    expect((await sh("cat /proc/1/comm")).trim()).toBe("systemd");
    expect(await sh("systemctl --version | head -n 1")).toMatch(/^systemd 252 /);
    expect((await sh(". /etc/os-release; echo $VERSION_CODENAME")).trim()).toBe("bookworm");
  });

  it("deploys Daedalus's unit: verified, started, enabled, running as daedalus", async () => {
    deployed = await build(program());
    // The user, the directory and the .env first; then the binary the unit starts (verify wants it); then the unit.
    const setup = await applyDiff(runner, undefined, deployed, 120_000, outside(deployed, SETUP));
    expect(setup.ran).toEqual(["daedalus-user-useradd", "daedalus-dirs-install", "daedalus-env"]);
    await sh(`${release(R1)}\nln -sfn releases/${R1} /srv/daedalus/current`);
    const applied = await applyDiff(runner, undefined, deployed, 120_000, outside(deployed, UNIT));
    // No restart of its own: enable --now starts it on a fresh host.
    expect(applied.ran).toEqual(["daedalus-api-unit", "daedalus-api-enable"]);

    expect((await sh("systemctl is-active daedalus-api.service; systemctl is-enabled daedalus-api.service")).split("\n")).toEqual(["active", "enabled", ""]);
    expect(await sh("cat /etc/systemd/system/daedalus-api.service")).toContain(`ExecStart=/srv/daedalus/current/venv/bin/uvicorn daedalus.main:app --host 127.0.0.1 --port ${UVICORN} --workers 2`);
    expect(await where()).toBe(`/srv/daedalus/releases/${R1}/backend\n`);
    expect(await health()).toBe('{"status": "ok"}\n');
    const pid = await mainPid();
    expect((await sh(`ps -o user= -p ${pid}`)).trim()).toBe("daedalus");
    expect(await sh("journalctl -u daedalus-api.service -o cat --no-pager")).toContain(`daedalus stand-in on 127.0.0.1:${UVICORN}, 2 workers, as daedalus in /srv/daedalus/releases/${R1}/backend`);
  });

  it("an unchanged program runs nothing", async () => {
    const again = await build(program());
    expect(changedCommands(deployed, again)).toEqual([]);
  });

  it("a new revision alone runs nothing of the unit: it is not restarted on its own (the activation restarts it)", async () => {
    const before = await mainPid();
    const next = await build(program({ ref: "v1.4.3" }));
    const skip = outside(next, DEPLOYED);
    expect(changedCommands(deployed, next).filter((n) => !skip.has(n))).toEqual([]);
    expect(changedCommands(deployed, next)).toContain("daedalus-activate-command");
    expect(await mainPid()).toBe(before);
    deployed = next;
  });

  it("activate: a release whose health fails is swapped back and the previous one serves (asked over HTTP); a healthy one goes live", async () => {
    await sh(`cat > /usr/local/bin/curl <<'EOF'\n${CURL_SHIM}EOF\nchmod 0755 /usr/local/bin/curl`);
    await sh(`install -d /srv/nginx-stand-in/api && echo '{"status": "ok"}' > /srv/nginx-stand-in/api/health && echo '<!doctype html>' > /srv/nginx-stand-in/index.html && busybox httpd -p 127.0.0.1:${NGINX} -h /srv/nginx-stand-in`);
    await sh(`${release(R2, '{"status": "error"}')}\n${release(R3)}`);
    const activate = outside(deployed, ["daedalus-activate"]);
    const before = await mainPid();

    await sh(`echo ${R2} > /srv/daedalus/releases/.target`);
    const err = await applyDiff(runner, undefined, deployed, 400_000, activate).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeployError);
    const failure = err as DeployError;
    expect(failure.command.name).toBe("daedalus-activate-command");
    expect(failure.message).toContain(`fleet: check api-health failed on puck: release ${R2} of Daedalus is not healthy`);
    expect(failure.message).toContain(`fleet: Daedalus: rolled back: current -> release ${R1} again (its code and its env), restarted; release ${R1} serves`);
    // R2 really ran (systemd restarted the unit in it), and R1 serves again.
    expect(await sh("journalctl -u daedalus-api.service -o cat --no-pager")).toContain(`as daedalus in /srv/daedalus/releases/${R2}/backend`);
    expect(await where()).toBe(`/srv/daedalus/releases/${R1}/backend\n`);
    expect(await health()).toBe('{"status": "ok"}\n');
    expect((await sh("readlink /srv/daedalus/current")).trim()).toBe(`releases/${R1}`);
    expect(await mainPid()).not.toBe(before);

    await sh(`echo ${R3} > /srv/daedalus/releases/.target`);
    const ok = await applyDiff(runner, undefined, deployed, 400_000, activate);
    expect(ok.ran).toEqual(["daedalus-activate-command"]);
    expect(await where()).toBe(`/srv/daedalus/releases/${R3}/backend\n`);
    expect((await sh("readlink /srv/daedalus/current; cat /srv/daedalus/releases/.previous")).split("\n")).toEqual([`releases/${R3}`, R1, ""]);
    expect((await sh("systemctl is-active daedalus-api.service")).trim()).toBe("active");
  });

  it("a changed unit is installed and reloaded without a restart; the activation restarts it once, on the live release, with the new ExecStart", async () => {
    const before = await mainPid();
    const next = await build(program({ ref: "v1.4.3", workers: 3 }));
    const applied = await applyDiff(runner, deployed, next, 120_000, outside(next, DEPLOYED));
    expect(applied.ran).toEqual(["daedalus-api-unit"]);
    expect(await mainPid()).toBe(before);
    expect((await sh("systemctl show -P NeedDaemonReload daedalus-api.service")).trim()).toBe("no");
    const activated = await applyDiff(runner, deployed, next, 400_000, outside(next, ["daedalus-activate"]));
    expect(activated.ran).toEqual(["daedalus-activate-command"]);
    const pid = await mainPid();
    expect(pid).not.toBe(before);
    // What systemd runs now, and what the stand-in was started with (it logs its arguments).
    expect(await sh("systemctl show -P ExecStart daedalus-api.service")).toContain(`argv[]=/srv/daedalus/current/venv/bin/uvicorn daedalus.main:app --host 127.0.0.1 --port ${UVICORN} --workers 3 ;`);
    expect(await sh(`journalctl _PID=${pid} -o cat --no-pager`)).toContain(`daedalus stand-in on 127.0.0.1:${UVICORN}, 3 workers, as daedalus`);
    expect((await sh(`readlink /srv/daedalus/current`)).trim()).toBe(`releases/${R3}`);
    deployed = next;
  });

  it("a bad unit is refused with systemd's own message; the old unit stays and keeps running", async () => {
    const good = await sh("cat /etc/systemd/system/daedalus-api.service");
    const before = await mainPid();
    const bad = good.replace("Restart=always", "Restart=sometimes");
    expect(bad).not.toBe(good);
    const badProgram = await build(() => {
      const parent = new pulumi.ComponentResource("fleet:test:Ouranos", "ouranos");
      new SystemdUnit("daedalus-api", { host, name: "daedalus-api.service", content: bad }, { parent });
    });
    const err = await applyDiff(runner, deployed, badProgram, 120_000, outside(badProgram, UNIT)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DeployError);
    const failure = err as DeployError;
    expect(failure.command.name).toBe("daedalus-api-unit");
    // systemd-analyze's own words, and what the helper did about it.
    expect(failure.message).toMatch(/daedalus-api\.service:\d+: Failed to parse service restart specifier, ignoring: sometimes/);
    expect(failure.message).toContain("systemd-analyze verify refused");
    expect(await sh("cat /etc/systemd/system/daedalus-api.service")).toBe(good);
    expect(await mainPid()).toBe(before);
    expect((await sh("systemctl is-active daedalus-api.service")).trim()).toBe("active");
    expect((await sh("systemctl show -P NeedDaemonReload daedalus-api.service")).trim()).toBe("no");
    expect(await health()).toBe('{"status": "ok"}\n');
  });

  it("destroy stops, disables and removes the unit", async () => {
    const pid = await mainPid();
    const ran = await destroyAll(runner, deployed, outside(deployed, UNIT));
    expect(ran).toEqual(["daedalus-api-enable", "daedalus-api-unit"]);
    const r = await ssh(`systemctl is-active daedalus-api.service; test -e /etc/systemd/system/daedalus-api.service && echo present || echo absent; kill -0 ${pid} 2>/dev/null && echo alive || echo gone; systemctl cat daedalus-api.service`);
    expect(r.stdout).toBe("inactive\nabsent\ngone\n");
    expect(r.stderr).toContain("No files found for daedalus-api.service.");
  });
});
