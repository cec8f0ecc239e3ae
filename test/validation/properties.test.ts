/**
 * Property tests (fast-check) for the invariants everything else leans on:
 * - whatever a primitive accepts is inert in a shell and in a config line;
 * - `sh()` turns any string into one word that the shell gives back byte for byte;
 * - any password survives percent-encoding into a connection URL and back.
 */
import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { credentialUrl } from "../../src/urls";
import { isBucketName } from "../../src/naming";
import { sh } from "../../src/remote/quote";
import * as p from "../../src/validation/primitives";

/** Characters that would let a value escape a word in sh or a token in a config file. */
const DANGEROUS = /[\s'"`$\\;&|<>(){}*?!#~^\0]/;

const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.constantFrom("x'; rm -rf / #", "$(id)", "`id`", "a\nb", "a b", "../../etc/passwd", "-rf", "${IFS}", "a;b", "a|b", "a&&b", "a".repeat(300)),
  fc.stringMatching(/^[a-z0-9./_-]{1,40}$/),
);

describe("primitives accept nothing a shell or config line could misread", () => {
  const cases = [
    ["hostname", p.hostname],
    ["domainName", p.domainName],
    ["absolutePath", p.absolutePath],
    ["unixName", p.unixName],
    ["pgIdentifier", p.pgIdentifier],
    ["unitName", p.unitName],
    ["slug", p.slug],
    ["envName", p.envName],
    ["safeToken", p.safeToken],
    ["gitRef", p.gitRef],
    ["imageRef", p.imageRef],
  ] as const;

  it.each(cases)("%s", (_name, schema) => {
    fc.assert(
      fc.property(hostile, (value) => {
        if (schema.safeParse(value).success) {
          expect(value).not.toMatch(DANGEROUS);
          // Paths never climb out of where they point.
          if (schema === p.absolutePath) expect(value.split("/")).not.toContain("..");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("bucket names stay within S3's rules", () => {
    fc.assert(
      fc.property(hostile, (value) => {
        if (isBucketName(value)) expect(value).toMatch(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
      }),
      { numRuns: 500 },
    );
  });
});

describe("sh()", () => {
  it("gives back any string byte for byte through /bin/sh, or refuses it: never alters it", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }).filter((s) => !s.includes("\0")), (value) => {
        let quoted: string;
        try {
          quoted = sh(value);
        } catch (e) {
          expect(String(e)).toContain("cannot be passed through quoting unchanged");
          return;
        }
        const out = execFileSync("/bin/sh", ["-c", `printf '%s' ${quoted}`], { encoding: "utf8" });
        expect(out).toBe(value);
      }),
      { numRuns: 150 },
    );
  });

  it("passes newlines, tabs and every printable character; refuses what the library would drop", () => {
    expect(execFileSync("/bin/sh", ["-c", `printf '%s' ${sh("a\nb\tc 'd' \"e\" $f `g` \\h")}`], { encoding: "utf8" })).toBe("a\nb\tc 'd' \"e\" $f `g` \\h");
    expect(() => sh("a\rb")).toThrow("cannot be passed through quoting unchanged (U+000D)");
  });
});

describe("credentialUrl", () => {
  it("any password percent-decodes back from the URL", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 40 }), (password) => {
        const url = new URL(credentialUrl({ scheme: "postgresql", user: "app", password, host: "db.example", port: 5432, path: "app" }).replace(/^postgresql:/, "http:"));
        expect(decodeURIComponent(url.password)).toBe(password);
        expect(url.hostname).toBe("db.example");
        expect(url.port).toBe("5432");
      }),
      { numRuns: 500 },
    );
  });
});
