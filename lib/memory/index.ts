/**
 * Memory of the Node.js process as a whole (knows nothing of Node-RED): giving back the pages a V8 heap
 * keeps after a burst.
 */
export {
  HeapPageRelease,
  holdHeapPageRelease,
  lastResortGc,
  sharedHeapPageRelease,
  type HeapPageReleaseOptions,
  type HeapPageReleaseStats,
  type HeapReading,
} from './heap-pages';
