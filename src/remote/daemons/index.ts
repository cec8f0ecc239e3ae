/**
 * The daemons whose config files the primitive manages, by where they run: on the host
 * (`host.ts`) or in a container (`container.ts`). Pure: shell text, nothing runs here.
 */
export * from "./container";
export * from "./host";
export * from "./types";
