/**
 * pulumi-fleet: typed Pulumi components that provision and deploy self-hosted
 * systems onto Linux hosts over SSH. Public API: components with their arg types
 * and zod schemas, the pure renderers, the config schemas and loader, and the one
 * remote primitive they all use.
 */

// Components
export * from "./components/casdoor";
export * from "./components/app";
export * from "./components/caddy";
export * from "./components/compose";
export * from "./components/haproxy";
export * from "./components/health";
export * from "./components/host";
export * from "./components/minio";
export * from "./components/nginx";
export * from "./components/postgres";
export * from "./components/prometheus";
export * from "./components/rabbitmq";
export * from "./components/systemd";
export * from "./components/task";

// Config
export * from "./config/hosts";
export * from "./config/servers";
export * from "./config/loader";
export * from "./config/secrets";

// The remote primitive
export { defineHost, hostFromSpec, type Host, type ConnectionArgs } from "./remote/host";
export { fleetProgram, remoteFile, remoteTask, managedFiles, type RemoteFileArgs, type RemoteTaskArgs, type ManagedFileRecord, type CommandTransform } from "./remote/command";
export * as daemons from "./remote/daemons";
export { sh, shArgs } from "./remote/quote";
export { gitCheckoutLines, gitCheckoutScript, type GitCheckout } from "./remote/checkout";
export { writeFileScript, deleteFileScript, putCommand, removeCommand, helperFor, helperForFiles, originalPath, taskScript, taskStdin, wrap, type FileTarget, type ScriptContext, type TaskScript, type WriteOptions } from "./remote/scripts";
export { fileHelper, installerStdin, installHelperScript, HELPER_DIR, type FileHelper, type HelperProfile } from "./remote/helper";

// Building blocks
export * as primitives from "./validation/primitives";
export { ConfigError, formatProblems, parseOrThrow, problemsFromZod, type Problem } from "./validation/errors";
export { transform, after, type Transform } from "./transform";
export { validated } from "./validated";
export { sha256 } from "./hash";
export { credentialUrl, type CredentialUrl } from "./urls";
export { childName, isBucketName } from "./naming";
export { renderTemplate, templatesDir, packageRoot } from "./templating";
