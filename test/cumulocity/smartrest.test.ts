import { strict as assert } from 'assert';
import {
  buildLine,
  fitsInPacket,
  formatField,
  formatNumber,
  MAX_PACKET_BYTES,
  packLines,
  parseLine,
  parseSmartRest,
  publishPacketSize,
  smartRestTopic,
  SmartRestError,
} from '../../lib/cumulocity';

function throwsReason(fn: () => unknown, reason: string): void {
  assert.throws(fn, (err: unknown) => err instanceof SmartRestError && err.reason === reason);
}

describe('cumulocity SmartREST: field quoting (implementation.md "SmartREST escaping")', () => {
  const cases: [string, Parameters<typeof formatField>[0], string][] = [
    ['plain text stays bare', 'c8y_TemperatureAlarm', 'c8y_TemperatureAlarm'],
    ['a comma is quoted', 'This value, needs escaping', '"This value, needs escaping"'],
    [
      'embedded quotes are doubled (the-protocol.md, thin-edge csv.rs)',
      'I have "quotes"!',
      '"I have ""quotes""!"',
    ],
    ['a lone quote', '"', '""""'],
    ['a line break is quoted and kept raw', 'two\nlines', '"two\nlines"'],
    ['a carriage return is quoted', 'a\rb', '"a\rb"'],
    ['a tab is quoted', 'a\tb', '"a\tb"'],
    ['leading whitespace is quoted', ' I have leading whitespace!', '" I have leading whitespace!"'],
    ['trailing whitespace is quoted', 'I have trailing whitespace! ', '"I have trailing whitespace! "'],
    ['inner whitespace is quoted too', 'Something was triggered', '"Something was triggered"'],
    ['a control character is quoted', 'a\u0001b', '"a\u0001b"'],
    ['single quotes need nothing', "it's", "it's"],
    ['a backslash alone needs nothing', 'C:\\path', 'C:\\path'],
    ['non-ASCII needs nothing', '°C', '°C'],
    ['empty string is an empty field', '', ''],
    ['undefined is an empty field', undefined, ''],
    ['null is an empty field', null, ''],
    ['integer', -60, '-60'],
    ['decimal', 9.5, '9.5'],
    ['negative zero', -0, '0'],
    ['large number keeps JS notation', 1e21, '1e+21'],
    ['true', true, 'true'],
    ['false', false, 'false'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => assert.equal(formatField(input), expected));
  }

  it('refuses NaN and infinities', () => {
    throwsReason(() => formatNumber(Number.NaN), 'invalid-value');
    throwsReason(() => formatField(Number.POSITIVE_INFINITY), 'invalid-value');
    throwsReason(() => formatField(Number.NEGATIVE_INFINITY), 'invalid-value');
  });

  it('refuses values that are not scalars', () => {
    throwsReason(() => formatField({} as unknown as string), 'invalid-value');
  });
});

describe('cumulocity SmartREST: lines', () => {
  it('builds the docs examples', () => {
    assert.equal(buildLine(100, ['myDevice', 'myType']), '100,myDevice,myType');
    assert.equal(buildLine(504, ['123']), '504,123');
    assert.equal(buildLine(505, ['123', 'Could not restart']), '505,123,"Could not restart"');
    assert.equal(buildLine(306, ['c8y_TemperatureAlarm']), '306,c8y_TemperatureAlarm');
    assert.equal(buildLine(125), '125');
  });

  it('keeps empty middle fields and, unless asked, empty trailing fields', () => {
    assert.equal(
      buildLine(304, ['c8y_TemperatureAlarm', '', '2013-06-22T17:03:14.000+02:00']),
      '304,c8y_TemperatureAlarm,,2013-06-22T17:03:14.000+02:00',
    );
    assert.equal(buildLine(110, ['123', undefined, undefined]), '110,123,,');
    assert.equal(buildLine(110, ['123', undefined, ''], { trimTrailingEmpty: true }), '110,123');
    assert.equal(buildLine(110, ['123', '', 'rev'], { trimTrailingEmpty: true }), '110,123,,rev');
  });

  it('refuses a template id that would need quoting', () => {
    throwsReason(() => buildLine('', []), 'invalid-template');
    throwsReason(() => buildLine('5,1', []), 'invalid-template');
    throwsReason(() => buildLine('50 1', []), 'invalid-template');
  });

  it('names topics of the gateway and of a child', () => {
    assert.equal(smartRestTopic(), 's/us');
    assert.equal(smartRestTopic('0018b20000000b20'), 's/us/0018b20000000b20');
    throwsReason(() => smartRestTopic('a/b'), 'invalid-topic');
    throwsReason(() => smartRestTopic('a+'), 'invalid-topic');
    throwsReason(() => smartRestTopic('#'), 'invalid-topic');
    throwsReason(() => smartRestTopic(''), 'invalid-topic');
  });
});

describe('cumulocity SmartREST: parsing what the platform sends', () => {
  it('reads the MQTT docs subscribe example: \\" is a quote, \\n stays two characters', () => {
    assert.deepEqual(parseSmartRest('511,myDeviceSerial,"execute this\\nand this\\nand \\"this\\""'), [
      ['511', 'myDeviceSerial', 'execute this\\nand this\\nand "this"'],
    ]);
  });

  it('reads the SmartREST protocol examples (doubled quotes, raw line break inside quotes)', () => {
    const payload = [
      '100,Hello world!',
      '101," I have leading whitespace!"',
      '103,"I contain a line',
      'break!"',
      '104,"I have ""quotes""!"',
      "105,I also have 'quotes'!",
    ].join('\n');
    assert.deepEqual(parseSmartRest(payload), [
      ['100', 'Hello world!'],
      ['101', ' I have leading whitespace!'],
      ['103', 'I contain a line\nbreak!'],
      ['104', 'I have "quotes"!'],
      ['105', "I also have 'quotes'!"],
    ]);
  });

  it('splits the thin-edge multi-message example into records', () => {
    const payload = [
      '511,device,echo hello',
      '511,device,"echo hello',
      'echo world"',
      '511,device,"echo \\"hello\\""',
      '511,device,"echo hello,world"',
      '524,DeviceSerial,"something",http://www.my.url,type',
    ].join('\n');
    assert.deepEqual(parseSmartRest(payload), [
      ['511', 'device', 'echo hello'],
      ['511', 'device', 'echo hello\necho world'],
      ['511', 'device', 'echo "hello"'],
      ['511', 'device', 'echo hello,world'],
      ['524', 'DeviceSerial', 'something', 'http://www.my.url', 'type'],
    ]);
  });

  it('accepts CRLF line ends, skips blank lines, keeps empty fields', () => {
    assert.deepEqual(parseSmartRest('510,a\r\n\r\n\n511,b,,\r\n'), [
      ['510', 'a'],
      ['511', 'b', '', ''],
    ]);
  });

  it('keeps a quote inside an unquoted field literally', () => {
    assert.deepEqual(parseLine('511,dev,say "hi"'), ['511', 'dev', 'say "hi"']);
  });

  it('strict CSV mode leaves backslashes alone', () => {
    assert.deepEqual(parseLine('511,dev,"C:\\"', { backslashEscapes: false }), ['511', 'dev', 'C:\\']);
    throwsReason(() => parseLine('511,dev,"C:\\"'), 'unterminated-quote');
  });

  it('reports an unterminated quote', () => {
    throwsReason(() => parseSmartRest('511,dev,"never closed'), 'unterminated-quote');
  });

  it('reports text after a closing quote', () => {
    throwsReason(() => parseSmartRest('511,dev,"a"b'), 'unexpected-character');
  });

  it('parseLine wants exactly one record', () => {
    throwsReason(() => parseLine(''), 'not-one-record');
    throwsReason(() => parseLine('1\n2'), 'not-one-record');
  });
});

describe('cumulocity SmartREST: packing under the 16184-byte packet limit', () => {
  const topic = 's/us/0018b20000000b20'; // 21 bytes

  it('counts the whole MQTT PUBLISH packet (fixed header, topic, packet id, payload)', () => {
    assert.equal(publishPacketSize('s/us', 10, 1), 20); // 1 + 1 + (2 + 4 + 2 + 10)
    assert.equal(publishPacketSize('s/us', 10, 0), 18);
    assert.equal(publishPacketSize('s/us', 200, 1), 211); // remaining length 208 needs 2 bytes
    assert.equal(MAX_PACKET_BYTES, 16184);
  });

  it('a line filling the packet exactly fits; one byte more is a typed error', () => {
    // packet = 1 + 2 (remaining length 16181) + 2 + 21 + 2 + payload
    assert.equal(publishPacketSize(topic, 16156, 1), 16184);
    const exact = 'x'.repeat(16156);
    assert.deepEqual(packLines(topic, [exact]), [{ topic, payload: exact }]);
    throwsReason(() => packLines(topic, ['x'.repeat(16157)]), 'line-too-long');
  });

  it('QoS 0 leaves two more bytes for the payload', () => {
    assert.equal(packLines(topic, ['x'.repeat(16158)], { qos: 0 }).length, 1);
    throwsReason(() => packLines(topic, ['x'.repeat(16159)], { qos: 0 }), 'line-too-long');
  });

  it('counts UTF-8 bytes, not characters', () => {
    assert.equal(fitsInPacket(topic, '°'.repeat(8078)), true); // 16156 bytes
    assert.equal(fitsInPacket(topic, `${'°'.repeat(8078)}x`), false); // 16157 bytes
  });

  it('puts several lines in one publish, \\n-separated, in order', () => {
    assert.deepEqual(packLines(topic, ['110,a', '114,c8y_Command', '117,1440']), [
      { topic, payload: '110,a\n114,c8y_Command\n117,1440' },
    ]);
  });

  it('starts a new publish when the next line would not fit, never splitting a line', () => {
    const a = 'a'.repeat(8000);
    const b = 'b'.repeat(8000);
    const c = 'c'.repeat(8000);
    const publishes = packLines(topic, [a, b, c]);
    assert.deepEqual(publishes, [
      { topic, payload: `${a}\n${b}` },
      { topic, payload: c },
    ]);
    const big = ['d'.repeat(8100), 'e'.repeat(8100)];
    assert.deepEqual(
      packLines(topic, big).map((p) => p.payload),
      big,
    );
  });

  it('honours a smaller limit', () => {
    // 1 + 1 + 2 + 21 + 2 = 27 bytes of header; a 40-byte limit leaves 13 bytes.
    assert.deepEqual(
      packLines(topic, ['123456', '123456', '1'], { maxPacketBytes: 40 }).map((p) => p.payload),
      ['123456\n123456', '1'],
    );
  });

  it('packs nothing into nothing', () => {
    assert.deepEqual(packLines(topic, []), []);
  });
});
