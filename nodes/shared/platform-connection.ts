import * as os from 'os';
import * as path from 'path';
import {
  createQueue,
  type BufferPolicy,
  type DamagedFile,
  type DeliveryQueue,
  type Durability,
  type QueueStats,
} from '../../lib/delivery';
import type { ConnectionState, PlatformClient, PlatformDownlink } from '../../lib/connection/platform-client';
import { holdHeapBounds } from '../../lib/memory';
import { monitorRegistry } from './monitor-registry';
import { UserRegistry } from './user-registry';
import { errorMessage, type Node, type NodeAPI, type NodeStatus } from './red';

export interface BufferSettings {
  bufferMax?: number | string;
  bufferPolicy?: string;
  /** `process` (default) or `power`: what an accepted message survives (see lib/delivery Durability). */
  durability?: string;
}

/** Counters a flow can read (`msg.topic = "stats"` into an out node). */
export interface ConnectionStats extends QueueStats {
  platform: string;
  connection: ConnectionState;
  reconnects: number;
  lastError?: string;
}

export type DownlinkListener = (downlink: PlatformDownlink) => void;

const STATE_STATUS: Record<ConnectionState, Pick<NodeStatus, 'fill' | 'shape'> & { key: string }> = {
  connected: { fill: 'green', shape: 'dot', key: 'node-red:common.status.connected' },
  connecting: { fill: 'yellow', shape: 'ring', key: 'node-red:common.status.connecting' },
  disconnected: { fill: 'red', shape: 'ring', key: 'node-red:common.status.disconnected' },
};
const STATUS_EVERY_MS = 500;
export const DEFAULT_BUFFER_MAX = 100000;

/**
 * Where a connection's queue lives: under Node-RED's user directory, one SQLite file per config node
 * (`<id>.sqlite`; an older version's LevelDB folder `<id>` beside it is imported on open).
 */
export function queueFile(RED: NodeAPI, nodeId: string): string {
  const userDir =
    (RED.settings as unknown as { userDir?: string }).userDir ?? path.join(os.homedir(), '.node-red');
  return path.join(userDir, 'thingpark-queues', nodeId.replace(/[^A-Za-z0-9_.-]/g, '_') + '.sqlite');
}

/** A crash of Node-RED loses nothing acknowledged by default; `power` also survives a power cut, slower. */
export const DEFAULT_DURABILITY: Durability = 'process';

/**
 * What a platform config node owns: its client, its durable queue, its users. The queue opens with
 * the node (entries kept from before a restart wait there), dispatches while the client is
 * connected, and the client runs while at least one flow node uses the connection.
 */
export class PlatformConnection<T> {
  readonly registry: UserRegistry;
  readonly queue: DeliveryQueue<T>;
  private readonly downlinkListeners = new Map<string, DownlinkListener>();
  private statusTimer?: NodeJS.Timeout;
  private lastErrorText = '';
  private closed = false;
  /** Shown in the status from the moment the queue's file was found damaged until the node restarts. */
  private damagedNote = '';
  private readonly unannounce: () => void;
  /** A backlog written or drained leaves the heap's pages resident on Node.js 22+: given back after. */
  private readonly letGoHeapBounds = holdHeapBounds();

  constructor(
    private readonly RED: NodeAPI,
    node: Node & { users?: Record<string, Node> },
    readonly platform: string,
    readonly client: PlatformClient<T>,
    buffer: BufferSettings,
    queueTuning: { perKeyInflight?: number; maxInflight?: number } = {},
    /** Set when the configuration cannot work (e.g. no host name): the client is never started. */
    private readonly misconfigured?: string,
  ) {
    this.registry = new UserRegistry(
      () => {
        if (misconfigured) this.registry.reportError(misconfigured);
        else client.start();
      },
      () => client.stop(),
    );
    node.users = this.registry.nodes;
    const max = Number(buffer.bufferMax);
    const opened = createQueue<T>({
      file: queueFile(RED, node.id),
      durability: buffer.durability === 'power' ? 'power' : DEFAULT_DURABILITY,
      deliver: (entry) => client.deliver(entry),
      maxEntries: Number.isInteger(max) && max > 0 ? max : DEFAULT_BUFFER_MAX,
      policy: (buffer.bufferPolicy === 'reject' ? 'reject' : 'drop-oldest') as BufferPolicy,
      ...queueTuning,
      onDrop: (dropped, total) => node.warn(RED._('thingpark-common.buffer.dropped', { dropped, total })),
      onPoison: (entry, err) =>
        this.registry.reportError(
          RED._('thingpark-common.buffer.poison', { key: entry.key, error: err.message }),
          {
            topic: entry.key,
            payload: entry.body,
          },
        ),
      onError: (err) =>
        this.registry.reportError(RED._('thingpark-common.buffer.storage', { error: err.message })),
      onDamaged: (damaged) => this.reportDamaged(node, damaged),
    });
    this.queue = opened.queue;
    if (opened.warning) node.warn(opened.warning);
    this.queue.ready.catch((err: unknown) =>
      node.error(RED._('thingpark-common.buffer.storage', { error: errorMessage(err) })),
    );

    client.on('state', (state: ConnectionState) => {
      if (state === 'connected') {
        this.lastErrorText = '';
        this.queue.start();
      } else {
        this.queue.pause();
      }
      this.showStatus();
    });
    client.on('error', (err: Error) => {
      // One report per distinct error, not one per reconnect attempt.
      if (err.message === this.lastErrorText) return;
      this.lastErrorText = err.message;
      this.registry.reportError(
        RED._('thingpark-common.errors.connection', { platform, error: err.message }),
      );
    });
    client.on('refused', (key: string, err: Error) =>
      this.registry.reportError(
        RED._('thingpark-common.errors.refused', { platform, key, error: err.message }),
      ),
    );
    client.on('downlink', (downlink: PlatformDownlink) => {
      for (const listener of this.downlinkListeners.values()) listener(downlink);
    });
    client.on('downlink-error', (err: Error) => {
      const text = RED._('thingpark-common.errors.invalid-downlink', { platform, error: err.message });
      this.registry.reportError(text, {}, new Set(this.downlinkListeners.keys()));
    });
    this.showStatus();
    this.unannounce = monitorRegistry.addConnection(node as never, this as PlatformConnection<unknown>);
  }

  /** Queues a message for the platform; resolves once it is stored (rejects with QueueFullError in reject mode). */
  async enqueue(key: string, body: T): Promise<void> {
    await this.queue.push(key, body);
    this.scheduleStatus();
  }

  /** `enqueue` of a body already serialised with `JSON.stringify`. */
  enqueueJson(key: string, json: string): Promise<void> {
    const stored = this.queue.pushJson(key, json);
    this.scheduleStatus();
    return stored;
  }

  addDownlinkListener(user: Node, listener: DownlinkListener): void {
    this.downlinkListeners.set(user.id, listener);
    this.registry.register(user);
  }

  async removeDownlinkListener(user: Node): Promise<void> {
    this.downlinkListeners.delete(user.id);
    await this.registry.deregister(user);
  }

  stats(): ConnectionStats {
    return {
      platform: this.platform,
      connection: this.client.state,
      reconnects: this.client.reconnects,
      lastError: this.client.lastError?.message,
      ...this.queue.stats(),
    };
  }

  /** The queue file was damaged: said in the log (with the numbers) and in the status, never fatal. */
  private reportDamaged(node: Node, damaged: DamagedFile): void {
    const lost = damaged.lost ?? this.RED._('thingpark-common.buffer.unknown');
    node.error(
      this.RED._('thingpark-common.buffer.damaged', {
        file: damaged.keptAs,
        reason: damaged.reason,
        recovered: damaged.recovered,
        lost,
      }),
      {},
    );
    this.damagedNote = this.RED._('thingpark-common.status.damaged', { lost });
    this.showStatus();
  }

  private scheduleStatus(): void {
    if (!this.statusTimer && !this.closed)
      this.statusTimer = setTimeout(() => this.showStatus(), STATUS_EVERY_MS);
  }

  private showStatus(): void {
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    // Stopping the client emits a last state change: it must not start the status timer again.
    if (this.closed) return;
    if (this.misconfigured) {
      this.registry.setStatus({ fill: 'red', shape: 'ring', text: this.misconfigured });
      return;
    }
    const s = STATE_STATUS[this.client.state];
    let text = this.RED._(s.key);
    const queued = this.queue.length;
    if (queued > 0) text += ` · ${this.RED._('thingpark-common.status.queued', { count: queued })}`;
    else if (this.client.state === 'disconnected' && this.client.lastError)
      text += `: ${this.client.lastError.message}`;
    if (this.damagedNote) text += ` · ${this.damagedNote}`;
    this.registry.setStatus({ fill: this.damagedNote ? 'yellow' : s.fill, shape: s.shape, text });
    if (queued > 0) this.scheduleStatus();
  }

  /** Stops the client and closes the queue within a few seconds; a removed node's queue is deleted. */
  async close(removed: boolean): Promise<void> {
    this.closed = true;
    this.unannounce();
    this.letGoHeapBounds();
    clearTimeout(this.statusTimer);
    this.statusTimer = undefined;
    this.downlinkListeners.clear();
    this.client.removeAllListeners('downlink');
    this.client.removeAllListeners('downlink-error');
    await this.client.stop().catch(() => undefined);
    if (removed) await this.queue.destroy();
    else await this.queue.close({ drainMs: 1000 });
  }
}
