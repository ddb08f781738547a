import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { coreNode, helper, nextMessage, servingHttpNodes, type NodeModule } from './helpers/node-red';
import { repoRoot } from '../testkit/paths';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  'node-red': { nodes: Record<string, string> };
};
const ours: NodeModule[] = Object.values(pkg['node-red'].nodes).map((file) =>
  require(path.join(repoRoot, file)),
);
const core = (file: string): NodeModule => coreNode(`core/${file}`);
const coreModules = [
  core('common/20-inject.js'),
  core('common/21-debug.js'),
  core('common/90-comment.js'),
  core('function/10-function.js'),
  core('function/10-switch.js'),
  core('function/15-change.js'),
  core('network/05-tls.js'),
  core('network/10-mqtt.js'),
];
const examplesDir = path.join(repoRoot, 'examples');
const examples = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json'));

describe('examples/: every flow loads in the real runtime', function () {
  this.timeout(30000);
  let userDir: string;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-examples-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('has an example for every flow node of the package', () => {
    const used = new Set(
      examples.flatMap((f) =>
        (JSON.parse(fs.readFileSync(path.join(examplesDir, f), 'utf8')) as Array<{ type: string }>).map(
          (n) => n.type,
        ),
      ),
    );
    const flowNodes = Object.keys(pkg['node-red'].nodes).filter((t) => /-(in|out)$/.test(t));
    assert.deepEqual(
      flowNodes.filter((t) => !used.has(t)),
      [],
    );
  });

  for (const file of examples) {
    it(`${file}: every node is created, none reports an error on start`, async () => {
      const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8')) as Array<
        Record<string, unknown>
      >;
      await helper.load(servingHttpNodes([...ours, ...coreModules]), flow);
      for (const n of flow) {
        if (n.type === 'tab') continue;
        const node = helper.getNode(n.id);
        assert.ok(node, `${n.type} ${n.id} was created`);
      }
      // An example ships without the user's hosts and keys: the only errors allowed on start are
      // the ones naming a setting still to fill in.
      const errors = helper._logSpy.args
        .filter((a: Array<{ level: number }>) => a[0]?.level <= 20)
        .map((a: Array<{ msg: unknown }>) => String(a[0].msg))
        .filter(
          (text: string) =>
            !/^\w+ (host name|enterprise ID|tenant|application key)[\w ]* missing$/.test(text),
        );
      assert.deepEqual(errors, []);
    });
  }

  describe('Payload decoder pattern.json', () => {
    type Uplink = { DevEUI: string; payload?: Record<string, unknown>; points?: Record<string, unknown> };
    type Msg = { payload: { DevEUI_uplink: Uplink }; error?: { message: string } };
    const file = 'Payload decoder pattern.json';
    const flow = () =>
      JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8')) as Array<Record<string, unknown>>;
    const named = (nodes: Array<Record<string, unknown>>, name: string) => {
      const found = nodes.find((n) => n.name === name);
      assert.ok(found, `the example has a node named "${name}"`);
      return helper.getNode(found.id as string) as unknown as {
        on: (e: string, f: (m: Msg) => void) => void;
        once: (e: string, f: (m: Msg) => void) => void;
        receive: (m: object) => void;
      };
    };

    it('its samples decode into payload and points with units, each to the decoder of its device', async () => {
      const nodes = flow();
      await helper.load(servingHttpNodes([...ours, ...coreModules]), nodes);
      const decoded = named(nodes, 'decoded');
      let next = nextMessage<Msg>(decoded);
      named(nodes, 'sample: temperature sensor').receive({});
      // Objects made in the function node's sandbox have another realm's prototypes.
      const plain = (m: Msg) => JSON.parse(JSON.stringify(m.payload.DevEUI_uplink)) as Uplink;
      const temperature = plain(await next);
      assert.deepEqual(temperature.payload, { temperature: 21.56, humidity: 45 });
      assert.deepEqual(temperature.points?.temperature, { unitId: 'Cel', type: 'double', record: 21.56 });
      next = nextMessage<Msg>(decoded);
      named(nodes, 'sample: door sensor').receive({});
      const door = plain(await next);
      assert.deepEqual(door.payload, { open: false, openings: 16 });
    });

    it('a frame its decoder does not know reaches "decoder errors" with the uplink, not "decoded"', async () => {
      const nodes = flow();
      await helper.load(servingHttpNodes([...ours, ...coreModules]), nodes);
      const decodedCount: Msg[] = [];
      named(nodes, 'decoded').on('input', (m) => decodedCount.push(m));
      const failed = nextMessage<Msg>(named(nodes, 'frames that did not decode'));
      named(nodes, 'by decoder').receive({
        payload: { DevEUI_uplink: { DevEUI: '70B3D5E75E000009', FPort: 1, payload_hex: 'ff00' } },
      });
      const caught = await failed;
      assert.match(caught.error!.message, /unknown frame ff00/);
      assert.equal(caught.payload.DevEUI_uplink.DevEUI, '70B3D5E75E000009');
      assert.equal(decodedCount.length, 0);
    });
  });
});
