import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { PlatformDownlink } from '../../lib/connection/platform-client';
import { CumulocityClient } from '../../lib/cumulocity/cumulocity-client';
import type { CumulocityOptions } from '../../lib/cumulocity/options';
import { ack, type QueueEntry } from '../../lib/delivery';
import { Mosquitto } from '../../testkit/broker';
import { FaultRelay } from '../../testkit/fault-relay';
import { repoRoot } from '../../testkit/paths';
import { waitFor } from '../helpers/node-red';
import { CHILD, CHILD_TOPIC, DEVEUI, TIME, loraUplink } from './fixtures';
import { TenantStandIn } from './tenant';

const PACKAGE = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const entry = (body: Record<string, unknown>): QueueEntry<Record<string, unknown>> =>
  ({ key: DEVEUI, body, json: JSON.stringify(body), seq: 1, attempts: 0 }) as QueueEntry<
    Record<string, unknown>
  >;

describe('Cumulocity agent manners against a mosquitto tenant stand-in (heartbeat, 500, lifecycle, old tenants, deleted children, last will)', function () {
  this.timeout(60000);
  let broker: Mosquitto;
  let relay: FaultRelay;
  let tenant: TenantStandIn;
  let client: CumulocityClient | undefined;
  let dir: string;
  let count = 0;
  let gatewayId = '';
  const startup = () =>
    `100,Edge,c8y_ThingParkGateway\n117,60\n122,${PACKAGE.name},${PACKAGE.version}\n` +
    `110,${gatewayId},${PACKAGE.name},${PACKAGE.version}\n500`;

  before(async () => {
    broker = await new Mosquitto().start();
    relay = await new FaultRelay(broker.port).start();
  });
  after(async () => {
    await relay.stop();
    await broker.dispose();
  });
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c8y-agent-'));
    gatewayId = `agent-gw-${++count}`;
    relay.accepting = true;
    tenant = new TenantStandIn();
    await tenant.connect(broker.url);
  });
  afterEach(async () => {
    await client?.stop();
    client = undefined;
    await tenant.end();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const start = (options: Partial<CumulocityOptions> = {}) => {
    client = new CumulocityClient({
      host: '127.0.0.1',
      port: relay.port,
      insecure: true,
      tenantId: 't1',
      username: 'edge',
      gatewayId,
      gatewayName: 'Edge',
      stateDir: dir,
      backoff: { initialMs: 100, maxMs: 300, jitter: 0 },
      childListSettleMs: 200,
      ...options,
    });
    // Connection trouble (the relay's resets) is reported as 'error' events: expected here.
    client.on('error', () => undefined);
    client.start();
    return client;
  };
  const connected = (c: CumulocityClient) => waitFor(() => c.state === 'connected', 10000, 'connected');
  const gatewayLines = () => tenant.lines('s/us');

  it('heartbeat 125 at the configured interval, only while connected; after a reconnect the startup comes first', async () => {
    const c = start({ heartbeatIntervalMs: 250 });
    await connected(c);
    await waitFor(() => gatewayLines().filter((l) => l === '125').length >= 3, 5000, 'three heartbeats');
    assert.deepEqual(gatewayLines().slice(0, 8), [...startup().split('\n'), '105', '125', '125']);

    relay.accepting = false;
    relay.reset();
    await waitFor(() => c.state !== 'connected', 5000, 'disconnected');
    tenant.records.length = 0;
    await sleep(800); // three heartbeat intervals without a connection
    relay.accepting = true;
    await connected(c);
    await waitFor(() => gatewayLines().filter((l) => l === '125').length >= 1, 5000, 'heartbeat again');
    // Nothing was kept from the outage: the connection's first lines are the startup, then 105, then 125.
    const lines = gatewayLines().filter((l) => !l.startsWith('400,c8y_ConnectionEvent'));
    assert.deepEqual(lines.slice(0, 7), [...startup().split('\n'), '105', '125']);
  });

  it('the MQTT last will marks the lost connection on the gateway (400 c8y_ConnectionEvent)', async () => {
    const c = start();
    await connected(c);
    await waitFor(() => gatewayLines().includes('105'), 5000, 'startup done');
    relay.reset();
    await waitFor(
      () => gatewayLines().includes('400,c8y_ConnectionEvent,"Device connection was lost."'),
      5000,
      'last will',
    );
    await connected(c);
  });

  it('500 on every connect: an operation created while disconnected is executed once after reconnect, not again on the next', async () => {
    const c = start();
    const downlinks: PlatformDownlink[] = [];
    c.on('downlink', (d: PlatformDownlink) => downlinks.push(d));
    await connected(c);
    await waitFor(() => gatewayLines().includes('105'), 5000, 'startup done');

    relay.accepting = false;
    relay.reset();
    await waitFor(() => c.state !== 'connected', 5000, 'disconnected');
    // Created in the UI while the gateway is away: only the 500 of the next connect brings it.
    tenant.createOperation('7001', CHILD, '0a0b:5');
    relay.accepting = true;
    await waitFor(() => downlinks.length === 1, 10000, 'operation after reconnect');
    assert.deepEqual(
      {
        devEUI: downlinks[0].request.devEUI,
        fPort: downlinks[0].request.fPort,
        hex: downlinks[0].request.payloadHex,
      },
      { devEUI: DEVEUI, fPort: 5, hex: '0a0b' },
    );
    // Still PENDING in the tenant (not yet handed to ThingPark): the next 500 brings it again.
    relay.reset();
    await waitFor(() => gatewayLines().filter((l) => l === '500').length === 3, 10000, 'third 500');
    await sleep(500);
    assert.equal(downlinks.length, 1, 'executed once');
    assert.deepEqual(
      gatewayLines().filter((l) => /^(100|117|500),?/.test(l)),
      ['100,Edge,c8y_ThingParkGateway', '117,60', '500', '100,Edge,c8y_ThingParkGateway', '117,60', '500',
        '100,Edge,c8y_ThingParkGateway', '117,60', '500'], // prettier-ignore
    );

    // Refused by ThingPark with a long reason: 504 first (never EXECUTING), the reason cut to 500 bytes.
    c.downlinkResult(downlinks[0].ref, { status: 'rejected', reason: 'x'.repeat(700) });
    await waitFor(() => tenant.lines(CHILD_TOPIC).length === 2, 5000, 'status lines');
    const reason = `Refused by ThingPark: ${'x'.repeat(700)}`.slice(0, 500);
    assert.deepEqual(tenant.lines(CHILD_TOPIC), ['504,7001', `505,7001,"${reason}"`]);
  });

  it('an old tenant refusing 201 and 504-506 on s/e: warned once, then 200 measurements and 501-503 statuses on this connection', async () => {
    tenant.oldTenant = true;
    const c = start();
    const warnings: string[] = [];
    const platformErrors: string[] = [];
    c.on('warning', (err: Error) => warnings.push(err.message));
    c.on('platform-error', (_topic: string, text: string) => platformErrors.push(text));
    const downlinks: PlatformDownlink[] = [];
    c.on('downlink', (d: PlatformDownlink) => downlinks.push(d));
    await connected(c);

    assert.deepEqual(await c.deliver(entry(loraUplink())), ack());
    await waitFor(() => warnings.length === 1, 5000, 'fallback warning');
    assert.match(
      warnings[0],
      /refused template 201 .*older than 10\.18.*200 and operation statuses as 501-503/,
    );
    await c.deliver(entry(loraUplink()));
    // The platform took the first uplink's 201 lines only to refuse them; the second goes as 200.
    const lines = tenant.lines(CHILD_TOPIC).filter((l) => /^20[01],/.test(l));
    assert.deepEqual(lines, [
      '201,c8y_SignalStrength,2024-01-01T10:00:00.000+00:00,c8y_SignalStrength,rssi,-60,dBm,c8y_SignalStrength,snr,9.5,dB,c8y_SignalStrength,sf,7,',
      '201,c8y_ThingParkMeasurement,2024-01-01T10:00:00.000+00:00,temperature,temperature,21.5,°C,nested,humidity,40,',
      `200,c8y_SignalStrength,rssi,-60,dBm,${TIME}`,
      `200,c8y_SignalStrength,snr,9.5,dB,${TIME}`,
      `200,c8y_SignalStrength,sf,7,,${TIME}`,
      `200,temperature,temperature,21.5,°C,${TIME}`,
      `200,nested,humidity,40,,${TIME}`,
    ]);

    tenant.createOperation('7100', CHILD, '0c');
    relay.reset(); // reconnect: the 500 brings the operation
    await waitFor(() => downlinks.length === 1, 10000, 'operation');
    // (the 114 refresh of the reconnect may come in between: only the status lines are compared)
    const statusLines = () => tenant.lines(CHILD_TOPIC).filter((l) => l.startsWith('50'));
    c.downlinkResult(downlinks[0].ref, {
      status: 'queued',
      CorrelationID: downlinks[0].request.correlationId,
    });
    await waitFor(() => statusLines().length === 1, 5000, '501');
    await c.deliver(
      entry({
        DevEUI_downlink_Sent: {
          DevEUI: DEVEUI,
          Time: TIME,
          DeliveryStatus: 1,
          FCntDn: 3,
          CorrelationID: downlinks[0].request.correlationId,
        },
      }),
    );
    assert.deepEqual(statusLines(), ['501,c8y_Command', '503,c8y_Command,"sent by ThingPark, FCntDn 3"']);
    await sleep(300);
    assert.equal(warnings.length, 1, `reported once: ${warnings.join(' / ')}`);
    assert.deepEqual(platformErrors, [], 'the refusals are the warning, not errors each');
  });

  it('a reconnect within the child list settle time: the late 106 of the new connection still registers a deleted child again', async () => {
    const c = start({ childListSettleMs: 1000 });
    await connected(c);
    await waitFor(() => tenant.lines('s/us').includes('105'), 5000, 'first 105');
    await c.deliver(entry(loraUplink()));
    await waitFor(() => tenant.children.has(CHILD), 5000, 'child created');
    tenant.children.delete(CHILD);
    tenant.records.length = 0;
    // The first connection's settle timer is still running; the new connection's answer comes after it.
    tenant.childListDelayMs = 1500;
    relay.reset();
    await waitFor(() => tenant.lines('s/us').includes('105'), 5000, 'asked again');
    await waitFor(() => tenant.lines('s/us').some((l) => l.startsWith('101,')), 6000, 'registered again');
    assert.deepEqual(
      tenant.lines('s/us').filter((l) => l.startsWith('101,')),
      [`101,${CHILD},"LoRa ${DEVEUI}",c8y_ThingParkLoRaDevice`],
    );
  });

  it('a child deleted in Cumulocity is registered again, whole, when the 106 answer no longer lists it', async () => {
    const c = start();
    await connected(c);
    await c.deliver(entry(loraUplink()));
    await waitFor(() => tenant.children.has(CHILD), 5000, 'child created');
    assert.deepEqual(
      tenant.lines('s/us').filter((l) => l.startsWith('101,')),
      [`101,${CHILD},"LoRa ${DEVEUI}",c8y_ThingParkLoRaDevice`],
    );
    // The uplink's measurements reach the tenant after the broker's PUBACK: in before the records are cleared.
    await waitFor(
      () => tenant.lines(CHILD_TOPIC).filter((l) => l.startsWith('201,')).length === 2,
      5000,
      'measurements',
    );
    tenant.children.delete(CHILD); // deleted in the UI
    tenant.records.length = 0;
    relay.reset(); // next connect: 114 refresh, then 105
    await waitFor(() => tenant.lines('s/us').some((l) => l.startsWith('101,')), 10000, 'registered again');
    await waitFor(() => tenant.lines(CHILD_TOPIC).includes('117,1440'), 5000, 'child lines');
    assert.deepEqual(
      tenant.lines('s/us').filter((l) => !l.startsWith('400,c8y_ConnectionEvent')),
      [...startup().split('\n'), '105', `101,${CHILD},"LoRa ${DEVEUI}",c8y_ThingParkLoRaDevice`],
    );
    assert.deepEqual(tenant.lines(CHILD_TOPIC), [
      '114,c8y_Command,c8y_LoRaDownlink',
      `110,${DEVEUI}`,
      '114,c8y_Command,c8y_LoRaDownlink',
      '117,1440',
    ]);
    // Listed again: the next check registers nothing.
    tenant.records.length = 0;
    relay.reset();
    await waitFor(() => tenant.lines('s/us').includes('105'), 10000, 'checked again');
    await sleep(600);
    assert.deepEqual(
      tenant.lines('s/us').filter((l) => l.startsWith('101,')),
      [],
    );
  });

  it('an active alarm whose severity changes is updated with 305, not re-raised as an ignored duplicate', async () => {
    const c = start();
    await connected(c);
    const alarm = (state: number) =>
      entry({
        DevEUI_alarm: { DevEUI: DEVEUI, ID: 4, State: state, CreationTime: TIME, LastUpdateTime: TIME },
      });
    await c.deliver(entry(loraUplink()));
    tenant.records.length = 0;
    for (const state of [4, 6, 1]) await c.deliver(alarm(state));
    await waitFor(() => tenant.lines(CHILD_TOPIC).length === 5, 5000, 'alarm lines');
    const text = `"No uplink activity (ThingPark alarm 004)",${TIME}`;
    assert.deepEqual(tenant.lines(CHILD_TOPIC), [
      `303,c8y_ThingParkAlarm_004,${text}`,
      '305,c8y_ThingParkAlarm_004,MINOR',
      `301,c8y_ThingParkAlarm_004,${text}`,
      '305,c8y_ThingParkAlarm_004,CRITICAL',
      '306,c8y_ThingParkAlarm_004',
    ]);
  });
});
