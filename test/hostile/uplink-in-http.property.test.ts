import { strict as assert } from 'assert';
import fc from 'fast-check';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';
import { normaliseDocument } from '../../lib/thingpark/mapping/normalise';
import { parseDocumentText } from '../../lib/thingpark/mapping/parse';
import { tunnelQueryFor } from '../../lib/thingpark/mapping/token';
import { NO_ALARMS_OVER_HTTP } from '../../lib/thingpark/mapping/tunnel-request';
import { helper, networkNode, servingHttpNodes, uplinkInNode } from '../helpers/node-red';
import {
  assertNotPolluted,
  DEV,
  documentCase,
  jsonText,
  Obj,
  preview,
  prototypeSnapshot,
  targetedCase,
  toTree,
  type TextCase,
} from './arbitraries';

const AS_KEY = 'hostile-uplink-as-key';
const RUNS = Number(process.env.HOSTILE_HTTP_RUNS) || 2000;
/** Mostly mutated realistic documents, some valid ones with one hostile field the code reads later. */
const bodies = fc.oneof({ weight: 3, arbitrary: documentCase }, { weight: 1, arbitrary: targetedCase });
const ANSWERS = [200, 400, 401, 403, 413];

const CONTENT_TYPES = [
  'application/json',
  'text/xml',
  'application/xml; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  'application/json; charset=utf-16',
  '',
];

interface Messages {
  list: Array<Record<string, unknown>>;
  /** Resolves once `count` messages arrived, rejects after `ms`. */
  until(count: number, ms?: number): Promise<void>;
}

function messagesOf(node: { on: (e: string, f: (m: Record<string, unknown>) => void) => void }): Messages {
  const list: Array<Record<string, unknown>> = [];
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  node.on('input', (msg) => {
    list.push(msg);
    waiters = waiters.filter((w) => (list.length >= w.count ? (w.resolve(), false) : true));
  });
  return {
    list,
    until(count, ms = 3000) {
      if (list.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${list.length} of ${count} messages after ${ms} ms`)),
          ms,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

/** What the pure functions say about a body: the document to emit, or the reason it is refused. */
function oracle(
  text: string,
): { document: unknown; json: string | undefined } | { reason: string; status: number } {
  try {
    const doc = normaliseDocument(parseDocumentText(text));
    let json: string | undefined;
    try {
      json = JSON.stringify(doc.document);
    } catch {
      json = undefined;
    }
    // ThingPark's Basic HTTPS connection carries no alarms: whatever else they hold, 403.
    if (doc.info.type === 'DevEUI_alarm' || doc.info.type === 'BS_alarm')
      return { reason: NO_ALARMS_OVER_HTTP, status: 403 };
    return { document: doc.document, json };
  } catch (err) {
    return { reason: err instanceof DocumentError ? err.message : 'malformed document', status: 400 };
  }
}

async function post(
  url: string,
  body: string,
  contentType: string,
): Promise<{ status: number; text: string; ms: number }> {
  const started = Date.now();
  const headers: Record<string, string> = contentType ? { 'Content-Type': contentType } : {};
  const res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(3000) });
  return { status: res.status, text: await res.text(), ms: Date.now() - started };
}

const flow = [
  { id: 'tab', type: 'tab', label: 'hostile' },
  { id: 'open', type: 'thingpark-network', mode: 'http', asId: 'open.as', maxTimeDeviation: 60 },
  { id: 'keyed', type: 'thingpark-network', mode: 'http', asId: 'keyed.as', maxTimeDeviation: 60 },
  {
    id: 'upOpen',
    z: 'tab',
    type: 'thingpark-uplink-in',
    network: 'open',
    path: '/h/open',
    wires: [['outOpen']],
  },
  {
    id: 'upKeyed',
    z: 'tab',
    type: 'thingpark-uplink-in',
    network: 'keyed',
    path: '/h/keyed',
    wires: [['outKeyed']],
  },
  { id: 'outOpen', z: 'tab', type: 'helper' },
  { id: 'outKeyed', z: 'tab', type: 'helper' },
];

/*
 * The runtime runs in this process (node-red-node-test-helper) with the node's routes served as they
 * are: no admin app in front. In a real Node-RED whose admin and node roots are both '/', the admin
 * app's body parsers see JSON and form bodies first: http-abuse.test.ts and crash.test.ts cover that.
 */
describe('uplink in (HTTP) under a storm of hostile bodies (property-based, in-process Node-RED runtime)', function () {
  this.timeout(120000);
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown) => rejections.push(reason);
  let open: Messages;
  let keyed: Messages;
  let snapshot: string;

  before(async () => {
    process.on('unhandledRejection', onRejection);
    await helper.startServer();
    await helper.load(servingHttpNodes([networkNode, uplinkInNode]), flow, { keyed: { asKey: AS_KEY } });
    open = messagesOf(helper.getNode('outOpen'));
    keyed = messagesOf(helper.getNode('outKeyed'));
    snapshot = prototypeSnapshot();
  });
  beforeEach(() => {
    rejections.length = 0;
  });
  after(async () => {
    process.off('unhandledRejection', onRejection);
    await helper.unload();
    await helper.stopServer();
  });

  const noRejections = () =>
    assert.equal(rejections.length, 0, `unhandled rejection: ${preview(String(rejections[0]))}`);

  it(`open endpoint: ${RUNS} hostile bodies each get 200 (and are emitted) or 400/403 with the reason, never 500 or a hang`, async () => {
    await fc.assert(
      fc.asyncProperty(
        bodies,
        fc.constantFrom(...CONTENT_TYPES),
        fc.option(fc.integer({ min: 256 * 1024 + 1, max: 300 * 1024 }), { freq: 20 }),
        async (c: TextCase, contentType: string, padTo: number | null) => {
          const text = padTo ? c.text + ' '.repeat(Math.max(0, padTo - Buffer.byteLength(c.text))) : c.text;
          const emitted = open.list.length;
          const res = await post(`${helper.url()}/h/open`, text, contentType);
          assert.ok(ANSWERS.includes(res.status), `HTTP ${res.status} ${res.text}`);
          assert.ok(res.text.length > 0, 'a text reason');
          if (Buffer.byteLength(text) > 256 * 1024) {
            assert.equal(res.status, 413);
            assert.match(res.text, /body larger than 262144 bytes/);
          } else {
            const expected = oracle(text);
            if ('reason' in expected) {
              assert.equal(
                res.status,
                expected.status,
                `expected ${expected.status} ${expected.reason}, got ${res.status} ${res.text}`,
              );
              // HTTP carries UTF-8: a lone surrogate in the reason arrives as U+FFFD.
              assert.equal(res.text, Buffer.from(expected.reason).toString(), 'the reason');
            } else {
              assert.equal(res.status, 200, `expected 200, got ${res.status} ${res.text}`);
              assert.equal(res.text, 'OK');
              const arrived = await open.until(emitted + 1).catch((err: Error) => err);
              noRejections();
              if (arrived instanceof Error) throw arrived;
              if (expected.json !== undefined)
                assert.equal(
                  JSON.stringify(open.list.at(-1)!.payload),
                  expected.json,
                  'the emitted document',
                );
            }
          }
          noRejections();
          assertNotPolluted(snapshot);
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });

  it(`keyed endpoint: ${RUNS} hostile bodies with signed, forged or missing tokens get 200/400/401/403/413 with a reason`, async () => {
    await fc.assert(
      fc.asyncProperty(
        bodies,
        fc.constantFrom('signed', 'forged', 'none', 'upper-case'),
        fc.constantFrom(...CONTENT_TYPES),
        async (c: TextCase, auth: string, contentType: string) => {
          let query = '';
          if (auth !== 'none') {
            const expected = oracle(c.text);
            const time = thingparkTime(new Date());
            let signed: string | undefined;
            if ('document' in expected && auth !== 'forged') {
              const [type, body] = Object.entries(
                expected.document as Record<string, Record<string, unknown>>,
              )[0];
              try {
                signed = tunnelQueryFor(type as never, body, { asId: 'keyed.as', asKey: AS_KEY, time });
              } catch {
                signed = undefined; // the simulator cannot sign every hostile body: forge instead
              }
            }
            query =
              signed ??
              `LrnDevEui=${DEV}&AS_ID=keyed.as&Time=${encodeURIComponent(time)}&Token=${'ab'.repeat(32)}`;
            if (auth === 'upper-case')
              query = query.replace(/Token=([0-9a-f]+)$/, (_m, t: string) => `Token=${t.toUpperCase()}`);
          }
          const emitted = keyed.list.length;
          const res = await post(`${helper.url()}/h/keyed?${query}`, c.text, contentType);
          assert.ok(ANSWERS.includes(res.status), `HTTP ${res.status} ${res.text}`);
          assert.ok(res.text.length > 0, 'a text reason');
          const arrived =
            res.status === 200 ? await keyed.until(emitted + 1).catch((err: Error) => err) : undefined;
          noRejections();
          if (arrived instanceof Error) throw arrived;
          assertNotPolluted(snapshot);
        },
      ),
      { numRuns: RUNS, endOnFailure: true },
    );
  });

  it('after the storm a good signed uplink is still answered 200 and emitted verified', async () => {
    const emitted = keyed.list.length;
    const body = sampleUplink(DEV, 4242);
    const res = await postTunnelDocument(
      { url: `${helper.url()}/h/keyed`, asId: 'keyed.as', asKey: AS_KEY },
      'DevEUI_uplink',
      body,
    );
    assert.equal(res.status, 200, res.text);
    await keyed.until(emitted + 1);
    const msg = keyed.list.at(-1)!;
    assert.deepEqual(msg.payload, { DevEUI_uplink: body });
    assert.equal((msg.thingpark as { verified: boolean }).verified, true);
    noRejections();
  });

  // Regressions for what the storm found (product bugs until fixed: see the report).

  it('a BS_alarm whose LrrID is an object with a "toString" key is answered without an unhandled rejection', async () => {
    const emitted = open.list.length;
    const text = jsonText(
      new Obj([['BS_alarm', toTree({ LrrID: new Obj([['toString', 1]]), ID: 1, State: 1 })]]),
    );
    const res = await post(`${helper.url()}/h/open`, text, 'application/json');
    assert.ok(ANSWERS.includes(res.status), `HTTP ${res.status}`);
    await new Promise((r) => setTimeout(r, 100));
    noRejections();
    if (res.status === 200) await open.until(emitted + 1);
  });

  it('an uplink whose FCntUp is an object with a "toString" key gets 400 or 401 on the keyed endpoint, not a hang', async () => {
    const text = JSON.stringify({
      DevEUI_uplink: { DevEUI: DEV, payload_hex: '00', FCntUp: { toString: 1 } },
    });
    const query = `AS_ID=keyed.as&Time=${encodeURIComponent(thingparkTime(new Date()))}&Token=${'0'.repeat(64)}`;
    const res = await post(`${helper.url()}/h/keyed?${query}`, text, 'application/json');
    assert.ok([400, 401].includes(res.status), `HTTP ${res.status} ${res.text}`);
    assert.ok(res.text.length > 0, 'a text reason');
    await new Promise((r) => setTimeout(r, 100));
    noRejections();
  });
});
