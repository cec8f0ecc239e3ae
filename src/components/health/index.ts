export * from "./args";
export { healthCheckScript } from "./render";
export { HealthCheck } from "./check";
export { CertificateCheck, certificateCheckSchema, certificateCheckScript, type CertificateCheckArgs, type CertificateCheckSpec } from "./certificate";
