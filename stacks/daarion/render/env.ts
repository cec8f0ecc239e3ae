/**
 * A node's `.env` (read by compose for `${KEY}`s, never committed) and its
 * `.env.example` (committed, secrets as placeholders). Each service's row of the table
 * says what it adds (`dotenv`).
 */
import { renderEnvFile } from "../../../src/components/compose/render";
import { type EnvSecrets, service } from "../catalogue";
import { type NodePlan, portOf } from "../plan";

/**
 * The `.env` values of a node: the shared connection URLs (overview "Environment
 * Variables") and the secrets; only what the compose file passes to a service (no value
 * that no process reads).
 */
export function nodeEnv(plan: NodePlan, secrets: EnvSecrets): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of plan.services) {
    const def = service(name);
    if (def.dotenv) Object.assign(env, def.dotenv({ node: plan, port: portOf(plan, name), secrets }));
  }
  return env;
}

/** Placeholder for secrets in `.env.example` (standards: ".env.example з плейсхолдерами" in Git). */
export const PLACEHOLDER = "CHANGE_ME";

/** `.env.example`: the same keys as `.env`, every secret replaced by a placeholder. */
export function renderEnvExample(plan: NodePlan): string {
  return renderEnvFile(nodeEnv(plan, { postgresPassword: PLACEHOLDER, grafanaAdminPassword: PLACEHOLDER }), ".env.example");
}
