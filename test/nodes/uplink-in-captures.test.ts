import { strict as assert } from 'assert';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';
import { tunnelQueryFor } from '../../lib/thingpark/mapping/token';
import { readVectors } from '../../testkit/paths';
import {
  collect,
  helper,
  networkNode,
  nextMessage,
  servingHttpNodes,
  uplinkInNode,
  waitFor,
} from '../helpers/node-red';

interface RealCapture {
  source: string;
  type: string;
  asKey: string;
  query: string;
  body: Record<string, unknown>;
}
const vectors = readVectors<{ real: RealCapture[] }>('thingpark-tokens.json');
const DEV = '0018B20000000B20';

// Each load gets its own network id: the replay guard outlives a redeploy of the same one.
let loads = 0;
const flow = (network: Record<string, unknown>) => [
  { id: 'tab', type: 'tab', label: 'captures' },
  {
    id: `net${++loads}`,
    type: 'thingpark-network',
    mode: 'http',
    asId: 'test.as',
    acceptUnverified: false,
    ...network,
  },
  {
    id: 'up',
    z: 'tab',
    type: 'thingpark-uplink-in',
    network: `net${loads}`,
    path: '/cap/uplink',
    wires: [['out']],
  },
  { id: 'out', z: 'tab', type: 'helper' },
];
const modules = () => servingHttpNodes([networkNode, uplinkInNode]);
const load = (network: Record<string, unknown>, asKey: string) => {
  const nodes = flow(network);
  return helper.load(modules(), nodes, { [nodes[1].id as string]: { asKey } });
};

describe('uplink in (Basic HTTPS) with real ThingPark captures and the forms real platforms send', () => {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  const url = () => `${helper.url()}/cap/uplink`;
  const post = (query: string, body: string) =>
    fetch(`${url()}?${query}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });

  for (const capture of vectors.real) {
    it(`emits ${capture.type} of ${capture.source.split(' ')[0]} verified, its key pasted in upper case, also under an AS URL with its own query`, async () => {
      // The captures are years old: the Time window is off (0), the Token is what is checked.
      await load({ maxTimeDeviation: 0 }, capture.asKey.toUpperCase());
      const messages = collect(helper.getNode('out'));
      const body = JSON.stringify({ [capture.type]: capture.body });
      const res = await post(capture.query, body);
      assert.equal(res.status, 200, await res.text());
      await waitFor(() => messages.length === 1);
      assert.equal((messages[0].thingpark as { verified: boolean }).verified, true);
      assert.doesNotMatch(
        JSON.stringify(messages[0].thingpark),
        /key/i,
        'nothing of the key in msg.thingpark',
      );
      await helper.unload();

      await load({ maxTimeDeviation: 0 }, capture.asKey);
      const again = collect(helper.getNode('out'));
      const own = await post(`site=3&${capture.query}`, body);
      assert.equal(own.status, 200, await own.text());
      await waitFor(() => again.length === 1);
      const forged = await post(`site=3&${capture.query.replace(/Token=[0-9a-f]{4}/, 'Token=ffff')}`, body);
      assert.equal(forged.status, 401);
    });
  }

  it('checks the Time window on a Time whose "+" arrives unencoded', async () => {
    await load({ maxTimeDeviation: 60 }, 'c6f5e3b263092120b8766b9aed9c41b4');
    const messages = collect(helper.getNode('out'));
    const body = { DevEUI: DEV, FPort: 1, FCntUp: 3, payload_hex: '00', CustomerID: '100000001' };
    const sign = (date: Date) => {
      // Local time at +01:00, as a platform in Paris writes it.
      const time = thingparkTime(new Date(date.getTime() + 3600e3)).replace('+00:00', '+01:00');
      const query = tunnelQueryFor('DevEUI_uplink', body, {
        asId: 'test.as',
        asKey: 'c6f5e3b263092120b8766b9aed9c41b4',
        time,
      });
      return query.replace(/%3A/g, ':').replace(/%2B/g, '+');
    };
    const fresh = sign(new Date());
    assert.match(fresh, /Time=\d{4}-[^&]*\+01:00&/);
    const res = await post(fresh, JSON.stringify({ DevEUI_uplink: body }));
    assert.equal(res.status, 200, await res.text());
    const stale = await post(sign(new Date(Date.now() - 600e3)), JSON.stringify({ DevEUI_uplink: body }));
    assert.equal(stale.status, 403);
    assert.equal(await stale.text(), 'Time outside the allowed deviation');
    await waitFor(() => messages.length === 1);
  });

  it('emits CustomerData and DriverCfg sent as JSON text (XML) as objects', async () => {
    await load({ maxTimeDeviation: 60 }, 'the-key');
    const received = nextMessage(helper.getNode('out'));
    const fields = {
      DevEUI: '000000000F1D8693',
      FPort: '2',
      FCntUp: '7011',
      payload_hex: '0027bd00',
      CustomerID: '100000507',
    };
    const xml = `<?xml version="1.0" encoding="utf-8"?>
<DevEUI_uplink xmlns="http://uri.actility.com/lora"><DevEUI>000000000F1D8693</DevEUI><FPort>2</FPort>
<FCntUp>7011</FCntUp><payload_hex>0027bd00</payload_hex><CustomerID>100000507</CustomerID>
<CustomerData>{"loc":{"lat":"43.58081","lon":"1.4421667"},"alr":{"pro":"STL","ver":"1"},"name":"Boiler 3"}</CustomerData>
<DriverCfg>{"app":{"pId":"abeeway","mId":"asset-tracker","ver":"1"}}</DriverCfg></DevEUI_uplink>`;
    const query = tunnelQueryFor('DevEUI_uplink', fields, {
      asId: 'test.as',
      asKey: 'the-key',
      time: thingparkTime(new Date()),
    });
    const res = await fetch(`${url()}?${query}`, {
      method: 'POST',
      body: xml,
      headers: { 'Content-Type': 'text/xml' },
    });
    assert.equal(res.status, 200, await res.text());
    const up = ((await received).payload as { DevEUI_uplink: Record<string, unknown> }).DevEUI_uplink;
    assert.equal((up.CustomerData as { name: string }).name, 'Boiler 3');
    assert.deepEqual(up.DriverCfg, { app: { pId: 'abeeway', mId: 'asset-tracker', ver: '1' } });
  });
});
