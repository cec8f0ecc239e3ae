export * from "./args";
export { HOST_PROBE_LABEL, healthCheckScript, hostProbeLabel } from "./render";
export { HealthCheck } from "./check";
export { CertificateCheck, certificateCheckSchema, certificateCheckScript, type CertificateCheckArgs, type CertificateCheckSpec } from "./certificate";
