/*
 * Run as a child process by heap-pages.test.ts: a burst of short-lived objects grows the V8 heap to
 * some hundreds of MB while ~20 MB stay live, then ordinary full GCs shrink the heap. With `release` a
 * HeapPageRelease runs (reading every 100 ms); prints the RSS readings as JSON.
 */
import { PerformanceObserver, constants, type PerformanceEntry } from 'perf_hooks';
import * as v8 from 'v8';
import * as vm from 'vm';
import { DEFAULT_HEAP_GROWTH_PERCENT, HeapPacer, HeapPageRelease, holdHeapGrowth } from '../../lib/memory';

const MB = 1024 * 1024;
const mode = process.argv[2];

/**
 * `burst-free` / `burst-paced` / `burst-grown`: for 3 s, batches of uplink-sized objects arrive every
 * few milliseconds and each stays alive for the next 50 batches (a queue waiting for its write), with
 * V8 left alone / a HeapPacer / the package's heap growth held; prints the highest V8 heap in use.
 */
if (mode.startsWith('burst-')) {
  const pacer = mode === 'burst-paced' ? new HeapPacer() : undefined;
  pacer?.start();
  const letGoGrowth = mode === 'burst-grown' ? holdHeapGrowth(DEFAULT_HEAP_GROWTH_PERCENT) : undefined;
  const window: object[][] = [];
  let heapPeak = 0;
  const end = Date.now() + 3000;
  const batch = () => {
    const b: object[] = [];
    for (let i = 0; i < 4000; i++)
      b.push({ DevEUI: `0018B2000000${i}`, payload: 'ab'.repeat(200), meta: { fCnt: i, rssi: -80 } });
    window.push(b);
    if (window.length > 50) window.shift();
    heapPeak = Math.max(heapPeak, v8.getHeapStatistics().used_heap_size);
    if (Date.now() < end) setTimeout(batch, 2);
    else {
      pacer?.stop();
      letGoGrowth?.();
      process.stdout.write(
        JSON.stringify({
          heapPeak: heapPeak / MB,
          collections: pacer?.collections ?? 0,
          window: window.length,
        }),
      );
    }
  };
  batch();
}
/**
 * `hold-new-limit` / `hold-only`: holds the heap growth (with its new limit / without) in a process doing
 * nothing else, and prints how many major collections followed within 1 s.
 */
if (mode.startsWith('hold-')) {
  let majors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (
        (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ===
        constants.NODE_PERFORMANCE_GC_MAJOR
      )
        majors++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const letGo = holdHeapGrowth(
    DEFAULT_HEAP_GROWTH_PERCENT,
    mode === 'hold-only' ? () => undefined : undefined,
  );
  setTimeout(() => {
    letGo();
    observer.disconnect();
    process.stdout.write(JSON.stringify({ majors }));
  }, 1000);
}
if (!mode.startsWith('burst-') && !mode.startsWith('hold-')) pagesAfterBurst();

function pagesAfterBurst(): void {
  v8.setFlagsFromString('--expose-gc');
  const ordinaryGc = vm.runInNewContext('gc') as () => void;

  const live: object[] = [];
  for (let i = 0; i < 150000; i++) live.push({ name: `device-${i}`, values: [i, i + 1] });
  ordinaryGc();
  const before = process.memoryUsage().rss;
  // Started before the burst, as a platform connection starts it with Node-RED.
  const releaser = process.argv[2] === 'release' ? new HeapPageRelease({ everyMs: 100 }) : undefined;
  releaser?.start();
  let burst: object[] = [];
  for (let round = 0; round < 30; round++) {
    for (let i = 0; i < 100000; i++) burst.push({ DevEUI: `00${i}`, FCntUp: round, payload: [i, round] });
    if (burst.length > 1000000) burst = burst.slice(-100000);
  }
  const peak = process.memoryUsage().rss;
  burst = [];
  ordinaryGc();
  ordinaryGc();
  setTimeout(() => {
    releaser?.stop();
    const m = process.memoryUsage();
    process.stdout.write(
      JSON.stringify({
        before: before / MB,
        peak: peak / MB,
        after: m.rss / MB,
        heapTotal: m.heapTotal / MB,
        live: live.length,
        releases: releaser?.stats.releases ?? 0,
        freed: (releaser?.stats.freedBytes ?? 0) / MB,
      }),
    );
  }, 1500);
}
