/**
 * Digest lookups: the registry an image names, the one line a failed lookup prints,
 * and that every failure of a stack comes back as one error (the real provider's
 * errors are from test/cli; the lookup is injected here).
 */
import type * as docker from "@pulumi/docker";
import { describe, expect, it } from "vitest";
import { DigestLookupError, dockerSshHost, lookupDigests, lookupReason, registryOf } from "../../src/components/compose/digests";

const D = (c: string) => `sha256:${c.repeat(64)}`;
const provider = {} as docker.Provider;

describe("registryOf", () => {
  it.each([
    ["postgres:16-alpine", "docker.io"],
    ["grafana/grafana:11.2.2", "docker.io"],
    ["ghcr.io/ivantytar/microdao-daarion/router:latest", "ghcr.io"],
    ["127.0.0.1:5000/library/nginx:1.27-alpine", "127.0.0.1:5000"],
    ["localhost/app:1", "localhost"],
  ])("%s → %s", (image, registry) => expect(registryOf(image)).toBe(registry));
});

describe("lookupReason", () => {
  it("keeps the cause, not the invoke, the image or the URL the line already names", () => {
    const refused = new Error(
      'invocation of docker:index/getRegistryImage:getRegistryImage returned an error: Got error when attempting to fetch image version ivantytar/x/router:latest from registry: Error during registry request: Head "https://127.0.0.1:1/v2/ivantytar/x/router/manifests/latest": dial tcp 127.0.0.1:1: connect: connection refused',
    );
    expect(lookupReason(refused)).toBe("dial tcp 127.0.0.1:1: connect: connection refused");
    const missing = new Error("invoke of docker:index/getRegistryImage:getRegistryImage failed: Got error when attempting to fetch image version a/b:c from registry: got bad response from registry: 404 Not Found");
    expect(lookupReason(missing)).toBe("got bad response from registry: 404 Not Found");
  });

  it("is one line of at most 300 characters", () => {
    const r = lookupReason(new Error(`first\n  second\n${"x".repeat(400)}`));
    expect(r).not.toContain("\n");
    expect(r.length).toBe(300);
    expect(r.startsWith("first second x")).toBe(true);
  });
});

describe("lookupDigests", () => {
  it("looks each image up once and returns the digests", async () => {
    const asked: string[] = [];
    const got = await lookupDigests(["b:1", "a:1", "b:1"], { subject: "stack s", hint: "pin it", provider, lookup: (i) => (asked.push(i), Promise.resolve(D(i[0]!))) });
    expect(asked).toEqual(["a:1", "b:1"]);
    expect([...got]).toEqual([["a:1", D("a")], ["b:1", D("b")]]);
  });

  it("reports every failure in one error, one line per image naming its registry", async () => {
    const lookup = (i: string): Promise<string> => {
      if (i.startsWith("ghcr.io/")) return Promise.reject(new Error("invoke of docker:index/getRegistryImage:getRegistryImage failed: Got error when attempting to fetch image version x from registry: got bad response from registry: 401 Unauthorized"));
      return Promise.resolve(i === "redis:7" ? "latest" : D("e"));
    };
    const err = await lookupDigests(["ghcr.io/o/a:1", "ghcr.io/o/b:1", "redis:7", "nginx:1"], { subject: "stack s", hint: "pin digests under x", provider, lookup }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestLookupError);
    expect((err as DigestLookupError).message).toBe(
      [
        "stack s: cannot resolve 3 image digests (pin digests under x):",
        "  - ghcr.io/o/a:1: registry ghcr.io: got bad response from registry: 401 Unauthorized",
        "  - ghcr.io/o/b:1: registry ghcr.io: got bad response from registry: 401 Unauthorized",
        '  - redis:7: registry docker.io: the registry gave "latest", not sha256:<64 hex digits>',
      ].join("\n"),
    );
    // Printed by Pulumi's runner as its message alone.
    expect((err as DigestLookupError).__pulumiRunError).toBe(true);
  });

  it("one failure is one line", async () => {
    const err = await lookupDigests(["nginx:1"], { subject: "stack s", hint: "pin it", provider, lookup: () => Promise.reject(new Error("got bad response from registry: 404 Not Found")) }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("stack s: cannot resolve the digest of nginx:1: registry docker.io: got bad response from registry: 404 Not Found (pin it)");
  });
});

describe("dockerSshHost", () => {
  it("names the Docker host as docker -H does, IPv6 in brackets", () => {
    expect(dockerSshHost({ address: "noda1.daarion.city", port: 22, user: "root" })).toBe("ssh://root@noda1.daarion.city:22");
    expect(dockerSshHost({ address: "fd00::1", port: 2222, user: "deploy" })).toBe("ssh://deploy@[fd00::1]:2222");
  });
});
