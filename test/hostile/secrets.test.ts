import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as path from 'path';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { thingparkTime } from '../../lib/thingpark/mapping/downlink';
import { tunnelQueryFor } from '../../lib/thingpark/mapping/token';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';
import { consoleDebug, placed } from './red-process';
import { filesUnder, leakFinder } from './leaks';

/** The configured secrets: none may appear anywhere the package writes. */
const SECRETS = {
  'AS key': 'AsKey-S3cr3t-7f3a9c1e5b2d',
  'WMW password': 'WmwPass-S3cr3t-c4e8a2f6',
  'wrong WMW password': 'WrongPass-S3cr3t-9d1b7e3a',
  'WMW password from ${ENV}': 'EnvPass-S3cr3t-1b2c5d8e',
  'IoT Flow MQTT password': 'IotFlowPass-S3cr3t-6a0f4c2e',
};
const CREDENTIAL_SECRET = 'hostile-credential-secret-0b8e';

const leaks = leakFinder(SECRETS);

const DEV = '70B3D5E75E0053C1';
const ENTERPRISE = 'sec';

describe('secrets: a full run greps everything the package writes for the configured secrets', function () {
  this.timeout(120000);
  let broker: Mosquitto;
  let lrc: FakeLrc;
  let red: NodeRedProcess;
  let platform: mqtt.MqttClient;
  const answers: string[] = [];
  const platformMessages: string[] = [];

  before(async function () {
    if (!hasMosquitto) this.skip();
    broker = new Mosquitto({
      users: {
        'edge-gw': SECRETS['WMW password'],
        'edge-env': SECRETS['WMW password from ${ENV}'],
        iotflow: SECRETS['IoT Flow MQTT password'],
        'wmw-platform': 'platform-pass',
      },
    });
    await broker.start();
    lrc = await new FakeLrc({ asKey: SECRETS['AS key'] }).start();
    platform = await mqtt.connectAsync(broker.url, {
      username: 'wmw-platform',
      password: 'platform-pass',
      reconnectPeriod: 0,
    });
    platform.on('message', (topic, payload) =>
      platformMessages.push(`${topic} ${payload.toString('latin1')}`),
    );
    await platform.subscribeAsync(
      [`uplink_${ENTERPRISE}`, `uplink_${ENTERPRISE}env`, 'mqtt/things/+/downlink'],
      {
        qos: 1,
      },
    );
    process.env.HOSTILE_WMW_PASS = SECRETS['WMW password from ${ENV}'];
    red = new NodeRedProcess([], undefined, {
      credentialSecret: CREDENTIAL_SECRET,
      logging: { console: { level: 'trace' } },
    });
    await red.start();
  });
  after(async () => {
    delete process.env.HOSTILE_WMW_PASS;
    await platform?.endAsync(true);
    await red?.dispose();
    await lrc?.stop();
    await broker?.dispose();
  });

  const wmw = (id: string, enterpriseId: string, clientId: string) => ({
    id,
    type: 'thingpark-wmw',
    region: 'custom',
    hostName: `127.0.0.1:${broker.port}`,
    enterpriseId,
    clientId,
    insecure: true,
    bufferMax: 1000,
    bufferPolicy: 'drop-oldest',
  });

  /** The flow a user would deploy from the editor, credentials included (Node-RED strips and encrypts them). */
  const flows = () =>
    placed([
      { id: 'tab', type: 'tab', label: 'secrets' },
      {
        id: 'net',
        type: 'thingpark-network',
        mode: 'http',
        asId: 'sec.as',
        maxTimeDeviation: 60,
        lrcUrl: lrc.url,
        credentials: { asKey: SECRETS['AS key'] },
      },
      {
        id: 'netMqtt',
        type: 'thingpark-network',
        mode: 'mqtt',
        broker: `127.0.0.1:${broker.port}`,
        protocol: 'tcp',
        clientId: 'sec-iotflow',
        credentials: { username: 'iotflow', password: SECRETS['IoT Flow MQTT password'] },
      },
      {
        ...wmw('wmw', ENTERPRISE, 'sec-gw'),
        credentials: { username: 'edge-gw', password: SECRETS['WMW password'] },
      },
      {
        ...wmw('wmwBad', `${ENTERPRISE}bad`, 'sec-gw-bad'),
        credentials: { username: 'edge-gw', password: SECRETS['wrong WMW password'] },
      },
      {
        ...wmw('wmwEnv', `${ENTERPRISE}env`, 'sec-gw-env'),
        credentials: { username: 'edge-env', password: '${HOSTILE_WMW_PASS}' },
      },
      {
        id: 'up',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'net',
        path: '/sec/uplink',
        wires: [['dbgUp', 'outWmw', 'outBad', 'outEnv', 'toDownlink']],
      },
      {
        id: 'upMqtt',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'netMqtt',
        wires: [['dbgUp', 'toMqttDownlink']],
      },
      consoleDebug('dbgUp', 'uplink'),
      { id: 'outWmw', z: 'tab', type: 'thingpark-wmw-out', wmw: 'wmw', wires: [['dbgStats']] },
      { id: 'outBad', z: 'tab', type: 'thingpark-wmw-out', wmw: 'wmwBad', wires: [['dbgStats']] },
      { id: 'outEnv', z: 'tab', type: 'thingpark-wmw-out', wmw: 'wmwEnv', wires: [['dbgStats']] },
      consoleDebug('dbgStats', 'stats'),
      {
        id: 'stats',
        z: 'tab',
        type: 'inject',
        props: [{ p: 'topic', vt: 'str' }],
        topic: 'stats',
        repeat: '2',
        once: true,
        onceDelay: 1,
        wires: [['outWmw', 'outBad', 'outEnv']],
      },
      {
        id: 'toDownlink',
        z: 'tab',
        type: 'function',
        func: "return { payload: { DevEUI_downlink: { DevEUI: msg.topic, FPort: 5, payload_hex: 'beef' } } };",
        outputs: 1,
        wires: [['dlout']],
      },
      {
        id: 'toMqttDownlink',
        z: 'tab',
        type: 'function',
        func: "return { payload: { DevEUI_downlink: { DevEUI: msg.topic, FPort: 6, payload_hex: 'cafe' } } };",
        outputs: 1,
        wires: [['dloutMqtt']],
      },
      { id: 'dlin', z: 'tab', type: 'thingpark-downlink-in', wmw: 'wmw', wires: [['dlout', 'dbgDlIn']] },
      consoleDebug('dbgDlIn', 'downlink-in'),
      { id: 'dlout', z: 'tab', type: 'thingpark-downlink-out', network: 'net', wires: [['dbgDl']] },
      { id: 'dloutMqtt', z: 'tab', type: 'thingpark-downlink-out', network: 'netMqtt', wires: [['dbgDl']] },
      consoleDebug('dbgDl', 'downlink-result'),
      { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['dbgCaught']] },
      consoleDebug('dbgCaught', 'caught'),
      { id: 'statuses', z: 'tab', type: 'status', scope: null, wires: [['dbgStatus']] },
      consoleDebug('dbgStatus', 'status'),
    ] as Array<Record<string, unknown>>);

  let routeUp = false;
  const until = async (check: () => boolean, what: string, ms = 15000, probe?: () => Promise<void>) => {
    const end = Date.now() + ms;
    for (;;) {
      await probe?.();
      if (check()) return;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${red.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const post = async (query: string, body: string) => {
    const res = await fetch(`${red.url}/sec/uplink?${query}`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    const text = await res.text();
    answers.push(`${res.status} ${text}`);
    return res.status;
  };

  it('runs the whole package with its secrets: uplinks verified, WMW and IoT Flow connected, downlinks signed, a wrong password refused', async () => {
    const deployed = await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flows()),
    });
    assert.equal(deployed.status, 204, await deployed.text());
    // The flows start after the deploy answered: wait for the uplink route.
    await until(
      () => routeUp,
      'the uplink route',
      10000,
      async () => {
        routeUp = (await fetch(`${red.url}/sec/uplink`, { method: 'POST', body: '' })).status !== 404;
      },
    );
    const target = { url: `${red.url}/sec/uplink`, asId: 'sec.as', asKey: SECRETS['AS key'] };
    // Signed uplinks: verified with the AS key, queued to two WMW connections, answered by a downlink each.
    let sent = 0;
    for (let i = 0; i < 3; i++) {
      const res = await postTunnelDocument(target, 'DevEUI_uplink', sampleUplink(DEV, i));
      answers.push(`${res.status} ${res.text}`);
      assert.equal(res.status, 200, res.text);
      sent++;
    }
    // Refused ones: forged, unsigned, stale.
    const body = sampleUplink(DEV, 99);
    const json = JSON.stringify({ DevEUI_uplink: body });
    const good = tunnelQueryFor('DevEUI_uplink', body, {
      asId: 'sec.as',
      asKey: SECRETS['AS key'],
      time: thingparkTime(new Date()),
    });
    assert.equal(await post(good.replace(/Token=[0-9a-f]{6}/, 'Token=ffffff'), json), 401);
    assert.equal(await post(good.replace(/&Token=.*$/, ''), json), 401);
    const stale = tunnelQueryFor('DevEUI_uplink', body, {
      asId: 'sec.as',
      asKey: SECRETS['AS key'],
      time: thingparkTime(new Date(Date.now() - 3600000)),
    });
    assert.equal(await post(stale, json), 403);
    // An IoT Flow uplink over MQTT, answered by a downlink published back over MQTT.
    await platform.publishAsync(
      `mqtt/things/${DEV}/uplink`,
      JSON.stringify({ DevEUI_uplink: sampleUplink(DEV, 50) }),
      { qos: 1 },
    );
    // A downlink from WMW, then one the LRC refuses with 503 three times (an error a Catch node sees).
    await until(() => lrc.received.filter((r) => r.accepted).length >= sent, 'the downlinks of the uplinks');
    await platform.publishAsync(
      `downlink_${ENTERPRISE}`,
      JSON.stringify({
        DevEUI_downlink: { DevEUI: DEV, FPort: 9, payload_hex: '0a0b', CorrelationID: 'SECRET0001' },
      }),
      { qos: 1 },
    );
    await until(
      () => lrc.received.some((r) => r.query.get('CorrelationID') === 'SECRET0001' && r.accepted),
      'the WMW downlink at the LRC',
    );
    lrc.options.failNext = { count: 3, status: 503 };
    await platform.publishAsync(
      `downlink_${ENTERPRISE}`,
      JSON.stringify({
        DevEUI_downlink: { DevEUI: DEV, FPort: 9, payload_hex: '0a0c', CorrelationID: 'SECRET0002' },
      }),
      { qos: 1 },
    );
    await platform.publishAsync(`downlink_${ENTERPRISE}`, 'not json at all', { qos: 1 });

    // Evidence that every secret was really used, each path ran, and what it printed is in the output.
    await until(
      () => platformMessages.filter((m) => m.startsWith(`uplink_${ENTERPRISE} `)).length >= sent,
      'uplinks at WMW',
    );
    await until(
      () => platformMessages.filter((m) => m.startsWith(`uplink_${ENTERPRISE}env `)).length >= sent,
      'uplinks at WMW (env password)',
    );
    await until(
      () => platformMessages.some((m) => m.startsWith(`mqtt/things/${DEV}/downlink `)),
      'the IoT Flow downlink',
    );
    await until(
      () =>
        /\[debug:caught\][\s\S]*WMW connection failed: [^\n]*(Not authorized|Bad user name or password)/.test(
          red.output,
        ),
      'the wrong password reported',
    );
    await until(
      () => /\[debug:caught\][\s\S]*Downlink not sent/.test(red.output),
      'the LRC failure reported',
    );
    await until(
      () => /\[debug:caught\][\s\S]*Invalid downlink from WMW/.test(red.output),
      'the invalid downlink reported',
    );
    await until(() => /\[debug:status\]/.test(red.output), 'status texts');
    await until(() => /\[debug:stats\][\s\S]*lastError/.test(red.output), 'connection statistics');
    await until(() => /\[debug:uplink\][\s\S]*verified: true/.test(red.output), 'a verified uplink');
    assert.ok(
      lrc.received.every((r) => !r.rawQuery.includes(SECRETS['AS key'])),
      'the AS key is not sent to the LRC',
    );

    // What the admin API tells the editor: credentials only as has_<name>.
    for (const [type, id] of [
      ['thingpark-network', 'net'],
      ['thingpark-network', 'netMqtt'],
      ['thingpark-wmw', 'wmw'],
      ['thingpark-wmw', 'wmwBad'],
      ['thingpark-wmw', 'wmwEnv'],
    ]) {
      const res = await fetch(`${red.url}/credentials/${type}/${id}`);
      answers.push(`credentials ${id}: ${res.status} ${await res.text()}`);
    }
    answers.push(`flows: ${await (await fetch(`${red.url}/flows`)).text()}`);

    // A restart: the encrypted credentials still work.
    await red.kill('SIGTERM');
    await red.start();
    // Node-RED answers HTTP before its flows have started: the route is a 404 until then.
    let again = await postTunnelDocument(target, 'DevEUI_uplink', sampleUplink(DEV, 7));
    for (const end = Date.now() + 20000; again.status === 404 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 200));
      again = await postTunnelDocument(target, 'DevEUI_uplink', sampleUplink(DEV, 7));
    }
    answers.push(`${again.status} ${again.text}`);
    assert.equal(again.status, 200, 'the AS key still works after a restart');
    await red.kill('SIGTERM');
  });

  it('no secret appears in the log, debug output, status texts, errors, HTTP answers or the admin API', () => {
    const found = leaks(red.output);
    assert.deepEqual(found, [], `in Node-RED's output:\n${red.output.slice(-3000)}`);
    for (const answer of answers) assert.deepEqual(leaks(answer), [], answer.slice(0, 500));
    assert.deepEqual(leaks(platformMessages.join('\n')), [], 'in what was published to the platforms');
    assert.deepEqual(
      leaks(lrc.received.map((r) => r.rawQuery).join('\n')),
      [],
      'in what was sent to the LRC',
    );
  });

  it('no secret appears in any file of the user directory (flows, queues, settings, runtime config)', () => {
    const files = filesUnder(red.userDir).filter((f) => path.basename(f) !== 'flows_cred.json');
    assert.ok(files.some((f) => path.basename(f) === 'flows.json'));
    assert.ok(
      files.some((f) => f.includes(`${path.sep}thingpark-queues${path.sep}`)),
      'the queues were written',
    );
    for (const file of files) assert.deepEqual(leaks(fs.readFileSync(file)), [], file);
  });

  it('flows_cred.json holds the credentials encrypted, none in clear text', () => {
    const file = path.join(red.userDir, 'flows_cred.json');
    const content = fs.readFileSync(file, 'utf8');
    assert.deepEqual(Object.keys(JSON.parse(content)), ['$'], 'one encrypted blob');
    assert.deepEqual(leaks(content), []);
    assert.ok(!content.includes('${HOSTILE_WMW_PASS}'), 'not even the ${ENV} reference in clear');
  });
});
