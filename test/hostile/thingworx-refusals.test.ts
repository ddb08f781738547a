import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { BaseType, MessageCode, parseJsonValue, type RequestMessage } from '../../lib/thingworx';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { collect, helper, servingHttpNodes, waitFor } from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const thingworxNode = require(nodeFile('thingworx'));
const thingworxOutNode = require(nodeFile('thingworx-out'));

const APP_KEY = 'refusals-twx-app-key';
const TPL = 'ThingParkDeviceTemplate';
const TIME = '2024-05-01T10:00:00.000+00:00';
const DEVICES = ['0018B20000000A01', '0018B20000000A02', '0018B20000000A03', '0018B20000000A04'];
/** Deliveries pending at once per device (the ThingWorx queue keeps one): the most a lost answer can repeat. */
const IN_FLIGHT_PER_DEVICE = 1;

type Msg = Record<string, unknown>;

/** The FCntUp of the uplink an UpdateSubscribedPropertyValues carries, if it carries one. */
function fCntUpOf(msg: RequestMessage): number | undefined {
  const values = msg.body.params?.rows[0]?.values;
  if (!values || values.baseType !== BaseType.INFOTABLE) return undefined;
  for (const row of values.value.rows) {
    if (row.name?.value !== 'uplinkData') continue;
    const doc = parseJsonValue(row.value) as { DevEUI_uplink?: { FCntUp: number } } | undefined;
    if (doc?.DevEUI_uplink) return doc.DevEUI_uplink.FCntUp;
  }
  return undefined;
}

describe('ThingWorx refusing: auth revoked (0x81, then HTTP 401), per-message refusals (0x80), a missing permission (0x83), busy (0xA3) — counted in and out', function () {
  this.timeout(120000);
  let server: AlwaysOnTestServer;
  let userDir: string;
  /** Uplinks the platform accepted (0x40), as `<Thing>/<FCntUp>`, in order. */
  let accepted: string[];
  let caught: Msg[];

  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-twx-refusals-'));
    helper.settings({ userDir });
    server = await new AlwaysOnTestServer({ appKey: APP_KEY }).start();
    server.addConnectorTemplate(TPL);
    server.addThings(DEVICES, TPL);
    accepted = [];
    server.on('request', (_conn: number, msg: RequestMessage, code: number) => {
      const fCntUp = fCntUpOf(msg);
      if (code === MessageCode.SUCCESS && fCntUp !== undefined)
        accepted.push(`${msg.body.entityName}/${fCntUp}`);
    });
    await helper.load(
      servingHttpNodes([thingworxNode, thingworxOutNode]),
      [
        { id: 'tab', type: 'tab', label: 'refusals' },
        {
          id: 'twx',
          type: 'thingpark-thingworx',
          hostName: `127.0.0.1:${server.port}`,
          thingTemplateName: TPL,
          thingNamePrefix: '',
          pipeCount: 2,
          allowInsecure: true,
          bufferMax: 10000,
          bufferPolicy: 'drop-oldest',
        },
        { id: 'out', z: 'tab', type: 'thingpark-thingworx-out', thingworx: 'twx', wires: [[]] },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ],
      { twx: { applicationKey: APP_KEY } },
    );
    caught = collect(helper.getNode('caught'));
    await waitFor(() => connection().client.state === 'connected', 15000, 'ThingWorx connected');
  });
  afterEach(async () => {
    await helper.unload();
    await server.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const connection = () => helper.getNode('twx').connection;
  const errors = () => caught.map((c) => String((c.error as { message: string }).message));
  let nextFCnt = 0;
  /** Sends `perDevice` uplinks to each device, interleaved; returns what was sent as `<Thing>/<FCntUp>`. */
  const send = (perDevice: number): string[] => {
    const sent: string[] = [];
    for (let i = 0; i < perDevice; i++) {
      const fCnt = nextFCnt++;
      for (const dev of DEVICES) {
        helper
          .getNode('out')
          .receive({ payload: { DevEUI_uplink: { ...sampleUplink(dev, fCnt), Time: TIME } } });
        sent.push(`${dev}/${fCnt}`);
      }
    }
    return sent;
  };
  /** Each uplink sent arrived at least once, and in order per device; returns how many arrived twice. */
  const assertAllDelivered = (sent: string[]): number => {
    const counts = new Map<string, number>();
    for (const a of accepted) counts.set(a, (counts.get(a) ?? 0) + 1);
    const missing = sent.filter((s) => !counts.has(s));
    assert.deepEqual(missing, [], 'every uplink sent was accepted by the platform');
    for (const dev of DEVICES) {
      const firsts = [...new Set(accepted.filter((a) => a.startsWith(`${dev}/`)))].map((a) =>
        Number(a.split('/')[1]),
      );
      assert.deepEqual(
        firsts,
        [...firsts].sort((x, y) => x - y),
        `order of ${dev}`,
      );
    }
    return [...counts.values()].reduce((n, c) => n + c - 1, 0);
  };

  it('auth revoked mid-stream, then restored: the refusal is reported and shown, nothing is dropped, every uplink delivered once more at most per device', async () => {
    const sent = send(10);
    await waitFor(() => accepted.length === sent.length, 10000, 'the first uplinks');
    const reconnectsBefore = connection().client.reconnects;

    // The key is revoked: the open sessions get 0x81, a new connection is refused at the upgrade.
    server.appKey = 'a-key-nobody-has';
    sent.push(...send(10));
    await waitFor(() => errors().some((e) => /UNAUTHORIZED \(0x81\)/.test(e)), 10000, 'the 0x81 reported');
    await waitFor(() => server.counters.upgradesRefused > 0, 10000, 'a reconnect refused');
    await waitFor(
      () => errors().some((e) => /WebSocket upgrade refused: HTTP 401/.test(e)),
      10000,
      '401 reported',
    );
    assert.ok(
      errors().every((e) => /^ThingWorx connection failed: /.test(e)),
      `connection errors only, no message set aside: ${errors().join(' | ')}`,
    );
    assert.notEqual(connection().client.state, 'connected');
    const statusOf = () =>
      helper.getNode('out').status.args.map((a: Array<{ text?: string }>) => a[0]?.text ?? '');
    await waitFor(() => statusOf().some((t: string) => /queued/.test(t)), 5000, 'status shows the queue');
    const stats = connection().stats();
    assert.equal(stats.poisoned, 0, 'nothing set aside');
    assert.ok(stats.queued > 0, 'the refused uplinks wait in the queue');
    sent.push(...send(5));

    // Restored: everything goes through.
    server.appKey = APP_KEY;
    sent.push(...send(5));
    await waitFor(() => connection().stats().queued === 0, 40000, 'the queue drained');
    assert.ok(connection().client.reconnects > reconnectsBefore, 'it reconnected');
    const duplicates = assertAllDelivered(sent);
    assert.ok(
      duplicates <= DEVICES.length * IN_FLIGHT_PER_DEVICE,
      `${duplicates} duplicates, at most one in flight per device when the session was refused`,
    );
    const after = connection().stats();
    assert.equal(after.poisoned, 0);
    assert.equal(after.deadLetters, 0);
    assert.deepEqual(server.violations, []);
  });

  it('per-message refusals go to the dead letters with the reason (Catch) and do not hold up the device; a busy platform is retried', async () => {
    const busy = new Set<string>();
    server.interceptor = (msg: RequestMessage) => {
      const fCnt = fCntUpOf(msg);
      if (fCnt === undefined) return undefined;
      const thing = msg.body.entityName;
      if (fCnt % 10 === 7)
        return { code: MessageCode.BAD_REQUEST, reason: 'property uplinkData: value refused' };
      if (fCnt % 10 === 5 && !busy.has(`${thing}/${fCnt}`)) {
        busy.add(`${thing}/${fCnt}`);
        return { code: MessageCode.SERVICE_UNAVAILABLE, reason: 'try again later' };
      }
      return undefined;
    };
    const sent = send(20);
    await waitFor(
      () => {
        const s = connection().stats();
        return s.queued === 0 && s.delivered + s.poisoned === sent.length;
      },
      30000,
      'every uplink delivered or set aside',
    );
    const refused = sent.filter((s) => Number(s.split('/')[1]) % 10 === 7);
    const stats = connection().stats();
    assert.equal(stats.poisoned, refused.length);
    assert.equal(stats.delivered, sent.length - refused.length);
    assert.ok(stats.retries >= busy.size, `the busy answers were retried (${stats.retries})`);
    assert.equal(busy.size, DEVICES.length * 2, 'every busy refusal happened');

    // In: sent. Out: accepted by the platform once each, or set aside with the platform's reason.
    const kept = sent.filter((s) => !refused.includes(s));
    assert.equal(assertAllDelivered(kept), 0, 'no duplicates without a lost connection');
    assert.deepEqual(
      accepted.filter((a) => refused.includes(a)),
      [],
      'nothing refused was taken',
    );
    const dead = await connection().queue.deadLetters();
    assert.deepEqual(
      dead
        .map(
          (d: { key: string; body: { document: { DevEUI_uplink: { FCntUp: number } } } }) =>
            `${d.key}/${d.body.document.DevEUI_uplink.FCntUp}`,
        )
        .sort(),
      [...refused].sort(),
    );
    for (const d of dead as Array<{
      body: { document: { DevEUI_uplink: { FCntUp: number } } };
      error: string;
    }>) {
      assert.match(d.error, /BAD_REQUEST \(0x80\): property uplinkData/);
    }
    await waitFor(() => caught.length === refused.length, 5000, 'one Catch-able error per refusal');
    for (const message of errors()) {
      assert.match(
        message,
        /^The platform refused a message of 0018B20000000A0\d for good; it was set aside: POST Things\/0018B20000000A0\d\/Services\/UpdateSubscribedPropertyValues failed: BAD_REQUEST \(0x80\): \S/,
      );
    }
    assert.equal(connection().client.reconnects, 0, 'the connection stayed up');
    assert.deepEqual(server.violations, []);
  });

  it('a missing permission (0x83) on one Thing keeps its uplinks queued and reported once, the others flow; once permitted, all arrive in order and nothing is set aside', async () => {
    const forbidden = DEVICES[0];
    let permitted = false;
    let refusals = 0;
    server.interceptor = (msg: RequestMessage) => {
      if (permitted || msg.body.entityName !== forbidden || fCntUpOf(msg) === undefined) return undefined;
      refusals++;
      return { code: MessageCode.FORBIDDEN, reason: `not permitted to write uplinkData of ${forbidden}` };
    };
    const sent = send(10);
    const others = sent.filter((s) => !s.startsWith(`${forbidden}/`));
    await waitFor(() => others.every((s) => accepted.includes(s)), 15000, 'the other devices delivered');
    await waitFor(() => refusals >= 2, 15000, 'the refused device retried');
    const waiting = connection().stats();
    assert.equal(waiting.queued, 10, "the refused device's uplinks wait in the queue");
    assert.equal(waiting.poisoned, 0, 'nothing set aside');
    assert.deepEqual(
      errors(),
      [
        `ThingWorx refused a message of ${forbidden}; it stays queued and is retried until accepted: ` +
          `POST Things/${forbidden}/Services/UpdateSubscribedPropertyValues failed: FORBIDDEN (0x83): not permitted to write uplinkData of ${forbidden}`,
      ],
      'reported once to Catch, not once per retry',
    );

    permitted = true;
    await waitFor(() => connection().stats().queued === 0, 70000, 'the queue drained once permitted');
    assert.equal(assertAllDelivered(sent), 0, 'no duplicates');
    assert.equal(connection().stats().deadLetters, 0);
    assert.deepEqual(server.violations, []);
  });
});
