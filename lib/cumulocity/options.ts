/** What a Cumulocity connection is configured with, and the message shapes it queues and reports. */
import type { BackoffOptions } from '../connection/backoff';
import type { StatusChange } from './mapping/operation-status';
import type { Publish } from './mapping/smartrest';

export const DEFAULT_OPERATION_TIMEOUT_MS = 60 * 60 * 1000;
/** Root key of the status messages this client queues for itself (never a ThingPark document type). */
export const STATUS_ROOT = 'c8y_OperationStatus';

/** A queued message: a ThingPark document with its root key, or one of our operation status messages. */
export type CumulocityBody = Record<string, unknown>;

export interface OperationStatusMessage {
  /** Gateway identity (index) whose connection publishes it. */
  gateway: number;
  /** The lines as made when queued (by-id templates); what an older version queued has only these. */
  publishes: Publish[];
  /** The change itself, so the lines can be made again for a tenant that refuses 504-506. */
  change?: StatusChange;
}

/** `origin.ref` of a downlink made from an operation. */
export interface CumulocityOperationRef {
  /** Absent for `s/ds` operations. */
  operationId?: string;
  childId: string;
  correlationId: string;
}

/** What `downlink out` reports (the fields used here). */
export interface DownlinkOutcome {
  status: 'queued' | 'rejected' | 'error';
  reason?: string;
  CorrelationID?: string;
}

export interface CumulocityOptions {
  host: string;
  port?: number;
  /** Plain MQTT instead of TLS: only for local test brokers. */
  insecure?: boolean;
  tls?: Record<string, unknown>;
  tenantId: string;
  username: string;
  password?: string;
  /** External id (`c8y_Serial`) and MQTT client id of the first gateway identity. */
  gatewayId: string;
  gatewayName?: string;
  gatewayType?: string;
  /** `117` of the gateway identities, minutes. */
  requiredIntervalMinutes?: number;
  /** Heartbeat (`125`) of each gateway identity while connected; default half the `117` interval. */
  heartbeatIntervalMs?: number;
  /** How often each identity asks for its children (`105`) to find ones deleted in Cumulocity; default 6 h. */
  childListIntervalMs?: number;
  /** How long after the last `106` answer the child list counts as complete (default 5 s). */
  childListSettleMs?: number;
  /** `122` of the gateway (default: this package's name and version). */
  agent?: { name: string; version: string; url?: string; maintainer?: string };
  /** `117` of the children, minutes. */
  childIntervalMinutes?: number;
  maxChildren?: number;
  /** Close an operation SUCCESSFUL on the sent report (default) or as soon as ThingPark queued it. */
  successOn?: 'sent' | 'queued';
  operationTimeoutMs?: number;
  /** Where the child registry and the operation store live; undefined keeps them in memory. */
  stateDir?: string;
  /** Durable path for status messages (the connection's queue); default: published at once. */
  enqueue?: (key: string, body: CumulocityBody) => Promise<void>;
  keepalive?: number;
  connectTimeoutMs?: number;
  actionTimeoutMs?: number;
  backoff?: BackoffOptions;
  now?: () => number;
}
