import * as mqtt from 'mqtt';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { postTunnelDocument, type TunnelTarget } from '../../testkit/simulator/uplink-poster';
import type { Ledger } from './ledger';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `n` distinct DevEUIs. */
export function devEUIs(n: number, prefix = '70B3D5E7'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${(0x10000000 + i).toString(16).toUpperCase()}`);
}

export interface LoadOptions {
  target: TunnelTarget;
  devices: string[];
  /** Uplinks per second, spread evenly. */
  rate: number;
  /** Stop after this many uplinks (or when `stop()` is called). */
  total?: number;
  /** Most POSTs waiting for their answer. */
  concurrency?: number;
}

/**
 * ThingPark posting signed uplinks at a steady rate, round-robin over the devices, each device's
 * FCntUp counting up. A device's next uplink waits for the answer to its last, as a device's frames
 * come seconds apart: the order Node-RED accepts them in is then their FCntUp order. Every answer goes
 * in the ledger: 200 = accepted, anything else failed.
 */
export class UplinkLoad {
  private next = 0;
  private turn = 0;
  private readonly busy = new Set<string>();
  private outstanding = 0;
  private stopped = false;
  private readonly settledWaiters: Array<() => void> = [];

  constructor(
    private readonly ledger: Ledger,
    private readonly options: LoadOptions,
  ) {}

  /** Posts until `total` is reached or `stop()`; resolves when every answer is in. */
  async run(): Promise<void> {
    const { rate, total, concurrency = 64 } = this.options;
    const start = Date.now();
    while (!this.stopped && (total === undefined || this.next < total)) {
      const due = Math.floor(((Date.now() - start) * rate) / 1000);
      while (this.next < due && (total === undefined || this.next < total) && !this.stopped) {
        if (this.outstanding >= concurrency || !this.postOne()) break;
      }
      await sleep(20);
    }
    while (this.outstanding > 0) await new Promise<void>((r) => this.settledWaiters.push(r));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Posts the next device's next uplink; false when every device waits for an answer. */
  private postOne(): boolean {
    const { devices, target } = this.options;
    let dev = devices[this.turn++ % devices.length];
    for (let tries = 0; this.busy.has(dev) && tries < devices.length; tries++)
      dev = devices[this.turn++ % devices.length];
    if (this.busy.has(dev)) return false;
    this.busy.add(dev);
    this.next++;
    const fCnt = this.ledger.allocate(dev);
    this.outstanding++;
    postTunnelDocument(target, 'DevEUI_uplink', sampleUplink(dev, fCnt))
      .then(
        (res) => (res.status === 200 ? this.ledger.noteAccepted(dev, fCnt) : this.ledger.failedPosts++),
        () => this.ledger.failedPosts++,
      )
      .finally(() => {
        this.busy.delete(dev);
        this.outstanding--;
        if (this.outstanding === 0) for (const w of this.settledWaiters.splice(0)) w();
      });
    return true;
  }
}

export interface RecorderOptions {
  url: string;
  topic: string;
  username?: string;
  password?: string;
  /** The uplink a platform message stands for, or undefined for messages that are not uplinks. */
  parse: (payload: Buffer) => { dev: string; fCnt: number } | undefined;
}

/** The platform side: a QoS 1 subscriber putting every uplink it receives in the ledger. */
export class PlatformRecorder {
  private client?: mqtt.MqttClient;
  other = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly options: RecorderOptions,
  ) {}

  /** (Re)connects and resolves once subscribed: from then on nothing published is missed. */
  async connect(): Promise<void> {
    const old = this.client;
    this.client = undefined;
    await old?.endAsync(true).catch(() => undefined);
    const { url, topic, username, password, parse } = this.options;
    const client = mqtt.connect(url, {
      username,
      password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5000,
    });
    client.on('message', (_topic, payload) => {
      const up = parse(payload);
      if (up) this.ledger.noteDelivered(up.dev, up.fCnt);
      else this.other++;
    });
    client.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('close', () => reject(new Error(`recorder could not connect to ${url}`)));
    });
    await client.subscribeAsync(topic, { qos: 1 });
    this.client = client;
  }

  /** Connects, retrying while the broker starts. */
  async connectWithin(ms: number): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        return await this.connect();
      } catch (err) {
        if (Date.now() > end) throw err;
        await sleep(100);
      }
    }
  }

  async end(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync(true).catch(() => undefined);
  }
}

/** A WMW message: the document itself. */
export function wmwUplink(payload: Buffer): { dev: string; fCnt: number } | undefined {
  const up = (JSON.parse(payload.toString()) as { DevEUI_uplink?: { DevEUI: string; FCntUp: number } })
    .DevEUI_uplink;
  return up ? { dev: up.DevEUI, fCnt: up.FCntUp } : undefined;
}

/** A Cumulocity raw-frame event (`event/events/create`): one per uplink. */
export function cumulocityUplink(payload: Buffer): { dev: string; fCnt: number } | undefined {
  const event = JSON.parse(payload.toString()) as {
    c8y_ThingParkUplink?: { DevEUI: string; FCntUp: number };
  };
  const up = event.c8y_ThingParkUplink;
  return up ? { dev: up.DevEUI, fCnt: up.FCntUp } : undefined;
}
