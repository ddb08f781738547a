import { DropReporter } from './drop-reporter';
import { DeliveryEntry } from './entry';
import { QueueClosedError, QueueFullError, toError } from './errors';
import { KeyFifo, newKeyState, type KeyState, type LiveEntry, type PendingPush } from './key-state';
import { RetryHeap } from './retry-heap';
import { removeStoreDir } from './store-dir';
import { retryDelay } from './retry-delay';
import type { KeyCounter, Store, StoreBatch } from './store';
import type {
  BufferPolicy,
  DeadLetter,
  Deliver,
  DeliveryResult,
  QueueOptions,
  QueueStats,
  RetryOptions,
} from './types';

/** MQTT packet ids are 16-bit: more unacknowledged QoS 1 publishes than this deadlock a client. */
export const MAX_INFLIGHT_LIMIT = 65535;

export interface EngineOptions<T> extends QueueOptions<T> {
  /**
   * Rebuild the persisted per-key counters from the entry index on open: always (true), never (false),
   * or when the queue holds at most this many entries (default 100 000, about 70 ms). Counters that
   * contradict the store (entries without counters or the reverse) are rebuilt whatever this says.
   */
  verifyOnOpen?: boolean | number;
  /**
   * While the platform is connected, how long an entry taken into memory at its push may wait for its
   * write, so that one delivered meanwhile is never written (default 50 ms; 0 writes at once). Its
   * push resolves when it is written or delivered, whichever comes first.
   */
  writeBehindMs?: number;
}

export interface CloseOptions {
  /** How long to wait for deliveries in flight before closing anyway (default 1000 ms). */
  drainMs?: number;
}

interface PendingDelete {
  seq: number;
  ks: KeyState;
  size: number;
  /** Delivered (acknowledged or dead-lettered), not dropped: it holds a slot of the window until written. */
  sent: boolean;
}

/** Entries read per LevelDB seek for one key at most, and per drop scan. */
const MAX_FETCH = 256;
const DROP_SCAN = 512;
/** Key reads run at once. */
const FETCH_CONCURRENCY = 64;
/** Pause before writing again after a storage write failed. */
const WRITE_RETRY_MS = 1000;

function positiveInt(name: string, value: number | undefined, fallback: number, max = Infinity): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}, not ${value}`);
  }
  return v;
}

function normalise(r: unknown): DeliveryResult {
  const kind = (r as DeliveryResult | undefined)?.kind;
  if (kind === 'ack') return r as DeliveryResult;
  if (kind === 'retryable' || kind === 'permanent') {
    return { kind, error: toError((r as { error?: unknown }).error ?? 'delivery failed') };
  }
  return { kind: 'retryable', error: new Error(`invalid delivery result: ${JSON.stringify(r)}`) };
}

/**
 * A store-and-forward queue: pushes are grouped into atomic store writes (a push resolves once its
 * entry is written, or delivered before that: see `writeBehindMs`), and a dispatcher delivers them at least once, in order per key, round-robin across
 * keys, with bounded concurrency. An entry leaves the store only when `deliver` reports an ack (or a
 * permanent failure, which moves it to the dead letters). Memory holds per-key counters and a bounded
 * read-ahead window, never the whole queue.
 *
 * All store access runs in one worker loop that alternates a write (pushes, acks, drops, dead letters)
 * and a round of key reads, so what the dispatcher knows always matches what the store holds.
 */
export class DeliveryQueue<T = unknown> {
  readonly storage: 'leveldb' | 'memory';
  /** Settles when the store is open (rejects if it cannot be opened). */
  readonly ready: Promise<void>;

  private readonly deliverFn: Deliver<T>;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly policy: BufferPolicy;
  private readonly maxInflight: number;
  private readonly perKeyInflight: number;
  private readonly readAhead: number;
  private readonly retryOptions: RetryOptions;
  private readonly deadLetterMax: number;
  private readonly random: () => number;
  private readonly dropReporter: DropReporter;
  private readonly writeBehindMs: number;
  private writeBehindTimer: NodeJS.Timeout | undefined;

  private readonly keys = new Map<string, KeyState>();
  private readonly ring = new KeyFifo('ringNext');
  private readonly fetchQueue = new KeyFifo('fetchNext');
  private readonly retryHeap = new RetryHeap();
  /** Entries read from the store: buffered, in flight or held. Bounded by `readAhead` (plus what failed back). */
  private readonly live = new Map<number, LiveEntry>();
  private readonly deleting = new Set<number>();

  private pendingPushes: PendingPush[] = [];
  private pendingPushBytes = 0;
  /** Pushes in the write under way. */
  private writingPushes = 0;
  private writingPushBytes = 0;
  private pendingDeletes: PendingDelete[] = [];
  private pendingDead: string[] = [];

  private count = 0;
  private bytes = 0;
  private nextSeq = 0;
  /** Every entry below it was dropped or was being deleted when last scanned. */
  private dropCursor = 0;
  private deadIds: number[] = [];
  private nextDeadId = 0;
  private inflight = 0;
  /**
   * Entries settled (acknowledged or dead-lettered) whose delete is not written yet. They count in the
   * inflight window, so a crash sends again at most `maxInflight` entries.
   */
  private unwritten = 0;

  private state: QueueStats['state'] = 'opening';
  private isOpen = false;
  private running = false;
  private openError: Error | undefined;
  private generation = 0;
  private working = false;
  private workScheduled = false;
  private pumpScheduled = false;
  private writeBlockedUntil = 0;
  /** A write must run even without pushes or deletes (over the bounds after reopening, dead letters cleared). */
  private writeNeeded = false;
  private clearDeadRequested = false;
  private writeRetryTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryTimerAt = 0;
  private idleWaiters: Array<() => void> = [];
  private drainWaiter: (() => void) | undefined;
  private closePromise: Promise<void> | undefined;

  private delivered = 0;
  private dropped = 0;
  private rejected = 0;
  private poisoned = 0;
  private retries = 0;

  constructor(
    private readonly store: Store,
    private readonly options: EngineOptions<T>,
  ) {
    if (typeof options.deliver !== 'function') throw new TypeError('deliver must be a function');
    this.storage = store.kind;
    this.deliverFn = options.deliver;
    this.maxEntries = positiveInt('maxEntries', options.maxEntries, 100000);
    this.maxBytes = positiveInt('maxBytes', options.maxBytes, 256 * 1024 * 1024);
    this.policy = options.policy ?? 'drop-oldest';
    if (this.policy !== 'drop-oldest' && this.policy !== 'reject') {
      throw new RangeError(`policy must be drop-oldest or reject, not ${String(this.policy)}`);
    }
    this.maxInflight = positiveInt('maxInflight', options.maxInflight, 1000, MAX_INFLIGHT_LIMIT);
    this.perKeyInflight = positiveInt('perKeyInflight', options.perKeyInflight, 1, this.maxInflight);
    this.readAhead = positiveInt('readAhead', options.readAhead, Math.max(256, 2 * this.maxInflight));
    this.retryOptions = options.retry ?? {};
    this.deadLetterMax = positiveInt('deadLetterMax', options.deadLetterMax, 1000);
    this.random = options.random ?? Math.random;
    this.writeBehindMs = Math.max(0, options.writeBehindMs ?? 50);
    this.dropReporter = new DropReporter(options.dropReportMs ?? 1000, (n) =>
      this.callback(() => options.onDrop?.(n, this.dropped)),
    );
    this.ready = this.open();
    this.ready.catch(() => undefined);
  }

  // ---- public API --------------------------------------------------------------------------------

  /** Deletes a closed queue's directory; refuses one holding files LevelDB did not write. */
  static remove(dir: string): Promise<void> {
    return removeStoreDir(dir);
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
    const size = Buffer.byteLength(json) + Buffer.byteLength(key);
    if (size > this.maxBytes) {
      this.rejected++;
      return Promise.reject(new QueueFullError('bytes', this.maxBytes));
    }
    if (this.policy === 'reject') {
      const full = this.fullFor(
        this.writingPushes + this.pendingPushes.length + 1,
        this.writingPushBytes + this.pendingPushBytes + size,
      );
      if (full) {
        this.rejected++;
        return Promise.reject(full);
      }
    } else if (this.pendingPushes.length >= this.maxEntries) {
      // Writes are far behind: the oldest waiting push would be dropped anyway.
      const oldest = this.pendingPushes.shift()!;
      this.pendingPushBytes -= oldest.size;
      this.discardPush(oldest);
      this.noteDropped(1);
      oldest.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const p: PendingPush = {
        key,
        json,
        size,
        seq: -1,
        at: Date.now(),
        resolve,
        reject,
        live: undefined,
        writing: false,
        doneWhileWriting: false,
      };
      if (this.isOpen) this.place(p);
      this.pendingPushes.push(p);
      this.pendingPushBytes += size;
      this.scheduleWork();
    });
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

  stats(): QueueStats {
    return {
      storage: this.storage,
      state: this.state,
      queued: this.count,
      bytes: this.bytes,
      pending: this.pendingPushes.length,
      inflight: this.inflight,
      keys: this.keys.size,
      delivered: this.delivered,
      dropped: this.dropped,
      rejected: this.rejected,
      poisoned: this.poisoned,
      retries: this.retries,
      deadLetters: this.deadIds.length,
    };
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

  private async open(): Promise<void> {
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
      this.isOpen = true;
      for (const p of this.pendingPushes) this.place(p);
      if (this.closePromise) return;
      this.state = this.running ? 'running' : 'paused';
      for (const ks of this.keys.values()) this.consider(ks);
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

  private async doClose(drainMs: number): Promise<void> {
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

  private clearTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.writeRetryTimer) clearTimeout(this.writeRetryTimer);
    if (this.writeBehindTimer) clearTimeout(this.writeBehindTimer);
    this.retryTimer = undefined;
    this.writeRetryTimer = undefined;
    this.writeBehindTimer = undefined;
  }

  private idle(): Promise<void> {
    if (!this.working && !this.workScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ---- the store worker --------------------------------------------------------------------------

  private hasWrites(): boolean {
    return (
      this.duePushes() > 0 ||
      this.pendingDeletes.length > 0 ||
      this.pendingDead.length > 0 ||
      this.writeNeeded
    );
  }

  /**
   * How many of the waiting pushes (oldest first) to write now: all but those from the first entry
   * in memory still within its write-behind time; all of them once closing.
   */
  private duePushes(): number {
    const pushes = this.pendingPushes;
    if (this.writeBehindMs === 0 || this.closePromise) return pushes.length;
    const now = Date.now();
    let due = 0;
    while (due < pushes.length) {
      const p = pushes[due];
      if (p.live && now - p.at < this.writeBehindMs) break;
      due++;
    }
    return due;
  }

  /** Wakes the worker when the oldest deferred push is due. */
  private armWriteBehind(): void {
    if (this.writeBehindTimer || this.pendingPushes.length === 0 || this.closePromise) return;
    const wait = this.pendingPushes[0].at + this.writeBehindMs - Date.now();
    this.writeBehindTimer = setTimeout(
      () => {
        this.writeBehindTimer = undefined;
        this.scheduleWork();
      },
      Math.max(1, wait),
    );
    this.writeBehindTimer.unref();
  }

  private canFetch(): boolean {
    return !this.closePromise && this.fetchQueue.size > 0 && this.live.size < this.readAhead;
  }

  private scheduleWork(): void {
    if (this.working || this.workScheduled || !this.isOpen) return;
    this.workScheduled = true;
    setImmediate(() => {
      this.workScheduled = false;
      void this.work();
    });
  }

  private async work(): Promise<void> {
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

  private notifyIdle(): void {
    if (this.working || this.workScheduled) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** One atomic write of everything pending, after making room for the pushes. */
  private async commit(): Promise<void> {
    const due = this.duePushes();
    const pushes = due === this.pendingPushes.length ? this.pendingPushes : this.pendingPushes.slice(0, due);
    const deletes = this.pendingDeletes;
    const dead = this.pendingDead;
    this.pendingPushes = due === this.pendingPushes.length ? [] : this.pendingPushes.slice(due);
    for (const p of pushes) this.pendingPushBytes -= p.size;
    this.pendingDeletes = [];
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

  private async writeBatch(
    pushes: PendingPush[],
    deletes: PendingDelete[],
    dead: string[],
    clearDead: boolean,
  ): Promise<void> {
    let count = this.count - deletes.length;
    let bytes = this.bytes;
    for (const d of deletes) bytes -= d.size;
    for (const p of pushes) {
      count++;
      bytes += p.size;
    }
    if (count > this.maxEntries || bytes > this.maxBytes) {
      if (this.policy === 'reject') {
        // push() checks against the counters; this catches what it could not know (pushes made before
        // the store was open, or a store reopened over a lower limit): refuse the newest.
        const accepted: PendingPush[] = [];
        count -= pushes.length;
        for (const p of pushes) bytes -= p.size;
        for (const p of pushes) {
          if (count + 1 > this.maxEntries || bytes + p.size > this.maxBytes) {
            this.rejected++;
            this.discardPush(p);
            p.reject(
              count + 1 > this.maxEntries
                ? new QueueFullError('entries', this.maxEntries)
                : new QueueFullError('bytes', this.maxBytes),
            );
          } else {
            accepted.push(p);
            count++;
            bytes += p.size;
          }
        }
        pushes = accepted;
      } else {
        const freed = await this.dropOldest(count - this.maxEntries, bytes - this.maxBytes, deletes);
        count -= freed.count;
        bytes -= freed.bytes;
        let first = 0;
        while ((count > this.maxEntries || bytes > this.maxBytes) && first < pushes.length) {
          const p = pushes[first++];
          count--;
          bytes -= p.size;
          this.discardPush(p);
          this.noteDropped(1);
          p.resolve();
        }
        if (first > 0) pushes = pushes.slice(first);
      }
    }

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
          this.deleting.add(p.seq);
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
   * A written entry can stay in memory instead of being read back when every earlier entry of its key
   * is in memory too (so order holds), its key is not backing off, and the read-ahead budget allows.
   * Keeping up with the pushes then costs no read at all.
   */
  private canKeep(ks: KeyState): boolean {
    return (
      ks.unfetched === 0 &&
      ks.backlog === 0 &&
      ks.retryAt === 0 &&
      !ks.reading &&
      this.live.size < this.readAhead
    );
  }

  private keep(ks: KeyState, p: PendingPush, stored: boolean): LiveEntry {
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

  /**
   * Gives a push (the queue is open) its seq. While the platform is connected, an entry whose key has
   * nothing waiting on disk joins the key's buffer at once: it can be delivered while it is written,
   * and one delivered before its write starts is never written at all. Otherwise it is read from the
   * store once written.
   */
  private place(p: PendingPush): void {
    p.seq = this.nextSeq++;
    const ks = this.keyState(p.key);
    if (this.running && this.canKeep(ks)) {
      p.live = this.keep(ks, p, false);
      this.consider(ks);
    } else {
      ks.backlog++;
    }
  }

  /** A push leaves without being written (dropped or refused): its entry, if in memory, goes too. */
  private discardPush(p: PendingPush): void {
    const le = p.live;
    if (!le) {
      if (p.seq >= 0) this.keyState(p.key).backlog--;
      return;
    }
    p.live = le.push = undefined;
    if (le.state === 'buffered') {
      this.live.delete(le.seq);
      const buf = le.ks.buffer!;
      buf.splice(buf.indexOf(le), 1);
      this.maybeForget(le.ks);
    } else {
      le.discarded = true;
    }
  }

  /**
   * Deletes the oldest entries not in flight until `needCount` entries and `needBytes` bytes are freed
   * (or none is left), adding the deletes to the batch being prepared.
   */
  private async dropOldest(
    needCount: number,
    needBytes: number,
    deletes: PendingDelete[],
  ): Promise<{ count: number; bytes: number }> {
    let count = 0;
    let bytes = 0;
    let cursor = this.dropCursor;
    let minSkipped = Infinity;
    const enough = (): boolean => count >= needCount && bytes >= needBytes;
    scan: while (!enough()) {
      const rows = await this.store.readOldest(cursor, DROP_SCAN);
      for (const row of rows) {
        if (enough()) break scan;
        cursor = row.seq + 1;
        if (this.deleting.has(row.seq)) continue;
        const le = this.live.get(row.seq);
        if (le && le.state !== 'buffered') {
          minSkipped = Math.min(minSkipped, row.seq);
          continue;
        }
        const ks = this.keyState(row.key);
        if (le) {
          this.live.delete(row.seq);
          const buf = ks.buffer!;
          buf.splice(buf.indexOf(le), 1);
        } else if (ks.unfetched > 0) {
          ks.unfetched--;
        }
        deletes.push({ seq: row.seq, ks, size: row.size, sent: false });
        this.deleting.add(row.seq);
        count++;
        bytes += row.size;
      }
      if (rows.length < DROP_SCAN) break;
    }
    this.dropCursor = Math.min(minSkipped, cursor);
    this.noteDropped(count);
    return { count, bytes };
  }

  /** Reads the next entries of the keys waiting for a read, within the read-ahead budget. */
  private async fetchSome(): Promise<void> {
    const perKey = Math.max(
      this.perKeyInflight,
      Math.min(MAX_FETCH, Math.floor(this.readAhead / Math.max(1, this.keys.size))),
    );
    let room = this.readAhead - this.live.size;
    const reads: Array<Promise<void>> = [];
    while (room > 0 && reads.length < FETCH_CONCURRENCY) {
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
      reads.push(
        this.store.readKey(ks.key, ks.fetchedSeq, limit).then(
          (rows) => this.fetched(ks, rows, limit),
          (err) => {
            ks.fetching = ks.reading = false;
            this.report(toError(err));
            this.backoff(ks);
          },
        ),
      );
    }
    await Promise.all(reads);
  }

  private fetched(ks: KeyState, rows: Array<{ seq: number; json: string }>, limit: number): void {
    ks.fetching = ks.reading = false;
    for (const row of rows) {
      if (row.seq <= ks.fetchedSeq) continue;
      ks.fetchedSeq = row.seq;
      // Re-read after an eviction: acknowledged, its delete not written yet.
      if (this.deleting.has(row.seq)) continue;
      ks.unfetched--;
      let body: unknown;
      let bad: Error | undefined;
      try {
        body = JSON.parse(row.json);
      } catch {
        bad = new Error('stored entry is not valid JSON');
      }
      const size = Buffer.byteLength(row.json) + Buffer.byteLength(ks.key);
      const le: LiveEntry = {
        seq: row.seq,
        ks,
        size,
        json: row.json,
        body,
        state: 'buffered',
        outcome: undefined,
        stored: true,
        push: undefined,
        discarded: false,
      };
      if (bad) {
        this.poison(le, bad);
        continue;
      }
      this.live.set(row.seq, le);
      (ks.buffer ??= []).push(le);
    }
    // Fewer than asked: the counters were ahead of the store; trust the store.
    if (rows.length < limit || ks.unfetched < 0) ks.unfetched = 0;
    if (ks.retryAt > 0) this.evict(ks);
    this.consider(ks);
    this.schedulePump();
  }

  // ---- dispatching -------------------------------------------------------------------------------

  private schedulePump(): void {
    if (this.pumpScheduled || !this.running) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.running && this.inflight + this.unwritten < this.maxInflight) {
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
  private lowWater(): number {
    return Math.max(this.perKeyInflight, MAX_FETCH >> 2);
  }

  private isReady(ks: KeyState): boolean {
    return (
      ks.retryAt === 0 &&
      !ks.failing &&
      ks.inflight < this.perKeyInflight &&
      ((ks.buffer !== null && ks.buffer.length > 0) || (ks.unfetched > 0 && !ks.fetching))
    );
  }

  private consider(ks: KeyState): void {
    if (!ks.inRing && this.isReady(ks)) {
      ks.inRing = true;
      this.ring.push(ks);
      this.schedulePump();
    }
  }

  private requestFetch(ks: KeyState): void {
    if (ks.fetching) return;
    ks.fetching = true;
    this.fetchQueue.push(ks);
    this.scheduleWork();
  }

  private dispatch(ks: KeyState, le: LiveEntry): void {
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
      (err) => this.settle(le, generation, { kind: 'retryable', error: toError(err) }),
    );
  }

  private settle(le: LiveEntry, generation: number, r: DeliveryResult): void {
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

  private hold(ks: KeyState, le: LiveEntry, r: DeliveryResult): void {
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
  private requeue(ks: KeyState, entries: LiveEntry[]): void {
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

  private backoff(ks: KeyState): void {
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
  private evict(ks: KeyState): void {
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

  private armRetryTimer(): void {
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

  private retryDue(): void {
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
  private remove(le: LiveEntry): void {
    this.live.delete(le.seq);
    const p = le.push;
    if (le.stored) {
      this.deleting.add(le.seq);
      this.pendingDeletes.push({ seq: le.seq, ks: le.ks, size: le.size, sent: true });
      this.unwritten++;
      this.scheduleWork();
    } else if (p && !p.writing) {
      le.push = p.live = undefined;
      this.pendingPushes.splice(this.pendingPushes.indexOf(p), 1);
      this.pendingPushBytes -= p.size;
      p.resolve();
      this.maybeForget(le.ks);
    } else if (p) {
      p.doneWhileWriting = true;
      this.unwritten++;
    }
  }

  private poison(le: LiveEntry, error: Error): void {
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

  // ---- helpers -----------------------------------------------------------------------------------

  private keyState(key: string): KeyState {
    let ks = this.keys.get(key);
    if (!ks) this.keys.set(key, (ks = newKeyState(key)));
    return ks;
  }

  /** Drops the bookkeeping of a key with nothing left, so idle devices cost nothing. */
  private maybeForget(ks: KeyState): void {
    if (
      ks.count === 0 &&
      ks.unfetched === 0 &&
      ks.backlog === 0 &&
      ks.inflight === 0 &&
      !ks.fetching &&
      !ks.inRing &&
      !ks.failing &&
      ks.heapIndex < 0 &&
      (ks.buffer === null || ks.buffer.length === 0) &&
      this.keys.get(ks.key) === ks
    ) {
      this.keys.delete(ks.key);
    }
  }

  private fullFor(extraCount: number, extraBytes: number): QueueFullError | undefined {
    if (this.count + extraCount > this.maxEntries) return new QueueFullError('entries', this.maxEntries);
    if (this.bytes + extraBytes > this.maxBytes) return new QueueFullError('bytes', this.maxBytes);
    return undefined;
  }

  private noteDropped(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    this.dropReporter.add(n);
  }

  private report(error: Error): void {
    this.callback(() => this.options.onError?.(error));
  }

  /** Runs an owner's callback; its exceptions must not break the queue. */
  private callback(fn: () => void): void {
    try {
      fn();
    } catch {
      // the owner's bug, not the queue's
    }
  }
}

/** The parsed JSON, or the text itself when it is not JSON (a damaged entry). */
function parseOr(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

function counterAfter(ks: KeyState, dc: number, db: number): KeyCounter {
  return { key: ks.key, count: Math.max(0, ks.count + dc), bytes: Math.max(0, ks.bytes + db) };
}
