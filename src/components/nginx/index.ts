export * from "./args";
export * from "./render";
export { NginxSite } from "./site";
