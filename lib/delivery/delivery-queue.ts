import { QueueClosedError, toError } from './errors';
import { QueuePersistence } from './persistence';
import type { CloseOptions, EngineOptions } from './queue-state';
import { removeStoreFile } from './store-file';
import type { Store } from './store';
import type { DeadLetter } from './types';

export { MAX_INFLIGHT_LIMIT, type CloseOptions, type EngineOptions } from './queue-state';

/**
 * A store-and-forward queue. How an entry travels:
 *
 * 1. `push` → admission.ts: refused if it cannot fit (policy `reject`), else given its seq; when its
 *    key has nothing waiting on disk and the platform is connected, it is kept in memory to go out at once.
 * 2. persistence.ts: the worker writes waiting pushes in one atomic batch (after `writeBehindMs` when
 *    kept in memory: one delivered meanwhile is never written), holding the queue to its bounds
 *    (dropping the oldest under `drop-oldest`); the push resolves once written or delivered.
 * 3. scheduling.ts: keys take turns (round-robin), entries of one key go in push order, at most
 *    `maxInflight` at once; a key's entries are read from the store ahead of need when not in memory.
 * 4. scheduling.ts: an ack deletes the entry with the next write; a retryable failure backs the key off
 *    (its entries go again in order); a permanent one moves the entry to the dead letters.
 *
 * Memory holds per-key counters and a bounded read-ahead window (queue-state.ts), never the whole
 * queue. Entries still in flight at `close` stay in the store and go again after reopening.
 */
export class DeliveryQueue<T = unknown> extends QueuePersistence<T> {
  readonly ready: Promise<void>;

  constructor(store: Store, options: EngineOptions<T>) {
    super(store, options);
    this.ready = this.open();
    this.ready.catch(() => undefined);
  }

  /** Deletes a closed queue's database file; refuses a file that is not a queue's. */
  static remove(file: string): Promise<void> {
    return removeStoreFile(file);
  }

  /**
   * Adds an entry after the others of its key. Resolves once the entry is in the store, or delivered
   * (acknowledged or dead-lettered) before it was written; rejects with a
   * `QueueFullError` (policy `reject`, or an entry larger than `maxBytes`), a `QueueClosedError`, a
   * `TypeError` for a body that is not JSON, or the storage error.
   */
  push(key: string, body: T): Promise<void> {
    let json: string | undefined;
    try {
      json = JSON.stringify(body);
    } catch (err) {
      return Promise.reject(toError(err));
    }
    if (json === undefined) return Promise.reject(new TypeError('queue entry body is not JSON-serialisable'));
    return this.pushJson(key, json);
  }

  /**
   * `push` of a body already serialised, e.g. by a caller that measured it: `json` must be what
   * `JSON.stringify` returned for a `T`. It is stored and handed to `deliver` as it is.
   */
  pushJson(key: string, json: string): Promise<void> {
    if (this.closePromise) return Promise.reject(new QueueClosedError());
    if (this.openError) return Promise.reject(this.openError);
    if (typeof key !== 'string') return Promise.reject(new TypeError('queue entry key must be a string'));
    if (typeof json !== 'string') return Promise.reject(new TypeError('queue entry JSON must be a string'));
    return this.admit(key, json);
  }

  /** Starts (or resumes) delivering; call when the platform connection is up. Keys backing off retry now. */
  start(): void {
    if (this.closePromise || this.openError) return;
    this.running = true;
    if (this.state === 'paused') this.state = 'running';
    for (const ks of this.retryHeap.drain()) {
      ks.retryAt = 0;
      ks.attempts = 0;
      this.consider(ks);
    }
    this.armRetryTimer();
    this.kick();
  }

  /** Stops handing out new deliveries (the connection is down); those in flight still settle. */
  pause(): void {
    this.running = false;
    if (this.state === 'running') this.state = 'paused';
  }

  /** Wakes the dispatcher (pushes do this themselves). */
  kick(): void {
    this.schedulePump();
    this.scheduleWork();
  }

  /** Entries in the queue, in flight included. */
  get length(): number {
    return this.count;
  }

  /** Bytes in the queue (body JSON plus key). */
  get byteLength(): number {
    return this.bytes;
  }

  /** The newest dead letters (at most `limit`), oldest first. */
  async deadLetters(limit = this.deadLetterMax): Promise<DeadLetter[]> {
    await this.ready;
    await this.idle();
    if (this.state === 'closed') throw new QueueClosedError();
    const ids = this.deadIds.slice(Math.max(0, this.deadIds.length - limit));
    const records = await this.store.readDead(ids);
    const out: DeadLetter[] = [];
    for (const r of records) {
      if (r === undefined) continue;
      try {
        out.push(JSON.parse(r) as DeadLetter);
      } catch {
        // a damaged record is skipped, not fatal
      }
    }
    return out;
  }

  /** Forgets every dead letter. */
  async clearDeadLetters(): Promise<void> {
    await this.ready;
    if (this.closePromise) throw new QueueClosedError();
    this.clearDeadRequested = true;
    this.writeNeeded = true;
    this.scheduleWork();
    await this.idle();
  }

  /**
   * Forgets the dead letters of these seqs (see `DeadLetter.seq`); the others stay, in order.
   * Resolves to how many were forgotten.
   */
  async discardDeadLetters(seqs: readonly number[]): Promise<number> {
    const drop = new Set(seqs);
    for (;;) {
      const ids = this.deadIds;
      const letters = await this.deadLetters();
      const now = this.deadIds;
      // Dead letters written meanwhile: read again, or the rewrite below would lose them.
      if (this.working || now.length !== ids.length || now[0] !== ids[0] || now.at(-1) !== ids.at(-1))
        continue;
      const kept = letters.filter((l) => !drop.has(l.seq));
      if (kept.length === letters.length) return 0;
      this.clearDeadRequested = true;
      this.pendingDead.unshift(...kept.map((l) => JSON.stringify(l)));
      this.writeNeeded = true;
      this.scheduleWork();
      await this.idle();
      return letters.length - kept.length;
    }
  }

  /**
   * Stops dispatching, waits up to `drainMs` for deliveries in flight, writes what is pending and
   * closes the store. Entries still in flight afterwards stay queued and are sent again after reopening.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.closePromise) this.closePromise = this.doClose(options.drainMs ?? 1000);
    return this.closePromise;
  }

  /** Closes without waiting for deliveries and deletes the store. */
  async destroy(): Promise<void> {
    await this.close({ drainMs: 0 });
    await this.store.destroy();
  }

  // ---- opening and closing -----------------------------------------------------------------------

  protected async open(): Promise<void> {
    try {
      const snapshot = await this.store.open({ verify: this.options.verifyOnOpen ?? 100000 });
      for (const c of snapshot.counters) {
        const ks = this.keyState(c.key);
        ks.count = c.count;
        ks.bytes = c.bytes;
        ks.unfetched = c.count;
        this.count += c.count;
        this.bytes += c.bytes;
      }
      this.nextSeq = snapshot.nextSeq;
      this.deadIds = snapshot.deadIds;
      this.nextDeadId = snapshot.deadIds.length > 0 ? snapshot.deadIds[snapshot.deadIds.length - 1] + 1 : 0;
      if (snapshot.repaired)
        this.report(new Error('queue counters did not match the stored entries: rebuilt'));
      const damaged = snapshot.damaged;
      if (damaged) this.callback(() => this.options.onDamaged?.(damaged));
      for (const notice of snapshot.notices ?? []) this.report(notice);
      this.isOpen = true;
      for (const p of this.pendingPushes) this.place(p);
      if (this.closePromise) return;
      this.state = this.running ? 'running' : 'paused';
      this.keys.forEach((ks) => this.consider(ks));
      if (this.options.autoStart) this.start();
      if (this.count > this.maxEntries || this.bytes > this.maxBytes) this.writeNeeded = true;
      this.scheduleWork();
    } catch (err) {
      this.state = 'failed';
      this.openError = toError(err);
      for (const p of this.pendingPushes.splice(0)) p.reject(this.openError);
      this.pendingPushBytes = 0;
      throw this.openError;
    }
  }

  protected async doClose(drainMs: number): Promise<void> {
    this.running = false;
    this.state = 'closing';
    this.clearTimers();
    await this.ready.catch(() => undefined);
    if (this.openError) {
      this.state = 'closed';
      return;
    }
    if (this.inflight > 0 && drainMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, drainMs);
        this.drainWaiter = done;
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
      });
      this.drainWaiter = undefined;
    }
    // Late results are ignored from here: those entries stay in the store and are sent again.
    this.generation++;
    this.writeBlockedUntil = 0;
    for (let i = 0; i < 3 && this.hasWrites(); i++) {
      this.scheduleWork();
      await this.idle();
    }
    await this.idle();
    this.clearTimers();
    for (const p of this.pendingPushes.splice(0)) p.reject(new QueueClosedError());
    this.dropReporter.flush();
    this.state = 'closed';
    this.isOpen = false;
    await this.store.close();
  }

  protected clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.writeRetryTimer) clearTimeout(this.writeRetryTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.retryTimer = undefined;
    this.writeRetryTimer = undefined;
    this.wakeTimer = undefined;
  }

  protected idle(): Promise<void> {
    if (!this.working && !this.workScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
}
