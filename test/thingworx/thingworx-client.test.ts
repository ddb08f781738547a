import { strict as assert } from 'assert';
import {
  parseJsonValue,
  ThingWorxClient,
  Typed,
  type AlwaysOnClientOptions,
  type ThingWorxBody,
} from '../../lib/thingworx';
import type { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import type { QueueEntry } from '../../lib/delivery';
import type { PlatformDownlink } from '../../lib/connection/platform-client';
import { APP_KEY, devEuis, eventually, Fixture, TEMPLATE } from './client-fixtures';

function entry(body: ThingWorxBody, seq = 1): QueueEntry<ThingWorxBody> {
  return { key: body.devEUI, body, json: JSON.stringify(body), seq, attempts: 0 };
}

describe('ThingWorxClient against the strict AlwaysOn test server (issue 15)', function () {
  this.timeout(20000);
  const fx = new Fixture();
  afterEach(() => fx.cleanup());

  function platformClient(
    server: AlwaysOnTestServer,
    client: Partial<AlwaysOnClientOptions> = {},
  ): ThingWorxClient {
    const twx = new ThingWorxClient({
      host: '127.0.0.1',
      port: server.port,
      appKey: APP_KEY,
      allowInsecure: true,
      templateName: TEMPLATE,
      client: { ...fx.clientOptions(server), url: undefined, ...client },
    });
    fx.closers.push(() => twx.stop());
    return twx;
  }

  it('a Thing held by a ghost connection ("Last in wins" off): reported once with the setting to change, uplinks still delivered, bound once free', async () => {
    const server = await fx.server({ lastInWins: false });
    server.addConnectorTemplate(TEMPLATE);
    const [held, free] = devEuis(2);
    server.addThings([held, free], TEMPLATE);
    const ghost = fx.client(server);
    ghost.start();
    await ghost.bind([held]);
    await ghost.whenConnected();

    const twx = platformClient(server, { bindRetry: { initialMs: 100, maxMs: 200, jitter: 0 } });
    const warnings: string[] = [];
    const errors: Error[] = [];
    // (The strict server does not answer GetInstancePropertyDefinitions: that warning is not the one looked at.)
    twx.on('warning', (t: string) => {
      if (/BIND/.test(t)) warnings.push(t);
    });
    twx.on('error', (e: Error) => errors.push(e));
    twx.start();
    await eventually(() => twx.state === 'connected', 'connected', 5000);
    await eventually(() => warnings.length > 0, 'refusal reported');
    assert.match(warnings[0], /refused/);
    assert.match(warnings[0], /Binding failed/);
    assert.match(warnings[0], /Last in wins/);
    assert.equal(twx.isBound(held), false);
    assert.equal(twx.isBound(free), false, 'the batch is refused whole');

    const time = new Date().toISOString();
    const doc = { DevEUI_uplink: { DevEUI: held, FCntUp: 1, Time: time } };
    const r = await twx.deliver(entry({ devEUI: held, thing: held, time, document: doc }));
    assert.equal(r.kind, 'ack', JSON.stringify(r));
    assert.deepEqual(parseJsonValue(server.value(held, 'uplinkData')!.value), doc);
    assert.equal(server.received('request', 'CreateThing').length, 0, 'a refused Thing is not created again');

    await ghost.close();
    await eventually(() => twx.isBound(held) && twx.isBound(free), 'bound once the ghost left', 5000);
    const downlinks: PlatformDownlink[] = [];
    twx.on('downlink', (d: PlatformDownlink) => downlinks.push(d));
    const w = await server.putProperty(held, 'downlink', Typed.json({ FPort: 2, payload_hex: '01' }));
    assert.equal(w.code, 0x40);
    assert.equal(downlinks.length, 1);
    assert.equal(warnings.length, 1, 'reported once');
    assert.deepEqual(errors, []);
    assert.deepEqual(server.violations, []);
  });

  it("honours the platform's subscription settings (edge name, NEVER, VALUE, DEADBAND), and a change made in Composer once told by NotifyPropertyUpdate", async () => {
    const server = await fx.server();
    server.addTemplate(
      TEMPLATE,
      { uplinkData: 'JSON', downlink: 'JSON', rssi: 'NUMBER', snr: 'NUMBER', FCntUp: 'NUMBER' },
      'RemoteThing',
      {
        uplinkData: { cacheTime: -1, pushType: 'ALWAYS' },
        downlink: { cacheTime: -1, pushType: 'NEVER' },
        rssi: { cacheTime: -1, pushType: 'DEADBAND', pushThreshold: 5 },
        snr: { cacheTime: -1, pushType: 'VALUE' },
        FCntUp: { cacheTime: -1, pushType: 'NEVER' },
      },
    );
    const [dev] = devEuis(1);
    server.addThing(dev, TEMPLATE);
    const twx = platformClient(server);
    twx.start();
    await eventually(() => twx.state === 'connected' && twx.isBound(dev), 'connected and bound', 5000);
    let seq = 0;
    const send = async (rssi: number, snr: number): Promise<string[]> => {
      const time = new Date(Date.UTC(2026, 0, 1, 0, 0, ++seq)).toISOString();
      const doc = { DevEUI_uplink: { DevEUI: dev, Time: time, FCntUp: seq, LrrRSSI: rssi, LrrSNR: snr } };
      const r = await twx.deliver(entry({ devEUI: dev, thing: dev, time, document: doc }, seq));
      assert.equal(r.kind, 'ack', JSON.stringify(r));
      const pushes = server.received('request', 'UpdateSubscribedPropertyValues');
      const last = pushes[pushes.length - 1].msg;
      const rows = last.kind === 'request' ? last.body.params!.rows[0].values : undefined;
      return rows && rows.baseType === 0x05 ? rows.value.rows.map((row) => row.name.value as string) : [];
    };
    assert.deepEqual(await send(-100, 5), ['uplinkData', 'rssi', 'snr'], 'first values; FCntUp is NEVER');
    assert.deepEqual(await send(-103, 5), ['uplinkData'], 'rssi within its deadband, snr unchanged');
    assert.deepEqual(await send(-106, 6), ['uplinkData', 'rssi', 'snr']);
    assert.equal(server.value(dev, 'rssi')!.value.value, -106);
    assert.equal(server.received('request', 'GetPropertySubscriptions').length, 1);

    // In Composer: uplinkData bound to the edge name "up", snr no longer pushed; the platform tells the edge.
    server.setPropertySubscription(TEMPLATE, 'uplinkData', { edgeName: 'up' });
    server.setPropertySubscription(TEMPLATE, 'snr', { pushType: 'NEVER' });
    assert.equal((await server.callEdgeService(dev, 'NotifyPropertyUpdate')).code, 0x40);
    await eventually(() => server.received('request', 'GetPropertySubscriptions').length === 2, 'read again');
    assert.deepEqual(await send(-120, 9), ['up', 'rssi']);
    const stored = parseJsonValue(server.value(dev, 'uplinkData')!.value) as {
      DevEUI_uplink: { LrrRSSI: number };
    };
    assert.equal(stored.DevEUI_uplink.LrrRSSI, -120);
    assert.equal(server.value(dev, 'snr')!.value.value, 6);
    assert.deepEqual(server.violations, []);
  });
});
