import { strict as assert } from 'assert';
import fc from 'fast-check';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  BaseType,
  buildAuthMessage,
  buildBindMessage,
  buildRequestMessage,
  buildResponse,
  Characteristic,
  decodeHeader,
  encodeMessage,
  EntityType,
  isRequestCode,
  MessageCode,
  MultipartReassembler,
  propertyPutParams,
  readPropertyPut,
  splitMessage,
  Typed,
  type AlwaysOnMessage,
  type InfoTable,
  type RequestMessage,
  type ResponseMessage,
  type TypedValue,
} from '../../lib/thingworx';
import { devEuiOfThing, DOWNLINK_PROPERTIES, parseDownlinkWrite } from '../../lib/thingworx/thing-mapping';
import type { DownlinkRequest } from '../../lib/thingpark/mapping/downlink';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { helper, servingHttpNodes, waitFor } from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';
import { arbitraries, message } from '../thingworx/arbitraries';
import { DEV, DOWNLINK_BODIES, downlinkTree, jsonText, preview } from './arbitraries';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const thingworxNode = require(nodeFile('thingworx'));
const downlinkInNode = require(nodeFile('downlink-in'));

const RUNS = Number(process.env.HOSTILE_TWX_RUNS) || 1000;
const SEED = Number(process.env.HOSTILE_SEED) || 20240501;
const APP_KEY = 'hostile-twx-app-key';
const TPL = 'ThingParkDeviceTemplate';
/** Things of our template (bound at start): one named by its DevEUI, one not. */
const PUMP = 'pump-7';
/** A Thing of another template: exists, never bound. */
const OTHER = 'OtherConnectorThing';
const SERVICES_ANSWERED = ['NotifyPropertyUpdate', 'GetMetadata', 'SynchronizeModelState'];

// ---------------------------------------------------------------------------------------------
// What the platform could send.

const { value: anyTypedValue, table: anyTable } = arbitraries(2);

/** Texts a downlink property could hold: downlink documents of every shape, garbage, huge. */
const downlinkText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(...DOWNLINK_BODIES), fc.boolean())
      .map(([body, rooted]) => JSON.stringify(rooted ? { DevEUI_downlink: body } : body)),
  },
  { weight: 6, arbitrary: downlinkTree.map(({ tree }) => jsonText(tree)) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'null',
      '{}',
      '[]',
      'send 00 on port 1',
      '{"DevEUI_downlink":',
      JSON.stringify({ FPort: 3, payload_hex: '01' }),
      JSON.stringify({ DevEUI_downlink: { FPort: { toString: 1 }, payload_hex: '00' } }),
      JSON.stringify({ DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: 'ab'.repeat(150000) } }),
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

/** The value of a property write: JSON as ThingWorx writes it, or any other base type, wrapped or not. */
const writtenValue: fc.Arbitrary<TypedValue> = fc.oneof(
  { weight: 6, arbitrary: downlinkText.map((text) => Typed.json(text)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(downlinkText, fc.constantFrom(BaseType.STRING, BaseType.TEXT, BaseType.XML, BaseType.PASSWORD))
      .map(([value, baseType]) => ({ baseType, value }) as TypedValue),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(downlinkText, fc.integer({ min: 1, max: 3 })).map(([text, depth]) => {
      let v: TypedValue = Typed.json(text);
      for (let i = 0; i < depth; i++) v = { baseType: BaseType.VARIANT, value: v };
      return v;
    }),
  },
  { weight: 2, arbitrary: anyTypedValue },
);

type PlatformRequest = Omit<RequestMessage, 'requestId' | 'sessionId' | 'endpointId'>;

/** Any request from the platform: every method, entity, characteristic and params shape. */
const anyRequest: fc.Arbitrary<PlatformRequest> = fc
  .record({
    code: fc.oneof(
      { weight: 8, arbitrary: fc.constant(MessageCode.PUT) },
      { weight: 1, arbitrary: fc.constantFrom(MessageCode.GET, MessageCode.POST, MessageCode.DEL) },
    ),
    entityType: fc.oneof(
      { weight: 9, arbitrary: fc.constant(EntityType.THING) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
    entityName: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(DEV, PUMP) },
      { weight: 1, arbitrary: fc.constantFrom(OTHER, DEV.toLowerCase(), '', '__proto__') },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    ),
    characteristic: fc.oneof(
      { weight: 8, arbitrary: fc.constant(Characteristic.PROPERTIES) },
      { weight: 2, arbitrary: fc.constant(Characteristic.SERVICES) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
    characteristicName: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...DOWNLINK_PROPERTIES) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          'uplinkData',
          'downlinkStatus',
          'Downlink',
          '__proto__',
          ...SERVICES_ANSWERED,
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    ),
    value: writtenValue,
    params: fc.oneof(
      { weight: 8, arbitrary: fc.constant('put' as const) },
      { weight: 1, arbitrary: fc.constantFrom('none' as const, 'no rows' as const, 'other column' as const) },
      { weight: 1, arbitrary: anyTable },
    ),
  })
  .map((r) => {
    let params: InfoTable | undefined;
    if (r.params === 'put') params = propertyPutParams(r.characteristicName, r.value);
    else if (r.params === 'no rows')
      params = { dataShape: [{ name: r.characteristicName, baseType: r.value.baseType }], rows: [] };
    else if (r.params === 'other column') params = propertyPutParams(`${r.characteristicName}_`, r.value);
    else if (r.params !== 'none') params = r.params;
    const body = {
      entityType: r.entityType,
      entityName: r.entityName,
      characteristic: r.characteristic,
      characteristicName: r.characteristicName,
      headers: [],
      ...(params ? { params } : {}),
    };
    return { kind: 'request' as const, code: r.code, body };
  });

/** A write of downlink / downlinkData on one of our Things, with a hostile value. */
const downlinkWrite: fc.Arbitrary<PlatformRequest> = fc
  .record({
    thing: fc.constantFrom(DEV, PUMP),
    property: fc.constantFrom(...DOWNLINK_PROPERTIES),
    value: writtenValue,
  })
  .map(({ thing, property, value }) => ({
    kind: 'request' as const,
    code: MessageCode.PUT,
    body: {
      entityType: EntityType.THING,
      entityName: thing,
      characteristic: Characteristic.PROPERTIES,
      characteristicName: property,
      headers: [],
      params: propertyPutParams(property, value),
    },
  }));

/** A request from the platform: mostly downlink writes on our Things, and every other kind. */
const platformRequest = fc.oneof(
  { weight: 2, arbitrary: downlinkWrite },
  { weight: 1, arbitrary: anyRequest },
);

type Garble =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'text' }
  | { kind: 'drop chunk'; at: number }
  | { kind: 'repeat chunk'; at: number };

const garble: fc.Arbitrary<Garble> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'text' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop chunk' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('repeat chunk' as const), at: fc.nat() }) },
);

/** One frame of a message changed (the last one, or the chunk `at` picks), or a chunk dropped or repeated. */
function applyGarble(frames: Buffer[], g: Garble): { frames: Buffer[]; text: boolean } {
  const out = [...frames];
  const pick = (at: number) => at % out.length;
  switch (g.kind) {
    case 'none':
      break;
    case 'truncate': {
      const i = pick(g.at);
      out[i] = out[i].subarray(0, g.at % (out[i].length + 1));
      break;
    }
    case 'set': {
      const i = pick(g.at);
      const copy = Buffer.from(out[i]);
      if (copy.length > 0) copy[g.at % copy.length] = g.byte;
      out[i] = copy;
      break;
    }
    case 'insert': {
      const i = pick(g.at);
      const at = g.at % (out[i].length + 1);
      out[i] = Buffer.concat([out[i].subarray(0, at), Buffer.from(g.bytes), out[i].subarray(at)]);
      break;
    }
    case 'append':
      out[out.length - 1] = Buffer.concat([out[out.length - 1], Buffer.from(g.bytes)]);
      break;
    case 'random':
      return { frames: [Buffer.from(g.bytes)], text: false };
    case 'text':
      return { frames: out, text: true };
    case 'drop chunk':
      out.splice(pick(g.at), 1);
      break;
    case 'repeat chunk':
      out.splice(pick(g.at), 0, out[pick(g.at)]);
      break;
  }
  return { frames: out, text: false };
}

// ---------------------------------------------------------------------------------------------
// What the connector must answer.

interface Expected {
  code: number;
  /** The reason of a 0x80 answer, when it is one we know. */
  reason?: string;
  downlink?: DownlinkRequest;
  /** The Catch-able error. */
  error?: string;
}

/**
 * The answer to a request from the platform, as reference/thingworx-alwayson.md describes the edge: unknown Thing
 * 0x84, unknown service or method 0x85; a write of `downlink` / `downlinkData` on a bound Thing becomes a downlink
 * (0x40) or an error with the reason (0x80, seen by a Catch node).
 */
function expectedAnswer(msg: RequestMessage, bound: ReadonlySet<string>): Expected {
  const b = msg.body;
  if (b.entityType !== EntityType.THING || !bound.has(b.entityName)) return { code: MessageCode.NOT_FOUND };
  if (b.characteristic === Characteristic.SERVICES) {
    return {
      code: SERVICES_ANSWERED.includes(b.characteristicName)
        ? MessageCode.SUCCESS
        : MessageCode.METHOD_NOT_ALLOWED,
    };
  }
  if (b.characteristic !== Characteristic.PROPERTIES || msg.code !== MessageCode.PUT) {
    return { code: MessageCode.METHOD_NOT_ALLOWED };
  }
  const put = readPropertyPut(b);
  if (!put) return { code: MessageCode.BAD_REQUEST, reason: `no value for property ${b.characteristicName}` };
  if (!DOWNLINK_PROPERTIES.includes(put.property)) return { code: MessageCode.METHOD_NOT_ALLOWED };
  try {
    return {
      code: MessageCode.SUCCESS,
      downlink: parseDownlinkWrite(put.value, devEuiOfThing('', b.entityName)),
    };
  } catch (e) {
    const reason = (e as Error).message;
    return {
      code: MessageCode.BAD_REQUEST,
      reason,
      error: `Invalid downlink from ThingWorx: Thing ${b.entityName}, property ${put.property}: ${reason}`,
    };
  }
}

interface FramesExpected {
  answers: Array<{ requestId: number; sessionId: number; expected: Expected }>;
  errors: string[];
  downlinks: DownlinkRequest[];
  protocolErrors: number;
}

/**
 * What the client must do with raw frames, read with a reassembler of our own that sees the same frames: an
 * undecodable frame (or one the edge never receives: AUTH, BIND, keep-alive) is a protocol error, said to Catch and
 * answered 0x80 when its header is a request's; a decodable request is answered as expectedAnswer says; a response
 * to nothing and a chunk of an unfinished message are dropped.
 */
function expectedForFrames(
  mirror: MultipartReassembler,
  frames: Buffer[],
  text: boolean,
  bound: ReadonlySet<string>,
): FramesExpected {
  const out: FramesExpected = { answers: [], errors: [], downlinks: [], protocolErrors: 0 };
  const badFrame = (received: Buffer, e: Error) => {
    out.protocolErrors++;
    out.errors.push(`Invalid downlink from ThingWorx: bad frame from the platform: ${e.message}`);
    try {
      const h = decodeHeader(received);
      if (isRequestCode(h.code)) {
        out.answers.push({
          requestId: h.requestId,
          sessionId: h.sessionId,
          expected: { code: MessageCode.BAD_REQUEST, reason: 'undecodable request' },
        });
      }
    } catch {
      // no header: nothing to answer
    }
  };
  for (const frame of frames) {
    // What a text frame becomes on the wire: the UTF-8 of the string we send.
    const received = text ? Buffer.from(frame.toString('latin1'), 'utf8') : frame;
    let msg: AlwaysOnMessage | undefined;
    try {
      if (text) throw new Error('text frame');
      msg = mirror.accept(received);
    } catch (e) {
      badFrame(received, e as Error);
      continue;
    }
    if (!msg || msg.kind === 'response') continue;
    if (msg.kind !== 'request') {
      badFrame(received, new Error(`unexpected ${msg.kind} message from the platform`));
      continue;
    }
    const expected = expectedAnswer(msg, bound);
    out.answers.push({ requestId: msg.requestId, sessionId: msg.sessionId, expected });
    if (expected.error) out.errors.push(expected.error);
    if (expected.downlink) out.downlinks.push(expected.downlink);
  }
  return out;
}

type Msg = Record<string, unknown>;

describe('downlink in from ThingWorx under hostile requests and frames from the AlwaysOn test server (property-based)', function () {
  this.timeout(120000);
  let server: AlwaysOnTestServer;
  let userDir: string;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  const downlinks: Msg[] = [];
  const errors: string[] = [];
  let waiter: { count: number; resolve: () => void } | undefined;
  const arrived = () => {
    if (waiter && downlinks.length + errors.length >= waiter.count) waiter.resolve();
  };
  const outcomes = (count: number, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`${downlinks.length + errors.length} of ${count} outcomes within 5 s for ${what}`),
          ),
        5000,
      );
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
  // Request ids of our own, far from the server's: a garbled id may still land anywhere.
  let nextId = 0x50000000;
  let conn = 0;
  const bound = new Set([DEV, PUMP]);
  const mirror = new MultipartReassembler();
  const client = () => helper.getNode('twx').connection.client;
  /** Frames the client could not decode, counted by its sockets. */
  const protocolErrors = (): number =>
    (client() as { pool: { stats: { protocolErrors: number } } }).pool.stats.protocolErrors;

  before(async () => {
    process.on('unhandledRejection', onRejection);
    server = await new AlwaysOnTestServer({ appKey: APP_KEY }).start();
    server.addConnectorTemplate(TPL);
    server.addTemplate('OtherTemplate', { data: 'JSON' });
    server.addThings([DEV, PUMP], TPL);
    server.addThing(OTHER, 'OtherTemplate');
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-hostile-twx-'));
    helper.settings({ userDir });
    await helper.startServer();
    await helper.load(
      servingHttpNodes([thingworxNode, downlinkInNode]),
      [
        { id: 'tab', type: 'tab', label: 'thingworx' },
        {
          id: 'twx',
          type: 'thingpark-thingworx',
          hostName: `127.0.0.1:${server.port}`,
          thingTemplateName: TPL,
          thingNamePrefix: '',
          pipeCount: 1,
          allowInsecure: true,
          bufferMax: 1000,
          bufferPolicy: 'drop-oldest',
        },
        { id: 'dlin', z: 'tab', type: 'thingpark-downlink-in', thingworx: 'twx', wires: [['dlmsg']] },
        { id: 'dlmsg', z: 'tab', type: 'helper' },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { twx: { applicationKey: APP_KEY } },
    );
    helper.getNode('dlmsg').on('input', (msg: Msg) => {
      downlinks.push(msg);
      arrived();
    });
    helper.getNode('caught').on('input', (msg: { error: { message: string } }) => {
      errors.push(String(msg.error.message));
      arrived();
    });
    await waitFor(() => client().state === 'connected', 15000, 'ThingWorx connected');
    assert.ok(server.isBound(DEV) && server.isBound(PUMP) && !server.isBound(OTHER));
    conn = server.connectionOf(DEV)!;
    // Connecting went through the provisioning calls; what the platform does not answer is warned about, not caught.
    await new Promise((r) => setTimeout(r, 300));
    errors.length = 0;
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await helper.unload();
    await helper.stopServer();
    await server?.close();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  /** Sends frames, then checks the answers, the downlinks and the Catch-able errors against `expected`. */
  async function check(
    frames: Buffer[],
    text: boolean,
    expected: FramesExpected,
    note: string,
  ): Promise<void> {
    const before = { downlinks: downlinks.length, errors: errors.length, protocol: protocolErrors() };
    const answers = await server.sendRaw(conn, frames, {
      text,
      answers: expected.answers.map(({ requestId, sessionId }) => ({ requestId, sessionId })),
    });
    const count = expected.errors.length + expected.downlinks.length;
    await outcomes(before.downlinks + before.errors + count, note);
    answers.forEach((answer: ResponseMessage, i) => {
      const want = expected.answers[i].expected;
      assert.equal(answer.code, want.code, `${note}: answer ${i} (${answer.body.reason ?? ''})`);
      // Sent as UTF-8: a lone surrogate (a preview may cut a pair) arrives as U+FFFD.
      if (want.reason !== undefined)
        assert.equal(answer.body.reason, Buffer.from(want.reason).toString(), `${note}: reason`);
    });
    assert.deepEqual(errors.slice(before.errors), expected.errors, `${note}: the Catch-able errors`);
    const got = downlinks.slice(before.downlinks);
    assert.equal(got.length, expected.downlinks.length, `${note}: the downlinks`);
    got.forEach((msg, i) => {
      const want = expected.downlinks[i];
      const body = (msg.payload as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink;
      assert.equal(body.DevEUI, want.devEUI);
      assert.equal(body.FPort, want.fPort);
      assert.equal(body.payload_hex, want.payloadHex);
      assert.equal(msg.topic, want.devEUI);
      assert.equal((msg.thingpark as { origin: { platform: string } }).origin.platform, 'thingworx');
    });
    assert.equal(protocolErrors() - before.protocol, expected.protocolErrors, `${note}: protocol errors`);
    assert.equal(rejections.length, 0, `unhandled rejection: ${preview(String(rejections[0]))}`);
  }

  const framesOf = (msg: AlwaysOnMessage) => splitMessage(encodeMessage(msg));
  const ids = () => ({ requestId: nextId++, endpointId: 0, sessionId: server.sessionOf(conn)! });

  it(`${RUNS} hostile property writes and service calls: each answered as the protocol says, each downlink out once, each refusal a Catch-able error naming the problem`, async () => {
    const seen = { downlinks: 0, errors: 0 };
    await fc.assert(
      fc.asyncProperty(platformRequest, async (request) => {
        const msg = { ...request, ...ids() } as RequestMessage;
        let frames: Buffer[];
        try {
          frames = framesOf(msg);
        } catch {
          fc.pre(false); // not encodable (over 1 MiB): not something a platform can send
          return;
        }
        const expected = expectedForFrames(mirror, frames, false, bound);
        seen.downlinks += expected.downlinks.length;
        seen.errors += expected.errors.length;
        const b = msg.body;
        await check(
          frames,
          false,
          expected,
          `${MessageCode.PUT === msg.code ? 'PUT' : msg.code} ${b.entityName}/${b.characteristicName}`,
        );
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    assert.ok(Math.min(seen.downlinks, seen.errors) > RUNS / 10, `both kinds tried: ${JSON.stringify(seen)}`);
  });

  it(`${RUNS} garbled frames (cut, bytes changed, chunks dropped or repeated, random, text): never a crash, a Catch-able error for each bad frame, answers where the header allows`, async () => {
    const sources = fc.oneof(
      {
        weight: 6,
        arbitrary: platformRequest.map((r) => (): AlwaysOnMessage => ({ ...r, ...ids() }) as RequestMessage),
      },
      {
        weight: 1,
        arbitrary: message(anyTable).map((m) => (): AlwaysOnMessage => ({ ...m, ...ids() })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          () => buildResponse(ids(), MessageCode.SUCCESS),
          () => buildAuthMessage(APP_KEY, ids()),
          () => buildBindMessage([DEV], ids()),
          (): AlwaysOnMessage => ({ kind: 'keepAlive', code: MessageCode.KEEP_ALIVE, ...ids() }),
          () =>
            buildRequestMessage({
              ...ids(),
              code: MessageCode.PUT,
              entityName: DEV,
              characteristic: Characteristic.PROPERTIES,
              characteristicName: 'downlink',
              params: propertyPutParams(
                'downlink',
                Typed.json({ FPort: 2, payload_hex: 'ab'.repeat(20000) }),
              ),
            }),
        ),
      },
    );
    const seen = { answers: 0, protocolErrors: 0, downlinks: 0 };
    await fc.assert(
      fc.asyncProperty(sources, garble, async (make, g) => {
        let frames: Buffer[];
        try {
          frames = framesOf(make());
        } catch {
          fc.pre(false);
          return;
        }
        const sent = applyGarble(frames, g);
        const expected = expectedForFrames(mirror, sent.frames, sent.text, bound);
        seen.answers += expected.answers.length;
        seen.protocolErrors += expected.protocolErrors;
        seen.downlinks += expected.downlinks.length;
        await check(
          sent.frames,
          sent.text,
          expected,
          `${g.kind} of ${frames.length} frame(s): ${preview(sent.frames[0]?.toString('hex') ?? '')}`,
        );
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    assert.ok(
      Math.min(seen.answers, seen.protocolErrors) > RUNS / 10,
      `every outcome tried: ${JSON.stringify(seen)}`,
    );
    assert.ok(seen.downlinks > RUNS / 100, `some frames still made a downlink: ${JSON.stringify(seen)}`);
  });

  it('the connection stayed up, no protocol violation, and a valid write still comes out of downlink in', async () => {
    assert.equal(client().state, 'connected');
    assert.equal(client().reconnects, 0, 'never reconnected');
    assert.deepEqual(server.violations, []);
    const before = downlinks.length;
    const answer = await server.putProperty(DEV, 'downlink', Typed.json({ FPort: 9, payload_hex: 'C0FFEE' }));
    assert.equal(answer.code, MessageCode.SUCCESS);
    await waitFor(() => downlinks.length > before, 5000, 'the valid downlink');
    const body = (downlinks.at(-1)!.payload as { DevEUI_downlink: Record<string, unknown> }).DevEUI_downlink;
    assert.deepEqual(
      { ...body, CorrelationID: undefined },
      { DevEUI: DEV, FPort: 9, payload_hex: 'c0ffee', CorrelationID: undefined },
    );
  });
});
