/**
 * Test hosts for the end-to-end suite (DESIGN.md, "Testing layers", item 5).
 *
 * Each host is a network namespace `fleet-<name>` on the bridge `fleetbr0`
 * (10.231.0.0/24) with its own mount (and UTS) namespace in which a real sshd and
 * the host's real daemons run. Per-host directories under the work dir are bind-mounted
 * over /etc/<daemon>, /etc/hosts, /run, /srv, /opt, ..., so a script run over SSH sees
 * and reloads exactly what its daemon sees. Nothing is routed beyond the /24.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanupPlan, driveAsync, driveSync } from "./cleanup";
import { assertForwardAccept, cgroupMountLines, cgroupMounts, composePluginPath, DOCKER_SOCKET, dockerdArgv, REGISTRY, registryConfig } from "./docker";
import {
  ADDRESSES,
  alertmanagerConfig,
  BRIDGE,
  BRIDGE_ADDRESS,
  caddyfile,
  CADDY_BODY,
  DOMAIN,
  haproxyConfig,
  HOST_NAMES,
  type HostName,
  hostsFile,
  netnsName,
  nginxSite,
  pgHba,
  POSTGRES_BIN,
  POSTGRES_PORT,
  postgresqlConf,
  PRIVATE_DIRS,
  prometheusConfig,
  sshdConfig,
  vethName,
} from "./layout";
import { acquireLock, releaseLock, updateLock, WORKDIR_MARKER } from "./lock";
import {
  BASE_ENV,
  type CmdResult,
  isAlive,
  lastLines,
  liveChildren,
  mustRun,
  type Probe,
  runCmd,
  shq,
  signal,
  tailFile,
  WaitAborted,
  waitFor,
} from "./proc";

export interface TestHost {
  readonly name: HostName;
  /** 10.231.0.N: what an SSH client in the root namespace dials. */
  readonly address: string;
  /** `<name>.incus`, resolvable inside every host through its /etc/hosts. */
  readonly fqdn: string;
  readonly port: 22;
  readonly user: "root";
  /** Public host key as in known_hosts without the host field: `ssh-ed25519 AAAA...`. */
  readonly hostKey: string;
  /** The fleet's client private key (OpenSSH format), accepted by every host. */
  readonly privateKey: string;
  /** known_hosts file pinning every host's key (by address and name). */
  readonly knownHostsFile: string;
  /** File holding `privateKey` (mode 0600). */
  readonly identityFile: string;
  /** Real directory behind the host's private dirs: `${rootDir}/etc/haproxy` is its /etc/haproxy. */
  readonly rootDir: string;
  /** Logs of sshd and the daemons (sshd.log, haproxy.log, postgresql.log, ...). */
  readonly logDir: string;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ExecOptions {
  readonly stdin?: string;
  /** @default 60_000 */
  readonly timeoutMs?: number;
  /** Extra environment variables (on top of a minimal root environment). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface CurlOptions {
  /** @default "GET" */
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Request body (sent with --data-binary). */
  readonly body?: string;
  /** @default 10_000 */
  readonly timeoutMs?: number;
}

export interface CurlResult {
  /** HTTP status; 0 when no response arrived (see `exitCode` and `stderr`). */
  readonly status: number;
  readonly body: string;
  /** Response headers, lower-cased names. */
  readonly headers: Readonly<Record<string, readonly string[]>>;
  /** curl's exit code (7: connection refused, 28: timeout, ...). */
  readonly exitCode: number;
  readonly stderr: string;
}

export interface PostgresAdmin {
  readonly host: string;
  readonly port: number;
  readonly adminUser: "postgres";
  readonly adminPassword: string;
}

export interface SshOverrides {
  readonly knownHostsFile?: string;
  readonly identityFile?: string;
}

export interface Fleet {
  readonly workDir: string;
  /** Hosts that were started (accessing another name in `hosts` throws). */
  readonly names: readonly HostName[];
  readonly hosts: Readonly<Record<HostName, TestHost>>;
  /** Admin credentials of portia's PostgreSQL (throws when portia was not started). */
  readonly postgres: PostgresAdmin;
  /** `10.231.0.14:5000`, puck's registry (throws unless started with `docker: true`). */
  readonly registry: string;
  /** The fleet's client public key (`ssh-ed25519 AAAA... comment`). */
  readonly clientPublicKey: string;
  /** Run `command` over real SSH; the remote login shell runs it as-is. stdin is piped through. */
  run(host: HostName, command: string, stdin?: string, timeoutMs?: number): Promise<RunResult>;
  /** The `ssh` arguments `run` uses, up to and including `user@address` (append `--`, command). */
  sshArgs(host: HostName, overrides?: SshOverrides): string[];
  /** Run argv directly inside the host's mount, network and UTS namespaces (no SSH). */
  exec(host: HostName, argv: readonly string[], opts?: ExecOptions): Promise<RunResult>;
  /** curl from inside a host's namespaces (names resolve through the fleet's /etc/hosts). */
  curl(fromHost: HostName, url: string, opts?: CurlOptions): Promise<CurlResult>;
  /** Live processes in the host's network namespace. */
  pids(host: HostName): Promise<number[]>;
  /** Kill everything, delete namespaces, veths, bridge and the work dir. Idempotent. */
  teardown(): Promise<void>;
}

export interface StartOptions {
  readonly names: readonly HostName[];
  /** Created if missing (must be empty) and removed by teardown. @default a new dir in the OS tmp dir */
  readonly workDir?: string;
  /** Bound on each readiness wait. @default 30_000 */
  readonly readyTimeoutMs?: number;
  /**
   * Run a real Docker engine on puck (dockerd in puck's namespaces, compose v2 plugin,
   * a registry on puck's address); see ./docker.ts. Needs scripts/docker-deps.sh and
   * scripts/build-compose.sh. @default false
   */
  readonly docker?: boolean;
}

const SSH_READY_MS = 20_000;

interface HostState {
  readonly name: HostName;
  readonly dir: string;
  readonly rootDir: string;
  readonly logDir: string;
  readonly hostKeyFile: string;
  hostKey: string;
  sshd?: ChildProcess;
  sshdExit?: string;
}

function userIds(user: string): { uid: number; gid: number } {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new Error(`user ${user} does not exist (is the postgresql package installed? see scripts/e2e-deps.sh)`);
}

function pubKeyWithoutComment(pub: string): string {
  const [type, key] = pub.trim().split(/\s+/);
  if (!type || !key) throw new Error(`malformed public key: ${pub}`);
  return `${type} ${key}`;
}

const CURL_MARK = "__FLEET_CURL__";

class FleetImpl implements Fleet {
  readonly names: HostName[];
  readonly hosts: Record<HostName, TestHost>;
  clientPublicKey = "";
  private readonly states = new Map<HostName, HostState>();
  private readonly pgPassword = randomBytes(18).toString("hex");
  private privateKey = "";
  private teardownPromise: Promise<void> | undefined;
  private tornDownSync = false;
  readonly identityFile: string;
  readonly knownHostsFile: string;

  constructor(
    readonly workDir: string,
    names: readonly HostName[],
    private readonly readyTimeoutMs: number,
    private readonly withDocker: boolean,
  ) {
    this.names = [...names];
    this.identityFile = join(workDir, "client_ed25519");
    this.knownHostsFile = join(workDir, "known_hosts");
    this.hosts = {} as Record<HostName, TestHost>;
    for (const name of HOST_NAMES) {
      if (!names.includes(name)) {
        Object.defineProperty(this.hosts, name, {
          enumerable: false,
          get: () => {
            throw new Error(`host ${name} was not started (startHosts names: ${this.names.join(", ")})`);
          },
        });
        continue;
      }
      const dir = join(workDir, name);
      const state: HostState = {
        name,
        dir,
        rootDir: join(dir, "root"),
        logDir: join(dir, "log"),
        hostKeyFile: join(dir, "ssh_host_ed25519_key"),
        hostKey: "",
      };
      this.states.set(name, state);
      Object.defineProperty(this.hosts, name, {
        enumerable: true,
        get: (): TestHost => ({
          name,
          address: ADDRESSES[name],
          fqdn: `${name}.${DOMAIN}`,
          port: 22,
          user: "root",
          hostKey: state.hostKey,
          privateKey: this.privateKey,
          knownHostsFile: this.knownHostsFile,
          identityFile: this.identityFile,
          rootDir: state.rootDir,
          logDir: state.logDir,
        }),
      });
    }
  }

  get postgres(): PostgresAdmin {
    if (!this.states.has("portia")) throw new Error("PostgreSQL runs on portia, which was not started");
    return { host: ADDRESSES.portia, port: POSTGRES_PORT, adminUser: "postgres", adminPassword: this.pgPassword };
  }

  get registry(): string {
    if (!this.withDocker) throw new Error("no registry: the fleet was started without docker: true");
    return REGISTRY;
  }

  private state(host: HostName): HostState {
    const s = this.states.get(host);
    if (!s) throw new Error(`host ${host} was not started (startHosts names: ${this.names.join(", ")})`);
    return s;
  }

  private sshdPid(host: HostName): number {
    const s = this.state(host);
    const pid = s.sshd?.pid;
    if (pid === undefined || s.sshdExit !== undefined) {
      throw new Error(`sshd of ${host} is not running (${s.sshdExit ?? "never started"})\n${tailFile(join(s.logDir, "sshd.log"))}`);
    }
    return pid;
  }

  // ---- public API ----------------------------------------------------------

  private assertUp(): void {
    // After teardown 10.231.0.0/24 has no route of its own and would follow the
    // default route off the machine: refuse rather than dial out.
    if (this.teardownPromise || this.tornDownSync) throw new Error("the test fleet was torn down");
  }

  sshArgs(host: HostName, overrides: SshOverrides = {}): string[] {
    this.assertUp();
    this.state(host);
    return [
      "-F",
      "/dev/null",
      "-i",
      overrides.identityFile ?? this.identityFile,
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "IdentityAgent=none",
      "-o",
      `UserKnownHostsFile=${overrides.knownHostsFile ?? this.knownHostsFile}`,
      "-o",
      "GlobalKnownHostsFile=/dev/null",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      "ConnectTimeout=5",
      "-o",
      "LogLevel=ERROR",
      "-p",
      "22",
      `root@${ADDRESSES[host]}`,
    ];
  }

  async run(host: HostName, command: string, stdin?: string, timeoutMs = 60_000): Promise<RunResult> {
    return runCmd("ssh", [...this.sshArgs(host), "--", command], { ...(stdin !== undefined ? { input: stdin } : {}), timeoutMs });
  }

  async exec(host: HostName, argv: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    this.assertUp();
    if (argv.length === 0) throw new Error("exec needs a command");
    const pid = this.sshdPid(host);
    return runCmd("nsenter", ["-t", String(pid), "-m", "-n", "-u", "--", ...argv], {
      ...(opts.stdin !== undefined ? { input: opts.stdin } : {}),
      timeoutMs: opts.timeoutMs ?? 60_000,
      env: { ...BASE_ENV, ...opts.env },
    });
  }

  async curl(fromHost: HostName, url: string, opts: CurlOptions = {}): Promise<CurlResult> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const argv = [
      "curl",
      "-sS",
      "--noproxy",
      "*",
      "--max-time",
      String(timeoutMs / 1000),
      "-o",
      "-",
      "-w",
      `%{stderr}\n${CURL_MARK}%{http_code}\n%{header_json}`,
    ];
    if (opts.method) argv.push("-X", opts.method);
    for (const [k, v] of Object.entries(opts.headers ?? {})) argv.push("-H", `${k}: ${v}`);
    if (opts.body !== undefined) argv.push("--data-binary", "@-");
    argv.push("--", url);
    const r = await this.exec(fromHost, argv, {
      ...(opts.body !== undefined ? { stdin: opts.body } : {}),
      timeoutMs: timeoutMs + 5_000,
    });
    const at = r.stderr.lastIndexOf(`\n${CURL_MARK}`);
    if (at < 0) return { status: 0, body: r.stdout, headers: {}, exitCode: r.code, stderr: r.stderr };
    const [code = "0", ...json] = r.stderr.slice(at + CURL_MARK.length + 1).split("\n");
    let headers: Record<string, string[]> = {};
    try {
      const parsed: unknown = JSON.parse(json.join("\n") || "{}");
      if (parsed && typeof parsed === "object") headers = parsed as Record<string, string[]>;
    } catch {
      // no headers (no response)
    }
    return { status: Number(code), body: r.stdout, headers, exitCode: r.code, stderr: r.stderr.slice(0, at) };
  }

  async pids(host: HostName): Promise<number[]> {
    const r = await runCmd("ip", ["netns", "pids", netnsName(host)], { timeoutMs: 10_000 });
    return r.stdout
      .split(/\s+/)
      .map(Number)
      .filter((p) => Number.isInteger(p) && p > 0 && isAlive(p));
  }

  teardown(): Promise<void> {
    this.teardownPromise ??= this.doTeardown();
    return this.teardownPromise;
  }

  // ---- teardown ------------------------------------------------------------

  private ownPids(): number[] {
    const pids: number[] = [];
    for (const s of this.states.values()) {
      const pid = s.sshd?.pid;
      if (pid !== undefined && s.sshd?.exitCode === null && s.sshd.signalCode === null) pids.push(pid);
    }
    return pids;
  }

  private killInFlight(): void {
    for (const child of liveChildren) {
      if (child.pid !== undefined) signal(child.pid, "SIGKILL");
    }
  }

  private cleanupInput(problems: string[]): Parameters<typeof cleanupPlan>[0] {
    const keep = process.env.FLEET_E2E_KEEP === "1";
    if (keep) process.stderr.write(`fleet e2e: FLEET_E2E_KEEP=1, keeping ${this.workDir}\n`);
    return { pids: () => this.ownPids(), ...(keep ? {} : { workDir: this.workDir }), problems };
  }

  private async doTeardown(): Promise<void> {
    if (this.tornDownSync) return;
    const problems: string[] = [];
    this.killInFlight();
    await driveAsync(cleanupPlan(this.cleanupInput(problems)));
    releaseLock();
    unregister(this);
    if (problems.length > 0) throw new Error(`teardown left things behind:\n${problems.join("\n")}`);
  }

  /** For process exit and signals: nothing can be awaited there. */
  teardownSync(): void {
    if (this.tornDownSync) return;
    this.tornDownSync = true;
    const problems: string[] = [];
    this.killInFlight();
    driveSync(cleanupPlan(this.cleanupInput(problems)));
    releaseLock();
    unregister(this);
    if (problems.length > 0) process.stderr.write(`fleet e2e teardown left things behind:\n${problems.join("\n")}\n`);
  }

  // ---- start-up ------------------------------------------------------------

  async start(): Promise<void> {
    mkdirSync(this.workDir, { recursive: true, mode: 0o755 });
    // postgres must be able to traverse to its data dir
    chmodSync(this.workDir, 0o755);
    writeFileSync(join(this.workDir, WORKDIR_MARKER), "");
    updateLock(this.workDir);

    await this.makeKeys();
    await this.makeNetwork();
    const results = await Promise.allSettled(this.names.map((h) => this.startHost(h)));
    const failures = results.flatMap((r, i) => (r.status === "rejected" ? [`[${this.names[i]}] ${(r.reason as Error).message}`] : []));
    if (failures.length > 0) throw new Error(failures.join("\n\n"));
  }

  private async makeKeys(): Promise<void> {
    const keygen = (file: string, comment: string): Promise<CmdResult> =>
      mustRun("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { what: "generating an SSH key", timeoutMs: 15_000 });
    await Promise.all([
      keygen(this.identityFile, "fleet-e2e-client"),
      ...[...this.states.values()].map(async (s) => {
        mkdirSync(s.dir, { recursive: true, mode: 0o755 });
        await keygen(s.hostKeyFile, `fleet-e2e-${s.name}`);
        s.hostKey = pubKeyWithoutComment(readFileSync(`${s.hostKeyFile}.pub`, "utf8"));
      }),
    ]);
    this.privateKey = readFileSync(this.identityFile, "utf8");
    this.clientPublicKey = readFileSync(`${this.identityFile}.pub`, "utf8").trim();
    writeFileSync(join(this.workDir, "authorized_keys"), `${this.clientPublicKey}\n`, { mode: 0o600 });
    const known = [...this.states.values()].map((s) => `${ADDRESSES[s.name]},${s.name}.${DOMAIN},${s.name} ${s.hostKey}`);
    writeFileSync(this.knownHostsFile, `${known.join("\n")}\n`, { mode: 0o644 });
  }

  private async makeNetwork(): Promise<void> {
    const ip = (...args: string[]): Promise<CmdResult> => mustRun("ip", args, { what: "creating the test network", timeoutMs: 10_000 });
    await ip("link", "add", BRIDGE, "type", "bridge");
    await ip("addr", "add", `${BRIDGE_ADDRESS}/24`, "dev", BRIDGE);
    await ip("link", "set", BRIDGE, "up");
    for (const h of this.names) {
      const ns = netnsName(h);
      await ip("netns", "add", ns);
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("link", "add", vethName(h), "type", "veth", "peer", "name", "eth0", "netns", ns);
      await ip("link", "set", vethName(h), "master", BRIDGE);
      await ip("link", "set", vethName(h), "up");
      await ip("-n", ns, "addr", "add", `${ADDRESSES[h]}/24`, "dev", "eth0");
      await ip("-n", ns, "link", "set", "eth0", "up");
    }
  }

  /** The per-host directory tree and the initial configs of its daemons. */
  private prepareFiles(s: HostState): void {
    const r = (p: string): string => join(s.rootDir, p);
    for (const d of PRIVATE_DIRS) mkdirSync(r(d), { recursive: true, mode: 0o755 });
    mkdirSync(s.logDir, { recursive: true, mode: 0o755 });

    // nginx: Debian's tree, without the default site and with empty include dirs.
    cpSync("/etc/nginx", r("/etc/nginx"), { recursive: true, verbatimSymlinks: true });
    for (const d of ["conf.d", "sites-enabled"]) {
      rmSync(r(`/etc/nginx/${d}`), { recursive: true, force: true });
      mkdirSync(r(`/etc/nginx/${d}`), { mode: 0o755 });
    }
    rmSync(r("/etc/nginx/sites-available/default"), { force: true });
    mkdirSync(r("/etc/nginx/sites-available"), { recursive: true, mode: 0o755 });

    chmodSync(r("/root"), 0o700);
    for (const dot of ["bashrc", "profile"]) {
      const skel = `/usr/share/base-files/dot.${dot}`;
      if (existsSync(skel)) cpSync(skel, r(`/root/.${dot}`));
    }
    writeFileSync(r("/etc/hosts"), hostsFile(), { mode: 0o644 });
    mkdirSync(r("/run/sshd"), { recursive: true, mode: 0o755 });
    mkdirSync(r("/run/lock"), { recursive: true });
    chmodSync(r("/run/lock"), 0o1777);
    chmodSync(r("/run"), 0o755);

    switch (s.name) {
      case "titania":
        writeFileSync(r("/etc/haproxy/haproxy.cfg"), haproxyConfig());
        writeFileSync(r("/etc/haproxy/hosts.map"), "");
        mkdirSync(r("/etc/haproxy/conf.d"));
        // Debian's (and the HAProxy component's) admin socket lives in /run/haproxy.
        mkdirSync(r("/run/haproxy"));
        break;
      case "portia": {
        const pg = userIds("postgres");
        mkdirSync(r("/run/postgresql"), { mode: 0o2775 });
        chownSync(r("/run/postgresql"), pg.uid, pg.gid);
        const data = join(s.dir, "pgdata");
        mkdirSync(data, { mode: 0o700 });
        chownSync(data, pg.uid, pg.gid);
        const log = join(s.logDir, "postgresql.log");
        closeSync(openSync(log, "a"));
        chownSync(log, pg.uid, pg.gid);
        const pw = join(s.dir, "pgpass.tmp");
        writeFileSync(pw, `${this.pgPassword}\n`, { mode: 0o600 });
        chownSync(pw, pg.uid, pg.gid);
        break;
      }
      case "prospero":
        writeFileSync(r("/etc/prometheus/prometheus.yml"), prometheusConfig());
        mkdirSync(r("/etc/prometheus/rules.d"));
        writeFileSync(r("/etc/prometheus/alertmanager.yml"), alertmanagerConfig());
        mkdirSync(r("/var/lib/prometheus/alertmanager"));
        break;
      case "puck":
        writeFileSync(r("/etc/nginx/sites-available/fleet-harness"), nginxSite());
        symlinkSync("/etc/nginx/sites-available/fleet-harness", r("/etc/nginx/sites-enabled/fleet-harness"));
        writeFileSync(r("/etc/caddy/Caddyfile"), caddyfile());
        mkdirSync(r("/var/lib/caddy/.local/share"), { recursive: true });
        mkdirSync(r("/var/lib/caddy/.config"), { recursive: true });
        if (this.withDocker) {
          // root's docker CLI finds compose v2 as a plugin in ~/.docker/cli-plugins.
          mkdirSync(r("/root/.docker/cli-plugins"), { recursive: true, mode: 0o700 });
          symlinkSync(composePluginPath(), r("/root/.docker/cli-plugins/docker-compose"));
          mkdirSync(join(s.dir, "docker", "registry"), { recursive: true });
          writeFileSync(join(s.dir, "docker", "registry.yml"), registryConfig(join(s.dir, "docker", "registry")));
        }
        break;
    }
  }

  private async startHost(h: HostName): Promise<void> {
    const s = this.state(h);
    this.prepareFiles(s);
    if (h === "portia") await this.initPostgres(s);
    await this.startSshd(s);
    switch (h) {
      case "titania":
        await this.startHaproxy(s);
        break;
      case "portia":
        await this.startPostgres(s);
        break;
      case "prospero":
        await Promise.all([this.startPrometheus(s), this.startAlertmanager(s)]);
        break;
      case "puck":
        await Promise.all([this.startNginx(s), this.startCaddy(s), ...(this.withDocker ? [this.startDocker(s)] : [])]);
        break;
    }
  }

  private async startSshd(s: HostState): Promise<void> {
    const cfg = join(s.dir, "sshd_config");
    writeFileSync(
      cfg,
      sshdConfig(s.name, { hostKey: s.hostKeyFile, authorizedKeys: join(this.workDir, "authorized_keys") }),
    );
    const log = join(s.logDir, "sshd.log");
    const startLog = join(s.logDir, "namespace.log");
    const binds: [string, string][] = [...PRIVATE_DIRS, "/etc/hosts"].map((d) => [join(s.rootDir, d), d]);
    binds.push([join(s.rootDir, "/run"), "/run"]); // last: the sources above are outside /run
    for (const [, target] of binds) {
      // Mount points must exist on the real filesystem; the packages create them.
      if (!existsSync(target)) mkdirSync(target, { recursive: true, mode: 0o755 });
    }
    const script = [
      "set -e",
      `hostname ${s.name}`,
      ...binds.map(([src, dst]) => `mount --bind ${shq(src)} ${shq(dst)}`),
      ...(s.name === "puck" && this.withDocker ? this.dockerMountLines() : []),
      `/usr/sbin/sshd -t -f ${shq(cfg)}`,
      `exec /usr/sbin/sshd -D -f ${shq(cfg)} -E ${shq(log)}`,
    ].join("\n");
    const fd = openSync(startLog, "a");
    let child: ChildProcess;
    try {
      child = spawn("ip", ["netns", "exec", netnsName(s.name), "unshare", "-m", "-u", "--propagation", "private", "/bin/sh", "-c", script], {
        detached: true,
        stdio: ["ignore", fd, fd],
        env: BASE_ENV,
      });
    } finally {
      closeSync(fd);
    }
    s.sshd = child;
    child.on("exit", (code, sig) => {
      s.sshdExit = sig ? `killed by ${sig}` : `exited with code ${code}`;
    });
    child.on("error", (e) => {
      s.sshdExit = `failed to start: ${e.message}`;
    });
    child.unref();
    const diagnostics = (): string => `${tailFile(startLog)}\n${tailFile(log)}`;
    await waitFor(
      `sshd of ${s.name} to accept the fleet key on ${ADDRESSES[s.name]}:22`,
      SSH_READY_MS,
      async (): Promise<Probe<true>> => {
        if (s.sshdExit !== undefined) throw new WaitAborted(`sshd ${s.sshdExit}`);
        const r = await this.run(s.name, "true", undefined, 10_000);
        return r.code === 0 ? { ok: true, value: true } : { ok: false, detail: `ssh exited ${r.code}: ${lastLines(r.stderr, 5)}` };
      },
      diagnostics,
    );
  }

  /**
   * For dockerd inside puck's mount namespace: the cgroup hierarchies `ip netns exec`
   * hid, and Debian's docker client as `docker` (a machine may have another one in
   * /usr/local/bin, earlier on PATH; puck should run the packaged pair).
   */
  private dockerMountLines(): string[] {
    return [
      ...cgroupMountLines(cgroupMounts()),
      "if [ -e /usr/local/bin/docker ]; then mount --bind /usr/bin/docker /usr/local/bin/docker; fi",
    ];
  }

  /** dockerd and the registry on puck; the root namespace must keep forwarding throughout. */
  private async startDocker(s: HostState): Promise<void> {
    await assertForwardAccept("before starting dockerd on puck");
    const dockerLog = join(s.logDir, "dockerd.log");
    const registryLog = join(s.logDir, "registry.log");
    mkdirSync(join(s.dir, "docker", "data"), { recursive: true, mode: 0o711 });
    mkdirSync(join(s.dir, "docker", "exec"), { recursive: true, mode: 0o700 });
    await this.inHost(s, "dockerd", dockerLog, `setsid ${dockerdArgv(s.dir).map(shq).join(" ")} &`);
    await this.inHost(s, "docker-registry", registryLog, `setsid docker-registry serve ${shq(join(s.dir, "docker", "registry.yml"))} &\necho $! > /run/registry.pid`);
    await waitFor(
      `dockerd on puck to answer on ${DOCKER_SOCKET}`,
      this.readyTimeoutMs,
      async (): Promise<Probe<true>> => {
        const r = await this.exec(s.name, ["/usr/bin/docker", "info", "--format", "{{.Driver}}"], { timeoutMs: 10_000 });
        return r.code === 0 ? { ok: true, value: true } : { ok: false, detail: `docker info exited ${r.code}: ${lastLines(r.stderr, 3)}` };
      },
      () => tailFile(dockerLog),
    );
    await this.waitHttp(s, "the registry", `http://${REGISTRY}/v2/`, (r) => r.status === 200, [registryLog]);
    await assertForwardAccept("after starting dockerd on puck");
  }

  /** Run a start script inside the host's namespaces, its output appended to `log`. */
  private async inHost(s: HostState, what: string, log: string, script: string, env: Record<string, string> = {}): Promise<void> {
    const body = `exec >>${shq(log)} 2>&1 </dev/null\nset -e\n${script}`;
    const r = await this.exec(s.name, ["/bin/sh", "-c", body], { timeoutMs: this.readyTimeoutMs, env });
    if (r.code !== 0) {
      throw new Error(`starting ${what} on ${s.name} failed (exit ${r.code})\n${tailFile(log)}`);
    }
  }

  private async waitHttp(s: HostState, what: string, url: string, expect: (r: CurlResult) => boolean, logs: string[], headers: Record<string, string> = {}): Promise<void> {
    await waitFor(
      `${what} on ${s.name} (${url})`,
      this.readyTimeoutMs,
      async (): Promise<Probe<true>> => {
        const r = await this.curl(s.name, url, { headers, timeoutMs: 3_000 });
        return expect(r)
          ? { ok: true, value: true }
          : { ok: false, detail: `HTTP ${r.status}, curl exit ${r.exitCode}: ${(r.stderr.trim() || r.body).slice(0, 300)}` };
      },
      () => logs.map((l) => tailFile(l)).join("\n"),
    );
  }

  private async startHaproxy(s: HostState): Promise<void> {
    const log = join(s.logDir, "haproxy.log");
    const files = "-f /etc/haproxy/haproxy.cfg -f /etc/haproxy/conf.d";
    await this.inHost(s, "HAProxy", log, `haproxy -c -q ${files}\nhaproxy -W -D -p /run/haproxy.pid ${files}`);
    await this.waitHttp(s, "HAProxy to answer 503 for an unknown host", `http://${ADDRESSES.titania}/`, (r) => r.status === 503, [log], {
      Host: "unknown.invalid",
    });
    await waitFor(
      "HAProxy's admin socket /run/haproxy-admin.sock on titania",
      this.readyTimeoutMs,
      async (): Promise<Probe<true>> => {
        const r = await this.exec(s.name, ["test", "-S", "/run/haproxy-admin.sock"]);
        return r.code === 0 ? { ok: true, value: true } : { ok: false, detail: "not a socket yet" };
      },
      () => tailFile(log),
    );
  }

  private async initPostgres(s: HostState): Promise<void> {
    const data = join(s.dir, "pgdata");
    const pw = join(s.dir, "pgpass.tmp");
    try {
      await mustRun(
        "runuser",
        [
          "-u",
          "postgres",
          "--",
          `${POSTGRES_BIN}/initdb`,
          "-D",
          data,
          "--username=postgres",
          `--pwfile=${pw}`,
          "--auth-local=trust",
          "--auth-host=scram-sha-256",
          "--encoding=UTF8",
          "--locale=C.UTF-8",
          "--no-sync",
          "--no-instructions",
        ],
        { what: `initdb for portia (the work dir must be traversable by the postgres user)`, timeoutMs: 60_000 },
      );
    } finally {
      rmSync(pw, { force: true });
    }
    const pg = userIds("postgres");
    writeFileSync(join(data, "postgresql.conf"), postgresqlConf(), { flag: "a" });
    writeFileSync(join(data, "pg_hba.conf"), pgHba());
    chownSync(join(data, "pg_hba.conf"), pg.uid, pg.gid);
  }

  private async startPostgres(s: HostState): Promise<void> {
    const data = join(s.dir, "pgdata");
    const log = join(s.logDir, "postgresql.log");
    const startLog = join(s.logDir, "pg_ctl.log");
    await this.inHost(
      s,
      "PostgreSQL",
      startLog,
      `runuser -u postgres -- ${POSTGRES_BIN}/pg_ctl -D ${shq(data)} -l ${shq(log)} -w -t ${Math.ceil(this.readyTimeoutMs / 1000)} start`,
    );
    await waitFor(
      `PostgreSQL on portia to accept connections (pg_isready -h ${ADDRESSES.portia} -p ${POSTGRES_PORT})`,
      this.readyTimeoutMs,
      async (): Promise<Probe<true>> => {
        const r = await runCmd(`${POSTGRES_BIN}/pg_isready`, ["-h", ADDRESSES.portia, "-p", String(POSTGRES_PORT), "-t", "2"], { timeoutMs: 5_000 });
        return r.code === 0 ? { ok: true, value: true } : { ok: false, detail: `pg_isready exited ${r.code}: ${r.stdout.trim()}` };
      },
      () => `${tailFile(startLog)}\n${tailFile(log)}`,
    );
  }

  private async startPrometheus(s: HostState): Promise<void> {
    const log = join(s.logDir, "prometheus.log");
    await this.inHost(
      s,
      "Prometheus",
      log,
      [
        "promtool check config /etc/prometheus/prometheus.yml",
        // prometheus has no --pid-file: record the pid of the background process.
        `setsid prometheus --config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/var/lib/prometheus ` +
          `--web.listen-address=${ADDRESSES.prospero}:9090 --web.enable-lifecycle &`,
        "echo $! > /run/prometheus.pid",
      ].join("\n"),
    );
    await this.waitHttp(s, "Prometheus to be ready", `http://${ADDRESSES.prospero}:9090/-/ready`, (r) => r.status === 200, [log]);
  }

  private async startAlertmanager(s: HostState): Promise<void> {
    const log = join(s.logDir, "alertmanager.log");
    await this.inHost(
      s,
      "Alertmanager",
      log,
      [
        "amtool check-config /etc/prometheus/alertmanager.yml",
        // --cluster.listen-address= : no gossip, nothing but the web port.
        `setsid prometheus-alertmanager --config.file=/etc/prometheus/alertmanager.yml --storage.path=/var/lib/prometheus/alertmanager ` +
          `--web.listen-address=${ADDRESSES.prospero}:9093 --cluster.listen-address= &`,
        "echo $! > /run/alertmanager.pid",
      ].join("\n"),
    );
    await this.waitHttp(s, "Alertmanager to be ready", `http://${ADDRESSES.prospero}:9093/-/ready`, (r) => r.status === 200, [log]);
  }

  private async startNginx(s: HostState): Promise<void> {
    const log = join(s.logDir, "nginx.log");
    await this.inHost(s, "nginx", log, "nginx -t -q\nnginx");
    await this.waitHttp(s, "nginx /health", `http://${ADDRESSES.puck}:8080/health`, (r) => r.status === 200, [
      log,
      join(s.rootDir, "/var/log/nginx/error.log"),
    ]);
  }

  private async startCaddy(s: HostState): Promise<void> {
    const log = join(s.logDir, "caddy.log");
    await this.inHost(
      s,
      "Caddy",
      log,
      "caddy start --config /etc/caddy/Caddyfile --adapter caddyfile --pidfile /run/caddy.pid",
      { HOME: "/var/lib/caddy", XDG_DATA_HOME: "/var/lib/caddy/.local/share", XDG_CONFIG_HOME: "/var/lib/caddy/.config" },
    );
    await this.waitHttp(s, "Caddy", `http://${ADDRESSES.puck}:8081/`, (r) => r.status === 200 && r.body.includes(CADDY_BODY), [log]);
  }
}

// ---- process-wide teardown on exit and signals ----------------------------

let active: FleetImpl | undefined;

const onExit = (): void => active?.teardownSync();
const onSignal = (sig: NodeJS.Signals): void => {
  active?.teardownSync();
  unregisterHandlers();
  process.kill(process.pid, sig);
};

function registerHandlers(): void {
  process.on("exit", onExit);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, onSignal);
}

function unregisterHandlers(): void {
  process.off("exit", onExit);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.off(sig, onSignal);
}

function unregister(fleet: FleetImpl): void {
  if (active === fleet) {
    active = undefined;
    unregisterHandlers();
  }
}

/**
 * Create the bridge, one namespace host per name with sshd and its daemons, and wait
 * until every one answers. On failure everything created so far is removed again.
 */
export async function startHosts(opts: StartOptions): Promise<Fleet> {
  const names = [...new Set(opts.names)];
  if (names.length === 0) throw new Error("startHosts needs at least one host name");
  for (const n of names) if (!HOST_NAMES.includes(n)) throw new Error(`unknown host ${String(n)} (one of ${HOST_NAMES.join(", ")})`);
  if (process.getuid?.() !== 0) throw new Error("the e2e harness needs root (network and mount namespaces)");
  if (opts.docker && !names.includes("puck")) throw new Error("docker: true runs dockerd on puck: add puck to names");

  await acquireLock(120_000);
  let workDir: string;
  try {
    if (opts.workDir && existsSync(opts.workDir) && readdirSync(opts.workDir).length > 0) {
      throw new Error(`work dir ${opts.workDir} is not empty (teardown removes it, so it must be the fleet's own)`);
    }
    workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), "fleet-e2e-"));
  } catch (e) {
    releaseLock();
    throw e;
  }
  const fleet = new FleetImpl(workDir, names, opts.readyTimeoutMs ?? 30_000, opts.docker ?? false);
  active = fleet;
  registerHandlers();
  try {
    await fleet.start();
  } catch (e) {
    let cleanup = "partial state removed";
    try {
      await fleet.teardown();
    } catch (t) {
      cleanup = `cleanup failed too: ${(t as Error).message}`;
    }
    throw new Error(`startHosts(${names.join(", ")}) failed (${cleanup}):\n${(e as Error).message}`);
  }
  return fleet;
}
