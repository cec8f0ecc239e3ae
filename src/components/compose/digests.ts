/**
 * Image tag → digest, at preview, on a machine without Docker (a PR runner).
 *
 * The real docker provider reads the registry (`HEAD /v2/<name>/manifests/<tag>` →
 * `Docker-Content-Digest`, token auth for ghcr.io and Docker Hub) through its
 * `getRegistryImage` data source. Its default provider pings a Docker daemon on the
 * machine running Pulumi in `Configure`, even for that read (`failed to connect to any
 * docker daemon`). The provider used here names the Docker host the images run on, over
 * SSH (`ssh://user@address:port`, as `docker -H` does), and sets
 * `disableDockerDaemonCheck`: the Terraform side then skips its ping, and the native
 * side does not connect to an SSH host in `Configure` (pulumi-docker 5.2.0:
 * `disableDockerDaemonCheck` alone still fails there). The registry read is HTTP from
 * the machine running Pulumi; nothing dials the Docker host (test/cli proves it with an
 * `ssh` on PATH that records any call). A digest pinned in config is used as-is: no
 * provider, no request.
 *
 * Every lookup of a stack runs before its resources, and the failures come back as one
 * error with one line per image (image, registry, reason), not as a chain of
 * `error serializing property "triggers"` from each resource that carries the digest.
 */
import * as docker from "@pulumi/docker";
import type * as pulumi from "@pulumi/pulumi";
import { sha256Digest } from "../../validation/primitives";

/** Where the images run: the SSH endpoint of the Docker host. */
export interface DockerHostEndpoint {
  readonly address: string;
  readonly port: number;
  readonly user: string;
}

/** `ssh://user@address:port`, the Docker host as `docker -H` names it (IPv6 in brackets). */
export function dockerSshHost(h: DockerHostEndpoint): string {
  return `ssh://${h.user}@${h.address.includes(":") ? `[${h.address}]` : h.address}:${h.port}`;
}

/** The docker provider that only reads registries: no Docker daemon on the machine running Pulumi. */
export function registryReader(name: string, dockerHost: DockerHostEndpoint, opts?: pulumi.CustomResourceOptions): docker.Provider {
  return new docker.Provider(name, { host: dockerSshHost(dockerHost), disableDockerDaemonCheck: true }, opts);
}

/** The registry an image reference names, as Docker reads it (`postgres:16` → `docker.io`). */
export function registryOf(image: string): string {
  const slash = image.indexOf("/");
  if (slash < 0) return "docker.io";
  const first = image.slice(0, slash);
  return first.includes(".") || first.includes(":") || first === "localhost" ? first : "docker.io";
}

/** Failed lookups, one line each. A RunError (brand below): Pulumi prints the message alone. */
export class DigestLookupError extends Error {
  readonly __pulumiRunError = true;
  readonly failures: readonly { image: string; registry: string; reason: string }[];

  constructor(subject: string, failures: readonly { image: string; registry: string; reason: string }[], hint: string) {
    const lines = failures.map((f) => `${f.image}: registry ${f.registry}: ${f.reason}`);
    super(
      failures.length === 1
        ? `${subject}: cannot resolve the digest of ${lines[0]} (${hint})`
        : `${subject}: cannot resolve ${failures.length} image digests (${hint}):\n${lines.map((l) => `  - ${l}`).join("\n")}`,
    );
    this.name = "DigestLookupError";
    this.failures = failures;
    this.stack = `${this.name}: ${this.message}`;
  }
}

/**
 * The provider's error without what the line already says (the invoke, the image, the
 * request URL): `invocation of docker:index/getRegistryImage:getRegistryImage returned an
 * error: Got error when attempting to fetch image version x:y from registry: Error during
 * registry request: Head "https://…/manifests/y": dial tcp 127.0.0.1:1: connect: connection refused`
 * → `dial tcp 127.0.0.1:1: connect: connection refused`.
 */
export function lookupReason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const tail = text
    .replace(/^[\s\S]*?attempting to fetch image version \S+ from registry: /, "")
    .replace(/^(invoke of|invocation of) \S+ (failed|returned an error): /, "")
    .replace(/^Error during registry request: /, "")
    .replace(/^(Head|Get) "[^"]*": /, "");
  const oneLine = tail.split("\n").map((l) => l.trim()).filter(Boolean).join(" ");
  return oneLine.length > 300 ? `${oneLine.slice(0, 297)}...` : oneLine;
}

export interface LookupOptions {
  /** What is being deployed, first on the error line, e.g. `stack daarion`. */
  readonly subject: string;
  /** How to avoid the lookup, in the error, e.g. `or pin it: fleet:daarion.images.<service>.digest`. */
  readonly hint: string;
  /** The provider to read with (`registryReader`). */
  readonly provider: docker.Provider;
  /** The lookup itself; tests inject theirs. @default the docker provider's `getRegistryImage` */
  readonly lookup?: (image: string, provider: docker.Provider) => Promise<string>;
}

const getRegistryDigest = async (image: string, provider: docker.Provider): Promise<string> =>
  (await docker.getRegistryImage({ name: image }, { provider })).sha256Digest;

/** The digest of each image (each looked up once, all at once); any failure throws one DigestLookupError. */
export async function lookupDigests(images: readonly string[], opts: LookupOptions): Promise<ReadonlyMap<string, string>> {
  const unique = [...new Set(images)].sort();
  const lookup = opts.lookup ?? getRegistryDigest;
  const settled = await Promise.allSettled(unique.map((image) => lookup(image, opts.provider)));
  const digests = new Map<string, string>();
  const failures: { image: string; registry: string; reason: string }[] = [];
  settled.forEach((r, i) => {
    const image = unique[i]!;
    const registry = registryOf(image);
    if (r.status === "rejected") failures.push({ image, registry, reason: lookupReason(r.reason) });
    else if (!sha256Digest.safeParse(r.value).success) failures.push({ image, registry, reason: `the registry gave ${JSON.stringify(r.value)}, not sha256:<64 hex digits>` });
    else digests.set(image, r.value);
  });
  if (failures.length) throw new DigestLookupError(opts.subject, failures, opts.hint);
  return digests;
}
