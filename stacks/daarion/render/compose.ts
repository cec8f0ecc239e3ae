/**
 * `docker-compose.all.yml` of a node: one compose service per service the node runs,
 * modelled from its row of the table (image, command, environment, mounts, published
 * ports, labels, health check, dependencies), then written by the template.
 */
import { hostProbeLabel } from "../../../src/components/health/render";
import { renderTemplate } from "../../../src/templating";
import { type HealthProbe, NEED_ENV, service, type ServiceDef, volumeName } from "../catalogue";
import { containerOf, healthOf, type NodePlan, portOf } from "../plan";

/** daarion-node-standards.md "Docker Healthcheck". */
export const HEALTHCHECK_DEFAULTS = { interval: "30s", timeout: "10s", retries: 3, startPeriod: "40s" } as const;

interface ComposeServiceModel {
  readonly name: string;
  readonly image: string;
  readonly container: string;
  readonly command: readonly string[];
  readonly environment: readonly { name: string; value: string }[];
  readonly ports: readonly string[];
  readonly volumes: readonly string[];
  readonly labels: readonly string[];
  /** The compose healthcheck test; none when the service is probed from the host. */
  readonly healthcheck: readonly string[] | undefined;
  /** Each dependency and what to wait for: healthy when it has a healthcheck, else started. */
  readonly dependsOn: readonly { readonly name: string; readonly condition: "service_healthy" | "service_started" }[];
}

/** The compose healthcheck test of a probe inside the container; none for a probe from the host. */
function healthTest(probe: HealthProbe, port: number | undefined): string[] | undefined {
  if ("command" in probe) return [...probe.command];
  if ("host" in probe) return undefined;
  const url = `http://localhost:${probe.http.port ?? port ?? 80}${probe.http.path}`;
  return probe.http.tool === "curl" ? ["CMD", "curl", "-f", url] : ["CMD", "wget", "-q", "-O", "/dev/null", url];
}

/**
 * A service probed from the host has no compose healthcheck; the label says so in the
 * compose file itself (`com.daarion.health=host:<path>`), so a reader and
 * `npm run check-node` know its health is checked, by the node's services-health task.
 */
function hostProbeLabels(probe: HealthProbe): string[] {
  return "host" in probe ? [hostProbeLabel(probe.host.path)] : [];
}

/** Environment of one container: as the table writes it, or a DAARION service's own (its port, needs, the services it calls). */
function environmentOf(plan: NodePlan, def: ServiceDef): { name: string; value: string }[] {
  const env: Record<string, string> = {};
  if (def.environment === "app") {
    env.SERVICE_NAME = def.name;
    env.PORT = String(portOf(plan, def.name));
    for (const need of def.needs) env[NEED_ENV[need]] = `\${${NEED_ENV[need]}}`;
    // Service-specific URLs (overview: "e.g., AUTH_SERVICE_URL") for the services it calls.
    for (const dep of def.dependsOn) {
      const d = service(dep);
      if (d.image !== "own") continue;
      env[`${dep.replace(/-/g, "_").toUpperCase()}_URL`] = `http://${dep}:${portOf(plan, dep)}`;
    }
  } else if (def.environment) {
    Object.assign(env, def.environment);
  }
  return Object.keys(env)
    .sort()
    .map((name) => ({ name, value: env[name]! }));
}

/** A service's mounts: its data volume by its key in the file (the standards' name), then its bind mounts. */
function volumesOf(plan: NodePlan, def: ServiceDef): string[] {
  return [...(def.dataPath ? [`${volumeName(def)}:${def.dataPath}`] : []), ...(def.mounts?.(plan) ?? [])];
}

/**
 * A named volume of the file: its key (the standards' `<short>_data`, what services mount)
 * and the Docker volume it is (`name:`, the node's when configured), so a configured name
 * changes one line and the file keeps the standards' keys.
 */
interface ComposeVolumeModel {
  readonly key: string;
  readonly name: string;
}

export function composeModel(plan: NodePlan): { services: ComposeServiceModel[]; volumes: ComposeVolumeModel[] } {
  const services = plan.services.map((name): ComposeServiceModel => {
    const def = service(name);
    return {
      name,
      image: plan.images[name]!,
      container: containerOf(plan, name),
      command: [...(def.command ?? [])],
      environment: environmentOf(plan, def),
      // Only the gateway publishes ports (standards "Network Isolation").
      ports: (def.publishes ?? []).map((p) => `${p}:${p}`),
      volumes: volumesOf(plan, def),
      labels: [`com.daarion.service=${def.short}`, `com.daarion.tier=${def.layer}`, `com.daarion.phase=${def.phase}`, ...hostProbeLabels(healthOf(plan, name))],
      healthcheck: healthTest(healthOf(plan, name), plan.ports[name]),
      dependsOn: def.dependsOn
        .filter((d) => plan.services.includes(d))
        .map((d) => ({ name: d, condition: "host" in healthOf(plan, d) ? "service_started" : "service_healthy" })),
    };
  });
  const volumes = plan.services.flatMap((name) => {
    const def = service(name);
    const docker = plan.volumes[name];
    return def.dataPath !== undefined && docker !== undefined ? [{ key: volumeName(def), name: docker }] : [];
  });
  return { services, volumes };
}

export function renderCompose(plan: NodePlan): string {
  const { services, volumes } = composeModel(plan);
  return renderTemplate("daarion/docker-compose.all.yml.njk", { node: plan.name, role: plan.role, services, volumes, healthcheck: HEALTHCHECK_DEFAULTS });
}
