/**
 * The node's inventory, `docs/NODE_INFRASTRUCTURE.md` (Post-Deployment "Update
 * INFRASTRUCTURE.md"): services with their pinned images, routes, scrape jobs, backups
 * and the rollback plan.
 */
import { renderTemplate } from "../../../src/templating";
import { service, type ServiceName } from "../catalogue";
import { ROOT } from "../layout";
import { containerOf, type NodePlan } from "../plan";
import { gatewayRoutes } from "./gateway";
import { scrapeJobs } from "./prometheus";

export function renderNodeDoc(plan: NodePlan, pinnedImages: Readonly<Record<string, string>>, rollback: { active: boolean; digests: Readonly<Partial<Record<ServiceName, string>>> }): string {
  const services = plan.services.map((name) => {
    const def = service(name);
    return {
      name,
      container: containerOf(plan, name),
      tier: def.tier,
      phase: def.phase,
      port: def.publishes ? def.publishes.join("/") + " (published)" : String(plan.ports[name]),
      image: pinnedImages[name] ?? plan.images[name],
    };
  });
  return renderTemplate("daarion/NODE_INFRASTRUCTURE.md.njk", {
    node: plan.name,
    role: plan.role,
    domain: plan.domain,
    root: ROOT,
    repo: plan.repo,
    requireMerged: plan.requireMerged,
    mainBranch: plan.mainBranch,
    services,
    routes: gatewayRoutes(plan),
    scrapeJobs: scrapeJobs(plan).map((j) => `${j.jobName} → ${j.targets.join(", ")}${j.metricsPath}`),
    backups: plan.backups,
    rollback: {
      active: rollback.active,
      entries: plan.services.flatMap((s) => (rollback.digests[s] ? [{ service: s, digest: rollback.digests[s] }] : [])),
    },
  });
}
