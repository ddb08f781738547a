import { AlwaysOnDecodeError, AlwaysOnEncodeError } from './errors';

/** Largest length the 4-byte string form can express (the top bit is the long-form marker). */
export const MAX_STRING_BYTES = 0x7fffffff;

/** View any Uint8Array as a Buffer without copying. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Bounds-checked big-endian reader over untrusted bytes. Every read checks the remaining length first and throws
 * `AlwaysOnDecodeError('truncated')` instead of letting Buffer throw a RangeError; nothing is allocated from a
 * declared length before that length has been checked against the bytes actually present.
 */
export class Reader {
  pos: number;
  readonly end: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new AlwaysOnDecodeError(
        'truncated',
        this.pos,
        `${what} needs ${n} byte(s), ${this.remaining} left`,
      );
    }
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i32(what = 'i32'): number {
    this.need(4, what);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  f64(what = 'f64'): number {
    this.need(8, what);
    const v = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  /** 64-bit big-endian integer, as a JS number; outside ±2^53 it is rejected rather than rounded. */
  i64(what = 'i64'): number {
    this.need(8, what);
    const start = this.pos;
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new AlwaysOnDecodeError('out-of-range', start, `${what} ${v} is beyond a safe JS integer`);
    }
    return Number(v);
  }

  /** A copy of the next `n` bytes (the copy is at most the bytes present, never the declared length alone). */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** The next `n` bytes without copying. */
  view(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Length-prefixed UTF-8 string: 1 byte (< 128) or 4 bytes with 0x80 set on the first. `00` is empty/absent. */
  string(what = 'string'): string {
    const start = this.pos;
    const first = this.u8(`${what} length`);
    let len = first;
    if (first & 0x80) {
      this.need(3, `${what} long length`);
      len = (first & 0x7f) * 0x1000000 + this.buf.readUIntBE(this.pos, 3);
      this.pos += 3;
    }
    if (len > this.remaining) {
      throw new AlwaysOnDecodeError(
        'truncated',
        start,
        `${what} declares ${len} byte(s), ${this.remaining} left`,
      );
    }
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

/** Growable big-endian writer. */
export class Writer {
  private buf: Buffer;
  private len = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.len;
  }

  private ensure(n: number): void {
    const want = this.len + n;
    if (want <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < want) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number, what = 'u16'): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff)
      throw new AlwaysOnEncodeError(`${what} ${v} is not a u16`);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
    return this;
  }

  /** Unsigned 32-bit; a negative int32 (e.g. -1 for "none") is written as its two's complement. */
  u32(v: number, what = 'u32'): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
      throw new AlwaysOnEncodeError(`${what} ${v} is not a 32-bit integer`);
    }
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }

  i32(v: number, what = 'i32'): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      throw new AlwaysOnEncodeError(`${what} ${v} is not an int32`);
    }
    this.ensure(4);
    this.buf.writeInt32BE(v, this.len);
    this.len += 4;
    return this;
  }

  f64(v: number, what = 'f64'): this {
    if (typeof v !== 'number') throw new AlwaysOnEncodeError(`${what} is not a number`);
    this.ensure(8);
    this.buf.writeDoubleBE(v, this.len);
    this.len += 8;
    return this;
  }

  i64(v: number, what = 'i64'): this {
    if (!Number.isSafeInteger(v)) throw new AlwaysOnEncodeError(`${what} ${v} is not a safe integer`);
    this.ensure(8);
    this.buf.writeBigInt64BE(BigInt(v), this.len);
    this.len += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  string(s: string, what = 'string'): this {
    if (typeof s !== 'string') throw new AlwaysOnEncodeError(`${what} is not a string`);
    const bytes = Buffer.from(s, 'utf8');
    if (bytes.length < 0x80) {
      this.u8(bytes.length);
    } else {
      if (bytes.length > MAX_STRING_BYTES) throw new AlwaysOnEncodeError(`${what} is too long`);
      this.ensure(4);
      this.buf.writeUInt32BE((bytes.length | 0x80000000) >>> 0, this.len);
      this.len += 4;
    }
    return this.bytes(bytes);
  }

  /** A copy of what was written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}
