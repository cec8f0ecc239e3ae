import { defineHost } from "../../src/remote/host";
import { type Host } from "../../src/remote/host";
import { TEST_HOST_KEY, TEST_PRIVATE_KEY } from "./pulumi";

export function testHost(name: string, extra: Record<string, unknown> = {}): Host {
  return defineHost(name, { address: `${name}.incus`, hostKey: TEST_HOST_KEY, ...extra }, TEST_PRIVATE_KEY);
}
