import { toError } from './errors';
import type { KeyState, LiveEntry, PendingPush } from './key-state';
import { QueueAdmission } from './admission';
import { DELETE_HOLD_MS, type PendingDelete } from './queue-state';
import { MAX_FETCH } from './scheduling';
import type { KeyCounter, KeyRead, StoreBatch, StoredEntry } from './store';

/*
 * Persistence: one worker loop owns every store access. It alternates one atomic write (pushes,
 * deletes of delivered or dropped entries, per-key counters, dead letters) and a round of key reads,
 * so what the dispatcher knows always matches what the store holds. A failed write refuses its pushes
 * and is retried for the rest.
 */

/** Keys read in one request to the store. */
const FETCH_KEYS = 256;
/**
 * Pushes written in one transaction at most: the store may run on the main thread (SQLite), and a
 * write of this many entries of about 1 KB holds it some 15 ms.
 */
const MAX_WRITE_PUSHES = 2000;
/** Pause before writing again after a storage write failed. */
const WRITE_RETRY_MS = 1000;

function counterAfter(ks: KeyState, dc: number, db: number): KeyCounter {
  return { key: ks.key, count: Math.max(0, ks.count + dc), bytes: Math.max(0, ks.bytes + db) };
}

export abstract class QueuePersistence<T> extends QueueAdmission<T> {
  protected hasWrites(): boolean {
    return this.duePushes() > 0 || this.pendingDead.length > 0 || this.writeNeeded || this.deletesDue();
  }

  /** Whether the pending deletes should be written now, or held for more (then a timer wakes the worker). */
  protected deletesDue(): boolean {
    const pending = this.pendingDeletes.length;
    if (pending === 0) return false;
    if (this.closePromise || pending >= this.deleteHold) return true;
    const now = Date.now();
    this.deletesHeldSince ??= now;
    const wait = this.deletesHeldSince + DELETE_HOLD_MS - now;
    if (wait <= 0) return true;
    this.wakeWorkerAt(now + wait);
    return false;
  }

  /**
   * How many of the waiting pushes (oldest first) to write now: all but those from the first entry
   * in memory still within its write-behind time (all of them once closing), at most MAX_WRITE_PUSHES.
   */
  protected duePushes(): number {
    const pushes = this.pendingPushes;
    const most = Math.min(pushes.length, MAX_WRITE_PUSHES);
    if (this.writeBehindMs === 0 || this.closePromise) return most;
    const now = Date.now();
    let due = 0;
    while (due < most) {
      const p = pushes[due];
      if (p.live && now - p.at < this.writeBehindMs) break;
      due++;
    }
    return due;
  }

  /** Wakes the worker when the oldest deferred push is due. */
  protected armWriteBehind(): void {
    if (this.pendingPushes.length === 0 || this.closePromise) return;
    this.wakeWorkerAt(this.pendingPushes[0].at + this.writeBehindMs);
  }

  /** Wakes the worker at `at` (a Date.now() time), unless it is already to be woken by then. */
  protected wakeWorkerAt(at: number): void {
    if (this.wakeTimer) {
      if (this.wakeAt <= at) return;
      clearTimeout(this.wakeTimer);
    }
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.scheduleWork();
      },
      Math.max(1, at - Date.now()),
    );
    this.wakeTimer.unref();
  }

  protected canFetch(): boolean {
    return !this.closePromise && this.fetchQueue.size > 0 && this.live.size < this.readAhead;
  }

  protected scheduleWork(): void {
    if (this.working || this.workScheduled || !this.isOpen) return;
    this.workScheduled = true;
    setImmediate(() => {
      this.workScheduled = false;
      void this.work();
    });
  }

  protected async work(): Promise<void> {
    if (this.working || this.state === 'closed') return this.notifyIdle();
    this.working = true;
    try {
      for (;;) {
        let did = false;
        if (this.hasWrites() && Date.now() >= this.writeBlockedUntil) {
          await this.commit();
          did = true;
        }
        if (this.canFetch()) {
          await this.fetchSome();
          did = true;
        }
        if (!did) break;
      }
    } catch (err) {
      this.report(toError(err));
    } finally {
      this.working = false;
      this.armWriteBehind();
      this.notifyIdle();
    }
  }

  protected notifyIdle(): void {
    if (this.working || this.workScheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** One atomic write of everything pending, after making room for the pushes. */
  protected async commit(): Promise<void> {
    const due = this.duePushes();
    const pushes = due === this.pendingPushes.length ? this.pendingPushes : this.pendingPushes.slice(0, due);
    const deletes = this.pendingDeletes;
    const dead = this.pendingDead;
    this.pendingPushes = due === this.pendingPushes.length ? [] : this.pendingPushes.slice(due);
    for (const p of pushes) this.pendingPushBytes -= p.size;
    this.pendingDeletes = [];
    this.deletesHeldSince = undefined;
    this.pendingDead = [];
    this.writeNeeded = false;
    const clearDead = this.clearDeadRequested;
    this.clearDeadRequested = false;
    this.writingPushes = pushes.length;
    this.writingPushBytes = 0;
    for (const p of pushes) {
      this.writingPushBytes += p.size;
      p.writing = true;
    }
    try {
      await this.writeBatch(pushes, deletes, dead, clearDead);
    } finally {
      this.writingPushes = this.writingPushBytes = 0;
    }
  }

  protected async writeBatch(
    pushes: PendingPush[],
    deletes: PendingDelete[],
    dead: string[],
    clearDead: boolean,
  ): Promise<void> {
    pushes = await this.withinLimits(pushes, deletes);

    const batch: StoreBatch = { puts: [], deletes: [], counters: [], deadPuts: [], deadDeletes: [] };
    const touched = new Map<KeyState, { count: number; bytes: number }>();
    const touch = (ks: KeyState, dc: number, db: number): void => {
      const t = touched.get(ks);
      if (t) {
        t.count += dc;
        t.bytes += db;
      } else touched.set(ks, { count: dc, bytes: db });
    };
    for (const p of pushes) {
      batch.puts.push({ seq: p.seq, key: p.key, json: p.json, size: p.size });
      touch(this.keyState(p.key), 1, p.size);
    }
    for (const d of deletes) {
      batch.deletes.push({ seq: d.seq, key: d.ks.key });
      touch(d.ks, -1, -d.size);
    }
    for (const [ks, t] of touched) {
      batch.counters.push(counterAfter(ks, t.count, t.bytes));
    }
    const kept = clearDead ? [] : this.deadIds;
    if (clearDead) batch.deadDeletes.push(...this.deadIds);
    const newIds = dead.map(() => this.nextDeadId++);
    const allIds = kept.concat(newIds);
    const overflow = Math.max(0, allIds.length - this.deadLetterMax);
    const removed = new Set(allIds.slice(0, overflow));
    dead.forEach((record, i) => {
      if (!removed.has(newIds[i])) batch.deadPuts.push({ id: newIds[i], record });
    });
    for (const id of kept.slice(0, overflow)) batch.deadDeletes.push(id);

    try {
      await this.store.write(batch);
    } catch (err) {
      this.writingPushes = this.writingPushBytes = 0;
      const error = toError(err);
      for (const p of pushes) {
        p.writing = false;
        if (p.doneWhileWriting) {
          // Delivered meanwhile: nothing to store, nothing to delete.
          this.unwritten--;
          p.live = undefined;
          p.resolve();
        } else {
          this.discardPush(p);
          p.reject(error);
        }
      }
      this.pendingDeletes = deletes.concat(this.pendingDeletes);
      this.pendingDead = dead.concat(this.pendingDead);
      if (clearDead) this.clearDeadRequested = this.writeNeeded = true;
      for (const ks of touched.keys()) this.maybeForget(ks);
      this.report(error);
      this.writeBlockedUntil = Date.now() + WRITE_RETRY_MS;
      if (this.writeRetryTimer) clearTimeout(this.writeRetryTimer);
      if (!this.closePromise) {
        this.writeRetryTimer = setTimeout(() => {
          this.writeRetryTimer = undefined;
          // The pause is over even if Date.now() lags the timer clock by a millisecond.
          this.writeBlockedUntil = 0;
          this.scheduleWork();
        }, WRITE_RETRY_MS);
        this.writeRetryTimer.unref();
      }
      return;
    }
    // Before resolving: a caller continuing at once must see these in the counters, not twice.
    this.writingPushes = this.writingPushBytes = 0;

    for (const [ks, t] of touched) {
      ks.count = Math.max(0, ks.count + t.count);
      ks.bytes = Math.max(0, ks.bytes + t.bytes);
    }
    for (const p of pushes) {
      const ks = this.keyState(p.key);
      this.count++;
      this.bytes += p.size;
      p.writing = false;
      const le = p.live;
      if (le) {
        le.stored = true;
        le.push = p.live = undefined;
        if (p.doneWhileWriting) {
          // Its window slot was taken when it settled; the delete frees it.
          this.deleting.set(p.seq, true);
          this.pendingDeletes.push({ seq: p.seq, ks, size: p.size, sent: true });
        }
      } else {
        ks.backlog--;
        if (this.canKeep(ks)) this.keep(ks, p, true);
        else ks.unfetched++;
      }
      p.resolve();
    }
    let freed = 0;
    for (const d of deletes) {
      this.deleting.delete(d.seq);
      this.count--;
      this.bytes -= d.size;
      if (d.sent) freed++;
    }
    this.unwritten -= freed;
    if (freed > 0 && this.ring.size > 0) this.schedulePump();
    this.deadIds = allIds.slice(overflow);
    for (const ks of touched.keys()) {
      this.consider(ks);
      this.maybeForget(ks);
    }
    if (pushes.length > 0) this.schedulePump();
  }

  /**
   * Reads the next entries of the keys waiting for a read, within the read-ahead budget: up to
   * FETCH_KEYS keys in one request to the store (a draining backlog of a thousand devices reads a few
   * entries of each).
   */
  protected async fetchSome(): Promise<void> {
    const perKey = Math.max(
      this.perKeyInflight,
      Math.min(MAX_FETCH, Math.floor(this.readAhead / Math.max(1, this.keys.size))),
    );
    let room = this.readAhead - this.live.size;
    const keys: KeyState[] = [];
    const reads: KeyRead[] = [];
    while (room > 0 && reads.length < FETCH_KEYS) {
      const ks = this.fetchQueue.shift();
      if (!ks) break;
      // A key backing off reads again when its retry is due.
      if (ks.unfetched <= 0 || ks.retryAt > 0) {
        ks.fetching = false;
        this.consider(ks);
        this.maybeForget(ks);
        continue;
      }
      const limit = Math.min(ks.unfetched, perKey, room);
      room -= limit;
      ks.reading = true;
      keys.push(ks);
      reads.push({ key: ks.key, afterSeq: ks.fetchedSeq, limit });
    }
    if (reads.length === 0) return;
    let rows: StoredEntry[][];
    try {
      rows = await this.store.readKeys(reads);
    } catch (err) {
      this.report(toError(err));
      for (const ks of keys) {
        ks.fetching = ks.reading = false;
        this.backoff(ks);
      }
      return;
    }
    keys.forEach((ks, i) => this.fetched(ks, rows[i] ?? [], reads[i].limit));
  }

  protected fetched(ks: KeyState, rows: StoredEntry[], limit: number): void {
    ks.fetching = ks.reading = false;
    for (const row of rows) {
      if (row.seq <= ks.fetchedSeq) continue;
      ks.fetchedSeq = row.seq;
      // Re-read after an eviction: acknowledged, its delete not written yet.
      if (this.deleting.has(row.seq)) continue;
      ks.unfetched--;
      const le: LiveEntry = {
        seq: row.seq,
        ks,
        size: row.size ?? Buffer.byteLength(row.json) + Buffer.byteLength(ks.key),
        json: row.json,
        body: undefined,
        state: 'buffered',
        outcome: undefined,
        stored: true,
        push: undefined,
        discarded: false,
      };
      this.live.set(row.seq, le);
      (ks.buffer ??= []).push(le);
    }
    // Fewer than asked: the counters were ahead of the store; trust the store.
    if (rows.length < limit || ks.unfetched < 0) ks.unfetched = 0;
    if (ks.retryAt > 0) this.evict(ks);
    this.consider(ks);
    this.schedulePump();
  }
}
