/** vitest globalSetup of `npm test` (vitest.config.mts): shared services for every test file. */
import { startComposeServer } from "./compose-server";

export default async function setup(): Promise<() => void> {
  const stopCompose = await startComposeServer();
  return () => {
    stopCompose();
  };
}
