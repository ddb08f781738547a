import { strict as assert } from 'assert';
import * as mqtt from 'mqtt';
import { Mosquitto, freePort } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';

const DEVICES = ['70B3D5E75E000011', '70B3D5E75E000012', '70B3D5E75E000013', '70B3D5E75E000014'];
const TOTAL = 2000;

describe('Node-RED killed with SIGKILL while the platform is down: nothing queued is lost', function () {
  this.timeout(180000);
  let broker: Mosquitto;
  let red: NodeRedProcess;

  before(async () => {
    // A subscriber's queue without mosquitto's default bound of 1000: past it the broker drops what it
    // acknowledged to Node-RED, and the test would count the broker's drops as our losses.
    broker = new Mosquitto({ extra: ['max_queued_messages 0'] });
    broker.port = await freePort();
    red = new NodeRedProcess([
      { id: 'tab', type: 'tab', label: 'crash' },
      { id: 'net', type: 'thingpark-network', mode: 'http', asId: '', maxTimeDeviation: 0 },
      {
        id: 'wmw',
        type: 'thingpark-wmw',
        region: 'custom',
        hostName: `127.0.0.1:${broker.port}`,
        enterpriseId: 'crash',
        clientId: 'crash-gw',
        insecure: true,
        bufferMax: 100000,
        bufferPolicy: 'drop-oldest',
      },
      {
        id: 'up',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'net',
        path: '/crash/uplink',
        wires: [['out']],
      },
      { id: 'out', z: 'tab', type: 'thingpark-wmw-out', wmw: 'wmw', wires: [[]] },
    ]);
  });
  after(async () => {
    await red.dispose();
    await broker.dispose();
  });

  it(`delivers all ${TOTAL} uplinks accepted before the kill, in order per device, after restart`, async () => {
    await red.start();
    for (let i = 0; i < TOTAL; i++) {
      const doc = {
        DevEUI_uplink: { DevEUI: DEVICES[i % DEVICES.length], FPort: 1, FCntUp: i, payload_hex: '00' },
      };
      const res = await fetch(`${red.url}/crash/uplink`, { method: 'POST', body: JSON.stringify(doc) });
      assert.equal(res.status, 200);
    }
    // Each accepted uplink is stored within milliseconds; then the power goes.
    await new Promise((r) => setTimeout(r, 1500));
    await red.kill('SIGKILL');

    await broker.start();
    const platform = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`);
    const seen = new Map<string, number[]>();
    let count = 0;
    platform.on('message', (_t, payload) => {
      const up = (JSON.parse(payload.toString()) as { DevEUI_uplink: { DevEUI: string; FCntUp: number } })
        .DevEUI_uplink;
      seen.set(up.DevEUI, [...(seen.get(up.DevEUI) ?? []), up.FCntUp]);
      count++;
    });
    await platform.subscribeAsync('uplink_crash', { qos: 1 });
    await red.start();
    const end = Date.now() + 60000;
    while (count < TOTAL && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 300));
    await platform.endAsync();
    let unique = 0;
    for (const [i, dev] of DEVICES.entries()) {
      const distinct = [...new Set(seen.get(dev) ?? [])];
      unique += distinct.length;
      const expected = Array.from({ length: TOTAL / DEVICES.length }, (_, k) => k * DEVICES.length + i);
      assert.deepEqual(distinct, expected, `order of ${dev}`);
    }
    assert.equal(unique, TOTAL, `all delivered (${count} messages, ${unique} distinct)`);
  });
});
