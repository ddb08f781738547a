import * as http from 'http';
import { performance } from 'perf_hooks';
import * as mqtt from 'mqtt';
import type { DocumentBody } from '../../lib/thingpark/mapping/document-types';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';
import { tunnelQueryFor } from '../../lib/thingpark/mapping/token';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { percentiles, type Percentiles } from './stats';

/*
 * Load generation and measurement. Every uplink carries a unique FCntUp (its sequence number); the
 * subscriber on the platform broker reads it back from the delivered message, so each uplink's
 * latency is measured from the moment it was sent (POST or publish) to its arrival at the subscriber.
 */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const now = () => performance.now();

/** `n` distinct DevEUIs (16 upper-case hex digits). */
export function devEUIs(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `70B3D5E7${(0x10000000 + i).toString(16).toUpperCase()}`);
}

/** A compact uplink (the fields the token covers, plus Time), about 190 bytes of JSON. */
export function compactUplink(devEUI: string, fCntUp: number, at = new Date()): DocumentBody {
  return {
    Time: thingparkTime(at),
    DevEUI: devEUI,
    FPort: 2,
    FCntUp: fCntUp,
    payload_hex: '0107d02a',
    CustomerID: '1100000077',
    LrrRSSI: -80,
    LrrSNR: 7.5,
  };
}

export type DocShape = 'full' | 'compact';

export function uplinkBody(shape: DocShape, devEUI: string, fCntUp: number, at = new Date()): DocumentBody {
  return shape === 'full' ? sampleUplink(devEUI, fCntUp, at) : compactUplink(devEUI, fCntUp, at);
}

const FCNT = Buffer.from('"FCntUp":');

/** The FCntUp of a delivered document, read without parsing the JSON; -1 if absent. */
export function fCntOf(payload: Buffer): number {
  const at = payload.indexOf(FCNT);
  if (at < 0) return -1;
  let n = 0;
  let digits = 0;
  for (let i = at + FCNT.length; i < payload.length; i++) {
    const c = payload[i];
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    digits++;
  }
  return digits ? n : -1;
}

let nextBase = 1;
/** Sequence numbers of one tracker, unique across the bench run (the replay guard must never fire). */
const RANGE = 5_000_000;

interface Waiter {
  woken: boolean;
  wake(): void;
}

/** Send and delivery times of one load phase, indexed by sequence number. */
export class Tracker {
  readonly base = nextBase;
  sent = 0;
  received = 0;
  duplicates = 0;
  /** When the latest delivery arrived (ms, performance.now()); 0 before the first. */
  lastAt = 0;
  failed = 0;
  private sendAt: Float64Array<ArrayBuffer> = new Float64Array(65536);
  private recvAt: Float64Array<ArrayBuffer> = new Float64Array(65536);
  private waiters: Waiter[] = [];

  constructor() {
    nextBase += RANGE;
  }

  /** The next sequence number, sent at `at` (ms, performance.now()). */
  allocate(at: number): number {
    const i = this.sent++;
    if (i >= RANGE) throw new Error('tracker range exhausted');
    if (i >= this.sendAt.length) {
      this.sendAt = grow(this.sendAt);
      this.recvAt = grow(this.recvAt);
    }
    this.sendAt[i] = at;
    return this.base + i;
  }

  delivered(seq: number, at = now()): void {
    const i = seq - this.base;
    if (i < 0 || i >= this.sent) return;
    if (this.recvAt[i] !== 0) {
      this.duplicates++;
      return;
    }
    this.recvAt[i] = at;
    this.received++;
    if (at > this.lastAt) this.lastAt = at;
    this.wakeOne();
  }

  /** A send that failed: it frees its place in the window as a delivery does. */
  fail(): void {
    this.failed++;
    this.wakeOne();
  }

  // One delivery frees one place in the window: wake one waiter, not all (a herd of 256 timers per
  // delivery cost the bench more CPU than the mqtt client, on the cores Node-RED was measured on).
  private wakeOne(): void {
    while (this.waiters.length) {
      const waiter = this.waiters.shift()!;
      if (!waiter.woken) {
        waiter.wake();
        return;
      }
    }
  }

  /** Sent, not failed, not yet delivered. */
  outstanding(): number {
    return this.sent - this.failed - this.received;
  }

  /** Resolves after `ms`, or sooner at a delivery or failed send once every earlier waiter was woken. */
  waitProgress(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        woken: false,
        wake: () => {
          waiter.woken = true;
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, ms);
      this.waiters.push(waiter);
    });
  }

  /** Waits until everything sent was delivered (or failed), at most `ms`. */
  async settle(ms: number): Promise<boolean> {
    const end = now() + ms;
    while (this.outstanding() > 0 && now() < end) await this.waitProgress(100);
    return this.outstanding() === 0;
  }

  /** Deliveries per second within [t0, t1]. */
  deliveryRate(t0: number, t1: number): number {
    let n = 0;
    for (let i = 0; i < this.sent; i++) {
      const r = this.recvAt[i];
      if (r >= t0 && r < t1) n++;
    }
    return (n * 1000) / (t1 - t0);
  }

  /** Latency (ms) of the uplinks sent within [t0, t1], and how many of them never arrived. */
  latency(t0: number, t1: number): Percentiles & { lost: number } {
    const values: number[] = [];
    let lost = 0;
    for (let i = 0; i < this.sent; i++) {
      const s = this.sendAt[i];
      if (s < t0 || s >= t1) continue;
      const r = this.recvAt[i];
      if (r === 0) lost++;
      else values.push(r - s);
    }
    return { ...percentiles(values), lost };
  }
}

function grow(a: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const b = new Float64Array(a.length * 2);
  b.set(a);
  return b;
}

/** An MQTT client that feeds every message's FCntUp to `onDelivered`. */
export async function subscriber(
  url: string,
  filter: string,
  onDelivered: (fCnt: number, at: number) => void,
  clientId = `bench-sub-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId, clean: true, reconnectPeriod: 0 });
  client.on('message', (_topic, payload) => onDelivered(fCntOf(payload), now()));
  await client.subscribeAsync(filter, { qos: 1 });
  return client;
}

export async function publisher(url: string): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, {
    clientId: `bench-pub-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    clean: true,
    reconnectPeriod: 0,
  });
}

export function publishQos1(client: mqtt.MqttClient, topic: string, payload: string): Promise<boolean> {
  return new Promise((resolve) => client.publish(topic, payload, { qos: 1 }, (err) => resolve(!err)));
}

/** Posts signed ThingPark uplinks (Basic HTTPS tunnel: signed query, JSON body) over kept-alive sockets. */
export class TunnelPoster {
  private readonly agent: http.Agent;
  private readonly url: URL;
  private readonly devices: string[];

  constructor(
    url: string,
    private readonly asId: string,
    private readonly asKey: string,
    devices: number,
    sockets: number,
  ) {
    this.url = new URL(url);
    this.devices = devEUIs(devices);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  /**
   * Posts uplink `seq` (FCntUp = seq) of `devEUI` (default: device seq mod the device count); resolves with
   * the HTTP status.
   */
  post(seq: number, devEUI = this.devices[seq % this.devices.length]): Promise<number> {
    const at = new Date();
    const body = sampleUplink(devEUI, seq, at);
    const query = tunnelQueryFor('DevEUI_uplink', body, {
      asId: this.asId,
      asKey: this.asKey,
      time: thingparkTime(at),
    });
    const data = JSON.stringify({ DevEUI_uplink: body });
    return new Promise((resolve) => {
      const req = http.request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method: 'POST',
          path: `${this.url.pathname}?${query}`,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(data),
            'User-Agent': 'ACTILITY-LRCLRN-DEVICE-AGENT/1.0',
          },
          timeout: 10000,
        },
        (res) => {
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', () => resolve(0));
        },
      );
      req.once('timeout', () => req.destroy(new Error('timeout')));
      req.once('error', () => resolve(0));
      req.end(data);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Closed loop: `concurrency` senders, each sending again as soon as its request settled, while fewer
 * than `window` uplinks are on their way (sent, not yet at the subscriber): the load adapts to what the
 * pipeline sustains and no backlog builds up anywhere. Runs `ms` milliseconds, or until the tracker has
 * sent `count` uplinks.
 */
export async function closedLoop(
  tracker: Tracker,
  send: (seq: number) => Promise<boolean>,
  options: { concurrency: number; window: number; ms: number; count?: number },
): Promise<void> {
  const end = now() + options.ms;
  const count = options.count ?? Infinity;
  const worker = async () => {
    while (now() < end && tracker.sent < count) {
      if (tracker.outstanding() >= options.window) {
        // Woken by the next delivery or failure; the timeout only ends the loop on time (a short one
        // had every waiting sender wake, find the window full and set a new timer, every 20 ms).
        await tracker.waitProgress(Math.max(1, Math.min(1000, end - now())));
        continue;
      }
      const seq = tracker.allocate(now());
      if (!(await send(seq))) tracker.fail();
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}

/**
 * Open loop at a fixed rate for `ms`: uplink i is due at start + i / rate, and its latency is counted
 * from that moment even when the sender could not keep up (no coordinated omission). At most
 * `maxInFlight` requests at once and `window` uplinks undelivered; beyond that sending waits.
 * Returns the rate actually sent.
 */
export async function openLoop(
  tracker: Tracker,
  send: (seq: number) => Promise<boolean>,
  options: { rate: number; ms: number; maxInFlight: number; window: number },
): Promise<number> {
  const start = now();
  const interval = 1000 / options.rate;
  let i = 0;
  let inFlight = 0;
  for (;;) {
    const t = now();
    if (t >= start + options.ms) break;
    const due = Math.floor((t - start) / interval) + 1;
    while (i < due && inFlight < options.maxInFlight && tracker.outstanding() < options.window) {
      const seq = tracker.allocate(start + i * interval);
      i++;
      inFlight++;
      send(seq).then((ok) => {
        inFlight--;
        if (!ok) tracker.fail();
      });
    }
    await sleep(1);
  }
  while (inFlight > 0) await sleep(5);
  return (i * 1000) / options.ms;
}
