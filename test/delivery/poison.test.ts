import { strict as assert } from 'assert';
import { ack, openQueue, permanent, type DeliveryQueue, type QueueEntry } from '../../lib/delivery';
import { range, recorder, TempDirs, waitFor, type Body } from './helpers';

describe('delivery queue: poison entries', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('moves a permanently refused entry aside with the reason, reports it and goes on with the key', async () => {
    const poisoned: Array<[QueueEntry<Body>, Error]> = [];
    const rec = recorder((e) => (e.body.bad ? permanent(new Error(`bad value ${e.body.n}`)) : ack()));
    const file = dirs.make();
    ({ queue } = await openQueue<Body>({
      file,
      deliver: rec.deliver,
      onPoison: (e, err) => poisoned.push([e, err]),
    }));
    for (let n = 0; n < 10; n++) await queue.push('dev', { n, bad: n === 3 || n === 7 });
    queue.start();
    await waitFor(() => rec.acked.length === 8, 2000, 'good entries');
    assert.deepEqual(rec.byKey().get('dev'), [0, 1, 2, 4, 5, 6, 8, 9]);
    assert.deepEqual(
      poisoned.map(([e, err]) => [e.key, e.body.n, err.message]),
      [
        ['dev', 3, 'bad value 3'],
        ['dev', 7, 'bad value 7'],
      ],
    );
    await waitFor(() => queue!.length === 0, 2000, 'empty');
    const stats = queue.stats();
    assert.equal(stats.poisoned, 2);
    assert.equal(stats.deadLetters, 2);
    const dead = await queue.deadLetters();
    assert.deepEqual(
      dead.map((d) => [d.key, d.body, d.error]),
      [
        ['dev', { n: 3, bad: true }, 'bad value 3'],
        ['dev', { n: 7, bad: true }, 'bad value 7'],
      ],
    );
    assert.ok(!Number.isNaN(Date.parse(dead[0].at)));

    // Dead letters survive a restart and can be cleared.
    await queue.close();
    ({ queue } = await openQueue<Body>({ file, deliver: rec.deliver }));
    assert.equal((await queue.deadLetters()).length, 2);
    await queue.clearDeadLetters();
    assert.deepEqual(await queue.deadLetters(), []);
    assert.equal(queue.stats().deadLetters, 0);
  });

  it('keeps only the newest deadLetterMax dead letters', async () => {
    const rec = recorder((e) => permanent(new Error(`no ${e.body.n}`)));
    ({ queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver, deadLetterMax: 5 }));
    await Promise.all(range(0, 12).map((n) => queue!.push('k', { n })));
    queue.start();
    await waitFor(() => queue!.stats().poisoned === 12 && queue!.length === 0, 2000, 'all poisoned');
    const dead = await queue.deadLetters();
    assert.equal(dead.length, 5);
    assert.deepEqual(
      dead.map((d) => d.body),
      dead.map((d) => ({ n: Number(d.error.slice(3)) })),
    );
    assert.deepEqual(
      dead.map((d) => d.error),
      range(7, 12).map((n) => `no ${n}`),
    );
    assert.equal((await queue.deadLetters(2)).length, 2);
  });

  it('treats a deliver that throws or returns nonsense as a retryable failure, not a crash', async () => {
    let calls = 0;
    ({ queue } = await openQueue<Body>({
      file: dirs.make(),
      retry: { initialMs: 1, maxMs: 1 },
      deliver: ((_e: QueueEntry<Body>) => {
        calls++;
        if (calls === 1) throw new Error('sync throw');
        if (calls === 2) return Promise.reject(new Error('async reject'));
        if (calls === 3) return Promise.resolve({ kind: 'maybe' });
        return Promise.resolve(ack());
      }) as never,
    }));
    await queue.push('k', { n: 1 });
    queue.start();
    await waitFor(() => queue!.stats().delivered === 1, 2000, 'delivered at last');
    assert.equal(calls, 4);
    assert.equal(queue.stats().retries, 3);
    assert.equal(queue.stats().poisoned, 0);
  });
});
