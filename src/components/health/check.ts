import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { childName } from "../../naming";
import { remoteTask } from "../../remote/command";
import { ConfigError, parseOrThrow } from "../../validation/errors";
import { type HealthCheckArgs, healthCheckSchema } from "./args";
import { healthCheckScript } from "./render";

/**
 * An HTTP check run from a given host during `pulumi up` (never during preview):
 * bounded retries with exponential backoff; on failure the update fails with what
 * was expected and what came back.
 *
 * #### Daedalus answers {"status": "ok"} on Puck
 * ```ts
 * new HealthCheck("daedalus-health", { host: puck, url: "http://127.0.0.1:22181/api/health", bodyMatch: '"status": ?"ok"', triggers: [revision] });
 * ```
 *
 * #### Prospero can reach /metrics
 * ```ts
 * new HealthCheck("metrics-reachable", { host: prospero, url: "http://puck.incus:22181/metrics", bodyMatch: "^# (HELP|TYPE)" });
 * ```
 */
export class HealthCheck extends pulumi.ComponentResource {
  public readonly nodes: { readonly command: command.remote.Command };
  /** The line the check printed on success. */
  public readonly result: pulumi.Output<string>;

  constructor(name: string, args: HealthCheckArgs, opts?: pulumi.ComponentResourceOptions) {
    const { host, password, triggers, revision, transform: hooks, ...rest } = args;
    const spec = parseOrThrow(`HealthCheck "${name}"`, healthCheckSchema, rest);
    if ((spec.basicAuthUser === undefined) !== (password === undefined)) {
      throw new ConfigError(`HealthCheck "${name}"`, [{ path: "password", message: "give both basicAuthUser and password, or neither" }]);
    }
    super(HealthCheck.__pulumiType, name, {}, opts);
    const parent = this;

    const cmd = remoteTask(
      childName(name, "check"),
      {
        host,
        run: { body: healthCheckScript(spec), secretNames: password === undefined ? [] : ["PASSWORD"] },
        secrets: password === undefined ? [] : [password],
        triggers: [spec.url, ...(triggers ?? [])],
        ...(revision?.length ? { revision } : {}),
        // It probes what is served: after the deploy's daemon reloads (one per daemon, at the end).
        afterReloads: true,
        transform: hooks?.command,
      },
      { parent },
    );
    this.result = cmd.stdout;
    this.nodes = { command: cmd };
    this.registerOutputs({ result: this.result });
  }

  static readonly __pulumiType = "fleet:health:Check";
}
