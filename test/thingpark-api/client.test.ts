import { strict as assert } from 'assert';
import {
  ThingParkApiClient,
  ThingParkApiError,
  buildRequest,
  type ApiResult,
  type Operation,
  type OperationInput,
} from '../../lib/thingpark-api';
import { OSS, ThingParkApiServer, type ThingParkApiServerOptions } from '../../testkit/thingpark-api-server';

const CLIENT_ID = 'sa-node-red';
const CLIENT_SECRET = 'client-S3cret-4b1e9d';

async function collectAll(gen: AsyncGenerator<ApiResult>): Promise<ApiResult[]> {
  const out: ApiResult[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

describe('thingpark-api client against the strict ThingPark API stand-in', function () {
  this.timeout(20000);
  let server: ThingParkApiServer;
  let client: ThingParkApiClient;

  async function start(options: Partial<ThingParkApiServerOptions> = {}, clientOptions = {}) {
    await server?.stop();
    client?.close();
    server = await new ThingParkApiServer({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      ...options,
    }).start();
    client = new ThingParkApiClient({
      url: server.url,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      ...clientOptions,
    });
  }
  const call = (op: Operation, input: OperationInput = {}) => client.call(op, input);
  const list = (
    op: Operation,
    input: OperationInput = {},
    mode: 'pages' | 'items' | 'all' = 'all',
    maxItems = 100000,
  ) => collectAll(client.results(buildRequest(op, input), { mode, maxItems }));

  afterEach(async () => {
    client?.close();
    await server?.stop();
  });

  it('gets a token with form-encoded client credentials and sends it as Bearer', async () => {
    await start({ devices: 3 });
    await call('getDevice', { devEUI: [...server.devices.keys()][0] });
    const [token, get] = server.requests;
    assert.equal(token.contentType, 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(token.body)), {
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
    });
    assert.match(get.authorization ?? '', /^Bearer [\w-]{20,}$/);
    assert.equal(get.status, 200);
  });

  it('runs every operation: devices, traffic, alarms, connections, profiles, plans, contexts, any request', async () => {
    await start({ devices: 3, alarms: 4 });
    const http = await call('createHttpConnection', {
      payload: {
        contentType: 'jsontyped',
        destinations: [{ addresses: ['https://www.example.com/myApp'], ports: '*', strategy: 'SEQUENTIAL' }],
        downlinkSecurity: {
          downlinkAsKey: 'C72C6F867B150B1210ACDA5F3CDFB449',
          maxTimestampDeviation: 10,
          status: 'DOWNLINK_AS_KEY',
        },
        name: 'My Basic HTTPS connection',
      },
    });
    assert.equal(http.status, 201);
    assert.match(http.location ?? '', new RegExp(`${OSS}/appServers/\\d+$`));
    const asId = (http.body as { ID: string }).ID;
    assert.match(asId, /^TWA_\d+\.\d+\.AS$/);

    const flow = await call('createIotFlowConnection', {
      payload: {
        connectorId: 'actility-mqtt-iot',
        name: 'My MQTT connection',
        configuration: {
          uplinkTopicPattern: 'mqtt/things/{DevEUI}/uplink',
          downlinkTopicPattern: 'mqtt/things/{DevEUI}/downlink',
          hostName: 'myhostname.com:8883',
          protocol: 'SSL',
          username: 'mycompany',
          password: 'bar',
        },
      },
    });
    assert.deepEqual(
      [flow.status, flow.location, (flow.body as { state: string }).state],
      [201, '/connections/1114', 'OPENED'],
    );

    const lora = await call('createDevice', {
      payload: {
        connectivity: 'LORAWAN',
        activation: 'OTAA',
        EUI: '70B3D5E756000999',
        model: { ID: 'SMTC/LoRaMoteA.1_EU' },
        networkSubscription: { nwGeolocalization: false, prAllowed: false },
        appServers: [{ ID: asId }],
        name: 'My device',
        appKey: '7374757A3FDD092947CE2DE9321C6040',
      },
    });
    assert.equal(lora.status, 201);
    assert.match(lora.location ?? '', new RegExp(`${OSS}/devices/\\d+$`));
    const cellular = await call('createDevice', {
      payload: {
        connectivity: 'CELLULAR',
        enforcedIMEI: '123456789012347',
        model: { ID: 'CUSTOM/LTE_Dongle' },
        networkSubscription: { ID: 'acme-cs/cellular-cp' },
        networkContext: { ID: '1AF3B' },
        appServers: [{ ID: asId }],
        name: 'My cellular device',
        sim: { ID: '89208013535718672291' },
      },
    });
    assert.equal((cellular.body as { EUI: string }).EUI, 'F03D290000000001');

    const got = await call('getDevice', { devEUI: '70b3d5e756000999' });
    assert.equal((got.body as { name: string }).name, 'My device');
    const other = [...server.devices.keys()][0];
    const updated = await call('updateDevice', { topic: other, payload: { appServers: [{ ID: asId }] } });
    assert.deepEqual((updated.body as { appServers: unknown }).appServers, [{ ID: asId }]);
    assert.deepEqual(server.devices.get(other)!.appServers, [{ ID: asId }]);

    const traffic = await call('deviceTraffic', {
      devEUI: other,
      payload: { duration: 'P7D', step: 'P1D', timezone: 'Europe/Paris' },
    });
    assert.equal((traffic.body as { briefs: unknown[] }).briefs.length, 7);
    const trafficRequest = server.requests[server.requests.length - 1];
    assert.equal(trafficRequest.rawQuery, 'duration=P7D&step=P1D&timezone=Europe%2FParis');

    const deleted = await call('deleteDevice', { devEUI: '70B3D5E756000999' });
    assert.equal(deleted.status, 204);
    assert.equal(server.devices.has('70B3D5E756000999'), false);

    const devices = await list('listDevices');
    assert.equal((devices[0].payload as unknown[]).length, 4);
    const alarms = await list('listDeviceAlarms');
    assert.deepEqual(
      (alarms[0].payload as Array<{ alarmUid: number }>).map((a) => a.alarmUid),
      [1000, 1001, 1002, 1003],
    );
    const connections = (await list('listConnections'))[0].payload as Array<{
      ID: string;
      tpxIotFlow?: unknown;
    }>;
    assert.equal(connections.length, 2);
    assert.ok(connections.some((c) => c.ID === asId));
    const profiles = (await list('listDeviceProfiles', { payload: { connectivity: 'CELLULAR' } }))[0].payload;
    assert.deepEqual(
      (profiles as Array<{ ID: string }>).map((p) => p.ID),
      ['CUSTOM/LTE_Dongle'],
    );
    const plans = (await list('listConnectivityPlans'))[0].payload as Array<{ ID: string }>;
    assert.deepEqual(
      plans.map((p) => p.ID),
      ['acme-cs/cellular-cp'],
    );
    const contexts = (await list('listNetworkContexts'))[0].payload as Array<{ ID: string }>;
    assert.deepEqual(
      contexts.map((p) => p.ID),
      ['1AF3B'],
    );
    const any = await call('request', {
      payload: { method: 'GET', path: '/thingpark/dx/core/latest/api/connections' },
    });
    assert.equal((any.body as unknown[]).length, 1);
    const [one] = await collectAll(
      client.results(buildRequest('request', { payload: { path: `devices/e${other}` } }), {
        mode: 'all',
        maxItems: 10,
      }),
    );
    assert.equal(
      (one.payload as { EUI: string }).EUI,
      other,
      'one resource is output as it is, not as a list',
    );
  });

  it('a bad device is ThingPark 400 with its message; an unknown device is 404', async () => {
    await start({ devices: 1 });
    const refused = await call('createDevice', {
      payload: {
        connectivity: 'LORAWAN',
        activation: 'OTAA',
        EUI: 'nothex',
        model: { ID: 'SMTC/LoRaMoteA.1_EU' },
      },
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof ThingParkApiError);
    assert.equal(refused.status, 400);
    assert.equal(refused.thingparkMessage, 'EUI must be 16 hexadecimal digits');
    assert.equal(refused.message, 'HTTP 400: EUI must be 16 hexadecimal digits');
    const missing = await call('getDevice', { devEUI: '0000000000000001' }).catch(
      (e: ThingParkApiError) => e,
    );
    assert.deepEqual(
      [(missing as ThingParkApiError).status, (missing as ThingParkApiError).thingparkMessage],
      [404, 'Device e0000000000000001 not found'],
    );
  });

  it('lists 250 devices across pages with the token expiring mid-way: each device exactly once, in EUI order', async () => {
    await start({ devices: 250, pageSize: 10, tokenLifetimeS: 1, answerDelayMs: 80 });
    const pages = await list('listDevices', {}, 'pages');
    const euis = pages.flatMap((p) => (p.payload as Array<{ EUI: string }>).map((d) => d.EUI));
    assert.equal(pages.length, 25);
    assert.equal(euis.length, 250);
    assert.equal(new Set(euis).size, 250);
    assert.deepEqual(euis, [...server.devices.keys()].sort());
    assert.equal(pages[0].thingpark.count, 250, 'count from the first page');
    assert.equal(pages[24].thingpark.count, 250, 'and kept on the later ones, where ThingPark sends null');
    assert.equal(pages[24].thingpark.more, false);
    assert.ok(
      server.tokenRequests >= 2,
      `the token was renewed during the listing (${server.tokenRequests} tokens)`,
    );
    const apiCalls = server.requests.filter((r) => r.path.startsWith(OSS));
    assert.ok(
      apiCalls.every((r) => r.status === 200),
      'renewed before it expired: no request refused',
    );
    assert.equal(apiCalls.length, 25);
  });

  it('a token ThingPark ends early mid-listing: 401, one new token, the page asked again, each device once', async () => {
    await start({ devices: 250 });
    const seen: string[] = [];
    for await (const r of client.results(buildRequest('listDevices', {}), {
      mode: 'pages',
      maxItems: 100000,
    })) {
      seen.push(...(r.payload as Array<{ EUI: string }>).map((d) => d.EUI));
      if (r.thingpark.page === 1) server.revokeTokens();
    }
    assert.equal(seen.length, 250);
    assert.equal(new Set(seen).size, 250);
    assert.equal(server.tokenRequests, 2);
    assert.deepEqual(
      server.requests.filter((r) => r.path.startsWith(OSS)).map((r) => r.status),
      [200, 401, 200, 200],
    );
  });

  it('a 401 renews once and retries once: a second 401 ends with the error', async () => {
    await start({ devices: 1, tokenLifetimeS: 0 });
    const err = await call('listDevices').catch((e: ThingParkApiError) => e);
    assert.ok(err instanceof ThingParkApiError);
    assert.deepEqual([err.status, err.thingparkMessage], [401, 'Token is not active']);
    assert.equal(server.tokenRequests, 2);
    assert.equal(server.requests.filter((r) => r.path.startsWith(OSS)).length, 2);
  });

  it('a refused client secret is the token endpoint status and message, the secret in neither', async () => {
    await start();
    client = new ThingParkApiClient({
      url: server.url,
      clientId: CLIENT_ID,
      clientSecret: 'wrong-S3cret-77',
    });
    const err = await call('listDevices').catch((e: ThingParkApiError) => e);
    assert.ok(err instanceof ThingParkApiError);
    assert.equal(err.status, 401);
    assert.match(err.message, /token request refused: Invalid client or Invalid client credentials/);
    assert.ok(!err.message.includes('wrong-S3cret-77') && !JSON.stringify(err).includes('wrong-S3cret-77'));
    assert.equal(
      server.requests.filter((r) => r.path.startsWith(OSS)).length,
      0,
      'no API request without a token',
    );
  });

  it('a 429 waits for Retry-After, then goes on', async () => {
    await start({ devices: 2 });
    await call('listDevices');
    server.throttle(2, 1);
    const started = Date.now();
    const answer = await call('listDevices');
    assert.equal(answer.status, 200);
    const api = server.requests.filter((r) => r.path.startsWith(OSS)).slice(1);
    assert.deepEqual(
      api.map((r) => r.status),
      [429, 429, 200],
    );
    assert.ok(
      Date.now() - started >= 2000,
      `waited the two Retry-After seconds (${Date.now() - started} ms)`,
    );
  });

  it('a 429 is waited out only within bounds: a Retry-After too long, or too many, end with the 429', async () => {
    await start({ devices: 2 }, { maxRetryAfterMs: 5000, maxThrottleRetries: 2 });
    server.throttle(1, 3600);
    const started = Date.now();
    const long = await call('listDevices').catch((e: ThingParkApiError) => e);
    assert.deepEqual(
      [(long as ThingParkApiError).status, (long as ThingParkApiError).thingparkMessage],
      [429, 'Too many requests'],
    );
    assert.ok(Date.now() - started < 2000, 'did not wait an hour');
    server.throttle(5, 0);
    const many = await call('listDevices').catch((e: ThingParkApiError) => e);
    assert.equal((many as ThingParkApiError).status, 429);
    assert.equal(
      server.requests.filter((r) => r.status === 429).length,
      1 + 3,
      'the first try and two retries',
    );
  });

  it('close() ends a Retry-After wait at once', async () => {
    await start({ devices: 2 });
    server.throttle(1, 30);
    const pending = call('listDevices').then(
      () => 'answered',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    client.close();
    assert.equal(await pending, 'aborted');
    assert.ok(Date.now() - started < 1000);
  });

  it('pages, items and all: bounded by maxItems, with the cursor to resume from', async () => {
    await start({ devices: 25, pageSize: 10 });
    const sorted = [...server.devices.keys()].sort();
    const items = await list('listDevices', {}, 'items', 15);
    assert.deepEqual(
      items.map((i) => (i.payload as { EUI: string }).EUI),
      sorted.slice(0, 15),
    );
    assert.deepEqual(
      items.map((i) => i.thingpark.index),
      [...Array(15).keys()],
    );
    assert.equal(items[14].thingpark.truncated, true);
    const pages = await list('listDevices', {}, 'pages', 20);
    assert.deepEqual(
      pages.map((p) => (p.payload as unknown[]).length),
      [10, 10],
    );
    assert.equal(pages[1].thingpark.truncated, true);
    const [all] = await list('listDevices', {}, 'all', 15);
    assert.equal((all.payload as unknown[]).length, 15);
    assert.deepEqual([all.thingpark.count, all.thingpark.more, all.thingpark.truncated], [25, true, true]);
    // Cut inside the second page: resuming reads that page again, so nothing is skipped.
    const [rest] = await list('listDevices', { payload: { pageAfter: all.thingpark.cursor } }, 'all');
    const resumed = (rest.payload as Array<{ EUI: string }>).map((d) => d.EUI);
    assert.deepEqual(resumed, sorted.slice(10));
    assert.deepEqual([rest.thingpark.more, rest.thingpark.truncated], [false, undefined]);
    const [whole] = await list('listDevices', {}, 'all');
    assert.deepEqual(
      (whole.payload as Array<{ EUI: string }>).map((d) => d.EUI),
      sorted,
    );
  });
});
