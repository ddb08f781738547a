import { strict as assert } from 'assert';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';
import { tunnelQueryFor } from '../../lib/thingpark/mapping/token';
import {
  collect,
  helper,
  networkNode,
  nextMessage,
  servingHttpNodes,
  uplinkInNode,
  waitFor,
} from '../helpers/node-red';

const AS_KEY = 'Demo-AS-Key-0123';
const DEV = '0018B20000000B20';

function flow(extra: Record<string, unknown> = {}, network: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab', label: 'test' },
    {
      id: 'net',
      type: 'thingpark-network',
      mode: 'http',
      asId: 'test.as',
      maxTimeDeviation: 60,
      acceptUnverified: true,
      ...network,
    },
    {
      id: 'up',
      z: 'tab',
      type: 'thingpark-uplink-in',
      network: 'net',
      path: '/tp/uplink',
      wires: [['out']],
      ...extra,
    },
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'watch', z: 'tab', type: 'status', scope: ['up'], wires: [['statusOut']] },
    { id: 'statusOut', z: 'tab', type: 'helper' },
  ];
}

const modules = () => servingHttpNodes([networkNode, uplinkInNode]);

describe('uplink in (Basic HTTPS tunnel) in the real Node-RED runtime', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  const target = () => ({ url: `${helper.url()}/tp/uplink`, asId: 'test.as', asKey: AS_KEY });

  it('emits a signed uplink as typed JSON with its root key and answers 200', async () => {
    await helper.load(modules(), flow(), { net: { asKey: AS_KEY } });
    const out = helper.getNode('out');
    const received = nextMessage(out);
    const body = sampleUplink(DEV, 7);
    const res = await postTunnelDocument(target(), 'DevEUI_uplink', body);
    assert.equal(res.status, 200);
    const msg = await received;
    assert.deepEqual(msg.payload, { DevEUI_uplink: body });
    assert.equal(msg.topic, DEV);
    assert.deepEqual(msg.thingpark, {
      type: 'DevEUI_uplink',
      devEUI: DEV,
      connectivity: 'LORAWAN',
      fPort: 2,
      time: body.Time,
      verified: true,
    });
  });

  it('refuses missing, forged, stale and replayed requests with 401/403 and emits nothing', async () => {
    await helper.load(modules(), flow(), { net: { asKey: AS_KEY } });
    const messages = collect(helper.getNode('out'));
    const body = sampleUplink(DEV, 8);
    const json = JSON.stringify({ DevEUI_uplink: body });
    const post = (query: string) =>
      fetch(`${target().url}?${query}`, {
        method: 'POST',
        body: json,
        headers: { 'Content-Type': 'application/json' },
      });

    const good = tunnelQueryFor('DevEUI_uplink', body, {
      asId: 'test.as',
      asKey: AS_KEY,
      time: thingparkTime(new Date()),
    });
    const unsigned = await post(good.replace(/&Token=.*$/, ''));
    assert.equal(unsigned.status, 401);
    assert.equal(await unsigned.text(), 'missing Token');

    const forged = await post(good.replace(/Token=[0-9a-f]{4}/, 'Token=ffff'));
    assert.equal(forged.status, 401);
    assert.equal(await forged.text(), 'invalid Token');

    const old = thingparkTime(new Date(Date.now() - 10 * 60 * 1000));
    const stale = await post(
      tunnelQueryFor('DevEUI_uplink', body, { asId: 'test.as', asKey: AS_KEY, time: old }),
    );
    assert.equal(stale.status, 403);

    assert.equal((await post(good)).status, 200);
    const replay = await post(good);
    assert.equal(replay.status, 403);
    assert.equal(await replay.text(), 'replayed request');

    await waitFor(() => messages.length === 1, 2000, 'the one good uplink');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(messages.length, 1);
  });

  it('survives hostile field values and a re-cased replayed Token (found by fuzzing)', async () => {
    await helper.load(modules(), flow(), { net: { asKey: AS_KEY } });
    const messages = collect(helper.getNode('out'));
    const time = encodeURIComponent(thingparkTime(new Date()));
    const zeros = `AS_ID=test.as&Time=${time}&Token=${'0'.repeat(64)}`;
    const hostile =
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","payload_hex":"00","FCntUp":{"toString":1}}}';
    const r1 = await fetch(`${target().url}?${zeros}`, { method: 'POST', body: hostile });
    assert.equal(r1.status, 401);
    const summary =
      '{"DevEUI_multicast_summary":{"McAddr":{"toString":1},"TransmissionStatus":1,"LrrCnt":1}}';
    const r2 = await fetch(`${target().url}?${zeros}`, { method: 'POST', body: summary });
    assert.equal(r2.status, 200, 'no token rule for a multicast summary: accepted unverified');
    const body = sampleUplink(DEV, 9);
    const good = tunnelQueryFor('DevEUI_uplink', body, {
      asId: 'test.as',
      asKey: AS_KEY,
      time: thingparkTime(new Date()),
    });
    const json = JSON.stringify({ DevEUI_uplink: body });
    assert.equal((await fetch(`${target().url}?${good}`, { method: 'POST', body: json })).status, 200);
    const upper = good.replace(/Token=([0-9a-f]{64})$/, (_m, t: string) => `Token=${t.toUpperCase()}`);
    const replay = await fetch(`${target().url}?${upper}`, { method: 'POST', body: json });
    assert.equal(replay.status, 403);
    await waitFor(() => messages.length === 2, 3000, 'the summary and the good uplink');
    assert.equal(messages[0].topic, '');
  });

  it('accepts XML and untyped JSON, emitting typed JSON', async () => {
    await helper.load(modules(), flow(), {});
    const messages = collect(helper.getNode('out'));
    const xml = `<DevEUI_uplink xmlns="http://uri.actility.com/lora"><Time>2024-01-01T00:00:00.000+00:00</Time><DevEUI>${DEV}</DevEUI><FPort>5</FPort><FCntUp>9</FCntUp><payload_hex>0a0b</payload_hex><LrrRSSI>-101.500000</LrrRSSI><Lrrid>004A18E3</Lrrid></DevEUI_uplink>`;
    const r1 = await fetch(target().url, {
      method: 'POST',
      body: xml,
      headers: { 'Content-Type': 'text/xml' },
    });
    assert.equal(r1.status, 200);
    const untyped = {
      DevEUI_uplink: {
        DevEUI: DEV,
        FPort: '5',
        FCntUp: '10',
        payload_hex: '0a0c',
        LrrRSSI: '-99.000000',
        Lrrid: '004A18E3',
      },
    };
    const r2 = await fetch(target().url, {
      method: 'POST',
      body: JSON.stringify(untyped),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(r2.status, 200);
    await waitFor(() => messages.length === 2);
    assert.deepEqual(messages[0].payload, {
      DevEUI_uplink: {
        Time: '2024-01-01T00:00:00.000+00:00',
        DevEUI: DEV,
        FPort: 5,
        FCntUp: 9,
        payload_hex: '0a0b',
        LrrRSSI: -101.5,
        Lrrid: '004A18E3',
      },
    });
    assert.deepEqual(messages[1].payload, {
      DevEUI_uplink: {
        DevEUI: DEV,
        FPort: 5,
        FCntUp: 10,
        payload_hex: '0a0c',
        LrrRSSI: -99,
        Lrrid: '004A18E3',
      },
    });
  });

  it('answers malformed input with 400 and the reason, and keeps serving good uplinks', async () => {
    await helper.load(modules(), flow(), {});
    const messages = collect(helper.getNode('out'));
    const cases: Array<[string, RegExp]> = [
      ['not a document', /not JSON or XML/],
      ['{"DevEUI_uplink":{"FPort":1,"payload_hex":"00"}}', /has no DevEUI/],
      ['{"DevEUI_uplink":{"DevEUI":"123","payload_hex":"00"}}', /DevEUI must be 16 hex digits/],
      [
        `{"DevEUI_uplink":{"DevEUI":"${DEV}","FPort":300,"payload_hex":"00"}}`,
        /FPort must be an integer 0-255/,
      ],
      [
        `{"DevEUI_uplink":{"DevEUI":"${DEV}","FPort":1,"payload_hex":"0g"}}`,
        /payload_hex must be even-length hex/,
      ],
    ];
    for (const [body, reason] of cases) {
      const res = await fetch(target().url, { method: 'POST', body });
      assert.equal(res.status, 400, body);
      assert.match(await res.text(), reason);
    }
    const big = await fetch(target().url, { method: 'POST', body: 'x'.repeat(300 * 1024) });
    assert.equal(big.status, 413);
    const ok = await fetch(target().url, {
      method: 'POST',
      body: JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 1) }),
    });
    assert.equal(ok.status, 200);
    await waitFor(() => messages.length === 1);
  });

  it('recognises every document type, refuses alarms (403, ThingPark sends none here) and emits only the selected ones', async () => {
    const types = ['DevEUI_uplink', 'DevEUI_downlink_Sent', 'DevEUI_notification', 'BS_alarm'];
    await helper.load(modules(), flow({ types }), {});
    const messages = collect(helper.getNode('out'));
    const docs = [
      { DevEUI_uplink: { DevEUI: DEV, FPort: 1, FCntUp: 1, payload_hex: '00' } },
      { DevEUI_location: { DevEUI: DEV, DevLAT: 1, DevLON: 2 } },
      { DevEUI_notification: { DevEUI: DEV, Type: 'join' } },
      {
        DevEUI_downlink_Sent: { DevEUI: DEV, FPort: 1, FCntDn: 1, DeliveryStatus: 1, CorrelationID: 'ABCD' },
      },
      { DevEUI_downlink_Rejected: { DevEUI: DEV, DownlinkRejectionCause: 'x', CorrelationID: 'ABCE' } },
      { DevEUI_multicast_summary: { TransmissionStatus: 1, LrrCnt: 1 } },
    ];
    for (const doc of docs) {
      const res = await fetch(target().url, { method: 'POST', body: JSON.stringify(doc) });
      assert.equal(res.status, 200, JSON.stringify(doc));
    }
    for (const alarm of [
      { DevEUI_alarm: { DevEUI: DEV, ID: 1, State: 1 } },
      { BS_alarm: { LrrID: 'FF0109A4', ID: 2, State: 1 } },
    ]) {
      const res = await fetch(target().url, { method: 'POST', body: JSON.stringify(alarm) });
      assert.equal(res.status, 403, JSON.stringify(alarm));
      assert.equal(
        await res.text(),
        'Device and base station alarms cannot be reported over this type of connection',
      );
    }
    await waitFor(() => messages.length === 3);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      messages.map((m) => (m.thingpark as { type: string }).type),
      ['DevEUI_uplink', 'DevEUI_notification', 'DevEUI_downlink_Sent'],
    );
    assert.equal(messages[2].topic, DEV);
    assert.equal((messages[2].thingpark as { correlationId: string }).correlationId, 'ABCD');
  });

  it('lets a DevEUI_downlink_Rejected (no token rule) through only when "accept documents without a token rule" is ticked', async () => {
    const rejected = JSON.stringify({
      DevEUI_downlink_Rejected: { DevEUI: DEV, FPort: 1, DownlinkRejectionCause: 'x', CorrelationID: 'ABCE' },
    });
    const signedQuery = () =>
      tunnelQueryFor(
        'DevEUI_downlink_Rejected',
        { DevEUI: DEV },
        {
          asId: 'test.as',
          asKey: AS_KEY,
          time: thingparkTime(new Date()),
        },
      );
    for (const [acceptUnverified, asKey, status] of [
      [false, AS_KEY, 403],
      [false, '', 403],
      [true, AS_KEY, 200],
      [true, '', 200],
    ] as const) {
      await helper.load(modules(), flow({}, { acceptUnverified }), { net: { asKey } });
      const messages = collect(helper.getNode('out'));
      const res = await fetch(`${target().url}?${signedQuery()}`, { method: 'POST', body: rejected });
      assert.equal(res.status, status, `box ${acceptUnverified}, key ${asKey ? 'set' : 'none'}`);
      if (status === 403) assert.equal(await res.text(), 'no token rule for DevEUI_downlink_Rejected');
      else {
        await waitFor(() => messages.length === 1);
        assert.equal((messages[0].thingpark as { verified: boolean }).verified, false);
      }
      await helper.unload();
    }
  });

  it('marks a cellular uplink CELLULAR', async () => {
    await helper.load(modules(), flow(), {});
    const out = helper.getNode('out');
    const received = nextMessage(out);
    const doc = {
      DevEUI_uplink: {
        Time: '2024-01-01T00:00:00Z',
        DevEUI: 'F03D290000000001',
        payload_hex: '01',
        IMEI: '356938035643809',
      },
    };
    assert.equal((await fetch(target().url, { method: 'POST', body: JSON.stringify(doc) })).status, 200);
    const msg = await received;
    assert.equal((msg.thingpark as { connectivity: string }).connectivity, 'CELLULAR');
  });

  it('shows counts in its status (seen by a real Status node) and removes its route on close', async () => {
    await helper.load(modules(), flow(), { net: { asKey: AS_KEY } });
    const statuses = collect(helper.getNode('statusOut'));
    await postTunnelDocument(target(), 'DevEUI_uplink', sampleUplink(DEV, 1));
    await fetch(target().url, { method: 'POST', body: '{}' });
    await waitFor(
      () => statuses.some((s) => /1 received, 1 refused/.test(String((s.status as { text: string }).text))),
      3000,
      'status',
    );
    await helper.unload();
    const gone = await fetch(target().url, { method: 'POST', body: '{}' });
    assert.equal(gone.status, 404);
  });

  it('honours httpNodeMiddleware', async () => {
    const seen: string[] = [];
    helper.settings({
      httpNodeMiddleware: (req: { url: string }, _res: unknown, next: () => void) => {
        seen.push(req.url);
        next();
      },
    });
    try {
      await helper.load(modules(), flow(), {});
      const res = await fetch(target().url, {
        method: 'POST',
        body: JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 2) }),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(seen, ['/tp/uplink']);
    } finally {
      helper.settings({ httpNodeMiddleware: undefined });
    }
  });

  it('creates no route when httpNodeRoot is false, and says so', async () => {
    helper.settings({ httpNodeRoot: false });
    try {
      await helper.load(modules(), flow(), {});
      const up = helper.getNode('up');
      await waitFor(() => up.warn.called, 2000, 'warning');
      assert.match(String(up.warn.firstCall.args[0]), /httpNodeRoot is false/);
      const res = await fetch(target().url, {
        method: 'POST',
        body: JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 3) }),
      });
      assert.equal(res.status, 404);
    } finally {
      helper.settings({ httpNodeRoot: '/' });
    }
  });
});
