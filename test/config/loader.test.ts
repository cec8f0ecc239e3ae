import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type ConfigSource, loadConfig } from "../../src/config/loader";
import { ConfigError } from "../../src/validation/errors";
import { TEST_HOST_KEY } from "../helpers/pulumi";

function source(values: Record<string, unknown>, secret: string[] = []): ConfigSource {
  return {
    get: (k) => (values[k] === undefined ? undefined : typeof values[k] === "string" ? (values[k]) : JSON.stringify(values[k])),
    isSecret: (k) => secret.includes(k),
    secret: (k) => pulumi.secret(String(values[k])),
  };
}

const app = z.strictObject({ domain: z.string().regex(/^[a-z.]+$/, { error: "must be a domain" }) });

const good = {
  hosts: { puck: { address: "puck.incus", hostKey: TEST_HOST_KEY }, titania: { address: "10.10.0.5", port: 2222, user: "deploy", hostKey: TEST_HOST_KEY } },
  postgres: { portia: { host: "portia.incus" } },
  minio: { nyx: { endpoint: "nyx.helu.ca:8555", insecure: true } },
  ouranos: { domain: "ouranos.helu.ca" },
  sshPrivateKey: "KEY",
  postgresAdminPassword: "PW",
  minioRootUser: "root",
  minioRootPassword: "PW2",
};
const secrets = ["sshPrivateKey", "postgresAdminPassword", "minioRootUser", "minioRootPassword"];

describe("loadConfig", () => {
  it("parses hosts, servers and app settings with defaults", () => {
    const c = loadConfig(source(good, secrets), { appKey: "ouranos", appSchema: app });
    expect(c.hosts.puck).toMatchObject({ name: "puck", address: "puck.incus", port: 22, user: "root", services: "systemd" });
    expect(c.hosts.titania).toMatchObject({ port: 2222, user: "deploy" });
    expect(c.postgres.portia).toMatchObject({ host: "portia.incus", port: 5432, adminUser: "postgres", sslmode: "prefer" });
    expect(c.minio.nyx).toMatchObject({ endpoint: "nyx.helu.ca:8555", ssl: true, insecure: true });
    expect(c.app).toEqual({ domain: "ouranos.helu.ca" });
  });

  it("reports every bad key with its rule at once, not the first", () => {
    const bad = {
      ...good,
      hosts: {
        puck: { address: "puck incus", port: 0 },
        Titania: { address: "t" },
        portia: { address: "portia.incus", hostKey: "not a key", colour: "blue" },
        prospero: { address: "prospero.incus", hostKey: TEST_HOST_KEY },
      },
      postgres: { portia: { host: "portia.incus", port: "5432" } },
      ouranos: { domain: "$(id)" },
      sshPrivateKey: "KEY",
    };
    let error: unknown;
    try {
      loadConfig(source(bad, ["postgresAdminPassword", "minioRootUser", "minioRootPassword"]), { appKey: "ouranos", appSchema: app });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
    expect(lines).toEqual([
      "fleet:hosts/puck/address: must be a DNS name (letters, digits, '-' and '.') or an IP address",
      "fleet:hosts/puck/port: must be between 1 and 65535",
      "fleet:hosts/puck/hostKey: is required: pin the host key (ssh-keyscan -t ed25519 HOST), or set insecureSkipHostKey: true to accept any key (not for production)",
      "fleet:hosts/Titania: host names must be lowercase letters, digits and '-' (e.g. puck)",
      'fleet:hosts/portia/hostKey: must be an OpenSSH public key: "<type> <base64>", e.g. the output of `ssh-keyscan -t ed25519 HOST | cut -d" " -f2-`',
      'fleet:hosts/portia: unknown key "colour"; remove or rename it',
      "fleet:postgres/portia/port: must be a number",
      "fleet:ouranos/domain: must be a domain",
      "fleet:sshPrivateKey: must be stored as a secret (the SSH private key for host \"prospero\"): pulumi config set --secret fleet:sshPrivateKey <value>",
    ]);
    expect((error as Error).message).toContain("stack config has 9 problems:");
  });

  it("names missing secrets with the command that sets them", () => {
    const { postgresAdminPassword: _a, ...rest } = good;
    expect(() => loadConfig(source(rest, secrets), { appKey: "ouranos", appSchema: app })).toThrow(
      'fleet:postgresAdminPassword: is required (the admin password of PostgreSQL server "portia"): pulumi config set --secret fleet:postgresAdminPassword <value>',
    );
  });

  it("accepts insecureSkipHostKey only when set explicitly", () => {
    const c = loadConfig(source({ ...good, hosts: { puck: { address: "puck.incus", insecureSkipHostKey: true } } }, secrets), {
      appKey: "ouranos",
      appSchema: app,
    });
    expect(c.hosts.puck?.hostKey).toBeUndefined();
  });

  it("requires hosts", () => {
    const { hosts: _h, ...rest } = good;
    expect(() => loadConfig(source(rest, secrets), { appKey: "ouranos", appSchema: app })).toThrow("fleet:hosts: is required");
  });
});
