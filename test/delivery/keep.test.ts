import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { ack, createMemoryQueue, DeliveryQueue, openQueue, retryable } from '../../lib/delivery';
import { loadSqlite } from '../../lib/delivery/sqlite-db';
import { SqliteStore } from '../../lib/delivery/sqlite-store';
import { MemoryStore } from '../../lib/delivery/memory-store';
import type { KeyRead, StoreBatch, StoredEntry } from '../../lib/delivery/store';
import { range, recorder, sleep, TempDirs, waitFor, type Body } from './helpers';

/** The real SQLite store, counting the reads and puts the queue makes; its writes can be held back. */
class CountingStore extends SqliteStore {
  reads = 0;
  /** Requests to the store: a round of reads asks for many keys at once. */
  readRequests = 0;
  puts = 0;
  failNext = 0;
  private held: Promise<void> | undefined;
  private release: (() => void) | undefined;
  constructor(file: string) {
    super(loadSqlite(), file);
  }
  override readKeys(reads: KeyRead[]): Promise<StoredEntry[][]> {
    this.reads += reads.length;
    this.readRequests++;
    return super.readKeys(reads);
  }
  override async write(batch: StoreBatch): Promise<void> {
    await this.held;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk full');
    }
    this.puts += batch.puts.length;
    return super.write(batch);
  }
  /** Writes wait until the returned function is called. */
  holdWrites(): () => void {
    this.held = new Promise((resolve) => (this.release = resolve));
    return () => {
      this.held = undefined;
      this.release!();
    };
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
    const store = new CountingStore(dirs.make());
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
    assert.ok(
      store.reads > store.readRequests,
      `keys read together: ${store.reads} key reads in ${store.readRequests} requests`,
    );
    for (const [k, ns] of rec.byKey()) {
      assert.deepEqual(
        ns,
        range(0, 2600).filter((i) => key(i) === k),
        `order of ${k}`,
      );
    }
    await waitFor(() => queue!.length === 0, 2000, 'empty');
  });

  it('delivers an entry while its write waits; one delivered before its write starts is never written', async () => {
    const file = dirs.make();
    const store = new CountingStore(file);
    let openGate: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const rec = recorder(async (e) => {
      if (e.body.n === 0) await gate;
      return ack();
    });
    queue = new DeliveryQueue<Body>(store, { deliver: rec.deliver, perKeyInflight: 4 });
    await queue.ready;
    queue.start();
    await queue.push('warm', { n: -1 });
    await waitFor(() => rec.acked.length === 1, 2000, 'warm-up delivered');
    await waitFor(() => queue!.length === 0, 2000, 'warm-up deleted');
    const release = store.holdWrites();
    const first = queue.push('k0', { n: 0 }); // in flight (its delivery waits) when its write starts, held
    await waitFor(() => rec.attempts.length === 2 && queue!.stats().pending === 0, 2000, 'n=0 being written');
    try {
      const later = range(1, 101).map((n) => queue!.push(`k${1 + (n % 4)}`, { n }));
      await Promise.all(later); // delivered before their write started: resolved, and never written
      assert.equal(rec.acked.length, 101);
      assert.equal(store.puts, 0, 'nothing written so far: the warm-up entry was delivered first too');
    } finally {
      openGate!();
      release();
    }
    await first;
    await waitFor(() => queue!.length === 0, 5000, 'the entry delivered during its write is deleted');
    assert.equal(store.puts, 1, 'only n=0, whose write had started, was written');
    for (const [k, ns] of rec.byKey()) {
      if (k === 'warm' || k === 'k0') continue;
      assert.deepEqual(
        ns,
        range(1, 101).filter((n) => `k${1 + (n % 4)}` === k),
        `order of ${k}`,
      );
    }
    assert.equal(queue.stats().keys, 0, 'no bookkeeping left for delivered keys');
    await queue.close();
    queue = undefined;
    const reopened = await openQueue<Body>({ file, deliver: rec.deliver, verifyOnOpen: true });
    assert.equal(reopened.queue.length, 0, 'nothing left in the store');
    await reopened.queue.close();
  });

  it('writes an entry still undelivered after writeBehindMs, and resolves its push then', async () => {
    const store = new CountingStore(dirs.make());
    queue = new DeliveryQueue<Body>(store, {
      deliver: () => new Promise(() => undefined),
      writeBehindMs: 100,
    });
    await queue.ready;
    queue.start();
    await sleep(10);
    const t0 = Date.now();
    await queue.push('k', { n: 1 });
    const waited = Date.now() - t0;
    assert.ok(waited >= 90, `resolved after ${waited} ms, before the write-behind time`);
    assert.equal(store.puts, 1);
    assert.equal(queue.length, 1);
    assert.equal(queue.stats().inflight, 1, 'delivered meanwhile (no answer yet)');
  });

  it('refuses a push whose write fails and does not send its entry again, even if it was in flight', async () => {
    const store = new CountingStore(dirs.make());
    let failFirst = true;
    let releaseDelivery: (() => void) | undefined;
    const attempts: number[] = [];
    queue = new DeliveryQueue<Body>(store, {
      retry: { initialMs: 1, maxMs: 1 },
      deliver: async (e) => {
        attempts.push(e.body.n);
        if (e.body.n === 1 && failFirst) {
          failFirst = false;
          await new Promise<void>((resolve) => (releaseDelivery = resolve));
          return retryable(new Error('later'));
        }
        return ack();
      },
    });
    await queue.ready;
    queue.start();
    const release = store.holdWrites();
    const refused = queue.push('k', { n: 1 });
    try {
      await waitFor(() => releaseDelivery !== undefined, 2000, 'n=1 in flight');
      store.failNext = 1;
    } finally {
      release();
    }
    await assert.rejects(refused, /disk full/);
    releaseDelivery!(); // fails: the entry would be sent again, but its push was refused
    await queue.push('k', { n: 2 });
    await waitFor(() => attempts.includes(2), 2000, 'n=2 delivered');
    await sleep(50);
    assert.deepEqual(attempts, [1, 2]);
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

  it('delivers every entry in order per key while writes lag behind deliveries (property, slow store)', async () => {
    class SlowStore extends MemoryStore {
      constructor(private readonly delays: number[]) {
        super();
      }
      override async write(batch: StoreBatch): Promise<void> {
        await sleep(this.delays.length ? this.delays[this.writes++ % this.delays.length] : 0);
        return super.write(batch);
      }
      writes = 0;
    }
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 15 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 5 }),
        fc.array(fc.constantFrom('ack', 'fail', 'slow'), { minLength: 1, maxLength: 7 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 2, max: 40 }),
        async (waves, writeDelays, outcomes, perKeyInflight, readAhead) => {
          let call = 0;
          const failed = new Set<number>();
          const rec = recorder(async (e) => {
            const outcome = outcomes[call++ % outcomes.length];
            if (outcome === 'slow') await sleep(1);
            if (outcome === 'fail' && !failed.has(e.body.n)) {
              failed.add(e.body.n);
              return retryable(new Error('x'));
            }
            return ack();
          });
          const store = new SlowStore(writeDelays);
          const q = new DeliveryQueue<Body>(store, {
            deliver: rec.deliver,
            perKeyInflight,
            maxInflight: 8,
            readAhead,
            retry: { initialMs: 0, maxMs: 0 },
            autoStart: true,
          });
          await q.ready;
          const keys: number[] = [];
          const pushes: Array<Promise<void>> = [];
          for (const wave of waves) {
            for (const k of wave) {
              pushes.push(q.push(`k${k}`, { n: keys.length }));
              keys.push(k);
            }
            await sleep(writeDelays[0] ?? 0);
          }
          await Promise.all(pushes);
          const total = keys.length;
          await waitFor(() => new Set(rec.acked.map((e) => e.body.n)).size === total, 5000, 'acks');
          await waitFor(() => q.length === 0 && q.stats().pending === 0, 5000, 'empty');
          // Order is the order deliver is called in (with perKeyInflight > 1 the answers may overtake).
          const sent = new Map<string, number[]>();
          for (const e of rec.attempts) {
            const list = sent.get(e.key) ?? [];
            if (!list.includes(e.body.n)) list.push(e.body.n);
            sent.set(e.key, list);
          }
          for (const [key, first] of sent) {
            assert.deepEqual(
              first,
              keys.map((k, n) => (`k${k}` === key ? n : -1)).filter((n) => n >= 0),
              `order of ${key}`,
            );
          }
          assert.deepEqual(await store.readOldest(0, 10), [], 'nothing left in the store');
          await q.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
