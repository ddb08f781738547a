import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ClassicLevel } from 'classic-level';
import { hasLegacyQueue, importLegacyQueue } from '../../lib/delivery/legacy-leveldb';
import type { KeyCounter, OpenOptions, Store, StoreBatch, StoreSnapshot } from '../../lib/delivery/store';

// The LevelDB layout of the queue before the SQLite store (versions up to 0.1), frozen here as the
// format an upgrade must read: e!<escaped key>\0<seq hex16> → JSON, g!<seq> → "<size> <key>",
// k!<key> → "<count> <bytes>", d!<id hex16> → dead letter record.
const hex16 = (n: number) => n.toString(16).padStart(16, '0');
const escapeKey = (k: string) => k.split('\x01').join('\x01\x02').split('\x00').join('\x01\x01');
const entryKey = (key: string, seq: number) => 'e!' + escapeKey(key) + '\x00' + hex16(seq);
const sizeOf = (key: string, json: string) => Buffer.byteLength(json) + Buffer.byteLength(key);

const KEYS = [
  ...Array.from({ length: 297 }, (_, i) => `70B3D57ED0${String(i).padStart(6, '0')}`),
  'a\x00b',
  'c\x01\x02d',
  'é€😀',
];

interface Legacy {
  entries: Map<number, { key: string; json: string }>;
  dead: Map<number, string>;
}

/** Writes an old queue as version 0.1 did, with drains (tombstones), compactions and a live log. */
async function writeLegacyQueue(dir: string, total: number): Promise<Legacy> {
  // A small write buffer, so the entries spread over many tables on several levels.
  const db = new ClassicLevel<string, string>(dir, { writeBufferSize: 64 * 1024 });
  await db.open();
  const legacy: Legacy = { entries: new Map(), dead: new Map() };
  const counters = new Map<string, KeyCounter>();
  let seq = 0;
  const push = async (n: number) => {
    const b = db.batch();
    for (let i = 0; i < n; i++, seq++) {
      const key = KEYS[seq % KEYS.length];
      const json = JSON.stringify({
        DevEUI_uplink: { DevEUI: key, FCntUp: seq, payload_hex: 'ab'.repeat(20 + (seq % 30)) },
      });
      b.put(entryKey(key, seq), json);
      b.put('g!' + hex16(seq), `${sizeOf(key, json)} ${key}`);
      legacy.entries.set(seq, { key, json });
      const c = counters.get(key) ?? { key, count: 0, bytes: 0 };
      c.count++;
      c.bytes += sizeOf(key, json);
      counters.set(key, c);
      b.put('k!' + key, `${c.count} ${c.bytes}`);
    }
    await b.write();
  };
  const drainOldest = async (n: number) => {
    const b = db.batch();
    for (const [s, e] of [...legacy.entries].slice(0, n)) {
      b.del(entryKey(e.key, s));
      b.del('g!' + hex16(s));
      legacy.entries.delete(s);
    }
    await b.write();
  };
  for (let written = 0; written < total; written += 500) await push(Math.min(500, total - written));
  await drainOldest(Math.floor(total / 6));
  for (let id = 1; id <= 5; id++) {
    const record = JSON.stringify({ id, key: KEYS[id], reason: `refused ${id}`, body: { n: id } });
    await db.put('d!' + hex16(id), record);
    legacy.dead.set(id, record);
  }
  await db.compactRange('d!', 'k"');
  await push(1000); // stays in the write-ahead log
  await drainOldest(300);
  await db.del('d!' + hex16(2));
  legacy.dead.delete(2);
  await db.close();
  return legacy;
}

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
  async readKey() {
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

function assertCarried(store: RecordingStore, legacy: Legacy): void {
  assert.equal(store.entries.size, legacy.entries.size, 'every queued entry, none twice');
  for (const [seq, e] of legacy.entries) {
    const got = store.entries.get(seq);
    assert.ok(got, `entry ${seq} carried`);
    assert.equal(got.key, e.key);
    assert.equal(got.json, e.json);
    assert.equal(got.size, sizeOf(e.key, e.json));
  }
  const expected = new Map<string, { count: number; bytes: number }>();
  for (const e of legacy.entries.values()) {
    const c = expected.get(e.key) ?? { count: 0, bytes: 0 };
    c.count++;
    c.bytes += sizeOf(e.key, e.json);
    expected.set(e.key, c);
  }
  for (const [key, c] of expected) {
    assert.deepEqual(store.counters.get(key), { key, ...c }, `counters of ${JSON.stringify(key)}`);
  }
  assert.deepEqual(
    [...store.dead].sort((a, b) => a[0] - b[0]),
    [...legacy.dead].sort((a, b) => a[0] - b[0]),
  );
}

describe('delivery queue: upgrading from the LevelDB store (read without LevelDB)', function () {
  this.timeout(120000);
  const dirs: string[] = [];
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'legacy-queue-'));
    dirs.push(d);
    return path.join(d, 'queue');
  };
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('carries 50 000 queued uplinks of an old queue (tables on several levels, snappy blocks, a live log, drained entries, dead letters) with their order, then removes LevelDB files', async () => {
    const dir = tmp();
    const legacy = await writeLegacyQueue(dir, 60000);
    assert.ok(legacy.entries.size >= 50000, `${legacy.entries.size} queued`);
    const files = fs.readdirSync(dir);
    const tables = files.filter((f) => f.endsWith('.ldb'));
    assert.ok(tables.length >= 3, `several tables (${tables.length})`);
    assert.ok(
      files.some((f) => f.endsWith('.log') && fs.statSync(path.join(dir, f)).size > 0),
      'a non-empty log',
    );
    const tableBytes = tables.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    const rawBytes = [...legacy.entries.values()].reduce((s, e) => s + e.json.length, 0);
    assert.ok(tableBytes < rawBytes / 2, 'blocks are snappy-compressed (tables far smaller than the data)');

    assert.equal(hasLegacyQueue(dir), true);
    const store = new RecordingStore();
    const result = await importLegacyQueue(dir, store);
    assert.deepEqual(result, { entries: legacy.entries.size, deadLetters: legacy.dead.size, damaged: 0 });
    assertCarried(store, legacy);
    assert.equal(fs.existsSync(dir), false, 'the LevelDB directory is gone');
    assert.equal(hasLegacyQueue(dir), false);
  });

  it('is idempotent: a power cut half-way leaves the old queue, and the next start carries it whole', async () => {
    const dir = tmp();
    const legacy = await writeLegacyQueue(dir, 12000);
    const store = new RecordingStore();
    store.failAfter = 7;
    await assert.rejects(importLegacyQueue(dir, store), /power cut/);
    assert.equal(hasLegacyQueue(dir), true, 'still there to import again');
    assert.ok(store.entries.size > 0 && store.entries.size < legacy.entries.size);
    store.failAfter = Infinity;
    await importLegacyQueue(dir, store);
    assertCarried(store, legacy);
  });

  it('keeps what it can read of a damaged log (a torn tail, as a crash mid-write leaves) and counts the rest', async () => {
    const dir = tmp();
    const legacy = await writeLegacyQueue(dir, 6000);
    // The newest log ends with the last write (the deletion of dead letter 2): tear it, as a crash
    // part-way through that write leaves it.
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
    assert.ok(result.damaged >= 1, 'the damaged record is counted');
    // Dropping that torn write brings dead letter 2 back, as LevelDB itself would on reopening;
    // every queued entry is there.
    assert.equal(store.entries.size, legacy.entries.size);
    assert.equal(store.dead.size, legacy.dead.size + 1);
    assert.ok(store.dead.has(2));
  });

  it('reads exactly what LevelDB reads', async () => {
    const dir = tmp();
    await writeLegacyQueue(dir, 9000);
    const db = new ClassicLevel<string, string>(dir);
    await db.open();
    const oracle = (await db.iterator().all()).filter(([k]) => k.startsWith('e!') || k.startsWith('d!'));
    await db.close();
    const store = new RecordingStore();
    await importLegacyQueue(dir, store);
    const ours = [
      ...[...store.dead].map(([id, r]) => ['d!' + hex16(id), r]),
      ...[...store.entries].map(([seq, e]) => [entryKey(e.key, seq), e.json]),
    ].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    assert.deepEqual(ours, oracle);
  });
});
