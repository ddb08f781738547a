import { SlotMap } from '../collections';
import { DropReporter } from './drop-reporter';
import { QueueFullError } from './errors';
import { KeyFifo, newKeyState, type KeyState, type LiveEntry, type PendingPush } from './key-state';
import { RetryHeap } from './retry-heap';
import type { Store } from './store';
import type { BufferPolicy, Deliver, QueueOptions, QueueStats, RetryOptions } from './types';

/*
 * What a queue knows and counts: its settings, the per-key bookkeeping, the entries in memory, the
 * writes waiting, and the statistics. The layers above (scheduling.ts, admission.ts, persistence.ts,
 * delivery-queue.ts) each add one job on this state.
 */

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

export interface PendingDelete {
  seq: number;
  ks: KeyState;
  size: number;
  /** Delivered (acknowledged or dead-lettered), not dropped: it holds a slot of the window until written. */
  sent: boolean;
}

/**
 * A write of nothing but deletes waits for this many (at most half the window), or this long: a drained
 * backlog is deleted per device from a table filled in arrival order, so nearly every delete lands on a
 * page of its own, and SQLite writes each page a commit touches (to the WAL, then the checkpoint).
 * Fewer, larger commits write each page fewer times.
 */
const DELETE_HOLD_COUNT = 600;
export const DELETE_HOLD_MS = 25;

function positiveInt(name: string, value: number | undefined, fallback: number, max = Infinity): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`${name} must be an integer from 1 to ${max}, not ${value}`);
  }
  return v;
}

export abstract class QueueState<T> {
  readonly storage: Store['kind'];
  /** Settles when the store is open (rejects if it cannot be opened). */
  abstract readonly ready: Promise<void>;

  protected readonly deliverFn: Deliver<T>;
  protected readonly maxEntries: number;
  protected readonly maxBytes: number;
  protected readonly policy: BufferPolicy;
  protected readonly maxInflight: number;
  protected readonly perKeyInflight: number;
  protected readonly readAhead: number;
  protected readonly retryOptions: RetryOptions;
  protected readonly deadLetterMax: number;
  protected readonly random: () => number;
  protected readonly dropReporter: DropReporter;
  protected readonly writeBehindMs: number;
  /** Wakes the worker for what it left waiting: the write-behind of pushes, the hold of deletes. */
  protected wakeTimer: NodeJS.Timeout | undefined;
  protected wakeAt = 0;

  // SlotMaps, not Maps: a key and an entry come and go with each uplink (lib/collections/slot-map.ts).
  protected readonly keys = new SlotMap<string, KeyState>();
  protected readonly ring = new KeyFifo('ringNext');
  protected readonly fetchQueue = new KeyFifo('fetchNext');
  protected readonly retryHeap = new RetryHeap();
  /** Entries read from the store: buffered, in flight or held. Bounded by `readAhead` (plus what failed back). */
  protected readonly live = new SlotMap<number, LiveEntry>();
  /** Seqs whose delete is pending or being written. */
  protected readonly deleting = new SlotMap<number, true>();

  protected pendingPushes: PendingPush[] = [];
  protected pendingPushBytes = 0;
  /** Pushes in the write under way. */
  protected writingPushes = 0;
  protected writingPushBytes = 0;
  protected pendingDeletes: PendingDelete[] = [];
  /** When the worker first held back the pending deletes for a larger write. */
  protected deletesHeldSince: number | undefined;
  protected pendingDead: string[] = [];

  protected count = 0;
  protected bytes = 0;
  protected nextSeq = 0;
  /** Every entry below it was dropped or was being deleted when last scanned. */
  protected dropCursor = 0;
  protected deadIds: number[] = [];
  protected nextDeadId = 0;
  protected inflight = 0;
  /**
   * Entries settled (acknowledged or dead-lettered) whose delete is not written yet. Beyond the
   * `deleteHold` held for a larger write, they take room in the inflight window: a crash sends again
   * at most `maxInflight + deleteHold` entries.
   */
  protected unwritten = 0;
  /** Deletes held back for one larger write (SQLite: see DELETE_HOLD_COUNT), outside the window. */
  protected readonly deleteHold: number;

  protected state: QueueStats['state'] = 'opening';
  protected isOpen = false;
  protected running = false;
  protected openError: Error | undefined;
  protected generation = 0;
  protected working = false;
  protected workScheduled = false;
  protected pumpScheduled = false;
  protected writeBlockedUntil = 0;
  /** A write must run even without pushes or deletes (over the bounds after reopening, dead letters cleared). */
  protected writeNeeded = false;
  protected clearDeadRequested = false;
  protected writeRetryTimer: NodeJS.Timeout | undefined;
  protected retryTimer: NodeJS.Timeout | undefined;
  protected retryTimerAt = 0;
  protected idleWaiters: Array<() => void> = [];
  protected drainWaiter: (() => void) | undefined;
  protected closePromise: Promise<void> | undefined;

  protected delivered = 0;
  protected dropped = 0;
  protected rejected = 0;
  protected poisoned = 0;
  protected retries = 0;

  constructor(
    protected readonly store: Store,
    protected readonly options: EngineOptions<T>,
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
    this.deleteHold =
      store.kind === 'sqlite' ? Math.min(DELETE_HOLD_COUNT, Math.floor(this.maxInflight / 2)) : 0;
    this.retryOptions = options.retry ?? {};
    this.deadLetterMax = positiveInt('deadLetterMax', options.deadLetterMax, 1000);
    this.random = options.random ?? Math.random;
    this.writeBehindMs = Math.max(0, options.writeBehindMs ?? 50);
    this.dropReporter = new DropReporter(options.dropReportMs ?? 1000, (n) =>
      this.callback(() => options.onDrop?.(n, this.dropped)),
    );
  }

  // ---- statistics and helpers -------------------------------------------------------------------

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

  protected keyState(key: string): KeyState {
    let ks = this.keys.get(key);
    if (!ks) this.keys.set(key, (ks = newKeyState(key)));
    return ks;
  }

  /** Drops the bookkeeping of a key with nothing left, so idle devices cost nothing. */
  protected maybeForget(ks: KeyState): void {
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

  protected fullFor(extraCount: number, extraBytes: number): QueueFullError | undefined {
    if (this.count + extraCount > this.maxEntries) return new QueueFullError('entries', this.maxEntries);
    if (this.bytes + extraBytes > this.maxBytes) return new QueueFullError('bytes', this.maxBytes);
    return undefined;
  }

  protected noteDropped(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    this.dropReporter.add(n);
  }

  protected report(error: Error): void {
    this.callback(() => this.options.onError?.(error));
  }

  /** Runs an owner's callback; its exceptions must not break the queue. */
  protected callback(fn: () => void): void {
    try {
      fn();
    } catch {
      // the owner's bug, not the queue's
    }
  }
}
