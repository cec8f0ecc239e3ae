/** A complete, valid config for the daarion stack under mocks (no real secrets). */
import { TEST_HOST_KEY } from "../../src/testing/mocks";

export const DAARION_SECRETS: Record<string, string> = {
  "fleet:sshPrivateKey": "PLANTED-ssh-private-key-3d1c",
};

export const REPO = { url: "git@github.com:IvanTytar/microdao-daarion.git", ref: "v1.0.0" };

/** НОДА1 production and НОДА2 development, as Pulumi.daarion.yaml has them. */
export function daarionSettings(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    repo: REPO,
    nodes: [
      { name: "noda1", role: "production", domain: "gateway.daarion.city" },
      { name: "noda2", role: "development", domain: "dev.daarion.city" },
    ],
    ...extra,
  };
}

export function daarionConfig(settings: Record<string, unknown> = daarionSettings(), overrides: Record<string, unknown> = {}): { config: Record<string, unknown>; secretKeys: string[] } {
  const host = (address: string) => ({ address, hostKey: TEST_HOST_KEY });
  const config: Record<string, unknown> = {
    "fleet:hosts": { noda1: host("noda1.daarion.city"), noda2: host("noda2.daarion.city"), noda3: host("noda3.daarion.city") },
    "fleet:daarion": settings,
    ...DAARION_SECRETS,
    ...overrides,
  };
  const secretKeys = Object.keys(config).filter((k) => k in DAARION_SECRETS || /Password$/.test(k.split(":")[1] ?? ""));
  return { config, secretKeys };
}

export const REGISTRY_TOKEN = "docker:index/getRegistryImage:getRegistryImage";

/** A distinct, stable digest per image reference (so tests can tell images apart). */
export function digestFor(image: string): string {
  let h = 0;
  for (const c of image) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `sha256:${h.toString(16).padStart(8, "0").repeat(8)}`;
}
