import type { DamagedFile } from './store';

/** What the platform client answers for one entry. */
export type DeliveryResult =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retryable'; readonly error: Error }
  | { readonly kind: 'permanent'; readonly error: Error };

const ACK: DeliveryResult = Object.freeze({ kind: 'ack' });

/** The platform acknowledged the entry (MQTT PUBACK, AlwaysOn 0x40): it leaves the queue. */
export function ack(): DeliveryResult {
  return ACK;
}

/** The entry could not be delivered now (connection lost, timeout, 5xx): it is sent again later. */
export function retryable(error: Error): DeliveryResult {
  return { kind: 'retryable', error };
}

/** The platform refuses the entry for good: it is moved to the dead letters and the queue goes on. */
export function permanent(error: Error): DeliveryResult {
  return { kind: 'permanent', error };
}

/** One queued entry as handed to `deliver`. */
export interface QueueEntry<T = unknown> {
  /** The ordering key (the device id): entries of one key are delivered in push order. */
  readonly key: string;
  /** The body, parsed from `json` when first read. */
  readonly body: T;
  /** The body as stored: JSON text, ready to send without serialising it again. */
  readonly json: string;
  /** Position in the queue; unique within one store, increasing with push order. */
  readonly seq: number;
  /** Consecutive failed attempts of this key before this one (0 when the key is healthy). */
  readonly attempts: number;
}

export type Deliver<T> = (entry: QueueEntry<T>) => Promise<DeliveryResult>;

export type BufferPolicy = 'drop-oldest' | 'reject';

export interface RetryOptions {
  /** First delay after a retryable failure, ms (default 1000). */
  initialMs?: number;
  /** Cap, ms (default 60000). */
  maxMs?: number;
  /** Growth per consecutive failure (default 2). */
  factor?: number;
  /** Share of each delay that is randomised, 0..1 (default 0.5). */
  jitter?: number;
}

export interface QueueOptions<T> {
  /** Sends one entry to the platform and reports the platform's answer. */
  deliver: Deliver<T>;
  /** Most entries kept (default 100 000). */
  maxEntries?: number;
  /** Most bytes kept, body JSON plus key (default 256 MiB). */
  maxBytes?: number;
  /** When full: drop the oldest entries (default) or refuse the push with a `QueueFullError`. */
  policy?: BufferPolicy;
  /** Most deliveries pending at once, 1..65535 (default 1000; MQTT packet ids are 16-bit). */
  maxInflight?: number;
  /**
   * Deliveries pending at once for one key (default 1). Above 1 only for transports that keep order
   * on one connection (MQTT QoS 1); after a failure everything in flight for the key is sent again in order.
   */
  perKeyInflight?: number;
  /** Most entries read from the store and held in memory, in flight included (default 2 × maxInflight, ≥ 256). */
  readAhead?: number;
  retry?: RetryOptions;
  /** Dead letters kept, newest last (default 1000). */
  deadLetterMax?: number;
  /** Dropped entries, reported at most once per `dropReportMs` with the count since the last report. */
  onDrop?: (dropped: number, totalDropped: number) => void;
  /** Default 1000 ms. */
  dropReportMs?: number;
  /** An entry was refused for good and moved to the dead letters. */
  onPoison?: (entry: QueueEntry<T>, error: Error) => void;
  /**
   * The store's file was damaged (not a database, cut short, overwritten): it was kept aside and the
   * queue started afresh with what could be saved. Reported once, at opening.
   */
  onDamaged?: (damaged: DamagedFile) => void;
  /** A background storage error (the affected writes are retried). */
  onError?: (error: Error) => void;
  /** Start dispatching as soon as the store is open (default false: call `start()`). */
  autoStart?: boolean;
  /** Randomness for the retry jitter (tests). */
  random?: () => number;
}

export interface QueueStats {
  storage: 'sqlite' | 'memory';
  state: 'opening' | 'running' | 'paused' | 'closing' | 'closed' | 'failed';
  /** Entries in the queue (in flight included), and their bytes. */
  queued: number;
  bytes: number;
  /** Pushes accepted but not yet written. */
  pending: number;
  inflight: number;
  /** Keys with entries. */
  keys: number;
  delivered: number;
  dropped: number;
  rejected: number;
  poisoned: number;
  retries: number;
  deadLetters: number;
}

/** An entry the platform refused for good, kept aside with the reason. */
export interface DeadLetter {
  key: string;
  seq: number;
  body: unknown;
  error: string;
  /** ISO time it was moved aside. */
  at: string;
  attempts: number;
}
