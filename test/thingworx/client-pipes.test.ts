import { strict as assert } from 'assert';
import {
  AlwaysOnClientError,
  describeCode,
  fnv1a32,
  isRetryable,
  isRetryableCode,
  pipeIndexFor,
  PipePool,
  ProvisioningError,
} from '../../lib/thingworx';
import { devEuis, eventually, Fixture, TEMPLATE } from './client-fixtures';

/** Run `count` calls of `fn` with at most `window` in flight. */
async function pump(count: number, window: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: window }, worker));
}

describe('AlwaysOn error classification', () => {
  it('treats 0x80–0x8F as permanent (0x81 aside), 0x81 and 0xA0–0xA4 as retryable', () => {
    const permanent = [0x80, 0x82, 0x83, 0x84, 0x85, 0x86, 0x8c, 0x8d, 0x8f];
    const retryable = [0x81, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4];
    for (const c of permanent) assert.equal(isRetryableCode(c), false, describeCode(c));
    for (const c of retryable) assert.equal(isRetryableCode(c), true, describeCode(c));
    assert.equal(describeCode(0x84), 'NOT_FOUND (0x84)');
    assert.equal(describeCode(0x99), '0x99');
  });

  it('makes transport-level failures retryable and encode / protocol errors permanent', () => {
    for (const k of ['timeout', 'disconnected', 'not-connected', 'closed', 'transport', 'auth'] as const) {
      assert.equal(new AlwaysOnClientError(k, 'x').retryable, true, k);
    }
    for (const k of ['encode', 'protocol'] as const)
      assert.equal(new AlwaysOnClientError(k, 'x').retryable, false, k);
    assert.equal(new AlwaysOnClientError('response', 'x', { code: 0x83 }).retryable, false);
    assert.equal(isRetryable(new AlwaysOnClientError('response', 'x', { code: 0xa3 })), true);
    assert.equal(isRetryable(new Error('x')), false);
    const p = new ProvisioningError(
      'CreateThing',
      'no',
      new AlwaysOnClientError('response', 'x', { code: 0x83 }),
    );
    assert.ok(p instanceof AlwaysOnClientError);
    assert.equal(p.code, 0x83);
    assert.equal(p.retryable, false);
  });
});

describe('pipe hash', () => {
  it('is 32-bit FNV-1a of the UTF-8 name', () => {
    assert.equal(fnv1a32(''), 0x811c9dc5);
    assert.equal(fnv1a32('a'), 0xe40c292c);
    assert.equal(fnv1a32('foobar'), 0xbf9cf968);
    // UTF-8, not UTF-16: 'é' is C3 A9.
    const manual = Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) >>> 0;
    assert.equal(fnv1a32('é'), manual);
  });

  it('maps names to pipes stably and about evenly', () => {
    const names = devEuis(40000);
    const counts = [0, 0, 0, 0];
    for (const n of names) counts[pipeIndexFor(n, 4)]++;
    for (const c of counts) assert.ok(Math.abs(c - 10000) < 600, `pipe load ${counts.join('/')}`);
    assert.equal(pipeIndexFor('0018B20000000B20', 4), fnv1a32('0018B20000000B20') % 4);
    assert.equal(pipeIndexFor('anything', 1), 0);
    assert.throws(() => pipeIndexFor('x', 0), RangeError);
  });
});

describe('PipePool', function () {
  this.timeout(60000);
  const fx = new Fixture();
  afterEach(() => fx.cleanup());

  it('accepts 1–255 pipes only', async () => {
    const server = await fx.server();
    for (const n of [0, 256, 1.5])
      assert.throws(() => new PipePool({ ...fx.clientOptions(server), pipeCount: n }), RangeError);
    assert.equal(new PipePool({ ...fx.clientOptions(server), pipeCount: 255 }).pipeCount, 255);
  });

  it('with 4 pipes binds each Thing on exactly one socket, the one its hash names, and calls it there', async () => {
    const server = await fx.server();
    server.addConnectorTemplate(TEMPLATE);
    const names = devEuis(4000);
    server.addThings(names, TEMPLATE);
    const pool = fx.pool(server, { pipeCount: 4 });
    pool.start();
    await pool.whenConnected();
    assert.equal(pool.state, 'connected');
    await pool.bind(names);
    const byConn = server.boundByConnection();
    assert.equal(byConn.size, 4);
    const sizes = [...byConn.values()].map((s) => s.size);
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      names.length,
      'each Thing bound once',
    );
    // Every pipe's Things sit together on one connection, and different pipes on different connections.
    const connOfPipe = new Map<number, number>();
    for (const n of names) {
      const pipe = pipeIndexFor(n, 4);
      const conn = server.connectionOf(n)!;
      if (!connOfPipe.has(pipe)) connOfPipe.set(pipe, conn);
      assert.equal(conn, connOfPipe.get(pipe), `${n} on the connection of pipe ${pipe}`);
      assert.equal(pool.pipes[pipe].isBound(n), true);
      assert.equal(pool.pipes[(pipe + 1) % 4].isBound(n), false);
    }
    assert.equal(new Set(connOfPipe.values()).size, 4);
    // Service calls for a Thing travel over its pipe.
    const seen: Array<[number, string]> = [];
    server.on('request', (conn: number, msg: { body: { entityName: string } }) =>
      seen.push([conn, msg.body.entityName]),
    );
    for (const n of names.slice(0, 40)) await pool.pushUplink(n, { n });
    for (const [conn, thing] of seen) assert.equal(conn, server.connectionOf(thing));
    assert.equal(seen.length, 40);
    assert.deepEqual(server.violations, []);
  });

  it('binds 100,000 Things in batches well under a minute, and re-binds them all after a drop', async () => {
    const server = await fx.server();
    server.addConnectorTemplate(TEMPLATE);
    const names = devEuis(100000);
    server.addThings(names, TEMPLATE);
    const pool = fx.pool(server, { pipeCount: 1 });
    pool.start();
    await pool.whenConnected();
    const t0 = Date.now();
    await pool.bind(names);
    const bindMs = Date.now() - t0;
    assert.equal(server.boundCount, 100000);
    const binds = server.received('bind');
    const perMessage = binds.map((e) => (e.msg.kind === 'bind' ? e.msg.body.names.length : 0));
    assert.ok(Math.max(...perMessage) <= 500, `largest batch ${Math.max(...perMessage)}`);
    assert.ok(binds.length >= 200, `${binds.length} BIND messages`);
    assert.ok(server.counters.maxFrameIn <= 8192);

    server.clearLog();
    const t1 = Date.now();
    server.drop();
    await eventually(() => pool.stats.reconnects >= 1, 'the client saw the drop');
    await pool.whenConnected(30000);
    const rebindMs = Date.now() - t1;
    assert.equal(server.boundCount, 100000);
    assert.deepEqual(server.violations, []);
    console.log(
      `      [measure] bind 100,000 Things: ${bindMs} ms in ${binds.length} BIND messages; ` +
        `reconnect + re-bind: ${rebindMs} ms`,
    );
    assert.ok(bindMs < 30000, `bind took ${bindMs} ms`);
  });

  it('measures uplinks per second over 1 and 4 pipes', async () => {
    const server = await fx.server({ logLimit: 1000 });
    server.addConnectorTemplate(TEMPLATE);
    const names = devEuis(1000);
    server.addThings(names, TEMPLATE);
    const rates: string[] = [];
    for (const pipeCount of [1, 4]) {
      const pool = fx.pool(server, { pipeCount, requestTimeoutMs: 20000 });
      pool.start();
      await pool.bind(names);
      await pool.whenConnected();
      const doc = {
        DevEUI_uplink: { Time: '2024-05-17T10:30:05.123+02:00', FPort: 2, payload_hex: '0102030405060708' },
      };
      const count = 10000;
      const t0 = Date.now();
      await pump(count, 256, (i) => pool.pushUplink(names[i % names.length], doc));
      const ms = Date.now() - t0;
      assert.equal(pool.stats.acked, count);
      rates.push(`${pipeCount} pipe(s): ${Math.round((count * 1000) / ms)}/s`);
      await pool.close();
    }
    console.log(
      `      [measure] uplinks (client and server in one process, 256 in flight): ${rates.join(', ')}`,
    );
    assert.deepEqual(server.violations, []);
  });
});
