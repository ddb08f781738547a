import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  AlwaysOnEncodeError,
  BaseType,
  decodeInfoTable,
  decodeMessage,
  decodeTypedValue,
  encodeInfoTable,
  encodeMessage,
  encodeString,
  encodeTypedValue,
  type InfoTable,
} from '../../lib/thingworx';
import { arbitraries, message } from './arbitraries';
import { hex } from './vectors';

const { value, table } = arbitraries(3);

describe('thingworx AlwaysOn codec: round trips', () => {
  it('decode(encode(v)) == v for random typed values of every base type', () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeTypedValue(v);
        assert.deepStrictEqual(decodeTypedValue(bytes), v);
        assert.equal(hex(encodeTypedValue(decodeTypedValue(bytes))), hex(bytes));
      }),
      { numRuns: 400 },
    );
  });

  it('decode(encode(t)) == t for random InfoTables (all base types, aspects, nesting)', () => {
    fc.assert(
      fc.property(table, (t) => {
        const bytes = encodeInfoTable(t);
        assert.deepStrictEqual(decodeInfoTable(bytes), t);
      }),
      { numRuns: 300 },
    );
  });

  it('decode(encode(m)) == m and re-encoding is byte-identical, for random messages', () => {
    fc.assert(
      fc.property(message(table), (m) => {
        const frame = encodeMessage(m);
        const back = decodeMessage(frame);
        assert.deepStrictEqual(back, m);
        assert.equal(hex(encodeMessage(back)), hex(frame));
      }),
      { numRuns: 300 },
    );
  });

  it('uses the 1-byte string length below 128 bytes and the flagged 4-byte length from 128 on', () => {
    assert.equal(hex(encodeString('')), '00');
    assert.equal(hex(encodeString('a'.repeat(127)).subarray(0, 1)), '7f');
    assert.equal(encodeString('a'.repeat(127)).length, 128);
    assert.equal(hex(encodeString('a'.repeat(128)).subarray(0, 4)), '80000080');
    assert.equal(encodeString('a'.repeat(128)).length, 132);
    // Byte length, not character count: 64 × 'é' is 128 UTF-8 bytes.
    assert.equal(hex(encodeString('é'.repeat(64)).subarray(0, 4)), '80000080');
    assert.equal(hex(encodeString('a'.repeat(70000)).subarray(0, 4)), '80011170');
  });

  it('reads a 4-byte length even for a short string (non-canonical but legal)', () => {
    const bytes = Buffer.from('0080000003616263', 'hex');
    assert.deepStrictEqual(decodeTypedValue(bytes), { baseType: BaseType.STRING, value: 'abc' });
  });

  it('carries DATETIME as a 64-bit ms count: Date in, number out; beyond 2^53 refused', () => {
    const d = new Date('2023-11-14T22:13:20.000Z');
    const bytes = encodeTypedValue({ baseType: BaseType.DATETIME, value: d });
    assert.equal(hex(bytes), '030000018bcfe56800');
    assert.deepStrictEqual(decodeTypedValue(bytes), { baseType: BaseType.DATETIME, value: 1700000000000 });
    assert.equal(
      hex(encodeTypedValue({ baseType: BaseType.DATETIME, value: 2 ** 40 + 5 })),
      '030000010000000005',
    );
    assert.throws(
      () => encodeTypedValue({ baseType: BaseType.DATETIME, value: 2 ** 53 }),
      AlwaysOnEncodeError,
    );
    assert.throws(() => encodeTypedValue({ baseType: BaseType.DATETIME, value: 1.5 }), AlwaysOnEncodeError);
    assert.throws(
      () => encodeTypedValue({ baseType: BaseType.DATETIME, value: new Date(NaN) }),
      AlwaysOnEncodeError,
    );
  });

  it('carries INTEGER as int32 and NUMBER as float64 (NaN, -0, infinities kept)', () => {
    assert.equal(hex(encodeTypedValue({ baseType: BaseType.INTEGER, value: -1 })), '16ffffffff');
    assert.throws(
      () => encodeTypedValue({ baseType: BaseType.INTEGER, value: 2 ** 31 }),
      AlwaysOnEncodeError,
    );
    assert.throws(() => encodeTypedValue({ baseType: BaseType.INTEGER, value: 0.5 }), AlwaysOnEncodeError);
    for (const n of [NaN, -0, Infinity, -Infinity, Number.MIN_VALUE]) {
      assert.deepStrictEqual(decodeTypedValue(encodeTypedValue({ baseType: BaseType.NUMBER, value: n })), {
        baseType: BaseType.NUMBER,
        value: n,
      });
    }
  });

  it('writes a column missing from a row as NOTHING, and refuses a row key that is not a column', () => {
    const t: InfoTable = {
      dataShape: [
        { name: 'a', baseType: BaseType.STRING },
        { name: 'b', baseType: BaseType.INTEGER },
      ],
      rows: [{ b: { baseType: BaseType.INTEGER, value: 3 } }],
    };
    const bytes = encodeInfoTable(t);
    assert.equal(hex(bytes), '0101610000000001016200160000' + '00' + '010002' + 'ff' + '1600000003' + '00');
    assert.deepStrictEqual(decodeInfoTable(bytes).rows, [
      { a: { baseType: BaseType.NOTHING, value: null }, b: { baseType: BaseType.INTEGER, value: 3 } },
    ]);
    assert.throws(
      () => encodeInfoTable({ ...t, rows: [{ c: { baseType: BaseType.STRING, value: '' } }] }),
      AlwaysOnEncodeError,
    );
    assert.throws(
      () => encodeInfoTable({ dataShape: [t.dataShape[0], t.dataShape[0]], rows: [] }),
      AlwaysOnEncodeError,
    );
  });

  it('writes aspects as name + typed value after a u16 count', () => {
    const bytes = encodeInfoTable({
      dataShape: [
        {
          name: 'p',
          baseType: BaseType.NUMBER,
          description: 'd',
          aspects: { isPrimaryKey: { baseType: BaseType.BOOLEAN, value: true } },
        },
      ],
      rows: [],
    });
    assert.equal(hex(bytes), '01017001640100010c69735072696d6172794b657902010000');
  });
});
