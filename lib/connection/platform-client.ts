import type { EventEmitter } from 'events';
import type { DeliveryResult, QueueEntry } from '../delivery';
import type { DownlinkOutcome, DownlinkRequest } from './downlink-request';

export type { DownlinkOrigin, DownlinkOutcome, DownlinkRequest } from './downlink-request';

export type ConnectionState = 'disconnected' | 'connecting' | 'connected';

/** A validated downlink request a platform sent (WMW message, Cumulocity operation, ThingWorx property write). */
export interface PlatformDownlink {
  request: DownlinkRequest;
  /** The platform's id for the command (operation id, Thing and request id, message id). */
  ref: unknown;
}

/**
 * What a platform connection config node drives: a client that connects, delivers queued entries and
 * reports the platform's answer, and emits `state` (ConnectionState, lastError?), `error` (Error: connection
 * trouble), `downlink` (PlatformDownlink), `downlink-error` (Error: a platform message that is not
 * a valid downlink; the connection stays up) and `refused` (key, Error: the platform refused a message
 * for a reason someone can fix, such as a permission; it stays queued and is retried) events.
 */
export interface PlatformClient<T> extends EventEmitter {
  readonly state: ConnectionState;
  readonly lastError?: Error;
  readonly reconnects: number;
  start(): void;
  /** Disconnects; settles within a couple of seconds. */
  stop(): Promise<void>;
  deliver(entry: QueueEntry<T>): Promise<DeliveryResult>;
  /**
   * What became of a downlink this platform originated (`ref` from its `downlink` event), for a
   * platform that closes its command (operation status, status property). Absent: nothing to close.
   */
  downlinkResult?(ref: unknown, outcome: DownlinkOutcome, request?: DownlinkRequest): void;
}
