import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import {
  DEFAULT_YOUNG_GENERATION_MB,
  heldYoungGenerationCap,
  holdHeapBounds,
  holdYoungGenerationCap,
  youngGenerationCapMb,
  youngGenerationSetByUser,
} from '../../lib/memory';

describe("memory: V8's young generation kept within a cap", () => {
  it('THINGPARK_YOUNG_GENERATION: 32 MB unless set, off, or MB between 8 and 1024', () => {
    assert.deepEqual(
      [undefined, '', 'on', 'off', '8', '1024', '64', '7', '1025', '16.5', 'x'].map((v) =>
        youngGenerationCapMb(v),
      ),
      [32, 32, 32, 0, 8, 1024, 64, 32, 32, 32, 32],
    );
  });

  it("is the user's where the command line or NODE_OPTIONS sized the young generation", () => {
    assert.equal(youngGenerationSetByUser([], ''), false);
    assert.equal(youngGenerationSetByUser(['--max-old-space-size=256'], '--expose-gc'), false);
    assert.equal(youngGenerationSetByUser(['--max-semi-space-size=16'], ''), true);
    assert.equal(youngGenerationSetByUser([], '--max_semi_space_size=8'), true);
    assert.equal(youngGenerationSetByUser([], '--semi-space-growth-factor=1'), true);
    assert.equal(youngGenerationSetByUser(['--max-young-generation-size=48'], ''), true);
  });

  it('held while one holder keeps it, V8 chooses again after the last let-go', () => {
    assert.equal(heldYoungGenerationCap(), 0);
    const a = holdYoungGenerationCap(32);
    const b = holdYoungGenerationCap(32);
    assert.equal(heldYoungGenerationCap(), 32);
    a();
    a(); // twice is once
    assert.equal(heldYoungGenerationCap(), 32, 'b still holds it');
    b();
    assert.equal(heldYoungGenerationCap(), 0);
    holdYoungGenerationCap(0)();
    assert.equal(heldYoungGenerationCap(), 0, '0: nothing held');
  });

  it('held with the heap bounds (every platform connection), at 32 MB unless set', () => {
    const letGo = holdHeapBounds();
    try {
      assert.equal(heldYoungGenerationCap(), DEFAULT_YOUNG_GENERATION_MB);
    } finally {
      letGo();
    }
    assert.equal(heldYoungGenerationCap(), 0);
    process.env.THINGPARK_YOUNG_GENERATION = 'off';
    try {
      const off = holdHeapBounds();
      assert.equal(heldYoungGenerationCap(), 0, 'THINGPARK_YOUNG_GENERATION=off');
      off();
    } finally {
      delete process.env.THINGPARK_YOUNG_GENERATION;
    }
  });

  it('in a real process, a burst whose objects survive grows the young generation to 128 MB; capped, it stays within 64', function () {
    this.timeout(60000);
    const run = (mode: string): { largest: number } => {
      const r = spawnSync(
        process.execPath,
        ['--max-semi-space-size=64', path.join(__dirname, 'young-generation-child.js'), mode],
        { encoding: 'utf8', timeout: 50000 },
      );
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { largest: number };
    };
    const free = run('free');
    const capped = run('capped');
    assert.ok(free.largest >= 100, `V8 left alone grew it: ${free.largest} MB`);
    // The cap acts after the collections it hears of: one doubling past 32 may happen before it does.
    assert.ok(capped.largest <= 64, `capped at 32 MB: ${capped.largest} MB`);
  });
});
