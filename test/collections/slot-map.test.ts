import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as v8 from 'v8';
import { SlotMap, slotHash, type SlotKey } from '../../lib/collections';
import { exposedGc } from '../../lib/memory';

type Op<K> = { op: 'set'; key: K; value: number } | { op: 'delete'; key: K } | { op: 'get'; key: K };

function opsOf<K extends SlotKey>(keys: fc.Arbitrary<K>): fc.Arbitrary<Op<K>[]> {
  return fc.array(
    fc.oneof(
      fc.record({ op: fc.constant('set' as const), key: keys, value: fc.integer() }),
      fc.record({ op: fc.constant('delete' as const), key: keys }),
      fc.record({ op: fc.constant('get' as const), key: keys }),
    ),
    { maxLength: 400 },
  );
}

/** Runs the same operations on a SlotMap and a Map, comparing every answer and the contents after each. */
function sameAsMap<K extends SlotKey>(ops: Op<K>[]): void {
  const ours = new SlotMap<K, number>();
  const model = new Map<K, number>();
  for (const o of ops) {
    if (o.op === 'set') {
      ours.set(o.key, o.value);
      model.set(o.key, o.value);
    } else if (o.op === 'delete') {
      assert.equal(ours.delete(o.key), model.delete(o.key), `delete ${String(o.key)}`);
    } else {
      assert.equal(ours.get(o.key), model.get(o.key), `get ${String(o.key)}`);
      assert.equal(ours.has(o.key), model.has(o.key), `has ${String(o.key)}`);
    }
    assert.equal(ours.size, model.size);
    assert.ok(ours.capacity >= 2 * ours.size, 'at most half full');
  }
  const entries = ours.entries().sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const expected = [...model].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  assert.deepEqual(entries, expected);
  for (const [k, v] of model) assert.equal(ours.get(k), v);
}

describe('SlotMap', () => {
  it('answers as a Map for integer keys that share slots (multiples of the capacity, wrap-around)', () => {
    // Keys 0..5 plus the same slots one and two tables further: long probe runs and holes filled back.
    const keys = fc.oneof(
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 5 }).map((k) => k + 16),
      fc.constantFrom(15, 31, 47, 1024, 2 ** 40 + 3, -1, -17),
    );
    fc.assert(fc.property(opsOf(keys), sameAsMap));
  });

  it('answers as a Map for string keys, and through growth and shrinking', () => {
    fc.assert(fc.property(opsOf(fc.string({ maxLength: 3 })), sameAsMap));
    fc.assert(fc.property(opsOf(fc.integer({ min: 0, max: 300 })), sameAsMap));
  });

  it('grows at half full, and gives the room back only once it stayed small for a while', () => {
    const m = new SlotMap<number, string>();
    assert.equal(m.capacity, 16);
    for (let i = 0; i < 9; i++) m.set(i, `v${i}`);
    assert.equal(m.capacity, 32, 'the ninth entry of 16 slots grows the table');
    for (let i = 0; i < 1000; i++) m.set(i, `v${i}`);
    assert.equal(m.capacity, 2048);
    for (let i = 0; i < 990; i++) m.delete(i);
    assert.equal(m.size, 10);
    assert.equal(m.capacity, 2048, 'not at once: the next burst may need it');
    // Ten entries at a time, coming and going: two windows of 4 × 2048 deletes.
    for (let i = 1000; i < 1000 + 2 * 4 * 2048; i++) {
      m.set(i, `v${i}`);
      m.delete(i - 10);
    }
    assert.equal(m.size, 10);
    assert.ok(m.capacity <= 64, `capacity ${m.capacity} once it stayed small`);
    for (let i = 1000 + 2 * 4 * 2048 - 10; i < 1000 + 2 * 4 * 2048; i++) assert.equal(m.get(i), `v${i}`);
    m.clear();
    assert.equal(m.size, 0);
    assert.equal(m.get(995), undefined);
  });

  it('keeps its size through bursts that fill and empty it (no resize per burst)', () => {
    const m = new SlotMap<string, number>();
    const burst = (n: number) => {
      for (let i = 0; i < 100; i++) m.set(`doc-${n}-${i}`, i);
      for (let i = 0; i < 100; i++) m.delete(`doc-${n}-${i}`);
    };
    burst(0);
    const capacity = m.capacity;
    for (let n = 1; n < 500; n++) {
      burst(n);
      assert.equal(m.capacity, capacity, `burst ${n}`);
    }
    assert.equal(m.size, 0);
  });

  it('entries() can be changed while gone through; forEach sees every entry once', () => {
    const m = new SlotMap<string, number>();
    for (let i = 0; i < 100; i++) m.set(`k${i}`, i);
    for (const [k, v] of m.entries()) if (v % 2) m.delete(k);
    assert.equal(m.size, 50);
    let sum = 0;
    m.forEach((v) => (sum += v));
    assert.equal(
      sum,
      [...Array(100).keys()].filter((i) => i % 2 === 0).reduce((a, b) => a + b, 0),
    );
    assert.deepEqual(
      m
        .entries()
        .map(([, v]) => v)
        .sort((a, b) => a - b),
      [...Array(50).keys()].map((i) => 2 * i),
    );
  });

  it('hashes integers to their low 32 bits and strings by content', () => {
    assert.equal(slotHash(7), 7);
    assert.equal(slotHash(2 ** 32 + 7), 7);
    assert.equal(slotHash('70B3D5'), slotHash(['70', 'B3', 'D5'].join('')));
    assert.notEqual(slotHash('70B3D5'), slotHash('70B3D6'));
  });

  /*
   * The reason it exists. After one major collection has moved a churning container's table to the old
   * generation, a Map's obsolete tables keep every value put in it alive through the minor collections;
   * the SlotMap's values die young. Both measured the same way, so the instrument is shown to see it.
   */
  it('lets values deleted under churn die young, where a Map promotes them (after a major collection)', function () {
    this.timeout(60000);
    const gc = exposedGc();
    assert.ok(gc, 'a major collection on demand');
    const promotedShare = (m: { set(k: number, v: object): unknown; delete(k: number): unknown }) => {
      for (let i = 0; i < 1000; i++) m.set(-1 - i, {});
      gc({ type: 'major', execution: 'sync' });
      for (let i = 0; i < 1000; i++) m.delete(-1 - i);
      const profiler = new v8.GCProfiler();
      profiler.start();
      const n = 200_000;
      let bytes = 0;
      for (let seq = 0; seq < n; seq++) {
        const payload = 'x'.repeat(600) + seq;
        bytes += payload.length + 100;
        m.set(seq, { seq, payload: payload.slice(0), parts: [seq, seq + 1] });
        m.delete(seq - 256);
      }
      let promoted = 0;
      for (const s of profiler.stop().statistics) {
        if (s.gcType !== 'Scavenge' && s.gcType !== 'MinorMarkSweep') continue;
        const old = (x: typeof s.beforeGC) =>
          x.heapSpaceStatistics.find((h) => h.spaceName === 'old_space')!.spaceUsedSize;
        promoted += Math.max(0, old(s.afterGC) - old(s.beforeGC));
      }
      return promoted / bytes;
    };
    // The SlotMap first: once a Map's values were promoted, V8 may allocate them in the old generation
    // from the start (allocation-site pretenuring), whatever holds them next.
    const withSlots = promotedShare(new SlotMap<number, object>());
    const withMap = promotedShare(new Map<number, object>());
    assert.ok(withMap > 0.1, `a Map promoted ${(100 * withMap).toFixed(0)} % of the values' bytes`);
    assert.ok(withSlots < 0.03, `the SlotMap promoted ${(100 * withSlots).toFixed(1)} %`);
  });
});
