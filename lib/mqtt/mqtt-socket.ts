import { EventEmitter } from 'events';
import * as net from 'net';
import type { Duplex } from 'stream';
import * as tls from 'tls';
import { createWebSocketStream, WebSocket } from 'ws';
import { SlotMap } from '../collections';
import {
  CONNACK,
  CONNACK_REFUSALS,
  decodeConnack,
  decodePublish,
  DISCONNECT_PACKET,
  encodeAck,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  MqttProtocolError,
  packetId,
  PINGREQ_PACKET,
  PINGRESP,
  PUBACK,
  PacketReader,
  PUBCOMP,
  PUBLISH,
  PUBREC,
  PUBREL,
  SUBACK,
  subackCodes,
  UNSUBACK,
  type ConnectPacket,
  type Frame,
  type Publish,
} from './packets';

export type { Publish };

export type TlsOptions = tls.SecureContextOptions & { rejectUnauthorized?: boolean; servername?: string };

export interface MqttSocketOptions {
  /** mqtt://, mqtts://, ws:// or wss:// (tcp://, ssl:// and tls:// are read as mqtt:// and mqtts://). */
  url: string;
  connect: ConnectPacket;
  tls?: TlsOptions;
  connectTimeoutMs: number;
  /** How long a PUBACK, SUBACK or UNSUBACK may take: past it, the request fails (30 s if not given). */
  ackTimeoutMs?: number;
  /**
   * Hold writes until the event loop's next turn (not only the end of the current tick), so that the
   * acknowledgements of every message read in one turn leave in one write.
   */
  holdWritesForTurn?: boolean;
  /** Called for each PUBLISH received; QoS 1 and 2 wait for `acknowledge`. */
  onMessage: (message: Publish) => void;
}

/** Time a turn of the event loop may spend taking in messages before reading waits for the next turn. */
export const READ_TURN_MS = 4;

type Settle = (err: Error | undefined, codes?: number[]) => void;

/** A request waiting for the broker's answer, and until when. */
interface Pending {
  settle: Settle;
  deadline: number;
}

/**
 * One MQTT 3.1.1 connection over one socket (TCP, TLS or WebSocket), from CONNECT to close: the
 * keep-alive, packet identifiers, the broker's answers. It never reconnects; events `connect`,
 * `error` (the socket closes after it) and `close` (once).
 */
export class MqttSocket extends EventEmitter {
  connected = false;
  private readonly stream: Duplex;
  private closed = false;
  /** A SlotMap, not a Map: one request per publish (lib/collections/slot-map.ts). */
  private readonly pending = new SlotMap<number, Pending>();
  /** Requests given up on: their ids stay taken until the broker answers, so a late answer settles nothing else. */
  private readonly expired = new Set<number>();
  private readonly ackTimeoutMs: number;
  private ackTimer?: NodeJS.Timeout;
  /** A graceful `end` waits for every request's answer before DISCONNECT. */
  private ending = false;
  private nextId = 1;
  private connectTimer?: NodeJS.Timeout;
  private keepaliveTimer?: NodeJS.Timeout;
  private lastRead = performance.now();
  private lastWrite = performance.now();
  private pingSentAt = 0;
  private corked = false;
  private readonly reader = new PacketReader();
  private paused = false;
  private turnStart = -1;

  constructor(private readonly options: MqttSocketOptions) {
    super();
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30000;
    const connect = encodeConnect(options.connect);
    this.stream = openStream(options.url, options.tls);
    this.stream.on('data', (chunk: Buffer) => this.received(chunk));
    this.stream.on('error', (err: Error) => this.fail(err));
    // A WebSocket's stream ends its reading side when the socket closes: close the rest too.
    this.stream.on('end', () => this.stream.destroy());
    this.stream.on('close', () => this.onClose());
    this.connectTimer = setTimeout(() => this.fail(new Error('connack timeout')), options.connectTimeoutMs);
    this.write(connect);
  }

  /** Publishes; `done` is called at the PUBACK (QoS 1), once written (QoS 0), or with the error that closed the socket. */
  publish(topic: string, payload: Buffer | string, qos: 0 | 1, done: (err?: Error) => void): void {
    if (this.closed) return done(new Error('connection closed'));
    if (qos === 0) {
      this.write(encodePublish(topic, payload, 0, 0), (err) => done(err ?? undefined));
      return;
    }
    const id = this.request(done);
    this.write(encodePublish(topic, payload, 1, id));
  }

  subscribe(
    filters: readonly string[],
    qos: 0 | 1,
    done: (err: Error | undefined, codes?: number[]) => void,
  ): void {
    if (this.closed) return done(new Error('connection closed'));
    const id = this.request(done);
    this.write(encodeSubscribe(id, filters, qos));
  }

  unsubscribe(filters: readonly string[]): void {
    if (this.closed || filters.length === 0) return;
    const id = this.request(() => undefined);
    this.write(encodeUnsubscribe(id, filters));
  }

  /** What a QoS 1 message asks (PUBACK), or a QoS 2 message's first answer (PUBREC). */
  acknowledge(message: Publish): void {
    if (message.qos === 0 || this.closed) return;
    this.write(encodeAck(message.qos === 1 ? PUBACK : PUBREC, message.id));
  }

  /**
   * Closes: gracefully, DISCONNECT once every request sent has its answer (or its deadline), so that
   * what is in flight is not sent twice; at once with `force`, or before CONNACK. Settles once closed.
   */
  end(force: boolean): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.closed ? resolve() : this.once('close', resolve)));
    if (this.closed) return closed;
    if (force || !this.connected) {
      this.stream.destroy();
      return closed;
    }
    this.ending = true;
    this.answered();
    return closed;
  }

  /** A graceful end says DISCONNECT once no request waits for its answer. */
  private answered(): void {
    if (!this.ending || this.pending.size > 0 || this.stream.writableEnded) return;
    this.write(DISCONNECT_PACKET);
    this.stream.end();
  }

  /** A packet identifier for a request, and its deadline (one timer for all, not one per request). */
  private request(settle: Settle): number {
    let id = 0;
    for (let tries = 0; tries < 65_535 && !id; tries++) {
      const candidate = this.nextId;
      this.nextId = candidate === 65_535 ? 1 : candidate + 1;
      if (!this.pending.has(candidate) && !this.expired.has(candidate)) id = candidate;
    }
    if (!id) throw new MqttProtocolError('every packet identifier is in use');
    this.pending.set(id, { settle, deadline: performance.now() + this.ackTimeoutMs });
    this.ackTimer ??= setInterval(() => this.expire(), Math.min(1000, this.ackTimeoutMs / 4));
    return id;
  }

  private expire(): void {
    const now = performance.now();
    const due: Array<[number, Pending]> = [];
    this.pending.forEach((p, id) => {
      if (p.deadline <= now) due.push([id, p]);
    });
    for (const [id, p] of inSendOrder(due)) {
      this.pending.delete(id);
      this.expired.add(id);
      p.settle(new Error(`no acknowledgement within ${this.ackTimeoutMs} ms`));
    }
    if (this.pending.size === 0) {
      clearInterval(this.ackTimer);
      this.ackTimer = undefined;
    }
    this.answered();
  }

  private write(packet: Buffer, done?: (err?: Error | null) => void): void {
    const stream = this.stream;
    if (stream.destroyed || stream.writableEnded) {
      if (done) process.nextTick(done, new Error('connection closed'));
      return;
    }
    // The packets written in one tick (or turn) leave in one system call.
    if (!this.corked) {
      this.corked = true;
      stream.cork();
      if (this.options.holdWritesForTurn) setImmediate(() => this.uncork());
      else process.nextTick(() => this.uncork());
    }
    stream.write(packet, done);
    this.lastWrite = performance.now();
  }

  private uncork(): void {
    this.corked = false;
    this.stream.uncork();
  }

  private received(chunk: Buffer): void {
    this.lastRead = performance.now();
    if (this.reader.push(chunk) && !this.paused) this.read();
  }

  /** Reads every whole packet received, or stops after READ_TURN_MS in this turn and goes on in the next. */
  private read(): void {
    while (!this.closed) {
      let frame: Frame | undefined;
      try {
        frame = this.reader.next();
        if (!frame) return;
        this.handle(frame);
      } catch (err) {
        if (!(err instanceof MqttProtocolError)) throw err;
        return this.fail(err);
      }
      if (frame.first >> 4 === PUBLISH && this.turnOver()) return this.waitForNextTurn();
    }
  }

  /**
   * libuv hands over up to 2 MB of socket data at once: a broker releasing a thousand held messages
   * would have them all handled in one turn, every other flow and timer waiting behind them.
   */
  private turnOver(): boolean {
    const now = performance.now();
    if (this.turnStart < 0) {
      this.turnStart = now;
      setImmediate(() => (this.turnStart = -1));
    }
    return now - this.turnStart >= READ_TURN_MS;
  }

  private waitForNextTurn(): void {
    this.paused = true;
    this.stream.pause();
    setImmediate(() => {
      this.paused = false;
      if (this.closed) return;
      this.stream.resume();
      this.read();
    });
  }

  private handle(frame: Frame): void {
    const type = frame.first >> 4;
    if (!this.connected && type !== CONNACK)
      throw new MqttProtocolError(`packet type ${type} before CONNACK`);
    this.pingSentAt = 0;
    switch (type) {
      case PUBLISH:
        return this.options.onMessage(decodePublish(this.reader.buf, frame));
      case PUBACK:
      case UNSUBACK:
        return this.settle(packetId(this.reader.buf, frame));
      case SUBACK:
        return this.settle(packetId(this.reader.buf, frame), subackCodes(this.reader.buf, frame));
      case PUBREL:
        return this.write(encodeAck(PUBCOMP, packetId(this.reader.buf, frame)));
      case PINGRESP:
        return;
      case CONNACK:
        return this.connackReceived(frame);
      default:
        throw new MqttProtocolError(`unexpected packet type ${type}`);
    }
  }

  private settle(id: number, codes?: number[]): void {
    const p = this.pending.get(id);
    if (!p) {
      this.expired.delete(id); // a late answer, or one to nothing of ours: MQTT has the client ignore it
      return;
    }
    this.pending.delete(id);
    p.settle(undefined, codes);
    this.answered();
  }

  private connackReceived(frame: Frame): void {
    if (this.connected) throw new MqttProtocolError('a second CONNACK');
    const { returnCode } = decodeConnack(this.reader.buf, frame);
    clearTimeout(this.connectTimer);
    if (returnCode !== 0) {
      const reason = CONNACK_REFUSALS[returnCode] ?? `return code ${returnCode}`;
      return this.fail(Object.assign(new Error(`Connection refused: ${reason}`), { code: returnCode }));
    }
    this.connected = true;
    this.startKeepalive();
    this.emit('connect');
  }

  /**
   * A PINGREQ when we have written nothing for half the keep-alive (the broker drops a client silent
   * for 1.5 times it) or read nothing for a whole one; no answer within a keep-alive: the link is
   * dead, even if the socket does not know it yet.
   */
  private startKeepalive(): void {
    const ms = this.options.connect.keepalive * 1000;
    if (ms <= 0) return;
    this.keepaliveTimer = setInterval(() => {
      const now = performance.now();
      if (this.pingSentAt > 0) {
        if (now - this.pingSentAt >= ms) this.fail(new Error('Keepalive timeout'));
        return;
      }
      if (now - this.lastWrite >= ms / 2 || now - this.lastRead >= ms) {
        this.write(PINGREQ_PACKET);
        this.pingSentAt = now;
      }
    }, ms / 2);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.emit('error', err);
    this.stream.destroy();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    clearTimeout(this.connectTimer);
    clearInterval(this.keepaliveTimer);
    clearInterval(this.ackTimer);
    const pending = inSendOrder(this.pending.entries()).map(([, p]) => p.settle);
    this.pending.clear();
    this.expired.clear();
    const err = new Error('connection closed');
    for (const done of pending) done(err);
    this.reader.clear();
    this.emit('close');
  }
}

/** The socket of an MQTT URL: TCP, TLS, or a WebSocket (subprotocol `mqtt`) as a stream. */
function openStream(url: string, tlsOptions: TlsOptions | undefined): Duplex {
  const parsed = new URL(url);
  const scheme = parsed.protocol.slice(0, -1).toLowerCase();
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (scheme === 'ws' || scheme === 'wss') {
    const ws = new WebSocket(url, 'mqtt', {
      ...(scheme === 'wss' ? tlsOptions : {}),
      perMessageDeflate: false,
    });
    return createWebSocketStream(ws);
  }
  const secure = scheme === 'mqtts' || scheme === 'ssl' || scheme === 'tls';
  if (!secure && scheme !== 'mqtt' && scheme !== 'tcp') throw new Error(`not an MQTT URL: ${scheme}://`);
  const port = parsed.port ? Number(parsed.port) : secure ? 8883 : 1883;
  if (!secure) return net.connect({ host, port });
  return tls.connect({
    servername: net.isIP(host) ? undefined : host,
    ...tlsOptions,
    host,
    port,
  });
}

/** Requests in the order they were sent (each has the same time to answer). */
function inSendOrder(requests: Array<[number, Pending]>): Array<[number, Pending]> {
  return requests.sort((a, b) => a[1].deadline - b[1].deadline);
}
