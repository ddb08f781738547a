import {
  LastSeenDevices,
  MinuteHistory,
  scrub,
  type ConnectionSnapshot,
  type DeviceSighting,
  type NetworkSnapshot,
} from '../../lib/monitor';
import type { PlatformConnection } from './platform-connection';
import { resolveEnv, type Node, type NodeAPI } from './red';

/** How often the histories are sampled while something is deployed. */
const SAMPLE_EVERY_MS = 10000;

interface ConnectionEntry {
  node: Node & { type: string; name?: string };
  connection: PlatformConnection<unknown>;
  history: MinuteHistory;
}

/** What the network node tells of itself. */
export interface MonitoredNetwork {
  node: Node & { type: string; name?: string };
  mode: string;
  state(): { state: string; reconnects: number; lastError?: string };
}

interface NetworkEntry extends MonitoredNetwork {
  uplinks: number;
  history: MinuteHistory;
}

/**
 * Every deployed connection and network node announces itself here; the ThingPark sidebar's admin
 * endpoints read it. One per process, like Node-RED's runtime.
 */
class MonitorRegistry {
  readonly devices = new LastSeenDevices();
  private readonly connections = new Map<string, ConnectionEntry>();
  private readonly networks = new Map<string, NetworkEntry>();
  private timer: NodeJS.Timeout | undefined;

  addConnection(node: ConnectionEntry['node'], connection: PlatformConnection<unknown>): () => void {
    const entry: ConnectionEntry = { node, connection, history: new MinuteHistory() };
    this.connections.set(node.id, entry);
    this.sampleConnection(entry, Date.now());
    this.arm();
    return () => {
      if (this.connections.get(node.id) === entry) this.connections.delete(node.id);
      this.arm();
    };
  }

  addNetwork(network: MonitoredNetwork): () => void {
    const entry: NetworkEntry = { ...network, uplinks: 0, history: new MinuteHistory() };
    entry.history.sample(Date.now(), 0, 0);
    this.networks.set(network.node.id, entry);
    this.arm();
    return () => {
      if (this.networks.get(network.node.id) === entry) this.networks.delete(network.node.id);
      this.arm();
    };
  }

  /** A ThingPark document arrived through `networkId` (uplink in). */
  recordDocument(networkId: string, sighting: Omit<DeviceSighting, 'devEUI'> & { devEUI?: string }): void {
    const network = this.networks.get(networkId);
    if (network) {
      network.uplinks++;
      network.history.sample(Date.now(), 0, network.uplinks);
    }
    if (sighting.devEUI) this.devices.record(networkId, sighting as DeviceSighting);
  }

  connection(id: string): ConnectionEntry | undefined {
    return this.connections.get(id);
  }

  connectionSnapshots(RED: NodeAPI, now = Date.now()): ConnectionSnapshot[] {
    return [...this.connections.values()].map((e) => {
      this.sampleConnection(e, now);
      const s = e.connection.stats();
      return {
        id: e.node.id,
        type: e.node.type,
        name: e.node.name || '',
        platform: e.connection.platform,
        state: s.connection,
        reconnects: s.reconnects,
        lastError: scrub(s.lastError, secretsOf(RED, e.node.id)),
        queued: s.queued,
        bytes: s.bytes,
        delivered: s.delivered,
        dropped: s.dropped,
        rejected: s.rejected,
        retries: s.retries,
        deadLetters: s.deadLetters,
        history: e.history.points(now),
      };
    });
  }

  networkSnapshots(RED: NodeAPI, now = Date.now()): NetworkSnapshot[] {
    return [...this.networks.values()].map((n) => {
      n.history.sample(now, 0, n.uplinks);
      const s = n.state();
      return {
        id: n.node.id,
        type: n.node.type,
        name: n.node.name || '',
        mode: n.mode,
        state: s.state,
        reconnects: s.reconnects,
        lastError: scrub(s.lastError, secretsOf(RED, n.node.id)),
        uplinks: n.uplinks,
        history: n.history.points(now),
      };
    });
  }

  private sampleConnection(e: ConnectionEntry, now: number): void {
    const s = e.connection.queue.stats();
    e.history.sample(now, s.queued, s.delivered);
  }

  /** The sampling timer runs while something is deployed. */
  private arm(): void {
    const busy = this.connections.size + this.networks.size > 0;
    if (busy && !this.timer) {
      this.timer = setInterval(() => {
        const now = Date.now();
        for (const e of this.connections.values()) this.sampleConnection(e, now);
        for (const n of this.networks.values()) n.history.sample(now, 0, n.uplinks);
      }, SAMPLE_EVERY_MS);
      this.timer.unref();
    } else if (!busy && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

/** The credential values of a node, to be masked wherever its texts are shown. */
export function secretsOf(RED: NodeAPI, id: string): unknown[] {
  const creds = RED.nodes.getCredentials(id) as Record<string, unknown> | undefined;
  const node = RED.nodes.getNode(id) ?? undefined;
  // `${ENV}` credentials: the value in use is the resolved one.
  return Object.values(creds ?? {}).flatMap((v) => [v, resolveEnv(RED, node, v)]);
}

export const monitorRegistry = new MonitorRegistry();
