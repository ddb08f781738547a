import { hasLegacyQueue, type LegacyImport } from './legacy-leveldb';
import { keyFromStore, storedKey } from './sqlite-keys';
import * as fs from 'fs';
import {
  SQLITE_BUSY,
  SQLITE_FULL,
  SQLITE_LOCKED,
  sqliteCode,
  type SqliteConstructor,
  type SqliteDatabase,
  type SqliteStatement,
} from './sqlite-db';
import { DamagedStoreError, isDamage, QUEUE_APP_ID, salvageInto, setAside } from './sqlite-damage';
import type {
  DamagedFile,
  IndexedEntry,
  KeyCounter,
  KeyRead,
  OpenOptions,
  Store,
  StoreBatch,
  StoreSnapshot,
  StoredEntry,
} from './store';
import { removeStoreFile } from './store-file';

/**
 * What an acknowledged push survives: `process`, a crash of Node-RED (SQLite `synchronous=NORMAL`: the
 * write is in the operating system when the push resolves); `power`, a power cut too
 * (`synchronous=FULL`: the write-ahead log is flushed to the disk at every commit).
 */
export type Durability = 'process' | 'power';

export interface SqliteStoreOptions {
  durability?: Durability;
  /** How long to wait for a file held by the queue being replaced (a redeploy closing it). */
  lockWaitMs?: number;
  /** The older LevelDB queue directory beside the file, imported on open when it exists. */
  legacyDir?: string;
  /** Imports `legacyDir` into the store (lib/delivery/legacy-leveldb: `importLegacyQueue`). */
  importLegacy?: (dir: string, store: Store) => Promise<LegacyImport>;
}

/**
 * Entries of one stretch of 2^BUCKET_BITS seqs. The index finds a key's entries stretch by stretch:
 * indexed by (key, seq) alone, a write of entries from a thousand devices touched a thousand index
 * pages scattered over the whole file (the store wrote 19 000 entries/s); a stretch's part of the
 * index is a few dozen pages, so a write touches those (78 000–84 000/s; bench/README.md, figure 3).
 */
const BUCKET_BITS = 12;

/** A seq's stretch, as SQLite computes `seq >> 12` on 64 bits (JavaScript's `>>` is 32-bit: wrong past 2^31). */
function stretchOf(seq: number): number {
  return Math.floor(seq / 2 ** BUCKET_BITS);
}

/**
 * Stretches one read of a key looks into: a key among a thousand devices has a few entries per
 * stretch, and one statement over 16 stretches costs less than 16 statements (a drain read 32 entries
 * of a key with 8 statements, 18 % of its CPU).
 */
const STRETCHES_PER_READ = 16;
const STRETCHES_READ = Array.from({ length: STRETCHES_PER_READ }, () => '?').join(', ');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS entries (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, size INTEGER NOT NULL, json TEXT NOT NULL);
DROP INDEX IF EXISTS entries_by_key;
CREATE INDEX IF NOT EXISTS entries_by_stretch ON entries ((seq >> ${BUCKET_BITS}), key, seq);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead (id INTEGER PRIMARY KEY, record TEXT NOT NULL);
`;

type Statements = ReturnType<typeof prepare>;

function prepare(db: SqliteDatabase) {
  return {
    put: db.prepare('INSERT OR REPLACE INTO entries (seq, key, size, json) VALUES (?, ?, ?, ?)'),
    delRange: db.prepare('DELETE FROM entries WHERE seq BETWEEN ? AND ?'),
    setCounter: db.prepare('INSERT OR REPLACE INTO counters (key, count, bytes) VALUES (?, ?, ?)'),
    delCounter: db.prepare('DELETE FROM counters WHERE key = ?'),
    putDead: db.prepare('INSERT OR REPLACE INTO dead (id, record) VALUES (?, ?)'),
    delDead: db.prepare('DELETE FROM dead WHERE id = ?'),
    // Ordered as the index is (stretch, then seq: the same order as seq), so SQLite reads no further
    // than the limit and sorts nothing.
    readKey: db.prepare(
      `SELECT seq, size, json FROM entries WHERE (seq >> ${BUCKET_BITS}) IN (${STRETCHES_READ})` +
        ` AND key = ? AND seq > ? ORDER BY (seq >> ${BUCKET_BITS}), seq LIMIT ?`,
    ),
    readOldest: db.prepare('SELECT seq, key, size FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?'),
    firstFrom: db.prepare('SELECT seq FROM entries WHERE seq >= ? ORDER BY seq LIMIT 1'),
    readDead: db.prepare('SELECT record FROM dead WHERE id = ?'),
  };
}

/** Pages (4 KB) of write-ahead log that trigger a checkpoint. */
const WAL_CHECKPOINT_PAGES = 256;

/** Lets the event loop run between two store operations: SQLite runs on the main thread. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** SQLite's "database or disk is full" as the same refusal the queue gave on LevelDB. */
function storageError(err: unknown): Error {
  if (sqliteCode(err) === SQLITE_FULL) {
    return Object.assign(new Error(`No space left on device (SQLite: ${(err as Error).message})`), {
      code: 'ENOSPC',
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * A queue's entries in one SQLite database file (node:sqlite, write-ahead log, exclusive lock while
 * open). Every write is one transaction; entries, per-key counters and dead letters are tables.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private db: SqliteDatabase | undefined;
  private st: Statements | undefined;

  constructor(
    private readonly Database: SqliteConstructor,
    readonly file: string,
    private readonly options: SqliteStoreOptions = {},
  ) {}

  async open(options: OpenOptions): Promise<StoreSnapshot> {
    const dir = this.file.slice(0, Math.max(this.file.lastIndexOf('/'), this.file.lastIndexOf('\\')));
    if (dir) await fs.promises.mkdir(dir, { recursive: true });
    try {
      return await this.attempt(options, undefined);
    } catch (err) {
      if (!isDamage(err)) throw err;
      const keptAs = setAside(this.file);
      return this.attempt(options, { keptAs, reason: (err as Error).message.replace(/\s+/g, ' ') });
    }
  }

  /** Opens the file (set aside before if `damage`: then a fresh one, with what could be saved). */
  private async attempt(
    options: OpenOptions,
    damage: { keptAs: string; reason: string } | undefined,
  ): Promise<StoreSnapshot> {
    const empty = fileSize(this.file) <= 0 && fileSize(this.file + '-wal') <= 0;
    const db = await this.connect();
    try {
      checkFile(db, empty);
      db.exec(SCHEMA);
      this.db = db;
      this.st = prepare(db);
      let damaged: DamagedFile | undefined;
      if (damage) damaged = { ...damage, ...salvageInto(this.Database, damage.keptAs, db) };
      const notices: Error[] = [];
      const legacy = this.options.legacyDir;
      if (legacy && fs.existsSync(legacy)) {
        if (!this.options.importLegacy || !hasLegacyQueue(legacy)) {
          notices.push(new Error(`an older queue (LevelDB) in ${legacy} was left as it is: not imported`));
        } else {
          try {
            const carried = await this.options.importLegacy(legacy, this);
            const lost = carried.damaged > 0 ? `; ${carried.damaged} damaged parts could not be read` : '';
            notices.push(
              new Error(
                `carried ${carried.entries} queued messages and ${carried.deadLetters} dead letters over from the LevelDB buffer of an earlier version${lost}`,
              ),
            );
          } catch (err) {
            // What was written is kept (importing again is idempotent); the folder stays for a next try.
            notices.push(
              new Error(
                `the older queue (LevelDB) in ${legacy} could not be imported, left as it is: ${(err as Error).message}`,
              ),
            );
          }
        }
      }
      return { ...this.load(db, options), damaged, notices };
    } catch (err) {
      this.db = this.st = undefined;
      closeQuietly(db);
      throw err;
    }
  }

  /** Opens the file and takes its lock, waiting while the queue it replaces still holds it. */
  private async connect(): Promise<SqliteDatabase> {
    const until = Date.now() + (this.options.lockWaitMs ?? 2000);
    for (;;) {
      let db: SqliteDatabase | undefined;
      try {
        db = new this.Database(this.file);
        // Exclusive: one queue per file, and the write-ahead log index in memory (no -shm file).
        db.exec('PRAGMA locking_mode = EXCLUSIVE');
        db.exec('PRAGMA journal_mode = WAL');
        db.exec(`PRAGMA synchronous = ${this.options.durability === 'power' ? 'FULL' : 'NORMAL'}`);
        db.exec('PRAGMA journal_size_limit = 4194304');
        // A checkpoint (copying the log into the file, with an fsync) runs inside the commit that
        // passes this many pages, on the main thread: 1 MB keeps each under ~30 ms (SQLite's 4 MB
        // default held the event loop 50–80 ms at a time while queueing; bench/README.md).
        db.exec(`PRAGMA wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
        db.exec('BEGIN IMMEDIATE');
        db.exec('COMMIT');
        return db;
      } catch (err) {
        if (db) closeQuietly(db);
        const code = sqliteCode(err);
        if ((code !== SQLITE_BUSY && code !== SQLITE_LOCKED) || Date.now() >= until) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  private load(db: SqliteDatabase, options: OpenOptions): Omit<StoreSnapshot, 'damaged' | 'notices'> {
    const counters = new Map<string, KeyCounter>();
    let total = 0;
    for (const r of db.prepare('SELECT key, count, bytes FROM counters').iterate()) {
      const c = {
        key: keyFromStore(String(r.key)),
        count: Number(r.count) || 0,
        bytes: Number(r.bytes) || 0,
      };
      counters.set(c.key, c);
      total += c.count;
    }
    const last = db.prepare('SELECT max(seq) AS seq FROM entries').get()?.seq;
    const nextSeq = typeof last === 'number' ? last + 1 : 0;
    const deadIds = db
      .prepare('SELECT id FROM dead ORDER BY id')
      .all()
      .map((r) => Number(r.id));
    const inconsistent = (total === 0) !== (nextSeq === 0);
    const verify =
      inconsistent || options.verify === true || (options.verify !== false && total <= options.verify);
    if (!verify)
      return {
        counters: [...counters.values()].filter((c) => c.count > 0),
        nextSeq,
        deadIds,
        repaired: false,
      };
    const rebuilt = new Map<string, KeyCounter>();
    const grouped = 'SELECT key, count(*) AS count, sum(size) AS bytes FROM entries GROUP BY key';
    for (const r of db.prepare(grouped).iterate()) {
      rebuilt.set(keyFromStore(String(r.key)), {
        key: keyFromStore(String(r.key)),
        count: Number(r.count),
        bytes: Number(r.bytes),
      });
    }
    let repaired = rebuilt.size !== counters.size;
    for (const c of rebuilt.values()) {
      const old = counters.get(c.key);
      if (!old || old.count !== c.count || old.bytes !== c.bytes) repaired = true;
    }
    if (repaired) {
      db.exec('BEGIN');
      db.exec('DELETE FROM counters');
      for (const c of rebuilt.values()) this.st!.setCounter.run(storedKey(c.key), c.count, c.bytes);
      db.exec('COMMIT');
    }
    return { counters: [...rebuilt.values()], nextSeq, deadIds, repaired };
  }

  async write(batch: StoreBatch): Promise<void> {
    await turn();
    const db = this.opened();
    const st = this.st!;
    try {
      db.exec('BEGIN');
      for (const p of batch.puts) st.put.run(p.seq, storedKey(p.key), p.size, p.json);
      for (const [from, to] of seqRuns(batch.deletes)) st.delRange.run(from, to);
      for (const c of batch.counters) {
        if (c.count > 0) st.setCounter.run(storedKey(c.key), c.count, c.bytes);
        else st.delCounter.run(storedKey(c.key));
      }
      for (const d of batch.deadPuts) st.putDead.run(d.id, d.record);
      for (const id of batch.deadDeletes) st.delDead.run(id);
      db.exec('COMMIT');
    } catch (err) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite rolled it back itself
      }
      throw storageError(err);
    }
  }

  async readKeys(reads: KeyRead[]): Promise<StoredEntry[][]> {
    await turn();
    this.opened();
    const { readKey, firstFrom } = this.st!;
    const stretches: number[] = new Array<number>(STRETCHES_PER_READ);
    return reads.map((r) => {
      const key = storedKey(r.key);
      const out: StoredEntry[] = [];
      if (r.limit <= 0) return out;
      let after = r.afterSeq;
      let stretch = stretchOf(Math.max(0, after + 1));
      for (;;) {
        for (let i = 0; i < STRETCHES_PER_READ; i++) stretches[i] = stretch + i;
        const rows = readKey.all(...stretches, key, after, r.limit - out.length);
        for (const row of rows) {
          out.push({ seq: row.seq as number, size: row.size as number, json: row.json as string });
        }
        if (out.length >= r.limit) break;
        stretch += STRETCHES_PER_READ;
        if (rows.length > 0) {
          after = out[out.length - 1].seq;
          continue;
        }
        // None of this key's here: on from the next stretch holding anything (a key quiet for a
        // long time would otherwise walk every stretch since its last entry); none past the last.
        const next = firstFrom.get(stretch * 2 ** BUCKET_BITS)?.seq;
        if (typeof next !== 'number') break;
        stretch = stretchOf(next);
      }
      return out;
    });
  }

  async readOldest(fromSeq: number, limit: number): Promise<IndexedEntry[]> {
    await turn();
    this.opened();
    return this.st!.readOldest.all(fromSeq, limit).map((r) => ({
      seq: r.seq as number,
      key: keyFromStore(r.key as string),
      size: r.size as number,
    }));
  }

  async readDead(ids: number[]): Promise<Array<string | undefined>> {
    await turn();
    this.opened();
    const st: SqliteStatement = this.st!.readDead;
    return ids.map((id) => st.get(id)?.record as string | undefined);
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = this.st = undefined;
    db?.close();
  }

  async destroy(): Promise<void> {
    await this.close();
    await removeStoreFile(this.file);
  }

  /** `PRAGMA synchronous` as SQLite reports it (1 NORMAL, 2 FULL): what `durability` set. */
  synchronous(): number {
    return Number(this.opened().prepare('PRAGMA synchronous').get()?.synchronous);
  }

  private opened(): SqliteDatabase {
    if (!this.db) throw new Error('store not open');
    return this.db;
  }
}

/**
 * The seqs as runs of consecutive numbers, lowest first: a drain deletes entries mostly in the order
 * they were written, and one statement per run costs less than one per entry.
 */
export function seqRuns(deletes: ReadonlyArray<{ seq: number }>): Array<[number, number]> {
  const seqs = deletes.map((d) => d.seq).sort((a, b) => a - b);
  const runs: Array<[number, number]> = [];
  for (const seq of seqs) {
    const last = runs[runs.length - 1];
    if (last && seq <= last[1] + 1) last[1] = Math.max(last[1], seq);
    else runs.push([seq, seq]);
  }
  return runs;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

function closeQuietly(db: SqliteDatabase): void {
  try {
    db.close();
  } catch {
    // already closed
  }
}

/**
 * Refuses a file that is not a sound queue database: another file, one cut short, or one SQLite finds
 * damaged. A new file (or one just created) is marked as a queue's.
 */
function checkFile(db: SqliteDatabase, empty: boolean): void {
  const appId = Number(db.prepare('PRAGMA application_id').get()?.application_id);
  const tables = Number(db.prepare('SELECT count(*) AS n FROM sqlite_master').get()?.n);
  if (appId === 0 && tables === 0) {
    if (!empty) throw new DamagedStoreError('the file holds no queue (emptied or cut short)');
    db.exec(`PRAGMA application_id = ${QUEUE_APP_ID}`);
    return;
  }
  if (appId !== QUEUE_APP_ID) throw new DamagedStoreError('the file is not a queue database');
  const check = db.prepare('PRAGMA quick_check(1)').get()?.quick_check;
  if (check !== 'ok') throw new DamagedStoreError(`SQLite finds it damaged: ${String(check)}`);
}
