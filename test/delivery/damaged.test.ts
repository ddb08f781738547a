import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ack, openQueue, type DamagedFile, type DeliveryQueue } from '../../lib/delivery';
import { range, recorder, TempDirs, waitFor, type Body } from './helpers';

const N = 2000;

/** A closed queue file holding N entries of 5 keys (about 1 KB each, so it spans many pages). */
async function filledQueue(file: string): Promise<void> {
  const { queue } = await openQueue<Body>({ file, deliver: async () => ack() });
  await Promise.all(range(0, N).map((n) => queue.push(`k${n % 5}`, { n, pad: 'x'.repeat(1000) })));
  await queue.close();
  assert.equal(fs.existsSync(`${file}-wal`), false, 'checkpointed into the file at close');
}

/** Opens the queue, expecting the file to be found damaged; returns the queue and the report. */
async function openDamaged(file: string): Promise<{ queue: DeliveryQueue<Body>; damaged: DamagedFile }> {
  const reports: DamagedFile[] = [];
  const { queue } = await openQueue<Body>({
    file,
    deliver: async () => ack(),
    onDamaged: (d) => reports.push(d),
  });
  assert.equal(reports.length, 1, 'reported once');
  const damaged = reports[0];
  assert.match(path.basename(damaged.keptAs), /^queue\.sqlite\.damaged-\d{4}-\d\d-\d\dT/);
  assert.ok(fs.existsSync(damaged.keptAs), 'the damaged file is kept aside');
  return { queue, damaged };
}

describe('delivery queue: a damaged database file', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('not a database at all: kept aside, a fresh queue starts, what was lost cannot be told', async () => {
    const file = dirs.make();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'flows.json or anything else written over it\n'.repeat(100));
    const { queue, damaged } = await openDamaged(file);
    assert.equal(damaged.recovered, 0);
    assert.equal(damaged.lost, undefined);
    assert.match(damaged.reason, /not a database/);
    assert.equal(fs.readFileSync(damaged.keptAs, 'utf8').slice(0, 10), 'flows.json');
    const rec = recorder();
    await queue.push('k', { n: 1 });
    await queue.close();
    const again = await openQueue<Body>({
      file,
      deliver: rec.deliver,
      autoStart: true,
      onDamaged: () => assert.fail('again'),
    });
    await waitFor(() => rec.acked.length === 1, 2000, 'the fresh queue works and survives a reopen');
    await again.queue.close();
  });

  it('another SQLite database in its place: not used, kept aside', async () => {
    const file = dirs.make();
    await filledQueue(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0, 0, 0, 0]), 0, 4, 68); // application_id: not a queue's any more
    fs.closeSync(fd);
    const { queue, damaged } = await openDamaged(file);
    assert.match(damaged.reason, /not a queue/);
    await queue.close();
  });

  it('overwritten in the middle: the entries still readable are saved, in order, and the rest counted', async () => {
    const file = dirs.make();
    await filledQueue(file);
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(
      fd,
      Buffer.alloc(Math.round(size * 0.2), 0xa5),
      0,
      Math.round(size * 0.2),
      Math.round(size * 0.5),
    );
    fs.closeSync(fd);
    const { queue, damaged } = await openDamaged(file);
    assert.ok(damaged.recovered > 0 && damaged.recovered < N, `saved ${damaged.recovered} of ${N}`);
    assert.equal(damaged.lost, N - damaged.recovered, 'what could not be saved is counted');
    assert.equal(queue.length, damaged.recovered);
    const rec = recorder();
    await queue.close();
    const again = await openQueue<Body>({ file, deliver: rec.deliver, autoStart: true });
    await waitFor(() => rec.acked.length === damaged.recovered, 5000, 'the saved entries are delivered');
    for (const [key, ns] of rec.byKey())
      assert.deepEqual(
        ns,
        [...ns].sort((a, b) => a - b),
        `order of ${key}`,
      );
    await again.queue.close();
  });

  it('cut short: kept aside, what is left before the cut is saved, the rest counted', async () => {
    const file = dirs.make();
    await filledQueue(file);
    fs.truncateSync(file, Math.round(fs.statSync(file).size * 0.6));
    const { queue, damaged } = await openDamaged(file);
    assert.ok(damaged.recovered < N, `saved ${damaged.recovered} of ${N}`);
    if (damaged.lost !== undefined) assert.equal(damaged.lost, N - damaged.recovered);
    assert.equal(queue.length, damaged.recovered);
    await queue.push('k', { n: -1 });
    await queue.close();
  });
});
