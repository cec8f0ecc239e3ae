import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { remoteFile } from "../../remote/command";
import { alertmanager, grafanaProvisioning, prometheus } from "../../remote/daemons";
import { sh } from "../../remote/quote";
import { ConfigError, parseOrThrow } from "../../validation/errors";
import { childName } from "../../naming";
import {
  alertmanagerLayoutSchema,
  type AlertmanagerSpec,
  grafanaLayoutSchema,
  type PrometheusServerArgs,
  prometheusLayoutSchema,
  prometheusServerSchema,
} from "./args";
import { prometheusAssembleScript, renderAlertmanager, renderGrafanaProvider, renderPrometheusBase } from "./render";

/**
 * The shared parts of a Prometheus server: `prometheus.base.yml` (global intervals,
 * `rule_files` over `rules.d/*.yml`, the Alertmanagers), and optionally `alertmanager.yml`
 * (checked with `amtool check-config`) and the Grafana dashboard provider. Own it from
 * exactly one program; jobs come and go through {@link PrometheusScrape}. Writing the base
 * re-assembles `prometheus.yml` from it and every job fragment, then validates and reloads.
 *
 * #### Prospero: Prometheus with a local Alertmanager and Grafana
 * ```ts
 * new PrometheusServer("prospero", {
 *   host: prospero,
 *   alertmanagers: ["localhost:9093"],
 *   alertmanager: {
 *     route: { receiver: "ops" },
 *     receivers: [{ name: "ops", webhooks: [{ url: "http://localhost:9095/hook" }] }],
 *   },
 *   grafana: {},
 * });
 * ```
 */
export class PrometheusServer extends pulumi.ComponentResource {
  /** The raw children. */
  public readonly nodes: {
    readonly base: command.remote.Command;
    readonly alertmanager?: command.remote.Command;
    readonly grafana?: command.remote.Command;
  };

  constructor(name: string, args: PrometheusServerArgs, opts?: pulumi.ComponentResourceOptions) {
    const subject = `PrometheusServer "${name}"`;
    const spec = parseOrThrow(subject, prometheusServerSchema, specOf(args));
    const layout = parseOrThrow(subject, prometheusLayoutSchema, args.layout ?? {});
    const amLayout = parseOrThrow(subject, alertmanagerLayoutSchema, args.alertmanagerLayout ?? {});
    const grafanaLayout = parseOrThrow(subject, grafanaLayoutSchema, args.grafanaLayout ?? {});
    if (args.smtpAuthPassword !== undefined && !spec.alertmanager?.smtp) {
      throw new ConfigError(subject, [{ path: "smtpAuthPassword", message: "is set but alertmanager/smtp is not: configure SMTP or drop the password" }]);
    }
    super(PrometheusServer.__pulumiType, name, {}, opts);
    const parent = this;
    const host = args.host;

    const base = createBase();
    const am = spec.alertmanager ? createAlertmanager(spec.alertmanager) : undefined;
    const grafana = spec.grafana ? createGrafana(spec.grafana) : undefined;

    this.nodes = { base, ...(am ? { alertmanager: am } : {}), ...(grafana ? { grafana } : {}) };
    this.registerOutputs({});

    function createBase() {
      return remoteFile(
        childName(name, "base"),
        {
          host,
          target: { path: layout.base, owner: "root", group: "root", mode: "0644", assemble: prometheusAssembleScript(layout) },
          daemon: prometheus(host.spec, { config: layout.config }),
          content: renderPrometheusBase(spec, layout),
          transform: args.transform?.base,
        },
        { parent },
      );
    }

    function createAlertmanager(am: AlertmanagerSpec) {
      const password = args.smtpAuthPassword;
      const secret = password !== undefined;
      return remoteFile(
        childName(name, "alertmanager"),
        {
          host,
          target: secret
            ? { path: amLayout.config, owner: "root", group: amLayout.secretGroup, mode: "0640", keepWithoutOriginal: true }
            : { path: amLayout.config, owner: "root", group: "root", mode: "0644", keepWithoutOriginal: true },
          daemon: alertmanager(host.spec, amLayout.config),
          content: secret ? pulumi.output(password).apply((p) => renderAlertmanager(am, p)) : renderAlertmanager(am),
          secret,
          transform: args.transform?.alertmanager,
        },
        { parent },
      );
    }

    function createGrafana(g: NonNullable<typeof spec.grafana>) {
      const grafanaHost = args.grafanaHost ?? host;
      return remoteFile(
        childName(name, "grafana"),
        {
          host: grafanaHost,
          target: { path: grafanaLayout.provisioningFile, owner: "root", group: "root", mode: "0644", assemble: `mkdir -p ${sh(grafanaLayout.dashboardsDir)}` },
          daemon: grafanaProvisioning(grafanaHost.spec),
          content: renderGrafanaProvider(g, grafanaLayout),
          transform: args.transform?.grafana,
        },
        { parent },
      );
    }
  }

  static readonly __pulumiType = "fleet:prometheus:Server";
}

function specOf(args: PrometheusServerArgs): unknown {
  const {
    host: _host,
    grafanaHost: _gh,
    smtpAuthPassword: _pw,
    layout: _layout,
    alertmanagerLayout: _al,
    grafanaLayout: _gl,
    transform: _transform,
    ...spec
  } = args;
  return spec;
}
