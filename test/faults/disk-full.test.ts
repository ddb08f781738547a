import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ack, openQueue } from '../../lib/delivery';
import { hasMosquitto } from '../../testkit/broker';
import { assertNothingLost } from './checks';
import { debugLines, noteRefusals } from './rig';
import { FaultStage } from './stage';
import { fillUp, freeBytes, mountTmpfs, tmpfsUnavailable, unmount } from './tmpfs';
import { devEUIs, sleep } from './traffic';

const MB = 1024 * 1024;
const NO_SPACE = /No space left on device/;

/** Pushes `n` incompressible ~1 KB entries, `batch` at a time; counts what resolved and the errors. */
async function pushMany(
  queue: { push(key: string, body: unknown): Promise<void> },
  n: number,
  batch: number,
): Promise<{ stored: number; errors: string[] }> {
  let stored = 0;
  const errors: string[] = [];
  for (let i = 0; i < n; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, n - i) }, (_, j) =>
        queue.push(`dev${(i + j) % 10}`, { data: crypto.randomBytes(450).toString('hex') }).then(
          () => stored++,
          (err: Error) => errors.push(err.message),
        ),
      ),
    );
  }
  return { stored, errors };
}

describe('faults: the disk holding the queue fills up, then space returns', function () {
  this.timeout(120000);
  let unavailable: string | undefined;
  before(function () {
    unavailable = tmpfsUnavailable();
    if (unavailable) {
      console.log(`      skipped: a full disk is simulated with a small tmpfs, and ${unavailable}`);
      this.skip();
    }
  });

  describe('the queue on SQLite', () => {
    let mount: string;
    beforeEach(() => {
      mount = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-disk-'));
      const reason = mountTmpfs(mount, 8 * MB);
      if (reason) throw new Error(reason);
    });
    afterEach(() => {
      unmount(mount);
      fs.rmSync(mount, { recursive: true, force: true });
    });

    it('refuses what it cannot store, and what it acknowledged once space returned survives a reopen', async () => {
      const file = path.join(mount, 'q.sqlite');
      const { queue } = await openQueue({ file, deliver: async () => ack(), onError: () => undefined });
      const first = await pushMany(queue, 300, 10);
      const filler = fillUp(mount);
      const full = await pushMany(queue, 20, 10);
      fs.rmSync(filler);
      const after = await pushMany(queue, 500, 10);
      await queue.close();
      assert.equal(first.stored, 300);
      assert.equal(full.stored, 0, 'nothing stored on a full disk');
      assert.ok(
        full.errors.every((e) => NO_SPACE.test(e)),
        `refused with the reason: ${full.errors[0]}`,
      );
      assert.equal(after.stored, 500, `stored again once space returned: ${after.errors[0]}`);

      const reopened = await openQueue({ file, deliver: async () => ack() });
      const length = reopened.queue.length;
      await reopened.queue.close();
      assert.equal(length, 800, 'every entry whose push resolved is still there after a reopen');
    });

    it('writes again once space returns after the write-ahead log could not be checkpointed on the full disk', async () => {
      const file = path.join(mount, 'q.sqlite');
      const errors: string[] = [];
      const { queue } = await openQueue({
        file,
        deliver: async () => ack(),
        onError: (err) => errors.push(err.message),
      });
      // 2.6 MB free: the log (checkpointed every 4 MB) cannot be copied into a database file growing too.
      const filler = path.join(mount, 'filler');
      fs.writeFileSync(filler, Buffer.alloc(freeBytes(mount) - Math.round(2.6 * MB)));
      let storedBeforeSpace = 0;
      for (let i = 0; i < 40 && errors.length === 0; i++)
        storedBeforeSpace += (await pushMany(queue, 100, 100)).stored;
      assert.ok(
        errors.length > 0 && errors.every((e) => NO_SPACE.test(e)),
        `the disk filled up, with the reason: ${[...new Set(errors)].join('; ')}`,
      );
      fs.rmSync(filler);
      const after = await pushMany(queue, 1000, 100);
      await queue.close();
      assert.equal(after.stored, 1000, `stored again once space returned: ${after.errors[0]}`);
      const reopened = await openQueue({ file, deliver: async () => ack() });
      const length = reopened.queue.length;
      await reopened.queue.close();
      assert.equal(length, storedBeforeSpace + 1000, 'every entry whose push resolved is still there');
    });
  });

  describe('a real Node-RED process with its queue folder on a small tmpfs', () => {
    const DEVICES = devEUIs(50, '70B3D5EB');
    let stage: FaultStage;
    let queues = '';

    before(async function () {
      if (!hasMosquitto) this.skip();
      stage = new FaultStage({
        platform: 'wmw',
        beforeStart: (userDir) => {
          queues = path.join(userDir, 'thingpark-queues');
          const reason = mountTmpfs(queues, 16 * MB);
          if (reason) throw new Error(reason);
        },
      });
      await stage.start();
    });
    after(async () => {
      await stage?.red?.kill('SIGTERM');
      if (queues) unmount(queues);
      await stage?.dispose();
    });

    it('stays up, refuses with an error a Catch node sees and a non-2xx answer to ThingPark what it cannot store, keeps what it stored, and stores again when space returns', async () => {
      const { ledger, red } = stage;
      const phase = async (what: string, total: number) => {
        await stage.load({ devices: DEVICES, rate: 150, total }).run();
        console.log(`      ${what}: ${JSON.stringify(ledger.summary())}`);
      };
      await phase('platform up', 300);
      assert.ok(await ledger.settled(15000), 'delivered while the disk has room');

      // The platform goes away: what comes now waits on disk.
      stage.relay.accepting = false;
      stage.resetConnections();
      await phase('platform down', 300);

      const mark = red.output.length;
      const filler = fillUp(queues);
      const refusalsSince = (from: number) =>
        debugLines(red, 'caught', from).filter((l) => !l.includes('CAUGHT - - '));
      // Each push waits for the next write attempt (one a second) before it is refused.
      const settledRefusals = async (from: number, atLeast: number) => {
        let seen = -1;
        const until = Date.now() + 15000;
        for (let stable = 0; stable < 3 && Date.now() < until; await sleep(700)) {
          const now = refusalsSince(from).length;
          stable = now === seen && now >= atLeast ? stable + 1 : 0;
          seen = now;
        }
        return refusalsSince(from);
      };
      // Writes still fit in pages the database and its log already have (the log is written again
      // from its start after each checkpoint, every 1 MB): send until the first refusal...
      for (let round = 0; round < 10; round++) {
        await phase('platform down, disk full', 300);
        if ((await settledRefusals(mark, 0)).length > 0) break;
      }
      // ...then, with no room left, the uplinks are refused (one may still find a page a rolled-back
      // write freed: measured, 0 or 1 of 300).
      const fullFrom = red.output.length;
      const failedBefore = ledger.failedPosts;
      await phase('platform down, no room left', 300);
      assert.ok(await stage.answers(), 'Node-RED still answers with its disk full');
      const refusals = await settledRefusals(fullFrom, 1);
      assert.ok(
        refusals.length >= 290,
        `the uplinks that could not be stored were refused (${refusals.length})`,
      );
      assert.ok(ledger.failedPosts - failedBefore >= 290, 'and answered non-2xx');
      assert.ok(
        refusals.every((l) => NO_SPACE.test(l)),
        `refused with the reason: ${refusals.find((l) => !NO_SPACE.test(l))}`,
      );
      assert.ok(
        debugLines(red, 'caught', mark).some((l) =>
          /CAUGHT - - Message buffer storage error: .*No space/.test(l),
        ),
        'the connection reported the storage error',
      );

      fs.rmSync(filler);
      await sleep(1500);
      const beforeSpace = red.output.length;
      await phase('platform down, space back', 300);
      await sleep(1500);
      assert.deepEqual(refusalsSince(beforeSpace), [], 'stored again once space returned');

      // A restart reopens the queue: what it stored after the disk was full must all be there.
      noteRefusals(red, ledger);
      await red.kill('SIGTERM');
      await red.start();
      stage.relay.accepting = true;
      const settled = await ledger.settled(20000);
      console.log(`      restarted, platform back: ${JSON.stringify(ledger.summary())}`);
      assertNothingLost(ledger, 2, 'disk full');
      assert.ok(settled, 'everything stored was delivered');
      // ThingPark was told: every uplink that could not be stored was answered non-2xx (its next
      // destination gets it), and every one answered 200 reached the platform.
      assert.ok(
        ledger.failedPosts >= 300,
        `uplinks not stored were answered non-2xx (${ledger.failedPosts})`,
      );
      assert.deepEqual(ledger.acceptedNotDelivered(), [], 'answered 200, then lost');
      assert.equal(ledger.refusedYetDelivered(), 0, 'what was refused was not stored either');
    });
  });
});
