import { strict as assert } from 'assert';
import {
  OperationDedupe,
  OperationError,
  oldestOperationExecuting,
  oldestOperationFailed,
  oldestOperationSuccessful,
  operationExecuting,
  operationFailed,
  operationFromJson,
  operationStatusPublish,
  operationSuccessful,
  parseCommandText,
  parseLoRaDownlinkFragment,
  parseOperationNotifications,
  parseSmartRestOperations,
  toDownlinkRequest,
  type C8yOperation,
} from '../../lib/cumulocity';
import { CHILD, DEVEUI } from './fixtures';

function throwsReason(fn: () => unknown, reason: string, operationId?: string, externalId?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof OperationError, `expected OperationError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    assert.equal(err.operationId, operationId);
    assert.equal(err.externalId, externalId);
    return true;
  });
}

/** The json-via-mqtt.md example notification, addressed to our child, with a chosen command. */
function notification(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    agentId: '1',
    creationTime: '2018-05-17T07:33:15.555Z',
    delivery: { log: [], status: 'PENDING', time: '2018-05-17T07:33:15.575Z' },
    deviceId: '2',
    id: '123',
    status: 'PENDING',
    c8y_Command: { text: 'raw 2 0102ab' },
    description: 'Execute shell command',
    externalSource: { externalId: CHILD, type: 'c8y_Serial' },
    ...fields,
  };
}

describe('cumulocity operations: devicecontrol/notifications', () => {
  it('reads the docs example (pretty-printed JSON)', () => {
    const payload = JSON.stringify(notification(), null, 2);
    assert.deepEqual(parseOperationNotifications(payload), {
      operations: [
        {
          id: '123',
          origin: 'devicecontrol/notifications',
          externalId: CHILD,
          status: 'PENDING',
          description: 'Execute shell command',
          commandText: 'raw 2 0102ab',
        },
      ],
      errors: [],
    });
  });

  it('reads several operations, one JSON object per line, and reports the bad line alone', () => {
    const payload = [
      JSON.stringify(notification({ id: '1' })),
      '{"id":"2", broken',
      '',
      JSON.stringify(
        notification({ id: 3, c8y_Command: undefined, c8y_LoRaDownlink: { fPort: 5, payloadHex: 'CAFE' } }),
      ),
    ].join('\n');
    const result = parseOperationNotifications(Buffer.from(payload));
    assert.deepEqual(
      result.operations.map((o) => [o.id, o.commandText, o.loraDownlink]),
      [
        ['1', 'raw 2 0102ab', undefined],
        ['3', undefined, { fPort: 5, payloadHex: 'CAFE' }],
      ],
    );
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].reason, 'invalid-json');
  });

  it('reads a JSON array of operations', () => {
    const result = parseOperationNotifications(
      JSON.stringify([notification({ id: '7' }), notification({ id: '8' })]),
    );
    assert.deepEqual(
      result.operations.map((o) => o.id),
      ['7', '8'],
    );
  });

  it('reports operations without id or device, keeping the id when there is one', () => {
    throwsReason(() => operationFromJson(notification({ id: undefined })), 'missing-id');
    throwsReason(() => operationFromJson(notification({ id: '' })), 'missing-id');
    throwsReason(
      () => operationFromJson(notification({ externalSource: undefined })),
      'missing-device',
      '123',
    );
    throwsReason(
      () => operationFromJson(notification({ externalSource: { type: 'c8y_Serial' } })),
      'missing-device',
      '123',
    );
    throwsReason(() => operationFromJson([]), 'not-an-operation');
    throwsReason(() => operationFromJson('op'), 'not-an-operation');
    const result = parseOperationNotifications('42\n{"id":"9"}');
    assert.deepEqual(
      result.errors.map((e) => e.reason),
      ['not-an-operation', 'missing-device'],
    );
  });
});

describe('cumulocity operations: s/ds', () => {
  it('511,<serial>,<text> becomes an operation without id', () => {
    assert.deepEqual(parseSmartRestOperations(`511,${CHILD},raw 2 0102`), {
      operations: [{ origin: 's/ds', externalId: CHILD, commandText: 'raw 2 0102' }],
      errors: [],
    });
  });

  it('several lines; quoted text with comma and escaped quotes; other templates reported', () => {
    const payload = [`511,${CHILD},"0102:3"`, `510,${CHILD}`, `511,${CHILD},"a,b \\"c\\""`, '511,,x'].join(
      '\n',
    );
    const result = parseSmartRestOperations(payload);
    assert.deepEqual(
      result.operations.map((o) => o.commandText),
      ['0102:3', 'a,b "c"'],
    );
    assert.deepEqual(
      result.errors.map((e) => [e.reason, e.externalId]),
      [
        ['unsupported-template', CHILD],
        ['missing-device', undefined],
      ],
    );
  });

  it('a command with an unquoted comma is joined back', () => {
    assert.equal(parseSmartRestOperations(`511,${CHILD},a,b`).operations[0].commandText, 'a,b');
  });

  it('a payload that is not SmartREST is one bad-line error', () => {
    const result = parseSmartRestOperations('511,x,"never closed');
    assert.deepEqual(result.operations, []);
    assert.deepEqual(
      result.errors.map((e) => e.reason),
      ['bad-line'],
    );
  });
});

describe('cumulocity operations: command texts', () => {
  const good: [string, number, string][] = [
    ['raw 2 0102ab', 2, '0102ab'],
    ['RAW 10 AABB', 10, 'aabb'],
    ['  raw   223   00  ', 223, '00'],
    ['raw 1 0A0b', 1, '0a0b'],
    ['0102', 1, '0102'],
    ['CAFE:15', 15, 'cafe'],
    [' 0a0b:223 ', 223, '0a0b'],
    ['00:1', 1, '00'],
  ];
  for (const [command, fPort, payloadHex] of good) {
    it(`${JSON.stringify(command)} → port ${fPort}, ${payloadHex}`, () => {
      assert.deepEqual(parseCommandText(command), { fPort, payloadHex });
    });
  }

  const bad: [string, string][] = [
    ['', 'empty-command'],
    ['   ', 'empty-command'],
    ['raw 2', 'bad-command'],
    ['raw 2 01 02', 'bad-command'],
    ['raw', 'bad-command'],
    ['hello world', 'bad-command'],
    ['raw x 01', 'bad-port'],
    ['raw 2.5 01', 'bad-port'],
    ['raw 0 01', 'port-out-of-range'],
    ['raw 224 01', 'port-out-of-range'],
    ['raw -1 01', 'port-out-of-range'],
    ['raw 2 zz', 'bad-hex'],
    ['raw 2 0x01', 'bad-hex'],
    ['raw 2 012', 'odd-length'],
    ['zz', 'bad-hex'],
    ['012', 'odd-length'],
    ['01:abc', 'bad-port'],
    ['01:', 'bad-port'],
    ['01:0', 'port-out-of-range'],
    ['01:300', 'port-out-of-range'],
    [':5', 'empty-payload'],
    ['01:2:3', 'bad-port'],
  ];
  for (const [command, reason] of bad) {
    it(`${JSON.stringify(command)} → ${reason}`, () => throwsReason(() => parseCommandText(command), reason));
  }
});

describe('cumulocity operations: c8y_LoRaDownlink fragment', () => {
  it('reads fPort, payloadHex and confirmed', () => {
    assert.deepEqual(parseLoRaDownlinkFragment({ fPort: 5, payloadHex: 'CAFE', confirmed: true }), {
      fPort: 5,
      payloadHex: 'cafe',
      confirmed: true,
    });
    assert.deepEqual(parseLoRaDownlinkFragment({ fPort: '5', payloadHex: ' 01 ', confirmed: 'false' }), {
      fPort: 5,
      payloadHex: '01',
      confirmed: false,
    });
    assert.deepEqual(parseLoRaDownlinkFragment({ fPort: 7, payloadHex: '01', confirmed: null }), {
      fPort: 7,
      payloadHex: '01',
    });
  });

  it('reports every bad field', () => {
    throwsReason(() => parseLoRaDownlinkFragment('raw 2 01'), 'bad-command');
    throwsReason(() => parseLoRaDownlinkFragment({ payloadHex: '01' }), 'bad-port');
    throwsReason(() => parseLoRaDownlinkFragment({ fPort: 0, payloadHex: '01' }), 'port-out-of-range');
    throwsReason(() => parseLoRaDownlinkFragment({ fPort: 5, payloadHex: 1 }), 'bad-hex');
    throwsReason(() => parseLoRaDownlinkFragment({ fPort: 5, payloadHex: 'xyz1' }), 'bad-hex');
    throwsReason(() => parseLoRaDownlinkFragment({ fPort: 5, payloadHex: '0' }), 'odd-length');
    throwsReason(() => parseLoRaDownlinkFragment({ fPort: 5, payloadHex: '' }), 'empty-payload');
    throwsReason(
      () => parseLoRaDownlinkFragment({ fPort: 5, payloadHex: '01', confirmed: 'yes' }),
      'bad-confirmed',
    );
  });
});

describe('cumulocity operations: downlink requests', () => {
  const op = (fields: Partial<C8yOperation> = {}): C8yOperation => ({
    id: '123',
    origin: 'devicecontrol/notifications',
    externalId: CHILD,
    status: 'PENDING',
    commandText: 'raw 2 0102ab',
    ...fields,
  });

  it('c8y_Command → request with the DevEUI in ThingPark case and the operation id', () => {
    assert.deepEqual(toDownlinkRequest(op()), {
      devEUI: DEVEUI,
      fPort: 2,
      payloadHex: '0102ab',
      operationId: '123',
    });
  });

  it('c8y_LoRaDownlink wins over c8y_Command', () => {
    assert.deepEqual(
      toDownlinkRequest(op({ loraDownlink: { fPort: 9, payloadHex: 'ff', confirmed: true } })),
      {
        devEUI: DEVEUI,
        fPort: 9,
        payloadHex: 'ff',
        confirmed: true,
        operationId: '123',
      },
    );
  });

  it('an s/ds operation has no operation id', () => {
    const [operation] = parseSmartRestOperations(`511,${CHILD},0102:3`).operations;
    assert.deepEqual(toDownlinkRequest(operation), { devEUI: DEVEUI, fPort: 3, payloadHex: '0102' });
  });

  it('the JSON notification example end to end', () => {
    const [operation] = parseOperationNotifications(JSON.stringify(notification())).operations;
    assert.deepEqual(toDownlinkRequest(operation), {
      devEUI: DEVEUI,
      fPort: 2,
      payloadHex: '0102ab',
      operationId: '123',
    });
  });

  it('unknown device: not a DevEUI child id, or not one the caller knows', () => {
    throwsReason(
      () => toDownlinkRequest(op({ externalId: 'my-gateway' })),
      'unknown-device',
      '123',
      'my-gateway',
    );
    throwsReason(() => toDownlinkRequest(op({ externalId: DEVEUI })), 'unknown-device', '123', DEVEUI);
    throwsReason(
      () => toDownlinkRequest(op(), { isKnownDevice: () => false }),
      'unknown-device',
      '123',
      CHILD,
    );
    assert.equal(toDownlinkRequest(op(), { isKnownDevice: (id) => id === CHILD }).fPort, 2);
  });

  it('command errors carry the operation id and device for the 505', () => {
    throwsReason(() => toDownlinkRequest(op({ commandText: 'raw 2 zz' })), 'bad-hex', '123', CHILD);
    throwsReason(() => toDownlinkRequest(op({ commandText: '012' })), 'odd-length', '123', CHILD);
    throwsReason(() => toDownlinkRequest(op({ commandText: 'raw 0 01' })), 'port-out-of-range', '123', CHILD);
    throwsReason(() => toDownlinkRequest(op({ loraDownlink: { fPort: 1 } })), 'bad-hex', '123', CHILD);
  });

  it('an operation that is neither command nor downlink is unsupported', () => {
    throwsReason(
      () => toDownlinkRequest(op({ commandText: undefined })),
      'unsupported-operation',
      '123',
      CHILD,
    );
  });

  it('an operation already finished is not sent again', () => {
    throwsReason(() => toDownlinkRequest(op({ status: 'SUCCESSFUL' })), 'already-final', '123', CHILD);
    throwsReason(() => toDownlinkRequest(op({ status: 'FAILED' })), 'already-final', '123', CHILD);
    assert.equal(toDownlinkRequest(op({ status: 'EXECUTING' })).fPort, 2);
  });
});

describe('cumulocity operations: dedupe and status lines', () => {
  it('remembers ids, refreshes on hit, forgets the least recently seen beyond capacity', () => {
    const dedupe = new OperationDedupe(2);
    assert.equal(dedupe.seen('a'), false);
    assert.equal(dedupe.seen('b'), false);
    assert.equal(dedupe.seen('a'), true); // a is now the most recent
    assert.equal(dedupe.seen('c'), false); // evicts b
    assert.equal(dedupe.size, 2);
    assert.equal(dedupe.has('b'), false);
    assert.equal(dedupe.seen('a'), true);
    assert.equal(dedupe.seen('b'), false);
    dedupe.forget('b');
    assert.equal(dedupe.has('b'), false);
  });

  it('keeps memory bounded', () => {
    const dedupe = new OperationDedupe(100);
    for (let i = 0; i < 10000; i++) dedupe.seen(String(i));
    assert.equal(dedupe.size, 100);
    assert.equal(dedupe.has('9999'), true);
    assert.equal(dedupe.has('9899'), false);
    assert.throws(() => new OperationDedupe(0), RangeError);
  });

  it('builds the status lines of the docs', () => {
    assert.equal(operationExecuting('123'), '504,123');
    assert.equal(operationFailed('123', 'Could not restart'), '505,123,"Could not restart"');
    assert.equal(operationFailed('123', 'bad "hex", see log'), '505,123,"bad ""hex"", see log"');
    assert.equal(operationSuccessful('123'), '506,123');
    assert.equal(operationSuccessful('123', 'sent on RX1'), '506,123,"sent on RX1"');
    assert.equal(oldestOperationExecuting(), '501,c8y_Command');
    assert.equal(oldestOperationFailed('Could not restart'), '502,c8y_Command,"Could not restart"');
    assert.equal(oldestOperationSuccessful(), '503,c8y_Command');
    assert.equal(oldestOperationSuccessful('c8y_Command', 'ok'), '503,c8y_Command,ok');
    assert.deepEqual(operationStatusPublish(CHILD, '504,123'), {
      topic: 's/us/0018b20000000b20',
      payload: '504,123',
    });
  });
});
