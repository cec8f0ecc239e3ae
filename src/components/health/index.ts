export * from "./args";
export { healthCheckScript } from "./render";
export { HealthCheck } from "./check";
