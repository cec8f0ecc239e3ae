/**
 * The engine benchmark's delayed links (test/engine/latency.ts, `npm run bench:engine --
 * --rtt MS`): the relay passes every byte on in order both ways and reports each
 * connection with the port the far end saw; `commandDepth` reads the critical path's
 * length in commands from a stack's exported state.
 */
import { createServer, connect, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandDepth, type DelayedLinks, delayedLinks } from "../engine/latency";

describe("delayedLinks", () => {
  let echo: Server;
  let links: DelayedLinks;
  const seenPorts: number[] = [];

  beforeAll(async () => {
    echo = createServer((s) => {
      seenPorts.push(s.remotePort ?? 0);
      s.pipe(s);
    });
    await new Promise<void>((ok) => echo.listen(0, "127.0.0.1", ok));
    const a = echo.address();
    if (!a || typeof a !== "object") throw new Error("echo server has no address");
    links = await delayedLinks({ echo: { address: "127.0.0.1", port: a.port } }, 10);
  });

  afterAll(async () => {
    await links?.close();
    await new Promise((ok) => echo?.close(ok));
  });

  it("passes every chunk on in order both ways, and reports the connection with the port the server saw", async () => {
    const { address, port } = links.links.echo!;
    const chunks = Array.from({ length: 40 }, (_, i) => `chunk ${i};`);
    const sent = chunks.join("");
    const c = connect({ host: address, port });
    const got = new Promise<string>((ok, fail) => {
      let text = "";
      c.setEncoding("utf8");
      c.on("data", (d: string) => {
        text += d;
        if (text.length >= sent.length) c.end();
      });
      c.on("close", () => ok(text));
      c.on("error", fail);
    });
    // Small writes a millisecond apart, several in flight at once: each arrives at the
    // relay on its own and is passed on by its own timer, so order is the relay's doing.
    for (const chunk of chunks) {
      c.write(chunk);
      await new Promise((ok) => setTimeout(ok, 1));
    }
    expect(await got).toBe(sent);
    // The report comes when the relay has closed its side too.
    for (let i = 0; i < 100 && links.connections().length === 0; i++) await new Promise((ok) => setTimeout(ok, 20));
    const [conn, ...more] = links.connections();
    expect(more).toEqual([]);
    expect(conn!.host).toBe("echo");
    expect(seenPorts).toEqual([conn!.port]);
    expect(conn!.opened).toBeLessThanOrEqual(conn!.last);
    expect(conn!.last).toBeLessThanOrEqual(conn!.closed);
  });

  it("refuses a round-trip time that is not a positive number", async () => {
    await expect(delayedLinks({ echo: { address: "127.0.0.1", port: 1 } }, 0)).rejects.toThrow("delayedLinks: rtt must be a positive number of ms, got 0");
  });
});

describe("commandDepth", () => {
  const urn = (type: string, name: string) => `urn:pulumi:test::p::${type}::${name}`;
  const cmd = "command:remote:Command";
  // The apps program's shape: an installer, a site (component) with its file, a route
  // (component, dependsOn the site) with its file, the daemon's reload after the route's
  // file, and a last-reload marker that runs nothing on create.
  const installer = { urn: urn(cmd, "puck-fleet-nginx"), custom: true, type: cmd, inputs: { create: "install" } };
  const site = { urn: urn("fleet:nginx:Site", "app0-site"), custom: false, type: "fleet:nginx:Site" };
  const siteFile = { urn: urn(cmd, "app0-site-config"), custom: true, type: cmd, parent: site.urn, dependencies: [installer.urn], inputs: { create: "put" } };
  const route = { urn: urn("fleet:haproxy:Route", "app0"), custom: false, type: "fleet:haproxy:Route", dependencies: [site.urn] };
  const routeFile = { urn: urn(cmd, "app0-files"), custom: true, type: cmd, parent: route.urn, inputs: { create: "put" } };
  const reload = { urn: urn(cmd, "titania-haproxy-reload"), custom: true, type: cmd, dependencies: [routeFile.urn], inputs: { create: "reload" } };
  const marker = { urn: urn(cmd, "titania-haproxy-last-reload"), custom: true, type: cmd, dependencies: [reload.urn], inputs: { delete: "reload" } };
  const state = (resources: object[]) => JSON.stringify({ version: 3, deployment: { resources } });

  it("counts the commands one after the other, through a component's dependsOn and its children", () => {
    expect(commandDepth(state([installer, site, siteFile, route, routeFile, reload]))).toBe(4);
  });

  it("counts a command without create (it runs nothing) as 0", () => {
    expect(commandDepth(state([installer, site, siteFile, route, routeFile, reload, marker]))).toBe(4);
  });

  it("takes the longest of parallel chains, not their sum", () => {
    const other = { urn: urn(cmd, "app1-site-config"), custom: true, type: cmd, dependencies: [installer.urn], inputs: { create: "put" } };
    expect(commandDepth(state([installer, site, siteFile, other, route, routeFile, reload]))).toBe(4);
  });

  it("is 0 for a stack without commands", () => {
    expect(commandDepth(state([]))).toBe(0);
  });
});
