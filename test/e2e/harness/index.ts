/**
 * End-to-end test hosts: network namespaces on a private bridge, each with a real
 * sshd (pinned host key, key-only login) and its real daemons. See ./fleet.ts.
 */
export {
  startHosts,
  type CurlOptions,
  type CurlResult,
  type ExecOptions,
  type Fleet,
  type PostgresAdmin,
  type RunResult,
  type SshOverrides,
  type StartOptions,
  type TestHost,
} from "./fleet";
export { ADDRESSES, BRIDGE, BRIDGE_ADDRESS, CADDY_BODY, HEALTH_BODY, HOST_NAMES, type HostName, netnsName, SSH_ALT_PORT, SUBNET } from "./layout";
export { type CmdResult, runCmd } from "./proc";
export { assertForwardAccept, DOCKER_SOCKET, forwardPolicy, REGISTRY } from "./docker";
