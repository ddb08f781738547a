import { DeliveryQueue, type EngineOptions } from './delivery-queue';
import { LevelStore, type LevelConstructor, type LevelOptions } from './level-store';
import { MemoryStore } from './memory-store';
import { removeStoreDir } from './store-dir';
import type { QueueOptions } from './types';

export interface OpenQueueOptions<T> extends EngineOptions<T> {
  /** The queue's own directory, created if missing (one per connection; `destroy()` deletes it). */
  dir: string;
  /**
   * fsync every write. Off (default), a push that resolved survives a killed process but the last
   * writes may be lost on a power cut; on, it survives both, at the cost of throughput.
   */
  sync?: boolean;
  /** LevelDB cache and buffer sizes (defaults suit a gateway: about 6 MiB). */
  levelOptions?: LevelOptions;
  /** Loads `classic-level`'s constructor; a test replaces it to simulate a missing native module. */
  loadLevel?: () => LevelConstructor;
}

export interface OpenedQueue<T> {
  queue: DeliveryQueue<T>;
  storage: 'leveldb' | 'memory';
  /** Set when the queue fell back to memory: say so to the user. */
  warning?: string;
}

function loadClassicLevel(): LevelConstructor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('classic-level') as typeof import('classic-level')).ClassicLevel;
}

/**
 * A queue on LevelDB in `options.dir`, or in memory (with a warning) if the native module cannot be
 * loaded. Returns at once; the store opens in the background (`queue.ready`), pushes made meanwhile wait.
 */
export function createQueue<T = unknown>(options: OpenQueueOptions<T>): OpenedQueue<T> {
  let Level: LevelConstructor;
  try {
    Level = (options.loadLevel ?? loadClassicLevel)();
    if (typeof Level !== 'function') throw new TypeError('classic-level exports no ClassicLevel');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      queue: new DeliveryQueue<T>(new MemoryStore(), options),
      storage: 'memory',
      warning: `LevelDB (classic-level) could not be loaded, messages are buffered in memory only and lost on restart: ${reason}`,
    };
  }
  return {
    queue: new DeliveryQueue<T>(
      new LevelStore(Level, options.dir, options.sync, options.levelOptions),
      options,
    ),
    storage: 'leveldb',
  };
}

/** `createQueue`, resolved once the store is open (rejects if it cannot be opened, e.g. locked or unreadable). */
export async function openQueue<T = unknown>(options: OpenQueueOptions<T>): Promise<OpenedQueue<T>> {
  const opened = createQueue(options);
  await opened.queue.ready;
  return opened;
}

/** A queue held in memory only. */
export function createMemoryQueue<T = unknown>(options: QueueOptions<T>): DeliveryQueue<T> {
  return new DeliveryQueue<T>(new MemoryStore(), options);
}

/** Deletes a closed queue's directory (its config node was removed); refuses a directory that is not a queue's. */
export function removeQueue(dir: string): Promise<void> {
  return removeStoreDir(dir);
}
