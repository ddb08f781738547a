import { strict as assert } from 'assert';
import { hasMosquitto } from '../../testkit/broker';
import { assertMemoryBack, assertNothingLost } from './checks';
import { FaultStage } from './stage';
import { devEUIs } from './traffic';
import { runUnderFaults } from './under-load';

const DEVICES = devEUIs(50, '70B3D5E8');
const TOTAL = 2000;
const KILLS = 3;

describe('faults: the Cumulocity broker killed (SIGKILL) and restarted at random moments under load', function () {
  this.timeout(120000);
  let stage: FaultStage;

  before(async function () {
    if (!hasMosquitto) this.skip();
    stage = await new FaultStage({ platform: 'cumulocity' }).start();
  });
  after(async () => {
    await stage?.dispose();
  });

  it(`delivers an event for each of ${TOTAL} uplinks of ${DEVICES.length} child devices: none lost, in order, duplicates within the in-flight window`, async () => {
    const { ledger } = stage;
    const run = await runUnderFaults(stage, 'Cumulocity broker kills', {
      devices: DEVICES,
      warmup: 300,
      total: TOTAL,
      rate: 150,
      faults: KILLS,
      gapMs: 2500,
      fault: async (random) => {
        const downMs = Math.round(200 + random() * 1000);
        await stage.killBroker(downMs);
        return `broker killed, down ${downMs} ms`;
      },
    });
    assert.ok(await stage.answers(), 'Node-RED still answers');
    assert.equal(ledger.sent, TOTAL);
    assert.equal(ledger.failedPosts, 0, 'every uplink was accepted');
    assert.equal(ledger.refusedCount, 0, 'no uplink was refused');
    assertNothingLost(ledger, KILLS, 'Cumulocity broker kills');
    assert.ok(run.settled, 'everything accepted was delivered in time');
    assertMemoryBack(run.before, run.after);
  });
});
