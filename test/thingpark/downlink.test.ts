import { strict as assert } from 'assert';
import { DocumentError } from '../../lib/thingpark/document-types';
import { downlinkDocument, lrcDownlinkQuery, parseDownlink } from '../../lib/thingpark/downlink';
import { LrcClient, stripHtml } from '../../lib/thingpark/lrc-client';
import { devEUIFromTopic, resolveTopic, subscriptionFilter } from '../../lib/thingpark/topics';
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
