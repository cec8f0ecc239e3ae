/**
 * `npm run render`: build a stack's program under mocks, in this process, and write
 * every file it would put on its hosts for review. Nothing leaves the machine and no
 * secret is read: every secret config key (set or not, `secure:` or not) is a visible
 * marker, generated secrets are markers, and image digests are fake (derived from the
 * image reference) instead of being looked up in a registry.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { hostSchema } from "../src/config/hosts";
import { minioServerSchema, postgresServerSchema } from "../src/config/servers";
import { sha256 } from "../src/hash";
import { managedFiles } from "../src/remote/command";
import { packageRoot } from "../src/templating";
import { runProgram, type RunOptions } from "../src/testing/mocks";
import { collectFiles, type RenderedFile, secretMarker, writeFiles } from "../src/render/files";
import { prepareOutDir } from "./names";
import { stackDefinition } from "./registry";

/** The invoke `@pulumi/docker` uses to resolve a tag to its digest. */
export const REGISTRY_IMAGE_TOKEN = "docker:index/getRegistryImage:getRegistryImage";

import { RenderUsageError } from "./usage-error";

export { RenderUsageError };

/** The stand-in digest of an image in a render: `sha256:` + the sha256 of the image reference itself. */
/** What a git-sourced compose file renders as: the real one lives in the app's repository. */
export const GIT_SOURCE_PLACEHOLDER =
  "# Not rendered: this compose file is fetched on the host from the app's repository at the\n" +
  "# pinned ref during `pulumi up` (the ComposeStack -source command), then checked for\n" +
  "# unset ${VAR}s and pinned images before it is written here.\n" +
  "services: {}\n";

export function fakeDigest(image: string): string {
  return `sha256:${sha256(image)}`;
}

/**
 * Offline stand-in for `git ls-remote`: every ref asked for names a commit derived from
 * the URL and the ref (a render never reaches the app's repository; commits appear in
 * no rendered file, only in tasks' triggers and scripts).
 */
export const fakeLsRemote = (url: string, patterns: readonly string[]): Promise<string> =>
  Promise.resolve(patterns.filter((p) => !p.endsWith("^{}")).slice(0, 1).map((p) => `${sha256(`${url}#${p}`).slice(0, 40)}\t${p}\n`).join(""));

/**
 * The git access of an offline render: refs resolved by {@link fakeLsRemote}, no file of an
 * app's repository read (the checks that need them run at preview, not in a render).
 */
export const renderGit = { lsRemote: fakeLsRemote, readFiles: false } as const;

export interface StackConfig {
  /** Pulumi project name (config keys without a namespace belong to it). */
  readonly project: string;
  /** Every config value as Pulumi hands it to the program: fully qualified key → string (objects as JSON). */
  readonly config: Record<string, string>;
  /** Fully qualified keys that are secret. */
  readonly secretKeys: string[];
}

/** The stack's definition, or a usage error naming the known stacks. */

function qualify(project: string, key: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{ secure: "v1:…" }`: an encrypted value in a stack file. */
function isSecure(v: unknown): boolean {
  return isRecord(v) && Object.keys(v).length === 1 && typeof v.secure === "string";
}

/** Replace every `secure:` value (at any depth) by a marker; report whether one was found. */
function maskSecure(value: unknown, where: string): { value: unknown; secret: boolean } {
  if (isSecure(value)) return { value: secretMarker(where), secret: true };
  if (Array.isArray(value)) {
    const items = value.map((v, i) => maskSecure(v, `${where}[${i}]`));
    return { value: items.map((i) => i.value), secret: items.some((i) => i.secret) };
  }
  if (isRecord(value)) {
    let secret = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const m = maskSecure(v, `${where}.${k}`);
      out[k] = m.value;
      secret ||= m.secret;
    }
    return { value: out, secret };
  }
  return { value, secret: false };
}

function readYaml(file: string): unknown {
  try {
    return parse(readFileSync(file, "utf8")) as unknown;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** A JSON-encoded map from config, or {} when absent or not a map (the program reports that). */
function configMap(config: Record<string, string>, key: string): Record<string, unknown> {
  const raw = config[key];
  if (raw === undefined) return {};
  try {
    const v = JSON.parse(raw) as unknown;
    return isRecord(v) ? v : {};
  } catch {
    return {};
  }
}

/** The config key a host or server names, read through its schema so defaults apply. */
function namedKeys(config: Record<string, string>, ns: string): string[] {
  const keys: string[] = [];
  for (const h of Object.values(configMap(config, `${ns}:hosts`))) {
    const spec = hostSchema.safeParse(h);
    keys.push(spec.success ? spec.data.privateKeyConfig : "sshPrivateKey");
  }
  for (const s of Object.values(configMap(config, `${ns}:postgres`))) {
    const spec = postgresServerSchema.safeParse(s);
    keys.push(spec.success ? spec.data.adminPasswordConfig : "postgresAdminPassword");
  }
  for (const s of Object.values(configMap(config, `${ns}:minio`))) {
    const spec = minioServerSchema.safeParse(s);
    keys.push(spec.success ? spec.data.rootUserConfig : "minioRootUser", spec.success ? spec.data.rootPasswordConfig : "minioRootPassword");
  }
  return keys.map((k) => qualify(ns, k));
}

/**
 * The stack's config as Pulumi would pass it, read from `Pulumi.<stack>.yaml`, with
 * every secret the stack needs present as a marker. Optional secrets the file does not
 * set stay absent, so the program generates them exactly as it would in `pulumi up`.
 */
export function readStackConfig(stack: string, root = packageRoot()): StackConfig {
  const def = stackDefinition(stack);
  const projectDoc = readYaml(path.join(root, "Pulumi.yaml"));
  const project = isRecord(projectDoc) && typeof projectDoc.name === "string" ? projectDoc.name : "fleet";
  const file = path.join(root, `Pulumi.${stack}.yaml`);
  if (!existsSync(file)) throw new Error(`${file} does not exist: stack "${stack}" has no config file`);
  const doc = readYaml(file);
  const raw = isRecord(doc) && isRecord(doc.config) ? doc.config : {};
  const config: Record<string, string> = {};
  const secret = new Set<string>();
  for (const [k, v] of Object.entries(raw)) {
    const key = qualify(project, k);
    const masked = maskSecure(v, key);
    if (masked.secret) secret.add(key);
    const value = masked.value;
    config[key] = typeof value === "string" ? value : isRecord(value) || Array.isArray(value) ? JSON.stringify(value) : String(value);
  }
  const required = [...namedKeys(config, project), ...def.requiredSecrets.map((k) => qualify(project, k))];
  for (const key of required) {
    if (config[key] === undefined) {
      config[key] = secretMarker(key);
      secret.add(key);
    }
  }
  return { project, config, secretKeys: [...secret].sort() };
}

export interface RenderResult {
  readonly files: RenderedFile[];
  /** Fake digest per image the program asked the registry for. */
  readonly digests: Readonly<Record<string, string>>;
  /** The INDEX.tsv text. */
  readonly index: string;
}

export interface RenderOptions {
  /** Project root holding Pulumi.yaml and the stack files. @default the package root */
  readonly root?: string;
  /** Replace `outDir` when it holds a previous render (an INDEX.tsv). */
  readonly clean?: boolean;
}

/**
 * The mocks `npm run render` runs a stack's program under: its stack file's config, secrets
 * and generated values as markers, a marked placeholder for compose files fetched from an
 * app's repository, and fake image digests (each one passed to `onDigest`). The stack
 * safety tests and the mock benchmark build stacks with the same options.
 */
export function renderRunOptions(stack: string, root = packageRoot(), onDigest?: (image: string, digest: string) => void): RunOptions {
  const { project, config, secretKeys } = readStackConfig(stack, root);
  return {
    project,
    stack,
    config,
    secretKeys,
    randomValue: (name) => secretMarker(name),
    // A compose file kept in an app's repository is fetched on the host during
    // `pulumi up`; offline, the review shows a marked placeholder in its place.
    commandStdout: (name) => (name.endsWith("-source") ? Buffer.from(GIT_SOURCE_PLACEHOLDER).toString("base64") : undefined),
    calls: {
      [REGISTRY_IMAGE_TOKEN]: (args) => {
        const name = String(args.name);
        const digest = fakeDigest(name);
        onDigest?.(name, digest);
        return { id: name, name, sha256Digest: digest };
      },
    },
  };
}

/** Build the stack's program under mocks and return every file it manages, resolved. */
export async function buildStackFiles(stack: string, root = packageRoot()): Promise<{ files: RenderedFile[]; digests: Record<string, string> }> {
  const def = stackDefinition(stack);
  const digests: Record<string, string> = {};
  // The registry accumulates over the process (tests run several programs): take ours.
  const start = managedFiles().length;
  await runProgram(
    () => def.program(renderGit),
    renderRunOptions(stack, root, (image, digest) => {
      digests[image] = digest;
    }),
  );
  const files = await collectFiles(managedFiles().slice(start));
  return { files, digests };
}

/** The header of INDEX.tsv: what the render is, and what in it is not real. */
export function indexHeader(stack: string, digests: Readonly<Record<string, string>>): string[] {
  const images = Object.keys(digests).sort();
  return [
    `# Files stack "${stack}" manages on its hosts, rendered by \`npm run render\` for review (not for deployment).`,
    "# Secrets are markers SECRET__<config key or generator name>__: no secret was read or decrypted.",
    "# Image digests are FAKE: sha256:<sha256 of the image reference>, standing in for the registry lookup.",
    ...images.map((i) => `# fake digest: ${i} -> ${digests[i]}`),
  ];
}

/** Render `stack` into `outDir/<host>/<absolute path>` plus `outDir/INDEX.tsv`. */
export async function renderStack(stack: string, outDir: string, opts: RenderOptions = {}): Promise<RenderResult> {
  stackDefinition(stack);
  prepareOutDir(outDir, opts.clean === true);
  const { files, digests } = await buildStackFiles(stack, opts.root);
  const index = writeFiles(outDir, files, indexHeader(stack, digests));
  return { files, digests, index };
}

export * from "../src/render/files";
export { knownStacks, type RenderableStack, stackDefinition, STACKS } from "./registry";
