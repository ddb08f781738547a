import { strict as assert } from 'assert';
import {
  deliveryFailureReason,
  mapDocument,
  MappingError,
  MAX_PACKET_BYTES,
  parseSmartRest,
  publishPacketSize,
  operationFailed,
  oldestOperationFailed,
  seriesName,
  statusPublishes,
  unitFor,
} from '../../lib/cumulocity';
import { CHILD, CHILD_TOPIC, DEVEUI, TIME, cellularUplink, loraUplink } from './fixtures';

function throwsReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (err: unknown) => err instanceof MappingError && err.reason === reason);
}

/** The SmartREST lines of all publishes on one topic. */
function linesOn(result: ReturnType<typeof mapDocument>, topic: string): string[] {
  return result.publishes.filter((p) => p.topic === topic).flatMap((p) => p.payload.split('\n'));
}

const NOW = (): Date => new Date('2030-05-06T07:08:09.000Z');

describe('cumulocity mapper: DevEUI_uplink', () => {
  it('LoRa uplink: signal strength 201, decoded values 201, raw frame JSON event', () => {
    const result = mapDocument(loraUplink());
    assert.equal(result.documentType, 'DevEUI_uplink');
    assert.equal(result.childId, CHILD);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.publishes, [
      {
        topic: 's/us/0018b20000000b20',
        payload:
          '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,' +
          'c8y_SignalStrength,rssi,-60,dBm,c8y_SignalStrength,snr,9.5,dB,c8y_SignalStrength,sf,7,\n' +
          '201,c8y_ThingParkMeasurement,2024-01-01T10:00:00.000+00:00,' +
          'temperature,temperature,21.5,°C,nested,humidity,40,',
      },
      {
        topic: 'event/events/create',
        payload:
          '{"type":"c8y_ThingParkUplink","text":"ThingPark uplink FPort 2 FCntUp 7",' +
          '"time":"2024-01-01T10:00:00.000+00:00",' +
          '"externalSource":{"externalId":"0018b20000000b20","type":"c8y_Serial"},' +
          '"c8y_ThingParkUplink":{"DevEUI":"0018B20000000B20","FPort":2,"FCntUp":7,' +
          '"payload_hex":"0027bd00","Lrrid":"FF0109A4"}}',
      },
    ]);
  });

  it('cellular uplink: no radio measurement, never rejected for missing LoRa fields', () => {
    const result = mapDocument(cellularUplink());
    assert.equal(result.childId, 'f03d290000000001');
    assert.deepEqual(result.publishes, [
      {
        topic: 's/us/f03d290000000001',
        payload: '201,c8y_ThingParkMeasurement,2024-03-05T08:30:00.000+01:00,battery,battery,3.61,',
      },
      {
        topic: 'event/events/create',
        payload:
          '{"type":"c8y_ThingParkUplink","text":"ThingPark uplink FCntUp 12",' +
          '"time":"2024-03-05T08:30:00.000+01:00",' +
          '"externalSource":{"externalId":"f03d290000000001","type":"c8y_Serial"},' +
          '"c8y_ThingParkUplink":{"DevEUI":"F03D290000000001","FCntUp":12,"payload_hex":"01020304"}}',
      },
    ]);
  });

  it('uplink without a decoder: only the radio line and the event', () => {
    const result = mapDocument(loraUplink({ payload: undefined, points: undefined }));
    assert.deepEqual(linesOn(result, CHILD_TOPIC), [
      '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,c8y_SignalStrength,rssi,-60,dBm,' +
        'c8y_SignalStrength,snr,9.5,dB,c8y_SignalStrength,sf,7,',
    ]);
    assert.equal(result.publishes.length, 2);
  });

  it('only the radio fields present are sent', () => {
    const result = mapDocument(
      loraUplink({ LrrSNR: undefined, SpFact: undefined, payload: undefined, points: undefined }),
    );
    assert.deepEqual(linesOn(result, CHILD_TOPIC), [
      '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,c8y_SignalStrength,rssi,-60,dBm',
    ]);
  });

  it('a radio field that is not a number is left out with a warning', () => {
    const result = mapDocument(loraUplink({ LrrSNR: 'n/a', payload: undefined, points: undefined }));
    assert.deepEqual(linesOn(result, CHILD_TOPIC), [
      '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,c8y_SignalStrength,rssi,-60,dBm,' +
        'c8y_SignalStrength,sf,7,',
    ]);
    assert.deepEqual(result.warnings, ['LrrSNR left out: not a number']);
  });

  it('untyped JSON (numbers as strings) still gives numbers; the event keeps the values as received', () => {
    const doc = {
      DevEUI_uplink: {
        Time: TIME,
        DevEUI: DEVEUI,
        FPort: '2',
        FCntUp: '7',
        payload_hex: '0027bd00',
        LrrRSSI: '-60.000000',
        LrrSNR: '9.500000',
        SpFact: '7',
        Lrrid: 'FF0109A4',
      },
    };
    const result = mapDocument(doc);
    assert.deepEqual(linesOn(result, CHILD_TOPIC), [
      '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,c8y_SignalStrength,rssi,-60,dBm,' +
        'c8y_SignalStrength,snr,9.5,dB,c8y_SignalStrength,sf,7,',
    ]);
    assert.equal(
      result.publishes[1].payload,
      '{"type":"c8y_ThingParkUplink","text":"ThingPark uplink FPort 2 FCntUp 7",' +
        '"time":"2024-01-01T10:00:00.000+00:00",' +
        '"externalSource":{"externalId":"0018b20000000b20","type":"c8y_Serial"},' +
        '"c8y_ThingParkUplink":{"DevEUI":"0018B20000000B20","FPort":"2","FCntUp":"7",' +
        '"payload_hex":"0027bd00","Lrrid":"FF0109A4"}}',
    );
  });

  it('GEO fields: 402 with altitude, accuracy and DevLocTime', () => {
    const result = mapDocument(
      loraUplink({
        payload: undefined,
        points: undefined,
        DevLocTime: '2024-01-01T09:59:58.000+00:00',
        DevLAT: 43.58081,
        DevLON: 1.4421667,
        DevAlt: 150,
        DevAcc: 25,
      }),
    );
    assert.deepEqual(
      linesOn(result, CHILD_TOPIC)[1],
      '402,43.58081,1.4421667,150,25,2024-01-01T09:59:58.000+00:00',
    );
  });

  it('GEO fields without altitude use DevLocRadius as accuracy and the uplink Time', () => {
    const result = mapDocument(
      loraUplink({ payload: undefined, points: undefined, DevLAT: -33.9, DevLON: 151.2, DevLocRadius: 300 }),
    );
    assert.deepEqual(linesOn(result, CHILD_TOPIC)[1], '402,-33.9,151.2,,300,2024-01-01T10:00:00.000+00:00');
  });

  it('an impossible position is left out with a warning, the rest still goes', () => {
    const result = mapDocument(loraUplink({ payload: undefined, points: undefined, DevLAT: 95, DevLON: 1 }));
    assert.equal(linesOn(result, CHILD_TOPIC).length, 1);
    assert.equal(result.warnings.length, 1);
    assert.match(result.warnings[0], /^position left out/);
  });

  it('time-series points use their own eventTime, one 201 per time', () => {
    const result = mapDocument(
      loraUplink({
        payload: undefined,
        points: {
          temperature: [
            { eventTime: '2024-01-01T09:50:00.000+00:00', value: 20.5 },
            { eventTime: '2024-01-01T09:55:00.000+00:00', value: 21 },
          ],
          battery: { unitId: 'V', record: 3.6 },
        },
      }),
    );
    assert.deepEqual(linesOn(result, CHILD_TOPIC).slice(1), [
      '201,c8y_ThingParkMeasurement,2024-01-01T09:50:00.000+00:00,temperature,temperature,20.5,',
      '201,c8y_ThingParkMeasurement,2024-01-01T09:55:00.000+00:00,temperature,temperature,21,',
      '201,c8y_ThingParkMeasurement,2024-01-01T10:00:00.000+00:00,battery,battery,3.6,V',
    ]);
  });

  it('points: ontology units mapped, unknown unit kept, non-numeric records skipped', () => {
    const result = mapDocument(
      loraUplink({
        payload: undefined,
        points: {
          humidity: { unitId: '%RH', type: 'double', record: 46 },
          volume: { unitId: 'm3', record: 1.25 },
          light: { unitId: 'lx', record: 0 },
          odd: { unitId: 'furlong', record: 2 },
          counter: { type: 'int64', record: 12 },
          location: { unitId: 'GPS', record: [1.44, 43.58] },
          label: { record: 'on' },
        },
      }),
    );
    assert.deepEqual(
      linesOn(result, CHILD_TOPIC)[1],
      '201,c8y_ThingParkMeasurement,2024-01-01T10:00:00.000+00:00,' +
        'humidity,humidity,46,%RH,volume,volume,1.25,m³,light,light,0,lx,odd,odd,2,furlong,counter,counter,12,',
    );
  });

  it('payload: numeric leaves of nested objects and arrays, names cleaned, other leaves ignored', () => {
    const result = mapDocument(
      loraUplink({
        points: undefined,
        payload: {
          'battery level': 87,
          'co2.ppm': 491,
          flags: { open: true, count: 3 },
          axes: [0.5, -1],
          deep: { a: { b: 7 } },
          text: 'hello',
          none: null,
        },
      }),
    );
    assert.deepEqual(
      linesOn(result, CHILD_TOPIC)[1],
      '201,c8y_ThingParkMeasurement,2024-01-01T10:00:00.000+00:00,battery_level,battery_level,87,,' +
        'co2_ppm,co2_ppm,491,,flags,count,3,,axes,0,0.5,,axes,1,-1,,deep,a_b,7,',
    );
  });

  it('a point and the payload number it came from are sent once, with the point unit', () => {
    const result = mapDocument(loraUplink());
    assert.equal(linesOn(result, CHILD_TOPIC)[1].match(/temperature,temperature/g)?.length, 1);
  });

  it('custom measurement type', () => {
    const result = mapDocument(cellularUplink(), { measurementType: 'acme_Reading' });
    assert.equal(
      result.publishes[0].payload,
      '201,acme_Reading,2024-03-05T08:30:00.000+01:00,battery,battery,3.61,',
    );
  });

  it('splits the decoded values over several 201 lines only when one would be too large', () => {
    // Five values with 3001-character names: a group is 6007 bytes, the head 58 bytes, and a publish on
    // s/us/f03d290000000001 holds 16156 payload bytes (16184 - 28 header bytes): two groups per line.
    const name = (i: number): string => `${'x'.repeat(3000)}${i}`;
    const payload: Record<string, number> = {};
    for (let i = 0; i < 5; i++) payload[name(i)] = i;
    const head = '201,c8y_ThingParkMeasurement,2024-03-05T08:30:00.000+01:00';
    const group = (i: number): string => `,${name(i)},${name(i)},${i},`;
    const result = mapDocument(cellularUplink({ payload }));
    assert.deepEqual(result.publishes.slice(0, -1), [
      { topic: 's/us/f03d290000000001', payload: head + group(0) + group(1) },
      { topic: 's/us/f03d290000000001', payload: head + group(2) + group(3) },
      { topic: 's/us/f03d290000000001', payload: head + group(4) },
    ]);
    assert.equal(publishPacketSize('s/us/f03d290000000001', head.length + 2 * group(0).length, 1), 12100);
  });

  it('honours a smaller packet limit (maxPacketBytes) for the 201 lines and the event', () => {
    const n = (i: number): string => `temperature_sensor_inlet_0000${i}`; // 30 characters
    const payload = { [n(1)]: 1, [n(2)]: 2, [n(3)]: 3 };
    const doc = cellularUplink({ payload, payload_hex: undefined, FCntUp: undefined });
    // 250-byte packets: 222 payload bytes on s/us/f03d290000000001; head 58 + 65 per group → 2 groups per line.
    const result = mapDocument(doc, { maxPacketBytes: 250 });
    const head = '201,c8y_ThingParkMeasurement,2024-03-05T08:30:00.000+01:00';
    assert.deepEqual(result.publishes.slice(0, -1), [
      { topic: 's/us/f03d290000000001', payload: `${head},${n(1)},${n(1)},1,,${n(2)},${n(2)},2,` },
      { topic: 's/us/f03d290000000001', payload: `${head},${n(3)},${n(3)},3,` },
    ]);
    for (const p of result.publishes)
      assert.ok(publishPacketSize(p.topic, Buffer.byteLength(p.payload), 1) <= 250);
    throwsReason(() => mapDocument(doc, { maxPacketBytes: 200 }), 'too-large'); // the event no longer fits
  });

  it('many values in the default limit: every publish within 16184 bytes, no value lost', () => {
    const payload: Record<string, number> = {};
    for (let i = 0; i < 1500; i++) payload[`sensor_${i}`] = i * 1.5;
    const result = mapDocument(cellularUplink({ payload }));
    const lines = linesOn(result, 's/us/f03d290000000001');
    assert.ok(lines.length > 1);
    let groups = 0;
    for (const line of lines) {
      const [record] = parseSmartRest(line);
      assert.deepEqual(record.slice(0, 3), [
        '201',
        'c8y_ThingParkMeasurement',
        '2024-03-05T08:30:00.000+01:00',
      ]);
      groups += (record.length - 3) / 4;
    }
    assert.equal(groups, 1500);
    for (const p of result.publishes) {
      assert.ok(publishPacketSize(p.topic, Buffer.byteLength(p.payload), 1) <= MAX_PACKET_BYTES);
    }
  });

  it('a document without Time uses the clock, the same time everywhere, with a warning', () => {
    const result = mapDocument(cellularUplink({ Time: undefined }), { now: NOW });
    assert.equal(
      result.publishes[0].payload,
      '201,c8y_ThingParkMeasurement,2030-05-06T07:08:09.000Z,battery,battery,3.61,',
    );
    assert.match(result.publishes[1].payload, /"time":"2030-05-06T07:08:09.000Z"/);
    assert.deepEqual(result.warnings, ['no Time: used the current time']);
  });

  it('refuses a Time that is not ISO 8601 with an offset', () => {
    for (const bad of [
      'yesterday',
      '2024-01-01 10:00:00',
      '2024-01-01T10:00:00',
      '2024-13-01T10:00:00Z',
      17,
    ]) {
      throwsReason(() => mapDocument(loraUplink({ Time: bad })), 'invalid-field');
    }
  });

  it('refuses a missing or malformed DevEUI', () => {
    throwsReason(() => mapDocument(loraUplink({ DevEUI: undefined })), 'missing-field');
    throwsReason(() => mapDocument(loraUplink({ DevEUI: '0018B2' })), 'invalid-field');
    throwsReason(() => mapDocument(loraUplink({ DevEUI: '0018B20000000B2/' })), 'invalid-field');
    throwsReason(() => mapDocument(loraUplink({ DevEUI: 18 })), 'invalid-field');
  });
});

describe('cumulocity mapper: other documents', () => {
  it('DevEUI_location → 402 with DevLocTime', () => {
    const result = mapDocument({
      DevEUI_location: {
        DevEUI: DEVEUI,
        Time: '2024-01-01T10:00:05.000+00:00',
        DevLocTime: '2024-01-01T10:00:00.000+00:00',
        DevLAT: 43.58081,
        DevLON: 1.4421667,
        DevAlt: 150,
        DevLocRadius: 30,
        NwGeolocAlgo: 2,
      },
    });
    assert.deepEqual(result.publishes, [
      { topic: CHILD_TOPIC, payload: '402,43.58081,1.4421667,150,30,2024-01-01T10:00:00.000+00:00' },
    ]);
  });

  it('DevEUI_location without DevLocTime uses Time; missing altitude/accuracy stay empty', () => {
    const result = mapDocument({
      DevEUI_location: { DevEUI: DEVEUI, Time: TIME, DevLAT: '48.85', DevLON: '2.35' },
    });
    assert.deepEqual(result.publishes, [
      { topic: CHILD_TOPIC, payload: '402,48.85,2.35,,,2024-01-01T10:00:00.000+00:00' },
    ]);
  });

  it('DevEUI_location errors', () => {
    throwsReason(
      () => mapDocument({ DevEUI_location: { DevEUI: DEVEUI, Time: TIME, DevLAT: 1 } }),
      'missing-field',
    );
    throwsReason(
      () => mapDocument({ DevEUI_location: { DevEUI: DEVEUI, Time: TIME, DevLAT: 1, DevLON: 181 } }),
      'invalid-field',
    );
    throwsReason(
      () => mapDocument({ DevEUI_location: { DevEUI: DEVEUI, Time: TIME, DevLAT: 'x', DevLON: 1 } }),
      'invalid-field',
    );
  });

  it('DevEUI_notification → 400 with type, text and time', () => {
    const result = mapDocument({
      DevEUI_notification: { DevEUI: DEVEUI, Time: TIME, Type: 'join', Var1: 1, Var2: 'abc' },
    });
    assert.deepEqual(result.publishes, [
      {
        topic: CHILD_TOPIC,
        payload:
          '400,c8y_ThingParkNotification,"ThingPark notification join (Var1=1, Var2=abc)",2024-01-01T10:00:00.000+00:00',
      },
    ]);
  });

  it('DevEUI_notification without Type or variables still has its mandatory text', () => {
    const result = mapDocument({ DevEUI_notification: { DevEUI: DEVEUI, Time: TIME } });
    assert.equal(
      result.publishes[0].payload,
      '400,c8y_ThingParkNotification,"ThingPark notification",2024-01-01T10:00:00.000+00:00',
    );
  });

  it('DevEUI_notification with quotes and a comma in a variable is quoted with doubled quotes', () => {
    const result = mapDocument({
      DevEUI_notification: { DevEUI: DEVEUI, Time: TIME, Type: 'reset', Var1: 'cause "wdt", 2' },
    });
    assert.equal(
      result.publishes[0].payload,
      '400,c8y_ThingParkNotification,"ThingPark notification reset (Var1=cause ""wdt"", 2)",2024-01-01T10:00:00.000+00:00',
    );
    assert.deepEqual(
      parseSmartRest(result.publishes[0].payload, { backslashEscapes: false })[0][2],
      'ThingPark notification reset (Var1=cause "wdt", 2)',
    );
  });
});

describe('cumulocity mapper: alarms', () => {
  /** The tpx-iot-flow-doc Alarm_Message example, with a chosen State. */
  const alarm = (state: unknown, extra: Record<string, unknown> = {}) => ({
    DevEUI_alarm: {
      ID: 4,
      State: state,
      CreationTime: '2023-09-09T18:14:56.49+02:00',
      LastUpdateTime: '2023-09-09T18:25:24.49+02:00',
      Occurrence: 1,
      Acked: 0,
      AddInfo1: '69',
      DevEUI: '0018B20000001156',
      CustomerID: '100002164',
      ...extra,
    },
  });
  const topic = 's/us/0018b20000001156';
  const text = '"No uplink activity (ThingPark alarm 004, info 69)",2023-09-09T18:25:24.49+02:00';

  const bySeverity: [unknown, string][] = [
    // Each raise is followed by 305 with its severity: a raise of an alarm already active (another
    // severity) only counts a repeat in Cumulocity; 305 is what changes the severity.
    [6, `301,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,CRITICAL`],
    [5, `302,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,MAJOR`],
    [4, `303,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,MINOR`],
    [3, `304,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,WARNING`],
    [2, `304,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,WARNING`],
    [1, '306,c8y_ThingParkAlarm_004'],
    ['CRITICAL', `301,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,CRITICAL`],
    ['major', `302,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,MAJOR`],
    ['Minor', `303,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,MINOR`],
    ['WARNING', `304,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,WARNING`],
    ['INDETERMINATE', `304,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,WARNING`],
    ['CLEARED', '306,c8y_ThingParkAlarm_004'],
    ['5', `302,c8y_ThingParkAlarm_004,${text}\n305,c8y_ThingParkAlarm_004,MAJOR`],
  ];
  for (const [state, expected] of bySeverity) {
    it(`State ${JSON.stringify(state)} → ${expected.slice(0, 3)}`, () => {
      const result = mapDocument(alarm(state));
      assert.equal(result.childId, '0018b20000001156');
      assert.deepEqual(result.publishes, [{ topic, payload: expected }]);
    });
  }

  it('falls back to CreationTime, counts occurrences, names unknown IDs', () => {
    const result = mapDocument(
      alarm(5, { ID: 99, LastUpdateTime: undefined, Occurrence: 3, AddInfo1: undefined }),
    );
    assert.equal(
      result.publishes[0].payload,
      '302,c8y_ThingParkAlarm_099,"Device alarm (ThingPark alarm 099, 3 occurrences)",2023-09-09T18:14:56.49+02:00\n' +
        '305,c8y_ThingParkAlarm_099,MAJOR',
    );
  });

  it('every documented device alarm has its name', () => {
    const result = mapDocument(alarm(4, { ID: '16', AddInfo1: undefined }));
    assert.equal(
      result.publishes[0].payload,
      '303,c8y_ThingParkAlarm_016,"Wrong MIC detected in Uplink frame (ThingPark alarm 016)",2023-09-09T18:25:24.49+02:00\n' +
        '305,c8y_ThingParkAlarm_016,MINOR',
    );
  });

  it('refuses unknown states and missing fields', () => {
    throwsReason(() => mapDocument(alarm(7)), 'invalid-field');
    throwsReason(() => mapDocument(alarm(0)), 'invalid-field');
    throwsReason(() => mapDocument(alarm('SEVERE')), 'invalid-field');
    throwsReason(() => mapDocument(alarm(undefined)), 'missing-field');
    throwsReason(() => mapDocument(alarm(5, { ID: undefined })), 'missing-field');
    throwsReason(() => mapDocument(alarm(5, { ID: 'x' })), 'invalid-field');
    throwsReason(() => mapDocument(alarm(5, { ID: -1 })), 'invalid-field');
  });

  it('BS_alarm → alarm on the gateway itself (s/us), one type per base station and ID', () => {
    const result = mapDocument({
      BS_alarm: {
        ID: 102,
        State: 5,
        CreationTime: '2023-09-09T18:14:56.49+02:00',
        LastUpdateTime: '2023-09-09T18:25:24.49+02:00',
        Occurrence: 1,
        Acked: 0,
        AddInfo1: '10',
        LrrID: '100001C2',
      },
    });
    assert.equal(result.childId, undefined);
    assert.deepEqual(result.publishes, [
      {
        topic: 's/us',
        payload:
          '302,c8y_ThingParkBaseStationAlarm_102_100001C2,' +
          '"Base station connection status (base station 100001C2, ThingPark alarm 102, info 10)",' +
          '2023-09-09T18:25:24.49+02:00' +
          '\n305,c8y_ThingParkBaseStationAlarm_102_100001C2,MAJOR',
      },
    ]);
    const cleared = mapDocument({ BS_alarm: { ID: 102, State: 1, LrrID: '100001C2' } });
    assert.deepEqual(cleared.publishes, [
      { topic: 's/us', payload: '306,c8y_ThingParkBaseStationAlarm_102_100001C2' },
    ]);
  });

  it('BS_alarm needs a clean LrrID', () => {
    throwsReason(() => mapDocument({ BS_alarm: { ID: 102, State: 5 } }), 'missing-field');
    throwsReason(() => mapDocument({ BS_alarm: { ID: 102, State: 5, LrrID: 'a/b' } }), 'invalid-field');
  });
});

describe('cumulocity mapper: downlink reports close operations', () => {
  const lookup = new Map([['1A2B3C4D5E6F7081', '4711']]);
  const sent = (extra: Record<string, unknown>) => ({
    DevEUI_downlink_Sent: {
      Time: TIME,
      DevEUI: DEVEUI,
      FPort: 1,
      FCntDn: 47,
      DeliveryStatus: 1,
      DeliveryFailedCause1: '00',
      DeliveryFailedCause2: '00',
      DeliveryFailedCause3: '00',
      TransmissionSlot: 1,
      CorrelationID: '1A2B3C4D5E6F7081',
      ...extra,
    },
  });

  it('DeliveryStatus 1 → 506,<opId>', () => {
    const result = mapDocument(sent({}), { operationFor: lookup });
    assert.deepEqual(result.publishes, [{ topic: CHILD_TOPIC, payload: '506,4711' }]);
    assert.deepEqual(result.operation, {
      operationId: '4711',
      correlationId: '1A2B3C4D5E6F7081',
      status: 'SUCCESSFUL',
      result: 'sent by ThingPark, FCntDn 47',
    });
  });

  it('DeliveryStatus 1 with C0 (LRC selected RX2) is still a success', () => {
    const result = mapDocument(sent({ DeliveryFailedCause1: 'C0', TransmissionSlot: 2 }), {
      operationFor: lookup,
    });
    assert.deepEqual(result.publishes, [{ topic: CHILD_TOPIC, payload: '506,4711' }]);
  });

  it('DeliveryStatus 0 → 505,<opId>,<reason from the causes>', () => {
    const result = mapDocument(sent({ DeliveryStatus: 0, DeliveryFailedCause1: 'B0' }), {
      operationFor: lookup,
    });
    assert.deepEqual(result.publishes, [
      { topic: CHILD_TOPIC, payload: '505,4711,"Not sent over the air (RX1: B0 Too late for RX1)"' },
    ]);
    assert.deepEqual(result.operation, {
      operationId: '4711',
      correlationId: '1A2B3C4D5E6F7081',
      status: 'FAILED',
      reason: 'Not sent over the air (RX1: B0 Too late for RX1)',
    });
  });

  it('all slots, unknown codes kept, lower-case codes accepted', () => {
    const result = mapDocument(
      sent({
        DeliveryStatus: '0',
        DeliveryFailedCause1: 'a3',
        DeliveryFailedCause2: 'E0',
        DeliveryFailedCause3: 'Z9',
      }),
      { operationFor: lookup },
    );
    assert.equal(
      result.publishes[0].payload,
      '505,4711,"Not sent over the air (RX1: A3 Radio busy; RX2: E0 Max delay for Class C (60 seconds); ping slot: Z9)"',
    );
  });

  it('every documented cause code has its text', () => {
    const expected: [string, string, string][] = [
      ['DeliveryFailedCause1', 'A0', 'RX1: A0 Radio stopped'],
      ['DeliveryFailedCause1', 'A1', 'RX1: A1 Downlink radio stopped'],
      ['DeliveryFailedCause3', 'A2', 'ping slot: A2 Ping slot not available'],
      ['DeliveryFailedCause1', 'A3', 'RX1: A3 Radio busy'],
      ['DeliveryFailedCause1', 'A4', 'RX1: A4 Listen before talk'],
      ['DeliveryFailedCause1', 'A5', 'RX1: A5 Radio board error'],
      ['DeliveryFailedCause1', 'B0', 'RX1: B0 Too late for RX1'],
      ['DeliveryFailedCause2', 'B0', 'RX2: B0 Too late for RX2'],
      ['DeliveryFailedCause3', 'B0', 'ping slot: B0 Too late for ping slot'],
      ['DeliveryFailedCause1', 'C0', 'RX1: C0 LRC selected RX2'],
      ['DeliveryFailedCause1', 'D0', 'RX1: D0 Duty cycle constraint detected by LRR'],
      ['DeliveryFailedCause1', 'DA', 'RX1: DA Duty cycle constraint detected by LRC'],
      ['DeliveryFailedCause1', 'DB', 'RX1: DB Max dwell time constraint detected by the LRC'],
      ['DeliveryFailedCause3', 'DC', 'ping slot: DC No GPS-synchronized LRR detected by the LRC'],
      ['DeliveryFailedCause3', 'DD', 'ping slot: DD No LRR connected detected by the LRC'],
      ['DeliveryFailedCause1', 'DE', 'RX1: DE DC not allowed by the peering operator'],
      ['DeliveryFailedCause3', 'DF', 'ping slot: DF Wrong NetID'],
      ['DeliveryFailedCause2', 'E0', 'RX2: E0 Max delay for Class C (60 seconds)'],
    ];
    for (const [field, code, text] of expected) {
      assert.equal(deliveryFailureReason({ [field]: code }), `Not sent over the air (${text})`);
    }
    assert.equal(deliveryFailureReason({ DeliveryFailedCause1: '00' }), 'Not sent over the air');
  });

  it('DevEUI_downlink_Rejected → 505 with DownlinkRejectionCause', () => {
    const result = mapDocument(
      {
        DevEUI_downlink_Rejected: {
          Time: '2019-08-22T16:48:02.000+02:00',
          DevEUI: DEVEUI,
          FPort: 1,
          DeliveryStatus: 350,
          DownlinkRejectionCause: 'Downlink counter value already used. Expected=1238',
          CorrelationID: '1a2b3c4d5e6f7081',
        },
      },
      { operationFor: lookup },
    );
    assert.deepEqual(result.publishes, [
      {
        topic: CHILD_TOPIC,
        payload: '505,4711,"Rejected by ThingPark: Downlink counter value already used. Expected=1238"',
      },
    ]);
    assert.equal(result.operation?.status, 'FAILED');
  });

  it('the lookup may be a Map, a record or a function; CorrelationID case does not matter', () => {
    const doc = sent({ CorrelationID: '1a2b3c4d5e6f7081' });
    for (const operationFor of [
      lookup,
      { '1A2B3C4D5E6F7081': '4711' },
      (id: string) => (id === '1A2B3C4D5E6F7081' ? '4711' : undefined),
    ]) {
      assert.deepEqual(mapDocument(doc, { operationFor }).publishes, [
        { topic: CHILD_TOPIC, payload: '506,4711' },
      ]);
    }
  });

  it('an unknown or absent CorrelationID closes nothing', () => {
    const unknown = mapDocument(sent({ CorrelationID: 'FFFFFFFFFFFFFFFF' }), { operationFor: lookup });
    assert.deepEqual(unknown.publishes, []);
    assert.equal(unknown.skipped, 'no operation known for CorrelationID FFFFFFFFFFFFFFFF');
    assert.equal(
      mapDocument(sent({ CorrelationID: undefined }), { operationFor: lookup }).skipped,
      'no CorrelationID',
    );
    assert.equal(mapDocument(sent({})).skipped, 'no operation known for CorrelationID 1A2B3C4D5E6F7081');
  });

  it('refuses a DeliveryStatus that is neither 0 nor 1', () => {
    throwsReason(() => mapDocument(sent({ DeliveryStatus: 2 }), { operationFor: lookup }), 'invalid-field');
    throwsReason(
      () => mapDocument(sent({ DeliveryStatus: undefined }), { operationFor: lookup }),
      'invalid-field',
    );
  });
});

describe('cumulocity mapper: input shape', () => {
  it('refuses what is not one ThingPark document with its root key', () => {
    for (const bad of [
      null,
      42,
      'DevEUI_uplink',
      [],
      {},
      { DevEUI_uplink: {}, DevEUI_location: {} },
      { DevEUI_uplink: [] },
      { DevEUI_uplink: null },
      { Foo: {} },
    ]) {
      throwsReason(() => mapDocument(bad), 'not-a-document');
    }
  });

  it('documents without a Cumulocity mapping are skipped, not refused', () => {
    assert.deepEqual(mapDocument({ DevEUI_multicast_summary: { TransmissionStatus: 1 } }), {
      documentType: 'DevEUI_multicast_summary',
      publishes: [],
      skipped: 'DevEUI_multicast_summary has no Cumulocity mapping',
      warnings: [],
    });
    assert.deepEqual(mapDocument({ DevEUI_downlink: { DevEUI: DEVEUI } }).publishes, []);
  });

  it('an uplink event too large for one packet is a typed error', () => {
    throwsReason(() => mapDocument(cellularUplink({ payload_hex: 'ab'.repeat(9000) })), 'too-large');
  });

  it('cleans fragment/series names and maps ontology units', () => {
    assert.equal(seriesName('a.b c,d*e[f]g(h)i@j$k'), 'a_b_c_d_e_f_g_h_i_j_k');
    // The inventory forbids / and ' in fragment names too.
    assert.equal(seriesName("tank/level'2"), 'tank_level_2');
    assert.equal(seriesName(''), '_');
    assert.equal(unitFor('Cel'), '°C');
    assert.equal(unitFor('Far'), '°F');
    assert.equal(unitFor('hertz'), 'Hz');
    assert.equal(unitFor('Ohm'), 'Ω');
    assert.equal(unitFor('smoot'), 'smoot');
    assert.equal(unitFor('toString'), 'toString');
    assert.equal(unitFor(undefined), undefined);
  });
});

describe('cumulocity mapper: older tenants and operation statuses', () => {
  it('legacyTemplates: measurements as one 200 line per value (the tenant refused 201)', () => {
    const result = mapDocument(loraUplink(), { legacyTemplates: true });
    assert.deepEqual(linesOn(result, CHILD_TOPIC), [
      '200,c8y_SignalStrength,rssi,-60,dBm,2024-01-01T10:00:00.000+00:00',
      '200,c8y_SignalStrength,snr,9.5,dB,2024-01-01T10:00:00.000+00:00',
      '200,c8y_SignalStrength,sf,7,,2024-01-01T10:00:00.000+00:00',
      '200,temperature,temperature,21.5,°C,2024-01-01T10:00:00.000+00:00',
      '200,nested,humidity,40,,2024-01-01T10:00:00.000+00:00',
    ]);
  });

  it('failure reasons are cut to 500 bytes, never inside a character', () => {
    const long = 'é'.repeat(400); // 800 bytes
    const line = operationFailed('7', long);
    assert.equal(line, `505,7,${'é'.repeat(250)}`);
    assert.equal(oldestOperationFailed('x'.repeat(600)), `502,c8y_Command,${'x'.repeat(500)}`);
    assert.equal(operationFailed('7', 'short'), '505,7,short');
  });

  it('an operation never set EXECUTING goes 504 before 505 (or 501 before 502); a c8y_Command success carries its result', () => {
    const base = { externalId: CHILD, fragment: 'c8y_Command' };
    const lines = (change: Parameters<typeof statusPublishes>[0], byId = true) =>
      statusPublishes(change, byId).map((p) => `${p.topic} ${p.payload}`);
    assert.deepEqual(
      lines({ ...base, operationId: '9', pending: true, statuses: ['FAILED'], reason: 'no' }),
      [`${CHILD_TOPIC} 504,9\n505,9,no`],
    );
    assert.deepEqual(
      lines({ ...base, operationId: '9', pending: false, statuses: ['FAILED'], reason: 'no' }),
      [`${CHILD_TOPIC} 505,9,no`],
    );
    assert.deepEqual(
      lines({ ...base, operationId: '9', pending: true, statuses: ['FAILED'], reason: 'no' }, false),
      [`${CHILD_TOPIC} 501,c8y_Command\n502,c8y_Command,no`],
    );
    assert.deepEqual(
      lines({
        ...base,
        operationId: '9',
        pending: false,
        statuses: ['SUCCESSFUL'],
        result: 'sent by ThingPark, FCntDn 7',
      }),
      [`${CHILD_TOPIC} 506,9,"sent by ThingPark, FCntDn 7"`],
    );
    assert.deepEqual(
      lines({ ...base, pending: false, statuses: ['SUCCESSFUL'], result: 'sent by ThingPark' }),
      [`${CHILD_TOPIC} 503,c8y_Command,"sent by ThingPark"`],
    );
  });
});
