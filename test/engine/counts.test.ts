/**
 * What the engine benchmark counts on the hosts (scripts/bench-engine.ts, issue 15), pinned
 * for 3 apps with the real engine: per phase of the stack's life, SSH sessions (sshd's
 * log), daemon reloads and whole-config checks (`haproxy -c`, `nginx -t`, counted by a
 * shim in front of each binary). Figures load cannot blur: a change that costs a route
 * a second check, or a deploy a second reload, fails here whatever the machine's speed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDns } from "../e2e/dns";
import { type Fleet, startHosts } from "../e2e/harness";
import { appsProgram, type PhaseRun, phases } from "./apps";
import { installDaemonCounters } from "./audit";

const N = 3;

describe(`the benchmark's host-side counts, ${N} apps, with the real engine`, () => {
  let fleet: Fleet;
  let run: PhaseRun;

  beforeAll(async () => {
    fleet = await startHosts({ names: ["titania", "puck"] });
    await startDns(fleet, "titania");
    const counters = await installDaemonCounters(fleet);
    run = await phases(fleet, "fleet-counts", appsProgram(fleet, N), 1, counters);
  });

  afterAll(async () => {
    await fleet?.teardown();
  });

  it("first up: one haproxy -c per route (one transaction for its two files) and one for the frontend, one nginx -t per site, each daemon's reload checks once more and reloads once", () => {
    const first = run.hosts.first;
    expect(first.checks).toEqual({ haproxy: 1 + N + 1, nginx: N + 1 });
    expect(first.reloads).toEqual({ haproxy: 1, nginx: 1 });
    // Per host: one helper installer (titania: the frontend and the routes share one helper,
    // both run the host-map assemble step; puck: the sites'), one session per file resource,
    // the reload.
    expect(first.sessions).toEqual({ titania: 1 + 1 + N + 1, puck: 1 + N + 1 });
  });

  it("no-op up: no session, no check, no reload", () => {
    expect(run.hosts.noop).toEqual({ sessions: {}, reloads: { haproxy: 0, nginx: 0 }, checks: { haproxy: 0, nginx: 0 } });
  });

  it("destroy: each removal checked once (a route's two files together), one reload per daemon after the last", () => {
    const destroy = run.hosts.destroy;
    expect(destroy.reloads).toEqual({ haproxy: 1, nginx: 1 });
    // The routes, the frontend's main config (put back as the harness had it), the last reload's own check.
    expect(destroy.checks).toEqual({ haproxy: N + 1 + 1, nginx: N + 1 });
    // Per host: the hold, one session per file resource, the last reload.
    expect(destroy.sessions).toEqual({ titania: 1 + 1 + N + 1, puck: 1 + N + 1 });
  });
});
