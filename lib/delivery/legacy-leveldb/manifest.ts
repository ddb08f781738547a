import * as fs from 'fs';
import * as path from 'path';
import { readLogRecords } from './log-file';
import { Reader } from './varint';

export interface LiveFiles {
  /** Table files per level, by number. */
  tables: Array<{ level: number; number: number; smallest: Buffer }>;
  /** Write-ahead logs still holding writes that no table has, oldest first. */
  logs: number[];
}

/**
 * Which files of a LevelDB directory are live, from its MANIFEST (named by CURRENT): table files
 * a compaction replaced but did not get to delete must not be read, or deleted entries come back.
 */
export function readLiveFiles(dir: string): LiveFiles {
  const current = fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8').trim();
  if (!/^MANIFEST-\d+$/.test(current)) throw new Error(`leveldb: CURRENT names no manifest (${current})`);
  const { records } = readLogRecords(fs.readFileSync(path.join(dir, current)));
  const tables = new Map<number, { level: number; number: number; smallest: Buffer }>();
  let logNumber = 0;
  let prevLogNumber = 0;
  for (const record of records) {
    const r = new Reader(record);
    while (!r.done) {
      const tag = r.varint();
      switch (tag) {
        case 1: // comparator name
          r.slice();
          break;
        case 2:
          logNumber = r.varint();
          break;
        case 3: // next file number
        case 4: // last sequence
          r.varint();
          break;
        case 5: // compaction pointer
          r.varint();
          r.slice();
          break;
        case 6: {
          r.varint();
          tables.delete(r.varint());
          break;
        }
        case 7: {
          const level = r.varint();
          const number = r.varint();
          r.varint(); // size
          const smallest = Buffer.from(r.slice());
          r.slice(); // largest
          tables.set(number, { level, number, smallest });
          break;
        }
        case 9:
          prevLogNumber = r.varint();
          break;
        default:
          throw new Error(`leveldb: unknown manifest tag ${tag}`);
      }
    }
  }
  const logs = fs
    .readdirSync(dir)
    .map((n) => /^(\d+)\.log$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((n) => n >= logNumber || (prevLogNumber !== 0 && n === prevLogNumber))
    .sort((a, b) => a - b);
  return { tables: [...tables.values()], logs };
}
