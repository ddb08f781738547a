import * as fs from 'fs';
import type { ClassicLevel } from 'classic-level';
import {
  COUNTERS,
  DEAD,
  INDEX,
  counterKey,
  counterValue,
  deadKey,
  entryKey,
  entryRange,
  indexKey,
  indexValue,
  parseCounterValue,
  parseHex16,
  parseIndexValue,
  seqOfEntryKey,
} from './level-keys';
import type {
  IndexedEntry,
  KeyCounter,
  OpenOptions,
  Store,
  StoreBatch,
  StoreSnapshot,
  StoredEntry,
} from './store';
import { removeStoreDir } from './store-dir';

export type LevelConstructor = typeof ClassicLevel;

/** LevelDB memory and file settings. */
export interface LevelOptions {
  /** Block cache, bytes (default 2 MiB; LevelDB's own default is 8 MiB). */
  cacheSize?: number;
  /** Memtable size before it is written to a table file, bytes (default 2 MiB; two may exist at once). */
  writeBufferSize?: number;
  maxOpenFiles?: number;
}

const LEVEL_DEFAULTS: LevelOptions = { cacheSize: 2 * 1024 * 1024, writeBufferSize: 2 * 1024 * 1024 };

type Db = ClassicLevel<string, string>;
type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

const CHUNK = 1000;

/** A queue's entries in LevelDB (see level-keys.ts for the layout); every write is one atomic batch. */
export class LevelStore implements Store {
  readonly kind = 'leveldb' as const;
  private db: Db | undefined;
  private reopenBeforeWrite = false;

  constructor(
    private readonly Level: LevelConstructor,
    readonly dir: string,
    /** fsync each batch: survives power loss, not only a killed process. */
    private readonly sync = false,
    private readonly levelOptions: LevelOptions = {},
    /** How long to wait for a lock held by the queue being replaced (a redeploy closing it). */
    private readonly lockWaitMs = 2000,
  ) {}

  async open(options: OpenOptions): Promise<StoreSnapshot> {
    await fs.promises.mkdir(this.dir, { recursive: true });
    const db = this.createDb();
    const until = Date.now() + this.lockWaitMs;
    for (;;) {
      try {
        await db.open();
        break;
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause;
        if (cause?.code !== 'LEVEL_LOCKED' || Date.now() >= until) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    this.db = db;
    try {
      return await this.load(db, options);
    } catch (err) {
      this.db = undefined;
      await db.close().catch(() => undefined);
      throw err;
    }
  }

  private createDb(): Db {
    return new this.Level<string, string>(this.dir, {
      ...LEVEL_DEFAULTS,
      ...this.levelOptions,
      keyEncoding: 'utf8',
      valueEncoding: 'utf8',
    });
  }

  private async load(db: Db, options: OpenOptions): Promise<StoreSnapshot> {
    const counters = new Map<string, KeyCounter>();
    let total = 0;
    await eachChunk(db, COUNTERS, (rows) => {
      for (const [k, v] of rows) {
        const { count, bytes } = parseCounterValue(v);
        const key = k.slice(2);
        counters.set(key, { key, count, bytes });
        total += count;
      }
    });
    const last = await db.keys({ ...INDEX, reverse: true, limit: 1 }).all();
    const nextSeq = last.length > 0 ? parseHex16(last[0].slice(2)) + 1 : 0;
    const deadIds = (await db.keys(DEAD).all()).map((k) => parseHex16(k.slice(2)));
    const inconsistent = (total === 0) !== (last.length === 0);
    const verify =
      inconsistent || options.verify === true || (options.verify !== false && total <= options.verify);
    let repaired = false;
    let result = [...counters.values()];
    if (verify) {
      const rebuilt = await this.rebuild(db);
      const ops: Op[] = [];
      for (const c of rebuilt.values()) {
        const old = counters.get(c.key);
        if (!old || old.count !== c.count || old.bytes !== c.bytes) {
          ops.push({ type: 'put', key: counterKey(c.key), value: counterValue(c.count, c.bytes) });
        }
      }
      for (const key of counters.keys()) {
        if (!rebuilt.has(key)) ops.push({ type: 'del', key: counterKey(key) });
      }
      if (ops.length > 0) {
        await db.batch(ops, { sync: this.sync });
        repaired = true;
        result = [...rebuilt.values()];
      }
    }
    return { counters: result.filter((c) => c.count > 0), nextSeq, deadIds, repaired };
  }

  /** Counters recomputed from the global index. */
  private async rebuild(db: Db): Promise<Map<string, KeyCounter>> {
    const counters = new Map<string, KeyCounter>();
    await eachChunk(db, INDEX, (rows) => {
      for (const [, v] of rows) {
        const { key, size } = parseIndexValue(v);
        let c = counters.get(key);
        if (!c) counters.set(key, (c = { key, count: 0, bytes: 0 }));
        c.count++;
        c.bytes += size;
      }
    });
    return counters;
  }

  async write(batch: StoreBatch): Promise<void> {
    if (this.reopenBeforeWrite) await this.reopen();
    // A chained batch goes straight to the native batch: cheaper per operation than an array.
    const b = this.opened().batch();
    try {
      for (const p of batch.puts) {
        b.put(entryKey(p.key, p.seq), p.json);
        b.put(indexKey(p.seq), indexValue(p.key, p.size));
      }
      for (const d of batch.deletes) {
        b.del(entryKey(d.key, d.seq));
        b.del(indexKey(d.seq));
      }
      for (const c of batch.counters) {
        if (c.count > 0) b.put(counterKey(c.key), counterValue(c.count, c.bytes));
        else b.del(counterKey(c.key));
      }
      for (const d of batch.deadPuts) b.put(deadKey(d.id), d.record);
      for (const id of batch.deadDeletes) b.del(deadKey(id));
    } catch (err) {
      await b.close();
      throw err;
    }
    if (b.length === 0) return b.close();
    try {
      await b.write({ sync: this.sync });
    } catch (err) {
      this.reopenBeforeWrite = true;
      throw err;
    }
  }

  /**
   * After a failed write (disk full), LevelDB must not be written again as it is: its log may end in
   * a torn record, after which the next records are dropped when the log is replayed on the next
   * open (entries acknowledged as stored, lost), and a failed compaction refuses every write until
   * reopened. Reopening replays the log up to the torn record and starts a new one; while the disk
   * is still full it fails, and so does the write, which the queue retries.
   */
  private async reopen(): Promise<void> {
    const old = this.db;
    this.db = undefined;
    await old?.close().catch(() => undefined);
    const db = this.createDb();
    try {
      await db.open();
    } catch (err) {
      // "Database failed to open" says less than its cause (the disk still full).
      throw (err as { cause?: Error }).cause ?? err;
    }
    this.db = db;
    this.reopenBeforeWrite = false;
  }

  async readKey(key: string, afterSeq: number, limit: number): Promise<StoredEntry[]> {
    const rows = await this.opened()
      .iterator({ ...entryRange(key, afterSeq), limit })
      .all();
    return rows.map(([k, json]) => ({ seq: seqOfEntryKey(k), json }));
  }

  async readOldest(fromSeq: number, limit: number): Promise<IndexedEntry[]> {
    const rows = await this.opened()
      .iterator({ gte: indexKey(fromSeq), lt: INDEX.lt, limit })
      .all();
    return rows.map(([k, v]) => ({ seq: parseHex16(k.slice(2)), ...parseIndexValue(v) }));
  }

  readDead(ids: number[]): Promise<Array<string | undefined>> {
    return this.opened().getMany(ids.map(deadKey));
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db) await db.close();
  }

  async destroy(): Promise<void> {
    await this.close();
    await removeStoreDir(this.dir);
  }

  private opened(): Db {
    if (!this.db) throw new Error('store not open');
    return this.db;
  }
}

async function eachChunk(
  db: Db,
  range: { gte: string; lt: string },
  onRows: (rows: Array<[string, string]>) => void,
): Promise<void> {
  const it = db.iterator(range);
  try {
    for (;;) {
      const rows = await it.nextv(CHUNK);
      if (rows.length === 0) break;
      onRows(rows);
    }
  } finally {
    await it.close();
  }
}
