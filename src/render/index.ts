/** Review rendering of a stack's managed files (`npm run render`). */
export { collectFiles, INDEX_COLUMNS, renderedPath, renderIndex, type RenderedFile, SECRET_MARKER_PATTERN, secretMarker, writeFiles } from "./files";
export {
  buildStackFiles,
  fakeDigest,
  indexHeader,
  readStackConfig,
  REGISTRY_IMAGE_TOKEN,
  type RenderOptions,
  type RenderResult,
  RenderUsageError,
  renderStack,
  type StackConfig,
  stackDefinition,
} from "./stack";
export { knownStacks, type RenderableStack, STACKS } from "./stacks";
