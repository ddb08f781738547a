import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { openQueue, type DeliveryResult, type QueueEntry } from '../../lib/delivery';
import { hasLegacyQueue, importLegacyQueue } from '../../lib/delivery/legacy-leveldb';
import type { KeyCounter, OpenOptions, Store, StoreBatch, StoreSnapshot } from '../../lib/delivery/store';
import { repoRoot } from '../../testkit/paths';
import { TempDirs, waitFor } from './helpers';

// The fixture is a queue as version 0.1 (LevelDB) left it: written by LevelDB itself
// (fixtures/make-leveldb-queue.js), with tables on several levels in snappy-compressed blocks, a live
// write-ahead log, drained entries (tombstones) and dead letters. legacy-layout.js says what it holds.
const layout = require(path.join(repoRoot, 'test', 'delivery', 'fixtures', 'legacy-layout.js')) as {
  queued(): Array<{ seq: number; key: string; json: string }>;
  deadLetters(): Array<{ id: number; record: string }>;
};
const FIXTURE = path.join(repoRoot, 'test', 'delivery', 'fixtures', 'leveldb-queue-0.1');
const sizeOf = (key: string, json: string) => Buffer.byteLength(json) + Buffer.byteLength(key);

/** A store that records what it is given: puts by seq (a put of a known seq replaces it). */
class RecordingStore implements Store {
  readonly kind = 'memory' as const;
  readonly entries = new Map<number, { key: string; json: string; size: number }>();
  readonly counters = new Map<string, KeyCounter>();
  readonly dead = new Map<number, string>();
  writes = 0;
  failAfter = Infinity;
  async open(_o: OpenOptions): Promise<StoreSnapshot> {
    return { counters: [], nextSeq: 0, deadIds: [], repaired: false };
  }
  async write(batch: StoreBatch): Promise<void> {
    if (this.writes >= this.failAfter) throw new Error('power cut');
    this.writes++;
    for (const p of batch.puts) this.entries.set(p.seq, { key: p.key, json: p.json, size: p.size });
    for (const c of batch.counters) this.counters.set(c.key, c);
    for (const d of batch.deadPuts) this.dead.set(d.id, d.record);
  }
  async readKeys() {
    return [];
  }
  async readOldest() {
    return [];
  }
  async readDead() {
    return [];
  }
  async close() {}
  async destroy() {}
}

function assertCarried(store: RecordingStore): void {
  const expected = layout.queued();
  assert.equal(store.entries.size, expected.length, 'every queued entry, none twice');
  const counters = new Map<string, { count: number; bytes: number }>();
  for (const e of expected) {
    const got = store.entries.get(e.seq);
    assert.ok(got, `entry ${e.seq} carried`);
    assert.equal(got.key, e.key);
    assert.equal(got.json, e.json);
    assert.equal(got.size, sizeOf(e.key, e.json));
    const c = counters.get(e.key) ?? { count: 0, bytes: 0 };
    c.count++;
    c.bytes += sizeOf(e.key, e.json);
    counters.set(e.key, c);
  }
  for (const [key, c] of counters) {
    assert.deepEqual(store.counters.get(key), { key, ...c }, `counters of ${JSON.stringify(key)}`);
  }
  assert.deepEqual(
    [...store.dead].sort((a, b) => a[0] - b[0]),
    layout.deadLetters().map((d) => [d.id, d.record]),
  );
}

describe('delivery queue: upgrading from the LevelDB queue of version 0.1 (read without LevelDB)', function () {
  this.timeout(120000);
  const dirs = new TempDirs();
  after(() => dirs.cleanup());
  /** A copy of the fixture as `<tmp>/queue`, beside the new store's `<tmp>/queue.sqlite`. */
  const oldQueue = () => {
    const file = dirs.make();
    const dir = file.slice(0, -'.sqlite'.length);
    fs.cpSync(FIXTURE, dir, { recursive: true });
    return { file, dir };
  };

  it('carries the 50 700 queued uplinks and the dead letters, with their seqs, then removes the LevelDB files', async () => {
    const { dir } = oldQueue();
    assert.equal(hasLegacyQueue(dir), true);
    const store = new RecordingStore();
    const result = await importLegacyQueue(dir, store);
    assert.deepEqual(result, { entries: layout.queued().length, deadLetters: 4, damaged: 0 });
    assertCarried(store);
    assert.equal(fs.existsSync(dir), false, 'the LevelDB directory is gone');
  });

  it('a connection opening its queue after the upgrade delivers every one of them, in order per device, and keeps the dead letters', async () => {
    const { file, dir } = oldQueue();
    const acked = new Map<string, number[]>();
    const deliver = async (e: QueueEntry<{ DevEUI_uplink: { FCntUp: number } }>): Promise<DeliveryResult> => {
      const list = acked.get(e.key) ?? [];
      list.push(e.body.DevEUI_uplink.FCntUp);
      acked.set(e.key, list);
      return { kind: 'ack' };
    };
    const errors: string[] = [];
    const { queue } = await openQueue({ file, deliver, onError: (e) => errors.push(e.message) });
    assert.equal(fs.existsSync(dir), false);
    assert.ok(
      errors.some((m) => /carried 50700 queued messages and 4 dead letters/.test(m)),
      errors.join('; '),
    );
    assert.equal(queue.length, layout.queued().length);
    queue.start();
    await waitFor(() => queue.length === 0, 60000, 'drained');
    const expected = new Map<string, number[]>();
    for (const e of layout.queued()) expected.set(e.key, [...(expected.get(e.key) ?? []), e.seq]);
    assert.deepEqual(acked, expected);
    assert.equal((await queue.deadLetters()).length, 4);
    await queue.close();
  });

  it('is idempotent: a power cut half-way leaves the old queue, and the next start carries it whole', async () => {
    const { dir } = oldQueue();
    const store = new RecordingStore();
    store.failAfter = 7;
    await assert.rejects(importLegacyQueue(dir, store), /power cut/);
    assert.equal(hasLegacyQueue(dir), true, 'still there to import again');
    assert.ok(store.entries.size > 0 && store.entries.size < layout.queued().length);
    store.failAfter = Infinity;
    await importLegacyQueue(dir, store);
    assertCarried(store);
  });

  it('keeps what it can read of a torn log (a crash mid-write) and counts the rest', async () => {
    const { dir } = oldQueue();
    // The newest log ends with the last write (the deletion of dead letter 2): tear it.
    const log = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.log'))
      .sort()
      .pop();
    assert.ok(log);
    const p = path.join(dir, log);
    fs.truncateSync(p, fs.statSync(p).size - 3);
    const store = new RecordingStore();
    const result = await importLegacyQueue(dir, store);
    assert.ok(result.damaged >= 1, 'the torn record is counted');
    // Dropping that write brings dead letter 2 back, as LevelDB itself would on reopening.
    assert.equal(store.entries.size, layout.queued().length);
    assert.ok(store.dead.has(2));
  });
});
