export * from "./args";
export * from "./render";
export { caddyDaemon, caddyTarget } from "./files";
export { CaddyServer } from "./server";
export { CaddySite } from "./site";
export { CaddyRoute } from "./route";
