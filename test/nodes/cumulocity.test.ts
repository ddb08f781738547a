import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as os from 'os';
import * as path from 'path';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { Mosquitto } from '../../testkit/broker';
import { makeTestCerts, type TestCerts } from '../helpers/certs';
import {
  collect,
  downlinkOutNode,
  helper,
  networkNode,
  nextMessage,
  servingHttpNodes,
  uplinkInNode,
  waitFor,
} from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';
import { CHILD, CHILD_TOPIC, DEVEUI, TIME, loraUplink } from '../cumulocity/fixtures';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const cumulocityNode = require(nodeFile('cumulocity'));
const cumulocityOutNode = require(nodeFile('cumulocity-out'));
const downlinkInNode = require(nodeFile('downlink-in'));
const tlsNode = require('@node-red/nodes/core/network/05-tls.js');

const TENANT = 't1234';
const USER = 'edge';
const PASSWORD = 'edge-pass';
const AS_KEY = 'c8y-test-as-key';
const AS_ID = 'c8y.as';
const GATEWAY_NAME = 'Edge test';
const PACKAGE = require(path.join(repoRoot, 'package.json')) as { name: string; version: string };
/** 100 + 117, the agent (122) and the gateway's hardware (110), then 500: the pending operations. */
const startup = (id: string) =>
  `100,"Edge test",c8y_ThingParkGateway\n117,60\n122,${PACKAGE.name},${PACKAGE.version}\n` +
  `110,${id},${PACKAGE.name},${PACKAGE.version}\n500`;
const OPS_114 = '114,c8y_Command,c8y_LoRaDownlink';
const REGISTER_101 = `101,${CHILD},"LoRa ${DEVEUI}",c8y_ThingParkLoRaDevice`;
const REGISTER_CHILD = `110,${DEVEUI}\n${OPS_114}\n117,1440`;

/** What the mapper tests expect for fixtures' loraUplink() (test/cumulocity/mapper.test.ts). */
const UPLINK_LINES =
  '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,' +
  'c8y_SignalStrength,rssi,-60,dBm,c8y_SignalStrength,snr,9.5,dB,c8y_SignalStrength,sf,7,\n' +
  '201,c8y_ThingParkMeasurement,2024-01-01T10:00:00.000+00:00,' +
  'temperature,temperature,21.5,°C,nested,humidity,40,';
const UPLINK_EVENT =
  '{"type":"c8y_ThingParkUplink","text":"ThingPark uplink FPort 2 FCntUp 7",' +
  '"time":"2024-01-01T10:00:00.000+00:00",' +
  '"externalSource":{"externalId":"0018b20000000b20","type":"c8y_Serial"},' +
  '"c8y_ThingParkUplink":{"DevEUI":"0018B20000000B20","FPort":2,"FCntUp":7,' +
  '"payload_hex":"0027bd00","Lrrid":"FF0109A4"}}';

/** Cumulocity's topics for a device user, as the platform enforces them. */
const ACL = [
  `user ${TENANT}/${USER}`,
  'topic write s/us/#',
  'topic read s/ds',
  'topic read devicecontrol/notifications',
  'topic write event/events/create',
  'topic read error',
  'topic read s/e',
  'user c8y-platform',
  'topic readwrite #',
];

interface Recorded {
  topic: string;
  payload: string;
}

/** Stands in for Cumulocity: records what the gateway publishes, publishes operations. */
class Platform {
  readonly records: Recorded[] = [];
  client?: mqtt.MqttClient;

  constructor(private readonly options: () => mqtt.IClientOptions & { url: string }) {}

  async connect(): Promise<void> {
    const { url, ...options } = this.options();
    const client = mqtt.connect(url, {
      username: 'c8y-platform',
      password: 'platform-pass',
      reconnectPeriod: 0,
      ...options,
    });
    // Listening before the CONNACK: a resumed session's queued messages come right behind it.
    client.on('message', (topic, payload) => this.records.push({ topic, payload: payload.toString() }));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    this.client = client;
    await this.client.subscribeAsync(['s/us/#', 'event/events/create'], { qos: 1 });
  }

  async end(): Promise<void> {
    await this.client?.endAsync(true);
    this.client = undefined;
  }

  clear(): void {
    this.records.length = 0;
  }

  /** Every SmartREST line published on `topic`, in order. */
  lines(topic: string): string[] {
    return this.records.filter((r) => r.topic === topic).flatMap((r) => r.payload.split('\n'));
  }

  payloads(topic: string): string[] {
    return this.records.filter((r) => r.topic === topic).map((r) => r.payload);
  }

  async operation(json: Record<string, unknown>): Promise<void> {
    await this.client!.publishAsync('devicecontrol/notifications', JSON.stringify(json), { qos: 1 });
  }

  async smartRest(line: string): Promise<void> {
    await this.client!.publishAsync('s/ds', line, { qos: 1 });
  }
}

const jsonOperation = (id: string, text: string, externalId = CHILD) => ({
  id,
  status: 'PENDING',
  c8y_Command: { text },
  externalSource: { externalId, type: 'c8y_Serial' },
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Cumulocity: gateway, child devices and operations against a mosquitto playing Cumulocity (TLS, password, ACL)', function () {
  this.timeout(180000);
  let certs: TestCerts;
  let aclDir: string;
  let broker: Mosquitto;
  let platform: Platform;
  let userDir: string;
  let lrc: FakeLrc;
  let gatewayCount = 0;
  let gatewayId = '';

  const modules = () =>
    servingHttpNodes([
      tlsNode,
      networkNode,
      uplinkInNode,
      downlinkOutNode,
      cumulocityNode,
      cumulocityOutNode,
      downlinkInNode,
    ]);

  before(async () => {
    certs = makeTestCerts();
    aclDir = fs.mkdtempSync(path.join(os.tmpdir(), 'c8y-acl-'));
    fs.chmodSync(aclDir, 0o755);
    fs.writeFileSync(path.join(aclDir, 'acl'), ACL.join('\n') + '\n');
    fs.chmodSync(path.join(aclDir, 'acl'), 0o644);
    broker = new Mosquitto({
      users: { [`${TENANT}/${USER}`]: PASSWORD, 'c8y-platform': 'platform-pass' },
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
      // The recorder takes thousands of QoS 1 messages in a burst: no cap on its queue.
      extra: [`acl_file ${path.join(aclDir, 'acl')}`, 'log_type notice', 'max_queued_messages 0'],
    });
    await broker.start();
    platform = new Platform(() => ({
      url: `mqtts://127.0.0.1:${broker.port}`,
      ca: fs.readFileSync(certs.caFile),
    }));
    await platform.connect();
    await helper.startServer();
    lrc = await new FakeLrc({ asKey: AS_KEY }).start();
  });
  after(async () => {
    await platform.end();
    await helper.stopServer();
    await broker.dispose();
    await lrc.stop();
    fs.rmSync(certs.dir, { recursive: true, force: true });
    fs.rmSync(aclDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-c8y-'));
    helper.settings({ userDir });
    platform.clear();
    // A gateway id per test: nothing of an earlier test can be taken for this one's.
    gatewayId = `edge-test-${++gatewayCount}`;
    lrc.received.length = 0;
    lrc.options.reportTo = { url: `${helper.url()}/c8y/uplink`, asId: AS_ID, asKey: AS_KEY };
    lrc.options.failNext = undefined;
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const flow = (c8y: Record<string, unknown> = {}, options: { downlinkOut?: boolean } = {}) => [
    { id: 'tab', type: 'tab', label: 'cumulocity' },
    { id: 'tls', type: 'tls-config', cert: '', key: '', ca: certs.caFile, verifyservercert: true },
    {
      id: 'c8y',
      type: 'thingpark-cumulocity',
      hostName: `127.0.0.1:${broker.port}`,
      tenantId: TENANT,
      tls: 'tls',
      gatewayId,
      gatewayName: GATEWAY_NAME,
      bufferMax: 100000,
      bufferPolicy: 'drop-oldest',
      ...c8y,
    },
    { id: 'out', z: 'tab', type: 'thingpark-cumulocity-out', cumulocity: 'c8y', wires: [['stats']] },
    { id: 'stats', z: 'tab', type: 'helper' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'http',
      asId: AS_ID,
      maxTimeDeviation: 60,
      lrcUrl: lrc.url,
    },
    {
      id: 'up',
      z: 'tab',
      type: 'thingpark-uplink-in',
      network: 'net',
      path: '/c8y/uplink',
      wires: [['out']],
    },
    {
      id: 'dlin',
      z: 'tab',
      type: 'thingpark-downlink-in',
      cumulocity: 'c8y',
      wires: [options.downlinkOut === false ? ['dlmsg'] : ['dlout', 'dlmsg']],
    },
    { id: 'dlmsg', z: 'tab', type: 'helper' },
    { id: 'dlout', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['dlresult']] },
    { id: 'dlresult', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
  const creds = (password = PASSWORD) => ({
    c8y: { username: USER, password },
    net: { asKey: AS_KEY },
  });
  const c8y = () => helper.getNode('c8y');
  const connected = () =>
    waitFor(() => c8y().connection.client.state === 'connected', 15000, 'Cumulocity connected');
  const drained = (delivered: number, timeout = 15000) =>
    waitFor(
      () => c8y().connection.stats().queued === 0 && c8y().connection.stats().delivered >= delivered,
      timeout,
      `${delivered} delivered`,
    );
  const errorsOf = (caught: Array<Record<string, unknown>>) =>
    caught.map((c) => String((c.error as { message: string }).message));
  /** Registers the fixture device with one uplink, then forgets what was recorded. */
  const registerDevice = async () => {
    helper.getNode('out').receive({ payload: loraUplink() });
    await waitFor(() => platform.payloads('event/events/create').length === 1, 10000, 'first uplink');
    platform.clear();
  };

  it('refuses an unknown broker certificate by default, and says so (Catch, red status)', async () => {
    const noCa = flow().map((n) => (n.id === 'c8y' ? { ...n, tls: '' } : n));
    await helper.load(modules(), noCa, creds());
    const caught = collect(helper.getNode('caught'));
    await waitFor(() => caught.length > 0, 15000, 'TLS error');
    assert.match(
      errorsOf(caught)[0],
      /Cumulocity connection failed: .*(self[- ]signed|unable to verify|certificate)/i,
    );
    assert.notEqual(c8y().connection.client.state, 'connected');
    await waitFor(
      () => helper.getNode('out').status.args.some((a: Array<{ fill?: string }>) => a[0]?.fill === 'red'),
      10000,
      'red status',
    );
  });

  it('connects as <tenant>/<user> with the gateway id as client id, announces the gateway, registers a device once before its data', async () => {
    await helper.load(modules(), flow(), creds());
    const caught = collect(helper.getNode('caught'));
    await connected();
    // The startup, then 105 (its children, to find ones deleted in Cumulocity) after the 114 refresh.
    await waitFor(() => platform.payloads('s/us').length === 2, 5000, 'gateway startup');
    assert.deepEqual(errorsOf(caught), []);
    // Platform diagnostics (s/e, error) are read and reported as Catch-able errors.
    await platform.client!.publishAsync('s/e', '40,,No static template for this message id', { qos: 1 });
    await waitFor(() => caught.length === 1, 5000, 'error reported');
    assert.deepEqual(errorsOf(caught), [
      'Cumulocity reported an error on s/e: 40,,No static template for this message id',
    ]);
    caught.length = 0;
    assert.deepEqual(platform.records, [
      { topic: 's/us', payload: startup(gatewayId) },
      { topic: 's/us', payload: '105' },
    ]);
    assert.match(broker.log, new RegExp(`New client connected .* as ${gatewayId} .*u'${TENANT}/${USER}'`));

    const out = helper.getNode('out');
    out.receive({ payload: loraUplink() });
    out.receive({ payload: loraUplink() });
    await drained(2);
    await waitFor(() => platform.records.length === 8, 5000, 'registration and two uplinks');
    assert.deepEqual(platform.records.slice(2), [
      { topic: 's/us', payload: REGISTER_101 },
      { topic: CHILD_TOPIC, payload: REGISTER_CHILD },
      { topic: CHILD_TOPIC, payload: UPLINK_LINES },
      { topic: 'event/events/create', payload: UPLINK_EVENT },
      { topic: CHILD_TOPIC, payload: UPLINK_LINES },
      { topic: 'event/events/create', payload: UPLINK_EVENT },
    ]);
    const registry = JSON.parse(
      fs.readFileSync(path.join(userDir, 'thingpark-cumulocity', 'c8y', 'children.json'), 'utf8'),
    );
    assert.deepEqual(registry, { version: 1, gatewayId, children: { [CHILD]: 0 }, cellular: [] });
  });

  it('the heartbeat setting (minutes) reaches the gateway: 125 on s/us at that interval, after the startup and 105', async () => {
    await helper.load(modules(), flow({ heartbeatInterval: '0.005' }), creds()); // 300 ms
    await connected();
    await waitFor(() => platform.lines('s/us').filter((l) => l === '125').length >= 2, 5000, 'heartbeats');
    assert.deepEqual(platform.payloads('s/us').slice(0, 4), [startup(gatewayId), '105', '125', '125']);
  });

  it('maps every document type to the exact SmartREST lines; bad documents are refused with a Catch-able error', async () => {
    await helper.load(modules(), flow(), creds());
    await connected();
    await registerDevice();
    const caught = collect(helper.getNode('caught'));
    const out = helper.getNode('out');
    const documents = [
      {
        DevEUI_location: {
          DevEUI: DEVEUI,
          Time: '2024-01-01T10:00:05.000+00:00',
          DevLocTime: '2024-01-01T10:00:00.000+00:00',
          DevLAT: 43.58081,
          DevLON: 1.4421667,
          DevAlt: 150,
          DevLocRadius: 30,
        },
      },
      { DevEUI_notification: { DevEUI: DEVEUI, Time: TIME, Type: 'reset', Var1: 'cause "wdt", 2' } },
      {
        DevEUI_alarm: {
          ID: 4,
          State: 5,
          CreationTime: '2023-09-09T18:14:56.49+02:00',
          LastUpdateTime: '2023-09-09T18:25:24.49+02:00',
          Occurrence: 1,
          AddInfo1: '69',
          DevEUI: DEVEUI,
        },
      },
      { DevEUI_alarm: { ID: 4, State: 1, DevEUI: DEVEUI, LastUpdateTime: '2023-09-09T19:00:00.00+02:00' } },
      {
        BS_alarm: {
          ID: 102,
          State: 5,
          LastUpdateTime: '2023-09-09T18:25:24.49+02:00',
          AddInfo1: '10',
          LrrID: '100001C2',
        },
      },
      // A report of a downlink no operation made: nothing to close.
      {
        DevEUI_downlink_Sent: {
          DevEUI: DEVEUI,
          Time: TIME,
          DeliveryStatus: 1,
          CorrelationID: 'ABCDEF0123456789',
        },
      },
    ];
    for (const payload of documents) out.receive({ payload });
    out.receive({ payload: { DevEUI_alarm: { ID: 4, State: 9, DevEUI: DEVEUI } } });
    out.receive({ payload: { DevEUI_location: { DevEUI: DEVEUI, DevLAT: 95, DevLON: 1 } } });
    await drained(documents.length + 1);
    await waitFor(() => platform.records.length === 5, 5000, 'five publishes');
    await sleep(200);
    // Queued per device: the base station alarm (the gateway's) may overtake the device's documents.
    assert.deepEqual(
      platform.records.filter((r) => r.topic === CHILD_TOPIC),
      [
        { topic: CHILD_TOPIC, payload: '402,43.58081,1.4421667,150,30,2024-01-01T10:00:00.000+00:00' },
        {
          topic: CHILD_TOPIC,
          payload:
            '400,c8y_ThingParkNotification,"ThingPark notification reset (Var1=cause ""wdt"", 2)",2024-01-01T10:00:00.000+00:00',
        },
        {
          topic: CHILD_TOPIC,
          payload:
            '302,c8y_ThingParkAlarm_004,"No uplink activity (ThingPark alarm 004, info 69)",2023-09-09T18:25:24.49+02:00\n' +
            '305,c8y_ThingParkAlarm_004,MAJOR',
        },
        { topic: CHILD_TOPIC, payload: '306,c8y_ThingParkAlarm_004' },
      ],
    );
    assert.deepEqual(
      platform.records.filter((r) => r.topic !== CHILD_TOPIC),
      [
        {
          topic: 's/us',
          payload:
            '302,c8y_ThingParkBaseStationAlarm_102_100001C2,' +
            '"Base station connection status (base station 100001C2, ThingPark alarm 102, info 10)",' +
            '2023-09-09T18:25:24.49+02:00\n305,c8y_ThingParkBaseStationAlarm_102_100001C2,MAJOR',
        },
      ],
    );
    await waitFor(() => caught.length === 2, 5000, 'two refusals');
    assert.deepEqual(errorsOf(caught), [
      'Error: Not sent: Cumulocity mapping invalid-field (DevEUI_alarm): alarm State 9 (expected 1-6)',
      'Error: Not sent: Cumulocity mapping invalid-field (DevEUI_location): position 95, 1',
    ]);
    assert.equal(c8y().connection.stats().poisoned, 0);
  });

  it('a JSON operation round-trips: downlink in → downlink out → LRC → 504, sent report → uplink in → cumulocity out → 506', async () => {
    await helper.load(modules(), flow(), creds());
    await connected();
    await registerDevice();
    const dl = nextMessage(helper.getNode('dlmsg'));
    const result = nextMessage(helper.getNode('dlresult'));
    await platform.operation(jsonOperation('4711', 'raw 2 0A0B'));
    const msg = await dl;
    const document = (msg.payload as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink;
    const correlationId = String(document.CorrelationID);
    assert.match(correlationId, /^[0-9A-F]{16}$/);
    assert.deepEqual(document, {
      DevEUI: DEVEUI,
      FPort: 2,
      payload_hex: '0a0b',
      CorrelationID: correlationId,
    });
    assert.equal(msg.topic, DEVEUI);
    assert.deepEqual((msg.thingpark as Record<string, unknown>).origin, {
      platform: 'cumulocity',
      config: 'c8y',
      ref: { childId: CHILD, correlationId, operationId: '4711' },
    });
    assert.equal(((await result).payload as { status: string }).status, 'queued');
    assert.equal(lrc.received[0].query.get('CorrelationID'), correlationId);
    assert.equal(lrc.received[0].query.get('FPort'), '2');
    assert.equal(lrc.received[0].query.get('Payload'), '0a0b');
    await waitFor(() => platform.lines(CHILD_TOPIC).length === 2, 10000, '504 and 506');
    assert.deepEqual(platform.lines(CHILD_TOPIC), ['504,4711', '506,4711,"sent by ThingPark, FCntDn 1"']);
    await waitFor(() => c8y().client.operations.size === 0, 5000, 'operation forgotten');
    await c8y().client.operations.flush();
    const stored = JSON.parse(
      fs.readFileSync(path.join(userDir, 'thingpark-cumulocity', 'c8y', 'operations.json'), 'utf8'),
    );
    assert.deepEqual(stored.pending, []);
    assert.deepEqual(
      stored.handled.map((h: [string, number]) => h[0]),
      ['4711'],
    );
  });

  it('an s/ds operation (511, no id) round-trips with 501 then 503; the structured fragment works too', async () => {
    await helper.load(modules(), flow(), creds());
    await connected();
    await registerDevice();
    const results = collect(helper.getNode('dlresult'));
    await platform.smartRest(`511,${CHILD},ab01:3`);
    await waitFor(() => platform.lines(CHILD_TOPIC).length === 2, 10000, '501 and 503');
    assert.deepEqual(platform.lines(CHILD_TOPIC), [
      '501,c8y_Command',
      '503,c8y_Command,"sent by ThingPark, FCntDn 1"',
    ]);
    assert.equal(lrc.received[0].query.get('FPort'), '3');
    assert.equal(lrc.received[0].query.get('Payload'), 'ab01');

    platform.clear();
    await platform.operation({
      id: '4713',
      status: 'PENDING',
      c8y_LoRaDownlink: { fPort: 7, payloadHex: 'C0FFEE', confirmed: true },
      externalSource: { externalId: CHILD, type: 'c8y_Serial' },
    });
    await waitFor(() => platform.lines(CHILD_TOPIC).length === 2, 10000, '504 and 506');
    assert.deepEqual(platform.lines(CHILD_TOPIC), ['504,4713', '506,4713']);
    assert.equal(lrc.received[1].query.get('FPort'), '7');
    assert.equal(lrc.received[1].query.get('Payload'), 'c0ffee');
    assert.equal(lrc.received[1].query.get('Confirmed'), '1');
    assert.equal(results.length, 2);
  });

  it('one command delivered on both topics is executed once and reported by its id, whichever copy comes first', async () => {
    await helper.load(modules(), flow(), creds());
    await connected();
    await registerDevice();
    await Promise.all([
      platform.operation(jsonOperation('5001', 'cafe')),
      platform.smartRest(`511,${CHILD},cafe`),
    ]);
    await waitFor(() => platform.lines(CHILD_TOPIC).length === 2, 10000, 'first operation closed');
    await Promise.all([
      platform.smartRest(`511,${CHILD},beef:4`),
      platform.operation(jsonOperation('5002', 'beef:4')),
    ]);
    await waitFor(() => platform.lines(CHILD_TOPIC).length === 4, 10000, 'second operation closed');
    await sleep(500);
    assert.deepEqual(platform.lines(CHILD_TOPIC), [
      '504,5001',
      '506,5001,"sent by ThingPark, FCntDn 1"',
      '504,5002',
      '506,5002,"sent by ThingPark, FCntDn 1"',
    ]);
    assert.deepEqual(
      lrc.received.map((r) => r.query.get('Payload')),
      ['cafe', 'beef'],
    );
  });

  it('an invalid command, a device that is not ours and a downlink ThingPark refuses go FAILED with the reason, as Catch-able errors', async () => {
    await helper.load(modules(), flow(), creds());
    await connected();
    await registerDevice();
    const caught = collect(helper.getNode('caught'));
    const downlinks = collect(helper.getNode('dlmsg'));
    await platform.operation(jsonOperation('4712', 'raw 2 xyz'));
    await platform.smartRest(`511,${CHILD},zz`);
    await platform.operation(jsonOperation('4714', '0102', gatewayId));
    await waitFor(() => caught.length === 3, 10000, 'three invalid operations');
    assert.deepEqual(errorsOf(caught), [
      'Invalid downlink from Cumulocity: Cumulocity operation bad-hex (operation 4712): payload is not hexadecimal: "xyz"',
      'Invalid downlink from Cumulocity: Cumulocity operation bad-hex: payload is not hexadecimal: "zz"',
      `Invalid downlink from Cumulocity: Cumulocity operation unknown-device (operation 4714): no ThingPark device with child id "${gatewayId}"`,
    ]);
    await waitFor(() => platform.records.length === 3, 5000, 'three FAILED');
    // Statuses are queued per device: the gateway's own may overtake the child's.
    assert.deepEqual(
      platform.records.filter((r) => r.topic === CHILD_TOPIC),
      [
        {
          topic: CHILD_TOPIC,
          payload:
            '504,4712\n505,4712,"Cumulocity operation bad-hex (operation 4712): payload is not hexadecimal: ""xyz"""',
        },
        {
          topic: CHILD_TOPIC,
          payload:
            '501,c8y_Command\n502,c8y_Command,"Cumulocity operation bad-hex: payload is not hexadecimal: ""zz"""',
        },
      ],
    );
    assert.deepEqual(
      platform.records.filter((r) => r.topic === 's/us'),
      [
        {
          topic: 's/us',
          payload: `504,4714\n505,4714,"Cumulocity operation unknown-device (operation 4714): no ThingPark device with child id ""${gatewayId}"""`,
        },
      ],
    );
    assert.equal(downlinks.length, 0);
    assert.equal(lrc.received.length, 0);

    platform.clear();
    lrc.options.failNext = { count: 1, status: 400 };
    await platform.operation(jsonOperation('4715', '0102'));
    await waitFor(() => platform.records.length === 1, 10000, 'refused by the LRC');
    assert.deepEqual(platform.records, [
      // Never EXECUTING: 504 first, so the operation goes through the documented lifecycle.
      {
        topic: CHILD_TOPIC,
        payload: '504,4715\n505,4715,"Refused by ThingPark: Service temporarily unavailable"',
      },
    ]);
    await waitFor(() => caught.length === 4, 5000, 'downlink out error');
    assert.match(errorsOf(caught)[3], /Service temporarily unavailable/);
  });

  it('successOn "queued": SUCCESSFUL as soon as ThingPark queued it; the later sent report changes nothing', async () => {
    await helper.load(modules(), flow({ successOn: 'queued' }), creds());
    await connected();
    await registerDevice();
    await platform.operation(jsonOperation('6001', '01'));
    await waitFor(() => platform.records.length === 1, 10000, 'status');
    assert.deepEqual(platform.records, [
      { topic: CHILD_TOPIC, payload: '504,6001\n506,6001,"queued by ThingPark"' },
    ]);
    await waitFor(() => c8y().connection.stats().delivered >= 3, 5000, 'sent report delivered');
    await sleep(300);
    assert.equal(platform.records.length, 1);
  });

  it('restart: no device registered again, 114 re-sent, a replayed pending operation is not executed twice and times out to FAILED', async () => {
    const config = { operationTimeout: 0.15 };
    await helper.load(modules(), flow(config, { downlinkOut: false }), creds());
    await connected();
    const out = helper.getNode('out');
    out.receive({ payload: loraUplink() });
    await drained(1);
    let downlinks = collect(helper.getNode('dlmsg'));
    await platform.operation(jsonOperation('4900', '0a'));
    await platform.smartRest(`511,${CHILD},0b`);
    await waitFor(() => downlinks.length === 2, 5000, 'two operations handed over');
    await platform.operation(jsonOperation('4900', '0a'));
    await sleep(500);
    assert.equal(downlinks.length, 2, 'a replay in the same session is not handed over again');
    assert.equal(platform.lines('s/us').filter((l) => l.startsWith('101,')).length, 1);

    await helper.unload();
    platform.clear();
    await helper.load(modules(), flow(config, { downlinkOut: false }), creds());
    downlinks = collect(helper.getNode('dlmsg'));
    await connected();
    await waitFor(() => platform.lines(CHILD_TOPIC).includes(OPS_114), 5000, '114 re-sent');
    await waitFor(() => platform.payloads('s/us').length === 2, 5000, 'startup and 105');
    assert.deepEqual(platform.payloads('s/us'), [startup(gatewayId), '105']);
    helper.getNode('out').receive({ payload: loraUplink() });
    await drained(1);
    // The platform replays what is still PENDING on subscribe.
    await platform.operation(jsonOperation('4900', '0a'));
    await platform.smartRest(`511,${CHILD},0b`);
    await platform.operation(jsonOperation('4901', '0c'));
    await waitFor(() => downlinks.some((d) => d.topic === DEVEUI), 5000, 'the new operation');
    await sleep(500);
    assert.deepEqual(
      downlinks.map(
        (d) => (d.payload as { DevEUI_downlink: { payload_hex: string } }).DevEUI_downlink.payload_hex,
      ),
      ['0c'],
      'replayed operations are not handed over again',
    );
    assert.equal(
      platform.lines('s/us').filter((l) => l.startsWith('101,')).length,
      0,
      'no 101 after restart',
    );
    assert.deepEqual(platform.records.slice(1, 4), [
      { topic: CHILD_TOPIC, payload: OPS_114 },
      { topic: 's/us', payload: '105' },
      { topic: CHILD_TOPIC, payload: UPLINK_LINES },
    ]);

    // Handed before the restart, never reported: FAILED once the stored time is up.
    await waitFor(() => platform.lines(CHILD_TOPIC).some((l) => l.startsWith('505,4900')), 15000, 'timeout');
    await waitFor(() => platform.lines(CHILD_TOPIC).some((l) => l.startsWith('502,')), 5000, 's/ds timeout');
    const lines = platform.lines(CHILD_TOPIC);
    assert.ok(lines.includes('505,4900,"No report from ThingPark within 9 s"'), lines.join('\n'));
    assert.ok(lines.includes('502,c8y_Command,"No report from ThingPark within 9 s"'), lines.join('\n'));
  });

  it('2 500 devices: spread over 3 gateway identities of at most 1 000 children, each registered once, 114 re-sent by each identity after a restart', async () => {
    const total = 2500;
    const dev = (i: number) => `00AA${i.toString(16).toUpperCase().padStart(12, '0')}`;
    await helper.load(modules(), flow(), creds());
    await connected();
    const out = helper.getNode('out');
    for (let i = 0; i < total; i++) {
      out.receive({
        payload: {
          DevEUI_uplink: { DevEUI: dev(i), Time: TIME, FPort: 1, FCntUp: 1, payload_hex: '00', LrrRSSI: -70 },
        },
      });
    }
    await drained(total, 120000);
    // Three gateway startups, then per device: 101, its child lines, its measurement and its event.
    // (and each identity's 105)
    await waitFor(() => platform.records.length === 6 + 4 * total, 20000, 'everything recorded');
    const registered = platform.lines('s/us').filter((l) => l.startsWith('101,'));
    assert.equal(registered.length, total);
    assert.equal(new Set(registered.map((l) => l.split(',')[1])).size, total, 'each device registered once');
    assert.deepEqual(
      platform.lines('s/us').filter((l) => l.startsWith('100,')),
      [
        '100,"Edge test",c8y_ThingParkGateway',
        '100,"Edge test (2)",c8y_ThingParkGateway',
        '100,"Edge test (3)",c8y_ThingParkGateway',
      ],
    );
    const client = c8y().client;
    assert.deepEqual(client.gatewayIds, [gatewayId, `${gatewayId}-2`, `${gatewayId}-3`]);
    assert.deepEqual(client.registry.counts, [1000, 1000, 500]);
    for (const id of [`${gatewayId}-2`, `${gatewayId}-3`]) {
      assert.match(broker.log, new RegExp(`New client connected .* as ${id} `), `${id} connected`);
    }

    await helper.unload();
    platform.clear();
    await helper.load(modules(), flow(), creds());
    await waitFor(
      () => platform.records.filter((r) => r.payload === OPS_114).length === total,
      60000,
      '114 for every device',
    );
    assert.equal(
      new Set(platform.records.filter((r) => r.payload === OPS_114).map((r) => r.topic)).size,
      total,
    );
    assert.equal(platform.lines('s/us').filter((l) => l.startsWith('100,')).length, 3);
    assert.equal(platform.lines('s/us').filter((l) => l.startsWith('101,')).length, 0);
  });

  it('the example flow: its decoder fills payload and points, which arrive as measurements with units', async () => {
    const example = JSON.parse(
      fs.readFileSync(path.join(repoRoot, 'examples', 'ThingPark to Cumulocity.json'), 'utf8'),
    ) as Array<Record<string, unknown>>;
    const config = example.find((n) => n.type === 'thingpark-cumulocity')!;
    const flowNodes = example.map((n) =>
      n === config
        ? { ...n, hostName: `127.0.0.1:${broker.port}`, tenantId: TENANT, tls: 'tls', gatewayId }
        : n,
    );
    flowNodes.push({
      id: 'tls',
      type: 'tls-config',
      cert: '',
      key: '',
      ca: certs.caFile,
      verifyservercert: true,
    });
    await helper.load(
      [
        ...modules(),
        require('@node-red/nodes/core/function/10-function.js'),
        require('@node-red/nodes/core/function/10-switch.js'),
        require('@node-red/nodes/core/common/21-debug.js'),
        require('@node-red/nodes/core/common/90-comment.js'),
      ],
      flowNodes,
      { [String(config.id)]: { username: USER, password: PASSWORD } },
    );
    const connection = helper.getNode(String(config.id)).connection;
    await waitFor(() => connection.client.state === 'connected', 15000, 'connected');
    const uplink = {
      DevEUI: DEVEUI,
      Time: TIME,
      FPort: 2,
      FCntUp: 1,
      payload_hex: '01070828',
      LrrRSSI: -80,
      LrrSNR: 7.5,
      SpFact: 7,
    };
    const switchNode = example.find((n) => n.type === 'switch')!;
    helper.getNode(String(switchNode.id)).receive({
      payload: { DevEUI_uplink: uplink },
      topic: DEVEUI,
      thingpark: { type: 'DevEUI_uplink', devEUI: DEVEUI },
    });
    await waitFor(() => platform.lines(CHILD_TOPIC).some((l) => l.startsWith('201,')), 10000, 'measurements');
    assert.deepEqual(
      platform.lines(CHILD_TOPIC).filter((l) => l.startsWith('201,')),
      [
        `201,c8y_SignalStrength,${TIME},c8y_SignalStrength,rssi,-80,dBm,c8y_SignalStrength,snr,7.5,dB,c8y_SignalStrength,sf,7,`,
        `201,c8y_ThingParkMeasurement,${TIME},temperature,temperature,18,°C,humidity,humidity,40,%RH`,
      ],
    );
  });

  it('outage: broker stopped, uplinks queued (new devices too), broker back: everything delivered in order', async () => {
    // The platform keeps its session across the broker restart, so it misses nothing.
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'c8y-persist-'));
    fs.chmodSync(dataDir, 0o777);
    const outageBroker = new Mosquitto({
      users: { [`${TENANT}/${USER}`]: PASSWORD, 'c8y-platform': 'platform-pass' },
      extra: [
        `acl_file ${path.join(aclDir, 'acl')}`,
        'max_queued_messages 0',
        'persistence true',
        `persistence_location ${dataDir}/`,
      ],
    });
    await outageBroker.start();
    const recorder = new Platform(() => ({
      url: `mqtt://127.0.0.1:${outageBroker.port}`,
      clientId: 'c8y-recorder',
      clean: false,
    }));
    try {
      await recorder.connect();
      await helper.load(
        modules(),
        flow({ hostName: `127.0.0.1:${outageBroker.port}`, tls: '', insecure: true }),
        creds(),
      );
      await connected();
      const out = helper.getNode('out');
      out.receive({ payload: loraUplink() });
      await drained(1);
      await waitFor(() => recorder.records.length === 6, 5000, 'first uplink recorded');
      await recorder.end();
      recorder.clear();
      await outageBroker.stop();
      await waitFor(() => c8y().connection.client.state !== 'connected', 5000, 'disconnected');

      const devices = ['0018B20000000B20', '0018B20000000001', '0018B20000000002'];
      const perDevice = 50;
      for (let i = 0; i < perDevice; i++) {
        for (const d of devices) {
          out.receive({
            payload: {
              DevEUI_uplink: { DevEUI: d, Time: TIME, FCntUp: i, payload_hex: '00', LrrRSSI: -1 - i },
            },
          });
        }
      }
      await waitFor(
        () => c8y().connection.stats().queued === devices.length * perDevice,
        10000,
        'all queued',
      );
      await waitFor(
        () =>
          helper
            .getNode('out')
            .status.args.some((a: Array<{ text?: string }>) => /150 queued/.test(a[0]?.text ?? '')),
        5000,
        'status shows the queue',
      );

      await outageBroker.start();
      await recorder.connect();
      await waitFor(() => c8y().connection.stats().queued === 0, 60000, 'queue drained');
      await waitFor(
        () => recorder.payloads('event/events/create').length >= devices.length * perDevice,
        10000,
        'all events',
      );
      for (const d of devices) {
        const child = d.toLowerCase();
        const rssi = recorder
          .lines(`s/us/${child}`)
          .filter((l) => l.startsWith('201,c8y_SignalStrength'))
          .map((l) => Number(l.split(',')[5]));
        assert.deepEqual(
          [...new Set(rssi)],
          Array.from({ length: perDevice }, (_, i) => -1 - i),
          `order and completeness for ${d}`,
        );
      }
      const registered = recorder.lines('s/us').filter((l) => l.startsWith('101,'));
      assert.deepEqual(registered.map((l) => l.split(',')[1]).sort(), [
        '0018b20000000001',
        '0018b20000000002',
      ]);
    } finally {
      await recorder.end();
      await helper.unload();
      await outageBroker.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
