import { DamagedEntryError } from './errors';
import type { LiveEntry } from './key-state';
import type { QueueEntry } from './types';

/**
 * What `deliver` (and `onPoison`) receive: the body is parsed from the stored JSON on first use only
 * (a platform that sends the JSON as it is never parses it); one that no longer parses throws
 * `DamagedEntryError`, and the queue moves the entry to the dead letters.
 */
export class DeliveryEntry<T> implements QueueEntry<T> {
  readonly key: string;
  readonly seq: number;

  constructor(
    private readonly live: LiveEntry,
    readonly attempts: number,
  ) {
    this.key = live.ks.key;
    this.seq = live.seq;
  }

  get json(): string {
    return this.live.json;
  }

  get body(): T {
    const live = this.live;
    if (live.body === undefined) {
      try {
        live.body = JSON.parse(live.json);
      } catch {
        throw new DamagedEntryError();
      }
    }
    return live.body as T;
  }
}
