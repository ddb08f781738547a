import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import { MqttConnection } from '../../lib/mqtt/mqtt-connection';
import { MqttSocket, type Publish } from '../../lib/mqtt/mqtt-socket';
import { freePort, Mosquitto } from '../../testkit/broker';
import { MqttFrames } from '../../testkit/mqtt-frames';
import { makeTestCerts, type TestCerts } from '../helpers/certs';

/*
 * Our MQTT client where the other MQTT tests do not take it: a real mosquitto over WebSocket and TLS,
 * and a scripted broker that answers what a broker may (refusals, silence, QoS 2, garbage).
 */
const until = async (check: () => boolean, ms: number, what: string) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });

describe('MQTT client: over WSS to mosquitto', function () {
  this.timeout(30000);
  let certs: TestCerts;
  let broker: Mosquitto;
  let wsPort: number;
  before(async () => {
    certs = makeTestCerts();
    wsPort = await freePort();
    broker = new Mosquitto({
      extra: [
        `listener ${wsPort} 127.0.0.1`,
        'protocol websockets',
        `certfile ${certs.certFile}`,
        `keyfile ${certs.keyFile}`,
      ],
    });
    await broker.start();
    // Broker.start waits for the first listener; mosquitto may open this one a moment later.
    const end = Date.now() + 5000;
    while (!(await accepts(wsPort)) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  });
  after(() => broker.dispose());

  it('subscribes, publishes and receives a 100 kB message over wss:// with the CA checked', async () => {
    const conn = new MqttConnection({
      url: `wss://127.0.0.1:${wsPort}/mqtt`,
      clientId: 'wss-test',
      tls: { ca: fs.readFileSync(certs.caFile), servername: 'localhost' },
      backoff: { initialMs: 100, maxMs: 300 },
    });
    const errors: string[] = [];
    conn.on('error', (e: Error) => errors.push(e.message));
    const got: Buffer[] = [];
    conn.subscribe('wss/#', (_t, payload) => got.push(Buffer.from(payload)));
    conn.start();
    try {
      await until(() => conn.state === 'connected', 10000, `connected (${errors.join('; ')})`);
      // mosquitto's WebSocket listener moves about 40 kB/s here (mqtt.js's client alike): 100 kB, not more.
      const big = Buffer.alloc(100_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff;
      await conn.publish('wss/big', big, 1);
      await conn.publish('wss/small', 'é', 1);
      await until(() => got.length === 2, 10000, 'both messages back');
      assert.ok(got[0].equals(big), 'the 100 kB message came back byte for byte');
      assert.equal(got[1].toString(), 'é');
    } finally {
      await conn.stop();
    }
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    const conn = new MqttConnection({
      url: `wss://127.0.0.1:${wsPort}/mqtt`,
      clientId: 'wss-untrusted',
      backoff: { initialMs: 60000 },
    });
    const errors: Error[] = [];
    conn.on('error', (e: Error) => errors.push(e));
    conn.start();
    try {
      await until(() => errors.length > 0, 10000, 'an error');
      assert.match(errors[0].message, /certificate/i);
      assert.notEqual(conn.state, 'connected');
    } finally {
      await conn.stop();
    }
  });
});

/** A broker played by the test: it sees every packet the client writes and sends what it is told. */
class ScriptedBroker {
  private server?: net.Server;
  port = 0;
  readonly sockets: net.Socket[] = [];
  /** Packets received, as [connection, type, body]. */
  readonly packets: { conn: number; type: number; first: number; body: Buffer; at: number }[] = [];

  constructor(private readonly onConnect: (socket: net.Socket, conn: number) => void) {}

  async start(): Promise<this> {
    this.server = net.createServer((socket) => {
      const conn = this.sockets.push(socket) - 1;
      socket.on('error', () => undefined);
      const frames = new MqttFrames((first, body) => {
        this.packets.push({ conn, type: first >> 4, first, body, at: Date.now() });
        if (first >> 4 === 1) this.onConnect(socket, conn);
      });
      socket.on('data', (d) => frames.push(d));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server!.address() as net.AddressInfo).port;
    return this;
  }

  of(type: number, conn?: number) {
    return this.packets.filter((p) => p.type === type && (conn === undefined || p.conn === conn));
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

const CONNACK_OK = Buffer.from([0x20, 2, 0, 0]);

describe('MQTT client: what a broker may answer', function () {
  this.timeout(20000);
  const open = (port: number, options: Partial<ConstructorParameters<typeof MqttSocket>[0]> = {}) => {
    const messages: Publish[] = [];
    const socket = new MqttSocket({
      url: `mqtt://127.0.0.1:${port}`,
      connectTimeoutMs: 5000,
      connect: { clientId: 'scripted', clean: true, keepalive: 0 },
      onMessage: (m) => messages.push(m),
      ...options,
    });
    const errors: Error[] = [];
    socket.on('error', (e: Error) => errors.push(e));
    let closed = false;
    socket.on('close', () => (closed = true));
    return { socket, messages, errors, closed: () => closed };
  };

  /** A broker that accepts, a socket connected to it, and the broker stopped after `test`. */
  const connectedTo = async (
    options: Partial<ConstructorParameters<typeof MqttSocket>[0]>,
    test: (broker: ScriptedBroker, c: ReturnType<typeof open>) => Promise<void>,
  ) => {
    const broker = await new ScriptedBroker((s) => s.write(CONNACK_OK)).start();
    try {
      const c = open(broker.port, options);
      await until(() => c.socket.connected, 5000, 'connected');
      await test(broker, c);
    } finally {
      await broker.stop();
    }
  };

  it('a refusal in CONNACK is an error carrying the return code, then the socket closes', async () => {
    for (const [code, text] of [
      [4, 'Connection refused: Bad user name or password'],
      [5, 'Connection refused: Not authorized'],
      [3, 'Connection refused: Server unavailable'],
      [9, 'Connection refused: return code 9'],
    ] as const) {
      const broker = await new ScriptedBroker((s) => s.write(Buffer.from([0x20, 2, 0, code]))).start();
      try {
        const c = open(broker.port);
        await until(c.closed, 5000, 'closed');
        assert.equal(c.errors.length, 1);
        assert.equal(c.errors[0].message, text);
        assert.equal((c.errors[0] as Error & { code?: number }).code, code);
        assert.equal(c.socket.connected, false);
      } finally {
        await broker.stop();
      }
    }
  });

  it('no CONNACK within the connect timeout: "connack timeout", and the socket closes', async () => {
    const broker = await new ScriptedBroker(() => undefined).start();
    try {
      const started = Date.now();
      const c = open(broker.port, { connectTimeoutMs: 300 });
      await until(c.closed, 5000, 'closed');
      assert.equal(c.errors[0]?.message, 'connack timeout');
      assert.ok(Date.now() - started >= 290);
    } finally {
      await broker.stop();
    }
  });

  it('anything before CONNACK, a second CONNACK, or a malformed length is a protocol error that closes the socket', async () => {
    const scripts: [string, Buffer, RegExp][] = [
      ['a PUBLISH before CONNACK', Buffer.from([0x30, 3, 0, 1, 0x74]), /before CONNACK/],
      ['two CONNACKs', Buffer.concat([CONNACK_OK, CONNACK_OK]), /second CONNACK/],
      [
        'a five-byte length',
        Buffer.concat([CONNACK_OK, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])]),
        /malformed/,
      ],
      [
        'a CONNECT sent to the client',
        Buffer.concat([CONNACK_OK, Buffer.from([0x10, 0])]),
        /unexpected packet type 1/,
      ],
    ];
    for (const [what, bytes, error] of scripts) {
      const broker = await new ScriptedBroker((s) => s.write(bytes)).start();
      try {
        const c = open(broker.port);
        await until(c.closed, 5000, `${what}: closed`);
        assert.match(c.errors[0]?.message ?? '', error, what);
      } finally {
        await broker.stop();
      }
    }
  });

  it('answers QoS 1 with PUBACK and QoS 2 with PUBREC, then PUBCOMP to PUBREL, only when told', async () => {
    const broker = await new ScriptedBroker((s) =>
      s.write(
        Buffer.concat([
          CONNACK_OK,
          Buffer.from([0x32, 6, 0, 1, 0x61, 0, 7, 0x31]), // QoS 1, id 7, "1"
          Buffer.from([0x34, 6, 0, 1, 0x62, 0, 8, 0x32]), // QoS 2, id 8, "2"
        ]),
      ),
    ).start();
    try {
      const c = open(broker.port);
      await until(() => c.messages.length === 2, 5000, 'two messages');
      assert.deepEqual(
        c.messages.map((m) => [m.topic, m.qos, m.id, m.payload.toString()]),
        [
          ['a', 1, 7, '1'],
          ['b', 2, 8, '2'],
        ],
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(broker.of(4).length + broker.of(5).length, 0, 'nothing acknowledged before it is told');
      for (const m of c.messages) c.socket.acknowledge(m);
      await until(() => broker.of(4).length === 1 && broker.of(5).length === 1, 5000, 'PUBACK and PUBREC');
      assert.equal(broker.of(4)[0].body.readUInt16BE(0), 7);
      assert.equal(broker.of(5)[0].body.readUInt16BE(0), 8);
      broker.sockets[0].write(Buffer.from([0x62, 2, 0, 8]));
      await until(() => broker.of(7).length === 1, 5000, 'PUBCOMP');
      assert.equal(broker.of(7)[0].body.readUInt16BE(0), 8);
      await c.socket.end(false);
      assert.equal(broker.of(14).length, 1, 'DISCONNECT said on a graceful end');
    } finally {
      await broker.stop();
    }
  });

  it('a graceful end says DISCONNECT once what is in flight is acknowledged, not before', async () => {
    await connectedTo({}, async (broker, c) => {
      let outcome: Error | undefined | 'pending' = 'pending';
      c.socket.publish('t', 'in flight', 1, (err) => (outcome = err));
      await until(() => broker.of(3).length === 1, 5000, 'PUBLISH seen');
      const ended = c.socket.end(false);
      await new Promise((r) => setTimeout(r, 150));
      assert.equal(broker.of(14).length, 0, 'no DISCONNECT while a PUBACK is awaited');
      assert.equal(c.closed(), false);
      const id = broker.of(3)[0].body.readUInt16BE(3);
      broker.sockets[0].write(Buffer.from([0x40, 2, id >> 8, id & 0xff]));
      await ended;
      assert.equal(outcome, undefined, 'the publish was acknowledged');
      await until(() => broker.of(14).length === 1, 5000, 'DISCONNECT');
    });
  });

  it('a publish waiting for its PUBACK fails at once when the connection closes', async () => {
    await connectedTo({}, async (broker, c) => {
      const settled = new Promise<Error | undefined>((r) => c.socket.publish('t', 'x', 1, r));
      await until(() => broker.of(3).length === 1, 5000, 'PUBLISH seen');
      const cut = Date.now();
      broker.sockets[0].destroy();
      const err = await settled;
      assert.equal(err?.message, 'connection closed');
      assert.ok(Date.now() - cut < 1000);
    });
  });

  it('a publish left unacknowledged fails at the deadline, and its late PUBACK settles no other publish', async () => {
    await connectedTo({ ackTimeoutMs: 200 }, async (broker, c) => {
      const started = Date.now();
      const first = await new Promise<Error | undefined>((r) => c.socket.publish('t', 'a', 1, r));
      assert.equal(first?.message, 'no acknowledgement within 200 ms');
      const waited = Date.now() - started;
      assert.ok(waited >= 190 && waited < 600, `failed after ${waited} ms`);
      let second: Error | undefined | 'pending' = 'pending';
      c.socket.publish('t', 'b', 1, (err) => (second = err));
      await until(() => broker.of(3).length === 2, 5000, 'second PUBLISH seen');
      const [idA, idB] = broker.of(3).map((p) => p.body.readUInt16BE(3));
      assert.notEqual(idB, idA, 'the timed-out id is not reused while the broker may still answer it');
      broker.sockets[0].write(Buffer.from([0x40, 2, idA >> 8, idA & 0xff]));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(second, 'pending', 'the late PUBACK of the first settled nothing');
      broker.sockets[0].write(Buffer.from([0x40, 2, idB >> 8, idB & 0xff]));
      await until(() => second !== 'pending', 5000, 'second settled');
      assert.equal(second, undefined);
    });
  });

  it('sends PINGREQ when idle for half the keep-alive, and gives the link up when it goes unanswered', async () => {
    await connectedTo({ connect: { clientId: 'idle', clean: true, keepalive: 1 } }, async (broker, c) => {
      const connectedAt = Date.now();
      await until(c.closed, 5000, 'closed');
      const pings = broker.of(12);
      assert.ok(pings.length >= 1, 'a PINGREQ');
      const after = pings[0].at - connectedAt;
      assert.ok(after >= 400 && after < 1200, `first PINGREQ ${after} ms after CONNACK (keep-alive 1 s)`);
      assert.equal(c.errors[0]?.message, 'Keepalive timeout');
      assert.ok(Date.now() - connectedAt < 3500);
    });
  });
});
