export * from "./args";
export * from "./render";
export { SystemdUnit } from "./unit";
