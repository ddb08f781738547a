import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  AlwaysOnDecodeError,
  decodeInfoTable,
  decodeMessage,
  decodeTypedValue,
  encodeHeader,
  encodeMessage,
  MessageCode,
  MultipartReassembler,
  type AlwaysOnMessage,
} from '../../lib/thingworx';
import { arbitraries, message } from './arbitraries';
import { loadVectors } from './vectors';

const { table } = arbitraries(2);

/** Every decode outcome allowed: a value, or an AlwaysOnDecodeError with a sane offset. */
function onlyTypedErrors(bytes: Buffer, fn: (b: Buffer) => unknown): unknown {
  try {
    return fn(bytes);
  } catch (e) {
    if (!(e instanceof AlwaysOnDecodeError)) throw e;
    assert.ok(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset}`);
    return e;
  }
}

/**
 * Records the largest buffer or string the code under test allocates (Buffer.alloc*, Buffer.from copies,
 * Buffer#toString ranges), to show declared lengths do not drive allocation.
 */
function largestAllocation<T>(fn: () => T): { result: T | unknown; largest: number } {
  let largest = 0;
  const note = (n: number) => {
    if (n > largest) largest = n;
  };
  const B = Buffer as unknown as Record<string, (...a: unknown[]) => unknown>;
  const saved = {
    alloc: B.alloc,
    allocUnsafe: B.allocUnsafe,
    allocUnsafeSlow: B.allocUnsafeSlow,
    from: B.from,
  };
  const savedToString = Buffer.prototype.toString;
  B.alloc = function (size: unknown, ...rest: unknown[]) {
    note(Number(size));
    return saved.alloc.call(Buffer, size, ...rest);
  };
  B.allocUnsafe = function (size: unknown) {
    note(Number(size));
    return saved.allocUnsafe.call(Buffer, size);
  };
  B.allocUnsafeSlow = function (size: unknown) {
    note(Number(size));
    return saved.allocUnsafeSlow.call(Buffer, size);
  };
  B.from = function (src: unknown, ...rest: unknown[]) {
    if (src && typeof (src as { length?: unknown }).length === 'number')
      note((src as { length: number }).length);
    return saved.from.call(Buffer, src, ...rest);
  };
  Buffer.prototype.toString = function (this: Buffer, enc?: BufferEncoding, start = 0, end = this.length) {
    note(Math.min(end, this.length) - start);
    return savedToString.call(this, enc, start, end);
  } as typeof Buffer.prototype.toString;
  try {
    let result: unknown;
    try {
      result = fn();
    } catch (e) {
      result = e;
    }
    return { result, largest };
  } finally {
    Object.assign(B, saved);
    Buffer.prototype.toString = savedToString;
  }
}

function frame(code: number, bodyHex: string, multipart = false): Buffer {
  return Buffer.concat([
    encodeHeader({ version: 1, code, requestId: 1, endpointId: 2, sessionId: 3, multipart }),
    Buffer.from(bodyHex, 'hex'),
  ]);
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AlwaysOnDecodeError, `expected AlwaysOnDecodeError, got ${String(e)}`);
    return e.reason;
  }
  return 'no error';
}

const vectors = loadVectors();
const vectorFrames: Buffer[] = vectors.bodies.map((b) => {
  const code = b.name.startsWith('AUTH')
    ? MessageCode.AUTH
    : b.name.startsWith('BIND')
      ? MessageCode.BIND
      : b.name.startsWith('REQUEST')
        ? MessageCode.POST
        : MessageCode.SUCCESS;
  return frame(code, b.hex);
});

describe('thingworx AlwaysOn codec: hostile input', () => {
  it('every vector frame cut short at every byte fails with AlwaysOnDecodeError', () => {
    for (const f of vectorFrames) {
      assert.ok(decodeMessage(f));
      for (let n = 0; n < f.length; n++) {
        const cut = f.subarray(0, n);
        assert.ok(
          onlyTypedErrors(cut, decodeMessage) instanceof AlwaysOnDecodeError,
          `prefix ${n}/${f.length}`,
        );
      }
    }
  });

  it('random messages cut short at every byte fail with AlwaysOnDecodeError', () => {
    fc.assert(
      fc.property(message(table), (m: AlwaysOnMessage) => {
        const f = encodeMessage(m);
        for (let n = 0; n < f.length; n++) {
          assert.ok(onlyTypedErrors(f.subarray(0, n), decodeMessage) instanceof AlwaysOnDecodeError);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('randomly garbled frames give a message or AlwaysOnDecodeError, allocating no more than their size', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 6 }) }),
      fc.record({ kind: fc.constant('big' as const), at: fc.nat() }),
    );
    const source = fc.oneof(
      message(table).map((m) => encodeMessage(m)),
      fc.constantFrom(...vectorFrames),
    );
    fc.assert(
      fc.property(source, fc.array(mutation, { minLength: 1, maxLength: 6 }), (original, muts) => {
        let f = Buffer.from(original);
        for (const m of muts) {
          const at = f.length ? m.at % f.length : 0;
          if (m.kind === 'set' && f.length) f[at] = m.byte;
          else if (m.kind === 'insert') f = Buffer.concat([f.subarray(0, at), m.bytes, f.subarray(at)]);
          else if (m.kind === 'delete') f = Buffer.concat([f.subarray(0, at), f.subarray(at + m.len)]);
          else if (m.kind === 'big' && f.length) {
            // A length that looks huge: 0x80/0xFF starts a 4-byte length, a u16 or u32 count.
            f[at] = 0xff;
            if (at + 1 < f.length) f[at + 1] = 0xff;
          }
        }
        if (f.length >= 15 && f[0] !== 1) f[0] = 1; // keep most frames past the version check
        const { result, largest } = largestAllocation(() => decodeMessage(f));
        if (result instanceof Error) {
          assert.ok(result instanceof AlwaysOnDecodeError, `unexpected ${String(result)}`);
        }
        assert.ok(largest <= f.length, `allocated ${largest} bytes decoding ${f.length}`);
        const r = new MultipartReassembler();
        onlyTypedErrors(f, (b) => r.accept(b));
        f[14 % Math.max(1, f.length)] = 1;
        onlyTypedErrors(f, (b) => r.accept(b));
      }),
      { numRuns: 1500 },
    );
  });

  it('random bytes after a valid header only give typed errors', () => {
    const codes = [0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x14, 0x1f, 0x40, 0x84, 0xa0, 0x00, 0x3f];
    fc.assert(
      fc.property(
        fc.constantFrom(...codes),
        fc.boolean(),
        fc.uint8Array({ maxLength: 200 }),
        (code, mp, body) => {
          const f = Buffer.concat([frame(code, ''), body]);
          if (mp) f[14] = 1;
          onlyTypedErrors(f, decodeMessage);
          onlyTypedErrors(f, (b) => new MultipartReassembler().accept(b));
          onlyTypedErrors(Buffer.from(body), decodeTypedValue);
          onlyTypedErrors(Buffer.from(body), decodeInfoTable);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('the allocation probe sees allocations (so the checks below can fail)', () => {
    assert.equal(largestAllocation(() => Buffer.alloc(5000)).largest, 5000);
    assert.equal(largestAllocation(() => Buffer.from(Buffer.alloc(10)).toString()).largest, 10);
    assert.equal(largestAllocation(() => Buffer.alloc(300).toString('utf8', 100, 300)).largest, 300);
  });

  describe('declared lengths and counts larger than the bytes', () => {
    const cases: [string, Buffer, string][] = [
      ['string length 0x7FFFFFFF', frame(MessageCode.AUTH, '01' + 'ffffffff' + '6162'), 'truncated'],
      ['string length 0x7FFFFFFF (long form)', frame(MessageCode.AUTH, '01' + '80ffffff'), 'truncated'],
      [
        'BLOB length 0xFFFFFFFF',
        frame(MessageCode.SUCCESS, '0005' + '0101620015000000' + '010001' + '15ffffffff00'),
        'truncated',
      ],
      ['BIND name count 65535', frame(MessageCode.BIND, '00ffff0161'), 'bad-count'],
      ['AUTH claim count 255', frame(MessageCode.AUTH, 'ff0161'), 'bad-count'],
      ['request header count 255', frame(MessageCode.GET, '0a0174010170ff0000'), 'bad-count'],
      [
        'aspect count 65535',
        frame(MessageCode.SUCCESS, '0005' + '01016100' + '00' + 'ffff' + '00'),
        'bad-count',
      ],
      [
        'row field count 65535',
        frame(MessageCode.SUCCESS, '0005' + '0101610000000000' + '01ffff00'),
        'bad-count',
      ],
    ];
    for (const [what, f, expected] of cases) {
      it(`${what}: ${expected}, and nothing near that size is allocated`, () => {
        const { result, largest } = largestAllocation(() => decodeMessage(f));
        assert.ok(result instanceof AlwaysOnDecodeError, String(result));
        assert.equal(result.reason, expected);
        assert.ok(largest <= f.length, `allocated ${largest}`);
      });
    }

    it('refuses a frame over maxMessageSize before parsing it', () => {
      const f = Buffer.concat([frame(MessageCode.SUCCESS, '00ff'), Buffer.alloc(64)]);
      assert.equal(
        reason(() => decodeMessage(f, { maxMessageSize: 32 })),
        'too-large',
      );
      assert.equal(
        reason(() => decodeMessage(Buffer.alloc(1024 * 1024 + 1))),
        'too-large',
      );
    });
  });

  describe('malformed structure', () => {
    it('deep VARIANT nesting is refused, not a stack overflow', () => {
      const body = Buffer.concat([Buffer.alloc(200000, 0x12), Buffer.from([0xff])]);
      assert.equal(
        reason(() => decodeTypedValue(body)),
        'too-deep',
      );
      assert.equal(
        reason(() => decodeTypedValue(Buffer.from('121212ff', 'hex'), { maxDepth: 2 })),
        'too-deep',
      );
      assert.deepEqual(decodeTypedValue(Buffer.from('1212ff', 'hex'), { maxDepth: 2 }).baseType, 0x12);
    });

    it('deep INFOTABLE nesting is refused', () => {
      // Column `a` of type INFOTABLE, one row whose value is another such table, 5000 levels deep.
      const open = Buffer.from('0101610005000000' + '010001' + '05', 'hex');
      const innermost = Buffer.from('0000', 'hex');
      const close = Buffer.from('00', 'hex');
      const depth = 5000;
      const bytes = Buffer.concat([
        ...Array.from({ length: depth }, () => open),
        innermost,
        ...Array.from({ length: depth }, () => close),
      ]);
      assert.equal(
        reason(() => decodeInfoTable(bytes)),
        'too-deep',
      );
    });

    it('names each kind of malformation', () => {
      assert.equal(
        reason(() => decodeMessage(Buffer.from('02' + '40' + '00'.repeat(13) + '00ff', 'hex'))),
        'bad-version',
      );
      assert.equal(
        reason(() => decodeMessage(frame(0x05, '00ff'))),
        'unknown-code',
      );
      assert.equal(
        reason(() => decodeMessage(frame(0x40, '00ff00'))),
        'trailing-bytes',
      );
      assert.equal(
        reason(() => decodeMessage(frame(0x40, '02ff'))),
        'bad-marker',
      );
      assert.equal(
        reason(() => decodeMessage(frame(0x40, '0007'))),
        'bad-marker',
      );
      const mp2 = frame(0x40, '00ff');
      mp2[14] = 2;
      assert.equal(
        reason(() => decodeMessage(mp2)),
        'bad-marker',
      );
      assert.equal(
        reason(() => decodeTypedValue(Buffer.from('0400', 'hex'))),
        'unknown-base-type',
      );
      assert.equal(
        reason(() => decodeTypedValue(Buffer.from('13', 'hex'))),
        'unknown-base-type',
      );
      assert.equal(
        reason(() => decodeInfoTable(Buffer.from('0101610000000001016100000000' + '0000', 'hex'))),
        'duplicate-field',
      );
      assert.equal(
        reason(() => decodeInfoTable(Buffer.from('0101610000000000' + '010002ffff00', 'hex'))),
        'bad-count',
      );
      assert.equal(
        reason(() => decodeInfoTable(Buffer.from('0201610000000000' + '00', 'hex'))),
        'bad-marker',
      );
      assert.equal(
        reason(() => decodeInfoTable(Buffer.from('00' + '0200', 'hex'))),
        'bad-marker',
      );
      assert.equal(
        reason(() => decodeTypedValue(Buffer.from('0300200000000000ff', 'hex'))),
        'out-of-range',
      );
      assert.equal(
        reason(() => decodeTypedValue(Buffer.from('03ffffffffffffffff', 'hex'))),
        'no error',
      );
    });

    it('keeps field names like __proto__ as ordinary own keys', () => {
      const t = decodeInfoTable(
        Buffer.from('01095f5f70726f746f5f5f00000000' + '00' + '01000100' + '0178' + '00', 'hex'),
      );
      const row = t.rows[0];
      assert.equal(Object.getPrototypeOf(row), Object.prototype);
      assert.deepEqual(Object.keys(row), ['__proto__']);
      assert.deepEqual(Object.getOwnPropertyDescriptor(row, '__proto__')?.value, { baseType: 0, value: 'x' });
    });
  });
});
