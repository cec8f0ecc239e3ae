/**
 * A real image registry on loopback for the CLI tests: Debian's `docker-registry`
 * (distribution 2.8) over TLS with a throwaway certificate, and images pushed through
 * the registry HTTP API (blob uploads, then the manifest): no Docker daemon anywhere.
 * The docker provider trusts the certificate through SSL_CERT_FILE (Go's system pool).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { freePort } from "../helpers/net";

export interface LocalRegistry {
  /** `127.0.0.1:<port>`, the registry part of an image reference. */
  readonly host: string;
  /** PEM file the registry's certificate is in (point SSL_CERT_FILE at it). */
  readonly caFile: string;
  /** Push a one-layer OCI image as `<host>/<repository>:<tag>`; returns its manifest digest. */
  push(repository: string, tag: string): Promise<string>;
  /** Manifest requests (HEAD or GET) the registry has served so far, from its access log. */
  manifestRequests(): string[];
  stop(): Promise<void>;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}


const sha = (b: Buffer | string): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Start `docker-registry serve` in `dir` (storage, config, certificate) on a free loopback port. */
export async function startRegistry(dir: string): Promise<LocalRegistry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const cert = path.join(dir, "registry.crt");
  const key = path.join(dir, "registry.key");
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert,
  ], { stdio: "pipe" });
  const config = path.join(dir, "registry.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "  accesslog:",
      "    disabled: false",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${path.join(dir, "storage")}`,
      "http:",
      `  addr: ${host}`,
      "  tls:",
      `    certificate: ${cert}`,
      `    key: ${key}`,
      "",
    ].join("\n"),
  );
  const ca = readFileSync(cert);
  const proc: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  proc.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  let exited: string | undefined;
  proc.on("exit", (code, signal) => (exited = `docker-registry exited (${code ?? signal}): ${log.slice(-2000)}`));

  const request = (method: string, urlPath: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: "127.0.0.1", port, method, path: urlPath, ca, headers: { ...headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) } }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });

  // Ready when /v2/ answers.
  for (let i = 0; ; i++) {
    if (exited) throw new Error(exited);
    try {
      if ((await request("GET", "/v2/")).status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 600) throw new Error(`docker-registry did not answer on ${host} within 30 s: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  async function uploadBlob(repository: string, blob: Buffer): Promise<{ digest: string; size: number }> {
    const digest = sha(blob);
    const start = await request("POST", `/v2/${repository}/blobs/uploads/`, "");
    if (start.status !== 202) throw new Error(`blob upload start for ${repository}: ${start.status} ${start.body}`);
    const location = new URL(String(start.headers.location), `https://${host}`);
    location.searchParams.set("digest", digest);
    const put = await request("PUT", `${location.pathname}${location.search}`, blob, { "content-type": "application/octet-stream" });
    if (put.status !== 201) throw new Error(`blob upload for ${repository}: ${put.status} ${put.body}`);
    return { digest, size: blob.length };
  }

  return {
    host,
    caFile: cert,
    async push(repository, tag) {
      // A config naming the image (so every pushed image has its own digest) and one layer.
      const configBlob = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Labels: { image: `${repository}:${tag}` } }, rootfs: { type: "layers", diff_ids: [] } }));
      const layer = gzipSync(Buffer.from(`layer of ${repository}:${tag}\n`));
      const c = await uploadBlob(repository, configBlob);
      const l = await uploadBlob(repository, layer);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: c.digest, size: c.size },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: l.digest, size: l.size }],
      });
      const put = await request("PUT", `/v2/${repository}/manifests/${tag}`, manifest, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
      if (put.status !== 201) throw new Error(`manifest ${repository}:${tag}: ${put.status} ${put.body}`);
      const digest = sha(manifest);
      if (put.headers["docker-content-digest"] !== digest) throw new Error(`manifest ${repository}:${tag}: registry says ${String(put.headers["docker-content-digest"])}, expected ${digest}`);
      return digest;
    },
    manifestRequests() {
      return log.split("\n").filter((l) => /"(HEAD|GET) \/v2\/[^"]*\/manifests\//.test(l));
    },
    stop() {
      return new Promise((resolve) => {
        if (exited || proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      });
    },
  };
}
