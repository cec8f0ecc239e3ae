/**
 * Test images, built here and served by puck's registry (no public registry is
 * reachable): a root filesystem holding Debian's static busybox (`busybox-static`) and
 * a few files, `docker import`ed on puck, pushed, and removed from puck's image store
 * so that a deploy has to pull it by digest. Its `httpd` answers the health paths.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type Fleet } from "../e2e/harness";
import { shq } from "../e2e/harness/proc";

/** Busybox applets the stand-ins and the tests use inside containers. */
const APPLETS = ["sh", "httpd", "wget", "echo", "cat", "sleep", "ls", "mkdir", "date", "env", "tail", "true", "false", "nc", "grep", "printf", "cp", "rm", "kill", "test", "id", "hostname"];

export interface StandIn {
  /** Files of the image, e.g. `{ "/www/healthz": "ok\n" }`. */
  readonly files?: Readonly<Record<string, string>>;
  /** Executable files of the image (mode 0755), e.g. stand-ins for `curl` or an entrypoint. */
  readonly scripts?: Readonly<Record<string, string>>;
  /** Files copied from this machine: image path → path here (binaries and their libraries). */
  readonly copies?: Readonly<Record<string, string>>;
  /** Empty directories to create. */
  readonly dirs?: readonly string[];
  /** The image's `ENTRYPOINT` (exec form). */
  readonly entrypoint?: readonly string[];
  /** The image's `CMD` (exec form). */
  readonly cmd: readonly string[];
  /** `ENV` lines of the image. */
  readonly env?: Readonly<Record<string, string>>;
}

/** A busybox httpd serving `root` on `port`, logging each request to stderr (`docker logs`). */
export function httpd(port: number, root = "/www", banner?: string): string[] {
  const start = `exec httpd -f -v -p ${port} -h ${root}`;
  return ["/bin/sh", "-c", banner ? `echo ${shq(banner)}; ${start}` : start];
}

let serial = 0;

/** Build `ref` (`<registry>/<repo>:<tag>`) on puck, push it and drop it locally. Returns its manifest digest. */
export async function pushImage(fleet: Fleet, ref: string, spec: StandIn): Promise<string> {
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
    for (const a of APPLETS) symlinkSync("busybox", join(root, "bin", a));
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
    for (const d of spec.dirs ?? []) mkdirSync(join(root, d), { recursive: true });
    const changes = [
      ...(spec.entrypoint ? [`ENTRYPOINT ${JSON.stringify(spec.entrypoint)}`] : []),
      `CMD ${JSON.stringify(spec.cmd)}`, ...Object.entries(spec.env ?? {}).map(([k, v]) => `ENV ${k}=${v}`)];
    const script = [
      "set -e",
      `cd ${shq(inPuck)}`,
      `tar -c --owner=0 --group=0 . | docker import ${changes.map((c) => `-c ${shq(c)}`).join(" ")} - ${shq(ref)} >/dev/null`,
      `docker push ${shq(ref)}`,
      `docker rmi ${shq(ref)} >/dev/null`,
    ].join("\n");
    const r = await fleet.exec("puck", ["/bin/sh", "-c", script], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`building ${ref} on puck failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    const m = /digest: (sha256:[0-9a-f]{64})/.exec(r.stdout);
    if (!m?.[1]) throw new Error(`docker push ${ref} printed no digest:\n${r.stdout}`);
    return m[1];
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
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${tag}`, {
    method: "HEAD",
    headers: { Accept: "application/vnd.docker.distribution.manifest.v2+json" },
    signal: AbortSignal.timeout(10_000),
  });
  const digest = res.headers.get("docker-content-digest");
  if (res.status !== 200 || !digest) throw new Error(`registry ${registry}: HEAD manifest ${repo}:${tag} gave HTTP ${res.status}`);
  return digest;
}
