import { strict as assert } from 'assert';
import { Tracker } from '../bench/lib/load';

describe('bench: the closed loop tracker', () => {
  it('wakes one waiter per delivery, in the order they waited, and skips waiters whose time ran out', async () => {
    const tracker = new Tracker();
    const seqs = [tracker.allocate(0), tracker.allocate(0), tracker.allocate(0)];
    const woken: string[] = [];
    const expired = tracker.waitProgress(1).then(() => woken.push('expired'));
    await expired;
    const first = tracker.waitProgress(5000).then(() => woken.push('first'));
    const second = tracker.waitProgress(5000).then(() => woken.push('second'));
    const third = tracker.waitProgress(5000).then(() => woken.push('third'));

    tracker.delivered(seqs[0]);
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(woken, ['expired', 'first'], 'one delivery woke more than one waiter');

    tracker.delivered(seqs[0]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(woken, ['expired', 'first'], 'a duplicate delivery woke a waiter');
    assert.equal(tracker.duplicates, 1);

    tracker.delivered(seqs[1]);
    tracker.delivered(seqs[2]);
    await Promise.all([second, third]);
    assert.deepEqual(woken, ['expired', 'first', 'second', 'third']);
    assert.equal(tracker.outstanding(), 0);
  });

  it('wakes a waiter when a send fails, as a delivery would', async () => {
    const tracker = new Tracker();
    tracker.allocate(0);
    const t0 = Date.now();
    const waiting = tracker.waitProgress(5000);
    tracker.fail();
    await waiting;
    assert.ok(Date.now() - t0 < 1000, 'the waiter slept until its timeout');
    assert.equal(tracker.failed, 1);
    assert.equal(tracker.outstanding(), 0);
  });
});
