/**
 * The ouranos program under mocks, for the program-level tests: from the stack's own
 * Pulumi.ouranos.yaml (secrets as markers, as `npm run render` does) or from the test
 * config with every secret set.
 */
import { managedFiles } from "../../src/remote/command";
import { fakeDigest, readStackConfig, REGISTRY_IMAGE_TOKEN, secretMarker } from "../../stacks/render";
import { type MockRun, runProgram } from "../../src/testing/mocks";
import { OURANOS_OPTIONAL_SECRETS, OURANOS_REQUIRED_SECRETS } from "../../stacks/ouranos/config";
import { ouranosConfig } from "../stacks/ouranos-config";

export type Variant = "stack file" | "all secrets set";

export const registryCalls = {
  [REGISTRY_IMAGE_TOKEN]: (args: Record<string, unknown>) => ({ id: String(args.name), name: args.name, sha256Digest: fakeDigest(String(args.name)) }),
};

export interface OuranosRun {
  readonly run: MockRun;
  /** Index into managedFiles() where this run's files start. */
  readonly filesFrom: number;
  readonly filesTo: number;
}

export interface BuildOptions {
  /** Replace config values (fully qualified keys). */
  readonly config?: Record<string, string>;
  readonly randomValue?: (name: string, type: string) => string;
}

/** Every secret config key of the stack, fully qualified: hosts' and servers' keys, required and optional ones. */
export function ouranosSecretKeys(): string[] {
  // The render's list (hosts' and servers' keys, the stack's required ones) plus the optional ones.
  return [...new Set([...readStackConfig("ouranos").secretKeys, ...OURANOS_REQUIRED_SECRETS.map((k) => `fleet:${k}`), ...OURANOS_OPTIONAL_SECRETS.map((k) => `fleet:${k}`)])].sort();
}

export function variantConfig(variant: Variant): { config: Record<string, string>; secretKeys: string[] } {
  if (variant === "stack file") {
    const { config, secretKeys } = readStackConfig("ouranos");
    return { config, secretKeys };
  }
  const { config, secretKeys } = ouranosConfig();
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) strings[k] = typeof v === "string" ? v : JSON.stringify(v);
  for (const k of OURANOS_OPTIONAL_SECRETS) strings[`fleet:${k}`] = secretMarker(`fleet:${k}`);
  return { config: strings, secretKeys: [...new Set([...secretKeys, ...OURANOS_OPTIONAL_SECRETS.map((k) => `fleet:${k}`)])] };
}

export async function buildOuranos(variant: Variant, opts: BuildOptions = {}): Promise<OuranosRun> {
  const base = variantConfig(variant);
  const config = { ...base.config, ...opts.config };
  const secretKeys = [...new Set([...base.secretKeys, ...Object.keys(opts.config ?? {}).filter((k) => ouranosSecretKeys().includes(k))])];
  const filesFrom = managedFiles().length;
  const run = await runProgram(
    async () => {
      const { ouranos } = await import("../../stacks/ouranos");
      return ouranos();
    },
    { stack: "ouranos", config, secretKeys, calls: registryCalls, randomValue: opts.randomValue ?? ((name) => secretMarker(name)) },
  );
  return { run, filesFrom, filesTo: managedFiles().length };
}
