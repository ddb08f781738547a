import { strict as assert } from 'assert';
import {
  ack,
  createQueue,
  DeliveryQueue,
  MAX_INFLIGHT_LIMIT,
  openQueue,
  type DeliveryResult,
} from '../../lib/delivery';
import { MemoryStore } from '../../lib/delivery/memory-store';
import type { StoreBatch } from '../../lib/delivery/store';
import { range, recorder, TempDirs, waitFor, type Body } from './helpers';

describe('delivery queue: fallback, input checks and storage failures', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('falls back to memory with a warning when node:sqlite cannot be loaded', async () => {
    const rec = recorder();
    const { queue, storage, warning } = await openQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      loadSqlite: () => {
        throw new Error('No such built-in module: node:sqlite');
      },
    });
    assert.equal(storage, 'memory');
    assert.equal(queue.storage, 'memory');
    assert.match(warning ?? '', /in memory only.*node:sqlite/);
    await Promise.all(range(0, 50).map((n) => queue.push(`k${n % 2}`, { n })));
    assert.equal(queue.stats().storage, 'memory');
    assert.equal(queue.length, 50);
    queue.start();
    await waitFor(() => rec.acked.length === 50, 2000, 'acks');
    assert.deepEqual(
      rec.byKey().get('k1'),
      range(0, 50).filter((n) => n % 2 === 1),
    );
    await queue.close();
  });

  it('uses SQLite when it loads, and pushes made before the store is open wait for it', async () => {
    const rec = recorder();
    const { queue, storage, warning } = createQueue<Body>({
      file: dirs.make(),
      deliver: rec.deliver,
      autoStart: true,
    });
    assert.equal(storage, 'sqlite');
    assert.equal(warning, undefined);
    const pushed = Promise.all(range(0, 10).map((n) => queue.push('k', { n })));
    await queue.ready;
    await pushed;
    await waitFor(() => rec.acked.length === 10, 2000, 'acks');
    assert.deepEqual(rec.byKey().get('k'), range(0, 10));
    await queue.close();
  });

  it('refuses bad input with a clear error and goes on', async () => {
    const rec = recorder();
    const { queue } = await openQueue<Body>({ file: dirs.make(), deliver: rec.deliver, autoStart: true });
    const circular: Record<string, unknown> = { n: 0 };
    circular.self = circular;
    await assert.rejects(queue.push('k', circular as Body), TypeError);
    await assert.rejects(queue.push('k', undefined as unknown as Body), /not JSON-serialisable/);
    await assert.rejects(queue.push(42 as unknown as string, { n: 0 }), /key must be a string/);
    await queue.push('k', { n: 1 });
    await waitFor(() => rec.acked.length === 1, 2000, 'the good one');
    await queue.close();
  });

  it('validates its options: at most 65535 in flight (16-bit MQTT packet ids)', () => {
    const deliver = async (): Promise<DeliveryResult> => ack();
    const make = (o: object) => () => new DeliveryQueue(new MemoryStore(), { deliver, ...o });
    assert.throws(make({ maxInflight: MAX_INFLIGHT_LIMIT + 1 }), RangeError);
    assert.throws(make({ maxInflight: 0 }), RangeError);
    assert.throws(make({ perKeyInflight: 2, maxInflight: 1 }), RangeError);
    assert.throws(make({ maxEntries: 1.5 }), RangeError);
    assert.throws(make({ policy: 'drop-newest' }), RangeError);
    assert.doesNotThrow(make({ maxInflight: MAX_INFLIGHT_LIMIT }));
  });

  it('rejects the pushes of a failed write, keeps acknowledgements and writes them later', async () => {
    class FlakyStore extends MemoryStore {
      failNext = 0;
      override async write(batch: StoreBatch): Promise<void> {
        if (this.failNext > 0) {
          this.failNext--;
          throw new Error('disk full');
        }
        return super.write(batch);
      }
    }
    const store = new FlakyStore();
    const errors: string[] = [];
    const rec = recorder();
    const queue = new DeliveryQueue<Body>(store, {
      deliver: rec.deliver,
      onError: (e) => errors.push(e.message),
    });
    await queue.ready;
    await queue.push('k', { n: 1 });
    store.failNext = 1;
    await assert.rejects(queue.push('k', { n: 2 }), /disk full/);
    assert.equal(queue.length, 1);
    store.failNext = 1; // the delete of the acknowledged entry fails once, then is retried
    queue.start();
    await waitFor(() => rec.acked.length === 1, 2000, 'ack');
    assert.equal(queue.length, 1, 'not yet deleted');
    await waitFor(() => queue.length === 0, 3000, 'delete written on retry');
    assert.deepEqual(errors, ['disk full', 'disk full']);
    await queue.push('k', { n: 3 });
    await waitFor(() => rec.acked.length === 2, 2000, 'ack after recovery');
    assert.deepEqual(rec.byKey().get('k'), [1, 3]);
    await queue.close();
  });
});
