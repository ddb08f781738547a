/**
 * Delivery layer: one durable store-and-forward queue per platform connection. The folder owns the
 * queue (delivery-queue.ts, the summary of how an entry travels, built on queue-state.ts, scheduling.ts,
 * admission.ts and persistence.ts) and its stores; it imports nothing from the platform folders.
 *
 *   const { queue, warning } = await openQueue({ file, deliver, maxEntries, policy, durability });
 *   if (warning) node.warn(warning);            // node:sqlite could not load: memory only
 *   connection.on('connected', () => queue.start());
 *   connection.on('disconnected', () => queue.pause());
 *   await queue.push(devEUI, document);         // resolves once written (or delivered first); done(err) on rejection
 *   await queue.close();                        // node close; queue.destroy() when the node is removed
 *
 * `deliver(entry)` resolves to ack(), retryable(err) or permanent(err). Entries of one key go in push
 * order, keys round-robin; at most `maxInflight` deliveries plus acknowledged entries whose delete is
 * not yet written are outstanding, less the deletes held for one larger write (on SQLite, half the
 * window, at most 600), so a crash sends at most `maxInflight` plus those again. While the platform is
 * connected and keeping up, entries go out from memory as they are pushed, and one acknowledged within
 * `writeBehindMs` (50 ms) is never written: the disk is for what the platform has not taken yet.
 */
export { DeliveryQueue, MAX_INFLIGHT_LIMIT, type CloseOptions, type EngineOptions } from './delivery-queue';
export { DamagedEntryError, QueueClosedError, QueueFullError } from './errors';
export {
  createMemoryQueue,
  createQueue,
  legacyQueueDir,
  openQueue,
  removeQueue,
  type OpenQueueOptions,
  type OpenedQueue,
} from './open-queue';
export type { Durability } from './sqlite-store';
export type { DamagedFile } from './store';
export {
  ack,
  permanent,
  retryable,
  type BufferPolicy,
  type DeadLetter,
  type Deliver,
  type DeliveryResult,
  type QueueEntry,
  type QueueOptions,
  type QueueStats,
  type RetryOptions,
} from './types';
