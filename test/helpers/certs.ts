/**
 * Throwaway self-signed certificates for validators that load one (`haproxy -c` with
 * `ssl crt`, `nginx -t` with `ssl_certificate`). The checkers only need a well-formed
 * pair, so one pair per common name is made per worker, with a P-256 key (milliseconds)
 * rather than RSA 2048 (half a CPU second per `openssl req` here), and copied where a
 * test wants it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runProcessSync } from "./spawn";

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

const made = new Map<string, CertPair>();

/** A self-signed certificate and its unencrypted key (PEM text) for `cn`, valid for two days. */
export function selfSigned(cn: string): CertPair {
  const known = made.get(cn);
  if (known) return known;
  const dir = mkdtempSync(path.join(tmpdir(), "fleet-cert-"));
  try {
    const r = runProcessSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", `/CN=${cn}`, "-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`]);
    if (r.code !== 0) throw new Error(`openssl req failed (exit ${r.code}):\n${r.stderr}`);
    const pair = { cert: readFileSync(`${dir}/cert.pem`, "utf8"), key: readFileSync(`${dir}/key.pem`, "utf8") };
    made.set(cn, pair);
    return pair;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Write the pair for `cn` as `certFile` and `keyFile`, or both into one PEM (HAProxy's `crt`) when `keyFile` is omitted. */
export function writeSelfSigned(cn: string, certFile: string, keyFile?: string): void {
  const { cert, key } = selfSigned(cn);
  if (keyFile) {
    writeFileSync(certFile, cert);
    writeFileSync(keyFile, key, { mode: 0o600 });
  } else {
    writeFileSync(certFile, cert + key, { mode: 0o600 });
  }
}
