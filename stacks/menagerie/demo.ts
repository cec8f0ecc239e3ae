/**
 * The public demo (seed, "Demo Instance"): `compose.demo.yml` of the app's repository
 * as project `peregrine-demo`, `DEMO_MODE=true` (no LLM inference), on its own site
 * `demo.circuitforge.tech` under `/peregrine`. Demo data lives in the repository's
 * `demo/config/` and `demo/data/`, so the repository is checked out into the project
 * directory, where the compose file's relative mounts resolve. No session cookie and no
 * cloud secrets reach it.
 */
import type * as pulumi from "@pulumi/pulumi";
import { appRoutePath, revisionOf } from "../../src/components/app/render";
import { gitCheckoutScript } from "../../src/remote/checkout";
import { CaddyRoute, type CaddyServer, CaddySite } from "../../src/components/caddy";
import { ComposeStack, composeLock } from "../../src/components/compose";
import { HealthCheck } from "../../src/components/health";
import { RemoteTask } from "../../src/components/task";
import { sha256 } from "../../src/hash";
import { type Host } from "../../src/remote/host";
import { after } from "../../src/transform";
import { type MenagerieConfig } from "./config";

export interface DemoInputs {
  readonly cfg: MenagerieConfig;
  /** The Docker host (the apps' host). */
  readonly host: Host;
  /** The Caddy server, when the stack owns the Caddyfile. */
  readonly server: CaddyServer | undefined;
  /** Where the site lives when there is no server. */
  readonly caddy: { readonly host: Host; readonly layout: NonNullable<ConstructorParameters<typeof CaddySite>[1]["layout"]> };
  readonly resolveDigest: ((image: string) => pulumi.Input<string>) | undefined;
}

export function deployDemo(i: DemoInputs, parent: pulumi.Resource) {
  const d = i.cfg.demo;
  const app = i.cfg.apps.find((a) => a.slug === d.app)!;
  const repo = { url: app.repo.url, ref: d.ref ?? app.repo.ref };
  const revision = revisionOf(repo);
  const healthPath = `/${app.slug}/`;
  const opts = { parent };

  const site = new CaddySite(
    "demo-site",
    {
      ...(i.server ? { server: i.server } : { host: i.caddy.host, layout: i.caddy.layout }),
      site: "demo",
      addresses: [d.address],
      encode: ["gzip", "zstd"],
      log: { output: d.log, format: "json" },
    },
    opts,
  );
  const checkout = new RemoteTask(
    `${d.project}-checkout`,
    { host: i.host, script: gitCheckoutScript({ url: repo.url, ref: repo.ref, directory: d.directory, directoryMode: "0750" }), lock: composeLock(d.project), triggers: [revision] },
    opts,
  );
  const compose = new ComposeStack(
    d.project,
    {
      host: i.host,
      project: d.project,
      directory: d.directory,
      composeFile: d.composeFile,
      compose: { git: { url: repo.url, ref: repo.ref, path: d.composeFile, sparse: true } },
      env: { DEMO_MODE: "true", ...d.env },
      build: true,
      triggers: [revision],
      ...(i.resolveDigest ? { resolveDigest: i.resolveDigest } : {}),
      transform: { directory: after(checkout) },
    },
    opts,
  );
  const route = new CaddyRoute(
    `${d.project}-route`,
    {
      site,
      route: app.slug,
      path: appRoutePath(app.slug),
      upstreams: [`http://${i.cfg.upstreamHost}:${d.port}`],
      transform: { fragment: after(compose.nodes.up) },
    },
    opts,
  );
  const triggers = [revision, compose.composeContent.apply(sha256)];
  const health = new HealthCheck(
    `${d.project}-health`,
    {
      host: i.host,
      url: `http://127.0.0.1:${d.port}${healthPath}`,
      description: `${app.slug} demo on port ${d.port}`,
      triggers,
      transform: { command: after(compose.nodes.up) },
    },
    opts,
  );
  const portPart = i.cfg.caddyCheck.port === 443 ? "" : `:${i.cfg.caddyCheck.port}`;
  const healthViaCaddy = new HealthCheck(
    `${d.project}-health-via-caddy`,
    {
      host: site.host,
      url: `https://${d.address}${portPart}${healthPath}`,
      resolve: { host: d.address, port: i.cfg.caddyCheck.port, address: i.cfg.caddyCheck.address },
      description: `${app.slug} demo through Caddy`,
      triggers,
      transform: { command: after(route.nodes.fragment, compose.nodes.up) },
    },
    opts,
  );
  return { site, checkout, compose, route, health, healthViaCaddy, url: `https://${d.address}${healthPath}` };
}
