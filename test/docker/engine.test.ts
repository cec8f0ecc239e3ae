/**
 * The real Docker engine of the e2e harness (test/e2e/harness/docker.ts): dockerd in
 * puck's namespaces, compose v2 as the CLI plugin over SSH, the registry on puck's
 * address, the root namespace's FORWARD policy untouched, and a teardown that leaves
 * no container process behind.
 */
import { readlinkSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Fleet, forwardPolicy, netnsName, REGISTRY, startHosts } from "../e2e/harness";
import { containerPids } from "../e2e/harness/docker";
import { httpd, pushImage, registryDigest } from "./images";

describe("dockerd, compose v2 and the registry on puck", () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startHosts({ names: ["puck"], docker: true });
  });
  afterAll(async () => {
    await fleet?.teardown();
  });

  it("runs dockerd in puck's network namespace, never the root one, and leaves FORWARD at ACCEPT", async () => {
    expect(await forwardPolicy()).toBe("ACCEPT");
    const pid = Number((await fleet.exec("puck", ["cat", "/run/docker.pid"])).stdout.trim());
    expect(pid).toBeGreaterThan(1);
    const netns = await fleet.exec("puck", ["readlink", "/proc/self/ns/net"]);
    expect(readlinkSync(`/proc/${pid}/ns/net`)).toBe(netns.stdout.trim());
    expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync("/proc/self/ns/net"));
    expect(netns.stdout.trim()).not.toBe("");
    expect(netnsName("puck")).toBe("fleet-puck");
  });

  it("answers docker and docker compose (v2) over SSH with overlay2", async () => {
    const r = await fleet.run("puck", "docker info --format '{{.Driver}} {{.ServerVersion}}' && docker compose version --short");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [info, compose] = r.stdout.trim().split("\n");
    expect(info).toMatch(/^overlay2 20\.10\./);
    expect(compose).toBe("2.40.3");
  });

  it("serves an image pushed to the registry by digest, and the container answers on a published port", async () => {
    const ref = `${REGISTRY}/fleet-smoke/web:1`;
    const digest = await pushImage(fleet, ref, { files: { "/www/healthz": "ok\n" }, cmd: httpd(8080) });
    expect(await registryDigest(ref)).toBe(digest);
    const pinned = `${REGISTRY}/fleet-smoke/web@${digest}`;
    const run = await fleet.run("puck", `docker run -d --name smoke -p 127.0.0.1:18080:8080 ${pinned} >/dev/null && docker inspect --format '{{.Image}}' smoke`);
    expect(run.code, run.stderr).toBe(0);
    const r = await fleet.curl("puck", "http://127.0.0.1:18080/healthz");
    expect(r.status).toBe(200);
    expect(r.body).toBe("ok\n");
    expect(containerPids().length).toBeGreaterThan(0);
  });

  it("tears down every container process with the fleet", async () => {
    const before = containerPids();
    expect(before.length).toBeGreaterThan(0);
    await fleet.teardown();
    expect(containerPids()).toEqual([]);
    expect(await forwardPolicy()).toBe("ACCEPT");
  });
});
