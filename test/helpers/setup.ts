/** vitest setup file of `npm test` (vitest.config.mts): runs in the worker before each test file. */
import { cheapPulumiPromiseStacks } from "./stack-traces";

cheapPulumiPromiseStacks();
