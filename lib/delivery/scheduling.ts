import { DeliveryEntry } from './entry';
import { DamagedEntryError, toError } from './errors';
import type { KeyState, LiveEntry, PendingPush } from './key-state';
import { QueueState } from './queue-state';
import { retryDelay } from './retry-delay';
import type { DeadLetter, DeliveryResult } from './types';

/*
 * Scheduling and retry: which entry goes out next (keys round-robin, in order within a key, within the
 * inflight window), what happens to its result (ack, retry with backoff, dead letter), and which
 * entries stay in memory rather than being read back from the store.
 */

/** Entries read per store read for one key at most. */
export const MAX_FETCH = 256;

function normalise(r: unknown): DeliveryResult {
  const kind = (r as DeliveryResult | undefined)?.kind;
  if (kind === 'ack') return r as DeliveryResult;
  // Damaged on disk, whatever the platform client made of it: sending it again cannot help.
  if ((r as { error?: unknown } | undefined)?.error instanceof DamagedEntryError)
    return { kind: 'permanent', error: (r as { error: Error }).error };
  if (kind === 'retryable' || kind === 'permanent') {
    return { kind, error: toError((r as { error?: unknown }).error ?? 'delivery failed') };
  }
  return { kind: 'retryable', error: new Error(`invalid delivery result: ${JSON.stringify(r)}`) };
}

/** The parsed JSON, or the text itself when it is not JSON (a damaged entry). */
function parseOr(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

export abstract class QueueScheduling<T> extends QueueState<T> {
  /** Wakes the store worker (persistence.ts). */
  protected abstract scheduleWork(): void;

  protected schedulePump(): void {
    if (this.pumpScheduled || !this.running) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  protected pump(): void {
    while (this.running && this.inflight + Math.max(0, this.unwritten - this.deleteHold) < this.maxInflight) {
      const ks = this.ring.shift();
      if (!ks) break;
      ks.inRing = false;
      if (!this.isReady(ks)) {
        this.maybeForget(ks);
        continue;
      }
      const buf = ks.buffer;
      if (buf && buf.length > 0) {
        this.dispatch(ks, buf.shift()!);
        if (!ks.fetching && ks.unfetched > 0 && buf.length <= this.lowWater()) this.requestFetch(ks);
      } else {
        this.requestFetch(ks);
      }
      this.consider(ks);
    }
  }

  /** Read a key's next entries when its buffer falls to this, so a busy key does not wait for the disk. */
  protected lowWater(): number {
    return Math.max(this.perKeyInflight, MAX_FETCH >> 2);
  }

  protected isReady(ks: KeyState): boolean {
    return (
      ks.retryAt === 0 &&
      !ks.failing &&
      ks.inflight < this.perKeyInflight &&
      ((ks.buffer !== null && ks.buffer.length > 0) || (ks.unfetched > 0 && !ks.fetching))
    );
  }

  protected consider(ks: KeyState): void {
    if (!ks.inRing && this.isReady(ks)) {
      ks.inRing = true;
      this.ring.push(ks);
      this.schedulePump();
    }
  }

  protected requestFetch(ks: KeyState): void {
    if (ks.fetching) return;
    ks.fetching = true;
    this.fetchQueue.push(ks);
    this.scheduleWork();
  }

  protected dispatch(ks: KeyState, le: LiveEntry): void {
    le.state = 'inflight';
    ks.inflight++;
    this.inflight++;
    const entry = new DeliveryEntry<T>(le, ks.attempts);
    const generation = this.generation;
    let result: Promise<DeliveryResult>;
    try {
      result = Promise.resolve(this.deliverFn(entry));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (r) => this.settle(le, generation, normalise(r)),
      (err) => this.settle(le, generation, normalise({ kind: 'retryable', error: toError(err) })),
    );
  }

  protected settle(le: LiveEntry, generation: number, r: DeliveryResult): void {
    if (generation !== this.generation || le.state !== 'inflight') return;
    const ks = le.ks;
    ks.inflight--;
    this.inflight--;
    if (ks.failing) {
      this.hold(ks, le, r);
    } else if (r.kind === 'ack') {
      this.delivered++;
      ks.attempts = 0;
      this.remove(le);
    } else if (r.kind === 'permanent') {
      this.poison(le, r.error);
    } else if (ks.inflight === 0) {
      this.requeue(ks, [le]);
      this.backoff(ks);
    } else {
      // Others of this key are in flight: wait for all of them, then send again in order.
      ks.failing = true;
      ks.failMin = le.seq;
      ks.held = [];
      this.hold(ks, le, r);
    }
    this.consider(ks);
    // A slot in the window is free: other keys may be waiting for it.
    if (this.ring.size > 0) this.schedulePump();
    if (this.fetchQueue.size > 0) this.scheduleWork();
    if (this.inflight === 0 && this.drainWaiter) this.drainWaiter();
  }

  protected hold(ks: KeyState, le: LiveEntry, r: DeliveryResult): void {
    le.state = 'held';
    le.outcome = r;
    ks.held!.push(le);
    if (r.kind === 'retryable' && le.seq < ks.failMin) ks.failMin = le.seq;
    if (ks.inflight > 0) return;
    // The key's flight is over: what came before the first failure stands, the rest goes again.
    const held = ks.held!.sort((a, b) => a.seq - b.seq);
    ks.held = null;
    ks.failing = false;
    const again: LiveEntry[] = [];
    for (const h of held) {
      const outcome = h.outcome!;
      h.outcome = undefined;
      if (h.seq >= ks.failMin) again.push(h);
      else if (outcome.kind === 'ack') {
        this.delivered++;
        this.remove(h);
      } else if (outcome.kind === 'permanent') this.poison(h, outcome.error);
      else again.push(h);
    }
    this.requeue(ks, again);
    this.backoff(ks);
  }

  /** Puts entries back at the front of their key's buffer, in seq order (not those whose push was refused). */
  protected requeue(ks: KeyState, entries: LiveEntry[]): void {
    const again: LiveEntry[] = [];
    for (const le of entries) {
      if (le.discarded) {
        this.live.delete(le.seq);
        continue;
      }
      le.state = 'buffered';
      again.push(le);
    }
    this.retries += again.length;
    ks.buffer = ks.buffer && ks.buffer.length > 0 ? again.concat(ks.buffer) : again;
  }

  protected backoff(ks: KeyState): void {
    ks.attempts++;
    ks.retryAt = Date.now() + retryDelay(ks.attempts, this.retryOptions, this.random);
    if (ks.heapIndex < 0) this.retryHeap.push(ks);
    this.armRetryTimer();
    this.evict(ks);
  }

  /**
   * Gives a waiting key's buffered entries back to the store (they are read again when it retries), so
   * stuck keys do not hold the read-ahead budget the others need.
   */
  protected evict(ks: KeyState): void {
    const buf = ks.buffer;
    if (ks.inflight > 0 || ks.reading || !buf || buf.length === 0) return;
    // Entries not written yet cannot be read back: the key keeps its buffer.
    if (buf.some((le) => !le.stored)) return;
    for (const le of buf) this.live.delete(le.seq);
    ks.unfetched += buf.length;
    ks.fetchedSeq = Math.min(ks.fetchedSeq, buf[0].seq - 1);
    ks.buffer = null;
    if (this.fetchQueue.size > 0) this.scheduleWork();
  }

  protected armRetryTimer(): void {
    const top = this.retryHeap.peek();
    if (this.retryTimer && (!top || top.retryAt !== this.retryTimerAt)) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (!top || this.retryTimer || this.closePromise) return;
    this.retryTimerAt = top.retryAt;
    this.retryTimer = setTimeout(() => this.retryDue(), Math.max(0, top.retryAt - Date.now()));
    this.retryTimer.unref();
  }

  protected retryDue(): void {
    this.retryTimer = undefined;
    const now = Date.now();
    for (let top = this.retryHeap.peek(); top && top.retryAt <= now; top = this.retryHeap.peek()) {
      this.retryHeap.pop();
      top.retryAt = 0;
      this.consider(top);
    }
    this.armRetryTimer();
  }

  /**
   * The entry is done (acknowledged or dead-lettered): delete it with the next write; one whose push is
   * still waiting is never written; one being written is deleted after.
   */
  protected remove(le: LiveEntry): void {
    this.live.delete(le.seq);
    const p = le.push;
    if (le.stored) {
      this.deleting.set(le.seq, true);
      this.pendingDeletes.push({ seq: le.seq, ks: le.ks, size: le.size, sent: true });
      this.unwritten++;
      this.scheduleWork();
    } else if (p && !p.writing) {
      le.push = p.live = undefined;
      // Acknowledged mostly in push order: shift() drops the first without moving the others, where
      // splice(0, 1) moved every push of the last 50 ms (~600 at 12 000/s) for each acknowledgement.
      const pushes = this.pendingPushes;
      const at = pushes.indexOf(p);
      if (at === 0) pushes.shift();
      else pushes.splice(at, 1);
      this.pendingPushBytes -= p.size;
      p.resolve();
      this.maybeForget(le.ks);
    } else if (p) {
      p.doneWhileWriting = true;
      this.unwritten++;
    }
  }

  protected poison(le: LiveEntry, error: Error): void {
    this.poisoned++;
    if (le.body === undefined) le.body = parseOr(le.json);
    const letter: DeadLetter = {
      key: le.ks.key,
      seq: le.seq,
      body: le.body,
      error: error.message || String(error),
      at: new Date().toISOString(),
      attempts: le.ks.attempts,
    };
    this.pendingDead.push(JSON.stringify(letter));
    this.remove(le);
    this.scheduleWork();
    const entry = new DeliveryEntry<T>(le, le.ks.attempts);
    this.callback(() => this.options.onPoison?.(entry, error));
  }

  protected canKeep(ks: KeyState): boolean {
    return (
      ks.unfetched === 0 &&
      ks.backlog === 0 &&
      ks.retryAt === 0 &&
      !ks.reading &&
      this.live.size < this.readAhead
    );
  }

  protected keep(ks: KeyState, p: PendingPush, stored: boolean): LiveEntry {
    const le: LiveEntry = {
      seq: p.seq,
      ks,
      size: p.size,
      json: p.json,
      body: undefined,
      state: 'buffered',
      outcome: undefined,
      stored,
      push: stored ? undefined : p,
      discarded: false,
    };
    ks.fetchedSeq = p.seq;
    this.live.set(p.seq, le);
    (ks.buffer ??= []).push(le);
    return le;
  }
}
