import { strict as assert } from 'assert';
import { hasMosquitto } from '../../testkit/broker';
import { assertNothingLost } from './checks';
import { debugLines, noteRefusals, waitUntil } from './rig';
import { FaultStage } from './stage';
import { devEUIs, sleep } from './traffic';

const DEVICES = devEUIs(100, '70B3D5EA');
const TOTAL = 2400;
const RATE = 150;

describe('faults: the platform revokes the gateway credentials under load, then restores them', function () {
  this.timeout(120000);
  let stage: FaultStage;

  before(async function () {
    if (!hasMosquitto) this.skip();
    stage = await new FaultStage({ platform: 'wmw', auth: true }).start();
  });
  after(async () => {
    await stage?.dispose();
  });

  it('keeps accepting and queueing uplinks while refused, says why (Catch, red status), delivers everything once allowed again', async () => {
    const { ledger, red } = stage;
    const sending = stage.load({ devices: DEVICES, rate: RATE, total: TOTAL }).run();
    await waitUntil(() => ledger.deliveredCount >= 300, 15000, 'delivering before the fault');

    const outputMark = red.output.length;
    stage.revokeAuth();
    await sleep(300);
    // Mosquitto 2 closes the sessions whose password no longer matches when it reloads; the reset
    // covers a broker that would keep them.
    stage.resetConnections();
    await waitUntil(
      () => debugLines(red, 'caught', outputMark).some((l) => /Not authori[sz]ed/i.test(l)),
      10000,
      'the refusal reported to Catch',
    );
    const deliveredWhileRefused = ledger.deliveredCount;
    const acceptedWhileRefused = ledger.acceptedCount;
    await sleep(3000);
    assert.equal(ledger.deliveredCount, deliveredWhileRefused, 'nothing reaches the platform while refused');
    assert.ok(
      ledger.acceptedCount > acceptedWhileRefused + 150,
      `uplinks still accepted while refused (${ledger.acceptedCount - acceptedWhileRefused} in 3 s)`,
    );
    const caught = debugLines(red, 'caught', outputMark);
    const status = debugLines(red, 'status', outputMark);
    assert.ok(
      caught.some((l) => /CAUGHT - - WMW connection failed: .*Not authori[sz]ed/i.test(l)),
      `Catch saw the refusal: ${caught.join('\n')}`,
    );
    assert.ok(
      status.some((l) => / STATUS red /.test(l) && /queued/.test(l)),
      `red status with the queued count: ${status.slice(-5).join('\n')}`,
    );

    console.log(
      `      Catch: ${caught.find((l) => /Not authori[sz]ed/i.test(l))!.replace(/^.*CAUGHT - - /, '')}`,
    );
    console.log(`      status: ${status[status.length - 1].replace(/^.*STATUS /, '')}`);
    stage.restoreAuth();
    await sending;
    const settled = await ledger.settled(30000);
    noteRefusals(red, ledger);
    console.log(`      ${JSON.stringify(ledger.summary())}`);
    const lastStatus = debugLines(red, 'status').pop() ?? '';
    assert.ok(await stage.answers(), 'Node-RED still answers');
    assert.equal(ledger.sent, TOTAL);
    assert.equal(ledger.failedPosts, 0, 'every uplink was accepted');
    assert.equal(ledger.refusedCount, 0, 'no uplink was refused');
    assertNothingLost(ledger, 1, 'credentials revoked');
    assert.ok(settled, 'everything accepted was delivered once allowed again');
    await waitUntil(
      () => / STATUS green /.test(debugLines(red, 'status').pop() ?? ''),
      5000,
      `green status again (last: ${lastStatus})`,
    );
  });
});
