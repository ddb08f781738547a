import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as os from 'os';
import * as path from 'path';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { Mosquitto } from '../../testkit/broker';
import { makeTestCerts, type TestCerts } from '../helpers/certs';
import {
  collect,
  coreNode,
  downlinkOutNode,
  helper,
  networkNode,
  nextMessage,
  servingHttpNodes,
  waitFor,
} from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const wmwNode = require(nodeFile('wmw'));
const wmwOutNode = require(nodeFile('wmw-out'));
const downlinkInNode = require(nodeFile('downlink-in'));
const tlsNode = coreNode('core/network/05-tls.js');

const ENTERPRISE = '1234';
const DEV = '0018B20000000B20';
const AS_KEY = 'wmw-test-as-key';

describe('WMW: wmw out and downlinks from WMW, against a real mosquitto with TLS and passwords', function () {
  this.timeout(120000);
  let certs: TestCerts;
  let broker: Mosquitto;
  let platform: mqtt.MqttClient;
  let userDir: string;
  let lrc: FakeLrc;

  const modules = () =>
    servingHttpNodes([tlsNode, networkNode, downlinkOutNode, wmwNode, wmwOutNode, downlinkInNode]);
  const connectPlatform = () =>
    mqtt.connectAsync(`mqtts://127.0.0.1:${broker.port}`, {
      username: 'wmw-platform',
      password: 'platform-pass',
      ca: fs.readFileSync(certs.caFile),
      reconnectPeriod: 0,
    });

  before(async () => {
    certs = makeTestCerts();
    broker = new Mosquitto({
      users: { 'edge-gw': 'right-pass', 'wmw-platform': 'platform-pass' },
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
      persistence: true,
    });
    await broker.start();
    platform = await connectPlatform();
    await helper.startServer();
    lrc = await new FakeLrc({ asKey: AS_KEY }).start();
  });
  after(async () => {
    await platform.endAsync(true);
    await helper.stopServer();
    await broker.dispose();
    await lrc.stop();
    fs.rmSync(certs.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-user-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const flow = (wmw: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab', label: 'wmw' },
    {
      id: 'tls',
      type: 'tls-config',
      cert: '',
      key: '',
      ca: certs.caFile,
      verifyservercert: true,
      servername: '',
    },
    {
      id: 'wmw',
      type: 'thingpark-wmw',
      region: 'custom',
      hostName: `127.0.0.1:${broker.port}`,
      enterpriseId: ENTERPRISE,
      tls: 'tls',
      bufferMax: 100000,
      bufferPolicy: 'drop-oldest',
      ...wmw,
    },
    {
      id: 'out',
      z: 'tab',
      type: 'thingpark-wmw-out',
      wmw: 'wmw',
      types: ['DevEUI_uplink'],
      wires: [['stats']],
    },
    { id: 'stats', z: 'tab', type: 'helper' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'http',
      asId: 'wmw.as',
      maxTimeDeviation: 60,
      lrcUrl: lrc.url,
    },
    { id: 'dlin', z: 'tab', type: 'thingpark-downlink-in', wmw: 'wmw', wires: [['dlout', 'dlmsg']] },
    { id: 'dlmsg', z: 'tab', type: 'helper' },
    { id: 'dlout', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['dlresult']] },
    { id: 'dlresult', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
  const creds = (password = 'right-pass') => ({
    wmw: { username: 'edge-gw', password },
    net: { asKey: AS_KEY },
  });
  const connected = () =>
    waitFor(() => helper.getNode('wmw').connection.client.state === 'connected', 15000, 'WMW connected');

  it('a wrong password gives a clear red status and a Catch-able error', async () => {
    await helper.load(modules(), flow(), creds('wrong-pass'));
    const caught = collect(helper.getNode('caught'));
    await waitFor(() => caught.length > 0, 15000, 'connection error');
    assert.match(
      String((caught[0].error as { message: string }).message),
      /WMW connection failed: .*(Not authorized|Bad username or password)/i,
    );
    const out = helper.getNode('out');
    await waitFor(
      () =>
        out.status.args.some(
          (a: Array<{ fill?: string; text?: string }>) =>
            a[0]?.fill === 'red' && /disconnected/.test(a[0].text ?? ''),
        ),
      10000,
      'red status',
    );
  });

  it('takes ${ENV} references for the host and the credentials from the environment', async () => {
    process.env.WMW_TEST_HOST = `127.0.0.1:${broker.port}`;
    process.env.WMW_TEST_USER = 'edge-gw';
    process.env.WMW_TEST_PASS = 'right-pass';
    try {
      const fromEnv = flow().map((n) => (n.id === 'wmw' ? { ...n, hostName: '${WMW_TEST_HOST}' } : n));
      await helper.load(modules(), fromEnv, {
        wmw: { username: '${WMW_TEST_USER}', password: '${WMW_TEST_PASS}' },
      });
      await connected();
    } finally {
      delete process.env.WMW_TEST_HOST;
      delete process.env.WMW_TEST_USER;
      delete process.env.WMW_TEST_PASS;
    }
  });

  it('verifies the broker certificate by default: an unknown CA is refused', async () => {
    const noCa = flow().map((n) => (n.id === 'wmw' ? { ...n, tls: '' } : n));
    await helper.load(modules(), noCa, creds());
    const caught = collect(helper.getNode('caught'));
    await waitFor(() => caught.length > 0, 15000, 'TLS error');
    assert.match(
      String((caught[0].error as { message: string }).message),
      /WMW connection failed: .*(self[- ]signed|unable to verify|certificate)/i,
    );
    assert.notEqual(helper.getNode('wmw').connection.client.state, 'connected');
  });

  it('publishes uplinks to uplink_<id> as typed JSON with the root key, QoS 1, other types filtered', async () => {
    await platform.subscribeAsync(`uplink_${ENTERPRISE}`, { qos: 1 });
    const received: Array<{ topic: string; payload: unknown; qos: number }> = [];
    const onMessage = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) =>
      received.push({ topic, payload: JSON.parse(payload.toString()), qos: packet.qos });
    platform.on('message', onMessage);
    try {
      await helper.load(modules(), flow(), creds());
      await connected();
      const out = helper.getNode('out');
      const up = sampleUplink(DEV, 1);
      out.receive({ payload: { DevEUI_uplink: up }, topic: DEV });
      out.receive({ payload: { DevEUI_notification: { DevEUI: DEV, Type: 'join' } } });
      await waitFor(() => received.length === 1, 5000, 'uplink at WMW');
      assert.deepEqual(received[0], {
        topic: `uplink_${ENTERPRISE}`,
        payload: { DevEUI_uplink: up },
        qos: 1,
      });
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(received.length, 1, 'the notification is not forwarded by default');
      const stats = nextMessage(helper.getNode('stats'));
      out.receive({ topic: 'stats' });
      const s = (await stats).payload as Record<string, unknown>;
      assert.equal(s.platform, 'WMW');
      assert.equal(s.connection, 'connected');
      assert.equal(s.delivered, 1);
      assert.equal(s.queued, 0);
    } finally {
      platform.off('message', onMessage);
      await platform.unsubscribeAsync(`uplink_${ENTERPRISE}`);
    }
  });

  it('refuses bad input with done(err) and queues nothing', async () => {
    await helper.load(modules(), flow(), creds());
    const caught = collect(helper.getNode('caught'));
    const out = helper.getNode('out');
    out.receive({ payload: { DevEUI_uplink: { FPort: 1, payload_hex: '00' } } });
    out.receive({ payload: 'a string' });
    const big = sampleUplink(DEV, 2);
    big.payload = { blob: 'x'.repeat(300 * 1024) };
    out.receive({ payload: { DevEUI_uplink: big } });
    await waitFor(() => caught.length === 3, 5000, 'three errors');
    const reasons = caught.map((c) => String((c.error as { message: string }).message));
    assert.match(reasons[0], /Not sent: DevEUI_uplink has no DevEUI/);
    assert.match(reasons[1], /Not sent: document must be a JSON object/);
    assert.match(reasons[2], /Not sent: the message is \d+ bytes, more than 262144/);
    assert.equal(helper.getNode('wmw').connection.stats().queued, 0);
  });

  it('a message on downlink_<id> comes out of downlink in and reaches the LRC signed; garbage is a Catch-able error', async () => {
    await helper.load(modules(), flow(), creds());
    await connected();
    const caught = collect(helper.getNode('caught'));
    const dl = nextMessage(helper.getNode('dlmsg'));
    const result = nextMessage(helper.getNode('dlresult'));
    await platform.publishAsync(`downlink_${ENTERPRISE}`, 'not json', { qos: 1 });
    await platform.publishAsync(`downlink_${ENTERPRISE}`, JSON.stringify({ DevEUI_downlink: { FPort: 1 } }), {
      qos: 1,
    });
    await platform.publishAsync(
      `downlink_${ENTERPRISE}`,
      JSON.stringify({ DevEUI_downlink: { DevEUI: DEV, FPort: 12, payload_hex: 'beef' } }),
      { qos: 1 },
    );
    const msg = await dl;
    assert.equal(msg.topic, DEV);
    const thingpark = msg.thingpark as {
      origin: { platform: string; config: string; ref: { topic: string } };
    };
    assert.equal(thingpark.origin.platform, 'wmw');
    assert.equal(thingpark.origin.config, 'wmw');
    assert.equal(thingpark.origin.ref.topic, `downlink_${ENTERPRISE}`);
    assert.equal(((await result).payload as { status: string }).status, 'queued');
    assert.equal(lrc.received.at(-1)!.accepted, true);
    assert.equal(lrc.received.at(-1)!.query.get('Payload'), 'beef');
    await waitFor(() => caught.length >= 2, 5000, 'two downlink errors');
    const reasons = caught.map((c) => String((c.error as { message: string }).message));
    assert.match(reasons[0], /Invalid downlink from WMW: message on downlink_1234 is not JSON/);
    assert.match(
      reasons[1],
      /Invalid downlink from WMW: message on downlink_1234: DevEUI must be 16 hex digits/,
    );
    assert.equal(helper.getNode('wmw').connection.client.state, 'connected', 'the connection stays up');
  });

  it('outage: 10 000 uplinks while the broker is down, Node-RED restarted, broker back: all arrive, in order per device', async () => {
    // WMW's side keeps a persistent session: what the broker receives while it is away waits for it,
    // whenever our connection comes back.
    const persistentPlatform = () =>
      mqtt.connectAsync(`mqtts://127.0.0.1:${broker.port}`, {
        username: 'wmw-platform',
        password: 'platform-pass',
        ca: fs.readFileSync(certs.caFile),
        reconnectPeriod: 0,
        clientId: 'wmw-platform-outage',
        clean: false,
      });
    await platform.endAsync(true);
    platform = await persistentPlatform();
    await platform.subscribeAsync(`uplink_${ENTERPRISE}`, { qos: 1 });
    await platform.endAsync();
    await helper.load(modules(), flow(), creds());
    await connected();
    await broker.stop();
    const out = helper.getNode('out');
    const caught = collect(helper.getNode('caught'));
    const devices = ['0018B20000000001', '0018B20000000002', '0018B20000000003', '0018B20000000004'];
    const total = 10000;
    for (let i = 0; i < total; i++) {
      const dev = devices[i % devices.length];
      const up = { DevEUI: dev, FPort: 1, FCntUp: i, payload_hex: '00' };
      out.receive({ payload: { DevEUI_uplink: up } });
    }
    await waitFor(() => helper.getNode('wmw').connection.stats().queued === total, 60000, 'all queued');
    assert.equal(
      caught.filter((c) => !/connection failed/.test(String((c.error as { message: string }).message)))
        .length,
      0,
    );

    // "Restart" the flows: every node closes (the queue is closed, not removed) and starts again.
    await helper.unload();
    await helper.load(modules(), flow(), creds());
    assert.equal(helper.getNode('wmw').connection.queue.length, 0, 'length is known once the store opened');
    await helper.getNode('wmw').connection.queue.ready;
    assert.equal(
      helper.getNode('wmw').connection.stats().queued,
      total,
      'all still queued after the restart',
    );

    await broker.start();
    const seen = new Map<string, number[]>();
    let count = 0;
    const onMessage = (_t: string, payload: Buffer) => {
      const up = (JSON.parse(payload.toString()) as { DevEUI_uplink: { DevEUI: string; FCntUp: number } })
        .DevEUI_uplink;
      const list = seen.get(up.DevEUI) ?? [];
      list.push(up.FCntUp);
      seen.set(up.DevEUI, list);
      count++;
    };
    platform = await persistentPlatform();
    platform.on('message', onMessage);
    await waitFor(() => helper.getNode('wmw').connection.stats().queued === 0, 60000, 'queue drained');
    await waitFor(() => count >= total, 20000, 'all received').catch((e) => {
      console.log('count', count, broker.log.slice(-2000));
      throw e;
    });
    platform.off('message', onMessage);
    await platform.unsubscribeAsync(`uplink_${ENTERPRISE}`);
    await platform.endAsync(true);
    platform = await connectPlatform();
    let unique = 0;
    for (const dev of devices) {
      const list = seen.get(dev)!;
      const distinct = [...new Set(list)];
      unique += distinct.length;
      const expected = Array.from(
        { length: total / devices.length },
        (_, k) => k * devices.length + devices.indexOf(dev),
      );
      assert.deepEqual(distinct, expected, `order of ${dev}`);
    }
    assert.equal(unique, total, 'nothing lost');
    assert.ok(
      count - total <= 32 * devices.length,
      `duplicates (${count - total}) within the in-flight window`,
    );
  });
});
