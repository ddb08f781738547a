import { strict as assert } from 'assert';
import { ack, DeliveryQueue, openQueue, type EngineOptions } from '../../lib/delivery';
import { DELETE_HOLD_MS } from '../../lib/delivery/queue-state';
import { loadSqlite } from '../../lib/delivery/sqlite-db';
import { SqliteStore } from '../../lib/delivery/sqlite-store';
import type { StoreBatch } from '../../lib/delivery/store';
import { queueSandbox, range, recorder, sleep, waitFor, type Body } from './helpers';

/** The real SQLite store, noting the size of each write that only deletes, and when it was made. */
class DeleteCountingStore extends SqliteStore {
  readonly deleteWrites: Array<{ deletes: number; at: number }> = [];
  constructor(file: string) {
    super(loadSqlite(), file);
  }
  override write(batch: StoreBatch): Promise<void> {
    if (batch.puts.length === 0 && batch.deadPuts.length === 0 && batch.deletes.length > 0)
      this.deleteWrites.push({ deletes: batch.deletes.length, at: Date.now() });
    return super.write(batch);
  }
  get deleted(): number {
    return this.deleteWrites.reduce((sum, w) => sum + w.deletes, 0);
  }
}

/**
 * Acknowledges one delivery per turn of the event loop, in the order sent: answers coming back one by
 * one over a connection, each delete due on its own.
 */
function acksOnePerTurn() {
  const waiting: Array<() => void> = [];
  let turning = false;
  const turn = (): void => {
    waiting.shift()?.();
    if (waiting.length > 0) setImmediate(turn);
    else turning = false;
  };
  return recorder(
    () =>
      new Promise((resolve) => {
        waiting.push(() => resolve(ack()));
        if (!turning) {
          turning = true;
          setImmediate(turn);
        }
      }),
  );
}

describe('delivery queue: deletes written in fewer, larger commits on SQLite', () => {
  const sandbox = queueSandbox();

  /** A queue on `store`, started once `entries` are queued over `keys` devices; resolves when drained. */
  async function drain(
    store: SqliteStore,
    deliver: EngineOptions<Body>['deliver'],
    maxInflight: number,
    entries: number,
    keys: number,
  ): Promise<DeliveryQueue<Body>> {
    const queue = sandbox.track(new DeliveryQueue<Body>(store, { deliver, maxInflight }));
    await queue.ready;
    await Promise.all(range(0, entries).map((n) => queue.push(`dev${n % keys}`, { n })));
    queue.start();
    await waitFor(() => queue.length === 0, 20000, 'drained');
    return queue;
  }

  it('a backlog draining as answers trickle in is deleted in commits of many entries, not one per answer', async () => {
    const store = new DeleteCountingStore(sandbox.file());
    await drain(store, acksOnePerTurn().deliver, 200, 3000, 300);
    assert.equal(store.deleted, 3000);
    const perCommit = store.deleted / store.deleteWrites.length;
    assert.ok(
      perCommit >= 10,
      `${store.deleteWrites.length} commits of deletes, ${perCommit.toFixed(1)} deletes per commit`,
    );
    assert.ok(
      store.deleteWrites.every((w) => w.deletes <= 200 + 100),
      'never more deletes than the window and the hold (half the window) let settle',
    );
  });

  it('deletes held for a larger write leave the whole window to deliveries', async () => {
    const store = new DeleteCountingStore(sandbox.file());
    let inflight = 0;
    const seen: number[] = [];
    const turns = acksOnePerTurn();
    const rec = recorder(async (e) => {
      inflight++;
      seen.push(inflight);
      const r = await turns.deliver(e);
      inflight--;
      return r;
    });
    await drain(store, rec.deliver, 20, 2000, 100);
    // Counted at each delivery, after the window first filled: held deletes (up to 10 here) taking room
    // in the window would let it fall to 10 before each write.
    const steady = seen.slice(seen.indexOf(20));
    const mean = steady.reduce((a, b) => a + b, 0) / steady.length;
    assert.ok(mean >= 19, `${mean.toFixed(1)} deliveries in flight on average, of 20`);
    assert.ok(store.deleteWrites.length < 2000 / 5, `${store.deleteWrites.length} writes of deletes`);
  });

  it('a lone acknowledgement is deleted on its own within a few milliseconds, with nothing else happening', async () => {
    const store = new DeleteCountingStore(sandbox.file());
    const rec = recorder();
    const queue = sandbox.track(new DeliveryQueue<Body>(store, { deliver: rec.deliver }));
    await queue.ready;
    await queue.push('dev', { n: 1 });
    queue.start();
    await waitFor(() => rec.acked.length === 1, 2000, 'acknowledged');
    const ackedAt = Date.now();
    // The entry leaves the count when its delete's write has finished, not when it starts.
    await waitFor(() => queue.length === 0, 2000, 'its delete written');
    assert.equal(store.deleted, 1);
    const took = store.deleteWrites[0].at - ackedAt;
    assert.ok(took < 500, `written ${took} ms after the acknowledgement`);
  });

  it('a window of 4 is never held for the timer: deletes are written once two are waiting', async () => {
    const store = new DeleteCountingStore(sandbox.file());
    await drain(store, recorder().deliver, 4, 400, 40);
    assert.ok(
      store.deleteWrites.every((w) => w.deletes <= 4 + 2),
      'no write holds more than the window and the hold',
    );
    // Held for the timer, each of these writes would wait DELETE_HOLD_MS; written as soon as two are
    // waiting, the whole drain takes a fraction of that.
    const span = store.deleteWrites.at(-1)!.at - store.deleteWrites[0].at;
    assert.ok(
      span < (store.deleteWrites.length * DELETE_HOLD_MS) / 4,
      `${store.deleteWrites.length} writes of deletes over ${span} ms`,
    );
  });

  it('close writes the held deletes: nothing acknowledged is sent again after reopening', async () => {
    const file = sandbox.file();
    const first = recorder();
    const queue = sandbox.track(
      (await openQueue<Body>({ file, deliver: first.deliver, maxInflight: 1000 })).queue,
    );
    await Promise.all(range(0, 50).map((n) => queue.push(`dev${n % 5}`, { n })));
    queue.start();
    await waitFor(() => first.acked.length === 50, 2000, 'acknowledged');
    await queue.close();
    const second = recorder();
    const reopened = await openQueue<Body>({ file, deliver: second.deliver, autoStart: true });
    assert.equal(sandbox.track(reopened.queue).length, 0);
    await sleep(50);
    assert.deepEqual(second.attempts, []);
  });
});
