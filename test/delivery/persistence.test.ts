import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ack, DeliveryQueue, openQueue, removeQueue, type DeliveryResult } from '../../lib/delivery';
import { loadSqlite } from '../../lib/delivery/sqlite-db';
import { range, recorder, TempDirs, waitFor, type Body } from './helpers';

describe('delivery queue: restarts and crashes', () => {
  const dirs = new TempDirs();
  let queue: DeliveryQueue<Body> | undefined;

  afterEach(async () => {
    await queue?.close({ drainMs: 0 });
    queue = undefined;
    dirs.cleanup();
  });

  it('resumes after close and reopen with every entry not acknowledged, in order, and none acknowledged', async () => {
    const file = dirs.make();
    const first = recorder();
    ({ queue } = await openQueue<Body>({ file, deliver: first.deliver, maxInflight: 1 }));
    await Promise.all(range(0, 1000).map((n) => queue!.push(`k${n % 10}`, { n })));
    assert.equal(queue.length, 1000);
    queue.start();
    await waitFor(() => first.acked.length >= 300, 5000, '300 acks');
    const t0 = Date.now();
    await queue.close();
    assert.ok(Date.now() - t0 < 2000, 'close is quick');
    const ackedBefore = new Set(first.acked.map((e) => e.body.n));

    const second = recorder();
    ({ queue } = await openQueue<Body>({ file, deliver: second.deliver }));
    assert.equal(queue.length, 1000 - ackedBefore.size);
    assert.equal(queue.byteLength > 0, true);
    queue.start();
    await waitFor(() => queue!.length === 0, 5000, 'drained');
    const resent = second.acked.filter((e) => ackedBefore.has(e.body.n));
    assert.deepEqual(resent, [], 'acknowledged entries are not sent again after a clean close');
    const all = new Set([...ackedBefore, ...second.acked.map((e) => e.body.n)]);
    assert.equal(all.size, 1000);
    for (const [key, ns] of second.byKey()) {
      assert.deepEqual(
        ns,
        [...ns].sort((a, b) => a - b),
        `order of ${key}`,
      );
    }
  });

  it('closes within the drain time even when a delivery never settles, and sends that entry again after reopening', async () => {
    const file = dirs.make();
    const hung = recorder(() => new Promise<DeliveryResult>(() => undefined));
    ({ queue } = await openQueue<Body>({ file, deliver: hung.deliver }));
    await queue.push('k', { n: 1 });
    await queue.push('k', { n: 2 });
    queue.start();
    await waitFor(() => hung.attempts.length === 1, 2000, 'in flight');
    const pending = queue.push('k', { n: 3 });
    const t0 = Date.now();
    await queue.close({ drainMs: 200 });
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 1500, `close took ${took} ms`);
    await pending; // pushed before close: written by close
    await assert.rejects(queue.push('k', { n: 4 }), /closed/);
    const rec = recorder();
    ({ queue } = await openQueue<Body>({ file, deliver: rec.deliver, autoStart: true }));
    await waitFor(() => rec.acked.length === 3, 2000, 'acks');
    assert.deepEqual(rec.byKey().get('k'), [1, 2, 3]);
  });

  it('loses no resolved push when the process is killed mid-write (SIGKILL)', async function () {
    this.timeout(30000);
    const file = dirs.make();
    const okFile = path.join(path.dirname(file), 'ok.log');
    const ackFile = path.join(path.dirname(file), 'ack.log');
    const child = spawn(
      process.execPath,
      [path.join(__dirname, 'fixtures', 'crash-writer.js'), file, okFile, ackFile, '7'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    // Kill it once at least 20 000 pushes have resolved (lines are at most 7 bytes below n = 1 000 000).
    const poll = setInterval(() => {
      const size = fs.existsSync(okFile) ? fs.statSync(okFile).size : 0;
      if (size >= 20000 * 7 && !child.killed) child.kill('SIGKILL');
    }, 10);
    const signal = await exited;
    clearInterval(poll);
    assert.equal(signal, 'SIGKILL', `the writer was killed, not failed: ${stderr}`);
    const numbers = (file: string): number[] =>
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map(Number);
    const confirmed = numbers(okFile);
    const acked = new Set(numbers(ackFile));
    assert.ok(confirmed.length >= 20000, `${confirmed.length} pushes resolved before the kill`);
    assert.ok(acked.size > 0, 'deliveries and deletes were going on too');

    const rec = recorder();
    ({ queue } = await openQueue<Body>({ file, deliver: rec.deliver, verifyOnOpen: true }));
    const stored = queue.length;
    queue.start();
    await waitFor(() => rec.acked.length === stored, 20000, 'stored entries delivered');
    const present = new Set(rec.acked.map((e) => e.body.n));
    assert.equal(present.size, stored, 'no entry stored twice');
    const lost = confirmed.filter((n) => !present.has(n) && !acked.has(n));
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} resolved pushes lost`);
    for (const [key, ns] of rec.byKey()) {
      assert.deepEqual(
        ns,
        [...ns].sort((a, b) => a - b),
        `order of ${key}`,
      );
    }
    // Sent again: acknowledged in the child but its delete not yet written. Beyond the 8 deletes held
    // for a larger write (half the window), those count in the inflight window (16 in the child), so
    // at most 16 + 8 come twice.
    const again = [...present].filter((n) => acked.has(n)).length;
    assert.ok(again <= 16 + 8, `${again} acknowledged entries sent again`);
  });

  it('waits for the queue it replaces to close (a redeploy), then takes over its entries', async () => {
    const file = dirs.make();
    const old = await openQueue<Body>({ file, deliver: async () => ack() });
    await old.queue.push('k', { n: 1 });
    setTimeout(() => void old.queue.close(), 300);
    const t0 = Date.now();
    const rec = recorder();
    ({ queue } = await openQueue<Body>({ file, deliver: rec.deliver, autoStart: true }));
    assert.ok(Date.now() - t0 >= 250, 'opened once the old one had closed');
    await waitFor(() => rec.acked.length === 1, 2000, 'the old entry');
  });

  it('rebuilds counters that disagree with the stored entries', async () => {
    const file = dirs.make();
    const errors: Error[] = [];
    ({ queue } = await openQueue<Body>({ file, deliver: async () => ack() }));
    await Promise.all(range(0, 30).map((n) => queue!.push(`k${n % 3}`, { n })));
    await queue.close();
    const db = new (loadSqlite())(file);
    db.exec("UPDATE counters SET count = 99, bytes = 12345 WHERE key = 'k1'");
    db.exec("INSERT INTO counters (key, count, bytes) VALUES ('ghost', 5, 100)");
    db.close();
    ({ queue } = await openQueue<Body>({ file, deliver: async () => ack(), onError: (e) => errors.push(e) }));
    assert.equal(queue.length, 30);
    assert.equal(queue.stats().keys, 3);
    assert.match(errors[0]?.message ?? '', /rebuilt/);
  });

  it('destroy() deletes the store; removeQueue refuses a file that is not a queue', async () => {
    const file = dirs.make();
    ({ queue } = await openQueue<Body>({ file, deliver: async () => ack() }));
    await queue.push('k', { n: 1 });
    assert.ok(fs.existsSync(file));
    await queue.destroy();
    assert.equal(fs.existsSync(file), false);
    assert.equal(fs.existsSync(file + '-wal'), false);
    await removeQueue(file); // already gone: fine

    const other = path.join(path.dirname(dirs.make()), 'flows.json');
    fs.writeFileSync(other, '[]');
    await assert.rejects(DeliveryQueue.remove(other), /not removing/);
    assert.ok(fs.existsSync(other));
    const foreign = new (loadSqlite())(path.join(path.dirname(other), 'other.sqlite'));
    foreign.exec('CREATE TABLE t (x)');
    foreign.close();
    await assert.rejects(removeQueue(path.join(path.dirname(other), 'other.sqlite')), /not removing/);
    await assert.rejects(removeQueue(path.dirname(other)), /not removing/);
  });
});
