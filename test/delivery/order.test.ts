import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { ack, createMemoryQueue, openQueue, retryable, type DeliveryQueue } from '../../lib/delivery';
import { range, recorder, sleep, TempDirs, waitFor, type Body } from './helpers';

describe('delivery queue: order per key', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('delivers each key in push order across many keys, despite random retryable failures', async () => {
    let calls = 0;
    const rec = recorder(() => (++calls % 7 === 0 ? retryable(new Error('flaky')) : ack()));
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      maxInflight: 50,
      retry: { initialMs: 1, maxMs: 5 },
    }));
    const keys = 20;
    const total = 3000;
    await Promise.all(range(0, total).map((n) => queue!.push(`k${(n * 7919) % keys}`, { n })));
    queue.start();
    await waitFor(() => rec.acked.length === total, 20000, 'all acks');
    const byKey = rec.byKey();
    assert.equal(byKey.size, keys);
    for (const [key, ns] of byKey) {
      const expected = range(0, total).filter((n) => `k${(n * 7919) % keys}` === key);
      assert.deepEqual(ns, expected, `order of ${key}`);
    }
    assert.ok(queue.stats().retries > 0, 'some deliveries were retried');
    await waitFor(() => queue!.length === 0, 2000, 'empty queue');
    assert.equal(queue.stats().delivered, total);
  });

  it('interleaves keys round-robin: a long backlog of one device does not delay another', async () => {
    // Deliveries take time, as over a network (an instant ack outruns a disk read of the other key).
    const rec = recorder(async () => {
      await sleep(1);
      return ack();
    });
    ({ queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver, maxInflight: 1 }));
    await Promise.all(range(0, 500).map((n) => queue!.push('big', { n })));
    await Promise.all(range(500, 510).map((n) => queue!.push('small', { n })));
    queue.start();
    await waitFor(() => rec.acked.length === 510, 10000, 'all acks');
    const lastSmall = rec.acked.findIndex((e) => e.body.n === 509);
    assert.ok(lastSmall < 40, `the small key finished at delivery ${lastSmall}, not after the big backlog`);
  });

  it('keeps keys apart whatever characters they hold', async () => {
    const rec = recorder();
    ({ queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver }));
    const keys = ['a', 'a\x00b', 'a\x00', 'a\x01', 'a\x01\x02', '', 'é!€', 'k!x', 'e!a'];
    let n = 0;
    for (let round = 0; round < 5; round++) for (const k of keys) await queue.push(k, { n: n++ });
    queue.start();
    await waitFor(() => rec.acked.length === n, 5000, 'all acks');
    const byKey = rec.byKey();
    assert.deepEqual([...byKey.keys()].sort(), [...keys].sort());
    keys.forEach((k, i) =>
      assert.deepEqual(
        byKey.get(k),
        [0, 1, 2, 3, 4].map((r) => r * keys.length + i),
        k,
      ),
    );
  });

  it('pipelines a key up to perKeyInflight and, after a failure, sends what was in flight again in order', async () => {
    const firstAttempts = new Map<number, number>();
    let inflight = 0;
    let peak = 0;
    const rec = recorder(async (e) => {
      inflight++;
      peak = Math.max(peak, inflight);
      await sleep(2);
      inflight--;
      const seen = firstAttempts.get(e.body.n) ?? 0;
      firstAttempts.set(e.body.n, seen + 1);
      // Entry 10 fails twice; the ones in flight behind it must come again after it.
      return e.body.n === 10 && seen < 2 ? retryable(new Error('nack')) : ack();
    });
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      perKeyInflight: 4,
      retry: { initialMs: 5, maxMs: 5 },
    }));
    await Promise.all(range(0, 40).map((n) => queue!.push('dev', { n })));
    queue.start();
    await waitFor(() => queue!.length === 0 && queue!.stats().inflight === 0, 10000, 'drained');
    assert.equal(peak, 4, 'four in flight for one key');
    const sent = rec.attempts.map((e) => e.body.n);
    // First sends are in order; every resend restarts at the failed entry and goes up in order.
    const firstSends = sent.filter((n, i) => sent.indexOf(n) === i);
    assert.deepEqual(firstSends, range(0, 40));
    const tenAt = sent.map((n, i) => (n === 10 ? i : -1)).filter((i) => i >= 0);
    assert.equal(tenAt.length, 3);
    for (const i of tenAt.slice(1)) {
      const before = sent.slice(0, i).filter((n) => n > 10);
      const after = sent.slice(i + 1, i + 1 + before.length);
      assert.ok(
        before.every((n) => after.includes(n)),
        `entries sent after 10 before its retry are sent again`,
      );
    }
    const acked = new Set(rec.acked.map((e) => e.body.n));
    assert.deepEqual(
      [...acked].sort((a, b) => a - b),
      range(0, 40),
    );
  });

  it('keeps per-key order for any interleaving of pushes and failures (property, memory store)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.boolean()), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 5 }),
        async (ops, maxInflight) => {
          const failOnce = new Set(ops.map(([, f], n) => (f ? n : -1)));
          const rec = recorder((e) => (failOnce.delete(e.body.n) ? retryable(new Error('x')) : ack()));
          const q = createMemoryQueue<Body>({
            deliver: rec.deliver,
            maxInflight,
            retry: { initialMs: 0, maxMs: 0 },
            autoStart: true,
          });
          await Promise.all(ops.map(([k], n) => q.push(`k${k}`, { n })));
          await waitFor(() => rec.acked.length === ops.length, 5000, 'acks');
          for (const [key, ns] of rec.byKey()) {
            assert.deepEqual(
              ns,
              ops.map(([k], n) => (`k${k}` === key ? n : -1)).filter((n) => n >= 0),
            );
          }
          await q.close();
        },
      ),
      { numRuns: 40 },
    );
  });
});
