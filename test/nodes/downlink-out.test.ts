import { strict as assert } from 'assert';
import * as mqtt from 'mqtt';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { iotFlowRefusals } from '../../testkit/simulator/iot-flow-downlink';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { Mosquitto } from '../../testkit/broker';
import {
  collect,
  coreNode,
  downlinkOutNode,
  helper,
  networkNode,
  nextMessage,
  servingHttpNodes,
  uplinkInNode,
  waitFor,
} from '../helpers/node-red';

const AS_KEY = 'Round-Trip-Key';
const DEV = '0018B20000000B20';
const modules = () => servingHttpNodes([networkNode, uplinkInNode, downlinkOutNode]);

describe('downlink out (Basic HTTPS) against a fake LRC that checks the Token', () => {
  let lrc: FakeLrc;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    lrc = await new FakeLrc({ asKey: AS_KEY, asId: 'test.as' }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await lrc.stop();
  });

  const flow = (network: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab', label: 'test' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'http',
      asId: 'test.as',
      maxTimeDeviation: 60,
      lrcUrl: lrc.url,
      ...network,
    },
    { id: 'down', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['result']] },
    { id: 'result', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: ['down'], uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];

  it('sends a signed request and outputs status queued with the CorrelationID', async () => {
    await helper.load(modules(), flow(), { net: { asKey: AS_KEY } });
    const result = nextMessage(helper.getNode('result'));
    helper.getNode('down').receive({
      payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 3, payload_hex: 'CAFE', Confirmed: 1 } },
    });
    const msg = await result;
    const payload = msg.payload as Record<string, unknown>;
    assert.equal(payload.status, 'queued');
    assert.equal(payload.httpStatus, 200);
    assert.match(String(payload.CorrelationID), /^[0-9A-F]{16}$/);
    assert.equal(lrc.received.length, 1);
    const q = lrc.received[0].query;
    assert.equal(lrc.received[0].accepted, true);
    assert.deepEqual(
      [...q.keys()],
      ['DevEUI', 'FPort', 'Payload', 'Confirmed', 'AS_ID', 'Time', 'CorrelationID', 'Token'],
    );
    assert.equal(q.get('Payload'), 'cafe');
    assert.equal(q.get('CorrelationID'), payload.CorrelationID);
    assert.deepEqual(
      (msg.downlink as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink.CorrelationID,
      payload.CorrelationID,
    );
  });

  it('queues with the AS key pasted in upper case, as ThingPark displays it (one request)', async () => {
    const hex = 'c72c6f867b150b1210acda5f3cdfb449';
    lrc.options.asKey = hex.toUpperCase();
    await helper.load(modules(), flow(), { net: { asKey: hex.toUpperCase() } });
    const result = nextMessage(helper.getNode('result'));
    helper
      .getNode('down')
      .receive({ payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 3, payload_hex: '01' } } });
    const payload = (await result).payload as Record<string, unknown>;
    assert.equal(payload.status, 'queued');
    assert.equal(payload.attempts, 1);
    assert.equal(lrc.received.length, 1);
  });

  it('reports a refused request (wrong key) as rejected, through Catch', async () => {
    await helper.load(modules(), flow(), { net: { asKey: 'wrong-key' } });
    const result = nextMessage(helper.getNode('result'));
    const caught = nextMessage(helper.getNode('caught'));
    helper
      .getNode('down')
      .receive({ payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 3, payload_hex: '00' } } });
    const msg = await result;
    assert.equal((msg.payload as { status: string }).status, 'rejected');
    assert.equal((msg.payload as { reason: string }).reason, 'Security error: invalid Token');
    const err = await caught;
    assert.match(
      String((err.error as { message: string }).message),
      /Downlink not sent: Security error: invalid Token/,
    );
    assert.equal(lrc.received[0].accepted, false);
  });

  it('refuses an invalid downlink before sending anything, through Catch', async () => {
    await helper.load(modules(), flow(), { net: { asKey: AS_KEY } });
    const caught = collect(helper.getNode('caught'));
    const down = helper.getNode('down');
    down.receive({ payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 0, payload_hex: '00' } } });
    down.receive({ payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '0' } } });
    down.receive({ payload: 'not a document' });
    await waitFor(() => caught.length === 3);
    const reasons = caught.map((m) => String((m.error as { message: string }).message));
    assert.match(reasons[0], /FPort must be an integer 1-223/);
    assert.match(reasons[1], /even-length hex/);
    assert.match(reasons[2], /must be an object/);
    assert.equal(lrc.received.length, 0);
  });

  it('uses RAN=CELLULAR for a device last seen as cellular', async () => {
    await helper.load(
      modules(),
      [
        ...flow(),
        { id: 'up', z: 'tab', type: 'thingpark-uplink-in', network: 'net', path: '/rt/uplink', wires: [[]] },
      ],
      { net: { asKey: AS_KEY } },
    );
    const target = { url: `${helper.url()}/rt/uplink`, asId: 'test.as', asKey: AS_KEY };
    const cellular = {
      Time: new Date().toISOString(),
      DevEUI: 'F03D290000000001',
      payload_hex: '01',
      IMEI: '356938035643809',
    };
    assert.equal((await postTunnelDocument(target, 'DevEUI_uplink', cellular)).status, 200);
    const result = nextMessage(helper.getNode('result'));
    helper
      .getNode('down')
      .receive({ payload: { DevEUI_downlink: { DevEUI: 'F03D290000000001', payload_hex: 'AA' } } });
    assert.equal(((await result).payload as { status: string }).status, 'queued');
    assert.equal(lrc.received[0].query.get('RAN'), 'CELLULAR');
    assert.equal(lrc.received[0].query.get('FPort'), null);
  });

  it('round trip: simulated uplink → uplink in → function → downlink out → fake LRC → sent report', async () => {
    lrc.options.reportTo = { url: `${helper.url()}/rt/uplink`, asId: 'test.as', asKey: AS_KEY };
    await helper.load(
      [...modules(), coreNode('core/function/10-function.js')],
      [
        ...flow(),
        {
          id: 'up',
          z: 'tab',
          type: 'thingpark-uplink-in',
          network: 'net',
          path: '/rt/uplink',
          wires: [['fn', 'reports']],
        },
        {
          id: 'fn',
          z: 'tab',
          type: 'function',
          func: `if (msg.thingpark.type !== 'DevEUI_uplink') return null;
msg.payload = { DevEUI_downlink: { DevEUI: msg.thingpark.devEUI, FPort: 10, payload_hex: '01' + msg.payload.DevEUI_uplink.payload_hex } };
return msg;`,
          outputs: 1,
          wires: [['down']],
        },
        { id: 'reports', z: 'tab', type: 'helper' },
      ],
      { net: { asKey: AS_KEY } },
    );
    const reports = collect(helper.getNode('reports'));
    const result = nextMessage(helper.getNode('result'));
    const uplink = sampleUplink(DEV, 42);
    assert.equal((await postTunnelDocument(lrc.options.reportTo, 'DevEUI_uplink', uplink)).status, 200);
    const msg = await result;
    const payload = msg.payload as { status: string; CorrelationID: string };
    assert.equal(payload.status, 'queued');
    assert.equal(lrc.received[0].query.get('Payload'), `01${uplink.payload_hex}`);
    await waitFor(
      () => reports.some((r) => (r.thingpark as { type: string }).type === 'DevEUI_downlink_Sent'),
      5000,
      'sent report',
    );
    const sent = reports.find((r) => (r.thingpark as { type: string }).type === 'DevEUI_downlink_Sent')!;
    assert.equal(
      (sent.thingpark as { correlationId: string; verified: boolean }).correlationId,
      payload.CorrelationID,
    );
    assert.equal((sent.thingpark as { verified: boolean }).verified, true, 'the report token was verified');
  });
});

describe('IoT Flow MQTT mode against a real mosquitto', function () {
  this.timeout(30000);
  const broker = new Mosquitto({ users: { iotflow: 'flow-pass' } });
  let client: mqtt.MqttClient;
  before(async () => {
    await broker.start();
    await helper.startServer();
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'iotflow',
      password: 'flow-pass',
    });
  });
  after(async () => {
    await client.endAsync();
    await helper.stopServer();
    await broker.dispose();
  });
  afterEach(() => helper.unload());

  const flow = (network: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab', label: 'test' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'mqtt',
      broker: `127.0.0.1:${broker.port}`,
      protocol: 'tcp',
      uplinkTopic: 'mqtt/things/{DevEUI}/uplink',
      downlinkTopic: 'mqtt/things/{DevEUI}/downlink',
      ...network,
    },
    { id: 'up', z: 'tab', type: 'thingpark-uplink-in', network: 'net', wires: [['out']] },
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'down', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['result']] },
    { id: 'result', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
    { id: 'watch', z: 'tab', type: 'status', scope: ['up'], wires: [['statusOut']] },
    { id: 'statusOut', z: 'tab', type: 'helper' },
  ];
  const creds = { net: { username: 'iotflow', password: 'flow-pass' } };
  const connected = (id = 'net') =>
    waitFor(() => helper.getNode(id).mqtt.state === 'connected', 10000, 'connected');

  it('receives uplinks from the uplink topic (typed, untyped, root-less) and reports malformed ones via Catch', async () => {
    await helper.load(modules(), flow(), creds);
    await connected();
    const out = collect(helper.getNode('out'));
    const caught = collect(helper.getNode('caught'));
    const uplink = sampleUplink(DEV, 1);
    await client.publishAsync(`mqtt/things/${DEV}/uplink`, JSON.stringify({ DevEUI_uplink: uplink }), {
      qos: 1,
    });
    await client.publishAsync(`mqtt/things/${DEV}/uplink`, 'garbage', { qos: 1 });
    await client.publishAsync(`mqtt/things/${DEV}/uplink`, JSON.stringify({ temperature: 20.5 }), { qos: 1 });
    await waitFor(() => out.length === 2 && caught.length === 1, 5000, 'two uplinks and one error');
    assert.deepEqual(out[0].payload, { DevEUI_uplink: uplink });
    assert.deepEqual(out[1].payload, { DevEUI_uplink: { DevEUI: DEV, payload: { temperature: 20.5 } } });
    assert.match(
      String((caught[0].error as { message: string }).message),
      /Refused a ThingPark document: not JSON or XML/,
    );
    assert.equal(caught[0].topic, `mqtt/things/${DEV}/uplink`);
  });

  it('publishes downlinks on the resolved downlink topic (QoS 1)', async () => {
    await helper.load(modules(), flow(), creds);
    await connected();
    await client.subscribeAsync('mqtt/things/+/downlink', { qos: 1 });
    const got = new Promise<{ topic: string; payload: string }>((resolve) =>
      client.once('message', (topic, payload) => resolve({ topic, payload: payload.toString() })),
    );
    const result = nextMessage(helper.getNode('result'));
    helper.getNode('down').receive({
      payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 5, payload_hex: '0A0B', CorrelationID: 'C0FFEE' } },
    });
    assert.equal(((await result).payload as { status: string }).status, 'queued');
    const message = await got;
    assert.equal(message.topic, `mqtt/things/${DEV}/downlink`);
    const published = JSON.parse(message.payload) as { DevEUI_downlink: Record<string, unknown> };
    const { Time, ...rest } = published.DevEUI_downlink;
    assert.deepEqual(rest, { DevEUI: DEV, FPort: 5, payload_hex: '0a0b', CorrelationID: 'C0FFEE' });
    assert.ok(Math.abs(Date.parse(String(Time)) - Date.now()) < 5000, `Time ${String(Time)} is now`);
    assert.deepEqual(iotFlowRefusals(message.payload), [], 'IoT Flow takes it');
    assert.deepEqual((await result).downlink, published, 'msg.downlink is what was published');
    await client.unsubscribeAsync('mqtt/things/+/downlink');
  });

  it('publishes the documented optional fields and refuses an unknown one through Catch, publishing nothing', async () => {
    await helper.load(modules(), flow(), creds);
    await connected();
    await client.subscribeAsync('mqtt/things/+/downlink', { qos: 1 });
    const messages: string[] = [];
    const onMessage = (_topic: string, payload: Buffer) => messages.push(payload.toString());
    client.on('message', onMessage);
    const caught = collect(helper.getNode('caught'));
    const results = collect(helper.getNode('result'));
    const down = helper.getNode('down');
    down.receive({ payload: { DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '00', Priority: 1 } } });
    down.receive({
      payload: {
        DevEUI_downlink: {
          DevEUI: DEV,
          FPort: 224,
          payload: { DownMessageType: 'SET_PARAMETER', AckToken: 1 },
          DriverCfg: { app: { pId: 'abeeway', mId: 'asset-tracker', ver: '1' } },
          AFCntDn: 7,
          RetryIneligibleGateways: 0,
          ValidityTime: 600,
          Confirmed: '1',
        },
      },
    });
    await waitFor(() => results.length === 2 && messages.length === 1, 5000, 'two results, one publish');
    client.off('message', onMessage);
    await client.unsubscribeAsync('mqtt/things/+/downlink');
    assert.match(String((caught[0].error as { message: string }).message), /unknown field "Priority"/);
    const body = (JSON.parse(messages[0]) as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink;
    assert.equal(body.FPort, 224);
    assert.deepEqual(body.DriverCfg, { app: { pId: 'abeeway', mId: 'asset-tracker', ver: '1' } });
    assert.equal(body.AFCntDn, 7);
    assert.equal(body.RetryIneligibleGateways, 0);
    assert.equal(body.ValidityTime, 600);
    assert.equal(body.Confirmed, 1);
    assert.deepEqual(iotFlowRefusals(messages[0]), []);
  });

  it('shows a refused login in the status and as a Catch-able error', async () => {
    await helper.load(modules(), flow(), { net: { username: 'iotflow', password: 'wrong' } });
    const caught = collect(helper.getNode('caught'));
    await waitFor(() => caught.length > 0, 10000, 'connection error');
    assert.match(
      String((caught[0].error as { message: string }).message),
      /ThingPark MQTT connection failed: .*(Not authorized|Bad username)/i,
    );
    const up = helper.getNode('up');
    await waitFor(
      () => up.status.args.some((a: Array<{ fill?: string }>) => a[0]?.fill === 'red'),
      5000,
      'red status',
    );
  });

  it('reconnects after the broker restarts and keeps receiving', async () => {
    await helper.load(modules(), flow(), creds);
    await connected();
    const out = collect(helper.getNode('out'));
    await broker.restart();
    await waitFor(() => helper.getNode('net').mqtt.state !== 'connected', 5000, 'disconnect seen');
    await client.endAsync(true);
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, {
      username: 'iotflow',
      password: 'flow-pass',
    });
    const up = helper.getNode('up');
    await waitFor(() => up.status.lastCall.args[0].fill === 'green', 15000, 'green status after reconnect');
    await connected();
    await client.publishAsync(
      `mqtt/things/${DEV}/uplink`,
      JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 2) }),
      { qos: 1 },
    );
    await waitFor(() => out.length === 1, 5000, 'uplink after reconnect');
  });

  it('splits one uplink stream between instances with a shared subscription group', async () => {
    const two = [
      ...flow({ sharedGroup: 'edge' }),
      {
        id: 'net2',
        type: 'thingpark-network',
        mode: 'mqtt',
        broker: `127.0.0.1:${broker.port}`,
        protocol: 'tcp',
        sharedGroup: 'edge',
        uplinkTopic: 'mqtt/things/{DevEUI}/uplink',
      },
      { id: 'up2', z: 'tab', type: 'thingpark-uplink-in', network: 'net2', wires: [['out2']] },
      { id: 'out2', z: 'tab', type: 'helper' },
    ];
    await helper.load(modules(), two, { ...creds, net2: { username: 'iotflow', password: 'flow-pass' } });
    await connected();
    await connected('net2');
    const a = collect(helper.getNode('out'));
    const b = collect(helper.getNode('out2'));
    for (let i = 0; i < 20; i++) {
      await client.publishAsync(
        `mqtt/things/${DEV}/uplink`,
        JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, i) }),
        { qos: 1 },
      );
    }
    await waitFor(() => a.length + b.length === 20, 5000, 'all 20 uplinks');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.length + b.length, 20, 'each uplink delivered once across the group');
    assert.ok(a.length > 0 && b.length > 0, `both instances got some (${a.length}/${b.length})`);
  });
});
