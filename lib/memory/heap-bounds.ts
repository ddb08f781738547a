import { exposedGc } from './exposed-gc';
import { HeapPacer, majorGc } from './heap-pacer';
import { HeapPageRelease, lastResortGc } from './heap-pages';

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
 * let-go): the page release (what the heap gave up given back once calm; THINGPARK_HEAP_RELEASE=off in
 * Node-RED's environment turns it off) and, when asked for with THINGPARK_HEAP_PACE (`on`: 64 MB, or a
 * number of MB), the pacer: a burst's garbage kept within that of the live heap, a lower peak for less
 * speed (bench/README.md, figure 3). Both off with THINGPARK_HEAP_RELEASE=off.
 */
export function holdHeapBounds(): () => void {
  if (process.env.THINGPARK_HEAP_RELEASE === 'off') return () => undefined;
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
