import { strict as assert } from 'assert';
import { once } from 'events';
import fc from 'fast-check';
import type { AddressInfo } from 'net';
import WebSocket, { WebSocketServer } from 'ws';
import type { PerMessageDeflateOptions } from 'ws';
import { useSyncDeflate } from '../../lib/thingworx/transport/sync-deflate';

/**
 * Our synchronous permessage-deflate against `ws`'s own (asynchronous zlib streams) on the other end: the server
 * decodes what we compress and we decode what it compresses, past both windows, whatever it negotiates.
 */
describe('ThingWorx socket: permessage-deflate on the event loop', function () {
  this.timeout(20000);
  const servers: WebSocketServer[] = [];
  const clients: WebSocket[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    for (const s of servers.splice(0)) {
      for (const c of s.clients) c.terminate();
      await new Promise((resolve) => s.close(resolve));
    }
  });

  interface Pair {
    client: WebSocket;
    server: WebSocket;
    usedSync: boolean;
    /** The permessage-deflate parameters the server answered. */
    negotiated?: Record<string, unknown>;
    /** TCP bytes the server has read from the client. */
    bytesIn(): number;
  }

  async function connect(
    serverDeflate: PerMessageDeflateOptions | false,
    maxPayload = 1 << 20,
    clientDeflate: PerMessageDeflateOptions | boolean = true,
  ): Promise<Pair> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: serverDeflate });
    servers.push(wss);
    await once(wss, 'listening');
    const port = (wss.address() as AddressInfo).port;
    const accepted = once(wss, 'connection');
    const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: clientDeflate, maxPayload });
    clients.push(client);
    let usedSync = false;
    client.once('open', () => (usedSync = useSyncDeflate(client, maxPayload)));
    const [[server, req]] = await Promise.all([accepted, once(client, 'open')]);
    const ext = (client as unknown as { _extensions: Record<string, { params: Record<string, unknown> }> })
      ._extensions;
    return {
      client,
      server,
      usedSync,
      negotiated: ext['permessage-deflate']?.params,
      bytesIn: () => (req as { socket: { bytesRead: number } }).socket.bytesRead,
    };
  }

  /** Messages like AlwaysOn's: repetitive names, changing values, sizes from tens of bytes to past a window. */
  function messages(count: number): Buffer[] {
    return Array.from({ length: count }, (_, i) => {
      const fields = Array.from(
        { length: 1 + ((i * 7) % 40) },
        (_, k) => `"prop_${k}":${(i * 2654435761 + k) % 9973}`,
      );
      const body = `{"thing":"Thing_${i % 97}","seq":${i},${fields.join(',')}}`;
      return Buffer.from(i % 50 === 49 ? body.repeat(900) : body);
    });
  }

  function collect(ws: WebSocket, count: number): Promise<Buffer[]> {
    const got: Buffer[] = [];
    return new Promise((resolve, reject) => {
      ws.on('error', reject);
      ws.on('close', (code) =>
        reject(new Error(`closed (${code}) after ${got.length} of ${count} messages`)),
      );
      ws.on('message', (data) => {
        got.push(data as Buffer);
        if (got.length === count) resolve(got);
      });
    });
  }

  /** Messages compared without assert's diff of megabytes of buffers (which takes minutes when they differ). */
  function assertSame(got: Buffer[], want: Buffer[], what: string): void {
    assert.equal(got.length, want.length, `${what}: ${got.length} messages for ${want.length}`);
    const i = got.findIndex((g, k) => !g.equals(want[k]));
    assert.equal(i, -1, `${what}: message ${i} differs (${got[i]?.length} bytes, ${want[i]?.length} sent)`);
  }

  /** The code a socket's peer closed it with (`once` would reject on an error that comes first). */
  function closeCode(ws: WebSocket): Promise<number> {
    return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
  }

  /** `sent` both ways, the platform sending message i in `parts[i]` fragments (default 1). */
  async function roundTrip(pair: Pair, sent: Buffer[], parts: number[] = []): Promise<void> {
    const atServer = collect(pair.server, sent.length);
    const atClient = collect(pair.client, sent.length);
    for (const m of sent) pair.client.send(m);
    sent.forEach((m, k) => {
      const count = parts[k] ?? 1;
      const size = Math.ceil(m.length / count);
      for (let i = 0; i < count; i++)
        pair.server.send(m.subarray(i * size, (i + 1) * size), { fin: i === count - 1 });
    });
    assertSame(await atServer, sent, 'what the server inflated');
    assertSame(await atClient, sent, 'what we inflated');
  }

  it('is used when permessage-deflate is negotiated; ws decodes it and it decodes ws, past both windows', async () => {
    const pair = await connect({});
    assert.equal(pair.usedSync, true);
    const sent = messages(300);
    const total = sent.reduce((n, m) => n + m.length, 0);
    assert.ok(total > 4 * 32768, `${total} bytes`);
    const before = pair.bytesIn();
    await roundTrip(pair, sent);
    const onWire = pair.bytesIn() - before;
    assert.ok(onWire < total / 10, `${onWire} bytes on the wire for ${total}`);
    const ext = (
      pair.client as unknown as { _extensions: Record<string, { _deflate?: unknown; _inflate?: unknown }> }
    )._extensions['permessage-deflate'];
    assert.equal(ext._deflate, null, "ws's compressing stream was never made");
    assert.equal(ext._inflate, null, "ws's inflating stream was never made");
  });

  it('refers back only as far as the platform keeps: small windows and no context takeover, either way', async () => {
    const cases: [PerMessageDeflateOptions, Record<string, unknown>][] = [
      [{ clientMaxWindowBits: 9 }, { client_max_window_bits: 9 }],
      [{ serverMaxWindowBits: 9 }, { server_max_window_bits: 9 }],
      [{ serverNoContextTakeover: true }, { server_no_context_takeover: true }],
      [{ clientNoContextTakeover: true }, { client_no_context_takeover: true }],
      [
        {
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 10,
        },
        {
          server_no_context_takeover: true,
          client_no_context_takeover: true,
          server_max_window_bits: 10,
          client_max_window_bits: 10,
        },
      ],
    ];
    for (const [deflate, negotiated] of cases) {
      const pair = await connect(deflate);
      assert.deepEqual({ ...pair.negotiated }, negotiated);
      assert.equal(pair.usedSync, true, JSON.stringify(deflate));
      await roundTrip(pair, messages(120));
    }
  });

  it("leaves ws's own when nothing is negotiated or the window is 8 bits (zlib's raw deflate cannot make one)", async () => {
    const none = await connect(false);
    assert.equal(none.usedSync, false);
    await roundTrip(none, messages(20));
    const eight = await connect({ clientMaxWindowBits: 8 }, 1 << 20, { clientMaxWindowBits: 8 });
    assert.equal(eight.usedSync, false);
    await roundTrip(eight, messages(20));
  });

  it('round-trips any sequence of messages, empty to past a window, under any negotiation, fragmented or not', async () => {
    const negotiations: PerMessageDeflateOptions[] = [
      {},
      { clientMaxWindowBits: 9, serverMaxWindowBits: 9 },
      { clientNoContextTakeover: true },
      { serverNoContextTakeover: true, serverMaxWindowBits: 12 },
    ];
    const text = fc.string({ maxLength: 300 }).map((t) => Buffer.from(t));
    const repeated = fc
      .tuple(fc.string({ minLength: 1, maxLength: 30 }), fc.integer({ min: 1, max: 3000 }))
      .map(([t, n]) => Buffer.from(t.repeat(n)));
    const bytes = fc.uint8Array({ maxLength: 5000 }).map((b) => Buffer.from(b));
    const message = fc.oneof(fc.constant(Buffer.alloc(0)), text, repeated, bytes);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...negotiations),
        fc.array(fc.tuple(message, fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 40 }),
        async (deflate, sends) => {
          const pair = await connect(deflate);
          assert.equal(pair.usedSync, true);
          // The platform sends each message in 1 to 4 fragments.
          await roundTrip(
            pair,
            sends.map(([m]) => m),
            sends.map(([, parts]) => parts),
          );
          pair.client.terminate();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('inflates a message the platform sent in fragments once its last fragment is in', async () => {
    const pair = await connect({});
    const parts = messages(60);
    const atClient = collect(pair.client, 2);
    parts.slice(0, 59).forEach((p) => pair.server.send(p, { fin: false }));
    pair.server.send(parts[59], { fin: true });
    pair.server.send(parts[0]);
    assertSame(await atClient, [Buffer.concat(parts), parts[0]], 'what we inflated');
  });

  it('closes the socket (1009 to the platform) with an error when a message inflates past the largest allowed', async () => {
    const pair = await connect({}, 64 * 1024);
    const errored = once(pair.client, 'error');
    const closed = closeCode(pair.server);
    pair.server.send(Buffer.alloc(100 * 1024, 'a'));
    const [err] = (await errored) as [Error & { code?: string }];
    assert.equal(err.code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    assert.equal(await closed, 1009);
  });

  it('closes the socket (1007 to the platform) with an error when a compressed message does not inflate', async () => {
    const pair = await connect({});
    const errored = once(pair.client, 'error');
    const closed = closeCode(pair.server);
    // A FIN binary frame with RSV1 set, unmasked as a server's, whose payload is no deflate data.
    const garbage = Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02]);
    (pair.server as unknown as { _socket: { write(b: Buffer): void } })._socket.write(
      Buffer.concat([Buffer.from([0xc2, garbage.length]), garbage]),
    );
    const [err] = (await errored) as [Error & { code?: string }];
    assert.equal(err.code, 'Z_DATA_ERROR');
    assert.equal(await closed, 1007);
  });
});
