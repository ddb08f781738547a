import { PerformanceObserver, constants, type PerformanceEntry } from 'perf_hooks';
import * as v8 from 'v8';
import { boundSetting, flagGivenByUser, HeldSetting } from './v8-setting';

const MB = 1024 * 1024;

/** The young generation's size the package keeps V8 under unless told otherwise, MB (bench/README.md, figure 3). */
export const DEFAULT_YOUNG_GENERATION_MB = 32;

/** V8's own `--semi-space-growth-factor`: each growth of the young generation doubles it. */
const V8_GROWTH_FACTOR = 2;

/**
 * THINGPARK_YOUNG_GENERATION: the size in MB (8–1024) past which the package stops V8 growing its young
 * generation; 0 (`off`) leaves V8's own choice.
 */
export function youngGenerationCapMb(setting: string | undefined): number {
  return boundSetting(setting, DEFAULT_YOUNG_GENERATION_MB, 8, 1024);
}

/** True when whoever started Node.js sized the young generation already (command line or NODE_OPTIONS). */
export function youngGenerationSetByUser(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  return flagGivenByUser(
    /--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor|max[-_]young[-_]generation[-_]size)/,
    execArgv,
    nodeOptions,
  );
}

function newSpaceBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * Stops V8 growing its young generation past `capBytes`; the returned function gives V8 its own
 * growth back. V8 sizes the young generation's bound at start-up from the machine's memory (Node.js
 * 24 and 26 on a machine of 4 GB or more: 128 MB) and doubles it while a burst's objects survive, so a
 * backlog pouring in kept 128 MB of it resident; its bound cannot change once V8 runs, but V8 reads
 * its growth factor each time it grows the generation. After each minor collection, this sets the
 * factor to 1 (no growth) when the next doubling would pass the cap, and back to V8's 2 below it.
 */
export function capYoungGeneration(capBytes: number): () => void {
  let factor = V8_GROWTH_FACTOR;
  const setFactor = (wanted: number) => {
    if (wanted === factor) return;
    v8.setFlagsFromString(`--semi-space-growth-factor=${wanted}`);
    factor = wanted;
  };
  const check = () => setFactor(newSpaceBytes() * V8_GROWTH_FACTOR > capBytes ? 1 : V8_GROWTH_FACTOR);
  const minor = (e: PerformanceEntry) =>
    (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ===
    constants.NODE_PERFORMANCE_GC_MINOR;
  const observer = new PerformanceObserver((list) => {
    if (list.getEntries().some(minor)) check();
  });
  observer.observe({ entryTypes: ['gc'] });
  check();
  return () => {
    observer.disconnect();
    setFactor(V8_GROWTH_FACTOR);
  };
}

const cap = new HeldSetting();

/**
 * Keeps V8's young generation within `capMb` while held (each call returns its own let-go; the last
 * gives V8 its own growth back). Left alone where the user sized the young generation.
 */
export function holdYoungGenerationCap(capMb: number): () => void {
  if (capMb <= 0 || youngGenerationSetByUser()) return () => undefined;
  return cap.hold(capMb, (mb) => capYoungGeneration(mb * MB));
}

/** The cap in MB the package keeps the young generation within now; 0 when V8 chooses. */
export function heldYoungGenerationCap(): number {
  return cap.value;
}
