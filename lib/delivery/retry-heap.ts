import type { KeyState } from './key-state';

/** Keys backing off, earliest `retryAt` first (a binary min-heap; one timer serves them all). */
export class RetryHeap {
  private readonly items: KeyState[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): KeyState | undefined {
    return this.items[0];
  }

  push(ks: KeyState): void {
    ks.heapIndex = this.items.length;
    this.items.push(ks);
    this.up(ks.heapIndex);
  }

  pop(): KeyState | undefined {
    const top = this.items[0];
    if (top) this.removeAt(0);
    return top;
  }

  /** Empties the heap, returning its keys. */
  drain(): KeyState[] {
    const all = this.items.splice(0);
    for (const ks of all) ks.heapIndex = -1;
    return all;
  }

  private removeAt(i: number): void {
    const items = this.items;
    const removed = items[i];
    const last = items.pop()!;
    removed.heapIndex = -1;
    if (i === items.length) return;
    items[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  private up(i: number): void {
    const items = this.items;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].retryAt <= items[i].retryAt) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const items = this.items;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < items.length && items[l].retryAt < items[m].retryAt) m = l;
      if (r < items.length && items[r].retryAt < items[m].retryAt) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(a: number, b: number): void {
    const items = this.items;
    const t = items[a];
    items[a] = items[b];
    items[b] = t;
    items[a].heapIndex = a;
    items[b].heapIndex = b;
  }
}
