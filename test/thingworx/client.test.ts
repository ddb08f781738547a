import { strict as assert } from 'assert';
import {
  AlwaysOnClient,
  AlwaysOnClientError,
  BaseType,
  MessageCode,
  NO_SESSION,
  parseJsonValue,
  Typed,
  type ClientState,
  type PropertyWrite,
} from '../../lib/thingworx';
import { makeTestCertificate } from '../../testkit/alwayson-server';
import { APP_KEY, eventually, Fixture, sleep, TEMPLATE } from './client-fixtures';

async function rejection(p: Promise<unknown>): Promise<AlwaysOnClientError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AlwaysOnClientError, `expected AlwaysOnClientError, got ${String(e)}`);
    return e;
  }
  return assert.fail('expected a rejection');
}

/** What a downlink handler in the connector would do: JSON with a hex `payload_hex`. */
function downlinkHandler(seen: PropertyWrite[]) {
  return (w: PropertyWrite): { code: number; reason: string } | undefined => {
    seen.push(w);
    const v = parseJsonValue(w.value) as { payload_hex?: unknown } | undefined;
    if (!v || typeof v.payload_hex !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(v.payload_hex)) {
      return { code: MessageCode.BAD_REQUEST, reason: 'payload_hex must be an even-length hex string' };
    }
    return undefined;
  };
}

describe('AlwaysOn client', function () {
  this.timeout(20000);
  const fx = new Fixture();
  afterEach(() => fx.cleanup());

  describe('URL and TLS', () => {
    it('builds wss://host:443/Thingworx/WS and refuses plain ws:// unless allowInsecure', () => {
      assert.equal(
        AlwaysOnClient.buildUrl({ host: 'twx.example.com', appKey: 'k' }),
        'wss://twx.example.com/Thingworx/WS',
      );
      assert.equal(
        AlwaysOnClient.buildUrl({ host: 'twx.example.com', port: 8443, appKey: 'k' }),
        'wss://twx.example.com:8443/Thingworx/WS',
      );
      assert.throws(
        () => new AlwaysOnClient({ url: 'ws://127.0.0.1:1/Thingworx/WS', appKey: 'k' }),
        /allowInsecure/,
      );
      assert.equal(
        AlwaysOnClient.buildUrl({ host: '127.0.0.1', port: 8080, appKey: 'k', allowInsecure: true }),
        'ws://127.0.0.1:8080/Thingworx/WS',
      );
      assert.throws(() => new AlwaysOnClient({ host: 'h', appKey: '' }), /appKey/);
    });

    it('connects over verified TLS with the given CA, and refuses a server its CA list does not vouch for', async () => {
      const tls = makeTestCertificate();
      const server = await fx.server({ tls: { cert: tls.cert, key: tls.key } });
      assert.match(server.url, /^wss:/);
      const good = fx.client(server, { tls: { ca: tls.cert } });
      good.start();
      await good.whenConnected();
      assert.equal(server.counters.authOk, 1);

      const bad = fx.client(server);
      const states: ClientState[] = [];
      bad.on('state', (s: ClientState) => states.push(s));
      bad.start();
      await eventually(() => bad.stats.reconnects >= 2, 'retries');
      assert.equal(bad.state === 'connected', false);
      assert.equal(bad.lastError?.kind, 'transport');
      assert.match(bad.lastError!.message, /self.signed|certificate/i);
      assert.equal(server.counters.authOk, 1, 'the unverified client never got to AUTH');
      assert.deepEqual(states.slice(0, 2), ['connecting', 'disconnected']);
    });
  });

  describe('session', () => {
    it('sends AUTH first (session 0xFFFFFFFF) with the upgrade headers, then stamps the session on everything', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      server.addThings(['A1', 'A2'], TEMPLATE);
      const c = fx.client(server);
      await c.bind(['A1', 'A2']); // not connected yet: bound on connect
      c.start();
      await c.whenConnected();
      await c.pushUplink('A1', { n: 1 });
      const conn = server.connectionIds[0];
      const headers = server.headersOf(conn)!;
      assert.equal(headers['appkey'], APP_KEY);
      assert.equal(headers['max-frame-size'], '8192');
      assert.equal(server.log[0].msg.kind, 'auth');
      assert.equal(server.log[0].msg.sessionId, NO_SESSION);
      const session = server.sessionOf(conn);
      assert.equal(c.session, session);
      assert.ok(server.log.length >= 3);
      for (const e of server.log.slice(1)) assert.equal(e.msg.sessionId, session, `${e.msg.kind} stamped`);
      assert.deepEqual(server.violations, []);
      assert.ok(server.isBound('A1') && server.isBound('A2'));
    });

    it('reports a refused upgrade (HTTP 401) as an auth error and keeps retrying with backoff', async () => {
      const server = await fx.server();
      const c = fx.client(server, { appKey: 'wrong-key' });
      c.start();
      await eventually(() => c.stats.reconnects >= 3, 'reconnect attempts');
      assert.equal(c.lastError?.kind, 'auth');
      assert.equal(c.lastError?.code, 401);
      assert.notEqual(c.state, 'connected');
      assert.equal(server.counters.upgradesRefused >= 3, true);
    });

    it('reports an AUTH refused with 0x81 as an auth error', async () => {
      const server = await fx.server({ checkUpgradeKey: false });
      const c = fx.client(server, { appKey: 'wrong-key' });
      c.start();
      await eventually(() => server.counters.authFailed >= 1 && c.state === 'disconnected', 'auth failure');
      assert.equal(c.lastError?.kind, 'auth');
      assert.equal(c.lastError?.code, MessageCode.UNAUTHORIZED);
      assert.deepEqual(server.violations, []);
    });

    it('rejects requests while not authenticated with a retryable not-connected error', async () => {
      const server = await fx.server();
      const c = fx.client(server);
      const e = await rejection(c.pushUplink('A1', {}));
      assert.equal(e.kind, 'closed');
      c.start();
      const e2 = await rejection(c.pushUplink('A1', {}));
      assert.equal(e2.kind, 'not-connected');
      assert.equal(e2.retryable, true);
    });
  });

  describe('uplinks and downlinks', () => {
    let server: Awaited<ReturnType<Fixture['server']>>;
    let c: AlwaysOnClient;
    const writes: PropertyWrite[] = [];

    beforeEach(async () => {
      writes.length = 0;
      server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      server.addThings(['D1', 'D2'], TEMPLATE);
      c = fx.client(server, { onPropertyWrite: downlinkHandler(writes) });
      c.start();
      await c.bind(['D1', 'D2']);
      await c.whenConnected();
    });

    it('pushes an uplink into uplinkData as JSON with its time and quality GOOD, resolved on 0x40', async () => {
      const time = Date.UTC(2024, 4, 17, 10, 30, 5, 123);
      const doc = { DevEUI_uplink: { DevEUI: 'D1', FPort: 2, payload_hex: '0102' } };
      await c.pushUplink('D1', doc, time);
      const v = server.value('D1', 'uplinkData')!;
      assert.equal(v.value.baseType, BaseType.JSON);
      assert.deepEqual(JSON.parse(v.value.value as string), doc);
      assert.equal(v.time, time);
      assert.equal(v.quality, 'GOOD');
      assert.equal(c.stats.sent, 1);
      assert.equal(c.stats.acked, 1);
      const req = server.received('request', 'UpdateSubscribedPropertyValues')[0].msg;
      assert.equal(req.kind === 'request' && req.body.entityName, 'D1');
    });

    it('gives the platform error code as a typed error: permanent for 0x80–0x8F, retryable for 0xA0–0xA4', async () => {
      const e = await rejection(c.pushUplink('Unknown', {}));
      assert.equal(e.kind, 'response');
      assert.equal(e.code, MessageCode.NOT_FOUND);
      assert.equal(e.retryable, false);
      assert.match(e.message, /NOT_FOUND \(0x84\).*Unknown/);
      server.interceptor = () => ({ code: MessageCode.SERVICE_UNAVAILABLE, reason: 'busy' });
      const e2 = await rejection(c.pushUplink('D1', {}));
      assert.equal(e2.code, 0xa3);
      assert.equal(e2.retryable, true);
      assert.equal(e2.reason, 'busy');
    });

    it('hands property PUTs on downlink and downlinkData to the callback and answers 0x40; invalid → 0x80 + reason', async () => {
      const good = Typed.json({ payload_hex: '0a0b', FPort: 2 });
      assert.deepEqual(await server.putProperty('D1', 'downlink', good), {
        code: MessageCode.SUCCESS,
        reason: undefined,
      });
      assert.deepEqual(await server.putProperty('D2', 'downlinkData', good), {
        code: MessageCode.SUCCESS,
        reason: undefined,
      });
      const bad = await server.putProperty('D1', 'downlink', Typed.json({ payload_hex: 'xyz' }));
      assert.equal(bad.code, MessageCode.BAD_REQUEST);
      assert.match(bad.reason!, /payload_hex/);
      assert.deepEqual(
        writes.map((w) => [w.thing, w.property]),
        [
          ['D1', 'downlink'],
          ['D2', 'downlinkData'],
          ['D1', 'downlink'],
        ],
      );
      assert.deepEqual(parseJsonValue(writes[0].value), { payload_hex: '0a0b', FPort: 2 });
      assert.deepEqual(server.violations, []);
    });

    it('answers a GET of a property with the value last pushed (0x84 before any), as remote properties are read', async () => {
      assert.equal((await server.getProperty('D1', 'uplinkData')).code, MessageCode.NOT_FOUND);
      await c.pushUplink('D1', { DevEUI_uplink: { DevEUI: 'D1', FCntUp: 7 } });
      const r = await server.getProperty('D1', 'uplinkData');
      assert.equal(r.code, MessageCode.SUCCESS);
      assert.deepEqual(parseJsonValue(r.body.content!.rows[0].uplinkData), {
        DevEUI_uplink: { DevEUI: 'D1', FCntUp: 7 },
      });
      // cacheTime 0 (not our template's -1): the platform's own read goes to the edge and gets the same value.
      server.templates.get(TEMPLATE)!.aspects.set('uplinkData', { cacheTime: 0 });
      server.clearLog();
      assert.deepEqual(parseJsonValue((await server.readProperty('D1', 'uplinkData'))!), {
        DevEUI_uplink: { DevEUI: 'D1', FCntUp: 7 },
      });
      assert.equal(server.received('response').length, 1, 'read from the edge');
      assert.deepEqual(server.violations, []);
    });

    it('answers a handler that throws with 0xA0, and refuses writes when no handler is registered (0x85)', async () => {
      c.setPropertyWriteHandler(() => {
        throw new Error('queue full');
      });
      const r = await server.putProperty('D1', 'downlink', Typed.json({}));
      assert.equal(r.code, MessageCode.INTERNAL_SERVER_ERROR);
      assert.match(r.reason!, /queue full/);
      c.setPropertyWriteHandler(undefined);
      assert.equal(
        (await server.putProperty('D1', 'downlink', Typed.json({}))).code,
        MessageCode.METHOD_NOT_ALLOWED,
      );
    });

    it('answers NotifyPropertyUpdate, GetMetadata, SynchronizeModelState; unknown service 0x84 (as the SDK), unknown Thing 0x84', async () => {
      assert.equal((await server.callEdgeService('D1', 'NotifyPropertyUpdate')).code, MessageCode.SUCCESS);
      const meta = await server.callEdgeService('D1', 'GetMetadata');
      assert.equal(meta.code, MessageCode.SUCCESS);
      const content = meta.body.content!;
      assert.deepEqual(
        content.dataShape.map((f) => [f.name, f.baseType]),
        [['result', BaseType.JSON]],
      );
      assert.equal((parseJsonValue(content.rows[0].result) as { name: string }).name, 'D1');
      const sync = await server.callEdgeService('D1', 'SynchronizeModelState');
      assert.equal(sync.code, MessageCode.SUCCESS);
      assert.deepEqual(sync.body.content?.rows, []);
      assert.deepEqual(
        sync.body.content?.dataShape.map((f) => f.name),
        ['name', 'value', 'time', 'quality'],
      );
      assert.equal((await server.callEdgeService('D1', 'Reboot')).code, MessageCode.NOT_FOUND);
      const conn = server.connectionOf('D1')!;
      assert.equal(
        (await server.callEdgeService('NotMine', 'GetMetadata', undefined, { via: conn })).code,
        0x84,
      );
      assert.equal(
        (await server.putProperty('D1', 'downlink', Typed.json({ payload_hex: '00' }))).code,
        MessageCode.SUCCESS,
      );
      assert.deepEqual(server.violations, []);
    });

    it('sends a ~50 KB uplink in multipart chunks of at most 8192 bytes, and takes a ~30 KB PUT in chunks', async () => {
      const big = { DevEUI_uplink: { DevEUI: 'D1', blob: 'u'.repeat(50 * 1024) } };
      await c.pushUplink('D1', big);
      const entry = server.received('request', 'UpdateSubscribedPropertyValues').at(-1)!;
      assert.ok(entry.frames >= 7, `arrived in ${entry.frames} frames`);
      assert.ok(server.counters.maxFrameIn <= 8192, `largest frame ${server.counters.maxFrameIn}`);
      assert.deepEqual(JSON.parse(server.value('D1', 'uplinkData')!.value.value as string), big);

      const payload = 'ab'.repeat(15 * 1024);
      const framesOutBefore = server.counters.framesOut;
      const r = await server.putProperty('D2', 'downlink', Typed.json({ payload_hex: payload }));
      assert.equal(r.code, MessageCode.SUCCESS);
      assert.ok(server.counters.framesOut - framesOutBefore >= 4, 'the PUT went out in chunks');
      assert.equal((parseJsonValue(writes.at(-1)!.value) as { payload_hex: string }).payload_hex, payload);
      assert.deepEqual(server.violations, []);
    });

    it('refuses to send a message over the 1 MiB limit with a permanent encode error', async () => {
      const e = await rejection(c.pushUplink('D1', 'x'.repeat(1100 * 1024)));
      assert.equal(e.kind, 'encode');
      assert.equal(e.retryable, false);
    });

    it('times a request out with a retryable timeout error, and ignores the late answer', async () => {
      let release: (() => void) | undefined;
      server.interceptor = () => new Promise((r) => (release = () => r(undefined)));
      const e = await rejection(
        c.request({ entityName: 'D1', characteristicName: 'RestartThing', timeoutMs: 150 }),
      );
      assert.equal(e.kind, 'timeout');
      assert.equal(e.retryable, true);
      assert.equal(c.stats.timeouts, 1);
      assert.equal(c.pendingCount, 0);
      release!();
      await eventually(() => c.stats.lateResponses === 1, 'late response seen');
      server.interceptor = undefined;
      await c.pushUplink('D1', { after: 'timeout' });
    });
  });

  describe('reconnect', () => {
    it('after a drop: pending requests fail retryable, the client reconnects, re-binds, and a queued request succeeds', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      const names = Array.from({ length: 1200 }, (_, i) => `R${i}`);
      server.addThings(names, TEMPLATE);
      const c = fx.client(server, { backoff: { initialMs: 100, maxMs: 400 } });
      const states: ClientState[] = [];
      c.on('state', (s: ClientState) => states.push(s));
      c.start();
      await c.bind(names);
      await c.whenConnected();
      const firstConn = server.connectionOf('R0');
      assert.equal(server.boundCount, 1200);

      server.interceptor = (m) => (m.body.characteristicName === 'Slow' ? 'ignore' : undefined);
      const inFlight = c.request({ entityName: 'R1', characteristicName: 'Slow' });
      await eventually(() => server.received('request', 'Slow').length === 1, 'slow request arrived');
      server.drop();
      const e = await rejection(inFlight);
      assert.equal(e.kind, 'disconnected');
      assert.equal(e.retryable, true);

      // The caller's queue: try, and on a retryable error wait for the connection and try again.
      const outage = await rejection(c.pushUplink('R5', { during: 'outage' }));
      assert.equal(outage.kind, 'not-connected');
      assert.equal(outage.retryable, true);
      await c.whenConnected(5000);
      await c.pushUplink('R5', { during: 'outage' });
      assert.deepEqual(JSON.parse(server.value('R5', 'uplinkData')!.value.value as string), {
        during: 'outage',
      });

      assert.equal(server.boundCount, 1200, 'everything re-bound');
      assert.notEqual(server.connectionOf('R0'), firstConn);
      assert.ok(c.stats.reconnects >= 1);
      assert.equal(server.counters.authOk, 2);
      assert.deepEqual(states, ['connecting', 'connected', 'disconnected', 'connecting', 'connected']);
      assert.deepEqual(server.violations, []);
    });

    it('drops the connection when pongs stop, then reconnects', async () => {
      const server = await fx.server();
      const c = fx.client(server, { pingIntervalMs: 80, pongTimeoutMs: 120 });
      c.start();
      await c.whenConnected();
      await sleep(300);
      assert.ok(server.counters.pingsReceived >= 2, 'pings sent');
      assert.equal(server.counters.authOk, 1, 'pongs keep it up');
      server.respondToPings = false;
      await eventually(() => c.lastError?.message.includes('no pong') === true, 'pong timeout');
      server.respondToPings = true;
      await eventually(() => c.state === 'connected' && server.counters.authOk >= 2, 'reconnected');
    });

    it('re-authenticates when a request is answered 0x81 (stale session)', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      server.addThing('S1', TEMPLATE);
      const c = fx.client(server);
      c.start();
      await c.whenConnected();
      server.interceptor = () => ({ code: MessageCode.UNAUTHORIZED, reason: 'session expired' });
      const e = await rejection(c.pushUplink('S1', {}));
      assert.equal(e.kind, 'auth');
      assert.equal(e.retryable, true);
      server.interceptor = undefined;
      await eventually(() => server.counters.authOk === 2 && c.state === 'connected', 're-authenticated');
      await c.pushUplink('S1', {});
    });
  });

  describe('binding', () => {
    it('a refused BIND batch is not bisected: its names are not bound, reported once, and sent again whole after a backoff', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      const names = Array.from({ length: 50 }, (_, i) => `B${i}`);
      server.addThings(names, TEMPLATE);
      const c = fx.client(server, { bindRetry: { initialMs: 100, maxMs: 200, jitter: 0 } });
      const reported: string[] = [];
      c.on('bindError', (e: { names: string[] }) => reported.push(...e.names));
      c.start();
      await c.whenConnected();
      server.clearLog();
      const all = [...names.slice(0, 20), 'Ghost', ...names.slice(20)];
      const e = await rejection(c.bind(all));
      assert.equal(e.code, MessageCode.NOT_FOUND);
      assert.match(e.message, /Ghost/);
      assert.equal(server.received('bind').length, 1, 'one BIND, no bisection');
      assert.deepEqual(reported, all);
      assert.equal(c.isBound('B0'), false);
      assert.equal(c.isRefused('Ghost'), true);
      await sleep(450); // a few retries, all refused again
      const tries = server.received('bind').length;
      assert.ok(tries >= 2 && tries <= 5, `${tries} BINDs`);
      assert.ok(
        server.received('bind').every((b) => b.msg.kind === 'bind' && b.msg.body.names.length === 51),
      );
      assert.equal(reported.length, 51, 'reported once');
      server.addThing('Ghost', TEMPLATE);
      await eventually(() => c.isBound('Ghost') && c.isBound('B0'), 'bound once the platform accepts');
      assert.equal(server.boundCount, 51);
      assert.equal(c.isRefused('Ghost'), false);
      assert.deepEqual(server.violations, []);
    });

    it('"Last in wins" off: a Thing held by another connection is refused with "Binding failed" until the holder UNBINDs on close', async () => {
      const server = await fx.server({ lastInWins: false });
      server.addConnectorTemplate(TEMPLATE);
      server.addThings(['H1', 'H2'], TEMPLATE);
      const holder = fx.client(server);
      holder.start();
      await holder.bind(['H1']);
      await holder.whenConnected();
      const c = fx.client(server, { bindRetry: { initialMs: 50, maxMs: 100, jitter: 0 } });
      const errors: Error[] = [];
      c.on('bindError', (e: { error: Error }) => errors.push(e.error));
      c.start();
      await c.whenConnected();
      const e = await rejection(c.bind(['H1', 'H2']));
      assert.match(e.message, /Binding failed/);
      assert.equal(c.isBound('H1'), false);
      assert.equal(c.isBound('H2'), false);
      assert.equal(server.connectionOf('H1'), server.connectionIds[0]);
      await holder.close();
      await eventually(() => c.isBound('H1') && c.isBound('H2'), 'bound once the holder left');
      assert.equal(errors.length, 1);
      assert.deepEqual(server.violations, []);
    });

    it('unbinds', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      server.addThings(['U1', 'U2'], TEMPLATE);
      const c = fx.client(server);
      c.start();
      await c.bind(['U1', 'U2']);
      await c.whenConnected();
      await c.unbind(['U1']);
      assert.equal(server.isBound('U1'), false);
      assert.equal(server.isBound('U2'), true);
      assert.equal(c.isBound('U1'), false);
      const r = await server.callEdgeService('U1', 'GetMetadata', undefined, {
        via: server.connectionIds[0],
      });
      assert.equal(r.code, MessageCode.NOT_FOUND);
    });
  });

  describe('close', () => {
    function resources(): Record<string, number> {
      const counts: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
      return counts;
    }
    const total = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

    it('rejects pending requests, finishes quickly and leaves no timers or sockets behind', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      server.addThing('C1', TEMPLATE);
      await sleep(20);
      const before = resources();
      const c = new AlwaysOnClient(fx.clientOptions(server, { pingIntervalMs: 1000 }));
      c.start();
      await c.bind(['C1']);
      await c.whenConnected();
      server.interceptor = () => 'ignore';
      const pending = rejection(c.pushUplink('C1', {}));
      await eventually(() => server.received('request').length === 1, 'request arrived');
      assert.ok(total(resources()) > total(before), 'the client holds resources while running');
      const t0 = Date.now();
      await c.close();
      const took = Date.now() - t0;
      assert.ok(took < 2000, `close took ${took} ms`);
      const e = await pending;
      assert.equal(e.kind, 'closed');
      assert.equal(c.state, 'disconnected');
      await eventually(() => total(resources()) <= total(before), 'resources released', 2000).catch(() =>
        assert.deepEqual(resources(), before),
      );
      assert.equal(c.pendingCount, 0);
    });

    it('UNBINDs what it bound before closing (as the SDK), within the close bound even when unanswered', async () => {
      const server = await fx.server();
      server.addConnectorTemplate(TEMPLATE);
      server.addThings(['C1', 'C2'], TEMPLATE);
      const c = fx.client(server);
      c.start();
      await c.bind(['C1', 'C2']);
      await c.whenConnected();
      server.clearLog();
      const closed = new Promise<number>((resolve) => server.once('disconnect', () => resolve(Date.now())));
      await c.close(600);
      const unbinds = server.received('bind').filter((e) => e.msg.code === MessageCode.UNBIND);
      assert.deepEqual(unbinds.flatMap((e) => (e.msg.kind === 'bind' ? e.msg.body.names : [])).sort(), [
        'C1',
        'C2',
      ]);
      assert.ok(unbinds[0].at <= (await closed), 'UNBIND before the socket closed');
      assert.equal(server.boundCount, 0);

      server.ignoreUnbind = true;
      const d = fx.client(server);
      d.start();
      await d.bind(['C1']);
      await d.whenConnected();
      const t0 = Date.now();
      await d.close(600);
      const took = Date.now() - t0;
      assert.ok(took < 600 * 1.5 + 500, `close took ${took} ms`);
      assert.equal(server.received('bind').filter((e) => e.msg.code === MessageCode.UNBIND).length, 2);
    });

    it('stops reconnecting on close, even while the server is gone', async () => {
      const server = await fx.server();
      const url = server.url;
      await server.close();
      await sleep(20);
      const before = total(
        process
          .getActiveResourcesInfo()
          .reduce<Record<string, number>>((m, r) => ((m[r] = (m[r] ?? 0) + 1), m), {}),
      );
      const c = new AlwaysOnClient({
        url,
        allowInsecure: true,
        appKey: APP_KEY,
        backoff: { initialMs: 30, maxMs: 60 },
      });
      c.start();
      await eventually(() => c.stats.reconnects >= 3, 'retrying');
      assert.equal(c.lastError?.kind, 'transport');
      await c.close();
      const attempts = c.stats.reconnects;
      await sleep(200);
      assert.equal(c.stats.reconnects, attempts, 'no more attempts after close');
      await eventually(() => process.getActiveResourcesInfo().length <= before, 'no resources left', 1000);
    });
  });
});
