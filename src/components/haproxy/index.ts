export * from "./args";
export * from "./render";
export { HAProxyRoute } from "./route";
export { HAProxyFrontend } from "./frontend";
