/** runProgram fails fast and cleanly when the program throws inside an apply (no hung worker). */
import { expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { runProgram } from "../../src/testing/mocks";
import { remoteFile } from "../../src/remote/command";
import { plain } from "../../src/remote/daemons";
import { testHost } from "../helpers/hosts";
it("fails fast on a throwing apply", async () => {
  await expect(runProgram(() => {
    const bad = pulumi.output("x").apply((): string => { throw new Error("env/KEY: must not contain a single quote"); });
    remoteFile("f", { host: testHost("puck"), target: { path: "/x", owner: "root", group: "root", mode: "0600" }, daemon: plain("x"), content: bad, secret: true }, {});
  })).rejects.toThrow("must not contain a single quote");
});
