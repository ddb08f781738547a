import { strict as assert } from 'assert';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import {
  downlinkDocument,
  iotFlowDownlink,
  lrcDownlinkQuery,
  parseDownlink,
} from '../../lib/thingpark/mapping/downlink';
import { iotFlowRefusals } from '../../testkit/simulator/iot-flow-downlink';
import { LrcClient, stripHtml } from '../../lib/thingpark/transport/lrc-downlink';
import { devEUIFromTopic, resolveTopic, subscriptionFilter } from '../../lib/thingpark/mapping/topics';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';

const DEV = '0018B20000000B20';

describe('downlink requests', () => {
  it('accepts the full document and keeps every option in the LRC query, Token last', () => {
    const request = parseDownlink({
      DevEUI_downlink: {
        DevEUI: DEV.toLowerCase(),
        FPort: '10',
        payload_hex: 'ABCD',
        Confirmed: '1',
        FlushDownlinkQueue: true,
        ValidityTime: '2030-01-01T00:00:00.000+00:00',
        FCntDn: 4,
        CorrelationID: '0011223344556677',
      },
    });
    const q = lrcDownlinkQuery(request, 'as.id', 'key', new Date('2024-02-03T04:05:06.789Z'));
    assert.equal(
      q.signed,
      'DevEUI=0018B20000000B20&FPort=10&FCntDn=4&Payload=abcd&Confirmed=1&FlushDownlinkQueue=1' +
        '&ValidityTime=2030-01-01T00:00:00.000+00:00&AS_ID=as.id&Time=2024-02-03T04:05:06.789+00:00' +
        '&CorrelationID=0011223344556677',
    );
    assert.match(q.query, /ValidityTime=2030-01-01T00%3A00%3A00.000%2B00%3A00/);
    assert.match(q.query, /&Token=[0-9a-f]{64}$/);
  });

  it('generates a 64-bit hex CorrelationID when absent', () => {
    const a = parseDownlink({ DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '00' } });
    const b = parseDownlink({ DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '00' } });
    assert.match(a.correlationId, /^[0-9A-F]{16}$/);
    assert.notEqual(a.correlationId, b.correlationId);
  });

  it('sends a cellular downlink with RAN=CELLULAR and MType=0 instead of FPort', () => {
    const request = parseDownlink(
      { DevEUI_downlink: { DevEUI: 'F03D290000000001', payload_hex: '01' } },
      { connectivity: 'CELLULAR' },
    );
    const q = lrcDownlinkQuery(request, 'as', 'key');
    assert.match(q.signed, /^DevEUI=F03D290000000001&RAN=CELLULAR&MType=0&Payload=01&/);
    assert.doesNotMatch(q.signed, /FPort/);
    assert.equal(downlinkDocument(request).DevEUI_downlink.RAN, 'CELLULAR');
  });

  const INVALID: Array<[string, unknown, RegExp]> = [
    ['no document', 'x', /must be an object/],
    [
      'bad DevEUI',
      { DevEUI_downlink: { DevEUI: '12', FPort: 1, payload_hex: '00' } },
      /DevEUI must be 16 hex digits/,
    ],
    [
      'FPort 0',
      { DevEUI_downlink: { DevEUI: DEV, FPort: 0, payload_hex: '00' } },
      /FPort must be an integer 1-223/,
    ],
    [
      'FPort 224',
      { DevEUI_downlink: { DevEUI: DEV, FPort: 224, payload_hex: '00' } },
      /FPort must be an integer 1-223/,
    ],
    ['no FPort', { DevEUI_downlink: { DevEUI: DEV, payload_hex: '00' } }, /FPort must be an integer 1-223/],
    ['odd hex', { DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '0' } }, /even-length hex/],
    [
      'too long',
      { DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '00'.repeat(243) } },
      /exceeds 242 bytes/,
    ],
    ['no payload', { DevEUI_downlink: { DevEUI: DEV, FPort: 1 } }, /payload_hex is missing/],
    [
      'bad ValidityTime',
      { DevEUI_downlink: { DevEUI: DEV, FPort: 1, payload_hex: '00', ValidityTime: 'soon' } },
      /ValidityTime/,
    ],
  ];
  for (const [what, input, reason] of INVALID) {
    it(`refuses ${what} before sending`, () => {
      assert.throws(
        () => parseDownlink(input),
        (e: unknown) => e instanceof DocumentError && reason.test(e.message),
      );
    });
  }
});

describe('IoT Flow MQTT downlinks as actility/tpx-iot-flow-doc documents them', () => {
  const iotflow = (body: Record<string, unknown>) =>
    parseDownlink({ DevEUI_downlink: body }, { target: 'iotflow' });
  const published = (body: Record<string, unknown>, now = new Date('2019-07-10T13:38:46.882Z')) =>
    iotFlowDownlink(iotflow(body), now);

  it("publishes the documentation's minimal example with Time set, as IoT Flow takes it", () => {
    const doc = published({
      DevEUI: '0018B20000000B20',
      FPort: 1,
      payload_hex: '9e1c4852512000220020e3831071',
    });
    assert.equal(doc.DevEUI_downlink.Time, '2019-07-10T13:38:46.882+00:00');
    assert.deepEqual(iotFlowRefusals(JSON.stringify(doc)), []);
  });

  it("passes through the documentation's optional fields (driver payload, DriverCfg, flags as text)", () => {
    const body = {
      Time: '2019-07-10T15:38:46.882+02:00',
      DevEUI: '0018B20000000B20',
      FPort: 1,
      AS_ID: 'TWA_199983788.1972.AS',
      payload: { DownMessageType: 'SET_PARAMETER', ParameterName: 'TRANSMIT_STRAT', AckToken: 1 },
      Confirmed: '1',
      ValidityTime: '2019-07-10T16:38:46.882+02:00',
      FlushDownlinkQueue: '1',
      DriverCfg: { app: { pId: 'abeeway', mId: 'asset-tracker', ver: '1' } },
      CorrelationID: '0011223344556677',
    };
    const doc = published(body).DevEUI_downlink;
    assert.deepEqual(doc, { ...body, Confirmed: 1, FlushDownlinkQueue: 1 });
    assert.deepEqual(iotFlowRefusals(JSON.stringify({ DevEUI_downlink: doc })), []);
  });

  it('passes AFCntDn, FCntDn and RetryIneligibleGateways through, ValidityTime as seconds too', () => {
    const doc = published({
      DevEUI: DEV,
      FPort: 224,
      payload_hex: '01',
      AFCntDn: '4294967295',
      FCntDn: 12,
      RetryIneligibleGateways: 0,
      ValidityTime: '3600',
    }).DevEUI_downlink;
    assert.equal(doc.FPort, 224);
    assert.equal(doc.AFCntDn, 4294967295);
    assert.equal(doc.FCntDn, 12);
    assert.equal(doc.RetryIneligibleGateways, 0);
    assert.equal(doc.ValidityTime, 3600);
    assert.deepEqual(iotFlowRefusals(JSON.stringify({ DevEUI_downlink: doc })), []);
  });

  const REFUSED: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an empty payload_hex', { DevEUI: DEV, FPort: 1, payload_hex: '' }, /payload_hex is empty/],
    [
      'an unknown field',
      { DevEUI: DEV, FPort: 1, payload_hex: '00', Priority: 'high' },
      /unknown field "Priority"/,
    ],
    [
      'a misspelt field',
      { DevEUI: DEV, FPort: 1, payload_hex: '00', confirmed: 1 },
      /unknown field "confirmed"/,
    ],
    ['AS_KEY', { DevEUI: DEV, FPort: 1, payload_hex: '00', AS_KEY: 'k' }, /AS_KEY is not sent/],
    ['FPort 225', { DevEUI: DEV, FPort: 225, payload_hex: '00' }, /FPort must be an integer 1-224/],
    ['FPort 0', { DevEUI: DEV, FPort: 0, payload_hex: '00' }, /FPort must be an integer 1-224/],
    ['both payloads', { DevEUI: DEV, FPort: 1, payload_hex: '00', payload: { a: 1 } }, /cannot both/],
    [
      'a ValidityTime in words',
      { DevEUI: DEV, FPort: 1, payload_hex: '00', ValidityTime: 'tomorrow' },
      /ValidityTime/,
    ],
    [
      'a date-only Time',
      { DevEUI: DEV, FPort: 1, payload_hex: '00', Time: '2030-01-01' },
      /Time must be an ISO/,
    ],
    ['AFCntDn over 32 bits', { DevEUI: DEV, FPort: 1, payload_hex: '00', AFCntDn: 4294967296 }, /AFCntDn/],
    ['a DriverCfg that is no object', { DevEUI: DEV, FPort: 1, payload: {}, DriverCfg: 'abc' }, /DriverCfg/],
  ];
  for (const [what, body, reason] of REFUSED) {
    it(`refuses ${what} with a clear error`, () => {
      assert.throws(
        () => iotflow(body),
        (e: unknown) => e instanceof DocumentError && reason.test(e.message),
      );
    });
  }

  it('refuses over the LRC what only IoT Flow takes, and FPort 224', () => {
    const lrc = (body: Record<string, unknown>) =>
      parseDownlink({ DevEUI_downlink: body }, { target: 'lrc' });
    assert.throws(
      () => lrc({ DevEUI: DEV, FPort: 1, payload: { a: 1 } }),
      /payload is only taken over an IoT Flow/,
    );
    assert.throws(
      () => lrc({ DevEUI: DEV, FPort: 1, payload_hex: '00', DriverCfg: {} }),
      /DriverCfg is only/,
    );
    assert.throws(
      () => lrc({ DevEUI: DEV, FPort: 224, payload_hex: '00' }),
      /FPort must be an integer 1-223/,
    );
    const q = lrcDownlinkQuery(
      lrc({
        DevEUI: DEV,
        FPort: 1,
        payload_hex: '00',
        AFCntDn: 5,
        RetryIneligibleGateways: 0,
        ValidityTime: 60,
      }),
      'as',
      'key',
    );
    assert.match(q.signed, /&AFCntDn=5&Payload=00&RetryIneligibleGateways=0&ValidityTime=60&AS_ID=as&/);
  });
});

describe('IoT Flow topic patterns', () => {
  it('subscribes with + in place of placeholders, shared when grouped', () => {
    assert.equal(subscriptionFilter('mqtt/things/{DevEUI}/uplink'), 'mqtt/things/+/uplink');
    assert.equal(subscriptionFilter('a/dev-{DevEUI}/{FPort}', 'g1'), '$share/g1/a/+/+');
    assert.equal(subscriptionFilter('uplink_1234'), 'uplink_1234');
  });
  it('reads the DevEUI from a topic and fills a downlink topic from the document', () => {
    assert.equal(devEUIFromTopic('mqtt/things/{DevEUI}/uplink', 'mqtt/things/0018b20000000b20/uplink'), DEV);
    assert.equal(devEUIFromTopic('x/dev-{DevEUI}', 'x/dev-0018B20000000B20'), DEV);
    assert.equal(devEUIFromTopic('mqtt/things/{DevEUI}/uplink', 'mqtt/things/nothex/uplink'), undefined);
    assert.equal(
      resolveTopic('mqtt/things/{DevEUI}/downlink', { DevEUI: DEV }),
      `mqtt/things/${DEV}/downlink`,
    );
    assert.throws(() => resolveTopic('a/{DevEUI}', {}), /no value/);
    assert.throws(() => resolveTopic('a/{DevEUI}', { DevEUI: '#' }), /wildcard/);
  });
});

describe('LRC client against a fake LRC that checks the Token', () => {
  const asKey = 'The-AS-Key';
  let lrc: FakeLrc;
  beforeEach(async () => {
    lrc = await new FakeLrc({ asKey }).start();
  });
  afterEach(() => lrc.stop());

  const request = () => parseDownlink({ DevEUI_downlink: { DevEUI: DEV, FPort: 2, payload_hex: '0102' } });

  it('gets "Request queued by LRC" for a correctly signed request', async () => {
    const req = request();
    const result = await new LrcClient({ url: lrc.url, asId: 'as', asKey }).send(req);
    assert.deepEqual(result, {
      status: 'queued',
      correlationId: req.correlationId,
      httpStatus: 200,
      attempts: 1,
    });
    assert.equal(lrc.received[0].accepted, true);
    assert.equal(lrc.received[0].query.get('Payload'), '0102');
  });

  it('signs with the lower-cased key first: a key pasted in upper case is queued at once', async () => {
    const hex = 'c72c6f867b150b1210acda5f3cdfb449';
    lrc.options.asKey = hex.toUpperCase(); // ThingPark shows "C72C6F867B150B1210ACDA5F3CDFB449"
    const client = new LrcClient({ url: lrc.url, asId: 'as', asKey: hex.toUpperCase() });
    const result = await client.send(request());
    assert.equal(result.status, 'queued');
    assert.equal(result.attempts, 1);
  });

  it('retries once with the key as typed when the LRC refuses the lower-cased token, then remembers it', async () => {
    // The 2016 sample of Actility's guide: a platform that hashes the key as stored, mixed case.
    lrc.options.asKey = '46ab678cd45df4a4e4b375Eacd096acc';
    lrc.options.hashKey = 'as-stored';
    const client = new LrcClient({ url: lrc.url, asId: 'as', asKey: lrc.options.asKey });
    const first = await client.send(request());
    assert.equal(first.status, 'queued');
    assert.equal(first.attempts, 2);
    assert.deepEqual(
      lrc.received.map((r) => r.accepted),
      [false, true],
    );
    const second = await client.send(request());
    assert.equal(second.attempts, 1, 'the accepted form goes first next time');
    assert.equal(lrc.queued, 2);
  });

  it('a wrong key is refused after both forms, without further resends', async () => {
    const result = await new LrcClient({ url: lrc.url, asId: 'as', asKey: 'Other-Key' }).send(request());
    assert.equal(result.status, 'rejected');
    assert.equal(result.httpStatus, 400);
    assert.equal(result.reason, 'Security error: invalid Token', 'the HTML answer stripped');
    assert.equal(result.attempts, 2);
    assert.equal(lrc.queued, 0);
  });

  it('resends 503 answers (not taken) a bounded number of times', async () => {
    lrc.options.failNext = { count: 2, status: 503 };
    const result = await new LrcClient({ url: lrc.url, asId: 'as', asKey, retryDelayMs: 10 }).send(request());
    assert.equal(result.status, 'queued');
    assert.equal(result.attempts, 3);
    lrc.options.failNext = { count: 5, status: 503 };
    const failed = await new LrcClient({
      url: lrc.url,
      asId: 'as',
      asKey,
      retryDelayMs: 10,
      retries: 1,
    }).send(request());
    assert.equal(failed.status, 'error');
    assert.equal(failed.attempts, 2);
  });

  it('resends when the LRC was unreachable (connection refused): nothing reached ThingPark', async () => {
    const url = lrc.url;
    await lrc.stop();
    const result = await new LrcClient({ url, asId: 'as', asKey, retryDelayMs: 10, retries: 1 }).send(
      request(),
    );
    assert.equal(result.status, 'error');
    assert.equal(result.attempts, 2);
    assert.match(result.reason!, /LRC unreachable: ECONNREFUSED/);
  });

  it('does not resend after a timeout: the LRC queued it once and the flow gets an error', async function () {
    lrc.options.hang = true;
    const client = new LrcClient({ url: lrc.url, asId: 'as', asKey, retryDelayMs: 10, timeoutMs: 300 });
    const result = await client.send(request());
    assert.equal(result.status, 'error');
    assert.equal(result.attempts, 1);
    assert.match(result.reason!, /no answer from the LRC \(ETIMEDOUT\).*not resent/);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(lrc.received.length, 1);
    assert.equal(lrc.queued, 1, 'queued once, never twice');
  });

  it('does not resend after the connection closes once the request was written', async () => {
    lrc.options.resetAfterQueue = true;
    const result = await new LrcClient({ url: lrc.url, asId: 'as', asKey, retryDelayMs: 10 }).send(request());
    assert.equal(result.status, 'error');
    assert.equal(result.attempts, 1);
    assert.match(result.reason!, /ECONNRESET|socket hang up/);
    assert.equal(lrc.queued, 1);
  });

  it('does not resend a 500 or 502 answer (the LRC may have queued it), resends 503', async () => {
    for (const status of [500, 502]) {
      lrc.received.length = 0;
      lrc.options.failNext = { count: 1, status };
      const result = await new LrcClient({ url: lrc.url, asId: 'as', asKey, retryDelayMs: 10 }).send(
        request(),
      );
      assert.equal(result.status, 'error');
      assert.equal(result.httpStatus, status);
      assert.equal(result.attempts, 1);
      assert.equal(lrc.received.length, 1);
    }
  });
  it('strips tags and entities from HTML answers', () => {
    assert.equal(stripHtml('<html><body><h1>Error</h1>Bad &amp; wrong</body></html>'), 'Error Bad & wrong');
  });
});
