/**
 * pulumi-fleet's policy pack: the rules of policy/rules.ts as `@pulumi/policy` resource
 * policies, every one mandatory. Run it with any preview or up:
 *   pulumi preview --policy-pack policy          (npm run policy -- --stack <stack>)
 *
 * Secrets: `@pulumi/policy` hands `validateResource` the inputs with secrets unwrapped,
 * so a marked secret and a plain one look the same there. The engine calls `Remediate`
 * on every resource before `Analyze` (preview and up alike), and the remediation request
 * keeps the secret markers (`Secret` instances, behind a proxy that unwraps on read). The
 * "no-plain-secrets" policy therefore reads the raw inputs in its remediation hook (own
 * property descriptors bypass the proxy's `get`), records what it finds by URN and
 * changes nothing; its validation reports the record. A policy whose level is
 * "remediate" reports its violations as mandatory.
 */
import { PolicyPack, type ResourceValidationArgs, type ResourceValidationPolicy, Secret } from "@pulumi/policy";
import {
  daarionPorts,
  plainSecrets,
  POLICIES,
  type PolicyName,
  publicMetrics,
  type ResourceView,
  unpinnedHostKeys,
  unpinnedImages,
  unprotectedState,
} from "./rules";

const view = (a: ResourceValidationArgs): ResourceView => ({ type: a.type, urn: a.urn, props: a.props as Record<string, unknown>, protect: a.opts.protect, stackTags: a.stackTags });

function policy(name: PolicyName, rule: (r: ResourceView) => string[]): ResourceValidationPolicy {
  return {
    name,
    description: POLICIES[name],
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
      for (const message of rule(view(args))) report(message);
    },
  };
}

/** The raw inputs with secret markers kept: each own property's value, not the proxy's unwrapped read. */
function rawInputs(props: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(Object.getOwnPropertyDescriptors(props))) out[k] = d.value;
  return out;
}

/** Findings of the remediation pass, by URN, for the validation pass of the same resource. */
const plainSecretFindings = new Map<string, string[]>();

const noPlainSecrets: ResourceValidationPolicy = {
  name: "no-plain-secrets",
  description: POLICIES["no-plain-secrets"],
  enforcementLevel: "remediate",
  remediateResource: (args) => {
    plainSecretFindings.set(args.urn, plainSecrets(rawInputs(args.props), (v) => v instanceof Secret));
    return undefined;
  },
  validateResource: (args, report) => {
    const found = plainSecretFindings.get(args.urn);
    if (found === undefined) {
      report("the remediation pass did not see this resource, so its secrets cannot be told from plain values: run the pack with Pulumi CLI >= 3.140 (Remediate before Analyze)");
      return;
    }
    for (const message of found) report(message);
  },
};

new PolicyPack("fleet", {
  policies: [
    policy("ssh-host-key-pinned", unpinnedHostKeys),
    noPlainSecrets,
    policy("images-pinned-by-digest", unpinnedImages),
    policy("stateful-protected", unprotectedState),
    policy("metrics-not-public", publicMetrics),
    policy("daarion-gateway-ports-only", daarionPorts),
  ],
});
