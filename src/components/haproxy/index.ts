export * from "./args";
export * from "./render";
export { HAProxyRoute, haproxyBackendPath, haproxyMapFragmentPath } from "./route";
export { HAProxyFrontend } from "./frontend";
