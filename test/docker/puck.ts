/**
 * The host the ComposeStack suites share (compose.test.ts, adopt.test.ts, build.test.ts, peregrine.test.ts): puck with
 * dockerd, compose v2 and the registry, the suite's stand-in images pushed to it, and
 * a ComposeStack deployed there with each image tag resolved in that registry.
 */
import { type ComposeStackArgs, ComposeStack } from "../../src/components/compose";
import { sh } from "../../src/remote/quote";
import { type Fleet, startHosts } from "../e2e/harness";
import { fleetHosts, hostOf } from "../e2e/program";
import { pushImage, registryDigest, type StandIn } from "./images";

/**
 * Starts puck with Docker and pushes `images` (reference → stand-in), in order. The
 * digest each push got, by reference. A failed push tears puck down before it throws:
 * the suite's `afterAll` has no fleet to tear down then.
 */
export async function dockerPuck(images: Readonly<Record<string, StandIn>>): Promise<{ fleet: Fleet; digests: Record<string, string> }> {
  const fleet = await startHosts({ names: ["puck"], docker: true });
  const digests: Record<string, string> = {};
  try {
    for (const [ref, spec] of Object.entries(images)) digests[ref] = await pushImage(fleet, ref, spec);
  } catch (e) {
    await fleet.teardown();
    throw e;
  }
  return { fleet, digests };
}

/**
 * Pulls `ref` (pushed by dockerPuck, by its `digest`) into puck's own image store, as a host
 * that ran anything from it has it: compose's builder resolves `FROM` there first (its own
 * registry client would speak HTTPS to the test registry, which serves plain HTTP on the test
 * network only). Throws with docker's message.
 */
export async function pullOnPuck(fleet: Fleet, ref: string, digest: string): Promise<void> {
  const pulled = await fleet.run("puck", `docker pull -q ${sh(`${ref.replace(/:[^/:]+$/, "")}@${digest}`)}`, undefined, 120_000);
  if (pulled.code !== 0) throw new Error(`docker pull ${ref}@${digest} on puck: ${pulled.stderr}`);
}

/**
 * A ComposeStack named after its project on puck: a tag resolves to its registry digest
 * now, as preview does, and `up` waits at most 60 s for the services to be healthy.
 */
export function composeOnPuck(fleet: Fleet, args: Omit<ComposeStackArgs, "host" | "resolveDigest" | "wait"> & { readonly project: string }): ComposeStack {
  return new ComposeStack(args.project, {
    host: hostOf(fleetHosts(fleet), "puck"),
    ...args,
    resolveDigest: (image) => registryDigest(image),
    wait: { timeoutSeconds: 60 },
  });
}
