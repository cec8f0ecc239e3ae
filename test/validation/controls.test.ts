/**
 * Issue 9 item 8: C1 controls (U+0080–U+009F, NEL U+0085 among them) and the Unicode
 * line/paragraph separators are refused wherever C0 controls are, with the rule named,
 * instead of passing validation and failing later in the quoting helper with no key.
 */
import { describe, expect, it } from "vitest";
import { type z } from "zod";
import { caddyText } from "../../src/components/caddy/args";
import { healthCheckSchema } from "../../src/components/health/args";
import { nginxHeaderValue, nginxReturnText } from "../../src/components/nginx/args";
import { labelValue } from "../../src/components/prometheus/args";
import { execLine } from "../../src/components/systemd/args";
import { remoteTaskSchema } from "../../src/components/task/args";
import { sh } from "../../src/remote/quote";
import { envValue, oneLine, safeToken, urlPath } from "../../src/validation/primitives";

const SEPARATORS = [
  ["U+0080 (first C1)", "\u0080"],
  ["U+0085 NEL (next line)", "\u0085"],
  ["U+009B CSI (terminal control sequence)", "\u009b"],
  ["U+009F (last C1)", "\u009f"],
  ["U+2028 LINE SEPARATOR", "\u2028"],
  ["U+2029 PARAGRAPH SEPARATOR", "\u2029"],
] as const;

function messages(schema: z.ZodType, value: unknown): string[] {
  const r = schema.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join("/")}: ${i.message}`.replace(/^: /, ""));
}

const FIELDS: [string, z.ZodType, (bad: string) => unknown, string][] = [
  ["oneLine", oneLine, (c) => `a${c}b`, "must be one line without control characters"],
  ["envValue", envValue, (c) => `a${c}b`, "must be one line without control characters"],
  ["safeToken", safeToken, (c) => `a${c}b`, "must not contain whitespace, control characters, quotes or shell metacharacters ($ ` ; & | < > ( ) etc.)"],
  ["urlPath", urlPath, (c) => `/a${c}b`, "must be a URL path starting with '/', without spaces, quotes or '#'\nmust not contain control characters"],
  ["caddyText", caddyText, (c) => `a${c}b`, "must be one line without double quotes, backticks, backslashes or braces (Caddy would expand {placeholders})"],
  ["nginxHeaderValue", nginxHeaderValue, (c) => `a${c}b`, "must be one line without double quotes or backslashes"],
  ["nginxReturnText", nginxReturnText, (c) => `a${c}b`, "must be one line without '$' (nginx would expand it as a variable)"],
  ["prometheus labelValue", labelValue, (c) => `a${c}b`, "must be one line without control characters"],
  ["systemd execLine", execLine, (c) => `/usr/bin/app --x a${c}b`, "must be one line without control characters"],
];

describe("C1 controls and line separators are refused where C0 is", () => {
  for (const [name, schema, make, message] of FIELDS) {
    it.each(SEPARATORS)(`${name} refuses %s`, (_, c) => {
      expect(messages(schema, make(c))).toEqual(message.split("\n"));
    });
  }

  it.each(SEPARATORS)("a health check header and a task argv item refuse %s", (_, c) => {
    const health = healthCheckSchema.safeParse({ url: "http://puck.incus/health", headers: { "X-A": `a${c}` } });
    expect(health.success).toBe(false);
    const task = remoteTaskSchema.safeParse({ argv: ["echo", `a${c}`] });
    expect(task.success ? [] : task.error.issues.map((i) => i.message)).toContain("must be one line without control characters (newlines, line separators, tabs, NUL, C1)");
  });

  it("the quoting helper is where a C1 value used to fail, with no config key named (the reason to refuse it at load)", () => {
    expect(() => sh("a\u009bb")).toThrow("shell value has characters that cannot be passed through quoting unchanged (U+009B)");
  });
});
