import type { DeliveryResult } from './types';

/** A push waiting to be written (and resolved). */
export interface PendingPush {
  readonly key: string;
  readonly json: string;
  readonly size: number;
  /** Given when the queue is open (at the push, or at opening for earlier pushes); -1 before. */
  seq: number;
  /** Date.now() at the push. */
  readonly at: number;
  resolve: () => void;
  reject: (err: Error) => void;
  /** Its entry, when it was taken into memory at the push (the key had nothing waiting on disk). */
  live: LiveEntry | undefined;
  /** In the write under way. */
  writing: boolean;
  /** Its entry was delivered (or dead-lettered) during that write: delete it once written. */
  doneWhileWriting: boolean;
}

/**
 * An entry held in memory: waiting in its key's buffer, in flight, or held after a failure. Read from
 * the store, or taken at the push (then delivered before it is written when the platform is fast:
 * an entry delivered before its write never reaches the disk).
 */
export interface LiveEntry {
  readonly seq: number;
  readonly ks: KeyState;
  readonly size: number;
  /** The stored JSON: what the platform client usually sends as it is. */
  readonly json: string;
  /** `json` parsed, once someone needs it (undefined until then). */
  body: unknown;
  state: 'buffered' | 'inflight' | 'held';
  /** Outcome of a delivery settled while its key was failing, applied once the key's flight is over. */
  outcome: DeliveryResult | undefined;
  /** In the store. False while its push waits to be written, and for good if that write failed. */
  stored: boolean;
  /** The push whose write is pending, while it is. */
  push: PendingPush | undefined;
  /** Its push was refused or dropped while it was in flight: not to be sent again. */
  discarded: boolean;
}

/**
 * Bookkeeping for one key with entries: O(1) memory per key, none per stored entry beyond the
 * read-ahead window. Entries of a key are delivered in seq order; `fetchedSeq` splits the ones already
 * read (buffered, in flight, or being deleted) from the `unfetched` ones still only on disk.
 */
export interface KeyState {
  readonly key: string;
  /** Committed entries and bytes in the store, in flight included. */
  count: number;
  bytes: number;
  /** Committed entries above `fetchedSeq`. */
  unfetched: number;
  /** Pushes waiting to be written that are not in memory: they will be read from the store. */
  backlog: number;
  fetchedSeq: number;
  buffer: LiveEntry[] | null;
  inflight: number;
  /** A delivery failed while others of this key were in flight: wait for them, then send again in order. */
  failing: boolean;
  failMin: number;
  held: LiveEntry[] | null;
  /** Consecutive retryable failures; `retryAt` > 0 while backing off. */
  attempts: number;
  retryAt: number;
  heapIndex: number;
  inRing: boolean;
  /** A read of this key is wanted or running. */
  fetching: boolean;
  /** A read of this key is running. */
  reading: boolean;
  ringNext: KeyState | null;
  fetchNext: KeyState | null;
}

export function newKeyState(key: string): KeyState {
  return {
    key,
    count: 0,
    bytes: 0,
    unfetched: 0,
    backlog: 0,
    fetchedSeq: -1,
    buffer: null,
    inflight: 0,
    failing: false,
    failMin: 0,
    held: null,
    attempts: 0,
    retryAt: 0,
    heapIndex: -1,
    inRing: false,
    fetching: false,
    reading: false,
    ringNext: null,
    fetchNext: null,
  };
}

/** A FIFO of keys linked through the keys themselves: no allocation per push. */
export class KeyFifo {
  private head: KeyState | null = null;
  private tail: KeyState | null = null;
  size = 0;

  constructor(private readonly link: 'ringNext' | 'fetchNext') {}

  push(ks: KeyState): void {
    ks[this.link] = null;
    if (this.tail) this.tail[this.link] = ks;
    else this.head = ks;
    this.tail = ks;
    this.size++;
  }

  shift(): KeyState | null {
    const ks = this.head;
    if (!ks) return null;
    this.head = ks[this.link];
    if (!this.head) this.tail = null;
    ks[this.link] = null;
    this.size--;
    return ks;
  }
}
