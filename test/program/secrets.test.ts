/**
 * Planted secrets never show in plaintext (DESIGN.md, Secrets): every secret config key
 * of the ouranos stack and every generated value is set to a recognisable planted
 * string, and neither it nor its percent-encoded or base64 forms may appear
 *   (a) in a resource input that is not behind a secret Output,
 *   (b) in a command's create/update/delete text,
 *   (c) in a file that is not a 0600 secret file, in a review render, or in its INDEX,
 *   (d) in anything printed while the program runs, or in the error a bad secret causes.
 * Commands that carry secrets on stdin run with `logging: "none"` and their stdout and
 * stderr marked secret.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parse, stringify } from "yaml";
import { managedFiles } from "../../src/remote/command";
import { collectFiles, type RenderedFile, readStackConfig, renderStack, SECRET_MARKER_PATTERN } from "../../stacks/render";
import { leaves, mockPassword, type RecordedResource } from "../../src/testing/mocks";
import { reveal } from "../helpers/inputs";
import { HANG_LIMIT_MS } from "../helpers/spawn";
import { toFernet } from "../../src/config/secrets";
import { buildOuranos, type OuranosRun, ouranosSecretKeys, type Variant } from "./ouranos";

const ROOT = path.resolve(__dirname, "../..");

/** A planted secret: recognisable, and with characters percent-encoding and base64 change. */
export function planted(key: string): string {
  return `Pl4nted.${key.replace(/^fleet:/, "")}+/@=:%&x`;
}

/** What generated secrets resolve to: mockPassword's shape plus characters URLs must encode. */
function plantedRandom(name: string, type: string): string {
  // RandomBytes' `base64` is what the program reads: make it real base64 of planted bytes.
  if (type.includes("RandomBytes")) return Buffer.from(`PLANTED-BYTES-${name}`.padEnd(32, "#").slice(0, 32)).toString("base64");
  return `${mockPassword(name)}+/@:`;
}

/** Every form in which a planted value could leak. */
function forms(value: string): string[] {
  const b64 = Buffer.from(value).toString("base64");
  return [...new Set([value, encodeURIComponent(value), encodeURI(value), b64, b64.replace(/=+$/, ""), Buffer.from(value).toString("base64url"), Buffer.from(value).toString("hex"), toFernet(value)])];
}

interface Scenario {
  readonly variant: Variant;
  readonly what: string;
  /** Config keys set to planted values. */
  readonly keys: string[];
}

const SCENARIOS: Scenario[] = [
  { variant: "all secrets set", what: "every secret config key set, optional ones included", keys: ouranosSecretKeys() },
  { variant: "stack file", what: "the stack file, required secrets set, optional ones generated", keys: readStackConfig("ouranos").secretKeys },
];

interface Planted {
  readonly run: OuranosRun;
  readonly needles: { readonly form: string; readonly of: string }[];
  readonly printed: string;
  readonly files: RenderedFile[];
}

/** Where any needle occurs in `text`, as "<needle origin>". */
function leaks(text: string, needles: Planted["needles"]): string[] {
  return needles.filter((n) => text.includes(n.form)).map((n) => n.of);
}

async function plantedRun(s: Scenario): Promise<Planted> {
  const values = Object.fromEntries(s.keys.map((k) => [k, planted(k)]));
  const randoms = new Map<string, string>();
  const printed: string[] = [];
  const capture = (where: string) => (...args: unknown[]) => {
    printed.push(`${where}: ${args.map((a) => (typeof a === "string" ? a : JSON.stringify(a) ?? String(a))).join(" ")}`);
  };
  const spies = [
    vi.spyOn(console, "log").mockImplementation(capture("console.log")),
    vi.spyOn(console, "info").mockImplementation(capture("console.info")),
    vi.spyOn(console, "warn").mockImplementation(capture("console.warn")),
    vi.spyOn(console, "error").mockImplementation(capture("console.error")),
    vi.spyOn(console, "debug").mockImplementation(capture("console.debug")),
  ];
  const writes = [process.stdout, process.stderr].map((stream) => {
    const original = stream.write.bind(stream);
    const spy = vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"));
      return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    });
    return spy;
  });
  let run: OuranosRun;
  try {
    run = await buildOuranos(s.variant, {
      config: values,
      randomValue: (name, type) => {
        const v = plantedRandom(name, type);
        randoms.set(name, v);
        return v;
      },
    });
    // pulumi.log under mocks prints through console: anything the program logged is in `printed`.
    await pulumi.log.info("secrets test: end of program");
  } finally {
    for (const spy of [...spies, ...writes]) spy.mockRestore();
  }
  const needles = [...Object.entries(values), ...randoms.entries()].flatMap(([of, v]) => forms(v).map((form) => ({ form, of })));
  const files = await collectFiles(managedFiles().slice(run.filesFrom, run.filesTo));
  return { run, needles, printed: printed.join("\n"), files };
}

function commands(p: Planted): RecordedResource[] {
  return p.run.run.byType("command:remote:Command");
}

describe.each(SCENARIOS)("planted secrets: $what", (scenario) => {
  let p: Planted;
  beforeAll(async () => {
    p = await plantedRun(scenario);
  });

  it("plants what it claims: every secret key set, generated values in use", () => {
    expect(scenario.keys.length).toBeGreaterThanOrEqual(scenario.variant === "all secrets set" ? 13 : 6);
    // The planted values reached the program: some secret file holds each kind.
    const secretText = p.files.filter((f) => f.secret).map((f) => f.content).join("\n");
    expect(leaks(secretText, p.needles).length).toBeGreaterThan(0);
    if (scenario.variant === "all secrets set") {
      for (const key of ["fleet:neo4jPassword", "fleet:rabbitmqPassword", "fleet:mnemosyneSecretKey", "fleet:mnemosyneLlmEncryptionKey", "fleet:mnemosyneDbPassword", "fleet:daedalusDbPassword"]) {
        expect(leaks(secretText, p.needles), key).toContain(key);
      }
    } else {
      for (const name of ["neo4j-password", "rabbitmq-password", "mnemosyne-secret-key", "mnemosyne-llm-encryption-key", "mnemosyne-db-password", "daedalus-db-password"]) {
        expect(leaks(secretText, p.needles), name).toContain(name);
      }
    }
    expect(p.run.run.resources.length).toBeGreaterThan(50);
  });

  it("(a) no resource input outside a secret Output holds a planted value", async () => {
    const found: string[] = [];
    const behindSecrets = new Set<string>();
    for (const r of p.run.run.resources) {
      for (const leaf of await leaves(r.props)) {
        for (const of of leaks(leaf.value, p.needles)) {
          if (leaf.secret) behindSecrets.add(of);
          else found.push(`${r.type}::${r.name} ${leaf.path} (${of})`);
        }
      }
    }
    expect(found).toEqual([]);
    // The check is live: the planted values are in the inputs, behind secret Outputs.
    expect(behindSecrets.size).toBeGreaterThanOrEqual(scenario.keys.length);
  });

  it("(b) no command's create, update or delete text holds a planted value", () => {
    const found: string[] = [];
    const cmds = commands(p);
    expect(cmds.length).toBeGreaterThan(30);
    for (const c of cmds) {
      for (const field of ["create", "update", "delete"] as const) {
        // A script may be secret as a whole (ComposeStack's up hashes the env file into its
        // revision line): it must still hold no planted value, so look inside the wrapper.
        const text: unknown = reveal(c.inputs[field]);
        if (text === undefined) continue;
        if (typeof text !== "string") throw new Error(`${c.name}.${field} is not a string`);
        for (const of of leaks(text, p.needles)) found.push(`${c.name}.${field} (${of})`);
      }
    }
    expect(found).toEqual([]);
  });

  it("commands with a secret on stdin log nothing and keep stdout/stderr secret", async () => {
    const checked: string[] = [];
    for (const c of commands(p)) {
      const stdin = c.props?.stdin;
      if (stdin === undefined) continue;
      const secretStdin = (await leaves(stdin)).some((l) => l.secret) || leaks(JSON.stringify(c.inputs.stdin ?? ""), p.needles).length > 0;
      if (!secretStdin) continue;
      checked.push(c.name);
      expect({ command: c.name, stdinSecret: pulumi.Output.isInstance(stdin) && (await pulumi.isSecret(stdin)) }).toEqual({ command: c.name, stdinSecret: true });
      expect({ command: c.name, logging: c.inputs.logging }).toEqual({ command: c.name, logging: "none" });
      expect({ command: c.name, additionalSecretOutputs: c.opts.additionalSecretOutputs }).toEqual({
        command: c.name,
        additionalSecretOutputs: expect.arrayContaining(["stdout", "stderr"]),
      });
    }
    // The three .env files, the Casdoor app, the RabbitMQ user, the service account task and its check.
    expect(checked).toEqual(
      expect.arrayContaining([
        "daedalus-env",
        "daedalus-sso-apply",
        "mnemosyne-amqp-apply",
        "mnemosyne-env",
        "mnemosyne-service-account-check",
        "mnemosyne-task-ensure-service-user",
        "neo4j-env",
      ]),
    );
    // A captured one-time output (the signing key) is as quiet as a secret input.
    const signing = commands(p).find((c) => c.name === "mnemosyne-task-seed-signing-key")!;
    expect(signing.inputs.logging).toBe("none");
    expect(signing.opts.additionalSecretOutputs).toEqual(expect.arrayContaining(["stdout", "stderr"]));
  });

  it("(c) no managed file but a 0600 secret file holds a planted value", () => {
    const found: string[] = [];
    for (const f of p.files) {
      const hits = leaks(f.content, p.needles);
      if (hits.length === 0) continue;
      if (!f.secret || f.mode !== "0600") found.push(`${f.host}:${f.path} (mode ${f.mode}, ${f.secret ? "secret" : "not secret"}): ${hits.join(", ")}`);
    }
    expect(found).toEqual([]);
  });

  it("(d) nothing printed while the program ran holds a planted value", () => {
    expect(p.printed).toContain("secrets test: end of program"); // the capture works
    expect(leaks(p.printed, p.needles)).toEqual([]);
  });
});

describe("(c) the review render of a stack file with secure: values", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("never reads them: markers in the files, no planted value or ciphertext in any file or the INDEX", async () => {
    // A project root whose stack file holds every secret key as `secure:` (as `pulumi config set --secret` writes it).
    const root = mkdtempSync(path.join(tmpdir(), "fleet-secure-root-"));
    dirs.push(root);
    copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(root, "Pulumi.yaml"));
    const doc = { config: { ...readStackYaml().config } };
    const needles: { form: string; of: string }[] = [];
    for (const key of ouranosSecretKeys()) {
      const cipher = `v1:${Buffer.from(planted(key)).toString("base64")}`;
      doc.config[key] = { secure: cipher };
      needles.push(...forms(planted(key)).map((form) => ({ form, of: key })), { form: cipher, of: `${key} ciphertext` });
    }
    writeFileSync(path.join(root, "Pulumi.ouranos.yaml"), stringify(doc));
    const out = path.join(root, "render");
    const { files } = await renderStack("ouranos", out, { root });

    const found: string[] = [];
    for (const rel of walk(out)) for (const of of leaks(readFileSync(path.join(out, rel), "utf8"), needles)) found.push(`${rel} (${of})`);
    expect(found).toEqual([]);
    // Optional secrets set in the file show as their config key's marker instead of being generated.
    const markers = new Set(files.flatMap((f) => f.content.match(SECRET_MARKER_PATTERN) ?? []));
    for (const key of ["neo4jPassword", "rabbitmqPassword", "mnemosyneSecretKey", "mnemosyneLlmEncryptionKey", "mnemosyneDbPassword", "daedalusDbPassword"]) {
      expect(markers, key).toContain(`SECRET__fleet_${key}__`);
    }
    for (const f of files.filter((x) => x.secret)) expect((statSync(path.join(out, f.host, f.path)).mode & 0o777).toString(8)).toBe("600");
  });
});

describe("(d) the error a bad secret causes", () => {
  it("names the variable and the rule, never the value", () => {
    // Run in a child: a rejected secret Output makes Pulumi's runtime reject many promises at once.
    const bad = "Pl4nted'neo4j-with-a-quote";
    const res = spawnSync(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(__dirname, "fixtures/bad-secret.ts")], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: HANG_LIMIT_MS,
      env: { ...process.env, FLEET_BAD_SECRET: bad },
    });
    const output = `${res.stdout}${res.stderr}`;
    expect(res.status, output).toBe(0);
    // Refused at config load (issue 9 item 12), before any resource, naming the key.
    expect(output).toContain("stack config: fleet:neo4jPassword: must not contain a single quote (it lands in single-quoted .env values); choose another value");
    expect(output).not.toContain("ComposeStack");
    for (const form of forms(bad)) expect(output).not.toContain(form);
  });
});

function readStackYaml(): { config: Record<string, unknown> } {
  return parse(readFileSync(path.join(ROOT, "Pulumi.ouranos.yaml"), "utf8")) as { config: Record<string, unknown> };
}

function walk(dir: string, rel = ""): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walk(dir, r) : [r];
  });
}
