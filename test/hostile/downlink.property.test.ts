import { strict as assert } from 'assert';
import fc from 'fast-check';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import {
  downlinkDocument,
  iotFlowDownlink,
  lrcDownlinkQuery,
  MAX_CELLULAR_PAYLOAD,
  MAX_LORAWAN_PAYLOAD,
  parseDownlink,
  type DownlinkRequest,
  type DownlinkTarget,
} from '../../lib/thingpark/mapping/downlink';
import { iotFlowRefusals } from '../../testkit/simulator/iot-flow-downlink';
import {
  collect,
  downlinkOutNode,
  helper,
  networkNode,
  servingHttpNodes,
  waitFor,
} from '../helpers/node-red';
import {
  assertNotPolluted,
  DEV,
  downlinkTree,
  exoticDownlink,
  jsonText,
  preview,
  prototypeSnapshot,
  type Tree,
} from './arbitraries';

const RUNS = Number(process.env.HOSTILE_RUNS) || 3000;
const AS_KEY = 'hostile-downlink-as-key';

/** A downlink tree as the object a JSON parser (WMW, an http in node, a JSON node) hands over. */
const fromJson = (tree: Tree, untyped: boolean) => JSON.parse(jsonText(tree, untyped)) as unknown;

type Parsed = { request: DownlinkRequest } | { error: unknown };

function parse(input: unknown, options: Parameters<typeof parseDownlink>[1] = {}): Parsed {
  try {
    return { request: parseDownlink(input, options) };
  } catch (error) {
    return { error };
  }
}

function assertDocumentError(error: unknown): void {
  if (!(error instanceof DocumentError)) {
    const e = error as Error;
    throw new Error(
      `threw ${e?.name ?? typeof error} instead of a DocumentError: ${e?.message ?? String(error)}`,
    );
  }
  assert.ok(error.message.length > 0);
}

/** What a validated request promises to `downlink out`, the LRC and the IoT Flow topic. */
function assertValidRequest(r: DownlinkRequest, allowDriverPayload: boolean, target?: DownlinkTarget): void {
  assert.match(r.devEUI, /^[0-9A-F]{16}$/);
  assert.match(r.correlationId, /^[0-9A-Za-z_-]{1,64}$/);
  if (r.connectivity === 'LORAWAN') {
    const max = target === 'iotflow' ? 224 : 223;
    assert.ok(Number.isInteger(r.fPort) && r.fPort! >= 1 && r.fPort! <= max, `fPort ${r.fPort}`);
  } else {
    assert.equal(r.connectivity, 'CELLULAR');
  }
  if (r.payloadHex !== undefined) {
    assert.match(r.payloadHex, /^(?:[0-9a-f]{2})*$/);
    const max = r.connectivity === 'CELLULAR' ? MAX_CELLULAR_PAYLOAD : MAX_LORAWAN_PAYLOAD;
    assert.ok(r.payloadHex.length / 2 <= max);
    const { query, token } = lrcDownlinkQuery(r, 'as', 'key');
    assert.ok(query.endsWith(`&Token=${token}`));
  } else {
    assert.ok(allowDriverPayload && r.payload !== undefined, 'payload_hex or a driver payload');
  }
  if (typeof r.validityTime === 'string') assert.ok(!Number.isNaN(Date.parse(r.validityTime)));
  else if (r.validityTime !== undefined) assert.ok(Number.isInteger(r.validityTime) && r.validityTime >= 0);
  if (r.fCntDn !== undefined) assert.ok(Number.isInteger(r.fCntDn) && r.fCntDn >= 0);
  for (const flag of [r.confirmed, r.flushDownlinkQueue])
    assert.ok(flag === undefined || typeof flag === 'boolean');
}

const options = fc.record({
  allowDriverPayload: fc.boolean(),
  cellular: fc.boolean(),
  target: fc.constantFrom<DownlinkTarget | undefined>(undefined, 'lrc', 'iotflow'),
});

describe('hostile downlink requests (property-based): parseDownlink', function () {
  this.timeout(60000);

  it(`throws only DocumentError for ${RUNS} JSON-shaped requests, and what it accepts is valid`, () => {
    const before = prototypeSnapshot();
    let accepted = 0;
    fc.assert(
      fc.property(downlinkTree, fc.boolean(), options, ({ tree }, untyped, opts) => {
        const input = fromJson(tree, untyped);
        const parsed = parse(input, {
          allowDriverPayload: opts.allowDriverPayload,
          connectivity: opts.cellular ? 'CELLULAR' : undefined,
          target: opts.target,
        });
        assertNotPolluted(before);
        if ('error' in parsed) return assertDocumentError(parsed.error);
        accepted++;
        assertValidRequest(parsed.request, opts.allowDriverPayload || opts.target === 'iotflow', opts.target);
        if (opts.target === 'iotflow') {
          const text = JSON.stringify(iotFlowDownlink(parsed.request));
          assert.deepEqual(iotFlowRefusals(text), [], text);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    assert.ok(accepted > RUNS / 10, `only ${accepted} of ${RUNS} accepted`);
  });

  it(`accepts its own document form back unchanged (downlink in → downlink out) (${RUNS} requests)`, () => {
    fc.assert(
      fc.property(downlinkTree, fc.boolean(), ({ tree }, untyped) => {
        const parsed = parse(fromJson(tree, untyped), { allowDriverPayload: true });
        if (!('request' in parsed)) return;
        const again = parseDownlink(downlinkDocument(parsed.request), {
          allowDriverPayload: true,
          connectivity: parsed.request.connectivity,
        });
        assert.deepEqual(again, parsed.request);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  });

  it('throws only DocumentError for JS values a function node can send (BigInt, Symbol, circular, deep, Map…)', () => {
    fc.assert(
      fc.property(exoticDownlink, fc.boolean(), ({ value }, allowDriverPayload) => {
        const parsed = parse(value, { allowDriverPayload });
        if ('error' in parsed) return assertDocumentError(parsed.error);
        assertValidRequest(parsed.request, allowDriverPayload);
      }),
      { numRuns: 500, endOnFailure: true },
    );
  });

  // Regressions for what the properties found (product bugs until fixed: see the report).

  it('an FPort or FCntDn object with a "toString" key is a DocumentError naming the field', () => {
    for (const field of ['FPort', 'FCntDn']) {
      const input = JSON.parse(
        `{"DevEUI_downlink":{"DevEUI":"${DEV}","FPort":1,"payload_hex":"00",${JSON.stringify(field)}:{"toString":1}}}`,
      );
      const parsed = parse(input);
      assert.ok('error' in parsed, field);
      assertDocumentError(parsed.error);
      assert.match((parsed.error as Error).message, new RegExp(field));
    }
  });

  it('a deeply nested DevEUI, FPort or payload_hex is a DocumentError, not a RangeError', () => {
    const deep = '['.repeat(8000) + ']'.repeat(8000);
    for (const field of ['DevEUI', 'FPort', 'payload_hex']) {
      const input = JSON.parse(
        `{"DevEUI_downlink":{"DevEUI":"${DEV}","FPort":1,"payload_hex":"00",${JSON.stringify(field)}:${deep}}}`,
      );
      const parsed = parse(input);
      assert.ok('error' in parsed, field);
      assertDocumentError(parsed.error);
    }
  });
});

describe('downlink out under hostile requests (real Node-RED runtime, LRC stand-in)', function () {
  this.timeout(120000);
  let lrc: FakeLrc;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);

  before(async () => {
    process.on('unhandledRejection', onRejection);
    lrc = await new FakeLrc({ asKey: AS_KEY }).start();
    await helper.startServer();
    await helper.load(
      servingHttpNodes([networkNode, downlinkOutNode]),
      [
        { id: 'tab', type: 'tab', label: 'downlink' },
        {
          id: 'net',
          type: 'thingpark-network',
          mode: 'http',
          asId: 'dl.as',
          maxTimeDeviation: 60,
          lrcUrl: lrc.url,
        },
        { id: 'dl', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['res']] },
        { id: 'res', z: 'tab', type: 'helper' },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { net: { asKey: AS_KEY } },
    );
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await helper.unload();
    await helper.stopServer();
    await lrc.stop();
  });

  it('each request ends with a result on the output and, when not queued, a Catch-able error; valid ones reach the LRC signed', async () => {
    const dl = helper.getNode('dl');
    const results = collect(helper.getNode('res'));
    const caught = collect(helper.getNode('caught'));
    const cases = fc.oneof(
      {
        weight: 4,
        arbitrary: downlinkTree.map(({ tree, note }) => ({ value: fromJson(tree, false), note })),
      },
      { weight: 1, arbitrary: exoticDownlink },
    );
    let queued = 0;
    await fc.assert(
      fc.asyncProperty(cases, async ({ value, note }) => {
        const before = { results: results.length, caught: caught.length, lrc: lrc.received.length };
        const expected = parse(value, { target: 'lrc' });
        dl.receive({ payload: value });
        await waitFor(() => results.length > before.results, 5000, `a result for ${note}`);
        const result = results.at(-1)!.payload as { status: string; reason?: string; DevEUI?: string };
        if ('request' in expected) {
          assert.ok(['queued', 'rejected'].includes(result.status), `${note}: ${preview(result)}`);
          assert.equal(lrc.received.length, before.lrc + 1, 'one request to the LRC');
          const sent = lrc.received.at(-1)!;
          assert.equal(sent.query.get('DevEUI'), expected.request.devEUI);
          if (result.status === 'queued') {
            queued++;
            assert.equal(sent.accepted, true, sent.reason);
          } else {
            assert.equal(expected.request.payloadHex, '', 'only an empty payload is refused by the LRC');
          }
        } else {
          assert.equal(result.status, 'error', `${note}: ${preview(result)}`);
          assert.equal(result.reason, (expected.error as Error).message);
          assert.equal(lrc.received.length, before.lrc, 'nothing sent to the LRC');
          await waitFor(() => caught.length > before.caught, 5000, `a Catch-able error for ${note}`);
          const message = String((caught.at(-1)!.error as { message: string }).message);
          assert.ok(message.endsWith(`Downlink not sent: ${result.reason}`), message);
        }
        assert.equal(rejections.length, 0, `unhandled rejection: ${preview(String(rejections[0]))}`);
      }),
      { numRuns: 400, endOnFailure: true },
    );
    assert.ok(queued > 40, `only ${queued} downlinks queued`);
  });
});
