/**
 * Stack `daarion`: DAARION nodes, from daarion-deployment-overview.md (node 1's
 * all-in-one layout, the gateway's routes) and daarion-node-standards.md (the rules:
 * layout, port tiers, naming, labels, health checks, network isolation, rate limit,
 * migrations, backups, node roles, the checklists). See test/stacks/daarion.test.ts.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { lookupDigests, registryReader } from "../../src/components/compose/digests";
import { type ResolvedSource, resolveSources, type SourceAccess, sourceKey } from "../../src/git/sources";
import { checkMigrationSets, MIGRATIONS_DIR, runsMigrations } from "./migrations";
import { buildHosts, type ConfigSource, loadConfig, type LoadedConfig, pulumiConfigSource } from "../../src/config/loader";
import { configuredOrGenerated } from "../../src/config/secrets";
import { type Problem } from "../../src/validation/errors";
import { secretValue } from "../../src/validation/primitives";
import { type ServiceSecret } from "./catalogue";
import { DAARION_OPTIONAL_SECRETS, DAARION_REQUIRED_SECRETS, type DaarionConfig, daarionSchema } from "./config";
import { DaarionNode, serviceSecrets } from "./node";
import { type NodePlan, planNodes } from "./plan";

export { DAARION_OPTIONAL_SECRETS, DAARION_REQUIRED_SECRETS } from "./config";

export interface DaarionOptions {
  readonly source?: ConfigSource;
  /**
   * Resolve an image tag to its digest. @default the docker provider's registry lookup
   * through a provider that needs no Docker daemon (`daarion-registry`)
   */
  readonly resolveDigest?: (image: string) => pulumi.Input<string>;
  /** Each node's repository at its ref, resolved at preview (`daarionProgram`), keyed by `sourceKey`. @default none: the nodes fetch whatever the refs name */
  readonly sources?: ReadonlyMap<string, ResolvedSource>;
}

/** The rules across sections and nodes: hosts exist and run systemd, plus every node's plan. */
function crossCheck(c: LoadedConfig<DaarionConfig>): Problem[] {
  const problems: Problem[] = [];
  c.app.nodes.forEach((node, i) => {
    const host = Object.hasOwn(c.hosts, node.name) ? c.hosts[node.name] : undefined;
    if (!host) {
      problems.push({ path: `fleet:daarion/nodes/${i}/name`, message: `names host "${node.name}", which is not under fleet:hosts (have: ${Object.keys(c.hosts).join(", ") || "none"})` });
    } else if (host.services !== "systemd") {
      problems.push({ path: `fleet:daarion/nodes/${i}/name`, message: `names host "${node.name}" with services: "${host.services}"; the backup timer needs systemd: set services: systemd on the host` });
    }
  });
  problems.push(...planNodes(c.app).problems);
  return problems;
}

/** The config key and generated child of each secret only some services need (ServiceDef `secret`). */
const SECRET_CONFIG: Readonly<Record<ServiceSecret, (typeof DAARION_OPTIONAL_SECRETS)[number]>> = { grafanaAdminPassword: "daarionGrafanaAdminPassword" };
const SECRET_CHILD: Readonly<Record<ServiceSecret, string>> = { grafanaAdminPassword: "grafana-admin-password" };

/** The stack's config, every rule checked (throws one ConfigError). */
export function loadDaarion(source: ConfigSource): LoadedConfig<DaarionConfig> {
  return loadConfig(source, {
    appKey: "daarion",
    appSchema: daarionSchema,
    requiredSecrets: [...DAARION_REQUIRED_SECRETS],
    optionalSecrets: [...DAARION_OPTIONAL_SECRETS],
    check: crossCheck,
    secretRule: secretValue,
  });
}

export class Daarion extends pulumi.ComponentResource {
  constructor(name: string, opts: DaarionOptions = {}) {
    const source = opts.source ?? pulumiConfigSource();
    const loaded = loadDaarion(source);
    super("fleet:stack:Daarion", name, {}, {});
    const parent = this;
    const cfg = loaded.app;
    const { plans } = planNodes(cfg);
    const hosts = buildHosts(source, Object.fromEntries(plans.map((p) => [p.name, loaded.hosts[p.name]!])));

    // One registry lookup per image for the whole stack, shared by every node.
    const cache = new Map<string, pulumi.Output<string>>();
    let reader: docker.Provider | undefined;
    const digestOf = (image: string): pulumi.Output<string> => {
      let d = cache.get(image);
      if (!d) {
        if (opts.resolveDigest) {
          d = pulumi.output(opts.resolveDigest(image));
        } else {
          reader ??= registryReader(`${name}-registry`, loaded.hosts[plans[0]!.name]!, { parent });
          d = docker.getRegistryImageOutput({ name: image }, { parent, provider: reader }).sha256Digest;
        }
        cache.set(image, d);
      }
      return d;
    };

    // Development and federation nodes first: production waits for the development
    // nodes' gateways to be healthy (Pre-Deployment: "Health checks passing on staging/dev").
    const deployed: Record<string, DaarionNode> = {};
    const ordered = [...plans.filter((p) => p.role !== "production"), ...plans.filter((p) => p.role === "production")];
    const devHealth: pulumi.Resource[] = [];
    for (const plan of ordered) {
      const secrets = {
        postgresPassword: configuredOrGenerated(source, parent, { configKey: "daarionPostgresPassword", name: `${plan.name}-postgres-password` }),
        ...Object.fromEntries(serviceSecrets(plan).map((k) => [k, configuredOrGenerated(source, parent, { configKey: SECRET_CONFIG[k], name: `${plan.name}-${SECRET_CHILD[k]}` })])),
      };
      const node = new DaarionNode(
        plan.name,
        { plan, host: hosts[plan.name]!, rollback: cfg.rollback, secrets, digestOf, gate: plan.role === "production" ? devHealth : [], commit: opts.sources?.get(sourceKey(plan.repo))?.commit },
        { parent },
      );
      if (plan.role === "development") devHealth.push(node.health);
      deployed[plan.name] = node;
    }

    this.plans = plans;
    this.nodes = deployed;
    this.outputs = {
      nodes: Object.fromEntries(plans.map((p) => [p.name, nodeOutputs(p, deployed[p.name]!)])),
    };
    this.registerOutputs(this.outputs);
  }

  public readonly plans: readonly NodePlan[];
  public readonly nodes: Readonly<Record<string, DaarionNode>>;
  public readonly outputs: Record<string, pulumi.Input<unknown>>;
}

function nodeOutputs(plan: NodePlan, node: DaarionNode) {
  return {
    role: plan.role,
    url: `https://${plan.domain}/`,
    services: [...plan.services],
    images: node.images,
    repo: `${plan.repo.url}#${plan.repo.ref}`,
    // The commit deployed, when the ref was resolved at preview.
    ...(node.commit ? { commit: node.commit } : {}),
  };
}

export function daarion(opts: DaarionOptions = {}): Record<string, pulumi.Input<unknown>> {
  return new Daarion("daarion", opts).outputs;
}

/** Images whose digest is not pinned in config (each once), in a stable order. */
export function unpinnedImages(plans: readonly NodePlan[]): string[] {
  return [...new Set(plans.flatMap((p) => p.services.filter((s) => !p.pinned[s]).map((s) => p.images[s]!)))].sort();
}

/**
 * What `pulumi preview`/`up` run: bad config fails first; then every unpinned image's
 * digest is looked up (no Docker daemon needed) before any resource, so a lookup that
 * fails is one error naming the image and its registry; then the stack. With every
 * digest pinned in config nothing is looked up and no docker provider exists.
 */
export async function daarionProgram(opts: Pick<DaarionOptions, "source"> & SourceAccess = {}): Promise<Record<string, pulumi.Input<unknown>>> {
  const source = opts.source ?? pulumiConfigSource();
  const loaded = loadDaarion(source);
  const { plans } = planNodes(loaded.app);
  // Each node's ref to its commit before any resource: a missing ref is one error naming it.
  // The migration set is read at that commit and checked by the node's own runner, so a
  // bad set is a preview error naming the file and the line, before anything changes.
  const sources = await resolveSources(
    plans.map((p) => ({ url: p.repo.url, ref: p.repo.ref, files: runsMigrations(p) ? [MIGRATIONS_DIR] : [] })),
    { subject: "stack daarion (fleet:daarion.repo)", lsRemote: opts.lsRemote, readFiles: opts.readFiles },
  );
  checkMigrationSets(plans, (p) => sources.get(sourceKey(p.repo)));
  const images = unpinnedImages(plans);
  const digests =
    images.length === 0
      ? new Map<string, string>()
      : await lookupDigests(images, {
          subject: "stack daarion",
          hint: "pin digests under fleet:daarion.images.<service>.digest, or make the registry reachable from here",
          // The Docker host named is the first node's (never dialled: see registryReader).
          provider: registryReader("daarion-registry", loaded.hosts[plans[0]!.name]!),
        });
  return daarion({
    source,
    sources,
    resolveDigest: (image) => {
      const digest = digests.get(image);
      if (!digest) throw new Error(`daarion: no digest looked up for ${image}`);
      return digest;
    },
  });
}
