/**
 * End to end: HealthCheck's own script (taken from the program built under mocks) run
 * over real SSH from titania against nginx on puck: it passes on the right answer, fails
 * with a message naming what was expected and what came back, and every wait is bounded
 * by its attempts, delays and per-request timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthCheck } from "../../src/components/health";
import { type HealthCheckSpecInput } from "../../src/components/health/args";
import { NginxSite } from "../../src/components/nginx";
import { type Fleet, HEALTH_BODY, type HostName, startHosts } from "./harness";
import { build, create, describeResult, fleetHosts, hostOf, type RemoteCommand } from "./program";

const HOSTS: HostName[] = ["titania", "puck"];

/** Retries kept short: 3 attempts, 1 s apart, 2 s per request. */
const FAST = { attempts: 3, initialDelaySeconds: 1, maxDelaySeconds: 1, timeoutSeconds: 2 } as const;

/** The longest a check may take: every delay plus every request timing out, plus SSH. */
function bound(spec: { attempts: number; initialDelaySeconds: number; maxDelaySeconds: number; timeoutSeconds: number }): number {
  let delays = 0;
  let d = spec.initialDelaySeconds;
  for (let i = 1; i < spec.attempts; i++) {
    delays += d;
    d = Math.min(d * 2, spec.maxDelaySeconds);
  }
  return (delays + spec.attempts * spec.timeoutSeconds) * 1000 + 3_000;
}

describe("HealthCheck from titania, over real SSH", () => {
  let fleet: Fleet;

  beforeAll(async () => {
    fleet = await startHosts({ names: HOSTS });
  });

  afterAll(async () => {
    await fleet?.teardown();
  });

  async function check(spec: HealthCheckSpecInput): Promise<RemoteCommand> {
    const hosts = fleetHosts(fleet);
    const built = await build(() => new HealthCheck("probe", { host: hostOf(hosts, "titania"), ...spec }));
    const cmd = built.command("probe-check");
    expect(cmd.host).toBe("titania");
    // No secrets: stdin is only the run's fingerprint (src/remote/scripts.ts RunStamp).
    expect(cmd.stdin).toMatch(/^[0-9a-f]{64}\n$/);
    return cmd;
  }

  async function timed(cmd: RemoteCommand): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    const t0 = Date.now();
    const r = await create(fleet, cmd);
    return { ...r, ms: Date.now() - t0 };
  }

  it("passes on the right status and body, at the first attempt", async () => {
    const spec = { url: "http://puck.incus:8080/health", bodyMatch: '"status": ?"ok"', description: "nginx on puck", ...FAST };
    const r = await timed(await check(spec));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("fleet: healthy: nginx on puck (http://puck.incus:8080/health) answered 200\n");
    expect(r.ms).toBeLessThan(spec.initialDelaySeconds * 1000); // no retry was needed
  });

  it("fails on a wrong status, naming the expected and the received status, after its bounded retries", async () => {
    const spec = { url: "http://puck.incus:8080/fail", ...FAST };
    const r = await timed(await check(spec));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("fleet: health check failed for http://puck.incus:8080/fail after 3 attempt(s): expected status 200; got status 500 and body: ");
    expect(r.stderr).toContain("500 Internal Server Error");
    // Two 1 s delays between three attempts, and no more than the bound.
    expect(r.ms).toBeGreaterThanOrEqual(2_000);
    expect(r.ms).toBeLessThan(bound(spec));
  });

  it("fails on a wrong body, quoting the body it got", async () => {
    const spec = { url: "http://puck.incus:8080/health", bodyMatch: '"status": ?"down"', ...FAST };
    const r = await timed(await check(spec));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `fleet: health check failed for http://puck.incus:8080/health after 3 attempt(s): expected status 200 and a body matching /"status": ?"down"/; got status 200 and body: ${HEALTH_BODY}\n`,
    );
    expect(r.ms).toBeGreaterThanOrEqual(2_000);
    expect(r.ms).toBeLessThan(bound(spec));
  });

  it("fails on a refused connection with curl's reason", async () => {
    const spec = { url: "http://puck.incus:8099/health", ...FAST };
    const r = await timed(await check(spec));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fleet: health check failed for http:\/\/puck\.incus:8099\/health after 3 attempt\(s\): expected status 200; got status 000 and body: {2}\(curl: curl: \(7\) Failed to connect to puck\.incus port 8099/);
    expect(r.ms).toBeLessThan(bound(spec));
  });

  it("sends its headers: HAProxy on titania answers an unknown Host with its 503", async () => {
    const spec = { url: "http://titania.incus/", headers: { Host: "nobody.fleet.test" }, expectStatus: [503], bodyMatch: "^no route$", ...FAST };
    const r = await timed(await check(spec));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("fleet: healthy: http://titania.incus/ answered 503\n");
  });

  it("passes once the service comes up within its retries", async () => {
    const spec = { url: "http://puck.incus:8093/ready", bodyMatch: "^ready$", attempts: 5, initialDelaySeconds: 1, maxDelaySeconds: 2, timeoutSeconds: 2 };
    const cmd = await check(spec);
    const hosts = fleetHosts(fleet);
    const late = await build(
      () =>
        new NginxSite("late-site", {
          host: hostOf(hosts, "puck"),
          site: "late",
          listen: 8093,
          locations: [{ path: "= /ready", returnStatus: 200, returnBody: "ready" }],
        }),
    );
    const site = late.command("late-site-config");

    const running = timed(cmd);
    // The site lands while the check is retrying (its first attempt is refused).
    await new Promise((r) => setTimeout(r, 1_500));
    const s = await create(fleet, site);
    expect(s.code, describeResult(site, s)).toBe(0);
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("fleet: healthy: http://puck.incus:8093/ready answered 200\n");
    expect(r.ms).toBeGreaterThanOrEqual(1_000); // it did retry
    expect(r.ms).toBeLessThan(bound(spec));
  });
});
