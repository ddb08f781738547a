/** Keys a SlotMap takes: integers (any safe integer) or strings. */
export type SlotKey = number | string;

const MIN_CAPACITY = 16;

/**
 * A Map for entries that come and go once each, at the rate of messages (one per uplink, per
 * publish): slots in arrays that are replaced only when the table grows or shrinks, open addressing
 * with linear probing, a deleted slot filled again at once by the entries after it (no tombstones).
 *
 * Why not a Map: V8 rehashes a Map's table each time its deleted entries fill it, and the obsolete
 * table keeps its entries and a link to its successor (for iterators). Once one table of the chain is
 * in the old generation, every later table and every value put in the Map survives the minor
 * collections until the next major one, however short its life: in figure 2 such Maps promoted most
 * of what an uplink allocates and ran a major collection every half second (bench/README.md, "Figure
 * 2: what the young generation kept"). Here a deleted value's slot is cleared, and nothing else holds it.
 *
 * Iteration order is not insertion order; `forEach` must not add or delete (take `entries()` first).
 */
export class SlotMap<K extends SlotKey, V> {
  private keyAt: (K | undefined)[];
  private valueAt: (V | undefined)[];
  private hashAt: Int32Array;
  private mask: number;
  private count = 0;
  /** Deletes since the size was last looked at, and the most entries held since then. */
  private deletes = 0;
  private peak = 0;

  constructor(capacity = MIN_CAPACITY) {
    const size = Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(capacity)));
    this.keyAt = new Array<K | undefined>(size).fill(undefined);
    this.valueAt = new Array<V | undefined>(size).fill(undefined);
    this.hashAt = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Slots held now (a power of two; the table keeps at least twice `size`). */
  get capacity(): number {
    return this.mask + 1;
  }

  get(key: K): V | undefined {
    const i = this.find(key, slotHash(key));
    return i < 0 ? undefined : this.valueAt[i];
  }

  has(key: K): boolean {
    return this.find(key, slotHash(key)) >= 0;
  }

  set(key: K, value: V): this {
    const hash = slotHash(key);
    let i = hash & this.mask;
    for (;;) {
      const k = this.keyAt[i];
      if (k === undefined) break;
      if (k === key) {
        this.valueAt[i] = value;
        return this;
      }
      i = (i + 1) & this.mask;
    }
    if ((this.count + 1) * 2 > this.mask + 1) {
      this.resize((this.mask + 1) * 2);
      return this.set(key, value);
    }
    this.keyAt[i] = key;
    this.valueAt[i] = value;
    this.hashAt[i] = hash;
    if (++this.count > this.peak) this.peak = this.count;
    return this;
  }

  delete(key: K): boolean {
    let i = this.find(key, slotHash(key));
    if (i < 0) return false;
    const mask = this.mask;
    // Backward shift: each entry after the hole that may live there moves into it.
    for (let j = (i + 1) & mask; this.keyAt[j] !== undefined; j = (j + 1) & mask) {
      const home = this.hashAt[j] & mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      this.keyAt[i] = this.keyAt[j];
      this.valueAt[i] = this.valueAt[j];
      this.hashAt[i] = this.hashAt[j];
      i = j;
    }
    this.keyAt[i] = undefined;
    this.valueAt[i] = undefined;
    this.count--;
    if (++this.deletes >= 4 * (mask + 1)) this.fitToPeak();
    return true;
  }

  clear(): void {
    this.keyAt.fill(undefined);
    this.valueAt.fill(undefined);
    this.count = this.peak = this.deletes = 0;
  }

  forEach(fn: (value: V, key: K) => void): void {
    const keys = this.keyAt;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) fn(this.valueAt[i] as V, k);
    }
  }

  /** The entries now, in an array of their own (safe to change the map while going through it). */
  entries(): Array<[K, V]> {
    const out: Array<[K, V]> = [];
    this.forEach((v, k) => out.push([k, v]));
    return out;
  }

  /**
   * Once every four capacities' worth of deletes: a table whose entries never passed an eighth of it
   * meanwhile shrinks to four times that peak. Shrinking as soon as it is mostly empty would resize at
   * each burst (a read turn's documents come and go together).
   */
  private fitToPeak(): void {
    const capacity = this.mask + 1;
    if (this.peak * 8 < capacity && capacity > MIN_CAPACITY) {
      this.resize(Math.max(MIN_CAPACITY, 2 ** Math.ceil(Math.log2(Math.max(1, this.peak * 4)))));
    }
    this.deletes = 0;
    this.peak = this.count;
  }

  private find(key: K, hash: number): number {
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const k = this.keyAt[i];
      if (k === undefined) return -1;
      if (k === key) return i;
    }
  }

  private resize(size: number): void {
    const keys = this.keyAt;
    const values = this.valueAt;
    const hashes = this.hashAt;
    this.keyAt = new Array<K | undefined>(size).fill(undefined);
    this.valueAt = new Array<V | undefined>(size).fill(undefined);
    this.hashAt = new Int32Array(size);
    this.mask = size - 1;
    this.deletes = 0;
    this.peak = this.count;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k === undefined) continue;
      let j = hashes[i] & this.mask;
      while (this.keyAt[j] !== undefined) j = (j + 1) & this.mask;
      this.keyAt[j] = k;
      this.valueAt[j] = values[i];
      this.hashAt[j] = hashes[i];
    }
  }
}

/**
 * An integer is its own slot (its low 32 bits): keys handed out in sequence (seq, packet ids) fill
 * consecutive slots without probing. A string: FNV-1a over its UTF-16 code units.
 */
export function slotHash(key: SlotKey): number {
  if (typeof key === 'number') return key | 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h;
}
