import * as net from 'net';
import { MqttFrames, publishOf, pubackOf } from './mqtt-frames';

export interface FaultRelayOptions {
  /**
   * Called for each QoS 1 PUBLISH from the client once the broker's PUBACK for it passed through:
   * what the broker took responsibility for. `openedAt`: when this connection to the broker was
   * opened (ms since the epoch), which tells which run of the broker answered.
   */
  onBrokerAck?: (topic: string, payload: Buffer, openedAt: number) => void;
}

/**
 * A TCP relay between Node-RED and the broker, for network faults: it can reset every connection
 * with a TCP RST, and refuse new ones (reset at once) while `accepting` is false. It never answers
 * for the broker, so it cannot make a message look delivered.
 */
export class FaultRelay {
  port = 0;
  accepting = true;
  /** Connections reset by `reset()` or refused while not accepting. */
  resets = 0;
  private server?: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();

  constructor(
    private readonly targetPort: number,
    private readonly options: FaultRelayOptions = {},
  ) {}

  async start(): Promise<this> {
    this.server = net.createServer((client) => this.relay(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server!.address() as net.AddressInfo).port;
    return this;
  }

  private relay(client: net.Socket): void {
    client.on('error', () => undefined);
    if (!this.accepting) {
      this.resets++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    upstream.on('error', () => undefined);
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    if (this.options.onBrokerAck) this.watchAcks(client, upstream, this.options.onBrokerAck);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
  }

  private watchAcks(
    client: net.Socket,
    upstream: net.Socket,
    onAck: NonNullable<FaultRelayOptions['onBrokerAck']>,
  ): void {
    const openedAt = Date.now();
    const published = new Map<number, { topic: string; payload: Buffer }>();
    const fromClient = new MqttFrames((first, body) => {
      const p = publishOf(first, body);
      if (p) published.set(p.id, { topic: p.topic, payload: Buffer.from(p.payload) });
    });
    const fromBroker = new MqttFrames((first, body) => {
      const id = pubackOf(first, body);
      if (id === undefined) return;
      const p = published.get(id);
      if (!p) return;
      published.delete(id);
      onAck(p.topic, p.payload, openedAt);
    });
    client.on('data', (chunk: Buffer) => fromClient.push(chunk));
    upstream.on('data', (chunk: Buffer) => fromBroker.push(chunk));
  }

  /** Open connections through the relay. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Cuts every connection with an RST on both sides (a NAT or firewall dropping the flow). */
  reset(): number {
    const n = this.pairs.size;
    for (const [client, upstream] of this.pairs) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    this.pairs.clear();
    this.resets += n;
    return n;
  }

  async stop(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
