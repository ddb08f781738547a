import { strict as assert } from 'assert';
import { ack, openQueue, QueueFullError, type DeliveryQueue } from '../../lib/delivery';
import { range, recorder, sleep, TempDirs, waitFor, type Body } from './helpers';

/** Bytes of one entry as the queue counts them: body JSON plus key. */
const sizeOf = (key: string, body: Body): number =>
  Buffer.byteLength(JSON.stringify(body)) + Buffer.byteLength(key);

describe('delivery queue: bounds', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('drop-oldest: keeps the newest maxEntries, counts the drops and reports the burst once', async () => {
    const rec = recorder();
    const reports: Array<[number, number]> = [];
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      maxEntries: 100,
      onDrop: (n, total) => reports.push([n, total]),
      dropReportMs: 100,
    }));
    for (let n = 0; n < 150; n++) await queue.push(`k${n % 3}`, { n });
    assert.equal(queue.length, 100);
    assert.equal(queue.stats().dropped, 50);
    assert.deepEqual(reports, [], 'not reported per message');
    await waitFor(() => reports.length > 0, 1000, 'the drop report');
    await sleep(150);
    assert.deepEqual(reports, [[50, 50]], 'one report for the burst');
    queue.start();
    await waitFor(() => rec.acked.length === 100, 5000, 'the kept entries');
    assert.deepEqual(
      rec.acked.map((e) => e.body.n).sort((a, b) => a - b),
      range(50, 150),
    );
    // A second burst gives a second report.
    queue.pause();
    await Promise.all(range(0, 130).map((n) => queue!.push('k', { n })));
    await waitFor(() => reports.length === 2, 1000, 'second report');
    assert.deepEqual(reports[1], [30, 80]);
  });

  it('drop-oldest: never drops what is in flight, and the counts stay right', async () => {
    const hold: Array<() => void> = [];
    const rec = recorder(async (e) => {
      if (e.body.n < 2) await new Promise<void>((r) => hold.push(r));
      return ack();
    });
    ({ queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver, maxEntries: 10 }));
    await queue.push('a', { n: 0 });
    await queue.push('b', { n: 1 });
    queue.start();
    await waitFor(() => hold.length === 2, 2000, 'two in flight');
    queue.pause();
    for (let n = 2; n < 30; n++) await queue.push(`k${n % 4}`, { n });
    assert.equal(queue.length, 10);
    hold.forEach((r) => r());
    queue.start();
    await waitFor(() => queue!.length === 0, 5000, 'drained');
    const acked = rec.acked.map((e) => e.body.n).sort((a, b) => a - b);
    assert.deepEqual(acked, [0, 1, ...range(22, 30)], 'in-flight entries kept, oldest others dropped');
    assert.equal(queue.stats().dropped, 20);
    assert.equal(queue.byteLength, 0);
  });

  it('reject: refuses the push that does not fit with a QueueFullError, accepts again once room is made', async () => {
    const rec = recorder();
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      maxEntries: 20,
      policy: 'reject',
    }));
    await Promise.all(range(0, 20).map((n) => queue!.push('k', { n })));
    await assert.rejects(queue.push('k', { n: 20 }), (err: unknown) => {
      assert.ok(err instanceof QueueFullError);
      assert.equal(err.code, 'QUEUE_FULL');
      assert.equal(err.limit, 'entries');
      return true;
    });
    assert.equal(queue.stats().rejected, 1);
    assert.equal(queue.stats().dropped, 0);
    queue.start();
    await waitFor(() => queue!.length === 0, 5000, 'drained');
    await queue.push('k', { n: 21 });
    await waitFor(() => rec.acked.length === 21, 2000, 'the new entry');
    assert.deepEqual(
      rec.acked.map((e) => e.body.n),
      [...range(0, 20), 21],
    );
  });

  it('reject: holds the bound when pushes arrive while a write is under way', async () => {
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: recorder().deliver,
      maxEntries: 20,
      policy: 'reject',
    }));
    const first = range(0, 15).map((n) => queue!.push('k', { n }));
    await new Promise((r) => setImmediate(r)); // the first write has started
    const second = range(15, 30).map((n) => queue!.push('k', { n }));
    const results = await Promise.allSettled([...first, ...second]);
    assert.deepEqual(
      results.map((r) => r.status),
      [...range(0, 20).map(() => 'fulfilled'), ...range(20, 30).map(() => 'rejected')],
    );
    assert.equal(queue.length, 20);
    assert.equal(queue.stats().rejected, 10);
  });

  it('byte cap: drops the oldest by bytes, refuses by bytes with reject, refuses an entry larger than the cap', async () => {
    const body = (n: number): Body => ({ n, pad: 'x'.repeat(90) });
    const one = sizeOf('k', body(10)); // same size for two-digit n
    const rec = recorder();
    ({ queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver, maxBytes: one * 5 }));
    for (let n = 10; n < 20; n++) await queue.push('k', body(n));
    assert.equal(queue.length, 5);
    assert.equal(queue.byteLength, one * 5);
    assert.equal(queue.stats().dropped, 5);
    await assert.rejects(queue.push('k', { n: 1, pad: 'x'.repeat(one * 5) }), QueueFullError);
    queue.start();
    await waitFor(() => rec.acked.length === 5, 2000, 'acks');
    assert.deepEqual(
      rec.acked.map((e) => e.body.n),
      range(15, 20),
    );
    await queue.close();

    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      maxBytes: one * 3,
      policy: 'reject',
    }));
    for (let n = 10; n < 13; n++) await queue.push('k', body(n));
    await assert.rejects(
      queue.push('k', body(13)),
      (err: unknown) => err instanceof QueueFullError && err.limit === 'bytes',
    );
    assert.equal(queue.length, 3);
  });

  it('applies a smaller maxEntries to a store reopened over the limit', async () => {
    const file = dirs.make();
    const rec = recorder();
    ({ queue } = await openQueue<Body>({ file, deliver: rec.deliver }));
    await Promise.all(range(0, 50).map((n) => queue!.push('k', { n })));
    await queue.close();
    ({ queue } = await openQueue<Body>({ file, deliver: rec.deliver, maxEntries: 20 }));
    await waitFor(() => queue!.length === 20, 2000, 'trimmed');
    assert.equal(queue.stats().dropped, 30);
    queue.start();
    await waitFor(() => rec.acked.length === 20, 2000, 'acks');
    assert.deepEqual(
      rec.acked.map((e) => e.body.n),
      range(30, 50),
    );
  });
});
