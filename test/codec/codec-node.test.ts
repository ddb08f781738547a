import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../../testkit/paths';
import {
  coreNode,
  helper,
  nextMessage,
  servingHttpNodes,
  waitFor,
  type NodeModule,
} from '../helpers/node-red';

const fixtures = path.join(repoRoot, 'test', 'codec', 'fixtures');
const codecNode: NodeModule = require(path.join(repoRoot, 'dist', 'nodes', 'codec', 'codec.js'));
const catchNode = coreNode('core/common/25-catch.js');
const modules = () => [...servingHttpNodes([codecNode]), catchNode];
const fixture = (file: string) => fs.readFileSync(path.join(fixtures, file), 'utf8');

const DEV = '0018B20000000C0D';
const uplink = (payload_hex: string, FPort = 1) => ({
  payload: { DevEUI_uplink: { DevEUI: DEV, FPort, payload_hex, Time: '2026-11-20T10:00:00.000+00:00' } },
});

const flow = (codec: Record<string, unknown>) => [
  { id: 'tab', type: 'tab', label: 'test' },
  {
    id: 'codec',
    z: 'tab',
    type: 'thingpark-codec',
    action: 'decode',
    source: 'inline',
    format: 'auto',
    timeout: 50,
    ...codec,
    wires: [['out']],
  },
  { id: 'out', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: ['codec'], uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

describe('codec node (real Node-RED runtime, real Catch node)', function () {
  this.timeout(60000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  it('decodes with an IoT Flow driver package: payload and points where IoT Flow puts them', async () => {
    await helper.load(
      modules(),
      flow({ source: 'file', path: path.join(fixtures, 'iotflow-driver', 'index.js') }),
    );
    const out = nextMessage(helper.getNode('out'));
    helper.getNode('codec').receive(uplink('FF9C28'));
    const msg = await out;
    const up = (msg.payload as { DevEUI_uplink: Record<string, unknown> }).DevEUI_uplink;
    assert.equal(up.payload_hex, 'FF9C28');
    assert.deepEqual(up.payload, { temperature: -10, humidity: 40 });
    assert.deepEqual(up.points, {
      temperature: { unitId: 'Cel', type: 'double', record: -10 },
      humidity: { unitId: '%RH', type: 'double', record: 40, eventTime: '2026-11-20T10:00:00.000+00:00' },
    });
  });

  it('decodes with a TS013 codec: data, numeric leaves as points, warnings in msg.thingpark.codec', async () => {
    await helper.load(modules(), flow({ code: fixture('ts013-codec.js') }));
    const out = nextMessage(helper.getNode('out'));
    helper.getNode('codec').receive(uplink('0E740001', 2));
    const msg = await out;
    const up = (msg.payload as { DevEUI_uplink: Record<string, unknown> }).DevEUI_uplink;
    assert.deepEqual(up.payload, { battery: 3.7, counter: 0, status: { open: true } });
    assert.deepEqual(up.points, {
      battery: { type: 'double', record: 3.7 },
      counter: { type: 'double', record: 0 },
    });
    assert.deepEqual((msg.thingpark as Record<string, unknown>).codec, {
      warnings: ['counter reset'],
      errors: [],
    });
  });

  it('encodes a downlink: payload_hex and FPort for downlink out', async () => {
    await helper.load(modules(), flow({ action: 'encode', code: fixture('ts013-codec.js') }));
    const out = nextMessage(helper.getNode('out'));
    helper.getNode('codec').receive({ payload: { DevEUI: DEV, data: { led: true } } });
    const msg = await out;
    assert.deepEqual(msg.payload, { DevEUI_downlink: { DevEUI: DEV, FPort: 3, payload_hex: '01' } });
  });

  // The allocation tests get time enough to reach the heap bound before the time bound: filling an array
  // of 1.5e8 grows it step by step, 3–10 s on a loaded 2-core machine.
  for (const [file, expected, timeout] of [
    ['throw.js', /bad frame 3/, 50],
    ['loop.js', /still running after 50 ms/, 50],
    ['alloc.js', /more than 64 MB/, 30000],
    ['alloc-once.js', /brought its process down/, 30000],
    ['require.js', /require is not defined/, 50],
  ] as const) {
    it(`a hostile codec (${file}) fails that message to Catch with the raw frame; the next message still passes`, async () => {
      const hostile = fixture(path.join('hostile', file));
      const code = `${hostile.replace('function decodeUplink', 'function hostileDecode')}
        function decodeUplink(input) { return input.fPort === 66 ? hostileDecode(input) : { data: { ok: input.bytes[0] } }; }`;
      await helper.load(modules(), flow({ code, timeout }));
      const caught = nextMessage(helper.getNode('caught'), 45000);
      helper.getNode('codec').receive(uplink('010203', 66));
      const msg = await caught;
      assert.match(String((msg.error as { message: string }).message), expected);
      assert.equal(
        (msg.payload as { DevEUI_uplink: { payload_hex: string } }).DevEUI_uplink.payload_hex,
        '010203',
      );
      const out = nextMessage(helper.getNode('out'));
      helper.getNode('codec').receive(uplink('07'));
      const ok = await out;
      assert.deepEqual((ok.payload as { DevEUI_uplink: { payload: unknown } }).DevEUI_uplink.payload, {
        ok: 7,
      });
    });
  }

  describe('"Run the examples" (POST /thingpark/codec/examples)', () => {
    const run = async (body: unknown) => {
      await helper.load(modules(), flow({}));
      return (await helper.request().post('/thingpark/codec/examples').send(body)) as {
        status: number;
        body: {
          ok: boolean;
          results?: { description: string; pass: boolean; difference?: string }[];
          error?: string;
        };
      };
    };

    it("runs a driver package's examples/*.examples.json: each passes", async () => {
      const res = await run({
        config: { source: 'file', path: path.join(fixtures, 'iotflow-driver', 'index.js') },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { ok: true, results: [{ description: '21.5 °C, 40 %RH', pass: true }] });
    });

    it('runs pasted examples for inline code and shows the difference of a failing one', async () => {
      const res = await run({
        config: { source: 'inline', code: fixture('ts013-codec.js') },
        examples: [
          {
            description: 'good',
            input: { bytes: '0E74050001', fPort: 2 },
            output: { battery: 3.7, counter: 5, status: { open: false } },
          },
          {
            description: 'wrong',
            input: { bytes: '0E74050001', fPort: 2 },
            output: { battery: 3.6, counter: 5, status: { open: false } },
          },
          { description: 'codec error', input: { bytes: '00', fPort: 9 }, output: {} },
        ],
      });
      assert.equal(res.body.ok, false);
      const [good, wrong, failed] = res.body.results!;
      assert.equal(good.pass, true);
      assert.equal(wrong.pass, false);
      assert.match(wrong.difference!, /expected .*"battery":3\.6.*got .*"battery":3\.7/);
      assert.equal(failed.pass, false);
      assert.match(failed.difference!, /unknown fPort 9/);
    });

    it('refuses a request without a codec configuration', async () => {
      const res = await run({});
      assert.equal(res.status, 400);
    });
  });

  it('picks the driver per device from its model (CustomerData.alr.pro/ver) or DevEUI range; unknown models pass untouched', async () => {
    const drivers = [
      { model: 'ACME/TH1', source: 'file', path: path.join(fixtures, 'iotflow-driver', 'index.js') },
      {
        devEUIFrom: '70B3D5E75E000000',
        devEUITo: '70B3D5E75E0000FF',
        source: 'inline',
        code: fixture('ts013-codec.js'),
      },
    ];
    await helper.load(modules(), flow({ drivers }));
    const outs: Record<string, unknown>[] = [];
    helper.getNode('out').on('input', (m: Record<string, unknown>) => outs.push(m));
    const send = (extra: Record<string, unknown>, hex: string, FPort: number) =>
      helper
        .getNode('codec')
        .receive({ payload: { DevEUI_uplink: { DevEUI: DEV, FPort, payload_hex: hex, ...extra } } });
    send({ CustomerData: { alr: { pro: 'ACME', ver: 'TH1' } } }, '00D728', 1);
    send({ DevEUI: '70B3D5E75E000042' }, '0E740501', 2);
    send({ CustomerData: { alr: { pro: 'OTHER', ver: '1' } } }, '00D728', 1);
    await waitFor(() => outs.length === 3);
    const up = (i: number) => (outs[i].payload as { DevEUI_uplink: Record<string, unknown> }).DevEUI_uplink;
    const acme = outs.map((_m, i) => up(i)).find((u) => isModel(u, 'ACME'))!;
    const other = outs.map((_m, i) => up(i)).find((u) => isModel(u, 'OTHER'))!;
    const ranged = outs.map((_m, i) => up(i)).find((u) => u.DevEUI === '70B3D5E75E000042')!;
    assert.deepEqual(acme.payload, { temperature: 21.5, humidity: 40 });
    assert.deepEqual(ranged.payload, { battery: 3.7, counter: 5, status: { open: true } });
    assert.equal(other.payload, undefined);
    assert.equal(other.points, undefined);
  });
});

const isModel = (u: Record<string, unknown>, pro: string) =>
  (u.CustomerData as { alr?: { pro?: string } } | undefined)?.alr?.pro === pro;
