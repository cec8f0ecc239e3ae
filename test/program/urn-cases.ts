/**
 * The programs whose resource identities are pinned in `fixtures/urns/`: each stack
 * this restructuring touches, in the configurations that switch parts on and off.
 * `npx tsx test/program/urn-cases.ts --write` records them (done once, from the code
 * before AppDeployment: commit 2516718); the alias test compares against them.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { type RunOptions } from "../../src/testing/mocks";
import { daarionConfig, daarionSettings, digestFor, REGISTRY_TOKEN } from "../stacks/daarion-config";
import { FALCON, menagerieConfig, PEREGRINE, defaultSources } from "../stacks/menagerie-config";
import { ouranosConfig, registryCalls } from "../stacks/ouranos-config";
import { recordIdentities, type ResourceIdentity, urnLines } from "./urns";

export interface UrnCase {
  readonly name: string;
  readonly run: () => Promise<ResourceIdentity[]>;
}

function menagerieRun(settings: Record<string, unknown>): () => Promise<ResourceIdentity[]> {
  const { config, secretKeys } = menagerieConfig(settings);
  const sources = defaultSources();
  const options: RunOptions = {
    stack: "menagerie",
    config,
    secretKeys,
    commandStdout: (name, inputs) => {
      if (!name.endsWith("-source")) return undefined;
      const stdin = JSON.stringify(inputs);
      const key = Object.keys(sources).find((k) => k.split(" ").every((part) => stdin.includes(part)));
      return key === undefined ? undefined : Buffer.from(sources[key]!).toString("base64");
    },
  };
  return async () => {
    const { menagerie } = await import("../../stacks/menagerie");
    return recordIdentities(() => menagerie(), options);
  };
}

function ouranosRun(overrides: Record<string, unknown> = {}): () => Promise<ResourceIdentity[]> {
  const { config, secretKeys } = ouranosConfig(overrides);
  return async () => {
    const { ouranos } = await import("../../stacks/ouranos");
    return recordIdentities(() => ouranos(), { stack: "ouranos", config, secretKeys, calls: registryCalls });
  };
}

function daarionRun(settings: Record<string, unknown>): () => Promise<ResourceIdentity[]> {
  const { config, secretKeys } = daarionConfig(settings);
  const calls = { [REGISTRY_TOKEN]: (a: Record<string, unknown>) => ({ id: String(a.name), name: a.name, sha256Digest: digestFor(String(a.name)) }) };
  return async () => {
    const { daarion } = await import("../../stacks/daarion");
    return recordIdentities(() => daarion(), { stack: "daarion", config, secretKeys, calls });
  };
}

/** Every role, and every optional piece: the SPA on a federation node, Grafana on a development node, ports and TLS moved. */
const daarionThree = daarionSettings({
  nodes: [
    { name: "noda1", role: "production", domain: "gateway.daarion.city" },
    { name: "noda2", role: "development", domain: "dev.daarion.city" },
    { name: "noda3", role: "federation", domain: "matrix.daarion.city", services: { add: ["frontend"] } },
  ],
});
const daarionOverridden = daarionSettings({
  nodes: [
    {
      name: "noda2",
      role: "development",
      domain: "dev.daarion.city",
      services: { add: ["city-service", "grafana"], remove: ["vector-db"] },
      ports: { "auth-service": 7111 },
      requireMerged: true,
      tls: { mount: "/srv/tls" },
    },
  ],
});

const daedalus = { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" } };

export const URN_CASES: readonly UrnCase[] = [
  { name: "menagerie-peregrine", run: menagerieRun({}) },
  { name: "menagerie-two-apps", run: menagerieRun({ apps: [PEREGRINE, FALCON] }) },
  { name: "menagerie-no-demo", run: menagerieRun({ apps: [PEREGRINE, FALCON], demo: { enabled: false }, caddy: { manageServer: false } }) },
  { name: "ouranos", run: ouranosRun() },
  { name: "ouranos-compose", run: ouranosRun({ "fleet:ouranos": { daedalus: { ...daedalus, mode: "compose" } } }) },
  // Recorded at 2516718, before DaarionNode (a node's children were the stack's).
  { name: "daarion-three", run: daarionRun(daarionThree) },
  { name: "daarion-overridden", run: daarionRun(daarionOverridden) },
];

export const FIXTURES = path.join(__dirname, "fixtures", "urns");

if (process.argv.includes("--write")) {
  void (async () => {
    for (const c of URN_CASES) {
      const ids = await c.run();
      writeFileSync(path.join(FIXTURES, `${c.name}.txt`), urnLines(ids));
      console.log(`${c.name}: ${ids.length} resources`);
    }
  })();
}
