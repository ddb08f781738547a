import { strict as assert } from 'assert';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';
import { sendSequential } from './handover';
import { Ledger } from './ledger';
import {
  AS_ID,
  AS_KEY,
  ENTERPRISE,
  FAULT_SETTINGS,
  RECORDER_BROKER_LIMITS,
  UPLINK_PATH,
  faultFlow,
  faultSeed,
  faultTimes,
  noteRefusals,
  seededRandom,
} from './rig';
import { PlatformRecorder, devEUIs, sleep, wmwUplink } from './traffic';

const DEVICES = devEUIs(100, '70B3D5EA');
const TOTAL = 3000;
const RATE = 150;
const KILLS = 3;

describe('faults: two Node-RED instances as SEQUENTIAL destinations of one ThingPark connection, the first SIGKILLed mid-stream', function () {
  this.timeout(180000);
  const ledger = new Ledger();
  const broker = new Mosquitto({ extra: RECORDER_BROKER_LIMITS });
  let recorder: PlatformRecorder;
  let a: NodeRedProcess;
  let b: NodeRedProcess;

  before(async function () {
    if (!hasMosquitto) this.skip();
    await broker.start();
    recorder = new PlatformRecorder(ledger, {
      url: broker.url,
      topic: `uplink_${ENTERPRISE}`,
      parse: wmwUplink,
    });
    await recorder.connect();
    const instance = (clientId: string) => {
      const { flows, credentials } = faultFlow({
        platformPort: broker.port,
        platform: 'wmw',
        platformClientId: clientId,
      });
      return new NodeRedProcess(flows, credentials, FAULT_SETTINGS);
    };
    a = instance('faults-gw-a');
    b = instance('faults-gw-b');
    await Promise.all([a.start(), b.start()]);
  });
  after(async () => {
    await recorder?.end();
    await a?.dispose();
    await b?.dispose();
    await broker.dispose();
  });

  it(`loses nothing: every document ThingPark handed over is delivered by one instance or the other after ${KILLS} kills of the first`, async () => {
    const random = seededRandom(faultSeed('SEQUENTIAL destinations'));
    const target = (red: NodeRedProcess) => ({ url: `${red.url}${UPLINK_PATH}`, asId: AS_ID, asKey: AS_KEY });
    const sending = sendSequential(ledger, [target(a), target(b)], {
      devices: DEVICES,
      total: TOTAL,
      rate: RATE,
    });
    const started = Date.now();
    for (const at of faultTimes(random, KILLS, 2000, 16000, 4000)) {
      await sleep(Math.max(0, at - (Date.now() - started)));
      await a.kill('SIGKILL');
      await a.start();
      console.log(
        `      ${at} ms: instance A killed and started again (${ledger.acceptedCount} taken so far)`,
      );
    }
    const { failovers } = await sending;
    const settled = await ledger.settled(30000);
    noteRefusals(a, ledger);
    noteRefusals(b, ledger);
    console.log(`      ${JSON.stringify({ ...ledger.summary(), failovers })}`);
    assert.ok(failovers > 0, 'documents went to the second destination (the kills happened)');
    assert.equal(ledger.acceptedCount, TOTAL, 'every document was taken by one of the two instances');
    assert.equal(ledger.refusedCount, 0, 'none refused with an error');
    assert.deepEqual(ledger.lost().slice(0, 20), [], `nothing lost (${settled ? 'settled' : 'not settled'})`);
    // A document A stored but could not answer for before its kill is also taken by B: a duplicate.
    // Across instances, order per device is not kept for the documents in flight at a kill.
    console.log(
      `      duplicates ${ledger.duplicates}, out of order across the two instances ${ledger.outOfOrder}`,
    );
    assert.ok(ledger.duplicates <= KILLS * 1000, 'duplicates stay within what was in flight at the kills');
  });
});
