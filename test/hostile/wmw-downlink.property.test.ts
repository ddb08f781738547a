import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as os from 'os';
import * as path from 'path';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import { downlinkDocument, parseDownlink } from '../../lib/thingpark/mapping/downlink';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { helper, servingHttpNodes, waitFor } from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';
import { DEV, downlinkTree, jsonText, preview } from './arbitraries';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const wmwNode = require(nodeFile('wmw'));
const downlinkInNode = require(nodeFile('downlink-in'));

const ENTERPRISE = 'hostile42';
const TOPIC = `downlink_${ENTERPRISE}`;
const RUNS = Number(process.env.HOSTILE_MQTT_RUNS) || 2000;

/** Words an error must contain to name its problem. */
const NAMES_A_PROBLEM =
  /is not JSON|DevEUI must be|FPort must be|payload_hex|payload of \d+ bytes|CorrelationID must be|ValidityTime must be|FCntDn must be|downlink must be an object|expected \{"DevEUI_downlink"/;

/** What WMW could put on downlink_<id>: downlink documents of every shape, garbage bytes, edge cases. */
const payloads: fc.Arbitrary<{ bytes: Buffer; note: string }> = fc
  .oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(downlinkTree, fc.boolean())
        .map(([{ tree, note }, untyped]) => ({ bytes: Buffer.from(jsonText(tree, untyped)), note })),
    },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ maxLength: 300 })
        .map((a) => ({ bytes: Buffer.from(a), note: 'random bytes' })),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '',
          'null',
          '[]',
          '"DevEUI_downlink"',
          '{',
          'not json',
          '\uFEFF{"DevEUI_downlink":{}}',
          `{"DevEUI_downlink":{"DevEUI":"${DEV}","FPort":1,"payload_hex":"${'ab'.repeat(150000)}"}}`,
          `{"DevEUI_downlink":{"DevEUI":"${DEV}","FPort":1,"payload_hex":"00","junk":"${'x'.repeat(300000)}"}}`,
        )
        .map((text) => ({ bytes: Buffer.from(text), note: `edge case ${preview(text).slice(0, 40)}` })),
    },
  )
  .map((p) => Object.assign(p, { [fc.toStringMethod]: () => `${p.note}: ${preview(p.bytes.toString())}` }));

/** JSON for a comparison; a driver payload too deep for JSON is compared by its keys. */
function asJson(value: Record<string, unknown>): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(Object.keys(value));
  }
}

type Expected = { request: ReturnType<typeof parseDownlink> } | { reason: string; documentError: boolean };

/** What the WMW client must make of a message, from the pure functions. */
function expectedFor(bytes: Buffer): Expected {
  const text = bytes.toString('utf8');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { reason: `message on ${TOPIC} is not JSON`, documentError: true };
  }
  try {
    return { request: parseDownlink(document, { allowDriverPayload: true }) };
  } catch (err) {
    return {
      reason: `message on ${TOPIC}: ${(err as Error).message}`,
      documentError: err instanceof DocumentError,
    };
  }
}

describe('downlink in from WMW under hostile messages on downlink_<id> (property-based, real mosquitto)', function () {
  this.timeout(120000);
  let broker: Mosquitto;
  let platform: mqtt.MqttClient;
  let userDir: string;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const downlinks: Array<Record<string, unknown>> = [];
  const errors: string[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const arrived = () => {
    if (waiter && downlinks.length + errors.length >= waiter.count) waiter.resolve();
  };
  /** Resolves once downlinks and errors together number `count` (no polling: thousands of cases). */
  const outcomes = (count: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no outcome within 5 s for ${what}`)), 5000);
      waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          waiter = undefined;
          resolve();
        },
      };
      arrived();
    });
  let reconnectsBefore = 0;

  before(async function () {
    if (!hasMosquitto) this.skip();
    process.on('unhandledRejection', onRejection);
    broker = new Mosquitto({ users: { 'edge-gw': 'gw-pass-5c1d', 'wmw-platform': 'platform-pass' } });
    await broker.start();
    platform = await mqtt.connectAsync(broker.url, {
      username: 'wmw-platform',
      password: 'platform-pass',
      reconnectPeriod: 0,
    });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-hostile-wmw-'));
    helper.settings({ userDir });
    await helper.startServer();
    await helper.load(
      servingHttpNodes([wmwNode, downlinkInNode]),
      [
        { id: 'tab', type: 'tab', label: 'wmw' },
        {
          id: 'wmw',
          type: 'thingpark-wmw',
          region: 'custom',
          hostName: `127.0.0.1:${broker.port}`,
          enterpriseId: ENTERPRISE,
          insecure: true,
          bufferMax: 1000,
          bufferPolicy: 'drop-oldest',
        },
        { id: 'dlin', z: 'tab', type: 'thingpark-downlink-in', wmw: 'wmw', wires: [['dlmsg']] },
        { id: 'dlmsg', z: 'tab', type: 'helper' },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { wmw: { username: 'edge-gw', password: 'gw-pass-5c1d' } },
    );
    helper.getNode('dlmsg').on('input', (msg: Record<string, unknown>) => {
      downlinks.push(msg);
      arrived();
    });
    helper.getNode('caught').on('input', (msg: { error: { message: string } }) => {
      errors.push(String(msg.error.message));
      arrived();
    });
    const client = () => helper.getNode('wmw').connection.client;
    await waitFor(() => client().state === 'connected', 15000, 'WMW connected');
    // The subscription to downlink_<id> is made on connect: wait until a probe comes through.
    const probe = JSON.stringify({ DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '00' } });
    const end = Date.now() + 10000;
    while (downlinks.length === 0 && Date.now() < end) {
      await platform.publishAsync(TOPIC, probe, { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(downlinks.length > 0, 'subscribed');
    reconnectsBefore = client().reconnects;
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await platform?.endAsync(true);
    await helper.unload();
    await helper.stopServer();
    await broker?.dispose();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it(`${RUNS} hostile messages: each valid one comes out of downlink in, each invalid one is a Catch-able error naming the problem`, async () => {
    await fc.assert(
      fc.asyncProperty(payloads, async ({ bytes, note }) => {
        const before = { downlinks: downlinks.length, errors: errors.length };
        const expected = expectedFor(bytes);
        await platform.publishAsync(TOPIC, bytes, { qos: 1 });
        await outcomes(before.downlinks + before.errors + 1, note);
        if ('request' in expected) {
          assert.equal(errors.length, before.errors, `${note}: unexpected error ${errors.at(-1)}`);
          const msg = downlinks.at(-1)!;
          const want = downlinkDocument(expected.request).DevEUI_downlink;
          const got = (msg.payload as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink;
          assert.equal(
            asJson({ ...got, CorrelationID: undefined }),
            asJson({ ...want, CorrelationID: undefined }),
          );
          assert.match(String(got.CorrelationID), /^[0-9A-Za-z_-]{1,64}$/);
          assert.equal(msg.topic, expected.request.devEUI);
          const origin = (msg.thingpark as { origin: { platform: string; ref: { topic: string } } }).origin;
          assert.equal(origin.platform, 'wmw');
          assert.equal(origin.ref.topic, TOPIC);
        } else {
          assert.equal(
            downlinks.length,
            before.downlinks,
            `${note}: emitted although invalid (${expected.reason})`,
          );
          const message = errors.at(-1)!;
          assert.ok(message.includes(`Invalid downlink from WMW: ${expected.reason}`), message);
          assert.match(message, NAMES_A_PROBLEM, `the error names the problem: ${message}`);
        }
        assert.equal(rejections.length, 0, `unhandled rejection: ${preview(String(rejections[0]))}`);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });

  it('the connection stayed up all along, and a valid downlink afterwards still comes out', async () => {
    const client = helper.getNode('wmw').connection.client;
    assert.equal(client.state, 'connected');
    assert.equal(client.reconnects, reconnectsBefore, 'no reconnect');
    const before = downlinks.length;
    await platform.publishAsync(
      TOPIC,
      JSON.stringify({
        DevEUI_downlink: { DevEUI: DEV, FPort: 9, payload_hex: 'c0ffee', CorrelationID: 'AFTER1' },
      }),
      { qos: 1 },
    );
    await waitFor(() => downlinks.length > before, 5000, 'the valid downlink');
    assert.deepEqual(downlinks.at(-1)!.payload, {
      DevEUI_downlink: { DevEUI: DEV, FPort: 9, payload_hex: 'c0ffee', CorrelationID: 'AFTER1' },
    });
  });

  // Regression for what the storm found (a product bug until fixed: see the report).

  it('an FPort object with a "toString" key gives an error naming FPort', async () => {
    const before = errors.length;
    await platform.publishAsync(
      TOPIC,
      JSON.stringify({ DevEUI_downlink: { DevEUI: DEV, FPort: { toString: 1 }, payload_hex: '00' } }),
      { qos: 1 },
    );
    await waitFor(() => errors.length > before, 5000, 'the error');
    assert.match(errors.at(-1)!, /FPort/);
  });
});
