import { strict as assert } from 'assert';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';
import { assertOrderAndDuplicates } from './checks';
import { publishToIotFlow } from './handover';
import { Ledger } from './ledger';
import {
  ENTERPRISE,
  FAULT_SETTINGS,
  RECORDER_BROKER_LIMITS,
  faultFlow,
  faultSeed,
  faultTimes,
  noteRefusals,
  seededRandom,
} from './rig';
import { PlatformRecorder, devEUIs, sleep, wmwUplink } from './traffic';

const DEVICES = devEUIs(100, '70B3D5EB');
const TOTAL = 3000;
const RATE = 150;
const KILLS = 3;

describe('faults: IoT Flow MQTT mode, Node-RED SIGKILLed mid-stream and restarted at once', function () {
  this.timeout(180000);
  const ledger = new Ledger();
  // One mosquitto for both sides: the IoT Flow broker (keeps what it publishes for the persistent
  // session while Node-RED is down) and the WMW platform the recorder watches. No queue limits: the
  // broker must never be the one losing messages.
  const broker = new Mosquitto({ extra: RECORDER_BROKER_LIMITS });
  let recorder: PlatformRecorder;
  let red: NodeRedProcess;

  before(async function () {
    if (!hasMosquitto) this.skip();
    await broker.start();
    recorder = new PlatformRecorder(ledger, {
      url: broker.url,
      topic: `uplink_${ENTERPRISE}`,
      parse: wmwUplink,
    });
    await recorder.connect();
    const { flows, credentials } = faultFlow({
      platformPort: broker.port,
      platform: 'wmw',
      network: {
        mode: 'mqtt',
        broker: `127.0.0.1:${broker.port}`,
        protocol: 'tcp',
        clientId: 'faults-iot-flow',
      },
    });
    red = new NodeRedProcess(flows, credentials, FAULT_SETTINGS);
    await red.start();
  });
  after(async () => {
    await recorder?.end();
    await red?.dispose();
    await broker.dispose();
  });

  it(`delivers every uplink the broker took, in order per device, after ${KILLS} kills: 0 lost`, async () => {
    const random = seededRandom(faultSeed('IoT Flow kills'));
    // Node-RED must have subscribed once (the session exists) before the first document is published.
    await sleep(1500);
    const sending = publishToIotFlow(ledger, broker.url, { devices: DEVICES, total: TOTAL, rate: RATE });
    const started = Date.now();
    for (const at of faultTimes(random, KILLS, 2000, 16000, 4000)) {
      await sleep(Math.max(0, at - (Date.now() - started)));
      await red.kill('SIGKILL');
      await red.start();
      console.log(
        `      ${at} ms: Node-RED killed and started again (${ledger.deliveredCount} delivered so far)`,
      );
    }
    await sending;
    const settled = await ledger.settled(30000);
    noteRefusals(red, ledger);
    console.log(`      ${JSON.stringify(ledger.summary())}`);
    assert.equal(ledger.acceptedCount, TOTAL, 'the broker took every document');
    assert.equal(ledger.refusedCount, 0);
    assert.deepEqual(ledger.lost().slice(0, 20), [], `0 lost (${settled ? 'settled' : 'not settled'})`);
    assertOrderAndDuplicates(ledger, KILLS, 'IoT Flow kills');
  });
});
