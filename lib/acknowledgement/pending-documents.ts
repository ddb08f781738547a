import { SlotMap } from '../collections';

/**
 * Documents handed over by ThingPark that the flow still holds: how many copies are on their way
 * or in a node, and whether one was refused. A document is settled when the flow has finished with
 * every copy (safe: the out nodes it reached stored it), when a copy is refused, or at its deadline.
 * Bounded: past `max` open documents, new ones are refused at once (and counted).
 */
export type Outcome = { ok: true } | { ok: false; reason: string };

interface Pending {
  copies: number;
  sent: boolean;
  /** performance.now() past which it is refused, and the timeout it was given (for the reason). */
  deadline: number;
  timeoutMs: number;
  settle: (outcome: Outcome) => void;
}

export interface PendingStats {
  open: number;
  safe: number;
  refused: number;
  timedOut: number;
  overflow: number;
}

export class PendingDocuments {
  /** A SlotMap, not a Map: one document per uplink (lib/collections/slot-map.ts). */
  private readonly pending = new SlotMap<string, Pending>();
  readonly stats: PendingStats = { open: 0, safe: 0, refused: 0, timedOut: 0, overflow: 0 };
  /** One timer for every deadline (a timer per document cost each uplink a timer set and cleared). */
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepEveryMs = Infinity;

  constructor(private readonly max = 10000) {}

  get size(): number {
    return this.pending.size;
  }

  /** Whether the deadlines' timer runs (only while a document is open). */
  get watching(): boolean {
    return this.sweepTimer !== undefined;
  }

  /**
   * Starts following `id`; the promise settles once. Call `sent(id)` after handing the document to
   * the flow. Undefined when too many are open.
   */
  open(id: string, timeoutMs: number): Promise<Outcome> | undefined {
    if (this.pending.size >= this.max) {
      this.stats.overflow++;
      return undefined;
    }
    return new Promise<Outcome>((resolve) => {
      const p: Pending = {
        copies: 0,
        sent: false,
        deadline: performance.now() + timeoutMs,
        timeoutMs,
        settle: resolve,
      };
      this.pending.set(id, p);
      this.stats.open = this.pending.size;
      this.watch(timeoutMs);
    });
  }

  // Each of these is a no-op for an id not followed (or no longer): the hooks call them for every message.

  /** The flow's first send is over: with no copy under way, the flow had nowhere to take it. */
  sent(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.sent = true;
    if (p.copies === 0) this.finish(id, p, { ok: true });
  }

  /** A copy more is on its way to a node, or in one; false when `id` is not followed. */
  add(id: string): boolean {
    const p = this.pending.get(id);
    if (p) p.copies++;
    return p !== undefined;
  }

  /** A node has finished with a copy. */
  release(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    p.copies--;
    if (p.copies <= 0 && p.sent) this.finish(id, p, { ok: true });
  }

  /** A copy was refused (not stored): the document is not safe, whatever the other copies do. */
  refuse(id: string, reason: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.stats.refused++;
    this.finish(id, p, { ok: false, reason });
  }

  /** Settles everything still open (a redeploy or a stop): nothing was confirmed safe. */
  abandon(reason: string): void {
    for (const [id, p] of this.pending.entries()) this.finish(id, p, { ok: false, reason });
    this.stopWhenIdle();
  }

  private finish(id: string, p: Pending, outcome: Outcome): void {
    this.pending.delete(id);
    this.stats.open = this.pending.size;
    if (outcome.ok) this.stats.safe++;
    p.settle(outcome);
  }

  /** Checks the deadlines every quarter of the shortest timeout (at most every second) while any is open. */
  private watch(timeoutMs: number): void {
    const everyMs = Math.max(10, Math.min(1000, timeoutMs / 4));
    if (this.sweepTimer && everyMs >= this.sweepEveryMs) return;
    clearInterval(this.sweepTimer);
    this.sweepEveryMs = everyMs;
    this.sweepTimer = setInterval(() => this.sweep(), everyMs);
  }

  private sweep(): void {
    const now = performance.now();
    const late: Array<[string, Pending]> = [];
    this.pending.forEach((p, id) => {
      if (p.deadline <= now) late.push([id, p]);
    });
    for (const [id, p] of late.sort((a, b) => a[1].deadline - b[1].deadline)) {
      this.stats.timedOut++;
      this.finish(id, p, { ok: false, reason: `not stored within ${p.timeoutMs / 1000} s` });
    }
    this.stopWhenIdle();
  }

  private stopWhenIdle(): void {
    if (this.pending.size > 0) return;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.sweepEveryMs = Infinity;
  }
}
