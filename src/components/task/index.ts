export * from "./args";
export { RemoteTask, taskBody } from "./task";
