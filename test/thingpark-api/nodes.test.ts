import { strict as assert } from 'assert';
import * as path from 'path';
import {
  collect,
  helper,
  nextMessage,
  servingHttpNodes,
  waitFor,
  type NodeModule,
} from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';
import { ThingParkApiServer } from '../../testkit/thingpark-api-server';

const accountNode: NodeModule = require(path.join(repoRoot, 'dist', 'nodes', 'account', 'account.js'));
const apiNode: NodeModule = require(path.join(repoRoot, 'dist', 'nodes', 'api', 'api.js'));
const CLIENT_ID = 'sa-flows';
const CLIENT_SECRET = 'node-S3cret-e41f0a';

type Msg = {
  payload: unknown;
  topic?: string;
  thingpark: Record<string, unknown>;
  error?: { message: string; source?: { id: string } };
  keep?: string;
};

describe('thingpark api node: operations in a real Node-RED runtime, results and errors', function () {
  this.timeout(20000);
  let server: ThingParkApiServer;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    server = await new ThingParkApiServer({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      devices: 25,
      alarms: 3,
      pageSize: 10,
    }).start();
  });
  afterEach(async () => {
    await helper.unload();
    await server.stop();
  });

  const load = (api: Record<string, unknown>, secret = CLIENT_SECRET) =>
    helper.load(
      servingHttpNodes([accountNode, apiNode]),
      [
        { id: 'tab', type: 'tab', label: 'api' },
        { id: 'acct', type: 'thingpark-account', url: server.url },
        { id: 'api', z: 'tab', type: 'thingpark-api', account: 'acct', wires: [['out']], ...api },
        { id: 'out', z: 'tab', type: 'helper' },
        { id: 'catcher', z: 'tab', type: 'catch', scope: ['api'], uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { acct: { clientId: CLIENT_ID, clientSecret: secret } },
    );
  const node = (id: string) => helper.getNode(id);
  const sorted = () => [...server.devices.keys()].sort();

  it('output all: one message with every device, cursor, count and status in msg.thingpark, the rest of msg kept', async () => {
    await load({ operation: 'listDevices', output: 'all' });
    const out = nextMessage<Msg>(node('out'));
    node('api').receive({ payload: '', keep: 'me' });
    const msg = await out;
    assert.deepEqual(
      (msg.payload as Array<{ EUI: string }>).map((d) => d.EUI),
      sorted(),
    );
    assert.deepEqual(msg.thingpark, {
      operation: 'listDevices',
      status: 200,
      count: 25,
      more: false,
      cursor: msg.thingpark.cursor,
    });
    assert.equal(msg.keep, 'me');
  });

  it('output pages: one message per page; items: one per device; both bounded by maxItems', async () => {
    await load({ operation: 'listDevices', output: 'pages', maxItems: 100000 });
    const pages = collect<Msg>(node('out'));
    node('api').receive({});
    await waitFor(() => pages.length === 3, 5000, 'three pages');
    assert.deepEqual(
      pages.map((p) => (p.payload as unknown[]).length),
      [10, 10, 5],
    );
    assert.deepEqual(
      pages.map((p) => p.thingpark.page),
      [1, 2, 3],
    );
    assert.deepEqual(
      pages.map((p) => p.thingpark.count),
      [25, 25, 25],
    );
    await helper.unload();

    await load({ operation: 'listDevices', output: 'items', maxItems: 12 });
    const items = collect<Msg>(node('out'));
    node('api').receive({});
    await waitFor(() => items.length === 12, 5000, 'twelve items');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(items.length, 12);
    assert.deepEqual(
      items.map((i) => (i.payload as { EUI: string }).EUI),
      sorted().slice(0, 12),
    );
    assert.equal(items[11].thingpark.truncated, true);
    assert.equal(items[11].thingpark.index, 11);
  });

  it('takes the operation from msg.operation and the device from msg.devEUI or msg.topic', async () => {
    await load({ operation: 'msg' });
    const eui = sorted()[3];
    let out = nextMessage<Msg>(node('out'));
    node('api').receive({ operation: 'getDevice', topic: eui });
    assert.equal(((await out).payload as { EUI: string }).EUI, eui);
    out = nextMessage<Msg>(node('out'));
    node('api').receive({ operation: 'updateDevice', devEUI: eui, payload: { name: 'Renamed' } });
    assert.equal(((await out).payload as { name: string }).name, 'Renamed');
    out = nextMessage<Msg>(node('out'));
    node('api').receive({ operation: 'listDeviceAlarms' });
    assert.equal(((await out).payload as unknown[]).length, 3);
    out = nextMessage<Msg>(node('out'));
    node('api').receive({ operation: 'deleteDevice', devEUI: eui });
    assert.deepEqual((await out).thingpark, { operation: 'deleteDevice', status: 204 });
  });

  it('a creation outputs 201 and the Location in msg.thingpark', async () => {
    await load({ operation: 'createDevice' });
    const out = nextMessage<Msg>(node('out'));
    node('api').receive({
      payload: {
        connectivity: 'LORAWAN',
        activation: 'OTAA',
        EUI: '70B3D5E756000999',
        model: { ID: 'SMTC/LoRaMoteA.1_EU' },
        name: 'My device',
        appKey: '7374757A3FDD092947CE2DE9321C6040',
      },
    });
    const msg = await out;
    assert.equal(msg.thingpark.status, 201);
    assert.match(
      String(msg.thingpark.location),
      /\/thingpark\/wireless\/rest\/subscriptions\/mine\/devices\/\d+$/,
    );
  });

  it('ThingPark refusing a device: done(err) with the status and ThingPark message, seen by a Catch node; no output', async () => {
    await load({ operation: 'createDevice' });
    const outputs = collect<Msg>(node('out'));
    const caught = nextMessage<Msg>(node('caught'));
    node('api').receive({
      payload: {
        connectivity: 'LORAWAN',
        activation: 'OTAA',
        EUI: '70B3D5E756000999',
        model: { ID: 'NOPE' },
        appKey: '7374757A3FDD092947CE2DE9321C6040',
      },
    });
    const msg = await caught;
    assert.equal(msg.error?.message, 'Error: ThingPark answered 400: Unknown LORAWAN device profile "NOPE"');
    assert.equal(msg.error?.source?.id, 'api');
    assert.equal(msg.thingpark.status, 400);
    assert.equal(outputs.length, 0);
  });

  it('bad parameters and an unknown operation are errors too, before anything is sent', async () => {
    await load({ operation: 'msg' });
    let caught = nextMessage<Msg>(node('caught'));
    node('api').receive({ operation: 'getDevice', topic: 'not-an-eui' });
    assert.match(
      (await caught).error!.message,
      /^Error: Not sent: msg.devEUI \(or msg.topic\) must be a DevEUI/,
    );
    caught = nextMessage<Msg>(node('caught'));
    node('api').receive({ operation: 'dropTables' });
    assert.equal((await caught).error!.message, 'Error: Unknown operation: dropTables');
    assert.equal(server.requests.length, 0);
  });

  it('a wrong client secret: the token refusal reaches Catch, without the secret', async () => {
    await load({ operation: 'listDevices' }, 'wrong-S3cret-node-9e');
    const caught = nextMessage<Msg>(node('caught'));
    node('api').receive({});
    const msg = await caught;
    assert.equal(
      msg.error!.message,
      'Error: ThingPark answered 401: token request refused: Invalid client or Invalid client credentials',
    );
    assert.ok(!JSON.stringify(msg).includes('wrong-S3cret-node-9e'));
  });

  it('an unreachable platform is an error naming the cause', async () => {
    const url = server.url;
    await server.stop();
    await helper.load(
      servingHttpNodes([accountNode, apiNode]),
      [
        { id: 'tab', type: 'tab', label: 'api' },
        { id: 'acct', type: 'thingpark-account', url },
        {
          id: 'api',
          z: 'tab',
          type: 'thingpark-api',
          account: 'acct',
          operation: 'listDevices',
          wires: [[]],
        },
        { id: 'catcher', z: 'tab', type: 'catch', scope: ['api'], uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { acct: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET } },
    );
    const caught = nextMessage<Msg>(node('caught'));
    node('api').receive({});
    assert.match((await caught).error!.message, /^Error: ThingPark API unreachable: ECONNREFUSED/);
  });
});
