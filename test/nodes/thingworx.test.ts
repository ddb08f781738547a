import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { XMLParser } from 'fast-xml-parser';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { sampleDownlinkSent, sampleUplink } from '../../testkit/simulator/sample-documents';
import {
  BaseType,
  DEFAULT_TEMPLATE,
  EntityType,
  MessageCode,
  parseJsonValue,
  Typed,
  unwrapVariant,
  type InfoTable,
  type RequestMessage,
} from '../../lib/thingworx';
import { AlwaysOnTestServer, makeTestCertificate } from '../../testkit/alwayson-server';
import {
  collect,
  downlinkOutNode,
  helper,
  networkNode,
  nextMessage,
  servingHttpNodes,
  waitFor,
} from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const thingworxNode = require(nodeFile('thingworx'));
const thingworxOutNode = require(nodeFile('thingworx-out'));
const downlinkInNode = require(nodeFile('downlink-in'));
const tlsNode = require('@node-red/nodes/core/network/05-tls.js');

const APP_KEY = 'b1f3c0de-thingpark-test-key';
const TPL = 'ThingParkDeviceTemplate';
const DEV = '0018B20000000B20';
const AS_KEY = 'twx-test-as-key';
const TIME = '2024-05-01T10:00:00.000+00:00';

type Msg = Record<string, unknown>;

/** 16-hex-digit DevEUIs. */
function devEuis(n: number, prefix = '0018B2'): string[] {
  return Array.from({ length: n }, (_, i) =>
    (
      prefix +
      i
        .toString(16)
        .toUpperCase()
        .padStart(16 - prefix.length, '0')
    ).slice(0, 16),
  );
}

/**
 * ThingWorx's `ThingTemplates/<t>/Services/GetInstancePropertyDefinitions` (DataShape PropertyDefinition), answered
 * from the server's store (the template's chain) through its fault-injection hook, as the tests were written before
 * the server answered it itself.
 */
function answerPropertyDefinitions(server: AlwaysOnTestServer): void {
  server.interceptor = (msg: RequestMessage) => {
    const b = msg.body;
    if (
      b.entityType !== EntityType.THINGTEMPLATES ||
      b.characteristicName !== 'GetInstancePropertyDefinitions'
    )
      return undefined;
    if (!server.templates.has(b.entityName))
      return { code: MessageCode.NOT_FOUND, reason: `ThingTemplate ${b.entityName} does not exist` };
    const props = new Map<string, string>();
    for (let t = server.templates.get(b.entityName); t; t = server.templates.get(t.base)) {
      for (const [name, type] of t.properties) if (!props.has(name)) props.set(name, type);
    }
    const content: InfoTable = {
      dataShape: [
        { name: 'name', baseType: BaseType.STRING },
        { name: 'description', baseType: BaseType.STRING },
        { name: 'baseType', baseType: BaseType.BASETYPENAME },
      ],
      rows: [...props].map(([name, type]) => ({
        name: Typed.string(name),
        description: Typed.string(''),
        baseType: { baseType: BaseType.BASETYPENAME, value: type },
      })),
    };
    return { code: MessageCode.SUCCESS, content };
  };
}

/** Service calls (and binds) the server received, in order, as `Service entity` / `BIND n`. */
function calls(server: AlwaysOnTestServer): string[] {
  return server.log.map((e) =>
    e.msg.kind === 'request'
      ? `${e.msg.body.characteristicName} ${e.msg.body.entityName}`
      : e.msg.kind === 'bind'
        ? `BIND ${e.msg.body.names.join(',')}`
        : e.msg.kind,
  );
}

/** FCntUp of every uplinkData update of a Thing, in arrival order. */
function uplinkCounters(server: AlwaysOnTestServer, thing: string): number[] {
  const out: number[] = [];
  for (const e of server.received('request', 'UpdateSubscribedPropertyValues')) {
    if (e.msg.kind !== 'request' || e.msg.body.entityName !== thing) continue;
    const values = e.msg.body.params?.rows[0]?.values;
    if (!values || values.baseType !== BaseType.INFOTABLE) continue;
    for (const row of values.value.rows) {
      if (row.name?.value !== 'uplinkData') continue;
      const doc = parseJsonValue(row.value) as { DevEUI_uplink?: { FCntUp: number } } | undefined;
      if (doc?.DevEUI_uplink) out.push(doc.DevEUI_uplink.FCntUp);
    }
  }
  return out;
}

function jsonValue(server: AlwaysOnTestServer, thing: string, property: string): unknown {
  const v = server.value(thing, property);
  return v ? parseJsonValue(v.value) : undefined;
}

function plainValue(server: AlwaysOnTestServer, thing: string, property: string): unknown {
  const v = server.value(thing, property);
  return v ? unwrapVariant(v.value).value : undefined;
}

const errorsOf = (caught: Msg[]) => caught.map((c) => String((c.error as { message: string }).message));

describe('ThingWorx: thingworx out, provisioning and downlinks, against the strict AlwaysOn test server', function () {
  this.timeout(120000);
  let server: AlwaysOnTestServer;
  let userDir: string;
  let lrc: FakeLrc;

  const modules = () =>
    servingHttpNodes([
      tlsNode,
      networkNode,
      downlinkOutNode,
      thingworxNode,
      thingworxOutNode,
      downlinkInNode,
    ]);

  before(async () => {
    await helper.startServer();
    lrc = await new FakeLrc({ asKey: AS_KEY }).start();
  });
  after(async () => {
    await helper.stopServer();
    await lrc.stop();
  });
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-user-'));
    helper.settings({ userDir });
    server = await new AlwaysOnTestServer({ appKey: APP_KEY }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await server.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const flow = (twx: Record<string, unknown> = {}) => [
    { id: 'tab', type: 'tab', label: 'thingworx' },
    {
      id: 'twx',
      type: 'thingpark-thingworx',
      hostName: `127.0.0.1:${server.port}`,
      thingTemplateName: TPL,
      thingNamePrefix: '',
      pipeCount: 2,
      tls: '',
      allowInsecure: true,
      bufferMax: 100000,
      bufferPolicy: 'drop-oldest',
      ...twx,
    },
    { id: 'out', z: 'tab', type: 'thingpark-thingworx-out', thingworx: 'twx', wires: [['stats']] },
    { id: 'stats', z: 'tab', type: 'helper' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'http',
      asId: 'twx.as',
      maxTimeDeviation: 60,
      lrcUrl: lrc.url,
    },
    { id: 'dlin', z: 'tab', type: 'thingpark-downlink-in', thingworx: 'twx', wires: [['dlout', 'dlmsg']] },
    { id: 'dlmsg', z: 'tab', type: 'helper' },
    { id: 'dlout', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['dlresult']] },
    { id: 'dlresult', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
  const creds = (applicationKey = APP_KEY) => ({ twx: { applicationKey }, net: { asKey: AS_KEY } });
  const twx = () => helper.getNode('twx');
  const connected = (ms = 15000) =>
    waitFor(() => twx().connection.client.state === 'connected', ms, 'ThingWorx connected');
  const stats = async (): Promise<Record<string, unknown>> => {
    const next = nextMessage(helper.getNode('stats'));
    helper.getNode('out').receive({ topic: 'stats' });
    return (await next).payload as Record<string, unknown>;
  };
  /** Waits until `n` messages left the queue (delivered or set aside) and nothing is queued. */
  const settled = (n: number, ms = 15000) =>
    waitFor(
      () => {
        const s = twx().connection.stats();
        return s.delivered + s.poisoned >= n && s.queued === 0;
      },
      ms,
      `${n} messages handled`,
    );
  const uplink = (dev: string, fCntUp: number, extra: Record<string, unknown> = {}) => ({
    payload: { DevEUI_uplink: { ...sampleUplink(dev, fCntUp), Time: TIME, ...extra } },
  });

  it('ships an importable template: resources/thingworx/ThingParkDeviceTemplate.xml, remote JSON uplinkData, downlink and downlinkStatus', () => {
    const xml = fs.readFileSync(
      path.join(repoRoot, 'resources', 'thingworx', 'ThingParkDeviceTemplate.xml'),
      'utf8',
    );
    const list = (v: unknown) => (Array.isArray(v) ? v : v === undefined || v === '' ? [] : [v]);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
    const tpl = doc.Entities.ThingTemplates.ThingTemplate;
    assert.equal(tpl.name, DEFAULT_TEMPLATE);
    assert.equal(tpl.baseThingTemplate, 'RemoteThing');
    const defs = new Map(
      list(tpl.ThingShape.PropertyDefinitions.PropertyDefinition).map((d: Record<string, string>) => [
        d.name,
        d,
      ]),
    );
    const bindings = new Map(
      list(tpl.RemotePropertyBindings.RemotePropertyBinding).map((b: Record<string, string>) => [b.name, b]),
    );
    for (const [name, push] of [
      ['uplinkData', 'ALWAYS'],
      ['downlink', 'NEVER'],
      ['downlinkStatus', 'ALWAYS'],
    ]) {
      assert.equal(defs.get(name)?.baseType, 'JSON', `${name} is JSON`);
      assert.equal(bindings.get(name)?.pushType, push, `${name} is remote-bound, push ${push}`);
      assert.equal(bindings.get(name)?.sourceName, name);
    }
    for (const name of defs.keys()) assert.ok(bindings.has(name), `${name} is remote-bound`);
  });

  it('creates the missing template from RemoteThing with uplinkData, downlink and downlinkStatus, then connects', async () => {
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    const tpl = server.templates.get(TPL);
    assert.ok(tpl, 'template created');
    assert.equal(tpl.base, 'RemoteThing');
    assert.deepEqual(Object.fromEntries(tpl.properties), {
      uplinkData: 'JSON',
      downlink: 'JSON',
      downlinkStatus: 'JSON',
    });
    assert.deepEqual(
      calls(server).filter((c) => !['auth'].includes(c)),
      [
        'GetEntityList EntityServices',
        'CreateThingTemplate EntityServices',
        `AddPropertyDefinition ${TPL}`,
        `AddPropertyDefinition ${TPL}`,
        `AddPropertyDefinition ${TPL}`,
        `GetInstancePropertyDefinitions ${TPL}`,
        `QueryImplementingThingsOptimized ${TPL}`,
      ],
    );
    assert.equal(twx().client.statusSupported, true);
    assert.equal(server.connectionIds.length, 2, 'pipeCount 2: two sockets');
    await waitFor(
      () =>
        helper.getNode('out').status.args.some((a: Array<{ text?: string }>) => a[0]?.text === 'connected'),
      5000,
      'green status',
    );
    assert.deepEqual(server.violations, []);
  });

  it('offers permessage-deflate unless its compression is off (a flow from before the setting: on)', async () => {
    server.addConnectorTemplate(TPL);
    const extensions = () => server.connectionIds.map((id) => server.extensionsOf(id));
    // flow() sets no `compression`: a flow saved before the setting.
    await helper.load(modules(), flow(), creds());
    await connected();
    assert.equal(extensions().length, 2);
    assert.ok(
      extensions().every((e) => /permessage-deflate/.test(e ?? '')),
      String(extensions()),
    );
    await helper.unload();
    await waitFor(() => server.connectionIds.length === 0, 5000, 'sockets closed');
    await helper.load(modules(), flow({ compression: false }), creds());
    await connected();
    assert.equal(extensions().length, 2);
    assert.deepEqual(extensions(), ['', '']);
    assert.deepEqual(server.violations, []);
  });

  it('binds only the Things implementing our template, each on one socket', async () => {
    server.addConnectorTemplate(TPL);
    server.addTemplate(`${TPL}.Gateway`, {}, TPL);
    server.addTemplate('OtherConnectorTemplate', { data: 'JSON' });
    const ours = devEuis(5);
    server.addThings(ours, TPL);
    server.addThing('GW-1', `${TPL}.Gateway`);
    server.addThings(['0018B2FFFFFFFF01', 'OtherThing'], 'OtherConnectorTemplate');
    server.addTemplate('GenericThing');
    server.addThing('SystemMonitor', 'GenericThing');
    await helper.load(modules(), flow(), creds());
    await connected();
    const bound = [...server.boundByConnection().values()].flatMap((s) => [...s]).sort();
    assert.deepEqual(bound, [...ours, 'GW-1'].sort());
    assert.equal(server.boundCount, 6, 'each Thing bound once');
    assert.ok(!server.isBound('OtherThing') && !server.isBound('SystemMonitor'));
    assert.equal(calls(server).filter((c) => c.startsWith('CreateThingTemplate')).length, 0);
    assert.deepEqual(server.violations, []);
  });

  it('an unknown DevEUI gets its Thing (create, enable, restart, bind), then uplinkData with the document time and quality GOOD, plus the template’s flattened values', async () => {
    server.addTemplate(TPL, {
      uplinkData: 'JSON',
      downlink: 'JSON',
      downlinkStatus: 'JSON',
      LrrRSSI: 'NUMBER',
      snr: 'NUMBER',
      FCntUp: 'INTEGER',
      temperature: 'NUMBER',
      battery_level: 'INTEGER',
      humidity: 'NUMBER',
      location: 'LOCATION',
      firmware: 'STRING',
    });
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    server.clearLog();
    const out = helper.getNode('out');
    const caught = collect(helper.getNode('caught'));
    const first = uplink(DEV, 7, {
      LrrRSSI: -85,
      DevLAT: 45.5,
      DevLON: 1.25,
      payload: { temperature: 21.5, battery: { level: 90 }, status: 'ok', firmware: 'v2' },
      points: { humidity: { unitId: '%RH', record: 55 } },
    });
    out.receive(first);
    await settled(1);
    assert.deepEqual(calls(server), [
      'CreateThing EntityServices',
      `EnableThing ${DEV}`,
      `RestartThing ${DEV}`,
      `BIND ${DEV}`,
      // The platform's subscription settings are read after BIND, before the first push.
      `GetPropertySubscriptions ${DEV}`,
      `UpdateSubscribedPropertyValues ${DEV}`,
    ]);
    const thing = server.things.get(DEV)!;
    assert.equal(thing.template, TPL);
    assert.equal(thing.enabled, true);
    assert.equal(thing.restarts, 1);
    assert.ok(server.isBound(DEV));
    const stored = server.value(DEV, 'uplinkData')!;
    assert.deepEqual(parseJsonValue(stored.value), first.payload);
    assert.equal(stored.time, Date.parse(TIME));
    assert.equal(stored.quality, 'GOOD');
    assert.equal(plainValue(server, DEV, 'LrrRSSI'), -85);
    assert.equal(plainValue(server, DEV, 'snr'), 7.5);
    assert.equal(plainValue(server, DEV, 'FCntUp'), 7);
    assert.equal(plainValue(server, DEV, 'temperature'), 21.5);
    assert.equal(plainValue(server, DEV, 'battery_level'), 90);
    assert.equal(plainValue(server, DEV, 'humidity'), 55);
    assert.equal(plainValue(server, DEV, 'firmware'), 'v2');
    assert.deepEqual(plainValue(server, DEV, 'location'), { longitude: 1.25, latitude: 45.5, elevation: 0 });
    assert.equal(server.value(DEV, 'temperature')!.time, Date.parse(TIME));
    assert.equal(server.value(DEV, 'downlinkStatus'), undefined, 'an uplink is no downlink report');

    // Known now: no second creation.
    out.receive(uplink(DEV, 8));
    await settled(2);
    assert.equal(calls(server).filter((c) => c.startsWith('CreateThing')).length, 1);
    assert.deepEqual(uplinkCounters(server, DEV), [7, 8]);
    const s = await stats();
    assert.equal(s.platform, 'ThingWorx');
    assert.equal(s.delivered, 2);
    assert.deepEqual(errorsOf(caught), []);
    assert.deepEqual(server.violations, []);
  });

  it('without property definitions from the platform writes uplinkData only, and names Things with the prefix', async () => {
    server.addTemplate(TPL, { uplinkData: 'JSON', downlink: 'JSON', LrrRSSI: 'NUMBER' });
    // A platform that does not answer GetInstancePropertyDefinitions (an older release, or a key without the right).
    server.interceptor = (msg) =>
      msg.body.characteristicName === 'GetInstancePropertyDefinitions'
        ? { code: MessageCode.METHOD_NOT_ALLOWED, reason: 'service not found' }
        : undefined;
    await helper.load(modules(), flow({ thingNamePrefix: 'tp-' }), creds());
    await connected();
    await waitFor(
      () =>
        helper._logSpy.args.some((a: Array<{ level: number; msg: unknown }>) =>
          /could not read the properties of ThingTemplate/.test(String(a[0]?.msg)),
        ),
      5000,
      'warning about the property definitions',
    );
    const caught = collect(helper.getNode('caught'));
    helper.getNode('out').receive(uplink(DEV, 1));
    await settled(1);
    const thing = `tp-${DEV}`;
    assert.ok(server.things.has(thing), 'Thing named prefix + DevEUI');
    assert.ok(server.isBound(thing));
    assert.deepEqual(uplinkCounters(server, thing), [1]);
    assert.equal(server.value(thing, 'LrrRSSI'), undefined, 'not written without knowing the template');
    assert.equal((await stats()).poisoned, 0);
    assert.deepEqual(errorsOf(caught), []);
  });

  it('a PUT on downlink comes out of downlink in, reaches the LRC signed, and downlinkStatus follows the downlink', async () => {
    server.addConnectorTemplate(TPL);
    server.templates.get(TPL)!.properties.set('downlinkStatus', 'JSON');
    server.addThing(DEV, TPL);
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    const dl = nextMessage(helper.getNode('dlmsg'));
    const result = nextMessage(helper.getNode('dlresult'));
    const answer = await server.putProperty(
      DEV,
      'downlink',
      Typed.json({ DevEUI_downlink: { FPort: 12, payload_hex: 'BEEF', Confirmed: 1 } }),
    );
    assert.deepEqual(answer, { code: MessageCode.SUCCESS, reason: undefined });
    const msg = await dl;
    assert.equal(msg.topic, DEV);
    const body = (msg.payload as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink;
    assert.equal(body.DevEUI, DEV, 'DevEUI taken from the Thing');
    assert.equal(body.FPort, 12);
    assert.equal(body.payload_hex, 'beef');
    assert.deepEqual((msg.thingpark as { origin: unknown }).origin, {
      platform: 'thingworx',
      config: 'twx',
      ref: { thing: DEV, property: 'downlink' },
    });
    const r = (await result).payload as { status: string; CorrelationID: string };
    assert.equal(r.status, 'queued');
    const sent = lrc.received.at(-1)!;
    assert.equal(sent.accepted, true, sent.reason);
    assert.equal(sent.query.get('DevEUI'), DEV);
    assert.equal(sent.query.get('Payload'), 'beef');
    assert.equal(sent.query.get('Confirmed'), '1');
    await waitFor(() => server.value(DEV, 'downlinkStatus') !== undefined, 10000, 'downlinkStatus written');
    const status = jsonValue(server, DEV, 'downlinkStatus') as Record<string, unknown>;
    assert.equal(status.status, 'queued');
    assert.equal(status.CorrelationID, r.CorrelationID);
    assert.equal(status.property, 'downlink');
    assert.equal(server.value(DEV, 'downlinkStatus')!.quality, 'GOOD');

    // ThingPark's report of the downlink, wired from uplink in, closes it.
    helper.getNode('out').receive({
      payload: { DevEUI_downlink_Sent: { ...sampleDownlinkSent(DEV, 12, r.CorrelationID), Time: TIME } },
    });
    await waitFor(
      () => (jsonValue(server, DEV, 'downlinkStatus') as { status?: string }).status === 'sent',
      10000,
      'status sent',
    );
    const done = jsonValue(server, DEV, 'downlinkStatus') as Record<string, unknown>;
    assert.equal(done.CorrelationID, r.CorrelationID);
    assert.ok((jsonValue(server, DEV, 'uplinkData') as Record<string, unknown>).DevEUI_downlink_Sent);

    // downlinkData (the name in Actility's screenshots) works the same.
    const dl2 = nextMessage(helper.getNode('dlmsg'));
    const answer2 = await server.putProperty(
      DEV,
      'downlinkData',
      Typed.json({ DevEUI: DEV, FPort: 3, payload_hex: '01' }),
    );
    assert.equal(answer2.code, MessageCode.SUCCESS);
    const ref = ((await dl2).thingpark as { origin: { ref: unknown } }).origin.ref;
    assert.deepEqual(ref, { thing: DEV, property: 'downlinkData' });
    assert.deepEqual(server.violations, []);
  });

  it('an invalid PUT is answered 0x80 with the reason and seen by a Catch node; the connection stays up', async () => {
    server.addConnectorTemplate(TPL);
    server.addThing(DEV, TPL);
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    const caught = collect(helper.getNode('caught'));
    const dls = collect(helper.getNode('dlmsg'));
    const badPort = await server.putProperty(
      DEV,
      'downlink',
      Typed.json({ DevEUI_downlink: { FPort: 0, payload_hex: '00' } }),
    );
    assert.equal(badPort.code, MessageCode.BAD_REQUEST);
    assert.match(badPort.reason ?? '', /FPort must be an integer 1-223/);
    const notJson = await server.putProperty(DEV, 'downlink', Typed.string('send 00 on port 1'));
    assert.equal(notJson.code, MessageCode.BAD_REQUEST);
    assert.match(notJson.reason ?? '', /not a JSON object/);
    const other = await server.putProperty(
      DEV,
      'downlink',
      Typed.json({ DevEUI_downlink: { DevEUI: '0018B2000000FFFF', FPort: 1, payload_hex: '00' } }),
    );
    assert.equal(other.code, MessageCode.BAD_REQUEST);
    assert.match(other.reason ?? '', /not this Thing's device/);
    const wrongProperty = await server.putProperty(DEV, 'uplinkData', Typed.json({}));
    assert.equal(wrongProperty.code, MessageCode.METHOD_NOT_ALLOWED);
    await waitFor(() => caught.length >= 3, 5000, 'three Catch-able errors');
    const reasons = errorsOf(caught);
    assert.match(
      reasons[0],
      new RegExp(`^Invalid downlink from ThingWorx: Thing ${DEV}, property downlink: FPort`),
    );
    assert.match(reasons[1], /Invalid downlink from ThingWorx: .*not a JSON object/);
    assert.match(reasons[2], /Invalid downlink from ThingWorx: .*not this Thing's device/);
    assert.equal(dls.length, 0, 'nothing reaches downlink in');
    assert.equal(
      lrc.received.filter((r) => r.query.get('DevEUI') === DEV && r.query.get('Payload') === '00').length,
      0,
    );
    assert.equal(twx().connection.client.state, 'connected');
  });

  it('server drop: uplinks queued during the outage are delivered after reconnect and re-bind, in order', async () => {
    server.addConnectorTemplate(TPL);
    const known = devEuis(3);
    server.addThings(known, TPL);
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    const authBefore = server.counters.authOk;
    const caught = collect(helper.getNode('caught'));
    await server.close();
    await waitFor(() => twx().connection.client.state !== 'connected', 10000, 'connection lost');
    const fresh = '0018B2000000AAAA';
    const devices = [...known, fresh];
    const out = helper.getNode('out');
    for (let i = 0; i < 40; i++) out.receive(uplink(devices[i % devices.length], i));
    await waitFor(() => twx().connection.stats().queued === 40, 10000, 'all queued');
    assert.equal((await stats()).delivered, 0);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(twx().connection.stats().queued, 40, 'nothing delivered while the platform is away');
    await server.start();
    await waitFor(() => twx().connection.stats().queued === 0, 60000, 'queue drained after reconnect');
    assert.ok(server.counters.authOk > authBefore, 'authenticated again');
    for (const dev of devices) {
      assert.ok(server.isBound(dev), `${dev} bound again`);
      const expected = Array.from({ length: 10 }, (_, k) => k * devices.length + devices.indexOf(dev));
      assert.deepEqual(uplinkCounters(server, dev), expected, `order of ${dev}`);
    }
    assert.ok(twx().connection.stats().reconnects > 0);
    assert.ok(
      errorsOf(caught).some((e) => /ThingWorx connection failed/.test(e)),
      'the outage was reported once',
    );
    assert.deepEqual(server.violations, []);
  });

  it('Things made elsewhere: ours are bound after CreateThing says they exist, another template’s Thing never is', async () => {
    server.addConnectorTemplate(TPL);
    server.addTemplate('OtherConnectorTemplate', { data: 'JSON' });
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    const caught = collect(helper.getNode('caught'));
    const ours = '0018B20000000C01';
    const theirs = '0018B20000000C02';
    server.addThing(ours, TPL);
    server.addThing(theirs, 'OtherConnectorTemplate');
    const out = helper.getNode('out');
    out.receive(uplink(ours, 1));
    out.receive(uplink(theirs, 1));
    await settled(2);
    assert.ok(server.isBound(ours));
    assert.deepEqual(uplinkCounters(server, ours), [1]);
    assert.ok(!server.isBound(theirs), 'another connector’s Thing is not bound');
    assert.equal(server.value(theirs, 'uplinkData'), undefined);
    await waitFor(() => caught.length > 0, 5000, 'refusal reported');
    assert.match(
      errorsOf(caught)[0],
      new RegExp(`refused a message of ${theirs} for good.*CreateThing.*already exists`),
    );
    assert.equal((await stats()).poisoned, 1);
  });

  it('verifies the platform certificate: connects over wss with the tls-config CA, refuses it without', async () => {
    const cert = makeTestCertificate();
    await server.close();
    server = await new AlwaysOnTestServer({
      appKey: APP_KEY,
      tls: { cert: cert.cert, key: cert.key },
    }).start();
    server.addConnectorTemplate(TPL);
    server.addThing(DEV, TPL);
    try {
      const tlsConfig = {
        id: 'tls',
        type: 'tls-config',
        cert: '',
        key: '',
        ca: path.join(cert.dir, 'cert.pem'),
        verifyservercert: true,
        servername: '',
      };
      await helper.load(modules(), [...flow({ tls: 'tls', allowInsecure: false }), tlsConfig], creds());
      await connected();
      assert.ok(server.isBound(DEV));
      helper.getNode('out').receive(uplink(DEV, 3));
      await settled(1);
      assert.deepEqual(uplinkCounters(server, DEV), [3]);
      await helper.unload();

      const authed = server.counters.authOk;
      await helper.load(modules(), flow({ tls: '', allowInsecure: false }), creds());
      const caught = collect(helper.getNode('caught'));
      await waitFor(() => caught.length > 0, 15000, 'TLS error');
      assert.match(
        errorsOf(caught)[0],
        /ThingWorx connection failed: .*(self[- ]signed|unable to verify|certificate)/i,
      );
      assert.notEqual(twx().connection.client.state, 'connected');
      assert.equal(server.counters.authOk, authed, 'no connection without the CA');
    } finally {
      fs.rmSync(cert.dir, { recursive: true, force: true });
    }
  });

  it('binds 10 000 Things through the node, in batches, and none of another template', async () => {
    server.addConnectorTemplate(TPL);
    server.addTemplate('OtherConnectorTemplate', { data: 'JSON' });
    const ours = devEuis(10000);
    server.addThings(ours, TPL);
    server.addThings(devEuis(200, '0018B3'), 'OtherConnectorTemplate');
    await helper.load(modules(), flow({ pipeCount: 4 }), creds());
    await connected(60000);
    assert.equal(server.boundCount, 10000);
    assert.ok(ours.every((n) => server.isBound(n)));
    assert.equal(server.connectionIds.length, 4);
    const binds = server.received('bind');
    assert.ok(binds.length >= 20, `${binds.length} BIND messages`);
    assert.ok(binds.every((b) => b.msg.kind === 'bind' && b.msg.body.names.length <= 500));
    assert.equal(twx().client.counters.thingsListed, 10000);
    helper.getNode('out').receive(uplink(ours[9999], 1));
    await settled(1);
    assert.equal(calls(server).filter((c) => c.startsWith('CreateThing')).length, 0);
    assert.deepEqual(server.violations, []);
  });

  it('closes its sockets within a couple of seconds on undeploy, and redeploys leave none behind', async () => {
    server.addConnectorTemplate(TPL);
    server.addThings(devEuis(50), TPL);
    answerPropertyDefinitions(server);
    for (let i = 0; i < 5; i++) {
      await helper.load(modules(), flow({ pipeCount: 3 }), creds());
      await connected();
      assert.equal(server.connectionIds.length, 3);
      const started = Date.now();
      await helper.unload();
      assert.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`);
      await waitFor(() => server.connectionIds.length === 0, 3000, 'sockets closed');
      assert.equal(server.boundCount, 0);
    }
    assert.equal(server.counters.authOk, 15);
    assert.deepEqual(server.violations, []);
  });

  it('misconfigured or refused: clear red status and Catch-able errors', async () => {
    await helper.load(modules(), flow({ hostName: '' }), creds());
    const statusOf = () =>
      helper.getNode('out').status.args.map((a: Array<{ text?: string }>) => a[0]?.text ?? '');
    await waitFor(() => statusOf().includes('ThingWorx host name missing'), 5000, 'no-host status');
    await helper.unload();

    await helper.load(modules(), flow({ hostName: 'not a host:443' }), creds());
    await waitFor(
      () => statusOf().some((t: string) => /^ThingWorx host name not usable: /.test(t)),
      5000,
      'bad-host status',
    );
    await helper.unload();

    await helper.load(modules(), flow(), creds(''));
    await waitFor(() => statusOf().includes('ThingWorx application key missing'), 5000, 'no-key status');
    await helper.unload();

    await helper.load(modules(), flow(), creds('a-wrong-key'));
    let caught = collect(helper.getNode('caught'));
    await waitFor(() => caught.length > 0, 10000, 'auth error');
    assert.match(errorsOf(caught)[0], /ThingWorx connection failed: WebSocket upgrade refused: HTTP 401/);
    await helper.unload();

    // Template missing and the key may not create it: said clearly, nothing delivered.
    server.allowCreate = false;
    await helper.load(modules(), flow(), creds());
    caught = collect(helper.getNode('caught'));
    await waitFor(() => caught.length > 0, 10000, 'template error');
    assert.match(
      errorsOf(caught)[0],
      new RegExp(`ThingTemplate ${TPL} is missing and could not be created .*import resources/thingworx/`),
    );
    await waitFor(
      () => statusOf().some((t: string) => /^disconnected: ThingTemplate/.test(t)),
      5000,
      'status names the template problem',
    );
    helper.getNode('out').receive(uplink(DEV, 1));
    await waitFor(() => twx().connection.stats().queued === 1, 5000, 'queued');
    assert.equal(server.things.size, 0);
  });

  it('refuses bad input with done(err); a Thing the platform forbids to create waits (reported once), others go on, and it goes once permitted', async () => {
    server.addConnectorTemplate(TPL);
    server.addThing(DEV, TPL);
    answerPropertyDefinitions(server);
    await helper.load(modules(), flow(), creds());
    await connected();
    server.allowCreate = false;
    const caught = collect(helper.getNode('caught'));
    const out = helper.getNode('out');
    out.receive({ payload: { DevEUI_uplink: { FPort: 1, payload_hex: '00' } } });
    out.receive({ payload: 'a string' });
    out.receive(uplink('0018B2000000DDDD', 1));
    out.receive(uplink(DEV, 2));
    await waitFor(() => caught.length >= 3, 10000, 'three errors');
    await waitFor(() => uplinkCounters(server, DEV).length === 1, 10000, 'the good message behind it');
    const reasons = errorsOf(caught);
    assert.match(reasons[0], /Not sent: DevEUI_uplink has no DevEUI/);
    assert.match(reasons[1], /Not sent: document must be a JSON object/);
    assert.match(
      reasons[2],
      /refused a message of 0018B2000000DDDD; it stays queued.*CreateThing.*FORBIDDEN/,
    );
    assert.deepEqual(uplinkCounters(server, DEV), [2], 'the good message behind it went through');
    // Taken into memory at its push, it is counted once written (within the queue's write-behind delay).
    await waitFor(
      () => twx().connection.stats().queued === 1,
      5000,
      'the forbidden Thing waits in the queue',
    );
    server.allowCreate = true;
    await settled(2);
    assert.deepEqual(uplinkCounters(server, '0018B2000000DDDD'), [1], 'sent once permitted');
    assert.equal((await stats()).poisoned, 0);
    assert.equal(caught.length, 3, 'reported once, not once per retry');
  });
});
