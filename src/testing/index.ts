export * from "./mocks";
