export * from "../../src/testing/mocks";
