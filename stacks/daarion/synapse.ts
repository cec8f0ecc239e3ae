/**
 * Matrix Synapse's one-time setup: its homeserver.yaml is generated into its data
 * volume by the image's own `generate` before the first start, and never overwritten.
 * Referenced by Synapse's row of the service table (`setup`).
 */
import { sh } from "../../src/remote/quote";

export interface SetupContext {
  /** The node's public name (Synapse's server name). */
  readonly domain: string;
  /** The service's image (tag, as configured). */
  readonly image: string;
  /** Its data volume. */
  readonly volume: string;
}

export function synapseGenerateScript(c: SetupContext): string {
  const { image, volume } = c;
  return [
    `docker volume inspect ${sh(volume)} >/dev/null 2>&1 || docker volume create ${sh(volume)} >/dev/null`,
    `if docker run --rm -v ${sh(`${volume}:/data`)} --entrypoint /bin/sh ${sh(image)} -c 'test -f /data/homeserver.yaml'; then`,
    `  echo ${sh(`fleet: ${volume} already holds homeserver.yaml`)}`,
    "  exit 0",
    "fi",
    `docker run --rm -v ${sh(`${volume}:/data`)} -e ${sh(`SYNAPSE_SERVER_NAME=${c.domain}`)} -e SYNAPSE_REPORT_STATS=no ${sh(image)} generate`,
  ].join("\n");
}
