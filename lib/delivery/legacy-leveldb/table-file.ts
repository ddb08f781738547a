import { snappyUncompress } from './snappy';
import { Reader } from './varint';

const FOOTER = 48;
const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;

/** A record of a table or log: the user key, its sequence number, put (1) or delete (0). */
export interface Versioned {
  key: Buffer;
  seq: number;
  type: number;
  value: Buffer;
}

interface Handle {
  offset: number;
  size: number;
}

function readHandle(r: Reader): Handle {
  return { offset: r.varint(), size: r.varint() };
}

function blockAt(file: Buffer, h: Handle): Buffer {
  if (h.offset + h.size + 5 > file.length) throw new Error('leveldb: block beyond the end of its table');
  const raw = file.subarray(h.offset, h.offset + h.size);
  const compression = file[h.offset + h.size];
  if (compression === 0) return raw;
  if (compression === 1) return snappyUncompress(raw);
  throw new Error(`leveldb: unknown block compression ${compression}`);
}

/** The key/value pairs of one block, in order (keys are prefix-compressed against the previous one). */
function* blockEntries(block: Buffer): Generator<[Buffer, Buffer]> {
  if (block.length < 4) throw new Error('leveldb: short block');
  const restarts = block.readUInt32LE(block.length - 4);
  const end = block.length - 4 - 4 * restarts;
  if (end < 0) throw new Error('leveldb: bad restart count');
  const r = new Reader(block, 0, end);
  let last = Buffer.alloc(0);
  while (!r.done) {
    const shared = r.varint();
    const unshared = r.varint();
    const valueLength = r.varint();
    if (shared > last.length) throw new Error('leveldb: bad key prefix');
    const key = Buffer.concat([last.subarray(0, shared), r.bytes(unshared)]);
    yield [key, r.bytes(valueLength)];
    last = key;
  }
}

export function splitInternalKey(ikey: Buffer, value: Buffer): Versioned {
  if (ikey.length < 8) throw new Error('leveldb: short internal key');
  const n = ikey.length;
  const lo = ikey.readUInt32LE(n - 8);
  const hi = ikey.readUInt32LE(n - 4);
  return { key: ikey.subarray(0, n - 8), seq: (lo >>> 8) + hi * 2 ** 24, type: lo & 0xff, value };
}

/** Every record of a table file (.ldb / .sst), in its order: user key ascending, newest first. */
export function* tableRecords(file: Buffer): Generator<Versioned> {
  if (file.length < FOOTER) throw new Error('leveldb: table shorter than its footer');
  const f = file.length - FOOTER;
  if (file.readUInt32LE(file.length - 8) !== MAGIC_LO || file.readUInt32LE(file.length - 4) !== MAGIC_HI) {
    throw new Error('leveldb: not a table file (bad magic)');
  }
  const footer = new Reader(file, f, file.length - 8);
  readHandle(footer); // metaindex: filters, not needed to read everything
  const index = readHandle(footer);
  for (const [, handleBytes] of blockEntries(blockAt(file, index))) {
    const handle = readHandle(new Reader(handleBytes));
    for (const [ikey, value] of blockEntries(blockAt(file, handle))) yield splitInternalKey(ikey, value);
  }
}
