/** The queue is at `maxEntries` or `maxBytes` and its policy is `reject`, or the entry alone exceeds `maxBytes`. */
export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';

  constructor(
    readonly limit: 'entries' | 'bytes',
    readonly max: number,
  ) {
    super(limit === 'entries' ? `queue full (${max} entries)` : `queue full (${max} bytes)`);
    this.name = 'QueueFullError';
  }
}

export class QueueClosedError extends Error {
  readonly code = 'QUEUE_CLOSED';

  constructor() {
    super('queue closed');
    this.name = 'QueueClosedError';
  }
}

/**
 * A stored entry whose JSON no longer parses (damaged on disk), found when its body is first needed:
 * it goes to the dead letters, never retried.
 */
export class DamagedEntryError extends Error {
  readonly code = 'DAMAGED_ENTRY';

  constructor() {
    super('stored entry is not valid JSON');
    this.name = 'DamagedEntryError';
  }
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
