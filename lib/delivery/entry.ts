import type { LiveEntry } from './key-state';
import type { QueueEntry } from './types';

/** What `deliver` (and `onPoison`) receive: the body is parsed from the stored JSON on first use only. */
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
    if (live.body === undefined) live.body = JSON.parse(live.json);
    return live.body as T;
  }
}
