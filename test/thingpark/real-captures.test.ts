import { strict as assert } from 'assert';
import type { DocumentType } from '../../lib/thingpark/mapping/document-types';
import { checkTunnelDocument, type TunnelRequestOptions } from '../../lib/thingpark/mapping/tunnel-request';
import { readVectors } from '../../testkit/paths';

/** Captures from live ThingPark platforms, each naming its source (shared/vectors/thingpark-tokens.json). */
interface RealCapture {
  source: string;
  type: DocumentType;
  asKey: string;
  query: string;
  body: Record<string, unknown>;
}
interface Vectors {
  uplink: Array<{ asKey: string; query: string; body: { DevEUI_uplink: Record<string, unknown> } }>;
  real: RealCapture[];
}

const vectors = readVectors<Vectors>('thingpark-tokens.json');
// The 2016 sample of Actility's guide is a capture too; its key only matches as typed (an upper-case E).
const captures: RealCapture[] = [
  ...vectors.real,
  ...vectors.uplink.map((v) => ({
    source: 'actility/thingpark-integrations docs/README.md (2016 sample)',
    type: 'DevEUI_uplink' as DocumentType,
    asKey: v.asKey,
    query: v.query,
    body: v.body.DevEUI_uplink,
  })),
];

const timeOf = (query: string) => decodeURIComponent(/(?:^|&)Time=([^&]*)/.exec(query)![1]);

/** The request as `uplink in` gets it: raw query, JSON text body with its root key. */
function check(capture: RealCapture, query: string, options: Partial<TunnelRequestOptions> = {}) {
  return checkTunnelDocument(query, JSON.stringify({ [capture.type]: capture.body }), {
    asKey: capture.asKey,
    maxTimeDeviation: 60,
    acceptUnverified: false,
    now: new Date(Date.parse(timeOf(capture.query)) + 5000),
    ...options,
  });
}

describe('real ThingPark captures through the code path of uplink in (checkTunnelDocument)', () => {
  it('has the real captures to check', () => {
    assert.ok(vectors.real.length >= 3);
  });

  for (const capture of captures) {
    describe(`${capture.type} from ${capture.source}`, () => {
      it('verifies with the key as given, within the Time window', () => {
        const verdict = check(capture, capture.query);
        assert.ok(verdict.ok, JSON.stringify(verdict));
        assert.equal(verdict.verified, true);
        assert.equal(verdict.doc.info.type, capture.type);
      });

      it('is refused once a hashed field is altered, or with another key', () => {
        const field = capture.type === 'DevEUI_uplink' ? 'FCntUp' : 'FCntDn';
        const altered = { ...capture, body: { ...capture.body, [field]: 999 } };
        assert.deepEqual(check(altered, capture.query), { ok: false, status: 401, reason: 'invalid Token' });
        const other = check(capture, capture.query, { asKey: '00112233445566778899aabbccddeeff' });
        assert.deepEqual(other, { ok: false, status: 401, reason: 'invalid Token' });
      });

      it('verifies with the Time whose "+" and ":" arrive unencoded', () => {
        const raw = capture.query.replace(/%3A/g, ':').replace(/%2B/g, '+');
        assert.match(raw, /Time=[^&]*\+/);
        const verdict = check(capture, raw);
        assert.ok(verdict.ok, JSON.stringify(verdict));
        assert.equal(verdict.verified, true);
        const stale = check(capture, raw, { now: new Date(Date.parse(timeOf(capture.query)) + 3600e3) });
        assert.deepEqual(stale, { ok: false, status: 403, reason: 'Time outside the allowed deviation' });
      });

      it('verifies when the AS URL has a query of its own (?site=3)', () => {
        const verdict = check(capture, `site=3&${capture.query}`);
        assert.ok(verdict.ok, JSON.stringify(verdict));
        assert.equal(verdict.verified, true);
      });
    });
  }

  for (const capture of vectors.real) {
    it(`verifies ${capture.type} (${capture.source.split(' ')[0]}) with its key pasted in upper case`, () => {
      const upper = capture.asKey.toUpperCase();
      assert.notEqual(upper, capture.asKey);
      const verdict = check(capture, capture.query, { asKey: upper });
      assert.ok(verdict.ok, JSON.stringify(verdict));
      assert.equal(verdict.verified, true);
    });
  }

  it('verifies the 2016 sample only with its key as typed (mixed case), not lower-cased', () => {
    const sample = captures[captures.length - 1];
    assert.match(sample.asKey, /[A-F]/);
    assert.equal(check(sample, sample.query).ok, true);
    assert.equal(check(sample, sample.query, { asKey: sample.asKey.toLowerCase() }).ok, false);
  });
});
