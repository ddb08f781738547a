import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import {
  DEFAULT_HEAP_GROWTH_PERCENT,
  HeapPacer,
  HeapPageRelease,
  heapGrowthPercent,
  heapGrowthSetByUser,
  heldHeapGrowth,
  holdHeapBounds,
  holdHeapGrowth,
  paceHeadroomMb,
  sharedHeapBounds,
  type HeapReading,
} from '../../lib/memory';

const MB = 1024 * 1024;

describe('memory: the pages a shrinking V8 heap keeps are given back', () => {
  describe('HeapPageRelease (readings given)', () => {
    const make = (
      readings: HeapReading[],
      collected: number[],
      t: { now: number; busy?: number } = { now: 0 },
    ) => {
      let i = 0;
      const r = new HeapPageRelease({
        thresholdBytes: 32 * MB,
        minGapMs: 20000,
        read: () => readings[Math.min(i++, readings.length - 1)],
        busy: () => t.busy ?? 0,
        collect: () => collected.push(t.now),
        now: () => t.now,
      });
      return r;
    };

    it('releases once the gap between RSS and the heap has grown by the threshold and the heap stopped growing', () => {
      const collected: number[] = [];
      const r = make(
        [
          { rss: 100 * MB, heapTotal: 60 * MB }, // gap 40: the floor
          { rss: 300 * MB, heapTotal: 250 * MB }, // heap growing: a burst, never then
          { rss: 300 * MB, heapTotal: 240 * MB }, // gap 60: +20, under the threshold
          { rss: 300 * MB, heapTotal: 80 * MB }, // gap 220: release
          { rss: 110 * MB, heapTotal: 65 * MB }, // after it
        ],
        collected,
      );
      assert.equal(r.check(), false);
      assert.equal(r.check(), false);
      assert.equal(r.check(), false);
      assert.equal(r.check(), true);
      assert.equal(collected.length, 1);
      assert.deepEqual(r.stats, { releases: 1, freedBytes: 190 * MB });
    });

    it('waits while the event loop is busy (a burst still on), releases once it is calm', () => {
      const collected: number[] = [];
      const t = { now: 0, busy: 0.9 };
      const high = { rss: 300 * MB, heapTotal: 60 * MB };
      const r = make(
        [{ rss: 100 * MB, heapTotal: 60 * MB }, high, high, { rss: 110 * MB, heapTotal: 60 * MB }],
        collected,
        t,
      );
      r.check();
      assert.equal(r.check(), false, 'busy: 90 %');
      t.busy = 0.1;
      assert.equal(r.check(), true, 'calm');
      assert.equal(collected.length, 1);
    });

    it('at most once per minGapMs, and what a release could not give back becomes the new floor', () => {
      const collected: number[] = [];
      const t = { now: 0 };
      const floor = { rss: 100 * MB, heapTotal: 60 * MB };
      const high = { rss: 300 * MB, heapTotal: 60 * MB };
      const low = { rss: 110 * MB, heapTotal: 60 * MB };
      const r = make([floor, high, low, high, high, high, high], collected, t);
      r.check();
      t.now = 1000;
      assert.equal(r.check(), true, 'first release (190 MB back)');
      t.now = 10000;
      assert.equal(r.check(), false, 'within minGapMs');
      t.now = 30000;
      assert.equal(r.check(), true, 'second release: nothing came back');
      t.now = 60000;
      assert.equal(r.check(), false, 'the floor rose to what stayed: no release every 20 s');
      assert.deepEqual(collected, [1000, 30000]);
      assert.equal(r.stats.freedBytes, 190 * MB);
    });

    it('does nothing where no GC can be had; start and stop leave no timer', () => {
      const r = new HeapPageRelease({ collect: undefined, read: () => ({ rss: 900 * MB, heapTotal: 1 }) });
      r.start();
      assert.equal(r.running, false);
      assert.equal(r.check(), false);
      const s = new HeapPageRelease({ everyMs: 10 });
      s.start();
      assert.equal(s.running, true);
      s.stop();
      assert.equal(s.running, false);
    });

    it('the shared bounds run while one holder keeps them; the pacer only when THINGPARK_HEAP_PACE asks', () => {
      const a = holdHeapBounds();
      const b = holdHeapBounds();
      const { release: shared, pacer } = sharedHeapBounds()!;
      assert.equal(shared.running, true);
      assert.equal(pacer.running, false, 'no pacer unless asked for');
      a();
      a(); // twice is once
      assert.equal(shared.running, true, 'b still holds it');
      b();
      assert.equal(shared.running, false, 'the last let-go stops it');
      process.env.THINGPARK_HEAP_RELEASE = 'off';
      try {
        const c = holdHeapBounds();
        assert.equal(shared.running, false);
        c();
      } finally {
        delete process.env.THINGPARK_HEAP_RELEASE;
      }
    });

    it('THINGPARK_HEAP_PACE: unset or off none, on 64 MB, a number of MB (16 at least)', () => {
      assert.deepEqual(
        [undefined, 'off', 'on', '96', '4', 'x'].map((v) => paceHeadroomMb(v)),
        [0, 0, 64, 96, 64, 64],
      );
    });
  });

  describe("V8's heap growth between collections", () => {
    it('THINGPARK_HEAP_GROWTH: unset or on the default (75), off none, a whole percent from 10 to 400', () => {
      assert.equal(DEFAULT_HEAP_GROWTH_PERCENT, 75);
      assert.deepEqual(
        [undefined, '', 'on', 'off', '25', '400', '5', '401', '33.5', 'x'].map((v) => heapGrowthPercent(v)),
        [75, 75, 75, 0, 25, 400, 75, 75, 75, 75],
      );
    });

    it("is the user's where the command line or NODE_OPTIONS set it", () => {
      assert.equal(heapGrowthSetByUser([], ''), false);
      assert.equal(heapGrowthSetByUser(['--max-old-space-size=256'], '--expose-gc'), false);
      assert.equal(heapGrowthSetByUser(['--heap-growing-percent=20'], ''), true);
      assert.equal(heapGrowthSetByUser([], '--max-old-space-size=200 --heap_growing_percent=30'), true);
    });

    it('held while one holder keeps it, V8 chooses again after the last let-go; never over the user', () => {
      assert.equal(heldHeapGrowth(), 0);
      const a = holdHeapGrowth(50);
      const b = holdHeapGrowth(50);
      assert.equal(heldHeapGrowth(), 50);
      a();
      a(); // twice is once
      assert.equal(heldHeapGrowth(), 50, 'b still holds it');
      b();
      assert.equal(heldHeapGrowth(), 0);
      // V8 is asked for its new limit each time the factor changes, not for every holder.
      let newLimits = 0;
      const newLimit = () => newLimits++;
      const d = holdHeapGrowth(50, newLimit);
      const e = holdHeapGrowth(50, newLimit);
      assert.equal(newLimits, 1);
      d();
      e();
      holdHeapGrowth(60, newLimit)();
      assert.equal(newLimits, 2);
      const before = process.env.NODE_OPTIONS;
      process.env.NODE_OPTIONS = '--heap-growing-percent=20';
      try {
        const c = holdHeapGrowth(50);
        assert.equal(heldHeapGrowth(), 0, "the user's setting stays");
        c();
      } finally {
        if (before === undefined) delete process.env.NODE_OPTIONS;
        else process.env.NODE_OPTIONS = before;
      }
    });
  });

  describe('HeapPacer (readings given)', () => {
    it("collects once the garbage on top of the live heap reaches the headroom; V8's own collections lower the floor", () => {
      const used = [50, 90, 113, 115, 60, 30, 80, 95].map((m) => m * MB);
      let i = 0;
      const collected: number[] = [];
      const p = new HeapPacer({
        headroomBytes: 64 * MB,
        used: () => used[i++],
        collect: () => collected.push(i),
      });
      p.start(); // floor 50
      assert.equal(p.tick(), false, '90: +40');
      assert.equal(p.tick(), false, '113: +63');
      assert.equal(p.tick(), true, '115: +65, collected; after it 60');
      assert.equal(p.tick(), false, '30: V8 collected, the floor is 30');
      assert.equal(p.tick(), false, '80: +50');
      assert.equal(p.tick(), true, '95: +65');
      assert.equal(p.collections, 2);
      p.stop();
    });
  });

  describe('in a real process after a burst', function () {
    this.timeout(60000);
    const run = (mode: string) => {
      const r = spawnSync(process.execPath, [path.join(__dirname, 'burst-child.js'), mode], {
        encoding: 'utf8',
        timeout: 50000,
      });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as {
        before: number;
        peak: number;
        after: number;
        live: number;
        releases: number;
        heapPeak: number;
        collections: number;
        majors: number;
      };
    };
    it('holding the growth has V8 collect once soon, so that its limit is set with the new factor', () => {
      // Without it, the limit V8 set at Node-RED's last collection before the deploy (up to 4× what was
      // live then) stood until the heap reached it: a backlog right after a deploy on Node 26 grew to 182 MB.
      assert.deepEqual(
        [run('hold-only').majors, run('hold-new-limit').majors],
        [0, 1],
        'major collections within 1 s of the hold, in a process doing nothing else',
      );
    });

    /** V8 left alone: the burst both heap bounds below are measured against, run once. */
    let freeBurst: ReturnType<typeof run> | undefined;
    const burstFree = () => (freeBurst ??= run('burst-free'));

    it('keeps the pages without it (Node.js 22+), gives them back with it; live objects stay', function () {
      if (Number(process.versions.node.split('.')[0]) < 22) this.skip();
      const kept = run('none');
      assert.ok(kept.peak - kept.before > 300, `the burst grew RSS: ${JSON.stringify(kept)}`);
      assert.ok(kept.after - kept.before > 200, `without it the pages stay: ${JSON.stringify(kept)}`);
      const given = run('release');
      assert.ok(given.peak - given.before > 300, `the burst grew RSS: ${JSON.stringify(given)}`);
      assert.equal(given.releases, 1);
      assert.ok(given.after - given.before < 50, `given back: ${JSON.stringify(given)}`);
      assert.equal(given.live, 150000);
    });

    it('a burst whose objects live a little while: with the growth held, V8 collects before the garbage piles up', function () {
      const free = burstFree();
      const grown = run('burst-grown');
      assert.ok(free.heapPeak > 300, `V8 alone let the garbage pile up: ${JSON.stringify(free)}`);
      assert.ok(
        grown.heapPeak < free.heapPeak * 0.7,
        `V8 collected sooner: ${JSON.stringify({ free, grown })}`,
      );
    });

    it("a burst whose objects live a little while stays within the pacer's headroom", function () {
      const free = burstFree();
      const paced = run('burst-paced');
      assert.ok(free.heapPeak > 300, `V8 alone let the garbage pile up: ${JSON.stringify(free)}`);
      assert.ok(paced.collections > 0, JSON.stringify(paced));
      assert.ok(
        paced.heapPeak < 220 && paced.heapPeak < free.heapPeak * 0.6,
        `within the headroom: ${JSON.stringify({ free, paced })}`,
      );
    });
  });
});
