import { strict as assert } from 'assert';
import WebSocket from 'ws';
import {
  buildAuthMessage,
  buildBindMessage,
  buildResponse,
  buildServiceCall,
  decodeMessage,
  encodeMessage,
  MessageCode,
  NO_SESSION,
  type AlwaysOnMessage,
} from '../../lib/thingworx';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';

const KEY = 'server-test-key';

/** A bare WebSocket speaking AlwaysOn by hand, to check what the strict server refuses. */
class RawPeer {
  private readonly queue: AlwaysOnMessage[] = [];
  private waiters: Array<(m: AlwaysOnMessage) => void> = [];
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = decodeMessage(data as Buffer);
      const w = this.waiters.shift();
      if (w) w(m);
      else this.queue.push(m);
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  static open(url: string, headers: Record<string, string>): Promise<RawPeer> {
    const ws = new WebSocket(url, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawPeer(ws)));
      ws.once('error', reject);
    });
  }

  send(m: AlwaysOnMessage): void {
    this.ws.send(encodeMessage(m));
  }

  next(timeoutMs = 2000): Promise<AlwaysOnMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message')), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }

  async auth(key = KEY): Promise<number> {
    this.send(buildAuthMessage(key, { requestId: 1 }));
    const r = await this.next();
    assert.equal(r.kind, 'response');
    assert.equal(r.code, MessageCode.SUCCESS);
    return r.sessionId;
  }
}

async function eventually(check: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out`)), ms)),
  ]);
}

describe('AlwaysOn test server (strict)', function () {
  let server: AlwaysOnTestServer;
  const headers = { appKey: KEY, 'Max-Frame-Size': '8192' };

  beforeEach(async () => {
    server = await new AlwaysOnTestServer({ appKey: KEY, authTimeoutMs: 300 }).start();
    server.addConnectorTemplate('Tpl');
    server.addThing('T1', 'Tpl');
  });
  afterEach(() => server.close());

  it('refuses the upgrade with HTTP 401 when the appKey header is wrong or missing', async () => {
    const tries: Array<Record<string, string>> = [
      { appKey: 'nope', 'Max-Frame-Size': '8192' },
      { 'Max-Frame-Size': '8192' },
    ];
    for (const h of tries) {
      await assert.rejects(RawPeer.open(server.url, h), /Unexpected server response: 401/);
    }
    assert.equal(server.counters.upgradesRefused, 2);
    assert.equal(server.counters.connections, 0);
  });

  it('answers 0x81 and closes when BIND comes before AUTH', async () => {
    const peer = await RawPeer.open(server.url, headers);
    peer.send(buildBindMessage(['T1'], { requestId: 5, sessionId: NO_SESSION }));
    const r = await peer.next();
    assert.equal(r.kind, 'response');
    assert.equal(r.code, MessageCode.UNAUTHORIZED);
    assert.equal(r.requestId, 5);
    await within(peer.closed, 2000, 'close');
    assert.equal(server.isBound('T1'), false);
    assert.ok(server.violations.some((v) => /bind .* before AUTH/.test(v)));
  });

  it('answers 0x81 to an AUTH with a wrong key, and closes', async () => {
    const peer = await RawPeer.open(server.url, headers);
    peer.send(buildAuthMessage('wrong', { requestId: 1 }));
    const r = await peer.next();
    assert.equal(r.code, MessageCode.UNAUTHORIZED);
    await within(peer.closed, 2000, 'close');
    assert.equal(server.counters.authOk, 0);
  });

  it('closes a connection that does not AUTH within the timeout', async () => {
    const peer = await RawPeer.open(server.url, headers);
    await within(peer.closed, 2000, 'close');
    assert.ok(server.violations.some((v) => /no AUTH within/.test(v)));
  });

  it('hands out a session id and refuses a message with another one (0x81 and close)', async () => {
    const peer = await RawPeer.open(server.url, headers);
    const session = await peer.auth();
    assert.notEqual(session, NO_SESSION);
    assert.notEqual(session, 0);
    peer.send(buildBindMessage(['T1'], { requestId: 2, sessionId: session }));
    assert.equal((await peer.next()).code, MessageCode.SUCCESS);
    assert.ok(server.isBound('T1'));
    peer.send(
      buildServiceCall('T1', 'RestartThing', undefined, { requestId: 3, sessionId: (session + 1) >>> 0 }),
    );
    const r = await peer.next();
    assert.equal(r.code, MessageCode.UNAUTHORIZED);
    assert.equal(r.requestId, 3);
    await within(peer.closed, 2000, 'close');
    await eventually(() => !server.isBound('T1'), 'binds go with the connection');
    assert.equal(server.things.get('T1')!.restarts, 0);
  });

  it('refuses a BIND naming an unknown Thing with 0x84 and binds nothing of it', async () => {
    const peer = await RawPeer.open(server.url, headers);
    const session = await peer.auth();
    peer.send(buildBindMessage(['T1', 'Ghost'], { requestId: 2, sessionId: session }));
    const r = await peer.next();
    assert.equal(r.code, MessageCode.NOT_FOUND);
    assert.match((r as Extract<AlwaysOnMessage, { kind: 'response' }>).body.reason ?? '', /Ghost/);
    assert.equal(server.isBound('T1'), false);
    peer.ws.close();
  });

  it('flags responses to request ids it never sent, oversize frames and a missing Max-Frame-Size', async () => {
    const peer = await RawPeer.open(server.url, { appKey: KEY });
    const session = await peer.auth();
    peer.send(buildResponse({ requestId: 999, endpointId: 0, sessionId: session }, MessageCode.SUCCESS));
    const big = buildServiceCall('T1', 'RestartThing', undefined, { requestId: 4, sessionId: session });
    big.body.headers = [{ name: 'pad', value: 'x'.repeat(9000) }];
    peer.send(big);
    assert.equal((await peer.next()).code, MessageCode.SUCCESS);
    assert.ok(server.violations.some((v) => /Max-Frame-Size/.test(v)));
    assert.ok(server.violations.some((v) => /request id 999/.test(v)));
    assert.ok(server.violations.some((v) => /over the 8192-byte frame size/.test(v)));
    peer.ws.close();
  });

  it('flags a request id reused while the first is still in flight', async () => {
    server.interceptor = (m) =>
      m.body.characteristicName === 'Slow'
        ? new Promise((r) => setTimeout(() => r({ code: 0x40 }), 200))
        : undefined;
    const peer = await RawPeer.open(server.url, headers);
    const session = await peer.auth();
    peer.send(buildServiceCall('T1', 'Slow', undefined, { requestId: 7, sessionId: session }));
    peer.send(buildServiceCall('T1', 'Slow', undefined, { requestId: 7, sessionId: session }));
    const first = await peer.next();
    assert.equal(first.code, MessageCode.BAD_REQUEST);
    assert.equal((await peer.next()).code, MessageCode.SUCCESS);
    assert.ok(server.violations.some((v) => /request id 7 reused/.test(v)));
    peer.ws.close();
  });

  it('lets the last connection that binds a Thing win', async () => {
    const a = await RawPeer.open(server.url, headers);
    const sa = await a.auth();
    const b = await RawPeer.open(server.url, headers);
    const sb = await b.auth();
    a.send(buildBindMessage(['T1'], { requestId: 2, sessionId: sa }));
    await a.next();
    const connA = server.connectionOf('T1');
    b.send(buildBindMessage(['T1'], { requestId: 2, sessionId: sb }));
    await b.next();
    assert.notEqual(server.connectionOf('T1'), connA);
    a.ws.close();
    b.ws.close();
  });
});
