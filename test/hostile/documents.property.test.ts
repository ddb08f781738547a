import { strict as assert } from 'assert';
import fc from 'fast-check';
import { performance } from 'perf_hooks';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import { normaliseDocument, type NormalisedDocument } from '../../lib/thingpark/mapping/normalise';
import { parseDocumentText } from '../../lib/thingpark/mapping/parse';
import { checkTunnelRequest } from '../../lib/thingpark/mapping/token';
import {
  assertNotPolluted,
  BASE_BODIES,
  DEV,
  deepArray,
  hostileValue,
  documentCase,
  jsonText,
  mutate,
  Obj,
  preview,
  prototypeSnapshot,
  toTree,
  xmlText,
  type Format,
  type TextCase,
} from './arbitraries';

/** Cases per property; five properties over the same generator make several thousand documents a run. */
const RUNS = Number(process.env.HOSTILE_RUNS) || 1500;
const settings = { numRuns: RUNS, endOnFailure: true };

type Outcome = { doc: NormalisedDocument } | { error: unknown };

function run(text: string): Outcome {
  try {
    return { doc: normaliseDocument(parseDocumentText(text)) };
  } catch (error) {
    return { error };
  }
}

/** Only DocumentError, with a reason. */
function assertDocumentError(error: unknown): void {
  if (!(error instanceof DocumentError)) {
    const e = error as Error;
    throw new Error(
      `threw ${e?.name ?? typeof error} instead of a DocumentError: ${e?.message ?? String(error)}`,
    );
  }
  assert.ok(error.message.length > 0, 'a DocumentError names the problem');
}

const hasOwn = (obj: object, key: string) => Object.prototype.hasOwnProperty.call(obj, key);

/**
 * Every object in the result is a plain object or array (no prototype taken from the input), and
 * what the description (`info`) says is in the document, as its own fields: what reaches the flow as
 * JSON is what was validated.
 */
function assertSound(result: NormalisedDocument): void {
  const { document, body, info } = result;
  assert.deepEqual(Object.keys(document), [info.type]);
  assert.equal(document[info.type], body);
  const seen = new Set<object>();
  const stack: unknown[] = [document];
  while (stack.length && seen.size < 50000) {
    const value = stack.pop();
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
      throw new Error(`an object in the result has a prototype from the input: ${preview(proto)}`);
    }
    for (const key of Object.keys(value)) stack.push((value as Record<string, unknown>)[key]);
  }
  assert.equal(Object.getPrototypeOf(body), Object.prototype, 'the body is a plain object');
  for (const field of ['DevEUI', 'FPort', 'payload_hex', 'Time', 'CorrelationID']) {
    if (field in body) assert.ok(hasOwn(body, field), `${field} is the document's own field, not inherited`);
  }
  if (info.devEUI) {
    assert.match(info.devEUI, /^[0-9A-F]{16}$/);
    assert.equal(body.DevEUI, info.devEUI);
  }
  if (info.fPort !== undefined) {
    assert.ok(Number.isInteger(info.fPort) && info.fPort >= 0 && info.fPort <= 255, `fPort ${info.fPort}`);
    assert.equal(body.FPort, info.fPort);
  }
  if (hasOwn(body, 'payload_hex')) assert.match(String(body.payload_hex), /^(?:[0-9a-fA-F]{2})*$/);
  assert.equal(typeof info.time, 'string');
  const reparsed = JSON.parse(JSON.stringify({ ...info }));
  assert.deepEqual(reparsed, { ...info }, 'the description is plain JSON');
}

const TOKEN_QUERY = `LrnDevEui=${DEV}&LrnFPort=2&LrnInfos=X&AS_ID=a&Time=${encodeURIComponent(
  new Date().toISOString(),
)}&Token=${'0'.repeat(64)}`;

describe('hostile ThingPark documents (property-based): parseDocumentText + normaliseDocument', function () {
  this.timeout(60000);

  it(`throws only DocumentError, with a reason, for ${RUNS} hostile documents`, () => {
    fc.assert(
      fc.property(documentCase, (c: TextCase) => {
        const outcome = run(c.text);
        if ('error' in outcome) assertDocumentError(outcome.error);
      }),
      settings,
    );
  });

  it(`never pollutes Object.prototype or another built-in prototype (${RUNS} documents)`, () => {
    const before = prototypeSnapshot();
    fc.assert(
      fc.property(documentCase, (c: TextCase) => {
        run(c.text);
        assertNotPolluted(before);
      }),
      settings,
    );
  });

  it(`accepts a document only as plain own fields that match its description (${RUNS} documents)`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(documentCase, (c: TextCase) => {
        const outcome = run(c.text);
        if ('doc' in outcome) {
          accepted++;
          assertSound(outcome.doc);
        }
      }),
      settings,
    );
    // The generator is not all garbage: a fair share of the documents is valid.
    assert.ok(accepted > RUNS / 10, `only ${accepted} of ${RUNS} documents accepted`);
  });

  it(`gives every accepted document a token verdict (the HTTP tunnel check never throws) (${RUNS})`, () => {
    fc.assert(
      fc.property(documentCase, (c: TextCase) => {
        const outcome = run(c.text);
        if (!('doc' in outcome)) return;
        const { info, rawBody } = outcome.doc;
        for (const acceptUnverifiable of [true, false]) {
          const verdict = checkTunnelRequest(TOKEN_QUERY, info.type, rawBody, {
            asKey: 'hostile-as-key',
            maxTimeDeviation: 60,
            acceptUnverifiable,
          });
          assert.equal(typeof verdict.ok, 'boolean');
          if (!verdict.ok) assert.ok([401, 403].includes(verdict.status) && verdict.reason);
        }
      }),
      settings,
    );
  });

  it(`gives a token verdict whatever the fields the token covers hold (${RUNS} documents)`, () => {
    const covered: Record<string, string[]> = {
      DevEUI_uplink: ['CustomerID', 'FCntUp', 'FPort', 'payload_hex', 'DevEUI'],
      DevEUI_location: ['CustomerID', 'DevEUI'],
      DevEUI_downlink_Sent: ['CustomerID', 'FPort', 'FCntDn', 'DevEUI'],
    };
    const types = Object.keys(covered) as Array<keyof typeof BASE_BODIES>;
    fc.assert(
      fc.property(
        fc.constantFrom(...types).chain((type) =>
          fc.record({
            type: fc.constant(type),
            field: fc.constantFrom(...covered[type]),
            value: hostileValue,
            format: fc.constantFrom<Format>('json', 'untyped', 'xml'),
          }),
        ),
        ({ type, field, value, format }) => {
          const body = mutate(toTree(BASE_BODIES[type]) as Obj, [{ op: 'put', key: field, value }]);
          const text =
            format === 'xml' ? xmlText(type, body) : jsonText(new Obj([[type, body]]), format === 'untyped');
          const outcome = run(text);
          if (!('doc' in outcome)) return;
          const verdict = checkTunnelRequest(TOKEN_QUERY, outcome.doc.info.type, outcome.doc.rawBody, {
            asKey: 'hostile-as-key',
            maxTimeDeviation: 60,
          });
          assert.equal(verdict.ok, false, 'a zero Token is never valid');
        },
      ),
      settings,
    );
  });

  it('processes a document in time linear in its size: long values in any field (no regex backtracking)', () => {
    const fields = [
      'FPort',
      'FCntUp',
      'FCntDn',
      'LrrRSSI',
      'LrrSNR',
      'SpFact',
      'ID',
      'DevLAT',
      'Time',
      'DevEUI',
    ];
    fc.assert(
      fc.property(
        fc.record({
          type: fc.constantFrom<keyof typeof BASE_BODIES>('DevEUI_uplink', 'DevEUI_location', 'DevEUI_alarm'),
          field: fc.constantFrom(...fields),
          unit: fc.constantFrom('1', '0', '1.', 'a', ' ', 'ab'),
          count: fc.integer({ min: 20000, max: 40000 }),
          tail: fc.constantFrom('x', 'e', '-', '.5.'),
          format: fc.constantFrom<Format>('json', 'untyped', 'xml'),
        }),
        ({ type, field, unit, count, tail, format }) => {
          const value = unit.repeat(count) + tail;
          const body = mutate(toTree(BASE_BODIES[type]) as Obj, [{ op: 'put', key: field, value }]);
          const text =
            format === 'xml' ? xmlText(type, body) : jsonText(new Obj([[type, body]]), format === 'untyped');
          const started = performance.now();
          const outcome = run(text);
          const elapsed = performance.now() - started;
          if ('error' in outcome) assertDocumentError(outcome.error);
          assert.ok(
            elapsed < 250,
            `${type}.${field} = "${unit}"×${count}+"${tail}" (${format}, ${text.length} chars) took ${Math.round(elapsed)} ms`,
          );
        },
      ),
      { numRuns: 60, endOnFailure: true },
    );
  });

  // Regressions for what the properties found (each a product bug until fixed: see the report).

  it('a deeply nested value in a checked field is a DocumentError, not a RangeError', () => {
    for (const field of ['DevEUI', 'FPort', 'payload_hex', 'Time']) {
      const text = `{"DevEUI_uplink":{"DevEUI":"${DEV}","payload_hex":"00",${JSON.stringify(field)}:${deepArray(6000).json}}}`;
      const outcome = run(text);
      assert.ok('error' in outcome, field);
      assertDocumentError(outcome.error);
    }
  });

  it('a "__proto__" key in the body gives the document no inherited fields', () => {
    const text = `{"DevEUI_uplink":{"__proto__":{"FPort":5,"payload_hex":"0a0b","Time":"2024-01-01T00:00:00Z"},"DevEUI":"${DEV}","FCntUp":1}}`;
    const outcome = run(text);
    if ('error' in outcome) return assertDocumentError(outcome.error);
    // Accepted: then FPort 5 (in msg.thingpark) must be in the JSON that reaches the platform.
    assertSound(outcome.doc);
  });

  it('an uplink whose CustomerID or FCntUp is an object with a "toString" key is refused: DocumentError or invalid Token', () => {
    for (const field of ['CustomerID', 'FCntUp']) {
      const text = `{"DevEUI_uplink":{"DevEUI":"${DEV}","payload_hex":"00",${JSON.stringify(field)}:{"toString":1}}}`;
      const outcome = run(text);
      // Refusing the document is as good as refusing the token; throwing something else is not.
      if ('error' in outcome) {
        assertDocumentError(outcome.error);
        continue;
      }
      const verdict = checkTunnelRequest(TOKEN_QUERY, 'DevEUI_uplink', outcome.doc.rawBody, {
        asKey: 'k',
        maxTimeDeviation: 60,
      });
      assert.deepEqual(verdict, { ok: false, status: 401, reason: 'invalid Token' }, field);
    }
  });

  it('an untyped numeric field of 50 000 digits and a letter takes milliseconds, not seconds', () => {
    const text = JSON.stringify({
      DevEUI_uplink: { DevEUI: DEV, payload_hex: '00', FCntUp: '1'.repeat(50000) + 'x' },
    });
    const started = performance.now();
    run(text);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 500, `took ${Math.round(elapsed)} ms`);
  });
});
