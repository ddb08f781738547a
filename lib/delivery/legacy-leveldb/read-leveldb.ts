import * as fs from 'fs';
import * as path from 'path';
import { readLogFile } from './log-file';
import { readLiveFiles } from './manifest';
import { compareVersioned, newestPuts } from './merge';
import { tableRecords, type Versioned } from './table-file';

export interface LevelDbContents {
  /** Every live key with its value, in key order, read lazily. */
  records: Generator<Versioned>;
  /** Log records and table files that could not be read (damaged). */
  damaged(): number;
}

/**
 * Reads a LevelDB directory without LevelDB: what its MANIFEST says is live, tables and logs
 * merged as LevelDB would. Level-0 tables and the logs are held in memory while reading (a few
 * MiB); the tables of deeper levels are read one at a time.
 */
export function readLevelDb(dir: string): LevelDbContents {
  const live = readLiveFiles(dir);
  let damaged = 0;
  const guarded = function* (records: () => Iterable<Versioned>): Generator<Versioned> {
    try {
      yield* records();
    } catch {
      damaged++;
    }
  };
  const tableFile = (n: number): Buffer => {
    const base = String(n).padStart(6, '0');
    for (const ext of ['ldb', 'sst']) {
      const p = path.join(dir, `${base}.${ext}`);
      if (fs.existsSync(p)) return fs.readFileSync(p);
    }
    throw new Error(`leveldb: table ${base} is missing`);
  };
  const sources: Array<Iterator<Versioned>> = [];
  const byLevel = new Map<number, typeof live.tables>();
  for (const t of live.tables) {
    if (t.level === 0) sources.push(guarded(() => tableRecords(tableFile(t.number))));
    else byLevel.set(t.level, [...(byLevel.get(t.level) ?? []), t]);
  }
  for (const tables of byLevel.values()) {
    // Tables of one level below 0 do not overlap: read in key order, one file at a time.
    tables.sort((a, b) => Buffer.compare(a.smallest.subarray(0, -8), b.smallest.subarray(0, -8)));
    sources.push(
      (function* () {
        for (const t of tables) yield* guarded(() => tableRecords(tableFile(t.number)));
      })(),
    );
  }
  const logged: Versioned[] = [];
  for (const n of live.logs) {
    const { ops, dropped } = readLogFile(
      fs.readFileSync(path.join(dir, `${String(n).padStart(6, '0')}.log`)),
    );
    damaged += dropped;
    for (const op of ops) logged.push(op);
  }
  logged.sort(compareVersioned);
  sources.push(logged[Symbol.iterator]());
  return { records: newestPuts(sources), damaged: () => damaged };
}

/** A LevelDB directory: it has CURRENT naming a MANIFEST. */
export function isLevelDbDir(dir: string): boolean {
  try {
    return /^MANIFEST-\d+\s*$/.test(fs.readFileSync(path.join(dir, 'CURRENT'), 'utf8'));
  } catch {
    return false;
  }
}
