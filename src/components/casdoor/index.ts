export * from "./application";
