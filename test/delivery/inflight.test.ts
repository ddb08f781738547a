import { strict as assert } from 'assert';
import { ack, openQueue, type DeliveryQueue, type DeliveryResult } from '../../lib/delivery';
import { range, recorder, sleep, TempDirs, waitFor, type Body } from './helpers';

describe('delivery queue: inflight window', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  for (const [maxInflight, perKeyInflight, keys] of [
    [7, 1, 50],
    [20, 3, 5],
    [8, 8, 1],
  ]) {
    // Round-robin: every key gets a slot before any gets a second one.
    const expectedPeak = Math.min(maxInflight, perKeyInflight * keys);
    it(`keeps at most ${expectedPeak} deliveries pending (maxInflight=${maxInflight}, perKeyInflight=${perKeyInflight}, ${keys} keys), and fills that window`, async () => {
      let pending = 0;
      let peak = 0;
      const perKey = new Map<string, number>();
      let peakPerKey = 0;
      const rec = recorder(async (e): Promise<DeliveryResult> => {
        pending++;
        peak = Math.max(peak, pending);
        const k = (perKey.get(e.key) ?? 0) + 1;
        perKey.set(e.key, k);
        peakPerKey = Math.max(peakPerKey, k);
        await sleep(1 + (e.body.n % 3));
        pending--;
        perKey.set(e.key, perKey.get(e.key)! - 1);
        return ack();
      });
      ({ queue } = await openQueue<Body>({
        file: dirs.make(),
        deliver: rec.deliver,
        maxInflight,
        perKeyInflight,
      }));
      await Promise.all(range(0, 600).map((n) => queue!.push(`k${n % keys}`, { n })));
      queue.start();
      const sampled: number[] = [];
      while (rec.acked.length < 600) {
        sampled.push(queue.stats().inflight);
        await sleep(2);
      }
      assert.equal(peak, expectedPeak, `peak ${peak}`);
      assert.equal(peakPerKey, perKeyInflight, `peak per key ${peakPerKey}`);
      assert.ok(Math.max(...sampled) <= maxInflight);
      for (const [key, ns] of rec.byKey()) assert.equal(ns.length, 600 / keys, key);
    });
  }

  it('reports the window through stats() and frees it as acknowledgements come', async () => {
    const release: Array<() => void> = [];
    const rec = recorder(() => new Promise<DeliveryResult>((r) => release.push(() => r(ack()))));
    ({ queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver, maxInflight: 5 }));
    await Promise.all(range(0, 20).map((n) => queue!.push(`k${n}`, { n })));
    queue.start();
    await waitFor(() => release.length === 5, 2000, 'five in flight');
    await sleep(30);
    assert.equal(release.length, 5, 'no sixth');
    assert.equal(queue.stats().inflight, 5);
    release.splice(0, 2).forEach((r) => r());
    await waitFor(() => release.length === 5, 2000, 'two more sent');
    assert.equal(queue.stats().inflight, 5);
    assert.equal(rec.acked.length, 2);
    while (rec.acked.length < 20) {
      release.splice(0).forEach((r) => r());
      await sleep(2);
    }
    await waitFor(() => queue!.length === 0, 2000, 'drained');
  });
});
