/** Snappy's raw block format (what LevelDB compresses table blocks with), decompression only. */

function readVarint32(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= buf.length) throw new Error('snappy: truncated length');
    const b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [result, pos];
  }
  throw new Error('snappy: length too long');
}

export function snappyUncompress(input: Buffer): Buffer {
  const [length, start] = readVarint32(input, 0);
  const out = Buffer.allocUnsafe(length);
  let pos = start;
  let o = 0;
  while (pos < input.length) {
    const tag = input[pos++];
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const bytes = len - 59;
        if (pos + bytes > input.length) throw new Error('snappy: truncated literal length');
        len = input.readUIntLE(pos, bytes);
        pos += bytes;
      }
      len += 1;
      if (pos + len > input.length || o + len > length) throw new Error('snappy: literal out of bounds');
      input.copy(out, o, pos, pos + len);
      pos += len;
      o += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | input[pos++];
    } else if (kind === 2) {
      len = 1 + (tag >>> 2);
      offset = input.readUInt16LE(pos);
      pos += 2;
    } else {
      len = 1 + (tag >>> 2);
      offset = input.readUInt32LE(pos);
      pos += 4;
    }
    if (offset === 0 || offset > o || o + len > length) throw new Error('snappy: copy out of bounds');
    // Copies may overlap what they write (a run): byte by byte.
    for (let i = 0; i < len; i++, o++) out[o] = out[o - offset];
  }
  if (o !== length) throw new Error('snappy: length mismatch');
  return out;
}
