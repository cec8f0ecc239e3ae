export * from "./args";
export * from "./render";
export { alertRulesFromYaml, loadAlertRules, loadDashboard } from "./load";
export { PrometheusScrape } from "./scrape";
export { PrometheusServer } from "./server";
