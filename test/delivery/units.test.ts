import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import { DropReporter } from '../../lib/delivery/drop-reporter';
import { newKeyState } from '../../lib/delivery/key-state';
import { entryKey, entryRange, hex16, parseHex16, seqOfEntryKey } from '../../lib/delivery/level-keys';
import { RetryHeap } from '../../lib/delivery/retry-heap';
import { retryDelay } from '../../lib/delivery/retry-delay';
import { sleep } from './helpers';

describe('delivery queue parts', () => {
  it('retryDelay grows exponentially to the cap, with jitter below the ceiling', () => {
    const opts = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 100].map((f) => retryDelay(f, opts)),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
    assert.equal(
      retryDelay(3, { ...opts, jitter: 0.5 }, () => 0.999),
      200,
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (f, r) => {
          const d = retryDelay(f, { initialMs: 100, maxMs: 1000, jitter: 0.5 }, () => r);
          return d >= 0 && d <= 1000 && d >= Math.min(1000, 100 * 2 ** (f - 1)) / 2 - 1;
        },
      ),
    );
  });

  it('RetryHeap pops keys by retryAt', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 200 }), (times) => {
        const heap = new RetryHeap();
        times.forEach((t, i) => {
          const ks = newKeyState(`k${i}`);
          ks.retryAt = t;
          heap.push(ks);
        });
        const out: number[] = [];
        for (let ks = heap.pop(); ks; ks = heap.pop()) {
          assert.equal(ks.heapIndex, -1);
          out.push(ks.retryAt);
        }
        assert.deepEqual(
          out,
          [...times].sort((a, b) => a - b),
        );
      }),
    );
  });

  it('level keys: a key range holds exactly that key, in seq order', () => {
    const key = fc.string({
      unit: fc.constantFrom('a', 'b', '\x00', '\x01', '\x02', '!', 'é', '\uffff'),
      maxLength: 6,
    });
    const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(key, key, seq, seq, fc.integer({ min: -1, max: 2 ** 40 }), (k1, k2, s1, s2, after) => {
        const { gt, lt } = entryRange(k1, after);
        const e = entryKey(k2, s2);
        const inside =
          Buffer.compare(Buffer.from(e), Buffer.from(gt)) > 0 &&
          Buffer.compare(Buffer.from(e), Buffer.from(lt)) < 0;
        assert.equal(inside, k1 === k2 && s2 > after);
        assert.equal(seqOfEntryKey(entryKey(k1, s1)), s1);
        assert.equal(Buffer.compare(Buffer.from(hex16(s1)), Buffer.from(hex16(s2))), Math.sign(s1 - s2));
        assert.equal(parseHex16(hex16(s1)), s1);
      }),
      { numRuns: 2000 },
    );
  });

  it('DropReporter reports a burst once, after the interval', async () => {
    const reports: number[] = [];
    const r = new DropReporter(50, (n) => reports.push(n));
    for (let i = 0; i < 1000; i++) r.add(1);
    assert.deepEqual(reports, []);
    await sleep(80);
    assert.deepEqual(reports, [1000]);
    r.add(3);
    r.flush();
    assert.deepEqual(reports, [1000, 3]);
    await sleep(80);
    assert.deepEqual(reports, [1000, 3]);
  });
});
