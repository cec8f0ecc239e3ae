/** Review rendering of managed files (`npm run render`; stack wiring in stacks/render.ts). */
export { collectFiles, INDEX_COLUMNS, renderedPath, renderIndex, type RenderedFile, SECRET_MARKER_PATTERN, secretMarker, writeFiles } from "./files";
