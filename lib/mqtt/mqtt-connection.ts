import { EventEmitter } from 'events';
import { Backoff, type BackoffOptions } from '../connection/backoff';
import { HeldAcks, type Release } from './held-acks';
import { MqttSocket, type Publish, type TlsOptions } from './mqtt-socket';

import type { ConnectionState } from '../connection/platform-client';

export type { ConnectionState };

export interface MqttConnectionOptions {
  /** mqtt://host:port, mqtts://host:port or wss://host:port/path */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** TLS options (ca, cert, key, rejectUnauthorized, servername) for mqtts / wss. */
  tls?: TlsOptions;
  /** Seconds; the MQTT keep-alive also detects half-open connections. */
  keepalive?: number;
  connectTimeoutMs?: number;
  /** How long a QoS 1 publish may wait for its PUBACK. */
  actionTimeoutMs?: number;
  backoff?: BackoffOptions;
  /**
   * Hold the socket's writes until the event loop's next turn, so the PUBACKs of the messages
   * received in one turn leave in one write. For a connection that mostly receives (it delays its
   * own publishes by up to a turn too).
   */
  batchAcks?: boolean;
  /**
   * A session the broker keeps across disconnects (clean session off, stable client id), so that it
   * sends again, after a restart, every QoS 1 message we had not acknowledged.
   */
  persistentSession?: boolean;
  /** The last will the broker publishes when the connection is lost without a DISCONNECT (QoS 1). */
  will?: { topic: string; payload: string };
  /**
   * Let handlers hold a message's PUBACK until what it carried is safe (`hold` in the handler);
   * PUBACKs leave in arrival order; a message released as not safe restarts the connection.
   */
  holdAcks?: boolean;
}

/** `hold`, with `holdAcks`, delays this message's PUBACK until the returned release is called. */
export type MessageHandler = (topic: string, payload: Buffer, hold?: () => Release) => void;

export class NotConnectedError extends Error {
  constructor() {
    super('not connected');
    this.name = 'NotConnectedError';
  }
}

/**
 * One MQTT client with our own reconnect policy (exponential backoff with jitter, capped), state
 * events, subscriptions restored after every reconnect, and publishes that settle on PUBACK.
 */
export class MqttConnection extends EventEmitter {
  state: ConnectionState = 'disconnected';
  lastError?: Error;
  reconnects = 0;
  private socket?: MqttSocket;
  private readonly backoff: Backoff;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private stopped = true;

  constructor(private readonly options: MqttConnectionOptions) {
    super();
    this.backoff = new Backoff(options.backoff);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    this.setState('connecting');
    const { url, clientId, username, password, tls, keepalive, connectTimeoutMs, will } = this.options;
    let held: HeldAcks | undefined;
    let socket: MqttSocket;
    try {
      socket = new MqttSocket({
        url,
        tls,
        connectTimeoutMs: connectTimeoutMs ?? 30000,
        ackTimeoutMs: this.options.actionTimeoutMs ?? 30000,
        holdWritesForTurn: this.options.batchAcks,
        connect: {
          clientId,
          username,
          password,
          keepalive: keepalive ?? 30,
          clean: !this.options.persistentSession,
          will: will && { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: false },
        },
        onMessage: (message) => this.received(socket, message, held),
      });
    } catch (err) {
      // A URL or a client id that cannot make a connection: said, and tried again later like any failure.
      this.lastError = err as Error;
      this.emit('error', err);
      this.setState('disconnected');
      return this.scheduleReconnect();
    }
    this.socket = socket;
    if (this.options.holdAcks) held = this.holdAcksOf(socket);
    socket.on('connect', () => {
      if (this.socket !== socket) return;
      this.backoff.reset();
      this.lastError = undefined;
      const filters = [...this.handlers.keys()];
      if (this.options.persistentSession) {
        // The session keeps what earlier connections of this client id subscribed (a redeploy does
        // not unsubscribe): drop what is no longer wanted, or it would deliver twice (a topic or a
        // shared group changed).
        const stale = [...(sessionFilters.get(this.options.clientId) ?? [])].filter(
          (f) => !this.handlers.has(f),
        );
        socket.unsubscribe(stale);
        sessionFilters.set(this.options.clientId, new Set(filters));
      }
      if (filters.length === 0) return this.setState('connected');
      socket.subscribe(filters, 1, (err, codes) => {
        if (this.socket !== socket) return;
        const refused = codes?.findIndex((code) => code === 0x80) ?? -1;
        if (err || refused >= 0) {
          this.lastError = err ?? new Error(`subscription to ${filters[refused]} refused by the broker`);
          this.emit('error', this.lastError);
        }
        this.setState('connected');
      });
    });
    socket.on('error', (err: Error) => {
      if (this.socket !== socket) return;
      this.lastError = err;
      this.emit('error', err);
    });
    socket.on('close', () => {
      held?.discard();
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.setState('disconnected');
      this.scheduleReconnect();
    });
  }

  private received(socket: MqttSocket, message: Publish, held: HeldAcks | undefined): void {
    if (this.socket !== socket) return;
    if (message.qos === 0) return this.dispatch(message.topic, message.payload);
    if (!held) {
      this.dispatch(message.topic, message.payload);
      return socket.acknowledge(message);
    }
    const ticket = held.arrived();
    this.dispatch(message.topic, message.payload, ticket.hold);
    held.ready(ticket, () => this.socket === socket && socket.acknowledge(message));
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      this.reconnects++;
      this.connect();
    }, delay);
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state, this.lastError);
  }

  private dispatch(topic: string, payload: Buffer, hold?: () => Release): void {
    for (const [filter, handlers] of this.handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of handlers) handler(topic, payload, hold);
    }
  }

  private holdAcksOf(socket: MqttSocket): HeldAcks {
    const held = new HeldAcks(() => {
      // Not safe (a full disk, a refusal): never acknowledged; reconnect so the broker sends it again.
      if (this.socket !== socket) return;
      held.discard();
      this.lastError = new Error('an uplink could not be stored: reconnecting so the broker sends it again');
      this.emit('error', this.lastError);
      void socket.end(true);
    });
    return held;
  }

  subscribe(filter: string, handler: MessageHandler): void {
    let set = this.handlers.get(filter);
    if (!set) {
      set = new Set();
      this.handlers.set(filter, set);
      if (this.options.persistentSession) {
        const known = sessionFilters.get(this.options.clientId) ?? new Set<string>();
        sessionFilters.set(this.options.clientId, known.add(filter));
      }
      if (this.state === 'connected') {
        this.socket?.subscribe([filter], 1, (err, codes) => {
          if (err || codes?.[0] === 0x80) {
            this.emit('error', err ?? new Error(`subscription to ${filter} refused by the broker`));
          }
        });
      }
    }
    set.add(handler);
  }

  unsubscribe(filter: string, handler: MessageHandler): void {
    const set = this.handlers.get(filter);
    if (!set) return;
    set.delete(handler);
    if (set.size === 0) {
      this.handlers.delete(filter);
      // A persistent session keeps its subscriptions while a redeploy or a stop closes the flow, so
      // that the broker keeps what is published meanwhile: no UNSUBSCRIBE then.
      if (this.state === 'connected' && !this.options.persistentSession) this.socket?.unsubscribe([filter]);
    }
  }

  /** Publishes and settles when the broker acknowledged it (QoS 1) or it was written (QoS 0). */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
    const socket = this.socket;
    if (!socket || this.state !== 'connected') return Promise.reject(new NotConnectedError());
    return new Promise((resolve, reject) =>
      socket.publish(topic, payload, qos, (err) => (err ? reject(err) : resolve())),
    );
  }

  /**
   * Disconnects and settles within `timeoutMs` even if the broker does not answer. `endSession`:
   * the connection is gone for good (removed from the flows): the broker forgets its persistent
   * session, instead of keeping what is published for a client that will not come back.
   */
  async stop(timeoutMs = 2000, options: { endSession?: boolean } = {}): Promise<void> {
    if (options.endSession && this.options.persistentSession) {
      sessionFilters.delete(this.options.clientId);
      await this.stop(timeoutMs);
      await this.endSession(timeoutMs);
      return;
    }
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      const timer = setTimeout(() => void socket.end(true), timeoutMs);
      await socket.end(false);
      clearTimeout(timer);
    }
    this.setState('disconnected');
  }

  /** A clean-session connect with our client id: the broker drops the persistent session. */
  private async endSession(timeoutMs: number): Promise<void> {
    const { url, clientId, username, password, tls } = this.options;
    let socket: MqttSocket;
    try {
      socket = new MqttSocket({
        url,
        tls,
        connectTimeoutMs: timeoutMs,
        connect: { clientId, username, password, keepalive: 0, clean: true },
        onMessage: () => undefined,
      });
    } catch {
      return;
    }
    socket.on('error', () => undefined);
    socket.once('connect', () => void socket.end(false));
    const timer = setTimeout(() => void socket.end(true), timeoutMs);
    await new Promise<void>((resolve) => socket.once('close', resolve));
    clearTimeout(timer);
  }
}

/** What each persistent session (by client id) was subscribed to by this process. */
const sessionFilters = new Map<string, Set<string>>();

/** MQTT topic filter matching, with `+`, `#` and `$share/<group>/` prefixes. Allocates nothing (runs per message). */
export function topicMatches(filter: string, topic: string): boolean {
  let f = 0;
  if (filter.startsWith('$share/')) {
    const group = filter.indexOf('/', 7);
    f = group < 0 ? filter.length : group + 1;
  }
  let t = 0;
  for (;;) {
    let fEnd = filter.indexOf('/', f);
    if (fEnd < 0) fEnd = filter.length;
    const fLength = fEnd - f;
    if (fLength === 1 && filter.charCodeAt(f) === 35 /* # */) return true;
    if (t > topic.length) return false;
    let tEnd = topic.indexOf('/', t);
    if (tEnd < 0) tEnd = topic.length;
    const plus = fLength === 1 && filter.charCodeAt(f) === 43; /* + */
    if (!plus && !sameLevel(filter, f, fLength, topic, t, tEnd - t)) return false;
    if (fEnd === filter.length) return tEnd === topic.length;
    f = fEnd + 1;
    t = tEnd + 1;
  }
}

function sameLevel(
  a: string,
  aStart: number,
  aLength: number,
  b: string,
  bStart: number,
  bLength: number,
): boolean {
  if (aLength !== bLength) return false;
  for (let i = 0; i < aLength; i++) if (a.charCodeAt(aStart + i) !== b.charCodeAt(bStart + i)) return false;
  return true;
}
