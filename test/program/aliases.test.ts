/**
 * Restructuring the stacks (apps as AppDeployment instances) must not make an existing
 * deployment replace anything: every resource of the program before it (URNs recorded
 * in fixtures/urns/, see urn-cases.ts) is kept by the program now, under its URN or
 * through an alias, by exactly one resource; and nothing is added but component
 * resources (which own nothing on a host).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES, URN_CASES } from "./urn-cases";
import { compareIdentities } from "./urns";

/**
 * Custom resources added on purpose since the URNs were recorded (each a behaviour change
 * its commit names): DAARION's adoption of a hand-made deployment before the first up
 * (issue 13 item 9, `<node>-compose-adopt`), Mnemosyne's and the menagerie demo's (`mnemosyne-adopt`, `<project>-adopt`); DAARION's own services probed from the host,
 * no curl or wget assumed in their images (issue 13 item 7, `<node>-services-health-command`);
 * Daedalus's releases (issue 13 item 2: `daedalus-release-command` exports the commit into
 * releases/<commit12>, `daedalus-activate-command` swaps `current`, checks and rolls back).
 */
const INTENDED_NEW: readonly RegExp[] = [
  /[:$]command:remote:Command::[a-z0-9-]+-compose-adopt$/,
  /[:$]command:remote:Command::(mnemosyne|[a-z0-9-]+-demo)-adopt$/,
  /[:$]command:remote:Command::[a-z0-9-]+-services-health-command$/,
  /[:$]command:remote:Command::daedalus-(release|activate)-command$/,
];

/**
 * Custom resources dropped on purpose (each a behaviour change its commit names): an HAProxy
 * route's `<route>-map` (issue 15 item 2: the backend and map fragments are one resource,
 * `<route>-files`, which keeps the `<route>-backend` identity; the old map resource's delete
 * removes only the old `<backend>.map`, the new map fragment is `<backend>.route.map`); the
 * installer of titania's HAProxy helper without the host-map assemble step (issue 15: a
 * route's two files are one helper call, the map's helper; no other file of ouranos used it.
 * An installer has no delete: the inert helper file stays on the host); Daedalus's unit
 * restart `daedalus-api-restart` (issue 13 item 2: the unit is installed without a restart of
 * its own, `daedalus-activate-command` restarts it once per deploy, on the release it checks;
 * the restart task has no delete, so dropping it runs nothing on puck).
 */
const INTENDED_GONE: readonly RegExp[] = [
  /\$fleet:haproxy:Route\$command:remote:Command::[a-z0-9-]+-map$/,
  /::command:remote:Command::titania-fleet-haproxy-<hash>$/,
  /\$fleet:systemd:Unit\$command:remote:Command::daedalus-api-restart$/,
];

describe.each(URN_CASES)("resource identities of $name", (c) => {
  it("every old resource is kept by one new resource, and only components are new", async () => {
    const before = readFileSync(path.join(FIXTURES, `${c.name}.txt`), "utf8").split("\n").filter(Boolean);
    const now = await c.run();
    const { lost, ambiguous, added } = compareIdentities(before, now);
    expect(lost.filter((u) => !INTENDED_GONE.some((re) => re.test(u)))).toEqual([]);
    expect(ambiguous).toEqual([]);
    // A new component wraps children that kept their identity; a new custom resource would act on a host,
    // so only those added on purpose are allowed, by name.
    expect(added.filter((u) => !u.split("::")[2]!.split("$").pop()!.startsWith("fleet:") && !INTENDED_NEW.some((re) => re.test(u)))).toEqual([]);
    expect(now.length).toBe(before.length - lost.length + added.length);
  });
});
