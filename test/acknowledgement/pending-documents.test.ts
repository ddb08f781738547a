import { strict as assert } from 'assert';
import { PendingDocuments } from '../../lib/acknowledgement';

/* Documents handed over by ThingPark, followed until the flow has finished with every copy. */
describe('PendingDocuments', () => {
  it('settles safe once sent and every copy is released; refused at once when a copy is refused', async () => {
    const book = new PendingDocuments();
    const a = book.open('a', 60_000)!;
    const b = book.open('b', 60_000)!;
    book.add('a');
    book.add('a');
    book.sent('a');
    book.release('a');
    assert.equal(book.size, 2, 'a still open, one copy still in a node (b too)');
    book.release('a');
    assert.deepEqual(await a, { ok: true });
    book.add('b');
    book.sent('b');
    book.refuse('b', 'disk full');
    assert.deepEqual(await b, { ok: false, reason: 'disk full' });
    assert.deepEqual(book.stats, { open: 0, safe: 1, refused: 1, timedOut: 0, overflow: 0 });
  });

  it('refuses a document still held at its deadline, not before, oldest first, and leaves no timer once idle', async () => {
    const book = new PendingDocuments();
    const t0 = performance.now();
    const settled: string[] = [];
    const first = book.open('first', 200)!.then((o) => (settled.push('first'), o));
    await new Promise((r) => setTimeout(r, 20));
    const second = book.open('second', 200)!.then((o) => (settled.push('second'), o));
    const quick = book.open('quick', 200)!;
    book.sent('quick');
    assert.deepEqual(await quick, { ok: true });
    assert.equal(book.watching, true);
    assert.deepEqual(await first, { ok: false, reason: 'not stored within 0.2 s' });
    const waited = performance.now() - t0;
    assert.ok(waited >= 199 && waited < 600, `refused after ${waited.toFixed(0)} ms`);
    await second;
    assert.deepEqual(settled, ['first', 'second']);
    assert.equal(book.stats.timedOut, 2);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(book.watching, false, 'the timer stops once nothing is open');
  });

  it('abandons everything open at a redeploy, timer included; refuses past its bound', async () => {
    const book = new PendingDocuments(2);
    const a = book.open('a', 60_000)!;
    const b = book.open('b', 60_000)!;
    assert.equal(book.open('c', 60_000), undefined, 'a third over the bound of 2');
    assert.equal(book.stats.overflow, 1);
    book.abandon('redeployed');
    assert.deepEqual(await Promise.all([a, b]), [
      { ok: false, reason: 'redeployed' },
      { ok: false, reason: 'redeployed' },
    ]);
    assert.equal(book.size, 0);
    assert.equal(book.watching, false);
  });
});
