export * from "./args";
export * from "./render";
export { MenagerieApp } from "./app";
export * from "./deployment-args";
export { AppDeployment } from "./deployment";
