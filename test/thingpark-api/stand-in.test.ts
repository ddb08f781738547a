import { strict as assert } from 'assert';
import { DX_CONNECTIONS, OSS, TOKEN_PATH, ThingParkApiServer } from '../../testkit/thingpark-api-server';

// The stand-in must refuse what ThingPark refuses (reference/thingpark-api.md), or the client tests
// prove nothing: these requests are made by hand, not by our client.
describe('ThingPark API stand-in: as strict as the tutorial says ThingPark is', () => {
  let api: ThingParkApiServer;
  let token = '';
  before(async () => {
    api = await new ThingParkApiServer({ clientId: 'c', clientSecret: 's', devices: 5, pageSize: 2 }).start();
  });
  after(() => api.stop());

  const form = (body: string, type = 'application/x-www-form-urlencoded') =>
    fetch(`${api.url}${TOKEN_PATH}`, { method: 'POST', headers: { 'Content-Type': type }, body });
  const get = (path: string, bearer = token) =>
    fetch(`${api.url}${path}`, { headers: bearer ? { Authorization: `Bearer ${bearer}` } : {} });
  const post = (path: string, body: unknown, type = 'application/json') =>
    fetch(`${api.url}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': type },
      body: JSON.stringify(body),
    });

  it('token endpoint: form-encoded client credentials only, a short expires_in', async () => {
    assert.equal(
      (
        await form(
          JSON.stringify({ grant_type: 'client_credentials', client_id: 'c', client_secret: 's' }),
          'application/json',
        )
      ).status,
      400,
    );
    assert.equal((await form('grant_type=password&client_id=c&client_secret=s')).status, 400);
    const wrong = await form('grant_type=client_credentials&client_id=c&client_secret=x');
    assert.deepEqual(
      [wrong.status, ((await wrong.json()) as { error: string }).error],
      [401, 'unauthorized_client'],
    );
    const ok = await form('grant_type=client_credentials&client_id=c&client_secret=s');
    const answer = (await ok.json()) as { access_token: string; expires_in: number; token_type: string };
    assert.deepEqual([ok.status, answer.expires_in, answer.token_type], [200, 300, 'Bearer']);
    token = answer.access_token;
  });

  it('every API path needs a live Bearer token', async () => {
    assert.equal((await get(`${OSS}/devices`, '')).status, 401);
    assert.equal((await get(`${OSS}/devices`, 'made-up')).status, 401);
    assert.equal((await get(`${OSS}/devices`)).status, 200);
    assert.equal((await get('/elsewhere')).status, 404);
  });

  it('cursor pages: count on the first page only, cursors only when sorted, an unencoded cursor refused', async () => {
    const first = (await (await get(`${OSS}/devices?sort=EUI%2Casc`)).json()) as {
      briefs: Array<{ EUI: string }>;
      count: number | null;
      more: boolean;
      cursors: { last: string };
    };
    assert.deepEqual([first.briefs.length, first.count, first.more], [2, 5, true]);
    assert.match(first.cursors.last, /^eyJFVUkiOi/, 'base64 of {"EUI":…} as in the tutorial');
    const second = (await (
      await get(`${OSS}/devices?sort=EUI%2Casc&pageAfter=${encodeURIComponent(first.cursors.last)}`)
    ).json()) as { briefs: Array<{ EUI: string }>; count: null };
    assert.equal(second.count, null);
    assert.ok(second.briefs[0].EUI > first.briefs[1].EUI);
    assert.equal(
      (await get(`${OSS}/devices?pageAfter=${encodeURIComponent(first.cursors.last)}`)).status,
      400,
    );
    const unsorted = (await (await get(`${OSS}/devices`)).json()) as { cursors?: unknown };
    assert.equal(unsorted.cursors, undefined);
    assert.equal((await get(`${OSS}/devices?sort=EUI%2Casc&pageAfter=%%%`)).status, 400);
  });

  it('creations: JSON only, 201 with Location; bad devices 400 with a message; 429 with Retry-After', async () => {
    const device = {
      connectivity: 'LORAWAN',
      activation: 'OTAA',
      EUI: '70B3D5E756000999',
      model: { ID: 'SMTC/LoRaMoteA.1_EU' },
      appKey: '7374757A3FDD092947CE2DE9321C6040',
    };
    assert.equal(
      (await post(`${OSS}/devices?networkSubscriptionsHandlingMode=BASIC`, device, 'text/plain')).status,
      415,
    );
    const noMode = await post(`${OSS}/devices`, device);
    assert.deepEqual(
      [noMode.status, await noMode.json()],
      [400, { code: 400, message: 'networkSubscriptionsHandlingMode=BASIC is required' }],
    );
    const created = await post(`${OSS}/devices?networkSubscriptionsHandlingMode=BASIC`, device);
    assert.equal(created.status, 201);
    assert.match(created.headers.get('location') ?? '', new RegExp(`^${OSS}/devices/\\d+$`));
    assert.ok(!JSON.stringify(await created.json()).includes(device.appKey), 'the appKey is not answered');
    assert.equal(
      (await post(`${OSS}/devices?networkSubscriptionsHandlingMode=BASIC`, device)).status,
      400,
      'twice',
    );
    const connection = await post(DX_CONNECTIONS, {
      connectorId: 'actility-mqtt-iot',
      name: 'x',
      configuration: {},
    });
    assert.equal(connection.status, 400);
    api.throttle(1, 7);
    const throttled = await get(`${OSS}/devices`);
    assert.deepEqual([throttled.status, throttled.headers.get('retry-after')], [429, '7']);
  });
});
