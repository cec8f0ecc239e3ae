export * from "./vhost";
