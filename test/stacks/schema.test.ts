/**
 * The stack files' JSON Schemas (schemas/<stack>.schema.json, `npm run schema`): checked
 * in up to date with the zod schemas, referenced from each Pulumi.<stack>.yaml, and the
 * example stack files pass them under ajv (draft-07, strict), while the mistakes an editor
 * should flag fail with the key named.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import Ajv, { type ErrorObject } from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { schemaText, withModeline } from "../../scripts/schema";
import { schemaModeline, schemaPath, STACK_CONFIG_SCHEMAS } from "../../stacks/schema";
import { knownStacks } from "../../stacks/registry";

const ROOT = path.resolve(__dirname, "../..");
const STACKS = Object.keys(STACK_CONFIG_SCHEMAS).sort();

function validator(stack: string) {
  // strict: an unknown keyword or a type mix-up in the generated schema is an error, not ignored.
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(ROOT, schemaPath(stack)), "utf8")) as object);
}

function stackFile(stack: string): Record<string, unknown> {
  return parse(fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as Record<string, unknown>;
}

const where = (errors: readonly ErrorObject[] | null | undefined) => (errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ""}`);

describe("stack file schemas", () => {
  it("cover every stack the program knows", () => {
    expect(STACKS).toEqual(knownStacks());
  });

  it.each(STACKS)("schemas/%s.schema.json is up to date (npm run schema)", (stack) => {
    const file = path.join(ROOT, schemaPath(stack));
    expect(fs.existsSync(file), `${schemaPath(stack)} is missing: run npm run schema`).toBe(true);
    expect(fs.readFileSync(file, "utf8"), `${schemaPath(stack)} is stale: run npm run schema`).toBe(schemaText(stack));
  });

  it.each(STACKS)("Pulumi.%s.yaml points editors at its schema on its first line", (stack) => {
    const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
    expect(text.split("\n")[0]).toBe(schemaModeline(stack));
    expect(withModeline(stack, text)).toBe(text);
  });

  it.each(STACKS)("the example Pulumi.%s.yaml is valid", (stack) => {
    const validate = validator(stack);
    const ok = validate(stackFile(stack));
    expect(where(validate.errors)).toEqual([]);
    expect(ok).toBe(true);
  });

  it.each(STACKS)("Pulumi.%s.yaml with secrets set as `pulumi config set --secret` writes them is valid", (stack) => {
    const doc = stackFile(stack);
    const config = doc.config as Record<string, unknown>;
    config["fleet:sshPrivateKey"] = { secure: "v1:AAAABBBB" };
    doc.encryptionsalt = "v1:abc";
    const validate = validator(stack);
    expect(where(validate.errors)).toEqual([]);
    expect(validate(doc)).toBe(true);
  });

  it("flags a misspelt key, a wrong type, a bad pattern and a secret stored in plain text, naming the key", () => {
    const doc = stackFile("daarion");
    const config = doc.config as Record<string, Record<string, unknown>>;
    const hosts = config["fleet:hosts"] as Record<string, Record<string, unknown>>;
    hosts.noda1!.prot = 2222;
    hosts.noda2!.port = "22";
    hosts.noda2!.hostKey = "not a key";
    config["fleet:daarion"]!.tag = "latest tag";
    (config as Record<string, unknown>)["fleet:daarionPostgresPassword"] = "hunter2";
    (config as Record<string, unknown>)["fleet:bad.key"] = "x";
    const validate = validator("daarion");
    expect(validate(doc)).toBe(false);
    const found = where(validate.errors);
    expect(found).toEqual(
      expect.arrayContaining([
        "/config/fleet:hosts/noda1 must NOT have additional properties",
        "/config/fleet:hosts/noda2/port must be integer",
        expect.stringMatching(/^\/config\/fleet:hosts\/noda2\/hostKey must match pattern/),
        expect.stringMatching(/^\/config\/fleet:daarion\/tag must match pattern/),
        "/config/fleet:daarionPostgresPassword must be object",
        "/config must NOT be valid",
      ]),
    );
    expect(validate.errors?.find((e) => e.instancePath === "/config/fleet:hosts/noda1")?.params).toEqual({ additionalProperty: "prot" });
  });

  it("refuses the settings of another stack in this stack's file", () => {
    const doc = stackFile("menagerie");
    (doc.config as Record<string, unknown>)["fleet:daarion"] = (stackFile("daarion").config as Record<string, unknown>)["fleet:daarion"];
    const validate = validator("menagerie");
    expect(validate(doc)).toBe(false);
    expect(where(validate.errors)).toContain("/config/fleet:daarion must have required property 'secure'");
  });

  it("leaves other namespaces alone", () => {
    const doc = stackFile("ouranos");
    (doc.config as Record<string, unknown>)["docker:host"] = "ssh://x";
    (doc.config as Record<string, unknown>)["pulumi:disable-default-providers"] = ["*"];
    const validate = validator("ouranos");
    expect(where(validate.errors)).toEqual([]);
    expect(validate(doc)).toBe(true);
  });
});
