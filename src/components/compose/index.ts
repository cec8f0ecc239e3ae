export * from "./args";
export * from "./interpolation";
export * from "./render";
export { ComposeStack, checkComposeStack } from "./stack";
export { composeCommand, composeLock, composeProject, type ComposeProjectFiles } from "./project";
export { DEFAULT_POLL_SECONDS, decodeSource, directoryBody, downBody, gitSourceBody, parentDirs, taskRunBody, upBody, waitLines, type ComposeLayout, type UpOptions } from "./scripts";
