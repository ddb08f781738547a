/** LevelDB's little-endian base-128 varints and length-prefixed slices. */

export class Reader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) throw new Error('leveldb: truncated varint');
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
    }
    throw new Error('leveldb: varint too long');
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.end) throw new Error('leveldb: truncated slice');
    const s = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  slice(): Buffer {
    return this.bytes(this.varint());
  }

  byte(): number {
    if (this.pos >= this.end) throw new Error('leveldb: truncated');
    return this.buf[this.pos++];
  }
}
