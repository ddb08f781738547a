import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import * as path from 'path';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { MessageCode, Typed } from '../../lib/thingworx';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { hasMosquitto, Mosquitto } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';
import { consoleDebug, placed } from './red-process';
import { filesUnder, leakFinder } from './leaks';

/** The configured secrets of the ThingWorx and Cumulocity connections: none may appear anywhere the package writes. */
const SECRETS = {
  'ThingWorx application key': 'TwxKey-S3cr3t-5e9a1c7d0b',
  'wrong ThingWorx application key': 'TwxWrong-S3cr3t-3b8d0f2a6e',
  'Cumulocity password': 'C8yPass-S3cr3t-8f2e4a6c1d',
  'wrong Cumulocity password': 'C8yWrong-S3cr3t-2c7e9b1d5f',
  'Cumulocity password from ${ENV}': 'C8yEnv-S3cr3t-6d1f3b9e7a',
};
const CREDENTIAL_SECRET = 'hostile-platform-credential-secret-4c2a';
const ENV_NAME = 'HOSTILE_C8Y_PASS';

const leaks = leakFinder(SECRETS);

const DEV = '70B3D5E75E0053D7';
const CHILD = DEV.toLowerCase();
const TENANT = 'tsec';
const TPL = 'ThingParkDeviceTemplate';

describe('secrets of the ThingWorx and Cumulocity connections: a full run greps everything the package writes', function () {
  this.timeout(120000);
  let broker: Mosquitto;
  let twx: AlwaysOnTestServer;
  let red: NodeRedProcess;
  let platform: mqtt.MqttClient;
  const answers: string[] = [];
  const platformMessages: string[] = [];

  before(async function () {
    if (!hasMosquitto) this.skip();
    twx = await new AlwaysOnTestServer({ appKey: SECRETS['ThingWorx application key'] }).start();
    broker = new Mosquitto({
      users: {
        [`${TENANT}/edge`]: SECRETS['Cumulocity password'],
        [`${TENANT}/edge-env`]: SECRETS['Cumulocity password from ${ENV}'],
        'c8y-platform': 'platform-pass',
      },
      extra: ['max_queued_messages 0'],
    });
    await broker.start();
    platform = await mqtt.connectAsync(broker.url, {
      username: 'c8y-platform',
      password: 'platform-pass',
      reconnectPeriod: 0,
    });
    platform.on('message', (topic, payload) =>
      platformMessages.push(`${topic} ${payload.toString('latin1')}`),
    );
    await platform.subscribeAsync(['s/us/#', 'event/events/create'], { qos: 1 });
    process.env[ENV_NAME] = SECRETS['Cumulocity password from ${ENV}'];
    red = new NodeRedProcess([], undefined, {
      credentialSecret: CREDENTIAL_SECRET,
      logging: { console: { level: 'trace' } },
    });
    await red.start();
  });
  after(async () => {
    delete process.env[ENV_NAME];
    await platform?.endAsync(true);
    await red?.dispose();
    await twx?.close();
    await broker?.dispose();
  });

  const thingworx = (id: string) => ({
    id,
    type: 'thingpark-thingworx',
    hostName: `127.0.0.1:${twx.port}`,
    thingTemplateName: TPL,
    thingNamePrefix: '',
    pipeCount: 1,
    allowInsecure: true,
    bufferMax: 1000,
    bufferPolicy: 'drop-oldest',
  });
  const cumulocity = (id: string, gatewayId: string) => ({
    id,
    type: 'thingpark-cumulocity',
    hostName: `127.0.0.1:${broker.port}`,
    tenantId: TENANT,
    insecure: true,
    gatewayId,
    bufferMax: 1000,
    bufferPolicy: 'drop-oldest',
  });
  const outs = ['outTwx', 'outTwxBad', 'outC8y', 'outC8yBad', 'outC8yEnv'];

  /** The flow a user would deploy from the editor, credentials included (Node-RED strips and encrypts them). */
  const flows = () =>
    placed([
      { id: 'tab', type: 'tab', label: 'platform secrets' },
      { ...thingworx('twx'), credentials: { applicationKey: SECRETS['ThingWorx application key'] } },
      { ...thingworx('twxBad'), credentials: { applicationKey: SECRETS['wrong ThingWorx application key'] } },
      {
        ...cumulocity('c8y', 'sec-c8y'),
        credentials: { username: 'edge', password: SECRETS['Cumulocity password'] },
      },
      {
        ...cumulocity('c8yBad', 'sec-c8y-bad'),
        credentials: { username: 'edge', password: SECRETS['wrong Cumulocity password'] },
      },
      {
        ...cumulocity('c8yEnv', 'sec-c8y-env'),
        credentials: { username: 'edge-env', password: `\${${ENV_NAME}}` },
      },
      {
        id: 'uplinks',
        z: 'tab',
        type: 'inject',
        props: [{ p: 'payload' }],
        payload: JSON.stringify([0, 1, 2].map((i) => ({ DevEUI_uplink: sampleUplink(DEV, i) }))),
        payloadType: 'json',
        once: true,
        onceDelay: 1,
        repeat: '',
        wires: [['split']],
      },
      {
        id: 'split',
        z: 'tab',
        type: 'function',
        func: 'return [msg.payload.map((payload) => ({ topic: payload.DevEUI_uplink.DevEUI, payload }))];',
        outputs: 1,
        wires: [[...outs, 'dbgUp']],
      },
      consoleDebug('dbgUp', 'uplink'),
      { id: 'outTwx', z: 'tab', type: 'thingpark-thingworx-out', thingworx: 'twx', wires: [['dbgStats']] },
      {
        id: 'outTwxBad',
        z: 'tab',
        type: 'thingpark-thingworx-out',
        thingworx: 'twxBad',
        wires: [['dbgStats']],
      },
      { id: 'outC8y', z: 'tab', type: 'thingpark-cumulocity-out', cumulocity: 'c8y', wires: [['dbgStats']] },
      {
        id: 'outC8yBad',
        z: 'tab',
        type: 'thingpark-cumulocity-out',
        cumulocity: 'c8yBad',
        wires: [['dbgStats']],
      },
      {
        id: 'outC8yEnv',
        z: 'tab',
        type: 'thingpark-cumulocity-out',
        cumulocity: 'c8yEnv',
        wires: [['dbgStats']],
      },
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
        wires: [outs],
      },
      {
        id: 'dlin',
        z: 'tab',
        type: 'thingpark-downlink-in',
        thingworx: 'twx',
        cumulocity: 'c8y',
        wires: [['dbgDlIn']],
      },
      consoleDebug('dbgDlIn', 'downlink-in'),
      { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['dbgCaught']] },
      consoleDebug('dbgCaught', 'caught'),
      { id: 'statuses', z: 'tab', type: 'status', scope: null, wires: [['dbgStatus']] },
      consoleDebug('dbgStatus', 'status'),
    ] as Array<Record<string, unknown>>);

  const until = async (check: () => boolean, what: string, ms = 20000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${red.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const logged = (pattern: RegExp) => () => pattern.test(red.output);

  it('runs both platforms with their secrets: uplinks delivered, downlinks and refusals of each reported, wrong secrets refused, a restart', async () => {
    const deployed = await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flows()),
    });
    assert.equal(deployed.status, 204, await deployed.text());

    // Uplinks at both platforms: ThingWorx creates the template and the Thing; both Cumulocity gateways publish.
    await until(() => (twx.things.get(DEV)?.updates ?? 0) >= 3, 'the uplinks at ThingWorx');
    const events = () => platformMessages.filter((m) => m.startsWith('event/events/create ')).length;
    await until(() => events() >= 6, 'the uplinks at Cumulocity, from both gateways');

    // Wrong secrets: refused, and said so.
    await until(
      logged(/\[debug:caught\][\s\S]*ThingWorx connection failed: WebSocket upgrade refused: HTTP 401/),
      'the wrong key reported',
    );
    await until(
      logged(
        /\[debug:caught\][\s\S]*Cumulocity connection failed: [^\n]*(Not authorized|Bad user name or password)/,
      ),
      'the wrong password reported',
    );

    // Downlinks from each platform, good and bad, and what Cumulocity reports on s/e.
    assert.equal(
      (await twx.putProperty(DEV, 'downlink', Typed.json({ FPort: 5, payload_hex: 'beef' }))).code,
      MessageCode.SUCCESS,
    );
    assert.equal(
      (await twx.putProperty(DEV, 'downlink', Typed.string('not json'))).code,
      MessageCode.BAD_REQUEST,
    );
    twx.sendFrames(twx.connectionOf(DEV)!, [Buffer.from('garbage frame')]);
    await platform.publishAsync(
      'devicecontrol/notifications',
      JSON.stringify({
        id: '7001',
        status: 'PENDING',
        c8y_Command: { text: 'raw 3 cafe' },
        externalSource: { externalId: CHILD, type: 'c8y_Serial' },
      }),
      { qos: 1 },
    );
    await platform.publishAsync('s/ds', `511,${CHILD},raw 0 zz`, { qos: 1 });
    await platform.publishAsync('s/e', '41,201,Measurement refused', { qos: 1 });
    await until(logged(/\[debug:downlink-in\][\s\S]*platform: 'thingworx'/), 'the ThingWorx downlink');
    await until(logged(/\[debug:downlink-in\][\s\S]*platform: 'cumulocity'/), 'the Cumulocity downlink');
    await until(
      logged(/\[debug:caught\][\s\S]*Invalid downlink from ThingWorx: Thing/),
      'the invalid ThingWorx write',
    );
    await until(logged(/\[debug:caught\][\s\S]*bad frame from the platform/), 'the garbage frame');
    await until(logged(/\[debug:caught\][\s\S]*Invalid downlink from Cumulocity/), 'the invalid operation');
    await until(logged(/\[debug:caught\][\s\S]*Cumulocity reported an error on s\/e/), 'the s/e error');
    await until(logged(/\[debug:status\]/), 'status texts');
    await until(logged(/\[debug:stats\][\s\S]*lastError/), 'connection statistics');

    // What the admin API tells the editor: credentials only as has_<name>.
    for (const [type, id] of [
      ['thingpark-thingworx', 'twx'],
      ['thingpark-thingworx', 'twxBad'],
      ['thingpark-cumulocity', 'c8y'],
      ['thingpark-cumulocity', 'c8yBad'],
      ['thingpark-cumulocity', 'c8yEnv'],
    ]) {
      const res = await fetch(`${red.url}/credentials/${type}/${id}`);
      const text = await res.text();
      answers.push(`credentials ${id}: ${res.status} ${text}`);
      assert.equal(res.status, 200);
      assert.ok(/"has_(applicationKey|password)":true/.test(text), text);
    }
    answers.push(`flows: ${await (await fetch(`${red.url}/flows`)).text()}`);

    // A restart: the encrypted credentials still work.
    const authBefore = twx.counters.authOk;
    const startups = () => platformMessages.filter((m) => m.startsWith('s/us 100,')).length;
    const startupsBefore = startups();
    await red.kill('SIGTERM');
    await red.start();
    await until(() => twx.counters.authOk > authBefore, 'ThingWorx authenticated again after the restart');
    await until(() => startups() >= startupsBefore + 2, 'both Cumulocity gateways connected again');
    await red.kill('SIGTERM');
  });

  it('no secret appears in the log, debug output, status texts, errors or the admin API', () => {
    assert.deepEqual(leaks(red.output), [], `in Node-RED's output:\n${red.output.slice(-3000)}`);
    for (const answer of answers) assert.deepEqual(leaks(answer), [], answer.slice(0, 500));
    assert.deepEqual(leaks(platformMessages.join('\n')), [], 'in what was published to Cumulocity');
    const toThingWorx = (auth: boolean) =>
      twx.log
        .filter((e) => (e.msg.kind === 'auth') === auth)
        .map((e) => JSON.stringify(e.msg))
        .join('\n');
    assert.deepEqual(leaks(toThingWorx(false)), [], 'in what was sent to ThingWorx besides AUTH');
    // The check finds a secret where it belongs: the key in AUTH (the wrong one never got past the upgrade).
    assert.deepEqual(
      [...new Set(leaks(toThingWorx(true)))],
      [`ThingWorx application key (${SECRETS['ThingWorx application key']})`],
    );
  });

  it('no secret appears in any file of the user directory (flows, queues, Cumulocity state, settings)', () => {
    const files = filesUnder(red.userDir).filter((f) => path.basename(f) !== 'flows_cred.json');
    assert.ok(files.some((f) => path.basename(f) === 'flows.json'));
    assert.ok(
      files.some((f) => f.includes(`${path.sep}thingpark-queues${path.sep}`)),
      'the queues were written',
    );
    assert.ok(
      files.some((f) => f.includes(`${path.sep}thingpark-cumulocity${path.sep}`)),
      'the Cumulocity state was written',
    );
    for (const file of files) assert.deepEqual(leaks(fs.readFileSync(file)), [], file);
  });

  it('flows_cred.json holds the credentials encrypted, none in clear text', () => {
    const content = fs.readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8');
    assert.deepEqual(Object.keys(JSON.parse(content)), ['$'], 'one encrypted blob');
    assert.deepEqual(leaks(content), []);
    assert.ok(!content.includes(ENV_NAME), 'not even the ${ENV} reference in clear');
  });
});
