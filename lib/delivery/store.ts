/** The storage behind a queue: SQLite on disk (node:sqlite), or memory when node:sqlite cannot load. */

export interface StoredEntry {
  seq: number;
  json: string;
  /** Bytes it counts for (JSON plus key) as written, when the store keeps it. */
  size?: number;
}

/** One key's next entries, asked of the store. */
export interface KeyRead {
  key: string;
  afterSeq: number;
  limit: number;
}

export interface IndexedEntry {
  seq: number;
  key: string;
  size: number;
}

export interface KeyCounter {
  key: string;
  count: number;
  bytes: number;
}

export interface StoreSnapshot {
  /** Keys with entries, with their persisted counters. */
  counters: KeyCounter[];
  /** Above every stored seq. */
  nextSeq: number;
  /** Dead letter ids, oldest first. */
  deadIds: number[];
  /** The persisted counters disagreed with the entries and were rebuilt. */
  repaired: boolean;
  /** The file was damaged: kept aside, and the queue started afresh with what could be saved. */
  damaged?: DamagedFile;
  /** Things the owner should hear about (reported through `onError`). */
  notices?: Error[];
}

export interface DamagedFile {
  /** Where the damaged file was moved. */
  keptAs: string;
  /** What was wrong with it. */
  reason: string;
  /** Entries saved from it into the fresh queue. */
  recovered: number;
  /** Entries it held that could not be saved; undefined when that cannot be told. */
  lost: number | undefined;
}

/** Applied atomically. */
export interface StoreBatch {
  puts: Array<{ seq: number; key: string; json: string; size: number }>;
  deletes: Array<{ seq: number; key: string }>;
  /** Counters of the keys touched, after the batch; a count of 0 removes the key's record. */
  counters: KeyCounter[];
  deadPuts: Array<{ id: number; record: string }>;
  deadDeletes: number[];
}

export interface OpenOptions {
  /** Rebuild the counters from the entries: always (true), never (false) or when at most this many entries. */
  verify: boolean | number;
}

export interface Store {
  readonly kind: 'sqlite' | 'memory';
  open(options: OpenOptions): Promise<StoreSnapshot>;
  write(batch: StoreBatch): Promise<void>;
  /** For each read, up to `limit` entries of `key` with seq > `afterSeq`, in seq order. */
  readKeys(reads: KeyRead[]): Promise<StoredEntry[][]>;
  /** Up to `limit` entries of any key with seq ≥ `fromSeq`, in seq order. */
  readOldest(fromSeq: number, limit: number): Promise<IndexedEntry[]>;
  readDead(ids: number[]): Promise<Array<string | undefined>>;
  close(): Promise<void>;
  /** Closes (if open) and deletes everything. */
  destroy(): Promise<void>;
}
