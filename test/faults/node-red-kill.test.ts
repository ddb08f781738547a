import { strict as assert } from 'assert';
import { hasMosquitto } from '../../testkit/broker';
import { assertOrderAndDuplicates } from './checks';
import { faultSeed, faultTimes, noteRefusals, seededRandom } from './rig';
import { FaultStage } from './stage';
import { devEUIs, sleep } from './traffic';

const DEVICES = devEUIs(150, '70B3D5EC');
const TOTAL = 3000;
const RATE = 150;
const KILLS = 2;
/**
 * `uplink in` answers ThingPark before the flow runs (ThingPark waits for the answer and does not
 * retry), and `wmw out` stores the document a few milliseconds later: a process killed in between
 * loses what it had just answered. This bounds that gap.
 */
const ANSWERED_NOT_STORED_MS = 250;

describe('faults: Node-RED killed with SIGKILL mid-stream (platform up) and restarted', function () {
  this.timeout(120000);
  let stage: FaultStage;

  before(async function () {
    if (!hasMosquitto) this.skip();
    stage = await new FaultStage({ platform: 'wmw' }).start();
  });
  after(async () => {
    await stage?.dispose();
  });

  it(`delivers every uplink it stored, in order, after ${KILLS} kills; loses only what it answered in the last ${ANSWERED_NOT_STORED_MS} ms before a kill`, async () => {
    const random = seededRandom(faultSeed('Node-RED kills'));
    const { ledger, red } = stage;
    const sending = stage.load({ devices: DEVICES, rate: RATE, total: TOTAL }).run();
    const started = Date.now();
    const kills: number[] = [];
    for (const at of faultTimes(random, KILLS, 1500, 11000, 5000)) {
      await sleep(Math.max(0, at - (Date.now() - started)));
      kills.push(Date.now());
      await red.kill('SIGKILL');
      await red.start();
      console.log(
        `      ${at} ms: Node-RED killed and started again (${ledger.acceptedCount} accepted so far)`,
      );
    }
    await sending;
    const inGap = (u: string) => {
      const at = ledger.acceptedAt(u)!;
      return kills.some((k) => at >= k - ANSWERED_NOT_STORED_MS && at <= k + ANSWERED_NOT_STORED_MS);
    };
    const end = Date.now() + 20000;
    while (Date.now() < end && !ledger.lost().every(inGap)) await sleep(200);
    await sleep(1000);
    noteRefusals(red, ledger);
    const lost = ledger.lost();
    const outsideGap = lost.filter((u) => !inGap(u));
    console.log(`      ${JSON.stringify(ledger.summary())}`);
    if (lost.length) console.log(`      answered just before a kill, never stored: ${lost.join(', ')}`);

    assert.ok(await stage.answers(), 'Node-RED answers again');
    assert.ok(ledger.failedPosts > 0, 'uplinks were refused while it was down (the kills happened)');
    assert.ok(ledger.acceptedCount > TOTAL / 2, `most uplinks were accepted (${ledger.acceptedCount})`);
    assert.equal(ledger.refusedCount, 0, 'no uplink was refused with an error');
    assert.deepEqual(outsideGap, [], 'lost uplinks other than those answered just before a kill');
    assertOrderAndDuplicates(ledger, KILLS, 'Node-RED kills');
  });
});
