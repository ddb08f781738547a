import { strict as assert } from 'assert';
import {
  ApiInputError,
  OPERATIONS,
  OSS_PATH,
  buildRequest,
  encodeQuery,
  errorMessageOf,
  nextPageRequest,
  readPage,
  retryAfterMs,
  type Operation,
} from '../../lib/thingpark-api';

const EUI = '70B3D5E756000999';

describe('thingpark-api mapping: requests built from a message, pure', () => {
  it('builds every operation the issue names, on the tutorial paths', () => {
    const cases: Record<Operation, [string, string, Record<string, string>]> = {
      listDevices: ['GET', `${OSS_PATH}/devices`, { sort: 'EUI,asc' }],
      getDevice: ['GET', `${OSS_PATH}/devices/e${EUI}`, {}],
      deviceTraffic: [
        'GET',
        `${OSS_PATH}/devices/e${EUI}/frames/aggregated`,
        { duration: 'P7D', step: 'P1D', timezone: 'Europe/Paris' },
      ],
      createDevice: ['POST', `${OSS_PATH}/devices`, { networkSubscriptionsHandlingMode: 'BASIC' }],
      updateDevice: ['PUT', `${OSS_PATH}/devices/e${EUI}`, {}],
      deleteDevice: ['DELETE', `${OSS_PATH}/devices/e${EUI}`, {}],
      listDeviceAlarms: ['GET', `${OSS_PATH}/devices/alarms`, { sort: 'alarmUid,asc' }],
      listConnections: ['GET', `${OSS_PATH}/appServers`, {}],
      createHttpConnection: ['POST', `${OSS_PATH}/appServers`, {}],
      createIotFlowConnection: ['POST', '/thingpark/dx/core/latest/api/connections', {}],
      listDeviceProfiles: ['GET', `${OSS_PATH}/deviceProfiles`, { connectivity: 'LORAWAN' }],
      listConnectivityPlans: ['GET', `${OSS_PATH}/networkSubscriptions`, { connectivity: 'CELLULAR' }],
      listNetworkContexts: ['GET', `${OSS_PATH}/cellularNetworkContexts`, {}],
      request: ['GET', `${OSS_PATH}/devices/e${EUI}/frames`, {}],
    };
    const payloads: Partial<Record<Operation, unknown>> = {
      deviceTraffic: { timezone: 'Europe/Paris' },
      createDevice: { connectivity: 'LORAWAN', EUI },
      updateDevice: { appServers: [{ ID: 'TWA_1.2.AS' }] },
      createHttpConnection: { name: 'x' },
      createIotFlowConnection: { name: 'x' },
      listDeviceProfiles: { connectivity: 'LORAWAN' },
      request: { path: `devices/e${EUI}/frames` },
    };
    assert.deepEqual(Object.keys(cases).sort(), [...OPERATIONS].sort());
    for (const op of OPERATIONS) {
      const r = buildRequest(op, { payload: payloads[op], devEUI: EUI.toLowerCase() });
      assert.deepEqual([r.method, r.path, r.query], cases[op], op);
    }
  });

  it('cellular creations go without networkSubscriptionsHandlingMode; bodies are the payload as given', () => {
    const body = { connectivity: 'CELLULAR', enforcedIMEI: '123456789012347' };
    const r = buildRequest('createDevice', { payload: body });
    assert.deepEqual(r.query, {});
    assert.equal(r.body, body);
  });

  it('takes the device from msg.devEUI, else msg.topic, and refuses anything but 16 hex digits', () => {
    assert.equal(buildRequest('getDevice', { topic: EUI }).path, `${OSS_PATH}/devices/e${EUI}`);
    assert.equal(
      buildRequest('getDevice', { devEUI: '0011223344556677', topic: EUI }).path,
      `${OSS_PATH}/devices/e0011223344556677`,
    );
    for (const bad of [undefined, '', '70B3', `${EUI}0`, '70B3D5E75600099G', '../../appServers'])
      assert.throws(() => buildRequest('deleteDevice', { devEUI: bad }), ApiInputError, String(bad));
  });

  it('lists keep their cursor sort whatever the payload says, and take pageAfter to resume', () => {
    const r = buildRequest('listDevices', { payload: { sort: 'name,desc', pageAfter: 'eyJFVUkiOiIx+/=' } });
    assert.deepEqual(r.query, { sort: 'EUI,asc', pageAfter: 'eyJFVUkiOiIx+/=' });
    assert.equal(encodeQuery(r.query), 'sort=EUI%2Casc&pageAfter=eyJFVUkiOiIx%2B%2F%3D');
    assert.throws(() => buildRequest('listDevices', { payload: { filter: { a: 1 } } }), ApiInputError);
  });

  it('refuses bodies that are not objects, bad durations, and request paths outside the API', () => {
    assert.throws(() => buildRequest('createDevice', { payload: 'x' }), ApiInputError);
    assert.throws(() => buildRequest('updateDevice', { devEUI: EUI, payload: [1] }), ApiInputError);
    assert.throws(
      () => buildRequest('deviceTraffic', { devEUI: EUI, payload: { step: '1 day' } }),
      ApiInputError,
    );
    for (const path of ['https://evil.example/x', '//evil.example/x', '/a/../b', 'devices?x=1', ''])
      assert.throws(() => buildRequest('request', { payload: { path } }), ApiInputError, path);
    assert.throws(() => buildRequest('request', { payload: { method: 'TRACE', path: '/x' } }), ApiInputError);
    const r = buildRequest('request', {
      payload: { method: 'post', path: '/thingpark/dx/core/latest/api/connections', body: { a: 1 } },
    });
    assert.deepEqual(
      [r.method, r.path, r.body, r.paged],
      ['POST', '/thingpark/dx/core/latest/api/connections', { a: 1 }, false],
    );
  });

  it('reads cursor pages and follows them only while more and a cursor are given', () => {
    const request = buildRequest('listDevices', {});
    const first = readPage({ briefs: [1, 2], more: true, count: 5, cursors: { last: 'c1' } });
    assert.deepEqual(first, { items: [1, 2], more: true, cursor: 'c1', count: 5 });
    assert.deepEqual(nextPageRequest(request, first)?.query, { sort: 'EUI,asc', pageAfter: 'c1' });
    assert.equal(
      nextPageRequest(request, readPage({ briefs: [3], more: false, count: null, cursors: { last: 'c2' } })),
      undefined,
    );
    assert.equal(nextPageRequest(request, readPage({ briefs: [3], more: true })), undefined);
    assert.equal(nextPageRequest(buildRequest('getDevice', { devEUI: EUI }), first), undefined);
    assert.deepEqual(readPage([1]), { items: [1], more: false });
  });

  it('reads Retry-After in seconds or as a date, and ThingPark error messages', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs(new Date(10000).toUTCString(), 4000), 6000);
    assert.equal(retryAfterMs(undefined), undefined);
    assert.equal(retryAfterMs('soon'), undefined);
    assert.equal(
      errorMessageOf({ code: 400, message: 'EUI must be 16 hexadecimal digits' }, ''),
      'EUI must be 16 hexadecimal digits',
    );
    assert.equal(errorMessageOf({ error: 'x', error_description: 'Invalid client' }, ''), 'Invalid client');
    assert.equal(errorMessageOf(undefined, '<html><body>Bad gateway</body></html>'), 'Bad gateway');
  });
});
