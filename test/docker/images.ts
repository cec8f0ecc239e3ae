/**
 * Test images, built here and served by puck's registry (no public registry is
 * reachable): a root filesystem holding Debian's static busybox (`busybox-static`) and
 * a few files, `docker import`ed on puck, pushed, and removed from puck's image store
 * so that a deploy has to pull it by digest. Its `httpd` answers the health paths.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Fleet } from "../e2e/harness";
import { shq } from "../e2e/harness/proc";

/** Busybox applets the stand-ins and the tests use inside containers. */
const APPLETS = [
  "sh", "httpd", "wget", "echo", "cat", "sleep", "ls", "mkdir", "date", "env", "tail", "true", "false", "nc", "grep", "printf", "cp", "rm", "kill", "test", "id", "hostname",
  "su", "chown", "chmod", "head", "sed", "tr", "cut", "ps",
];

export interface StandIn {
  /** Files of the image, e.g. `{ "/www/healthz": "ok\n" }`. */
  readonly files?: Readonly<Record<string, string>>;
  /** Executable files of the image (mode 0755), e.g. stand-ins for `curl` or an entrypoint. */
  readonly scripts?: Readonly<Record<string, string>>;
  /** Files copied from this machine: image path → path here (binaries and their libraries). */
  readonly copies?: Readonly<Record<string, string>>;
  /** Directory trees copied from this machine: image path → directory here (e.g. a daemon's share dir). */
  readonly trees?: Readonly<Record<string, string>>;
  /** Empty directories to create. */
  readonly dirs?: readonly string[];
  /** The image's `ENTRYPOINT` (exec form). */
  readonly entrypoint?: readonly string[];
  /** The image's `CMD` (exec form). */
  readonly cmd: readonly string[];
  /** `ENV` lines of the image. */
  readonly env?: Readonly<Record<string, string>>;
  /** Busybox applets the image must not have on its PATH (e.g. `wget`, for an image without an HTTP client). @default none */
  readonly withoutApplets?: readonly string[];
}

/** A busybox httpd serving `root` on `port`, logging each request to stderr (`docker logs`). */
export function httpd(port: number, root = "/www", banner?: string): string[] {
  const start = `exec httpd -f -v -p ${port} -h ${root}`;
  return ["/bin/sh", "-c", banner ? `echo ${shq(banner)}; ${start}` : start];
}

/**
 * Debian binaries and every library they link (from `ldd`), as `StandIn.copies` entries
 * under the same paths: a daemon of this machine run as a container image.
 */
export function withLibraries(binaries: readonly string[]): Record<string, string> {
  const copies: Record<string, string> = {};
  for (const bin of binaries) {
    copies[bin] = bin;
    const ldd = spawnSync("ldd", [bin], { encoding: "utf8" });
    if (ldd.status !== 0) throw new Error(`ldd ${bin} failed: ${ldd.stderr}`);
    for (const line of ldd.stdout.split("\n")) {
      const m = /(\/\S+) \(0x/.exec(line);
      if (m?.[1]) copies[m[1]] = m[1];
    }
  }
  return copies;
}

let serial = 0;

/** Build `ref` (`<registry>/<repo>:<tag>`) on puck, push it and drop it locally. Returns its manifest digest. */
export async function pushImage(fleet: Fleet, ref: string, spec: StandIn): Promise<string> {
  const digests = await pushImages(fleet, [ref], spec);
  return digests[ref]!;
}

/**
 * Build one image on puck and push it under every name of `refs` (the pushes run in
 * parallel; the registry stores the shared layer once per repository), then drop them
 * all from puck's store. Returns the manifest digest per ref.
 */
export async function pushImages(fleet: Fleet, refs: readonly string[], spec: StandIn): Promise<Record<string, string>> {
  if (refs.length === 0) throw new Error("pushImages needs at least one ref");
  const slug = `img-${process.pid}-${++serial}`;
  const inPuck = `/srv/fleet-images/${slug}`;
  const root = join(fleet.hosts.puck.rootDir, inPuck);
  try {
    mkdirSync(join(root, "bin"), { recursive: true });
    mkdirSync(join(root, "tmp"), { recursive: true, mode: 0o1777 });
    chmodSync(join(root, "tmp"), 0o1777);
    // a copy, not a link: the image is a tarball of this tree
    copyFileSync("/bin/busybox", join(root, "bin", "busybox"));
    chmodSync(join(root, "bin", "busybox"), 0o755);
    for (const a of APPLETS) if (!spec.withoutApplets?.includes(a)) symlinkSync("busybox", join(root, "bin", a));
    for (const [path, content] of Object.entries(spec.files ?? {})) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content, { mode: 0o644 });
    }
    for (const [path, content] of Object.entries(spec.scripts ?? {})) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), content, { mode: 0o755 });
    }
    for (const [path, from] of Object.entries(spec.copies ?? {})) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      copyFileSync(from, join(root, path));
      chmodSync(join(root, path), statSync(from).mode & 0o7777);
    }
    for (const [path, from] of Object.entries(spec.trees ?? {})) cpSync(from, join(root, path), { recursive: true, dereference: true });
    for (const d of spec.dirs ?? []) mkdirSync(join(root, d), { recursive: true });
    const changes = [
      ...(spec.entrypoint ? [`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`] : []),
      `CMD ${JSON.stringify(spec.cmd)}`, ...Object.entries(spec.env ?? {}).map(([k, v]) => `ENV ${k}=${v}`)];
    const [first, ...others] = refs as [string, ...string[]];
    // Each push writes its output to its own file: `<ref> digest: sha256:...` lines are read back in order.
    const script = [
      "set -e",
      `cd ${shq(inPuck)}`,
      `tar -c --owner=0 --group=0 . | docker import ${changes.map((c) => `-c ${shq(c)}`).join(" ")} - ${shq(first)} >/dev/null`,
      ...others.map((r) => `docker tag ${shq(first)} ${shq(r)}`),
      'pids=""',
      ...refs.map((r, i) => `docker push ${shq(r)} > push-${i}.log 2>&1 & pids="$pids $!"`),
      'fail=0; for p in $pids; do wait "$p" || fail=1; done',
      ...refs.map((_, i) => `echo "=== ${i}"; cat push-${i}.log`),
      '[ "$fail" = 0 ]',
      `docker rmi ${refs.map(shq).join(" ")} >/dev/null`,
    ].join("\n");
    const r = await fleet.exec("puck", ["/bin/sh", "-c", script], { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`building ${refs.join(", ")} on puck failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    const digests: Record<string, string> = {};
    const sections = r.stdout.split(/^=== \d+\n/m).slice(1);
    refs.forEach((ref, i) => {
      const m = /digest: (sha256:[0-9a-f]{64})/.exec(sections[i] ?? "");
      if (!m?.[1]) throw new Error(`docker push ${ref} printed no digest:\n${r.stdout}`);
      digests[ref] = m[1];
    });
    return digests;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * The manifest digest the registry serves for `ref` now, asked over the registry's
 * HTTP API from this (root) namespace, as a Pulumi program resolving `:tag` at preview
 * would: a HEAD on the manifest, `Docker-Content-Digest`.
 */
export async function registryDigest(ref: string): Promise<string> {
  const slash = ref.indexOf("/");
  const colon = ref.lastIndexOf(":");
  if (slash < 0 || colon < slash) throw new Error(`registryDigest needs <registry>/<repo>:<tag>, got ${ref}`);
  const registry = ref.slice(0, slash);
  const repo = ref.slice(slash + 1, colon);
  const tag = ref.slice(colon + 1);
  // Bounded: 3 tries of 30 s (the registry answers in milliseconds, but the machine is shared).
  let res: Response | undefined;
  for (let attempt = 1; !res; attempt++) {
    try {
      res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
        method: "HEAD",
        headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" },
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      if (attempt >= 3) throw new Error(`registry ${registry}: HEAD manifest ${repo}:${tag} failed ${attempt} times: ${(e as Error).message}`);
    }
  }
  const digest = res.headers.get("docker-content-digest");
  if (res.status !== 200 || !digest) throw new Error(`registry ${registry}: HEAD manifest ${repo}:${tag} gave HTTP ${res.status}`);
  return digest;
}
