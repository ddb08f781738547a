import { strict as assert } from 'assert';
import { hasMosquitto } from '../../testkit/broker';
import { faultSeed, faultTimes, noteRefusals, seededRandom } from './rig';
import { FaultStage } from './stage';
import { devEUIs, sleep } from './traffic';

const DEVICES = devEUIs(150, '70B3D5EC');
const TOTAL = 3000;
const RATE = 150;
const KILLS = 3;

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

  it(`loses nothing it answered 200 for after ${KILLS} kills: uplink in answers only once the document is stored`, async () => {
    const random = seededRandom(faultSeed('Node-RED kills'));
    const { ledger, red } = stage;
    const sending = stage.load({ devices: DEVICES, rate: RATE, total: TOTAL }).run();
    const started = Date.now();
    for (const at of faultTimes(random, KILLS, 1500, 13000, 4000)) {
      await sleep(Math.max(0, at - (Date.now() - started)));
      await red.kill('SIGKILL');
      await red.start();
      console.log(
        `      ${at} ms: Node-RED killed and started again (${ledger.acceptedCount} accepted so far)`,
      );
    }
    await sending;
    await ledger.settled(20000);
    await sleep(1000);
    noteRefusals(red, ledger);
    console.log(`      ${JSON.stringify(ledger.summary())}`);

    assert.ok(await stage.answers(), 'Node-RED answers again');
    assert.ok(ledger.failedPosts > 0, 'uplinks were refused while it was down (the kills happened)');
    assert.ok(
      ledger.acceptedCount > TOTAL / 5,
      `uplinks were accepted between the kills (${ledger.acceptedCount})`,
    );
    assert.equal(ledger.refusedCount, 0, 'no uplink was refused with an error');
    assert.deepEqual(ledger.lost(), [], 'every uplink answered 200 was delivered');
    // Stored but not answered (the kill came between): ThingPark saw a failure and would send it to
    // its next destination; delivered all the same. Never more than what was in flight.
    const storedNotAnswered = ledger.unexpected();
    console.log(`      stored before a kill but not answered: ${storedNotAnswered}`);
    assert.ok(storedNotAnswered <= KILLS * 64, `${storedNotAnswered} stored but unanswered`);
    assert.equal(ledger.outOfOrder, 0, 'in order per device');
  });
});
