import { strict as assert } from 'assert';
import { ClassicLevel } from 'classic-level';
import * as fc from 'fast-check';
import { ack, createMemoryQueue, DeliveryQueue, retryable } from '../../lib/delivery';
import { LevelStore } from '../../lib/delivery/level-store';
import type { StoredEntry } from '../../lib/delivery/store';
import { range, recorder, sleep, TempDirs, waitFor, type Body } from './helpers';

/** The real LevelDB store, counting the reads the queue makes. */
class CountingLevelStore extends LevelStore {
  reads = 0;
  constructor(dir: string) {
    super(ClassicLevel, dir);
  }
  override readKey(key: string, afterSeq: number, limit: number): Promise<StoredEntry[]> {
    this.reads++;
    return super.readKey(key, afterSeq, limit);
  }
}

describe('delivery queue: entries kept in memory from the write', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('delivers what it writes while keeping up without reading it back, and reads a backlog from disk', async () => {
    const store = new CountingLevelStore(dirs.make());
    const rec = recorder();
    queue = new DeliveryQueue<Body>(store, { deliver: rec.deliver, readAhead: 64, maxInflight: 32 });
    await queue.ready;
    queue.start();
    const key = (n: number) => `k${n % 20}`;
    for (let n = 0; n < 2000; n += 50) {
      await Promise.all(range(n, n + 50).map((i) => queue!.push(key(i), { n: i })));
      await waitFor(() => rec.acked.length === n + 50, 5000, 'live acks');
    }
    assert.equal(store.reads, 0, 'nothing read back while keeping up');

    // A backlog larger than the read-ahead budget: the first entries stay in memory, the rest are read.
    queue.pause();
    await Promise.all(range(2000, 2400).map((i) => queue!.push(key(i), { n: i })));
    queue.start();
    await Promise.all(range(2400, 2600).map((i) => queue!.push(key(i), { n: i })));
    await waitFor(() => rec.acked.length === 2600, 10000, 'backlog acks');
    assert.ok(store.reads > 0, 'the backlog beyond the read-ahead was read from the store');
    for (const [k, ns] of rec.byKey()) {
      assert.deepEqual(
        ns,
        range(0, 2600).filter((i) => key(i) === k),
        `order of ${k}`,
      );
    }
    await waitFor(() => queue!.length === 0, 2000, 'empty');
  });

  it('hands deliver the JSON as stored; the body is parsed from it', async () => {
    const seen: Array<{ json: string; n: number }> = [];
    queue = createMemoryQueue<Body>({
      autoStart: true,
      deliver: async (e) => {
        seen.push({ json: e.json, n: e.body.n });
        return ack();
      },
    });
    await queue.pushJson('k', '{"n":1,  "x":"kept as written"}');
    await queue.push('k', { n: 2, x: 'y' });
    await waitFor(() => seen.length === 2, 2000, 'deliveries');
    assert.deepEqual(seen, [
      { json: '{"n":1,  "x":"kept as written"}', n: 1 },
      { json: '{"n":2,"x":"y"}', n: 2 },
    ]);
  });

  it('keeps per-key order when pushes arrive in waves during deliveries and failures (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()), { maxLength: 12 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        async (waves, readAhead, maxInflight) => {
          const ops = waves.flat();
          const failOnce = new Set(ops.map(([, f], n) => (f ? n : -1)));
          const rec = recorder((e) => (failOnce.delete(e.body.n) ? retryable(new Error('x')) : ack()));
          const q = createMemoryQueue<Body>({
            deliver: rec.deliver,
            maxInflight,
            readAhead,
            retry: { initialMs: 0, maxMs: 0 },
            autoStart: true,
          });
          let n = 0;
          for (const wave of waves) {
            await Promise.all(wave.map(([k]) => q.push(`k${k}`, { n: n++, k })));
            await sleep(0);
          }
          await waitFor(() => rec.acked.length === ops.length, 5000, 'acks');
          for (const [key, ns] of rec.byKey()) {
            assert.deepEqual(
              ns,
              ops.map(([k], i) => (`k${k}` === key ? i : -1)).filter((i) => i >= 0),
            );
          }
          await q.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
