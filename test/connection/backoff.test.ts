import { strict as assert } from 'assert';
import { Backoff } from '../../lib/connection/backoff';

describe('reconnect backoff', () => {
  it('grows exponentially up to the cap, without jitter', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    assert.deepEqual(
      Array.from({ length: 7 }, () => b.next()),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
    b.reset();
    assert.equal(b.next(), 100, 'reset after a successful connection');
  });

  it('spreads delays with jitter below the ceiling', () => {
    const values = [0, 0.5, 1];
    let i = 0;
    const b = new Backoff({ initialMs: 1000, maxMs: 60000, jitter: 0.5, random: () => values[i++] });
    assert.deepEqual([b.next(), b.next(), b.next()], [1000, 1500, 2000]);
  });

  it('gives different delays to gateways reconnecting at the same moment', () => {
    const delays = new Set(Array.from({ length: 20 }, () => new Backoff({ initialMs: 5000 }).next()));
    assert.ok(delays.size > 10, `only ${delays.size} distinct delays`);
  });
});
