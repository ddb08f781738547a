import { strict as assert } from 'assert';
import {
  ack,
  openQueue,
  permanent,
  retryable,
  type DeliveryQueue,
  type DeliveryResult,
  type QueueEntry,
} from '../../lib/delivery';
import { loadSqlite } from '../../lib/delivery/sqlite-db';
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

  /** A queue file holding n = 0..4 for 'dev', the entry n = 2 damaged on disk (its JSON cut short). */
  async function fileWithDamagedEntry(): Promise<string> {
    const file = dirs.make();
    ({ queue } = await openQueue<Body>({ file, deliver: async () => ack() }));
    for (let n = 0; n < 5; n++) await queue.push('dev', { n });
    await queue.close();
    queue = undefined;
    const db = new (loadSqlite())(file);
    db.exec(`UPDATE entries SET json = '{"n":2,' WHERE json = '{"n":2}'`);
    db.close();
    return file;
  }

  for (const [how, answer] of [
    ['reads the body', (e: QueueEntry<Body>) => (e.body.n >= 0 ? ack() : ack())],
    [
      'reads the body and answers retryable when that throws',
      (e: QueueEntry<Body>) => {
        try {
          return e.body.n >= 0 ? ack() : ack();
        } catch (err) {
          return retryable(err as Error);
        }
      },
    ],
  ] as Array<[string, (e: QueueEntry<Body>) => DeliveryResult]>) {
    it(`moves an entry damaged on disk to the dead letters when its platform ${how}, and goes on`, async () => {
      const file = await fileWithDamagedEntry();
      const poisoned: string[] = [];
      const rec = recorder(answer);
      ({ queue } = await openQueue<Body>({
        file,
        deliver: rec.deliver,
        onPoison: (_e, err) => poisoned.push(err.message),
      }));
      queue.start();
      await waitFor(() => queue!.length === 0, 3000, 'empty');
      assert.deepEqual(rec.byKey().get('dev'), [0, 1, 3, 4]);
      assert.deepEqual(poisoned, ['stored entry is not valid JSON']);
      assert.equal(rec.attempts.length, 5, 'tried once, never retried');
      const dead = await queue.deadLetters();
      assert.deepEqual(
        dead.map((d) => [d.key, d.body, d.error]),
        [['dev', '{"n":2,', 'stored entry is not valid JSON']],
      );
    });
  }

  it('hands an entry damaged on disk as it is to a platform that sends the stored JSON without parsing it', async () => {
    const file = await fileWithDamagedEntry();
    const sent: string[] = [];
    ({ queue } = await openQueue<Body>({
      file,
      deliver: async (e) => {
        sent.push(e.json);
        return ack();
      },
    }));
    queue.start();
    await waitFor(() => queue!.length === 0, 3000, 'empty');
    assert.deepEqual(sent, ['{"n":0}', '{"n":1}', '{"n":2,', '{"n":3}', '{"n":4}']);
    assert.equal(queue.stats().poisoned, 0);
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
