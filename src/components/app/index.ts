export * from "./args";
export { AppDeployment } from "./deployment";
