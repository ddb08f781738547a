/**
 * Memory of the Node.js process as a whole (knows nothing of Node-RED): a burst's garbage kept close to
 * the live heap (V8's growth factors, old and young generation; optionally a pacer), and the pages a V8
 * heap keeps after a burst given back.
 */
export {
  HeapPageRelease,
  lastResortGc,
  type HeapPageReleaseOptions,
  type HeapPageReleaseStats,
  type HeapReading,
} from './heap-pages';
export { HeapPacer, majorGc, type HeapPacerOptions } from './heap-pacer';
export { exposedGc, type GcFunction } from './exposed-gc';
export { holdHeapBounds, paceHeadroomMb, sharedHeapBounds } from './heap-bounds';
export {
  DEFAULT_HEAP_GROWTH_PERCENT,
  heapGrowthPercent,
  heapGrowthSetByUser,
  heldHeapGrowth,
  holdHeapGrowth,
} from './heap-growth';
export {
  DEFAULT_YOUNG_GENERATION_MB,
  capYoungGeneration,
  heldYoungGenerationCap,
  holdYoungGenerationCap,
  youngGenerationCapMb,
  youngGenerationSetByUser,
} from './young-generation';
