import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as os from 'os';
import * as path from 'path';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import { normaliseDocument, type NormalisedDocument } from '../../lib/thingpark/mapping/normalise';
import { parseDocumentText } from '../../lib/thingpark/mapping/parse';
import { devEUIFromTopic } from '../../lib/thingpark/mapping/topics';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { helper, networkNode, servingHttpNodes, uplinkInNode, waitFor } from '../helpers/node-red';
import { DEV, documentCase, preview, targetedCase, type TextCase } from './arbitraries';

const RUNS = Number(process.env.HOSTILE_MQTT_RUNS) || 1500;
const SEED = Number(process.env.HOSTILE_SEED) || 20240501;
const PATTERN = 'mqtt/things/{DevEUI}/uplink';

/** The DevEUI level of an IoT Flow uplink topic: the document's own, another device's, or no DevEUI at all. */
const devEuiLevel: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(DEV, DEV.toLowerCase(), '70B3D5E75E0053C1') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'zz',
      `${DEV}0`,
      DEV.slice(1),
      ` ${DEV}`,
      'é'.repeat(16),
      '__proto__',
      'constructor',
      '$SYS',
      'x'.repeat(5000),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: 'grapheme', maxLength: 20 })
      .filter((s) => !/[/+#]/.test(s) && !s.includes('\u0000')),
  },
);

interface MqttCase {
  topic: string;
  bytes: Buffer;
  note: string;
}

/** What could arrive on the uplink topics: ThingPark documents of every shape, garbage bytes, huge messages. */
const messages: fc.Arbitrary<MqttCase> = fc
  .record({
    level: devEuiLevel,
    body: fc.oneof(
      { weight: 6, arbitrary: documentCase },
      { weight: 2, arbitrary: targetedCase },
      {
        weight: 1,
        arbitrary: fc.uint8Array({ maxLength: 300 }).map((a): TextCase => ({
          format: 'json',
          text: Buffer.from(a).toString('latin1'),
          note: 'random bytes',
        })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(
            '',
            'null',
            '[]',
            '{}',
            '{',
            '<',
            '\uFEFF',
            '{"temperature":21.5}',
            JSON.stringify({ DevEUI_uplink: { ...sampleUplink(DEV, 1), payload_hex: 'ab'.repeat(150000) } }),
            JSON.stringify({ DevEUI_uplink: { ...sampleUplink(DEV, 2), junk: 'x'.repeat(300000) } }),
          )
          .map((text): TextCase => ({
            format: 'json',
            text,
            note: `edge case ${preview(text).slice(0, 40)}`,
          })),
      },
    ),
  })
  .map(({ level, body }) => {
    const c: MqttCase = {
      topic: `mqtt/things/${level}/uplink`,
      bytes: Buffer.from(body.text, body.note === 'random bytes' ? 'latin1' : 'utf8'),
      note: `${body.note} on ${preview(level)}`,
    };
    return Object.assign(c, {
      [fc.toStringMethod]: () => `${c.note}: ${preview(c.bytes.toString('utf8'))}`,
    });
  });

/** What uplink in must make of a message, from the pure functions. */
function expectedFor(topic: string, bytes: Buffer): { doc: NormalisedDocument } | { reason: string } {
  try {
    const hint = devEUIFromTopic(PATTERN, topic);
    return { doc: normaliseDocument(parseDocumentText(bytes.toString('utf8')), { devEUIHint: hint }) };
  } catch (err) {
    // Anything but a DocumentError is a bug of the pure code (test/hostile/documents.property.test.ts).
    if (!(err instanceof DocumentError)) throw err;
    return { reason: err.message };
  }
}

/** JSON for a comparison; a payload too deep for JSON is compared by its keys. */
function asJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(Object.keys(value as object));
  }
}

type Msg = Record<string, unknown>;

describe('uplink in (IoT Flow MQTT mode) under hostile messages on its topics (property-based, real mosquitto)', function () {
  this.timeout(120000);
  let broker: Mosquitto;
  let iotFlow: mqtt.MqttClient;
  let userDir: string;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const emitted: Msg[] = [];
  const errors: Array<{ message: string; topic: unknown; payload: unknown }> = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const arrived = () => {
    if (waiter && emitted.length + errors.length >= waiter.count) waiter.resolve();
  };
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
  const network = () => helper.getNode('net');

  before(async function () {
    if (!hasMosquitto) this.skip();
    process.on('unhandledRejection', onRejection);
    broker = new Mosquitto({ users: { edge: 'edge-pass-mqtt', iotflow: 'iotflow-pass' } });
    await broker.start();
    iotFlow = await mqtt.connectAsync(broker.url, {
      username: 'iotflow',
      password: 'iotflow-pass',
      reconnectPeriod: 0,
    });
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-hostile-iotflow-'));
    helper.settings({ userDir });
    await helper.startServer();
    await helper.load(
      servingHttpNodes([networkNode, uplinkInNode]),
      [
        { id: 'tab', type: 'tab', label: 'iot flow' },
        {
          id: 'net',
          type: 'thingpark-network',
          mode: 'mqtt',
          broker: `127.0.0.1:${broker.port}`,
          protocol: 'tcp',
          clientId: 'hostile-uplink-in',
        },
        { id: 'up', z: 'tab', type: 'thingpark-uplink-in', network: 'net', wires: [['upmsg']] },
        { id: 'upmsg', z: 'tab', type: 'helper' },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { net: { username: 'edge', password: 'edge-pass-mqtt' } },
    );
    helper.getNode('upmsg').on('input', (msg: Msg) => {
      emitted.push(msg);
      arrived();
    });
    helper
      .getNode('caught')
      .on('input', (msg: { error: { message: string }; topic: unknown; payload: unknown }) => {
        errors.push({ message: String(msg.error.message), topic: msg.topic, payload: msg.payload });
        arrived();
      });
    await waitFor(() => network().mqtt.state === 'connected', 15000, 'IoT Flow broker connected');
    const probe = JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 0) });
    const end = Date.now() + 10000;
    while (emitted.length === 0 && Date.now() < end) {
      await iotFlow.publishAsync(`mqtt/things/${DEV}/uplink`, probe, { qos: 1 });
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(emitted.length > 0, 'subscribed');
    await new Promise((r) => setTimeout(r, 300));
    emitted.length = 0;
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await iotFlow?.endAsync(true);
    await helper.unload();
    await helper.stopServer();
    await broker?.dispose();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  it(`${RUNS} hostile messages: each valid document comes out of uplink in, each invalid one is a Catch-able error naming the problem`, async () => {
    const reconnects = network().mqtt.reconnects;
    const seen = { valid: 0, invalid: 0 };
    await fc.assert(
      fc.asyncProperty(messages, async ({ topic, bytes, note }) => {
        const before = { emitted: emitted.length, errors: errors.length };
        const expected = expectedFor(topic, bytes);
        await iotFlow.publishAsync(topic, bytes, { qos: 1 });
        await outcomes(before.emitted + before.errors + 1, note);
        seen['doc' in expected ? 'valid' : 'invalid']++;
        if ('doc' in expected) {
          assert.equal(errors.length, before.errors, `${note}: unexpected error ${errors.at(-1)?.message}`);
          const msg = emitted.at(-1)!;
          assert.equal(asJson(msg.payload), asJson(expected.doc.document));
          const info = expected.doc.info;
          assert.equal(msg.topic, info.devEUI ?? msg.topic);
          const got = msg.thingpark as Record<string, unknown>;
          assert.equal(got.verified, false, 'nothing proves an MQTT document genuine');
          for (const key of ['type', 'devEUI', 'connectivity', 'fPort', 'correlationId'] as const)
            assert.equal(got[key], info[key], key);
        } else {
          assert.equal(
            emitted.length,
            before.emitted,
            `${note}: emitted although invalid (${expected.reason})`,
          );
          const error = errors.at(-1)!;
          assert.equal(error.message, `Refused a ThingPark document: ${expected.reason}`);
          assert.equal(error.topic, topic, 'the error names the topic');
          const text = bytes.toString('utf8');
          assert.equal(error.payload, text.length > 1024 ? `${text.slice(0, 1024)}…` : text);
        }
        assert.equal(rejections.length, 0, `unhandled rejection: ${preview(String(rejections[0]))}`);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    assert.ok(Math.min(seen.valid, seen.invalid) > RUNS / 10, `both kinds tried: ${JSON.stringify(seen)}`);
    assert.equal(network().mqtt.state, 'connected');
    assert.equal(network().mqtt.reconnects, reconnects, 'no reconnect');
  });

  it('a valid uplink afterwards still comes out, and the status counts what was refused', async () => {
    const before = emitted.length;
    await iotFlow.publishAsync(
      `mqtt/things/${DEV}/uplink`,
      JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 4242) }),
      { qos: 1 },
    );
    await waitFor(() => emitted.length > before, 5000, 'the valid uplink');
    const body = (emitted.at(-1)!.payload as { DevEUI_uplink: Record<string, unknown> }).DevEUI_uplink;
    assert.equal(body.FCntUp, 4242);
    await waitFor(
      () =>
        helper
          .getNode('up')
          .status.args.some((a: Array<{ text?: string }>) =>
            (a[0]?.text ?? '').endsWith(` received, ${errors.length} refused`),
          ),
      3000,
      'status with the counts',
    );
  });
});
