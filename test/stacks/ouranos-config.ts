/** A complete, valid config for the ouranos stack under mocks (no real secrets). */
import { TEST_HOST_KEY } from "../../src/testing/mocks";

export const OURANOS_SECRETS: Record<string, string> = {
  "fleet:sshPrivateKey": "PLANTED-ssh-private-key-7f3a",
  "fleet:postgresAdminPassword": "PLANTED-pg-admin-9c1d",
  "fleet:minioRootUser": "PLANTED-minio-root-user",
  "fleet:minioRootPassword": "PLANTED-minio-root-pw-44e2",
  "fleet:casdoorClientId": "PLANTED-casdoor-id-1b7e",
  "fleet:casdoorClientSecret": "PLANTED-casdoor-secret-5a9f",
};

export function ouranosConfig(overrides: Record<string, unknown> = {}): { config: Record<string, unknown>; secretKeys: string[] } {
  const host = (address: string) => ({ address, hostKey: TEST_HOST_KEY });
  const config: Record<string, unknown> = {
    "fleet:hosts": {
      titania: host("titania.incus"),
      portia: host("portia.incus"),
      prospero: host("prospero.incus"),
      puck: host("puck.incus"),
      umbriel: host("umbriel.incus"),
      oberon: host("oberon.incus"),
    },
    "fleet:postgres": { portia: { host: "portia.incus", port: 5432 } },
    "fleet:minio": { nyx: { endpoint: "nyx.helu.ca:8555", insecure: true } },
    "fleet:ouranos": { daedalus: { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" } } },
    ...OURANOS_SECRETS,
    ...overrides,
  };
  const secretKeys = Object.keys(config).filter((k) => k in OURANOS_SECRETS || /Password|Secret|Key$/.test(k.split(":")[1] ?? ""));
  return { config, secretKeys };
}

export const DIGEST = `sha256:${"d".repeat(64)}`;

export const registryCalls = {
  "docker:index/getRegistryImage:getRegistryImage": (args: Record<string, unknown>) => ({ name: args.name, sha256Digest: DIGEST, id: String(args.name) }),
};
