import { importLegacyQueue, type LegacyImport } from './legacy-leveldb';
import { DeliveryQueue, type EngineOptions } from './delivery-queue';
import { MemoryStore } from './memory-store';
import { loadSqlite, type SqliteConstructor } from './sqlite-db';
import { SqliteStore, type Durability } from './sqlite-store';
import type { Store } from './store';
import { removeStoreFile } from './store-file';
import type { QueueOptions } from './types';

export interface OpenQueueOptions<T> extends EngineOptions<T> {
  /**
   * The queue's own database file (one per connection), created if missing; `destroy()` deletes it.
   * An older LevelDB queue directory beside it (the same path without `.sqlite`) is imported on open.
   */
  file: string;
  /** What an acknowledged push survives (default `process`; see `Durability`). */
  durability?: Durability;
  /** Loads node:sqlite's `DatabaseSync`; a test replaces it to simulate a Node.js without it. */
  loadSqlite?: () => SqliteConstructor;
  /** Imports an older LevelDB queue directory into the new store (lib/delivery/legacy-leveldb). */
  importLegacy?: (dir: string, store: Store) => Promise<LegacyImport>;
}

export interface OpenedQueue<T> {
  queue: DeliveryQueue<T>;
  storage: 'sqlite' | 'memory';
  /** Set when the queue fell back to memory: say so to the user. */
  warning?: string;
}

/** The directory an older version kept this queue in (LevelDB), beside the file. */
export function legacyQueueDir(file: string): string | undefined {
  return file.endsWith('.sqlite') ? file.slice(0, -'.sqlite'.length) : undefined;
}

/**
 * A queue in the SQLite file `options.file`, or in memory (with a warning) if node:sqlite cannot be
 * loaded. Returns at once; the store opens in the background (`queue.ready`), pushes made meanwhile wait.
 */
export function createQueue<T = unknown>(options: OpenQueueOptions<T>): OpenedQueue<T> {
  let Database: SqliteConstructor;
  try {
    Database = (options.loadSqlite ?? loadSqlite)();
    if (typeof Database !== 'function') throw new TypeError('node:sqlite exports no DatabaseSync');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return {
      queue: new DeliveryQueue<T>(new MemoryStore(), options),
      storage: 'memory',
      warning: `SQLite (node:sqlite, Node.js 22.13 or later) could not be loaded, messages are buffered in memory only and lost on restart: ${reason}`,
    };
  }
  const store = new SqliteStore(Database, options.file, {
    durability: options.durability,
    legacyDir: legacyQueueDir(options.file),
    // Called on open, before the queue loads, when an older version's LevelDB folder is there: its
    // entries (same seqs, so the same order) and dead letters are written, then its files deleted.
    importLegacy: options.importLegacy ?? importLegacyQueue,
  });
  return { queue: new DeliveryQueue<T>(store, options), storage: 'sqlite' };
}

/** `createQueue`, resolved once the store is open (rejects if it cannot be opened, e.g. held by another). */
export async function openQueue<T = unknown>(options: OpenQueueOptions<T>): Promise<OpenedQueue<T>> {
  const opened = createQueue(options);
  await opened.queue.ready;
  return opened;
}

/** A queue held in memory only. */
export function createMemoryQueue<T = unknown>(options: QueueOptions<T>): DeliveryQueue<T> {
  return new DeliveryQueue<T>(new MemoryStore(), options);
}

/** Deletes a closed queue's file (its config node was removed); refuses a file that is not a queue's. */
export function removeQueue(file: string): Promise<void> {
  return removeStoreFile(file);
}
