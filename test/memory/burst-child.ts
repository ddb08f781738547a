/*
 * Run as a child process by heap-pages.test.ts: a burst of short-lived objects grows the V8 heap to
 * some hundreds of MB while ~20 MB stay live, then ordinary full GCs shrink the heap. With `release` a
 * HeapPageRelease runs (reading every 100 ms); prints the RSS readings as JSON.
 */
import * as v8 from 'v8';
import * as vm from 'vm';
import { HeapPageRelease } from '../../lib/memory';

const MB = 1024 * 1024;
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
