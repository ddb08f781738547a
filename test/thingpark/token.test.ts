import { strict as assert } from 'assert';
import {
  checkTunnelRequest,
  signQuery,
  splitTunnelQuery,
  tunnelQueryFor,
  uplinkBodyElements,
  uplinkToken,
} from '../../lib/thingpark/mapping/token';
import { lrcDownlinkQuery, parseDownlink } from '../../lib/thingpark/mapping/downlink';
import { readVectors } from '../../testkit/paths';

interface TokenVectors {
  uplink: Array<{
    asKey: string;
    query: string;
    body: { DevEUI_uplink: Record<string, string> };
    token: string;
  }>;
  downlink: Array<{
    asKey: string;
    params: [string, string][];
    signed: string;
    url_query: string;
    token: string;
  }>;
}

const vectors = readVectors<TokenVectors>('thingpark-tokens.json');

describe('ThingPark tunnel tokens (shared/vectors/thingpark-tokens.json)', () => {
  it('has vectors to check', () => {
    assert.ok(vectors.uplink.length > 0 && vectors.downlink.length > 0);
  });

  for (const v of vectors.uplink) {
    it(`computes the uplink token ${v.token.slice(0, 8)}… from body and query`, () => {
      const { signed, token } = splitTunnelQuery(v.query);
      assert.equal(token, v.token);
      const elements = uplinkBodyElements('DevEUI_uplink', v.body.DevEUI_uplink);
      assert.equal(uplinkToken(elements!, signed, v.asKey), v.token);
    });

    it(`verifies the vector uplink ${v.token.slice(0, 8)}… and refuses it altered`, () => {
      const time = new URLSearchParams(v.query).get('Time')!;
      const now = new Date(Date.parse(time) + 5000);
      const options = { asKey: v.asKey, maxTimeDeviation: 60, now };
      assert.deepEqual(checkTunnelRequest(v.query, 'DevEUI_uplink', v.body.DevEUI_uplink, options), {
        ok: true,
        verified: true,
        token: v.token,
        time,
      });
      const altered = { ...v.body.DevEUI_uplink, payload_hex: '0027bd01' };
      const bad = checkTunnelRequest(v.query, 'DevEUI_uplink', altered, options);
      assert.deepEqual(bad, { ok: false, status: 401, reason: 'invalid Token' });
      const wrongKey = checkTunnelRequest(v.query, 'DevEUI_uplink', v.body.DevEUI_uplink, {
        ...options,
        asKey: v.asKey.toLowerCase(),
      });
      assert.equal(wrongKey.ok, false, 'the key is case-sensitive');
    });

    it('signs the vector uplink again from its fields (simulator side)', () => {
      const time = new URLSearchParams(v.query).get('Time')!;
      const query = tunnelQueryFor('DevEUI_uplink', v.body.DevEUI_uplink, {
        asId: 'app1.sample.com',
        asKey: v.asKey,
        time,
      });
      assert.equal(query, v.query);
    });
  }

  for (const v of vectors.downlink) {
    it(`signs the downlink ${v.token.slice(0, 8)}… exactly (hash before encoding, Token last)`, () => {
      const signed = signQuery(v.params, v.asKey);
      assert.equal(signed.signed, v.signed);
      assert.equal(signed.token, v.token);
      assert.equal(signed.query, v.url_query);
    });

    it(`builds the same LRC query from a DevEUI_downlink document at the vector's Time`, () => {
      const p = Object.fromEntries(v.params);
      const request = parseDownlink({
        DevEUI_downlink: {
          DevEUI: p.DevEUI,
          FPort: Number(p.FPort),
          payload_hex: p.Payload,
          CorrelationID: 'X',
        },
      });
      const q = lrcDownlinkQuery(request, p.AS_ID, v.asKey, new Date(Date.parse(p.Time)));
      // Our Time is written in UTC and a CorrelationID is added: same rule, other inputs.
      assert.equal(q.signed.split('&Time=')[0], v.signed.split('&Time=')[0]);
      assert.match(q.query, /&CorrelationID=X&Token=[0-9a-f]{64}$/);
    });
  }
});

describe('tunnel request checks', () => {
  const asKey = 'Secret-Key-1';
  const body = { DevEUI: '0018B20000000B20', FPort: 2, FCntUp: 5, payload_hex: '00', CustomerID: '1' };
  const now = new Date('2024-05-01T10:00:00.000Z');
  const query = (time: string) => tunnelQueryFor('DevEUI_uplink', body, { asId: 'as', asKey, time });

  it('refuses a missing Token with 401', () => {
    const q = query('2024-05-01T10:00:00.000+00:00').replace(/&Token=.*$/, '');
    assert.deepEqual(checkTunnelRequest(q, 'DevEUI_uplink', body, { asKey, maxTimeDeviation: 60, now }), {
      ok: false,
      status: 401,
      reason: 'missing Token',
    });
  });

  it('refuses a Time outside the window with 403, accepts one inside', () => {
    const stale = checkTunnelRequest(query('2024-05-01T09:58:59.000+00:00'), 'DevEUI_uplink', body, {
      asKey,
      maxTimeDeviation: 60,
      now,
    });
    assert.deepEqual(stale, { ok: false, status: 403, reason: 'Time outside the allowed deviation' });
    const fresh = checkTunnelRequest(query('2024-05-01T11:59:30.000+02:00'), 'DevEUI_uplink', body, {
      asKey,
      maxTimeDeviation: 60,
      now,
    });
    assert.equal(fresh.ok, true);
  });

  it('uses CustomerID + lowercase DevEUI for locations and FCntDn for downlink reports', () => {
    assert.equal(
      uplinkBodyElements('DevEUI_location', { CustomerID: '7', DevEUI: 'ABCDEF0123456789' }),
      '7abcdef0123456789',
    );
    assert.equal(
      uplinkBodyElements('DevEUI_downlink_Sent', { CustomerID: '7', DevEUI: 'AB', FPort: 3, FCntDn: 9 }),
      '7AB39',
    );
    assert.equal(uplinkBodyElements('DevEUI_uplink', { CustomerID: '7', DevEUI: 'AB', FCntUp: 1 }), '7AB01');
  });

  it('passes types without a public rule unverified, or refuses them when asked', () => {
    const q = query('2024-05-01T10:00:00.000+00:00');
    const note = { DevEUI: '0018B20000000B20', Type: 'reset' };
    assert.deepEqual(
      checkTunnelRequest(q, 'DevEUI_notification', note, { asKey, maxTimeDeviation: 60, now }),
      {
        ok: true,
        verified: false,
        token: new URLSearchParams(q).get('Token')!,
        time: '2024-05-01T10:00:00.000+00:00',
      },
    );
    const refused = checkTunnelRequest(q, 'DevEUI_notification', note, {
      asKey,
      maxTimeDeviation: 60,
      now,
      acceptUnverifiable: false,
    });
    assert.deepEqual(refused, { ok: false, status: 403, reason: 'no token rule for DevEUI_notification' });
  });

  it('hashes only primitive body fields: a hostile object is refused, not thrown (found by fuzzing)', () => {
    const hostile = {
      DevEUI: '0018B20000000B20',
      payload_hex: '00',
      FCntUp: { toString: 1 },
      CustomerID: [[[]]],
    };
    const q = query('2024-05-01T10:00:00.000+00:00');
    const check = checkTunnelRequest(q, 'DevEUI_uplink', hostile, { asKey, maxTimeDeviation: 60, now });
    assert.deepEqual(check, { ok: false, status: 401, reason: 'invalid Token' });
  });
});
