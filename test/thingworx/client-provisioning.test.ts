import { strict as assert } from 'assert';
import {
  AlwaysOnClient,
  BaseType,
  MessageCode,
  ProvisioningError,
  ThingProvisioner,
} from '../../lib/thingworx';
import type { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { devEuis, Fixture, TEMPLATE } from './client-fixtures';

async function provisioningError(p: Promise<unknown>): Promise<ProvisioningError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ProvisioningError, `expected ProvisioningError, got ${String(e)}`);
    return e;
  }
  return assert.fail('expected a ProvisioningError');
}

function services(server: AlwaysOnTestServer): string[] {
  return server
    .received('request')
    .map((e) => (e.msg.kind === 'request' ? e.msg.body.characteristicName : ''));
}

describe('Provisioning over AlwaysOn', function () {
  this.timeout(30000);
  const fx = new Fixture();
  let server: AlwaysOnTestServer;
  let client: AlwaysOnClient;

  beforeEach(async () => {
    server = await fx.server();
    client = fx.client(server);
    client.start();
    await client.whenConnected();
  });
  afterEach(() => fx.cleanup());

  it('creates the template from RemoteThing with remote JSON uplinkData and downlink when missing, and only then', async () => {
    const p = new ThingProvisioner(client, { templateName: TEMPLATE, allowCreateTemplate: true });
    assert.equal(await p.ensureTemplate(), 'created');
    const tpl = server.templates.get(TEMPLATE)!;
    assert.equal(tpl.base, 'RemoteThing');
    assert.deepEqual(
      [...tpl.properties],
      [
        ['uplinkData', 'JSON'],
        ['downlink', 'JSON'],
      ],
    );
    assert.deepEqual(services(server), [
      'GetEntityList',
      'CreateThingTemplate',
      'AddPropertyDefinition',
      'AddPropertyDefinition',
    ]);
    // As the shipped template XML: the pushed value is the value, never read back from the edge.
    assert.equal(tpl.aspects.get('uplinkData')?.cacheTime, -1);
    assert.equal(tpl.aspects.get('downlink')?.cacheTime, -1);
    server.clearLog();
    assert.equal(await p.ensureTemplate(), 'present');
    assert.deepEqual(services(server), ['GetEntityList']);
    assert.deepEqual(server.violations, []);
  });

  it('does not create an existing template', async () => {
    server.addConnectorTemplate(TEMPLATE);
    server.addTemplate(`${TEMPLATE}Old`, {});
    const p = new ThingProvisioner(client, { templateName: TEMPLATE, allowCreateTemplate: true });
    assert.equal(await p.ensureTemplate(), 'present');
    assert.deepEqual(services(server), ['GetEntityList']);
  });

  it('refuses a missing template when creating it is not allowed, with a clear permanent error', async () => {
    const p = new ThingProvisioner(client, { templateName: TEMPLATE });
    const e = await provisioningError(p.ensureTemplate());
    assert.equal(e.step, 'template-missing');
    assert.equal(e.code, MessageCode.NOT_FOUND);
    assert.equal(e.retryable, false);
    assert.match(e.message, /ThingTemplate ThingParkDevice does not exist/);
    assert.equal(server.templates.size, 0);
  });

  it('reports a platform refusal (0x83, no permission) as a typed, permanent ProvisioningError', async () => {
    server.allowCreate = false;
    const p = new ThingProvisioner(client, { templateName: TEMPLATE, allowCreateTemplate: true });
    const e = await provisioningError(p.ensureTemplate());
    assert.equal(e.step, 'CreateThingTemplate');
    assert.equal(e.kind, 'response');
    assert.equal(e.code, MessageCode.FORBIDDEN);
    assert.equal(e.retryable, false);
    assert.match(e.message, /CreateThingTemplate failed: .*FORBIDDEN \(0x83\)/);

    server.addConnectorTemplate(TEMPLATE);
    const e2 = await provisioningError(p.createThing('0018B20000000001'));
    assert.equal(e2.step, 'CreateThing');
    assert.equal(e2.code, MessageCode.FORBIDDEN);
    assert.equal(server.things.size, 0);
  });

  it('lists only the Things implementing our template (derived templates included), page by page', async () => {
    server.addConnectorTemplate(TEMPLATE);
    server.addTemplate(`${TEMPLATE}Special`, {}, TEMPLATE);
    server.addTemplate('SomeoneElses', { uplinkData: 'JSON' });
    const ours = devEuis(1100, 'AA');
    const derived = devEuis(100, 'DD');
    const theirs = devEuis(300, 'BB');
    server.addThings(theirs.slice(0, 150), 'SomeoneElses');
    server.addThings(ours, TEMPLATE);
    server.addThings(derived, `${TEMPLATE}Special`);
    server.addThings(theirs.slice(150), 'SomeoneElses');
    const p = new ThingProvisioner(client, { templateName: TEMPLATE, pageSize: 500 });
    const listed = await p.listThings();
    assert.deepEqual(listed.sort(), [...ours, ...derived].sort());
    assert.equal(services(server).filter((s) => s === 'QueryImplementingThingsOptimized').length, 4);
  });

  it('keeps paging when the platform caps the page, and stops when it ignores offset', async () => {
    await server.close();
    server = await fx.server({ maxItemsCap: 100 });
    server.addConnectorTemplate(TEMPLATE);
    const ours = devEuis(450);
    server.addThings(ours, TEMPLATE);
    const c = fx.client(server);
    c.start();
    await c.whenConnected();
    assert.deepEqual(
      await new ThingProvisioner(c, { templateName: TEMPLATE, pageSize: 1000 }).listThings(),
      ours,
    );

    server.clearLog();
    server.interceptor = () => ({
      code: MessageCode.SUCCESS,
      content: {
        dataShape: [{ name: 'name', baseType: BaseType.STRING }],
        rows: ours.slice(0, 3).map((n) => ({ name: { baseType: BaseType.STRING, value: n } })),
      },
    });
    const listed = await new ThingProvisioner(c, { templateName: TEMPLATE, pageSize: 3 }).listThings();
    assert.deepEqual(listed, ours.slice(0, 3));
    assert.equal(services(server).length, 2, 'second page brought nothing new: stop');
  });

  it('lists with the name column only, and halves a page the platform refuses as too large or leaves unanswered', async () => {
    await fx.cleanup();
    server = await fx.server({ maxMessageSize: 40000 });
    client = fx.client(server, { requestTimeoutMs: 300 });
    client.start();
    await client.whenConnected();
    server.addConnectorTemplate(TEMPLATE);
    const names = devEuis(3000);
    server.addThings(names, TEMPLATE);
    let ignored = 0;
    server.interceptor = (msg) => {
      const maxItems = msg.body.params?.rows[0]?.maxItems?.value;
      // A page of 2000 goes unanswered (a Connection Server that gave up): the request times out.
      if (maxItems === 2000 && ignored++ === 0) return 'ignore';
      return undefined;
    };
    const p = new ThingProvisioner(client, { templateName: TEMPLATE, pageSize: 8000 });
    assert.deepEqual((await p.listThings()).sort(), [...names].sort());
    const asked = server
      .received('request', 'QueryImplementingThingsOptimized')
      .map((e) => (e.msg.kind === 'request' ? e.msg.body.params!.rows[0] : {}));
    // ~21 bytes a name against a 40 000-byte limit: 8000 and 4000 refused (0x8D), 2000 unanswered, 1000 fits.
    const sizes = asked.map((r) => r.maxItems?.value);
    assert.deepEqual(sizes.slice(0, 4), [8000, 4000, 2000, 1000]);
    assert.ok(sizes.slice(3).every((n) => n === 1000));
    assert.ok(sizes.every((n, i) => i === 0 || n === sizes[i - 1] || n === (sizes[i - 1] as number) / 2));
    for (const r of asked) {
      const basic = r.basicPropertyNames;
      assert.equal(basic?.baseType, BaseType.INFOTABLE);
      assert.deepEqual(
        basic.value.rows.map((row: Record<string, { value: unknown }>) => row.item.value),
        ['name'],
      );
    }
    assert.equal(ignored, 1);
  });

  it('creates a Thing (CreateThing, EnableThing, RestartThing) that can then be bound and fed', async () => {
    server.addConnectorTemplate(TEMPLATE);
    const p = new ThingProvisioner(client, { templateName: TEMPLATE });
    await p.createThing('0018B20000000ABC');
    assert.deepEqual(services(server), ['CreateThing', 'EnableThing', 'RestartThing']);
    const t = server.things.get('0018B20000000ABC')!;
    assert.equal(t.template, TEMPLATE);
    assert.equal(t.enabled, true);
    assert.equal(t.restarts, 1);
    assert.deepEqual(await p.listThings(), ['0018B20000000ABC']);
    await client.bind(await p.listThings());
    assert.ok(server.isBound('0018B20000000ABC'));
    await client.pushUplink('0018B20000000ABC', { hello: 1 });
    const dup = await provisioningError(p.createThing('0018B20000000ABC'));
    assert.equal(dup.code, MessageCode.BAD_REQUEST);
    assert.deepEqual(server.violations, []);
  });

  it('works through a pipe pool (EntityServices on pipe 0, Thing services on the Thing pipe)', async () => {
    server.addConnectorTemplate(TEMPLATE);
    const pool = fx.pool(server, { pipeCount: 3 });
    pool.start();
    await pool.whenConnected();
    const p = new ThingProvisioner(pool, { templateName: TEMPLATE });
    assert.equal(await p.ensureTemplate(), 'present');
    for (const n of devEuis(6)) await p.createThing(n);
    const listed = await p.listThings();
    assert.equal(listed.length, 6);
    await pool.bind(listed);
    for (const n of listed) assert.equal(server.connectionOf(n) !== undefined, true);
    assert.deepEqual(server.violations, []);
  });
});
