/**
 * What the file primitive needs to know of the service that reads a file: a lock name,
 * a validator and a reload. The daemons themselves are in `host.ts` (services on the
 * host: systemd or pid files) and `container.ts` (services in containers).
 */
import { type HostSpec } from "../../config/hosts";

/** What the primitive needs to apply a file safely: a lock name, a validator and a reload. */
export interface Daemon {
  /** Lock name: one flock per host and service (`<lockDir>/fleet-<lock>.lock`). */
  readonly lock: string;
  /** Validates the whole config; non-zero exit with the tool's own message on failure. */
  readonly validate?: string;
  /** Makes the daemon pick up the new config. */
  readonly reload?: string;
  /** What is reloaded, in messages ("haproxy not reloaded"). @default the lock name */
  readonly service?: string;
  /** The validator, in messages ("haproxy -c refused …"). @default "the <service> validator" */
  readonly checker?: string;
}

/** The host settings a daemon's commands depend on. */
export type HostDaemonSettings = Pick<HostSpec, "services" | "pidFiles" | "compose">;
