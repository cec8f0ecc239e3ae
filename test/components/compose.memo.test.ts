/**
 * The compose file is parsed and prepared once per text (and plan) in a process, however
 * often a program (or a test file building it again) asks: src/memo.ts. A kept result must
 * never hide a refusal: a different env, pin or service list is prepared afresh, and a
 * refused file is refused again every time, with the subject of that call.
 */
import { describe, expect, it } from "vitest";
import { parseCompose } from "../../src/components/compose/interpolation";
import { PLACEHOLDER_DIGEST, prepareCompose } from "../../src/components/compose/render";
import { deepFreeze, Memo } from "../../src/memo";
import { ConfigError } from "../../src/validation/errors";

const TEXT = "services:\n  web: &web\n    image: nginx:alpine\n    environment:\n      TOKEN: ${TOKEN}\n  worker:\n    <<: *web\n";

describe("Memo", () => {
  it("computes a key once, keeps no error, and drops the oldest entry beyond its size", () => {
    const memo = new Memo<string>(2);
    let calls = 0;
    const get = (k: string) => memo.get(k, () => `${k}${++calls}`);
    expect([get("a"), get("a"), get("b"), get("a")]).toEqual(["a1", "a1", "b2", "a1"]);
    expect(get("c")).toBe("c3");
    // "a" was the oldest of three: computed again.
    expect(get("a")).toBe("a4");
    let failures = 0;
    const refuse = () =>
      memo.get("bad", () => {
        failures++;
        throw new Error("refused");
      });
    expect(refuse).toThrow("refused");
    expect(refuse).toThrow("refused");
    expect(failures).toBe(2);
  });

  it("deepFreeze freezes nested objects and arrays, shared ones once", () => {
    const shared = { a: [1, { b: 2 }] };
    const v = deepFreeze({ x: shared, y: shared });
    expect(Object.isFrozen(v.x.a[1])).toBe(true);
    expect(() => {
      "use strict";
      (v.y.a as unknown[]).push(3);
    }).toThrow(TypeError);
  });
});

describe("compose files parsed and prepared once per input", () => {
  it("hands every caller of parseCompose the same frozen tree for the same text", () => {
    const a = parseCompose(TEXT);
    expect(parseCompose(TEXT)).toBe(a);
    expect(parseCompose(`${TEXT}\n`)).not.toBe(a);
    // The merge key resolved as compose reads it, and no caller can change the shared tree.
    expect((a.services as Record<string, { image: string }>).worker?.image).toBe("nginx:alpine");
    expect(() => {
      (a.services as Record<string, unknown>).extra = {};
    }).toThrow(TypeError);
  });

  it("refuses text that is not a compose mapping every time", () => {
    expect(() => parseCompose("services: [")).toThrow(/is not valid YAML/);
    expect(() => parseCompose("services: [")).toThrow(/is not valid YAML/);
  });

  it("never lets a prepared file stand in for another env, pin or service list, nor hide a refusal", () => {
    const pins = { web: `nginx@${PLACEHOLDER_DIGEST}` };
    const ok = prepareCompose(TEXT, { env: ["TOKEN"], pins }, 'ComposeStack "a"');
    expect(ok).toContain(`image: nginx@${PLACEHOLDER_DIGEST}`);
    expect(prepareCompose(TEXT, { env: ["TOKEN"], pins }, 'ComposeStack "b"')).toBe(ok);
    // The same text without TOKEN in env: refused, naming this call's subject, each time.
    for (const subject of ['ComposeStack "c"', 'ComposeStack "d"']) {
      let error: unknown;
      try {
        prepareCompose(TEXT, { env: [], pins }, subject);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(subject);
      expect((error as Error).message).toContain("env/TOKEN");
    }
    // Another pin, another service named by the stack: prepared (or refused) afresh.
    expect(prepareCompose(TEXT, { env: ["TOKEN"], pins: { web: `nginx@sha256:${"1".repeat(64)}` } })).toContain(`nginx@sha256:${"1".repeat(64)}`);
    expect(() => prepareCompose(TEXT, { env: ["TOKEN"], pins, services: { "files/0/restart/0": "db" } })).toThrow(/service "db" is not in the compose file/);
    expect(prepareCompose(TEXT, { env: ["TOKEN"], pins, services: { "files/0/restart/0": "worker" } })).toBe(ok);
  });
});
