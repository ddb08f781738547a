/** The storage behind a queue: LevelDB on disk, or memory when the native module cannot load. */

export interface StoredEntry {
  seq: number;
  json: string;
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
  readonly kind: 'leveldb' | 'memory';
  open(options: OpenOptions): Promise<StoreSnapshot>;
  write(batch: StoreBatch): Promise<void>;
  /** Up to `limit` entries of `key` with seq > `afterSeq`, in seq order. */
  readKey(key: string, afterSeq: number, limit: number): Promise<StoredEntry[]>;
  /** Up to `limit` entries of any key with seq ≥ `fromSeq`, in seq order. */
  readOldest(fromSeq: number, limit: number): Promise<IndexedEntry[]>;
  readDead(ids: number[]): Promise<Array<string | undefined>>;
  close(): Promise<void>;
  /** Closes (if open) and deletes everything. */
  destroy(): Promise<void>;
}
