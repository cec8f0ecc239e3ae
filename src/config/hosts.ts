/**
 * Hosts: how to reach a Linux machine over SSH and how its daemons are managed.
 * Plain data and zod only (no Pulumi import), so tests and other tools can use it.
 */
import { z } from "zod";
import { absolutePath, hostname, port, unixName } from "../validation/primitives";

/** An OpenSSH public host key as it appears in known_hosts or `ssh-keyscan` output (without the host field). */
export const sshPublicKey = z
  .string()
  .regex(/^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa|rsa-sha2-(256|512)) [A-Za-z0-9+/]+={0,3}$/, {
    error: 'must be an OpenSSH public key: "<type> <base64>", e.g. the output of `ssh-keyscan -t ed25519 HOST | cut -d" " -f2-`',
  });

/** Name of a Pulumi config key in this project (where a secret is read from). */
export const configKeyName = z
  .string()
  .max(128, { error: "must be at most 128 characters" })
  .regex(/^[a-zA-Z][a-zA-Z0-9_-]*(:[a-zA-Z][a-zA-Z0-9_-]*)?$/, { error: "must be a Pulumi config key such as sshPrivateKey" });

const hostKeyRule = (v: { hostKey?: string | undefined; insecureSkipHostKey?: boolean | undefined }, ctx: z.RefinementCtx) => {
  if (!v.hostKey && !v.insecureSkipHostKey) {
    ctx.addIssue({
      code: "custom",
      path: ["hostKey"],
      message:
        "is required: pin the host key (ssh-keyscan -t ed25519 HOST), or set insecureSkipHostKey: true to accept any key (not for production)",
    });
  }
};

/** What every SSH endpoint has: where it is, who logs in, and its pinned key. */
const sshEndpoint = {
  /** DNS name or IP address the SSH client dials. */
  address: hostname,
  /** SSH port. @default 22 */
  port: port.default(22),
  /** Login user. Non-root users run scripts through `sudo -n`. @default "root" */
  user: unixName.default("root"),
  /** Pinned host public key, `"ssh-ed25519 AAAA..."`. Required unless `insecureSkipHostKey`. */
  hostKey: sshPublicKey.optional(),
  /** Accept any host key. Refused unless set explicitly. @default false */
  insecureSkipHostKey: z.boolean().default(false),
};

/** A bastion the connection goes through. */
export const jumpHostSchema = z.strictObject(sshEndpoint).superRefine(hostKeyRule);

/** How daemons on the host are reloaded. */
export const serviceManager = z.enum(["systemd", "direct"], {
  error: 'must be "systemd" (systemctl reload) or "direct" (signal the daemon via its own CLI or pid file)',
});

export const hostSchema = z
  .strictObject({
    ...sshEndpoint,
    /** Pulumi secret config key holding the private key for this host. @default "sshPrivateKey" */
    privateKeyConfig: configKeyName.default("sshPrivateKey"),
    /** Optional bastion the connection goes through. */
    jump: jumpHostSchema.optional(),
    /**
     * How daemons are reloaded: `systemd` uses `systemctl reload`; `direct` talks to the
     * daemon itself (nginx -s reload, caddy reload, a signal to the pid file), for hosts
     * without systemd such as containers and test namespaces.
     * @default "systemd"
     */
    services: serviceManager.default("systemd"),
    /** Pid files used by `services: direct`. @default {haproxy:"/run/haproxy.pid", prometheus:"/run/prometheus.pid", alertmanager:"/run/alertmanager.pid"} */
    pidFiles: z
      .strictObject({
        haproxy: absolutePath.default("/run/haproxy.pid"),
        prometheus: absolutePath.default("/run/prometheus.pid"),
        alertmanager: absolutePath.default("/run/alertmanager.pid"),
      })
      .default({ haproxy: "/run/haproxy.pid", prometheus: "/run/prometheus.pid", alertmanager: "/run/alertmanager.pid" }),
    /** Directory for the per-host, per-service flock files. @default "/run/lock" */
    lockDir: absolutePath.default("/run/lock"),
    /** How compose is invoked on this host. @default "docker compose" */
    compose: z.enum(["docker compose", "docker-compose"]).default("docker compose"),
  })
  .superRefine(hostKeyRule);

export type HostSpecInput = z.input<typeof hostSchema>;
export type HostSpec = z.output<typeof hostSchema>;

/** A named host: the key under `fleet:hosts` plus its parsed settings. */
export interface NamedHostSpec extends HostSpec {
  readonly name: string;
}

export const hostNameKey = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, { error: "host names must be lowercase letters, digits and '-' (e.g. puck)" });

export const hostsSchema = z.record(hostNameKey, hostSchema);
