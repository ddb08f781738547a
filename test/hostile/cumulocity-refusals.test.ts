import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as os from 'os';
import * as path from 'path';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { collect, helper, servingHttpNodes, waitFor } from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const cumulocityNode = require(nodeFile('cumulocity'));
const cumulocityOutNode = require(nodeFile('cumulocity-out'));

const TENANT = 't99';
const USER = 'edge';
const PASSWORD = 'edge-pass-refusals';
const TIME = '2024-05-01T10:00:00.000+00:00';
const DEVICES = ['0018B20000000C01', '0018B20000000C02', '0018B20000000C03', '0018B20000000C04'];
/** Publishes pending at once per device (cumulocity-node's queue tuning): the most a lost connection can repeat. */
const IN_FLIGHT_PER_DEVICE = 32;

type Msg = Record<string, unknown>;

describe('Cumulocity refusing: s/e errors for uplinks, credentials revoked then restored — counted in and out', function () {
  this.timeout(120000);
  let broker: Mosquitto;
  let platform: mqtt.MqttClient;
  let userDir: string;
  /** Uplinks the platform received (their raw-frame events), as `<DevEUI>/<FCntUp>`, in order. */
  let received: string[];
  /** Reacts to each uplink the platform receives (its s/e answer). */
  let onUplink: (devEUI: string, fCntUp: number) => void = () => undefined;
  let caught: Msg[];
  let gateways = 0;

  before(async function () {
    if (!hasMosquitto) this.skip();
    broker = new Mosquitto({
      users: { [`${TENANT}/${USER}`]: PASSWORD, 'c8y-platform': 'platform-pass' },
      extra: ['max_queued_messages 0'],
    });
    await broker.start();
    platform = await mqtt.connectAsync(broker.url, {
      username: 'c8y-platform',
      password: 'platform-pass',
      reconnectPeriod: 0,
    });
    platform.on('message', (topic, payload) => {
      if (topic !== 'event/events/create') return;
      const event = JSON.parse(payload.toString()) as {
        c8y_ThingParkUplink?: { DevEUI: string; FCntUp: number };
      };
      const uplink = event.c8y_ThingParkUplink;
      if (!uplink) return;
      received.push(`${uplink.DevEUI}/${uplink.FCntUp}`);
      onUplink(uplink.DevEUI, uplink.FCntUp);
    });
    await platform.subscribeAsync(['event/events/create'], { qos: 1 });
    await helper.startServer();
  });
  after(async () => {
    await platform?.endAsync(true);
    await helper.stopServer();
    await broker?.dispose();
  });
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-c8y-refusals-'));
    helper.settings({ userDir });
    received = [];
    onUplink = () => undefined;
    await helper.load(
      servingHttpNodes([cumulocityNode, cumulocityOutNode]),
      [
        { id: 'tab', type: 'tab', label: 'refusals' },
        {
          id: 'c8y',
          type: 'thingpark-cumulocity',
          hostName: `127.0.0.1:${broker.port}`,
          tenantId: TENANT,
          insecure: true,
          gatewayId: `refusals-${++gateways}`,
          bufferMax: 10000,
          bufferPolicy: 'drop-oldest',
        },
        { id: 'out', z: 'tab', type: 'thingpark-cumulocity-out', cumulocity: 'c8y', wires: [[]] },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { c8y: { username: USER, password: PASSWORD } },
    );
    caught = collect(helper.getNode('caught'));
    await waitFor(() => connection().client.state === 'connected', 15000, 'Cumulocity connected');
  });
  afterEach(async () => {
    broker.setPassword(`${TENANT}/${USER}`, PASSWORD);
    await helper.unload();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const connection = () => helper.getNode('c8y').connection;
  const errors = () => caught.map((c) => String((c.error as { message: string }).message));
  let nextFCnt = 0;
  /** Sends `perDevice` uplinks to each device, interleaved; returns what was sent as `<DevEUI>/<FCntUp>`. */
  const send = (perDevice: number): string[] => {
    const sent: string[] = [];
    for (let i = 0; i < perDevice; i++) {
      const fCnt = nextFCnt++;
      for (const dev of DEVICES) {
        helper.getNode('out').receive({
          payload: {
            DevEUI_uplink: {
              DevEUI: dev,
              Time: TIME,
              FPort: 2,
              FCntUp: fCnt,
              payload_hex: '00',
              LrrRSSI: -70,
            },
          },
        });
        sent.push(`${dev}/${fCnt}`);
      }
    }
    return sent;
  };
  /** Each uplink sent arrived at least once, in order per device; returns how many arrived again. */
  const assertAllDelivered = (sent: string[]): number => {
    const counts = new Map<string, number>();
    for (const r of received) counts.set(r, (counts.get(r) ?? 0) + 1);
    assert.deepEqual(
      sent.filter((s) => !counts.has(s)),
      [],
      'every uplink sent reached the platform',
    );
    for (const dev of DEVICES) {
      const firsts = [...new Set(received.filter((r) => r.startsWith(`${dev}/`)))].map((r) =>
        Number(r.split('/')[1]),
      );
      assert.deepEqual(
        firsts,
        [...firsts].sort((x, y) => x - y),
        `order of ${dev}`,
      );
    }
    return [...counts.values()].reduce((n, c) => n + c - 1, 0);
  };

  it('s/e and error-topic reports answering uplinks reach Catch, each distinct one once a minute at most; the queue keeps flowing, nothing is sent twice', async () => {
    const lines: string[] = [];
    onUplink = (devEUI, fCntUp) => {
      // What Cumulocity says of a message it could not take: it names the template, never the message.
      let report: { topic: string; text: string } | undefined;
      if (fCntUp % 5 === 2)
        report = {
          topic: 's/e',
          text: `41,201,Measurement of ${devEUI.toLowerCase()} refused: value out of range`,
        };
      else if (fCntUp % 5 === 4)
        report = { topic: 's/e', text: '40,,No static template for this message id' };
      else if (fCntUp % 10 === 3)
        report = {
          topic: 'error',
          text: '{"error":"events/Invalid Data","message":"time is in the future"}',
        };
      if (!report) return;
      lines.push(`${report.topic}: ${report.text}`);
      void platform.publishAsync(report.topic, report.text, { qos: 1 });
    };
    const sent = send(25);
    await waitFor(() => received.length >= sent.length, 20000, 'every uplink at the platform');
    const distinct = [...new Set(lines)];
    await waitFor(() => caught.length >= distinct.length, 5000, 'the s/e errors reported');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      [...errors()].sort(),
      distinct.map((l) => `Cumulocity reported an error on ${l}`).sort(),
      'each distinct s/e line reported once',
    );
    assert.ok(lines.length > distinct.length, 'repeated lines were not reported again');
    assert.equal(assertAllDelivered(sent), 0, 'nothing sent twice without a lost connection');
    const stats = connection().stats();
    assert.equal(stats.queued, 0);
    assert.equal(stats.poisoned, 0);
    assert.equal(connection().client.state, 'connected');
    assert.equal(connection().client.reconnects, 0, 'the connection stayed up');

    // A good uplink behind them still goes through.
    const last = send(1);
    await waitFor(() => last.every((s) => received.includes(s)), 5000, 'the last uplinks');
  });

  it('credentials revoked mid-stream (password changed, broker reloaded) then restored: refused and reported, queued, every uplink delivered', async () => {
    const sent = send(10);
    await waitFor(() => received.length >= sent.length, 15000, 'the first uplinks');

    broker.setPassword(`${TENANT}/${USER}`, 'a-password-nobody-has');
    await waitFor(() => connection().client.state !== 'connected', 10000, 'the gateway disconnected');
    sent.push(...send(10));
    await waitFor(
      () =>
        errors().some((e) =>
          /^Cumulocity connection failed: .*(Not authorized|Bad user name or password)/.test(e),
        ),
      15000,
      'the refusal reported',
    );
    const statusOf = () =>
      helper.getNode('out').status.args.map((a: Array<{ text?: string }>) => a[0]?.text ?? '');
    await waitFor(() => statusOf().some((t: string) => /queued/.test(t)), 5000, 'status shows the queue');
    const during = connection().stats();
    assert.equal(during.poisoned, 0, 'nothing set aside');
    assert.ok(during.queued > 0, 'the uplinks wait in the queue');
    sent.push(...send(5));

    broker.setPassword(`${TENANT}/${USER}`, PASSWORD);
    sent.push(...send(5));
    await waitFor(() => connection().stats().queued === 0, 40000, 'the queue drained');
    await waitFor(() => sent.every((s) => received.includes(s)), 10000, 'every uplink at the platform');
    const duplicates = assertAllDelivered(sent);
    assert.ok(
      duplicates <= DEVICES.length * IN_FLIGHT_PER_DEVICE,
      `${duplicates} duplicates, within what was in flight when the connection was refused`,
    );
    const after = connection().stats();
    assert.equal(after.poisoned, 0);
    assert.equal(after.deadLetters, 0);
    assert.ok(connection().client.reconnects > 0, 'it reconnected');
  });
});
