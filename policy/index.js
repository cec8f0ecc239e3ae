// The pack's entry as the Node.js language host runs it. The pack is TypeScript (pack.ts,
// rules.ts), type-checked by `npm test`'s tsc; tsx's loader runs it without type-checking
// again (the SDK's own ts-node would type-check the pack on every preview, ~20 s here).
require("tsx/cjs");
require("./pack.ts");
