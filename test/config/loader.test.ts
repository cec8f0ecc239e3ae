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
    keys: () => Object.keys(values),
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

  it("refuses insecureSkipHostKey (host or jump) unless the stack is a test environment", () => {
    const hosts = { puck: { address: "puck.incus", insecureSkipHostKey: true }, titania: { address: "titania.incus", hostKey: TEST_HOST_KEY, jump: { address: "bastion.incus", insecureSkipHostKey: true } } };
    const rule = "is refused outside a test environment: pin the host key (ssh-keyscan -t ed25519 HOST) instead; only a throwaway test stack may set fleet:environment: test to allow it";
    for (const environment of [undefined, "production"]) {
      let error: unknown;
      try {
        loadConfig(source({ ...good, hosts, ...(environment ? { environment } : {}) }, secrets), { appKey: "ouranos", appSchema: app, warn: () => undefined });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        { path: "fleet:hosts/puck/insecureSkipHostKey", message: rule },
        { path: "fleet:hosts/titania/jump/insecureSkipHostKey", message: rule },
      ]);
    }
  });

  it("allows insecureSkipHostKey in a stack marked fleet:environment: test, with a loud warning per host", () => {
    const warned: string[] = [];
    const c = loadConfig(source({ ...good, environment: "test", hosts: { puck: { address: "puck.incus", insecureSkipHostKey: true } } }, secrets), {
      appKey: "ouranos",
      appSchema: app,
      warn: (m) => warned.push(m),
    });
    expect(c.hosts.puck?.hostKey).toBeUndefined();
    expect(c.environment).toBe("test");
    expect(warned).toEqual([
      "INSECURE: host key checks are OFF for fleet:hosts/puck (insecureSkipHostKey, fleet:environment: test): anyone on the network path can impersonate this host and receive every secret sent to it. Never use this stack for real hosts.",
    ]);
    expect(c.warnings).toEqual(warned);
  });

  it("refuses an environment other than production or test", () => {
    expect(() => loadConfig(source({ ...good, environment: "staging" }, secrets), { appKey: "ouranos", appSchema: app })).toThrow('stack config: fleet:environment: must be "production" or "test"');
  });

  it("refuses every unknown key under the namespace, naming it and the nearest known key", () => {
    let error: unknown;
    try {
      loadConfig(source({ ...good, cfServerSecrett: "x", bogus: "1", ouranoss: {}, sshPrivatekey: "K" }, [...secrets, "cfServerSecrett"]), {
        appKey: "ouranos",
        appSchema: app,
        optionalSecrets: ["cfServerSecret"],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "fleet:bogus: is not a setting of this stack (known: fleet:cfServerSecret, fleet:environment, fleet:hosts, fleet:minio, fleet:minioRootPassword, fleet:minioRootUser, fleet:ouranos, fleet:postgres, fleet:postgresAdminPassword, fleet:sshPrivateKey); remove it: pulumi config rm fleet:bogus",
      "fleet:cfServerSecrett: is not a setting of this stack; did you mean fleet:cfServerSecret? (pulumi config rm fleet:cfServerSecrett)",
      "fleet:ouranoss: is not a setting of this stack; did you mean fleet:ouranos? (pulumi config rm fleet:ouranoss)",
      "fleet:sshPrivatekey: is not a setting of this stack; did you mean fleet:sshPrivateKey? (pulumi config rm fleet:sshPrivatekey)",
    ]);
  });

  it.each(["constructor", "tostring", "valueof", "hasownproperty", "isprototypeof"])("a host named %s is a host like any other; naming a missing one is an error, not a TypeError", (name) => {
    const c = loadConfig(source({ ...good, hosts: { [name]: { address: "x.incus", hostKey: TEST_HOST_KEY } } }, secrets), { appKey: "ouranos", appSchema: app });
    expect(Object.keys(c.hosts)).toEqual([name]);
    expect(c.hosts[name]).toMatchObject({ name, address: "x.incus" });
    const other = loadConfig(source({ ...good }, secrets), { appKey: "ouranos", appSchema: app });
    expect(Object.hasOwn(other.hosts, name)).toBe(false);
    expect(other.hosts[name]).toBeUndefined();
  });

  it('refuses a "__proto__" key anywhere in a section (zod records would drop it silently)', () => {
    const withSettings = z.strictObject({ settings: z.record(z.string().regex(/^[A-Z_]+$/), z.string()) });
    const raw = '{"settings":{"A":"1","__proto__":"kept-by-the-operator"}}';
    expect(withSettings.parse(JSON.parse(raw))).toEqual({ settings: { A: "1" } }); // what zod alone does
    expect(() => loadConfig(source({ ...good, ouranos: raw }, secrets), { appKey: "ouranos", appSchema: withSettings })).toThrow(
      'stack config: fleet:ouranos/settings/__proto__: must not be named "__proto__" (a JavaScript prototype name); rename it',
    );
  });

  it("requires hosts", () => {
    const { hosts: _h, ...rest } = good;
    expect(() => loadConfig(source(rest, secrets), { appKey: "ouranos", appSchema: app })).toThrow("fleet:hosts: is required");
  });
});
