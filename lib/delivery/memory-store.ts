import type {
  IndexedEntry,
  KeyRead,
  OpenOptions,
  Store,
  StoreBatch,
  StoreSnapshot,
  StoredEntry,
} from './store';

/**
 * The fallback when node:sqlite cannot load: the same behaviour as the disk store, but entries live in
 * memory (bounded by the queue's limits) and are lost on restart.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  /** Per key, seq → JSON; Maps iterate in insertion order, which is seq order. */
  private readonly entries = new Map<string, Map<number, string>>();
  private readonly order = new Map<number, IndexedEntry>();
  private readonly dead = new Map<number, string>();
  private open_ = false;

  async open(_options: OpenOptions): Promise<StoreSnapshot> {
    this.open_ = true;
    const counters = new Map<string, { key: string; count: number; bytes: number }>();
    for (const e of this.order.values()) {
      let c = counters.get(e.key);
      if (!c) counters.set(e.key, (c = { key: e.key, count: 0, bytes: 0 }));
      c.count++;
      c.bytes += e.size;
    }
    let nextSeq = 0;
    for (const seq of this.order.keys()) nextSeq = seq + 1;
    return { counters: [...counters.values()], nextSeq, deadIds: [...this.dead.keys()], repaired: false };
  }

  async write(batch: StoreBatch): Promise<void> {
    this.check();
    for (const p of batch.puts) {
      let m = this.entries.get(p.key);
      if (!m) this.entries.set(p.key, (m = new Map()));
      m.set(p.seq, p.json);
      this.order.set(p.seq, { seq: p.seq, key: p.key, size: p.size });
    }
    for (const d of batch.deletes) {
      const m = this.entries.get(d.key);
      if (m && m.delete(d.seq) && m.size === 0) this.entries.delete(d.key);
      this.order.delete(d.seq);
    }
    for (const d of batch.deadPuts) this.dead.set(d.id, d.record);
    for (const id of batch.deadDeletes) this.dead.delete(id);
  }

  async readKeys(reads: KeyRead[]): Promise<StoredEntry[][]> {
    this.check();
    return reads.map((r) => this.readKey(r.key, r.afterSeq, r.limit));
  }

  private readKey(key: string, afterSeq: number, limit: number): StoredEntry[] {
    const out: StoredEntry[] = [];
    const m = this.entries.get(key);
    if (!m) return out;
    for (const [seq, json] of m) {
      if (seq <= afterSeq) continue;
      out.push({ seq, json });
      if (out.length >= limit) break;
    }
    return out;
  }

  async readOldest(fromSeq: number, limit: number): Promise<IndexedEntry[]> {
    this.check();
    const out: IndexedEntry[] = [];
    for (const e of this.order.values()) {
      if (e.seq < fromSeq) continue;
      out.push(e);
      if (out.length >= limit) break;
    }
    return out;
  }

  async readDead(ids: number[]): Promise<Array<string | undefined>> {
    this.check();
    return ids.map((id) => this.dead.get(id));
  }

  async close(): Promise<void> {
    this.open_ = false;
  }

  async destroy(): Promise<void> {
    this.open_ = false;
    this.entries.clear();
    this.order.clear();
    this.dead.clear();
  }

  private check(): void {
    if (!this.open_) throw new Error('store not open');
  }
}
