import { strict as assert } from 'assert';
import * as net from 'net';
import { MqttConnection } from '../../lib/mqtt/mqtt-connection';
import { Mosquitto } from '../../testkit/broker';

/** A TCP relay that can go silent: the sockets stay open but nothing passes (a half-open link). */
class BlackHoleProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  silent = false;
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => this.sockets.delete(s));
      }
      client.on('data', (d) => !this.silent && upstream.write(d));
      upstream.on('data', (d) => !this.silent && client.write(d));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server!.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

describe('MQTT connection: half-open links', function () {
  this.timeout(30000);
  const broker = new Mosquitto();
  let proxy: BlackHoleProxy;
  before(async () => {
    await broker.start();
    proxy = new BlackHoleProxy(broker.port);
    await proxy.start();
  });
  after(async () => {
    await proxy.stop();
    await broker.dispose();
  });

  it('notices a link that went silent through the keep-alive, reconnects, and publishes again', async () => {
    const conn = new MqttConnection({
      url: `mqtt://127.0.0.1:${proxy.port}`,
      clientId: 'half-open-test',
      keepalive: 1,
      backoff: { initialMs: 100, maxMs: 500 },
      actionTimeoutMs: 2000,
    });
    const states: string[] = [];
    conn.on('state', (s: string) => states.push(s));
    conn.on('error', () => undefined);
    conn.start();
    try {
      const until = async (check: () => boolean, ms: number, what: string) => {
        const end = Date.now() + ms;
        while (!check()) {
          if (Date.now() > end) throw new Error(`timed out: ${what} (states ${states.join(',')})`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await until(() => conn.state === 'connected', 5000, 'connected');
      proxy.silent = true;
      const cut = Date.now();
      await until(() => conn.state !== 'connected', 6000, 'half-open link detected');
      const detectedAfter = Date.now() - cut;
      assert.ok(detectedAfter < 4000, `detected after ${detectedAfter} ms with a 1 s keep-alive`);
      proxy.silent = false;
      await until(() => conn.state === 'connected', 10000, 'reconnected');
      await conn.publish('half/open', 'after', 1);
      assert.ok(conn.reconnects >= 1);
    } finally {
      await conn.stop();
    }
  });

  it('fails each publish the broker never acknowledges actionTimeoutMs after that publish began', async () => {
    const conn = new MqttConnection({
      url: `mqtt://127.0.0.1:${proxy.port}`,
      clientId: 'publish-timeout-test',
      keepalive: 30,
      actionTimeoutMs: 400,
    });
    conn.on('error', () => undefined);
    conn.start();
    try {
      const end = Date.now() + 5000;
      while (conn.state !== 'connected' && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.equal(conn.state, 'connected');
      await conn.publish('timeout/ok', 'acknowledged', 1);
      proxy.silent = true;
      const t0 = Date.now();
      const outcomes = await Promise.allSettled([
        conn.publish('timeout/lost', 'a', 1),
        new Promise((r) => setTimeout(r, 150)).then(() => conn.publish('timeout/lost', 'b', 1)),
      ]);
      const waited = Date.now() - t0;
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok')),
        ['no acknowledgement within 400 ms', 'no acknowledgement within 400 ms'],
      );
      assert.ok(
        waited >= 540 && waited < 2000,
        `the later publish timed out ${waited} ms after the first began`,
      );
    } finally {
      proxy.silent = false;
      await conn.stop();
    }
  });
});
