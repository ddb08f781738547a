import { strict as assert } from 'assert';
import * as mqtt from 'mqtt';
import { FaultRelay } from '../../testkit/fault-relay';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import {
  coreNode,
  helper,
  networkNode,
  nodeFile,
  servingHttpNodes,
  uplinkInNode,
  waitFor,
  withRuntimeHooks,
} from '../helpers/node-red';

const AS_KEY = 'handover-as-key';
const DEV = '0018B20000000B30';
const wmwNode = require(nodeFile('wmw'));
const wmwOutNode = withRuntimeHooks(require(nodeFile('wmw-out')));
const core = [
  coreNode('core/function/10-function.js'),
  coreNode('core/function/10-switch.js'),
  coreNode('core/function/15-change.js'),
  coreNode('core/function/89-delay.js'),
  coreNode('core/common/60-link.js'),
  coreNode('core/common/25-catch.js'),
];
const modules = () => servingHttpNodes([networkNode, uplinkInNode, wmwNode, wmwOutNode, ...core]);

/** A WMW connection: `port` reachable or not, and its buffer's size and policy. */
const wmw = (id: string, port: number, bufferMax: number) => ({
  id,
  type: 'thingpark-wmw',
  region: 'custom',
  hostName: `127.0.0.1:${port}`,
  enterpriseId: 'handover',
  clientId: `handover-${id}`,
  insecure: true,
  bufferMax,
  bufferPolicy: 'reject',
});

interface QueueNode {
  connection: { stats(): { queued: number } };
}
const queued = (id: string) => (helper.getNode(id) as QueueNode).connection.stats().queued;

describe('uplink in answers ThingPark only once the document is stored (real runtime, messaging hooks)', function () {
  this.timeout(60000);
  let relay: FaultRelay;
  const post = (fCnt: number) =>
    postTunnelDocument(
      { url: `${helper.url()}/tp/handover`, asId: 'handover.as', asKey: AS_KEY },
      'DevEUI_uplink',
      sampleUplink(DEV, fCnt),
    );

  before(async () => {
    await helper.startServer();
    // A platform that never answers: what the out nodes take waits in their queues.
    relay = await new FaultRelay(1).start();
    relay.accepting = false;
  });
  after(async () => {
    await relay.stop();
    await helper.stopServer();
  });
  afterEach(() => helper.unload());

  const network = (extra: Record<string, unknown> = {}) => ({
    id: 'net',
    type: 'thingpark-network',
    mode: 'http',
    asId: 'handover.as',
    maxTimeDeviation: 60,
    ...extra,
  });
  const credentials = { net: { asKey: AS_KEY } };
  let run = Date.now() % 1e8; // unique across runs too

  /**
   * uplink in → function (returns a new message) → switch → change → link out ⇒ link in → change →
   * wmw out A, and → delay 300 ms → wmw out B. Two copies, every kind of hop (subflows: the test
   * helper's runtime cannot run them; test/faults/handover-subflow.test.ts runs one in a real Node-RED).
   */
  function fanOutFlow(bufferB: number, net: Record<string, unknown> = {}) {
    // Fresh connection ids: a queue outlives its flow on disk, and the platform never answers here.
    run++;
    return [
      { id: 'tab', type: 'tab', label: 'handover' },
      network(net),
      wmw(`connA${run}`, relay.port, 1000),
      wmw(`connB${run}`, relay.port, bufferB),
      {
        id: 'up',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'net',
        path: '/tp/handover',
        wires: [['fn']],
      },
      {
        id: 'fn',
        z: 'tab',
        type: 'function',
        func: 'return { payload: msg.payload, topic: msg.topic, thingpark: msg.thingpark };',
        outputs: 1,
        wires: [['sw']],
      },
      {
        id: 'sw',
        z: 'tab',
        type: 'switch',
        property: 'topic',
        rules: [{ t: 'eq', v: DEV, vt: 'str' }],
        outputs: 1,
        wires: [['chg']],
      },
      {
        id: 'chg',
        z: 'tab',
        type: 'change',
        rules: [{ t: 'set', p: 'seen', pt: 'msg', to: 'yes', tot: 'str' }],
        wires: [['lo']],
      },
      { id: 'lo', z: 'tab', type: 'link out', mode: 'link', links: ['li'], wires: [] },
      { id: 'li', z: 'tab', type: 'link in', links: [], wires: [['chgA', 'dly']] },
      {
        id: 'chgA',
        z: 'tab',
        type: 'change',
        rules: [{ t: 'set', p: 'copy', pt: 'msg', to: 'A', tot: 'str' }],
        wires: [['outA']],
      },
      {
        id: 'dly',
        z: 'tab',
        type: 'delay',
        pauseType: 'delay',
        timeout: '300',
        timeoutUnits: 'milliseconds',
        wires: [['outB']],
      },
      { id: 'outA', z: 'tab', type: 'thingpark-wmw-out', wmw: `connA${run}`, wires: [[]] },
      { id: 'outB', z: 'tab', type: 'thingpark-wmw-out', wmw: `connB${run}`, wires: [[]] },
    ];
  }

  it('answers 200 only after every copy is stored, through function, switch, change, link and delay nodes', async () => {
    await helper.load(modules(), fanOutFlow(1000), credentials);
    const t0 = Date.now();
    const res = await post(1);
    const took = Date.now() - t0;
    assert.equal(res.status, 200, res.text);
    assert.ok(took >= 300, `answered after the delayed copy was stored (${took} ms)`);
    assert.equal(queued(`connA${run}`), 1, 'the first copy is stored when ThingPark is answered');
    assert.equal(queued(`connB${run}`), 1, 'the delayed copy is stored when ThingPark is answered');
  });

  it('answers 503 with the reason when one copy is refused (a full buffer), so ThingPark tries its next destination', async () => {
    await helper.load(modules(), fanOutFlow(1), credentials);
    assert.equal((await post(1)).status, 200);
    const res = await post(2);
    assert.equal(res.status, 503);
    assert.match(res.text, /buffer/i);
  });

  it('with ackMode "immediate", answers 200 at once even for a copy that is then refused (the old behaviour)', async () => {
    await helper.load(modules(), fanOutFlow(1, { ackMode: 'immediate' }), credentials);
    assert.equal((await post(1)).status, 200);
    const t0 = Date.now();
    assert.equal((await post(2)).status, 200);
    assert.ok(Date.now() - t0 < 300, 'did not wait for the delayed copy');
  });

  it('answers 200 when the flow filters the document out (it reached no out node)', async () => {
    const flow = fanOutFlow(1000);
    (flow.find((n) => n.id === 'sw') as { rules: unknown[] }).rules = [
      { t: 'eq', v: 'SOMEONE-ELSE', vt: 'str' },
    ];
    await helper.load(modules(), flow, credentials);
    assert.equal((await post(1)).status, 200);
    assert.equal(queued(`connA${run}`) + queued(`connB${run}`), 0);
  });

  it('answers 503 when the flow has not finished with the document within ackTimeout', async () => {
    await helper.load(
      modules(),
      [
        { id: 'tab', type: 'tab', label: 'handover' },
        network({ ackTimeout: 1 }),
        {
          id: 'up',
          z: 'tab',
          type: 'thingpark-uplink-in',
          network: 'net',
          path: '/tp/handover',
          wires: [['hold']],
        },
        // Holds every message: never sends it on, never says done.
        {
          id: 'hold',
          z: 'tab',
          type: 'function',
          func: 'if (false) node.done();\nreturn;',
          outputs: 1,
          wires: [[]],
        },
      ],
      credentials,
    );
    const t0 = Date.now();
    const res = await post(1);
    assert.equal(res.status, 503);
    assert.match(res.text, /not stored within 1 s/);
    assert.ok(Date.now() - t0 >= 900);
  });
});

describe('uplink in, IoT Flow MQTT: PUBACK once stored, on a session the broker keeps', function () {
  this.timeout(60000);
  const broker = new Mosquitto({ extra: ['max_queued_messages 0'] });
  let relay: FaultRelay;
  let publisher: mqtt.MqttClient;

  before(async function () {
    if (!hasMosquitto) this.skip();
    await broker.start();
    relay = await new FaultRelay(broker.port).start();
    await helper.startServer();
    publisher = await mqtt.connectAsync(broker.url, { clientId: 'iot-flow', reconnectPeriod: 0 });
  });
  after(async () => {
    await publisher?.endAsync(true);
    await helper.stopServer();
    await relay?.stop();
    await broker.dispose();
  });
  afterEach(() => helper.unload());

  let run = Date.now() % 1e8; // unique across runs too
  const flow = (bufferMax: number) => [
    { id: 'tab', type: 'tab', label: 'iot flow' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'mqtt',
      broker: `127.0.0.1:${broker.port}`,
      protocol: 'tcp',
      clientId: 'handover-iot-flow',
    },
    wmw(`conn${++run}`, relay.port, bufferMax),
    { id: 'up', z: 'tab', type: 'thingpark-uplink-in', network: 'net', wires: [['out']] },
    { id: 'out', z: 'tab', type: 'thingpark-wmw-out', wmw: `conn${run}`, wires: [[]] },
  ];
  const publish = (fCnt: number) =>
    publisher.publishAsync(
      `mqtt/things/${DEV}/uplink`,
      JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, fCnt) }),
      {
        qos: 1,
      },
    );
  const platform = async () => {
    const seen: number[] = [];
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    client.on('message', (_t, p) => seen.push(JSON.parse(p.toString()).DevEUI_uplink.FCntUp));
    await client.subscribeAsync('uplink_handover', { qos: 1 });
    return { seen, end: () => client.endAsync(true) };
  };

  it('never acknowledges a document it cannot store (a full buffer): the broker sends it again, and it is stored once there is room', async () => {
    const seen = await platform();
    relay.accepting = false;
    await helper.load(modules(), flow(1));
    const conn = helper.getNode('net') as { mqtt: { state: string } };
    await waitFor(() => conn.mqtt.state === 'connected', 10000, 'IoT Flow connection');
    await publish(1);
    await publish(2);
    // Document 1 took the only place in the buffer; document 2 was refused, so never acknowledged:
    // the broker sends it again (after each reconnect) until it can be stored.
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(seen.seen, [], 'the platform is down');
    relay.accepting = true; // the platform is back: the buffer drains, document 2 then fits
    await waitFor(() => seen.seen.includes(1) && seen.seen.includes(2), 45000, 'both at the platform');
    // Document 1 may come twice (sent again with 2 before its PUBACK left): in order all the same.
    assert.deepEqual([...new Set(seen.seen)], [1, 2], 'in order');
    await seen.end();
  });

  it('keeps what IoT Flow publishes while the flows are stopped (a redeploy, a restart): persistent session', async () => {
    relay.accepting = true;
    const seen = await platform();
    await helper.load(modules(), flow(1000));
    const conn = helper.getNode('net') as { mqtt: { state: string } };
    await waitFor(() => conn.mqtt.state === 'connected', 10000, 'IoT Flow connection');
    await helper.unload();
    for (let f = 10; f < 15; f++) await publish(f);
    await helper.load(modules(), flow(1000));
    await waitFor(
      () => [10, 11, 12, 13, 14].every((f) => seen.seen.includes(f)),
      20000,
      'all five at the platform',
    );
    await seen.end();
  });
});
