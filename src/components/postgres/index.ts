export * from "./args";
export { PostgresDatabase } from "./database";
