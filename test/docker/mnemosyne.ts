/**
 * Mnemosyne deployed as the ouranos stack deploys it, for the Docker suite: the app's compose
 * project and its probes from prospero (no Titania here, so no HAProxy route or scrape job),
 * with the test registry's images and fixed test secrets. Shared by mnemosyne.test.ts and
 * mnemosyne-adopt.test.ts, which differ only in the `mnemosyne` config (names to take over).
 */
import * as pulumi from "@pulumi/pulumi";
import { ouranosSchema } from "../../stacks/ouranos/config";
import { mnemosyneApp } from "../../stacks/ouranos/mnemosyne";
import { type Fleet, REGISTRY } from "../e2e/harness";
import { fleetHosts, hostOf } from "../e2e/program";
import { registryDigest } from "./images";

export const MNEMOSYNE_APP_IMAGE = `${REGISTRY}/r/mnemosyne:latest`;
export const MNEMOSYNE_WEB_IMAGE = `${REGISTRY}/nginx:alpine`;

/** The program: `mnemosyne` is the stack config's `mnemosyne` section beside the test images. */
export function mnemosyneProgram(fleet: Fleet, mnemosyne: Record<string, unknown> = {}) {
  return () => {
    const hosts = fleetHosts(fleet);
    const cfg = ouranosSchema.parse({
      daedalus: { repo: { url: "https://git.helu.ca/r/daedalus.git", ref: "v1.4.2" } },
      mnemosyne: { image: MNEMOSYNE_APP_IMAGE, webImage: MNEMOSYNE_WEB_IMAGE, ...mnemosyne },
      // The test hosts' network stands for the sandbox's 10.10.0.0/24: prospero scrapes from it.
      metrics: { allow: ["10.231.0.0/24", "172.16.0.0/12", "127.0.0.0/8"] },
    });
    const parent = new pulumi.ComponentResource("fleet:test:Ouranos", "ouranos");
    const secret = (v: string) => pulumi.secret(v);
    const app = mnemosyneApp(
      {
        cfg,
        puck: hostOf(hosts, "puck"),
        minioUrl: "https://nyx.helu.ca:8555",
        db: { name: "mnemosyne", user: "mnemosyne", host: cfg.dns.postgres, port: 5432 },
        secrets: {
          secretKey: secret("django-secret-for-tests-0123456789abcdef"),
          llmEncryptionKey: secret("bGxtLWVuY3J5cHRpb24ta2V5LWZvci10ZXN0cy0wMTI="),
          dbPassword: secret("db-password-for-tests"),
          neo4jBoltUrl: secret("bolt://neo4j:pw@umbriel.incus:7687"),
          brokerUrl: secret("amqp://mnemosyne:pw@oberon.incus:5672/mnemosyne"),
          s3: { accessKey: secret("mnemosyne"), secretKey: secret("s3-secret-for-tests") },
          daedalusS3: { accessKey: secret("mnemosyne-daedalus-ro"), secretKey: secret("s3-ro-secret-for-tests") },
          servicePassword: secret("service-password-for-tests"),
        },
      },
      { probesFrom: hostOf(hosts, "prospero") },
      parent,
      { resolveDigest: (image) => registryDigest(image) },
    );
    return { stack: app.nodes.compose!, probes: app.nodes.checks };
  };
}
