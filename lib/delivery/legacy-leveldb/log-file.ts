import { crc32c, unmaskCrc } from './crc32c';
import { Reader } from './varint';

const BLOCK = 32768;
const HEADER = 7;
const FULL = 1;
const FIRST = 2;
const MIDDLE = 3;
const LAST = 4;

/** One write of a LevelDB log: what a WriteBatch put or deleted, with its sequence number. */
export interface LogOp {
  seq: number;
  /** 1 put, 0 delete (LevelDB's value types). */
  type: 0 | 1;
  key: Buffer;
  value: Buffer;
}

export interface LogContents {
  ops: LogOp[];
  /** Records dropped for a bad checksum or a torn tail (LevelDB drops them too). */
  dropped: number;
}

/** Reassembles the records of a LevelDB log file (a write-ahead log or a MANIFEST). */
export function readLogRecords(buf: Buffer): { records: Buffer[]; dropped: number } {
  const records: Buffer[] = [];
  let dropped = 0;
  let parts: Buffer[] | undefined;
  let pos = 0;
  while (pos + HEADER <= buf.length) {
    const blockLeft = BLOCK - (pos % BLOCK);
    if (blockLeft < HEADER) {
      pos += blockLeft;
      continue;
    }
    const length = buf.readUInt16LE(pos + 4);
    const type = buf[pos + 6];
    if (type === 0 && length === 0) {
      // Zero padding (preallocated space): the rest of the block holds nothing.
      pos += blockLeft;
      continue;
    }
    const end = pos + HEADER + length;
    if (HEADER + length > blockLeft || end > buf.length) {
      dropped++;
      parts = undefined;
      pos += blockLeft;
      continue;
    }
    if (unmaskCrc(buf.readUInt32LE(pos)) !== crc32c(buf, pos + 6, end)) {
      dropped++;
      parts = undefined;
      pos += blockLeft;
      continue;
    }
    const data = buf.subarray(pos + HEADER, end);
    pos = end;
    if (type === FULL) {
      if (parts) dropped++;
      parts = undefined;
      records.push(data);
    } else if (type === FIRST) {
      if (parts) dropped++;
      parts = [data];
    } else if (type === MIDDLE && parts) {
      parts.push(data);
    } else if (type === LAST && parts) {
      parts.push(data);
      records.push(Buffer.concat(parts));
      parts = undefined;
    } else {
      dropped++;
      parts = undefined;
    }
  }
  if (parts) dropped++;
  return { records, dropped };
}

/** The puts and deletes of a write-ahead log, in the order they were written. */
export function readLogFile(buf: Buffer): LogContents {
  const { records, dropped } = readLogRecords(buf);
  const ops: LogOp[] = [];
  let bad = dropped;
  for (const record of records) {
    try {
      if (record.length < 12) throw new Error('leveldb: short write batch');
      const seq = Number(record.readBigUInt64LE(0));
      const count = record.readUInt32LE(8);
      const r = new Reader(record, 12);
      const batch: LogOp[] = [];
      for (let i = 0; i < count; i++) {
        const type = r.byte();
        if (type === 1) batch.push({ seq: seq + i, type: 1, key: r.slice(), value: r.slice() });
        else if (type === 0) batch.push({ seq: seq + i, type: 0, key: r.slice(), value: Buffer.alloc(0) });
        else throw new Error(`leveldb: unknown batch record type ${type}`);
      }
      ops.push(...batch);
    } catch {
      bad++;
    }
  }
  return { ops, dropped: bad };
}
