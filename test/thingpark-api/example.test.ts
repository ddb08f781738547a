import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  collect,
  coreNode,
  helper,
  nextMessage,
  servingHttpNodes,
  waitFor,
  type NodeModule,
} from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';
import { ThingParkApiServer } from '../../testkit/thingpark-api-server';

const file = path.join(repoRoot, 'examples', 'ThingPark devices and alarms.json');
const modules: NodeModule[] = [
  require(path.join(repoRoot, 'dist', 'nodes', 'account', 'account.js')),
  require(path.join(repoRoot, 'dist', 'nodes', 'api', 'api.js')),
  coreNode('core/common/20-inject.js'),
  coreNode('core/common/21-debug.js'),
  coreNode('core/common/90-comment.js'),
  coreNode('core/function/10-function.js'),
];

type Msg = { payload: unknown; thingpark?: Record<string, unknown>; error?: { message: string } };
type Listener = {
  on(e: string, f: (m: Msg) => void): void;
  once(e: string, f: (m: Msg) => void): void;
  receive(m: object): void;
};

describe('example "ThingPark devices and alarms" against the ThingPark API stand-in', function () {
  this.timeout(20000);
  let api: ThingParkApiServer;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    api = await new ThingParkApiServer({
      clientId: 'example',
      clientSecret: 'example-secret',
      devices: 7,
      alarms: 3,
      pageSize: 3,
    }).start();
    const nodes = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
    const account = nodes.find((n) => n.type === 'thingpark-account')!;
    account.url = api.url;
    await helper.load(servingHttpNodes(modules), nodes, {
      [account.id as string]: { clientId: 'example', clientSecret: 'example-secret' },
    });
    named = (name) => {
      const found = nodes.find((n) => n.name === name);
      assert.ok(found, `the example has a node named "${name}"`);
      return helper.getNode(found.id as string) as unknown as Listener;
    };
  });
  afterEach(async () => {
    await helper.unload();
    await api.stop();
  });
  let named: (name: string) => Listener;

  it('list devices: one message with a row per device, sorted by EUI, across pages', async () => {
    const shown = nextMessage<Msg>(named('devices'));
    named('list devices').receive({});
    const rows = (await shown).payload as Array<Record<string, unknown>>;
    const euis = [...api.devices.keys()].sort();
    assert.deepEqual(
      rows.map((r) => JSON.parse(JSON.stringify(r))),
      euis.map((EUI) => ({
        EUI,
        name: `Device ${EUI.slice(-4)}`,
        model: 'SMTC/LoRaMoteA.1_EU',
        connectivity: 'LORAWAN',
      })),
    );
  });

  it('list alarms: one message per alarm, each also raised to Catch; a ThingPark refusal is caught too', async () => {
    const alarms = collect<Msg>(named('alarms'));
    const caught = collect<Msg>(named('errors and alarms'));
    named('list alarms').receive({});
    await waitFor(() => alarms.length === 3, 5000, 'three alarms');
    assert.deepEqual(
      alarms.map((a) => (a.payload as { alarmUid: number }).alarmUid),
      [1000, 1001, 1002],
    );
    await waitFor(() => caught.length === 3, 5000, 'three caught alarms');
    const first = api.alarms.find((a) => a.alarmUid === 1000)!;
    assert.equal(
      caught[0].error!.message,
      `ThingPark alarm 1000 (${String(first.severity)}) on ${(first.device as { EUI: string }).EUI}`,
    );
    const errors = nextMessage<Msg>(named('errors and alarms'));
    api.revokeTokens();
    api.options.clientSecret = 'rotated';
    named('list alarms').receive({});
    assert.match((await errors).error!.message, /ThingPark answered 401: token request refused/);
  });
});
