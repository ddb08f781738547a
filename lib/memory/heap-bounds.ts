import { exposedGc } from './exposed-gc';
import { HeapPacer, majorGc } from './heap-pacer';
import { heapGrowthPercent, holdHeapGrowth } from './heap-growth';
import { HeapPageRelease, lastResortGc } from './heap-pages';
import { holdYoungGenerationCap, youngGenerationCapMb } from './young-generation';

const MB = 1024 * 1024;

/** THINGPARK_HEAP_PACE: MB of garbage allowed on top of the live heap; 0 (unset, `off`) for no pacer. */
export function paceHeadroomMb(setting: string | undefined): number {
  if (!setting || setting === 'off') return 0;
  if (setting === 'on') return 64;
  const mb = Number(setting);
  return Number.isFinite(mb) && mb >= 16 ? mb : 64;
}

let release: HeapPageRelease | undefined;
let pacer: HeapPacer | undefined;
let holders = 0;

/**
 * The process's heap bounds, running while at least one holder keeps them (each call returns its own
 * let-go): V8's heap growth between collections kept to THINGPARK_HEAP_GROWTH percent of the live heap
 * (75 unless set, `off` leaves V8's own: heap-growth.ts); its young generation kept within
 * THINGPARK_YOUNG_GENERATION MB (32 unless set, `off` leaves V8's own: young-generation.ts); the page
 * release (what the heap gave up given back once calm; THINGPARK_HEAP_RELEASE=off in Node-RED's
 * environment turns it off); and, when asked for with THINGPARK_HEAP_PACE (`on`: 64 MB, or a number of
 * MB), the pacer: a burst's garbage kept within that of the live heap by forced collections, a lower
 * peak for less speed (bench/README.md, figure 3).
 * THINGPARK_HEAP_RELEASE=off turns off the release and the pacer, not the growth bounds.
 */
export function holdHeapBounds(): () => void {
  const letGoOld = holdHeapGrowth(heapGrowthPercent(process.env.THINGPARK_HEAP_GROWTH));
  const letGoYoung = holdYoungGenerationCap(youngGenerationCapMb(process.env.THINGPARK_YOUNG_GENERATION));
  const letGoGrowth = () => {
    letGoOld();
    letGoYoung();
  };
  if (process.env.THINGPARK_HEAP_RELEASE === 'off') return letGoGrowth;
  if (!release || !pacer) {
    const gc = exposedGc();
    release = new HeapPageRelease({ collect: lastResortGc(gc) });
    pacer = new HeapPacer({
      headroomBytes: paceHeadroomMb(process.env.THINGPARK_HEAP_PACE) * MB,
      collect: majorGc(gc),
    });
  }
  holders++;
  release.start();
  pacer.start();
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    letGoGrowth();
    holders--;
    if (holders === 0) {
      release?.stop();
      pacer?.stop();
    }
  };
}

/** The shared releaser and pacer (their counters, whether they run); undefined before the first hold. */
export function sharedHeapBounds(): { release: HeapPageRelease; pacer: HeapPacer } | undefined {
  return release && pacer && { release, pacer };
}
