import { strict as assert } from 'assert';
import * as mqtt from 'mqtt';
import { Mosquitto, hasMosquitto } from '../../testkit/broker';
import { FaultRelay } from '../../testkit/fault-relay';
import { MqttFrames, publishOf } from '../../testkit/mqtt-frames';
import { Ledger } from './ledger';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fault oracle: what a killed broker had acknowledged', function () {
  this.timeout(20000);

  it('reads MQTT packets split across chunks and glued together', () => {
    const packets: Array<{ first: number; body: Buffer }> = [];
    const frames = new MqttFrames((first, body) => packets.push({ first, body: Buffer.from(body) }));
    const topic = Buffer.from('uplink_1');
    const payload = Buffer.alloc(200, 0x61);
    const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from([0x12, 0x34]), payload]);
    // PUBLISH QoS 1 (remaining length 212: two bytes), then PUBACK 0x1234.
    const publish = Buffer.concat([Buffer.from([0x32, 0xd4, 0x01]), body]);
    const stream = Buffer.concat([publish, Buffer.from([0x40, 0x02, 0x12, 0x34])]);
    for (const cut of [1, 2, 7, publish.length, publish.length + 1]) {
      packets.length = 0;
      frames.push(stream.subarray(0, cut));
      frames.push(stream.subarray(cut));
      assert.deepEqual(
        packets.map((p) => p.first),
        [0x32, 0x40],
        `cut at ${cut}`,
      );
      const p = publishOf(packets[0].first, packets[0].body)!;
      assert.deepEqual([p.id, p.topic, p.payload.length], [0x1234, 'uplink_1', 200]);
    }
  });

  it('the relay reports each QoS 1 publish once the real broker acknowledged it, not QoS 0', async function () {
    if (!hasMosquitto) this.skip();
    const broker = await new Mosquitto().start();
    const acked: string[] = [];
    const opened: number[] = [];
    const relay = await new FaultRelay(broker.port, {
      onBrokerAck: (topic, payload, openedAt) => {
        acked.push(`${topic} ${payload.toString()}`);
        opened.push(openedAt);
      },
    }).start();
    const before = Date.now();
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${relay.port}`, { reconnectPeriod: 0 });
    try {
      await client.publishAsync('uplink_1', 'first', { qos: 1 });
      await client.publishAsync('uplink_1', 'zero', { qos: 0 });
      await client.publishAsync('other', Buffer.alloc(300, 0x62), { qos: 1 });
      assert.deepEqual(acked, ['uplink_1 first', `other ${'b'.repeat(300)}`]);
      assert.ok(
        opened.every((t) => t >= before && t === opened[0]),
        'both on the one connection',
      );
    } finally {
      await client.endAsync(true);
      await relay.stop();
      await broker.dispose();
    }
  });

  it("counts an uplink as the broker's loss only if a broker acknowledged it and was killed after", async () => {
    const ledger = new Ledger();
    for (const f of [0, 1, 2, 3, 4]) ledger.noteAccepted('A', f);
    ledger.noteDelivered('A', 0);
    const first = Date.now();
    ledger.noteBrokerAcked('A', 1, first); // acknowledged, then the broker dies: the broker's loss
    await sleep(5);
    ledger.noteBrokerKilled();
    await sleep(5);
    // Sent by the dying broker, read a moment after the kill: the broker's loss too.
    ledger.noteBrokerAcked('A', 4, first);
    ledger.noteBrokerAcked('A', 2, Date.now()); // acknowledged by the next broker, which lives: lost by us
    // A 3: never acknowledged: lost by us.
    assert.deepEqual(ledger.lostToBrokerKills(), ['A:1', 'A:4']);
    assert.deepEqual(ledger.lost(), ['A:2', 'A:3']);
    assert.equal(ledger.summary().lostToBrokerKills, 2);
    assert.equal(await ledger.settled(0), false, 'what we lost keeps the run unsettled');

    // Acknowledged by a broker that was never killed and never passed on: the oracle's own failure.
    const alive = new Ledger();
    alive.noteAccepted('B', 0);
    alive.noteBrokerAcked('B', 0, Date.now());
    assert.deepEqual([alive.lost(), alive.lostToBrokerKills()], [['B:0'], []]);
  });
});
