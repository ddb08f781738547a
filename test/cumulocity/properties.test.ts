import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  allocateChildren,
  buildLine,
  CumulocityError,
  emptyAllocation,
  EVENT_TOPIC,
  mapDocument,
  MAX_PACKET_BYTES,
  OperationError,
  packLines,
  parseCommandText,
  parseLine,
  parseOperationNotifications,
  parseSmartRest,
  parseSmartRestOperations,
  publishPacketSize,
} from '../../lib/cumulocity';
import { DEVEUI, TIME, cellularUplink, loraUplink } from './fixtures';

const hexDigit = fc.constantFrom(...'0123456789abcdefABCDEF');
const hexString = (constraints: { minLength?: number; maxLength?: number }) =>
  fc.string({ unit: hexDigit, ...constraints });

/** Any string, every code point (and lone surrogates via 'binary'). */
const anyString = fc.string({ unit: 'binary', maxLength: 40 });
/** Strings built from the characters that matter to SmartREST, to hit quoting edge cases often. */
const trickyString = fc.string({
  unit: fc.constantFrom(',', '"', '\\', '\n', '\r', '\t', ' ', 'a', '1', '°', '\u0000'),
  maxLength: 20,
});
const field = fc.oneof(anyString, trickyString);

describe('cumulocity properties: SmartREST quoting round-trips', () => {
  it('parseLine(buildLine(fields)) == fields for arbitrary strings (strict CSV reading)', () => {
    fc.assert(
      fc.property(fc.array(field, { maxLength: 8 }), (fields) => {
        assert.deepEqual(parseLine(buildLine(511, fields), { backslashEscapes: false }), ['511', ...fields]);
      }),
      { numRuns: 1500 },
    );
  });

  it('the default reading (also accepting \\") round-trips whenever no backslash precedes a quote or ends a value', () => {
    const safe = field.filter((s) => !/\\("|$)/.test(s));
    fc.assert(
      fc.property(fc.array(safe, { maxLength: 8 }), (fields) => {
        assert.deepEqual(parseLine(buildLine(511, fields)), ['511', ...fields]);
      }),
      { numRuns: 1000 },
    );
  });

  it('several lines joined with \\n parse back into the same records', () => {
    fc.assert(
      fc.property(fc.array(fc.array(field, { maxLength: 5 }), { minLength: 1, maxLength: 6 }), (records) => {
        const payload = records.map((r) => buildLine(200, r)).join('\n');
        assert.deepEqual(
          parseSmartRest(payload, { backslashEscapes: false }),
          records.map((r) => ['200', ...r]),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('the parser never throws anything but a SmartRestError', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, trickyString), fc.boolean(), (text, backslash) => {
        try {
          parseSmartRest(text, { backslashEscapes: backslash });
        } catch (err) {
          assert.ok(err instanceof CumulocityError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('cumulocity properties: packing', () => {
  it('every publish fits, lines are kept whole and in order', () => {
    const line = fc.string({ unit: fc.constantFrom('a', '°', ','), minLength: 1, maxLength: 400 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.integer({ min: 450, max: 2000 }), (lines, max) => {
        const topic = 's/us/0018b20000000b20';
        const publishes = packLines(topic, lines, { maxPacketBytes: max });
        for (const p of publishes) {
          assert.ok(publishPacketSize(topic, Buffer.byteLength(p.payload), 1) <= max);
        }
        assert.deepEqual(
          publishes.flatMap((p) => p.payload.split('\n')),
          lines,
        );
      }),
      { numRuns: 300 },
    );
  });
});

/** Values of the kinds ThingPark fields take, plus junk. */
const fieldValue = fc.oneof(
  fc.integer({ min: -200, max: 300 }),
  fc.double(),
  fc.constantFrom(TIME, '2023-09-09T18:25:24.49+02:00', DEVEUI, '1', '0', 'B0', 'C0', '00', '', 'CRITICAL'),
  anyString,
  fc.constant(null),
  fc.anything({ maxDepth: 2 }),
);
const fieldNames = [
  'Time', 'DevEUI', 'FPort', 'FCntUp', 'payload_hex', 'LrrRSSI', 'LrrSNR', 'SpFact', 'Lrrid', 'DevLAT',
  'DevLON', 'DevAlt', 'DevAcc', 'DevLocRadius', 'DevLocTime', 'Type', 'Var1', 'ID', 'State', 'AddInfo1',
  'Occurrence', 'CreationTime', 'LastUpdateTime', 'LrrID', 'DeliveryStatus', 'DeliveryFailedCause1',
  'DeliveryFailedCause2', 'DeliveryFailedCause3', 'DownlinkRejectionCause', 'CorrelationID', 'IMEI',
]; // prettier-ignore
const decoded = fc.record(
  {
    payload: fc.oneof(fc.object({ maxDepth: 4 }), fc.anything({ maxDepth: 3 })),
    points: fc.oneof(
      fc.dictionary(
        fc.string({ maxLength: 12 }),
        fc.oneof(
          fc.record({ unitId: fc.oneof(fc.constantFrom('Cel', '%RH', 'm3'), anyString), record: fieldValue }),
          fc.array(fc.record({ eventTime: fieldValue, value: fieldValue }), { maxLength: 3 }),
          fieldValue,
        ),
        { maxKeys: 6 },
      ),
      fieldValue,
    ),
  },
  { requiredKeys: [] },
);
const body = fc
  .tuple(fc.dictionary(fc.constantFrom(...fieldNames), fieldValue, { maxKeys: 12 }), decoded)
  .map(([fields, extra]) => ({ ...fields, ...extra }));
const rootKey = fc.constantFrom(
  'DevEUI_uplink', 'DevEUI_location', 'DevEUI_notification', 'DevEUI_alarm', 'BS_alarm',
  'DevEUI_downlink_Sent', 'DevEUI_downlink_Rejected', 'DevEUI_multicast_summary', 'DevEUI_downlink', 'Other',
); // prettier-ignore
/** One valid document of each mapped type. */
const validDocuments: Record<string, unknown>[] = [
  loraUplink(),
  cellularUplink(),
  {
    DevEUI_location: { DevEUI: DEVEUI, Time: TIME, DevLAT: 43.5, DevLON: 1.4, DevAlt: 150, DevLocRadius: 30 },
  },
  { DevEUI_notification: { DevEUI: DEVEUI, Time: TIME, Type: 'join', Var1: 1 } },
  { DevEUI_alarm: { DevEUI: DEVEUI, ID: 4, State: 5, LastUpdateTime: TIME, AddInfo1: '69', Occurrence: 2 } },
  { BS_alarm: { ID: 102, State: 6, LrrID: '100001C2', CreationTime: TIME } },
  {
    DevEUI_downlink_Sent: {
      DevEUI: DEVEUI,
      Time: TIME,
      DeliveryStatus: 0,
      DeliveryFailedCause1: 'B0',
      CorrelationID: 'AB',
    },
  },
  {
    DevEUI_downlink_Rejected: {
      DevEUI: DEVEUI,
      Time: TIME,
      DownlinkRejectionCause: 'x',
      CorrelationID: 'AB',
    },
  },
];
/** Valid documents with one or two fields replaced or added, so the mapper gets past its first checks. */
const nearlyValid = fc
  .tuple(
    fc.constantFrom(...validDocuments),
    fc.array(fc.tuple(fc.constantFrom(...fieldNames, 'payload', 'points', 'Lrrs'), fieldValue), {
      minLength: 1,
      maxLength: 2,
    }),
    decoded,
  )
  .map(([doc, changes, extra]) => {
    const [root, content] = Object.entries(doc)[0];
    const changed: Record<string, unknown> = { ...(content as object) };
    if (root === 'DevEUI_uplink') Object.assign(changed, extra);
    for (const [name, value] of changes) changed[name] = value;
    return { [root]: changed };
  });

function checkResult(result: ReturnType<typeof mapDocument>): void {
  for (const p of result.publishes) {
    assert.ok(publishPacketSize(p.topic, Buffer.byteLength(p.payload), 1) <= MAX_PACKET_BYTES);
    if (p.topic === EVENT_TOPIC) {
      const event = JSON.parse(p.payload) as { time: string; externalSource: { externalId: string } };
      assert.match(event.externalSource.externalId, /^[0-9a-f]{16}$/);
      assert.equal(typeof event.time, 'string');
    } else {
      assert.match(p.topic, /^s\/us(\/[0-9a-f]{16})?$/);
      for (const record of parseSmartRest(p.payload, { backslashEscapes: false })) {
        assert.match(record[0], /^(201|301|302|303|304|305|306|400|402|505|506)$/);
      }
    }
  }
}

describe('cumulocity properties: the mapper only fails with typed errors', () => {
  const options = { operationFor: () => '4711', now: () => new Date(0) };

  it('on arbitrary values', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 3 }), (doc) => {
        try {
          checkResult(mapDocument(doc, options));
        } catch (err) {
          assert.ok(err instanceof CumulocityError, String(err));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('on random documents of every type', () => {
    fc.assert(
      fc.property(rootKey, body, (root, content) => {
        try {
          checkResult(mapDocument({ [root]: content }, options));
        } catch (err) {
          assert.ok(err instanceof CumulocityError, String(err));
        }
      }),
      { numRuns: 1500 },
    );
  });

  it('on valid documents of every type with fields damaged: still mapped or a typed error', () => {
    fc.assert(
      fc.property(nearlyValid, (doc) => {
        try {
          checkResult(mapDocument(doc, options));
        } catch (err) {
          assert.ok(err instanceof CumulocityError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('cumulocity properties: operations', () => {
  it('command texts give a valid downlink or an OperationError', () => {
    const command = fc.oneof(
      anyString,
      fc
        .tuple(
          fc.constantFrom('raw ', 'RAW ', ''),
          fc.integer({ min: -5, max: 300 }),
          hexString({ maxLength: 9 }),
        )
        .map(([raw, port, hex]) => (raw ? `${raw}${port} ${hex}` : `${hex}:${port}`)),
    );
    fc.assert(
      fc.property(command, (text) => {
        try {
          const { fPort, payloadHex } = parseCommandText(text);
          assert.ok(Number.isInteger(fPort) && fPort >= 1 && fPort <= 223);
          assert.match(payloadHex, /^([0-9a-f]{2})+$/);
        } catch (err) {
          assert.ok(err instanceof OperationError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('notification and s/ds payloads never throw: every problem is a listed error', () => {
    const payload = fc.oneof(
      anyString,
      fc.anything({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? ''),
      fc.array(fc.json({ maxDepth: 2 }), { maxLength: 4 }).map((lines) => lines.join('\n')),
    );
    fc.assert(
      fc.property(payload, (text) => {
        for (const result of [parseOperationNotifications(text), parseSmartRestOperations(text)]) {
          for (const err of result.errors) assert.ok(err instanceof OperationError);
          for (const op of result.operations) assert.equal(typeof op.externalId, 'string');
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('cumulocity properties: allocation', () => {
  it('no identity exceeds maxChildren, identities fill in order, and the result is reproducible', () => {
    const childIds = fc.uniqueArray(hexString({ minLength: 16, maxLength: 16 }), { maxLength: 60 });
    fc.assert(
      fc.property(childIds, fc.integer({ min: 1, max: 10 }), (list, max) => {
        const ids = [...new Set(list.map((s) => s.toLowerCase()))];
        const { state, allocations } = allocateChildren(emptyAllocation(), ids, { maxChildren: max });
        assert.ok(state.counts.every((c) => c <= max));
        allocations.forEach((a, i) => assert.equal(a.gatewayIndex, Math.floor(i / max)));
        assert.deepEqual(allocateChildren(emptyAllocation(), ids, { maxChildren: max }).state, state);
      }),
      { numRuns: 300 },
    );
  });
});
