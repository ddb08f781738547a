import { strict as assert } from 'assert';
import { ack, openQueue, retryable, type DeliveryQueue } from '../../lib/delivery';
import { range, recorder, sleep, TempDirs, waitFor, type Body } from './helpers';

describe('delivery queue: a stuck device does not block the others', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('delivers every other key while one keeps failing, retrying it with growing delays, in order', async () => {
    let stuck = true;
    const stuckAttempts: number[] = [];
    const rec = recorder((e) => {
      if (e.key === 'stuck') stuckAttempts.push(Date.now());
      return e.key === 'stuck' && stuck ? retryable(new Error('device refused')) : ack();
    });
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      maxInflight: 4,
      retry: { initialMs: 20, maxMs: 80, jitter: 0 },
    }));
    // The stuck key comes first in the queue.
    await Promise.all(range(0, 50).map((n) => queue!.push('stuck', { n })));
    await Promise.all(range(50, 2050).map((n) => queue!.push(`ok${n % 10}`, { n })));
    queue.start();
    await waitFor(() => rec.acked.length === 2000, 10000, 'the other keys');
    assert.ok(rec.acked.every((e) => e.key !== 'stuck'));
    await sleep(300);
    assert.ok(stuckAttempts.length >= 4, `stuck key retried (${stuckAttempts.length} attempts)`);
    const gaps = stuckAttempts.slice(1).map((t, i) => t - stuckAttempts[i]);
    assert.ok(gaps[0] >= 15, `first retry after the initial delay (${gaps[0]} ms)`);
    assert.ok(
      gaps.slice(2).every((g) => g >= 60 && g < 200),
      `later retries back off to the cap: ${gaps.join(',')}`,
    );
    assert.ok(
      rec.attempts.filter((e) => e.key === 'stuck').every((e) => e.body.n === 0),
      'only its head is tried',
    );
    assert.equal(queue.length, 50);
    stuck = false;
    await waitFor(() => rec.acked.length === 2050, 5000, 'the stuck key after recovery');
    assert.deepEqual(rec.byKey().get('stuck'), range(0, 50));
    assert.ok(queue.stats().retries >= 4);
  });

  it('does not let many stuck keys exhaust the read-ahead budget', async () => {
    const rec = recorder((e) => (e.key.startsWith('stuck') ? retryable(new Error('no')) : ack()));
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      maxInflight: 4,
      readAhead: 16,
      retry: { initialMs: 10000, maxMs: 10000 },
    }));
    let n = 0;
    for (let k = 0; k < 40; k++) for (let i = 0; i < 5; i++) await queue.push(`stuck${k}`, { n: n++ });
    for (let i = 0; i < 200; i++) await queue.push('healthy', { n: n++ });
    queue.start();
    await waitFor(() => rec.acked.length === 200, 10000, 'the healthy key');
    assert.equal(
      rec.attempts.filter((e) => e.key.startsWith('stuck')).length,
      40,
      'each stuck key tried once',
    );
    await waitFor(() => queue!.length === 200, 2000, 'the stuck entries left');
  });

  it('keeps deliveries that fail after pause() and sends them again after start()', async () => {
    let online = true;
    const release: Array<() => void> = [];
    const rec = recorder(async (e) => {
      if (e.body.n < 3 && online) {
        await new Promise<void>((r) => release.push(r));
        return retryable(new Error('connection lost'));
      }
      return ack();
    });
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      retry: { initialMs: 60000, maxMs: 60000 },
    }));
    await Promise.all(range(0, 3).map((n) => queue!.push(`d${n}`, { n })));
    queue.start();
    await waitFor(() => release.length === 3, 2000, 'three in flight');
    queue.pause();
    online = false;
    release.forEach((r) => r());
    await waitFor(() => queue!.stats().inflight === 0, 2000, 'failures settled');
    await queue.push('d0', { n: 3 });
    await sleep(50);
    assert.equal(rec.acked.length, 0, 'nothing is sent while paused');
    assert.equal(queue.length, 4);
    queue.start(); // the connection is back: backoff is reset
    await waitFor(() => rec.acked.length === 4, 2000, 'all after start');
    assert.deepEqual(rec.byKey().get('d0'), [0, 3]);
  });
});
