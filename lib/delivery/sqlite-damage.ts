import * as fs from 'fs';
import {
  SQLITE_CORRUPT,
  SQLITE_NOTADB,
  sqliteCode,
  type SqliteConstructor,
  type SqliteDatabase,
} from './sqlite-db';

/** `PRAGMA application_id` of a queue file ("TPQ1"): anything else in its place is not ours to use. */
export const QUEUE_APP_ID = 0x54505131;

/** The queue file cannot be used as it is: it is set aside and a fresh one started. */
export class DamagedStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DamagedStoreError';
  }
}

export function isDamage(err: unknown): boolean {
  const code = sqliteCode(err);
  return err instanceof DamagedStoreError || code === SQLITE_CORRUPT || code === SQLITE_NOTADB;
}

/**
 * Renames a damaged queue file (and its write-ahead log, which belongs to it) to
 * `<file>.damaged-<time>`, kept for whoever wants to look into it. Returns the new name.
 */
export function setAside(file: string): string {
  const keptAs = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  fs.renameSync(file, keptAs);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, keptAs + suffix);
  }
  return keptAs;
}

/**
 * Copies what can still be read from a damaged queue file into `db` (a fresh queue), in order, up to
 * the first unreadable part. `lost` is what the damaged file's counters said it held minus what was
 * saved; undefined when its counters cannot be read either.
 */
export function salvageInto(
  Database: SqliteConstructor,
  damaged: string,
  db: SqliteDatabase,
): { recovered: number; lost: number | undefined } {
  let expected: number | undefined;
  let recovered = 0;
  let src: SqliteDatabase | undefined;
  try {
    src = new Database(damaged);
    try {
      expected = Number(src.prepare('SELECT coalesce(sum(count), 0) AS n FROM counters').get()?.n);
    } catch {
      // the counters are damaged too: how much was lost is unknown
    }
    const put = db.prepare('INSERT INTO entries (seq, key, size, json) VALUES (?, ?, ?, ?)');
    db.exec('BEGIN');
    try {
      for (const r of src.prepare('SELECT seq, key, size, json FROM entries ORDER BY seq').iterate()) {
        if (typeof r.seq !== 'number' || typeof r.key !== 'string' || typeof r.json !== 'string') continue;
        put.run(r.seq, r.key, Number(r.size) || 0, r.json);
        recovered++;
      }
    } catch {
      // the rest is unreadable
    }
    db.exec(
      'INSERT INTO counters (key, count, bytes) SELECT key, count(*), sum(size) FROM entries GROUP BY key',
    );
    db.exec('COMMIT');
  } catch {
    // nothing readable at all
  } finally {
    try {
      src?.close();
    } catch {
      // not open
    }
  }
  return { recovered, lost: expected === undefined ? undefined : Math.max(0, expected - recovered) };
}
