import * as v8 from 'v8';
import { exposedGc } from './exposed-gc';
import { boundSetting, flagGivenByUser, HeldSetting } from './v8-setting';

/** What the package asks of V8 unless told otherwise (bench/README.md, figure 3: the heap's growth). */
export const DEFAULT_HEAP_GROWTH_PERCENT = 75;

/**
 * THINGPARK_HEAP_GROWTH: how much V8 lets its old generation grow past what was live after a major
 * collection before it starts the next one, in percent; 0 (`off`) leaves V8's own choice.
 */
export function heapGrowthPercent(setting: string | undefined): number {
  return boundSetting(setting, DEFAULT_HEAP_GROWTH_PERCENT, 10, 400);
}

/** True when whoever started Node.js chose the growth already (a flag on the command line or in NODE_OPTIONS). */
export function heapGrowthSetByUser(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env.NODE_OPTIONS ?? '',
): boolean {
  return flagGivenByUser(/--heap[-_]growing[-_]percent/, execArgv, nodeOptions);
}

const growth = new HeldSetting();

/**
 * Keeps V8's heap growth factor at 1 + percent/100 while held (each call returns its own let-go; the
 * last let-go gives V8 its own choice back). V8 grows the heap of a process that may use a machine's
 * default share of memory by up to 4× what was live before it collects again (heap-controller.cc,
 * `MaxGrowingFactor`), 1.3–2× only when the heap was given a smaller bound; a backlog pouring in then
 * piles up garbage worth several times the live heap, and the pages stay resident. V8 reads the factor
 * each time it sets the next limit, so the change takes effect at its next collection, with V8's own
 * concurrent marking. Left alone where the user set it.
 *
 * The limit V8 set at its last collection stands until the heap reaches it, though: Node-RED's last
 * collection before the flows start set it at up to 4× what was live then (40 MB live: 182 MB on Node
 * 26), and a backlog arriving right after the deploy grew the heap that far. So `newLimit` (by default
 * one major collection, in a task of V8's rather than now) has V8 set its limit with the new factor.
 */
export function holdHeapGrowth(percent: number, newLimit: () => void = collectSoon): () => void {
  if (percent <= 0 || heapGrowthSetByUser()) return () => undefined;
  return growth.hold(percent, (held) => {
    v8.setFlagsFromString(`--heap-growing-percent=${held}`);
    newLimit();
    return () => v8.setFlagsFromString('--heap-growing-percent=0');
  });
}

/** The growth percent the package has V8 use now; 0 when V8 chooses. */
export function heldHeapGrowth(): number {
  return growth.value;
}

/** One major collection in a task of V8's: V8 sets its next limit with the factor now held. */
function collectSoon(): void {
  try {
    void exposedGc()?.({ type: 'major', execution: 'async' });
  } catch {
    // a V8 without the option: the factor applies from V8's next collection of its own
  }
}
