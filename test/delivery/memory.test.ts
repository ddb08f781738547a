import { strict as assert } from 'assert';
import * as v8 from 'v8';
import * as vm from 'vm';
import { ack, openQueue, type DeliveryQueue } from '../../lib/delivery';
import { TempDirs, waitFor, type Body } from './helpers';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('delivery queue: memory does not grow with queue length', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('holds 200 000 queued entries (1 000 devices) with heap growth far below their size', async function () {
    this.timeout(30000);
    let delivered = 0;
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      maxEntries: 1_000_000,
      deliver: async () => {
        delivered++;
        return ack();
      },
    }));
    const payload = 'ab'.repeat(40);
    const push = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i += 1000) {
        const batch: Array<Promise<void>> = [];
        for (let n = i; n < i + 1000; n++) batch.push(queue!.push(`dev${n % 1000}`, { n, payload }));
        await Promise.all(batch);
      }
    };
    await push(0, 10000); // warm up: code, caches, the key map
    const before = heapUsed();
    await push(10000, 200000);
    const after = heapUsed();
    assert.equal(queue.length, 200000);
    const growth = (after - before) / 1024 / 1024;
    const stored = (queue.byteLength / 1024 / 1024).toFixed(1);
    console.log(`      heap growth ${growth.toFixed(2)} MB for ${stored} MB queued`);
    assert.ok(growth < 5, `heap grew ${growth.toFixed(1)} MB for ${stored} MB queued`);

    // Draining reads through a bounded window, too.
    queue.start();
    await waitFor(() => delivered >= 100000, 20000, 'half delivered');
    const draining = (heapUsed() - before) / 1024 / 1024;
    assert.ok(draining < 10, `heap while draining grew ${draining.toFixed(1)} MB`);
    await waitFor(() => delivered === 200000, 20000, 'all delivered');
  });
});
