import { EventEmitter } from 'events';
import * as mqtt from 'mqtt';
import type { SecureContextOptions } from 'tls';
import { Backoff, type BackoffOptions } from '../connection/backoff';
import { HeldAcks, type Release } from './held-acks';

import type { ConnectionState } from '../connection/platform-client';

export type { ConnectionState };

export interface MqttConnectionOptions {
  /** mqtt://host:port, mqtts://host:port or wss://host:port/path */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** TLS options (ca, cert, key, rejectUnauthorized, servername) for mqtts / wss. */
  tls?: SecureContextOptions & { rejectUnauthorized?: boolean; servername?: string };
  /** Seconds; the MQTT keep-alive also detects half-open connections. */
  keepalive?: number;
  connectTimeoutMs?: number;
  /** How long a QoS 1 publish may wait for its PUBACK. */
  actionTimeoutMs?: number;
  backoff?: BackoffOptions;
  /**
   * Hold the socket's writes until the event loop's next turn whenever a packet arrives, so the
   * PUBACKs of the messages received in one turn leave in one write. For a connection that mostly
   * receives (it delays its own publishes by up to a turn too).
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

/** Time a turn of the event loop may spend taking in messages before reading waits for the next turn. */
const READ_TURN_MS = 4;

/**
 * mqtt.js reads the next message as soon as `handleMessage` calls back, and libuv hands over up to
 * 2 MB of socket data in one go: a broker releasing a thousand held messages at once would have them
 * all handled in one turn, every other flow and timer waiting. Past READ_TURN_MS in a turn, the next
 * message waits for the next turn (the socket's backpressure holds the rest at the broker).
 */
function paceReading(client: mqtt.MqttClient): void {
  let turnStart = -1;
  client.handleMessage = (_packet, callback) => {
    const now = performance.now();
    if (turnStart < 0) {
      turnStart = now;
      setImmediate(() => {
        turnStart = -1;
      });
    }
    if (now - turnStart < READ_TURN_MS) callback();
    else setImmediate(() => callback());
  };
}

const MQTTJS_DEBUG = /mqttjs/.test(process.env.DEBUG ?? '');
function noLog(): void {}

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
  private client?: mqtt.MqttClient;
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
    const { url, clientId, username, password, tls, keepalive, connectTimeoutMs } = this.options;
    const connectOptions: mqtt.IClientOptions = {
      clientId,
      username,
      password,
      keepalive: keepalive ?? 30,
      connectTimeout: connectTimeoutMs ?? 30000,
      reconnectPeriod: 0,
      clean: !this.options.persistentSession,
      ...(this.options.will
        ? {
            will: {
              topic: this.options.will.topic,
              payload: Buffer.from(this.options.will.payload),
              qos: 1,
              retain: false,
            },
          }
        : {}),
      protocolVersion: 4,
      resubscribe: false,
      queueQoSZero: false,
      // mqtt.js logs through \`debug\` ~20 times a message, allocating every time even when disabled.
      log: MQTTJS_DEBUG ? undefined : noLog,
      ...(tls as mqtt.IClientOptions),
    };
    const client = mqtt.connect(url, connectOptions);
    this.client = client;
    // Only our own listeners are ever removed: mqtt.js clears its timers from listeners of its own.
    client.on('connect', () => {
      if (this.client !== client) return;
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
        if (stale.length > 0) client.unsubscribe(stale);
        sessionFilters.set(this.options.clientId, new Set(filters));
      }
      if (filters.length === 0) return this.setState('connected');
      client.subscribe(filters, { qos: 1 }, (err, granted) => {
        const refused = granted?.find((g) => g.qos === 128);
        if (err || refused) {
          this.lastError = err ?? new Error(`subscription to ${refused!.topic} refused by the broker`);
          this.emit('error', this.lastError);
        }
        this.setState('connected');
      });
    });
    const held = this.options.holdAcks ? this.holdAcksOf(client) : undefined;
    client.on('message', (topic, payload, packet) => {
      if (this.client !== client) return;
      const hold =
        held && packet.qos === 1 && packet.messageId !== undefined
          ? held.arrived(packet.messageId)
          : undefined;
      this.dispatch(topic, payload, hold);
    });
    paceReading(client);
    // mqtt.js answers each QoS 1 message in a tick of its own, one socket write (a system call) per
    // PUBACK: holding the socket corked until the event loop's next turn sends them all in one.
    let corked = false;
    if (this.options.batchAcks)
      client.on('packetreceive', () => {
        const stream = client.stream;
        if (corked || !stream || typeof stream.cork !== 'function') return;
        corked = true;
        stream.cork();
        setImmediate(() => {
          corked = false;
          stream.uncork();
        });
      });
    client.on('error', (err) => {
      if (this.client !== client) return;
      this.lastError = err;
      this.emit('error', err);
    });
    client.on('close', () => {
      held?.discard();
      if (this.client !== client) return;
      this.setState('disconnected');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      this.reconnects++;
      const old = this.client;
      this.client = undefined;
      old?.end(true);
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

  /**
   * Holds PUBACKs by catching mqtt.js's own: it sends one as soon as the message is emitted, and
   * reads the next packet only after that send, so it is told "sent" at once and the PUBACK is
   * written when released.
   */
  private holdAcksOf(client: mqtt.MqttClient): HeldAcks {
    const held = new HeldAcks(() => {
      // Not safe (a full disk, a refusal): never acknowledged; reconnect so the broker sends it again.
      if (this.client !== client) return;
      held.discard();
      this.lastError = new Error('an uplink could not be stored: reconnecting so the broker sends it again');
      this.emit('error', this.lastError);
      client.end(true);
    });
    type SendPacket = (
      packet: { cmd: string; messageId?: number },
      cb?: () => void,
      ...rest: unknown[]
    ) => void;
    const internal = client as unknown as { _sendPacket: SendPacket };
    const send = internal._sendPacket.bind(client);
    internal._sendPacket = (packet, cb, ...rest) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const id = packet.messageId;
        if (held.intercept(id, () => this.client === client && send(packet, undefined, ...rest))) {
          cb?.();
          return;
        }
      }
      send(packet, cb, ...rest);
    };
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
        this.client?.subscribe(filter, { qos: 1 }, (err, granted) => {
          if (err || granted?.[0]?.qos === 128) {
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
      if (this.state === 'connected' && !this.options.persistentSession) this.client?.unsubscribe(filter);
    }
  }

  /** Publishes and settles when the broker acknowledged it (QoS 1) or it was written (QoS 0). */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<void> {
    const client = this.client;
    if (!client || this.state !== 'connected') return Promise.reject(new NotConnectedError());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no acknowledgement within ${this.options.actionTimeoutMs ?? 30000} ms`)),
        this.options.actionTimeoutMs ?? 30000,
      );
      client.publish(topic, payload, { qos }, (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
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
    const client = this.client;
    this.client = undefined;
    if (client) {
      await new Promise<void>((resolve) => {
        // Not connected yet (no CONNACK): nothing to say goodbye to, and a graceful end would leave
        // the socket half-open and mqtt.js's connect timer running.
        if (!client.connected) return void client.end(true, {}, () => resolve());
        const timer = setTimeout(() => {
          client.end(true);
          resolve();
        }, timeoutMs);
        client.end(false, {}, () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.setState('disconnected');
  }

  /** A clean-session connect with our client id: the broker drops the persistent session. */
  private async endSession(timeoutMs: number): Promise<void> {
    const { url, clientId, username, password, tls } = this.options;
    const client = mqtt.connect(url, {
      clientId,
      username,
      password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      log: noLog,
      ...(tls as mqtt.IClientOptions),
    });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => client.end(true, {}, () => resolve()), timeoutMs);
      const done = () => {
        clearTimeout(timer);
        client.end(true, {}, () => resolve());
      };
      client.once('connect', () => {
        clearTimeout(timer);
        client.end(false, {}, () => resolve());
      });
      client.once('error', done);
      client.once('close', done);
    });
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
