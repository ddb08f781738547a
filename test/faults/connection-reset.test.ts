import { strict as assert } from 'assert';
import { hasMosquitto } from '../../testkit/broker';
import { assertMemoryBack, assertNothingLost } from './checks';
import { FaultStage } from './stage';
import { devEUIs } from './traffic';
import { runUnderFaults } from './under-load';

const DEVICES = devEUIs(150, '70B3D5E9');
const TOTAL = 3500;
const RESETS = 8;

describe('faults: the link to the platform reset (TCP RST) at random moments under load', function () {
  this.timeout(120000);
  let stage: FaultStage;

  before(async function () {
    if (!hasMosquitto) this.skip();
    stage = await new FaultStage({ platform: 'wmw' }).start();
  });
  after(async () => {
    await stage?.dispose();
  });

  it(`delivers all ${TOTAL} uplinks through ${RESETS} connection resets: none lost, in order, duplicates within the in-flight window`, async () => {
    const { ledger } = stage;
    const run = await runUnderFaults(stage, 'connection resets', {
      devices: DEVICES,
      warmup: 500,
      total: TOTAL,
      rate: 200,
      faults: RESETS,
      gapMs: 1200,
      fault: async () => `${stage.resetConnections()} connection(s) reset`,
    });
    assert.ok(await stage.answers(), 'Node-RED still answers');
    assert.ok(stage.relay.resets >= RESETS / 2, `connections were there to reset (${stage.relay.resets})`);
    assert.equal(ledger.sent, TOTAL);
    assert.equal(ledger.failedPosts, 0, 'every uplink was accepted');
    assert.equal(ledger.refusedCount, 0, 'no uplink was refused');
    assertNothingLost(ledger, RESETS, 'connection resets');
    assert.ok(run.settled, 'everything accepted was delivered in time');
    assertMemoryBack(run.before, run.after);
  });
});
