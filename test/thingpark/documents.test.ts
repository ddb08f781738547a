import { strict as assert } from 'assert';
import { DocumentError } from '../../lib/thingpark/mapping/document-types';
import { normaliseDocument } from '../../lib/thingpark/mapping/normalise';
import { parseDocumentText } from '../../lib/thingpark/mapping/parse';

const normalise = (text: string, hint?: string) =>
  normaliseDocument(parseDocumentText(text), { devEUIHint: hint });

/** The uplink of actility/tpx-iot-flow-doc docs/Message/Uplink_Message (untyped: every value a string). */
const UNTYPED_UPLINK = `{"DevEUI_uplink":{"Time":"2018-10-03T15:38:46.882+02:00","DevEUI":"0018B20000000B20","FPort":"1",
"FCntUp":"1174","ADRbit":"1","MType":"4","FCntDn":"1229","payload_hex":"9e1c4852512000220020e3831071",
"mic_hex":"cfffc70f","Lrcid":"00000206","LrrRSSI":"-80.000000","LrrSNR":"7.000000","SpFact":"7","SubBand":"G2",
"Channel":"LC6","DevLrrCnt":"1","Lrrid":"004A18E3","Late":"0","LrrLAT":"45.851032","LrrLON":"1.266230",
"Lrrs":{"Lrr":[{"Lrrid":"004A18E3","Chain":"0","LrrRSSI":"-80.000000","LrrSNR":"7.000000","LrrESP":"-80.790100"}]},
"CustomerID":"1100000077","CustomerData":{"alr":{"pro":"ADRF/DEMO","ver":"2"}},
"ModelCfg":"1:TemperatureService, 2:SwissPostDevice","DevAddr":"05CB0AE8","TxPower":7.000000,"NbTrans":1}}`;

const XML_UPLINK = `<?xml version="1.0" encoding="UTF-8"?>
<DevEUI_uplink xmlns="http://uri.actility.com/lora">
  <Time>2018-10-03T15:38:46.882+02:00</Time><DevEUI>0018B20000000B20</DevEUI><FPort>1</FPort><FCntUp>1174</FCntUp>
  <payload_hex>9e1c4852512000220020e3831071</payload_hex><Lrcid>00000206</Lrcid><LrrRSSI>-80.000000</LrrRSSI>
  <LrrSNR>7.000000</LrrSNR><SpFact>7</SpFact><Lrrid>004A18E3</Lrrid>
  <Lrrs><Lrr><Lrrid>004A18E3</Lrrid><Chain>0</Chain><LrrRSSI>-80.000000</LrrRSSI></Lrr></Lrrs>
  <CustomerID>1100000077</CustomerID><CustomerData><alr><pro>ADRF/DEMO</pro><ver>2</ver></alr></CustomerData>
  <DevAddr>05CB0AE8</DevAddr>
</DevEUI_uplink>`;

describe('ThingPark documents: parse and normalise', () => {
  it('types an untyped JSON uplink, keeping hex and id fields as strings', () => {
    const { document, info } = normalise(UNTYPED_UPLINK);
    const up = document.DevEUI_uplink!;
    assert.equal(up.FPort, 1);
    assert.equal(up.FCntUp, 1174);
    assert.equal(up.LrrRSSI, -80);
    assert.equal(up.LrrSNR, 7);
    assert.equal(up.SpFact, 7);
    assert.equal(up.LrrLAT, 45.851032);
    assert.equal(up.Lrcid, '00000206');
    assert.equal(up.CustomerID, '1100000077');
    assert.equal(up.DevAddr, '05CB0AE8');
    assert.equal(up.SubBand, 'G2');
    assert.deepEqual((up.Lrrs as { Lrr: unknown[] }).Lrr[0], {
      Lrrid: '004A18E3',
      Chain: 0,
      LrrRSSI: -80,
      LrrSNR: 7,
      LrrESP: -80.7901,
    });
    assert.deepEqual(info, {
      type: 'DevEUI_uplink',
      devEUI: '0018B20000000B20',
      connectivity: 'LORAWAN',
      fPort: 1,
      time: '2018-10-03T15:38:46.882+02:00',
    });
  });

  it('turns an XML uplink into the same typed JSON, Lrr always an array', () => {
    const { document } = normalise(XML_UPLINK);
    const up = document.DevEUI_uplink!;
    assert.equal(up.FPort, 1);
    assert.equal(up.LrrRSSI, -80);
    assert.equal(up.Lrcid, '00000206');
    assert.equal(up.payload_hex, '9e1c4852512000220020e3831071');
    assert.deepEqual(up.CustomerData, { alr: { pro: 'ADRF/DEMO', ver: '2' } });
    assert.deepEqual(up.Lrrs, { Lrr: [{ Lrrid: '004A18E3', Chain: 0, LrrRSSI: -80 }] });
  });

  // actility/thingpark-integrations 1_tpNS-AS/message_body_examples/uplink_frame.xml (abridged): in XML,
  // CustomerData and DriverCfg are JSON texts.
  const ACTILITY_XML = `<?xml version="1.0" encoding="utf-8"?>
<DevEUI_uplink xmlns="http://uri.actility.com/lora">
  <Time>2015-07-09T16:06:38.49+02:00</Time><DevEUI>000000000F1D8693</DevEUI><FPort>2</FPort><FCntUp>7011</FCntUp>
  <payload_hex>0027bd00</payload_hex><Lrrid>08040059</Lrrid><CustomerID>100000507</CustomerID>
  <CustomerData>{"loc":{"lat":"43.58081","lon":"1.4421667"},"alr":{"pro":"STL","ver":"1"}}</CustomerData>
  <DriverCfg>{"mod":{"pId":"abeeway","mId":"micro-tracker","ver":"3"},"app":{"pId":"abeeway","mId":"asset-tracker","ver":"1"}}</DriverCfg>
</DevEUI_uplink>`;

  it('turns CustomerData and DriverCfg sent as JSON text (Actility XML sample) into objects', () => {
    const up = normalise(ACTILITY_XML).document.DevEUI_uplink!;
    assert.deepEqual(up.CustomerData, {
      loc: { lat: '43.58081', lon: '1.4421667' },
      alr: { pro: 'STL', ver: '1' },
    });
    assert.deepEqual(up.DriverCfg, {
      mod: { pId: 'abeeway', mId: 'micro-tracker', ver: '3' },
      app: { pId: 'abeeway', mId: 'asset-tracker', ver: '1' },
    });
  });

  it('turns a JSON-text CustomerData in JSON (KPN capture) and BaseStationData into objects; other text stays', () => {
    // iotacademy/LoRaPayloadSimulator 1_KPN_LoRa_Example.md: "CustomerData": "{\"alr\":{...}}" in a JSON body.
    const kpn = normalise(
      JSON.stringify({
        DevEUI_uplink: {
          DevEUI: '0059AC0000181EB6',
          FPort: 1,
          FCntUp: 0,
          payload_hex: 'effe',
          CustomerData: '{"alr":{"pro":"SMTC/LoRaMote","ver":"1"},"name":"Boiler 3"}',
          BaseStationData: '{"name":"Rooftop","doms":["site-a"]}',
        },
      }),
    ).document.DevEUI_uplink!;
    assert.deepEqual(kpn.CustomerData, { alr: { pro: 'SMTC/LoRaMote', ver: '1' }, name: 'Boiler 3' });
    assert.deepEqual(kpn.BaseStationData, { name: 'Rooftop', doms: ['site-a'] });
    for (const text of [
      'Boiler 3',
      '{not json',
      '42',
      '"quoted"',
      '',
      `${'['.repeat(40)}${']'.repeat(40)}`,
    ]) {
      const up = normalise(
        JSON.stringify({
          DevEUI_uplink: { DevEUI: '0059AC0000181EB6', payload_hex: '00', FPort: 1, CustomerData: text },
        }),
      ).document.DevEUI_uplink!;
      assert.equal(up.CustomerData, text, `${text.slice(0, 10)} stays a string`);
    }
  });

  it('refuses XML with a DTD (entity expansion)', () => {
    assert.throws(
      () =>
        parseDocumentText(
          '<!DOCTYPE x [<!ENTITY a "aaaa">]><DevEUI_uplink><DevEUI>&a;</DevEUI></DevEUI_uplink>',
        ),
      /DTD/,
    );
  });

  const EVERY_TYPE: Array<[string, Record<string, unknown>]> = [
    [
      'DevEUI_location',
      {
        DevEUI: '0018B20000000B20',
        DevLAT: '45.1',
        DevLON: '1.2',
        NwGeolocAlgo: '1',
        Time: '2024-01-01T00:00:00Z',
      },
    ],
    [
      'DevEUI_notification',
      { DevEUI: '0018B20000000B20', Type: 'reset', Var1: '0', Time: '2024-01-01T00:00:00Z' },
    ],
    [
      'DevEUI_downlink_Sent',
      {
        DevEUI: '0018B20000000B20',
        FPort: '1',
        FCntDn: '3',
        DeliveryStatus: '1',
        CorrelationID: '00AA11BB22CC33DD',
      },
    ],
    [
      'DevEUI_downlink_Rejected',
      {
        DevEUI: '0018B20000000B20',
        FPort: '1',
        DeliveryStatus: '0',
        DownlinkRejectionCause: 'Queue full',
        CorrelationID: 'ABCDEF0123456789',
      },
    ],
    [
      'DevEUI_multicast_summary',
      { TransmissionStatus: '1', LrrCnt: '3', LrrSuccessCnt: '2', LrrFailedCnt: '1', CorrelationID: '1111' },
    ],
    [
      'DevEUI_alarm',
      {
        DevEUI: '0018B20000000B20',
        ID: '12',
        State: '1',
        CreationTime: '2024-01-01T00:00:00Z',
        Occurrence: '2',
        Acked: '0',
      },
    ],
    ['BS_alarm', { LrrID: 'FF0109A4', ID: '101', State: '1', Occurrence: '1' }],
    ['DevEUI_downlink', { DevEUI: '0018B20000000B20', FPort: '1', payload_hex: '00' }],
  ];

  for (const [type, body] of EVERY_TYPE) {
    it(`recognises ${type} with its root key and without it`, () => {
      const rooted = normaliseDocument({ [type]: body });
      assert.equal(rooted.info.type, type);
      assert.deepEqual(Object.keys(rooted.document), [type]);
      if (type !== 'DevEUI_downlink') {
        const rootless = normaliseDocument(body);
        assert.equal(rootless.info.type, type, 'root-less form (IoT Flow sendMetadata off)');
      }
    });
  }

  it('types numeric fields of reports and alarms and keeps the CorrelationID', () => {
    const sent = normaliseDocument({ DevEUI_downlink_Sent: EVERY_TYPE[2][1] });
    assert.equal(sent.body.DeliveryStatus, 1);
    assert.equal(sent.body.FCntDn, 3);
    assert.equal(sent.info.correlationId, '00AA11BB22CC33DD');
    const alarm = normaliseDocument(EVERY_TYPE[5][1]);
    assert.equal(alarm.body.State, 1);
    assert.equal(alarm.body.ID, 12);
  });

  it('recognises a root-less uplink', () => {
    const { info, document } = normaliseDocument({
      DevEUI: '0018b20000000b20',
      FPort: 3,
      FCntUp: 1,
      payload_hex: 'ab',
    });
    assert.equal(info.type, 'DevEUI_uplink');
    assert.equal(info.devEUI, '0018B20000000B20', 'DevEUI upper-cased');
    assert.ok(document.DevEUI_uplink);
  });

  it('takes a decoded-only document (sendRawDecodedFormat) as an uplink of the DevEUI from the topic', () => {
    const { info, document } = normaliseDocument({ temperature: 21.5 }, { devEUIHint: '0018B20000000B20' });
    assert.equal(info.type, 'DevEUI_uplink');
    assert.deepEqual(document.DevEUI_uplink!.payload, { temperature: 21.5 });
  });

  it('marks a cellular document (IMEI, no LoRa radio fields) CELLULAR', () => {
    const cellular = normaliseDocument({
      DevEUI_uplink: {
        Time: '2024-01-01T00:00:00Z',
        DevEUI: 'F03D290000000001',
        payload_hex: '0102',
        IMEI: '356938035643809',
        IMSI: '208011234567890',
      },
    });
    assert.equal(cellular.info.connectivity, 'CELLULAR');
    const noRadio = normaliseDocument({
      DevEUI_uplink: { DevEUI: 'F03D290000000001', payload_hex: '01', FCntUp: 1 },
    });
    assert.equal(noRadio.info.connectivity, 'CELLULAR', 'never rejected for missing LoRa fields');
  });

  const MALFORMED: Array<[string, unknown, RegExp]> = [
    ['not JSON', 'hello', /not JSON or XML/],
    ['empty', '', /empty body/],
    ['an array', '[1,2]', /must be a JSON object/],
    ['unknown root', '{"Foo":{"a":1}}', /not a ThingPark document/],
    ['missing DevEUI', '{"DevEUI_uplink":{"FPort":1,"payload_hex":"00"}}', /has no DevEUI/],
    [
      'short DevEUI',
      '{"DevEUI_uplink":{"DevEUI":"0018B2","payload_hex":"00"}}',
      /DevEUI must be 16 hex digits/,
    ],
    [
      'non-hex DevEUI',
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B2Z","payload_hex":"00"}}',
      /DevEUI must be 16 hex digits/,
    ],
    [
      'FPort 256',
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","FPort":256,"payload_hex":"00"}}',
      /FPort must be an integer 0-255/,
    ],
    [
      'FPort text',
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","FPort":"x","payload_hex":"00"}}',
      /FPort must be an integer 0-255/,
    ],
    [
      'odd hex',
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","FPort":1,"payload_hex":"abc"}}',
      /payload_hex must be even-length hex/,
    ],
    [
      'non-hex payload',
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","payload_hex":"zz"}}',
      /payload_hex must be even-length hex/,
    ],
    [
      'bad Time',
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","payload_hex":"00","Time":"yesterday"}}',
      /Time must be an ISO 8601 date/,
    ],
    ['broken XML', '<DevEUI_uplink><DevEUI>1</DevEUI>', /malformed XML|not a ThingPark|DevEUI/],
  ];
  for (const [what, text, reason] of MALFORMED) {
    it(`refuses ${what} with a clear DocumentError`, () => {
      assert.throws(
        () => normaliseDocument(parseDocumentText(String(text))),
        (err: unknown) => err instanceof DocumentError && reason.test(err.message),
      );
    });
  }

  it('types numbers in linear time: a hostile 40 000-digit field does not hang (found by fuzzing)', function () {
    this.timeout(2000);
    const { body } = normaliseDocument({
      DevEUI_location: { DevEUI: '0018B20000000B20', DevLAT: 1, DevLON: 2, LrrSNR: `${'0'.repeat(40000)}e` },
    });
    assert.equal(typeof body.LrrSNR, 'string');
  });

  it('reports a deeply nested wrong-typed field as a DocumentError (found by fuzzing)', () => {
    let deep: unknown = {};
    for (let i = 0; i < 20000; i++) deep = { a: deep };
    assert.throws(
      () =>
        normaliseDocument({ DevEUI_uplink: { DevEUI: '0018B20000000B20', payload_hex: '00', Time: deep } }),
      (err: unknown) => err instanceof DocumentError && /Time must be an ISO 8601 date/.test(err.message),
    );
  });

  it('keeps a "__proto__" key as data, never as the body\'s prototype (found by fuzzing)', () => {
    const raw = JSON.parse(
      '{"DevEUI_uplink":{"__proto__":{"FPort":5},"DevEUI":"0018B20000000B20","payload_hex":"00"}}',
    ) as unknown;
    const { body } = normaliseDocument(raw);
    assert.equal(Object.getPrototypeOf(body), Object.prototype);
    assert.equal(body.FPort, undefined, 'FPort is not inherited');
    assert.ok(Object.prototype.hasOwnProperty.call(body, '__proto__'));
  });

  it('reads a body behind a byte order mark; a negative zero, as text or as a number, becomes 0', () => {
    const text =
      '{"DevEUI_uplink":{"DevEUI":"0018B20000000B20","FPort":2,"LrrSNR":-0,"LrrRSSI":"-0","payload_hex":"00"}}';
    const doc = normalise('\uFEFF' + text);
    assert.deepEqual(doc, normalise(`\n ${text} `));
    assert.ok(Object.is(doc.body.LrrSNR, 0) && Object.is(doc.body.LrrRSSI, 0));
    assert.equal(JSON.stringify(doc.body.LrrSNR), '0');
  });

  it('never changes the document it is given, and copies nothing when the document is typed already', () => {
    const raw = JSON.parse(UNTYPED_UPLINK.replace('0018B20000000B20', '0018b20000000b20')) as {
      DevEUI_uplink: Record<string, unknown>;
    };
    const before = JSON.stringify(raw);
    const first = normaliseDocument(raw);
    assert.equal(JSON.stringify(raw), before, 'the untyped input is left as it came (token check)');
    assert.equal(first.rawBody, raw.DevEUI_uplink);
    assert.equal(first.body.DevEUI, '0018B20000000B20');
    assert.equal(first.body.FCntUp, 1174);

    // What uplink in emits goes through the out node's normalise again: the same body, not a copy.
    const second = normaliseDocument(first.document);
    assert.equal(second.body, first.body);
    assert.deepEqual(second.document, first.document);
    assert.deepEqual(second.info, first.info);

    // A root-less typed document given its DevEUI by the topic is completed on a copy.
    const rootless = { FPort: 2, FCntUp: 7, payload_hex: '00' };
    const hinted = normaliseDocument(rootless, { devEUIHint: '0018b20000000b21' });
    assert.equal(hinted.body.DevEUI, '0018B20000000B21');
    assert.deepEqual(rootless, { FPort: 2, FCntUp: 7, payload_hex: '00' });
  });
});
