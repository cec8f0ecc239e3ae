export * from "./args";
export * from "./render";
export { MenagerieApp } from "./app";
