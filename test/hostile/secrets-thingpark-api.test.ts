import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { runtimePackage } from '../helpers/node-red';
import { NodeRedProcess } from '../helpers/node-red-process';
import { ThingParkApiServer } from '../../testkit/thingpark-api-server';
import { filesUnder, leakFinder } from './leaks';
import { consoleDebug, placed } from './red-process';

const CLIENT_ID = 'sa-secrets';
const SECRETS = {
  'client secret': 'ClientSecret-S3cr3t-3e9a71',
  'wrong client secret': 'WrongClient-S3cr3t-c0d4',
  'AS key sent through the one-click': '5F0E3C2A9B8D7E6F1A2B3C4D5E6F7A8B',
  'IoT Flow password sent through the one-click': 'OneClickMqtt-S3cr3t-91fa',
};

describe('secrets: the ThingPark API account and its one-click never show a secret', function () {
  this.timeout(120000);
  let api: ThingParkApiServer;
  let red: NodeRedProcess;
  const answers: string[] = [];

  before(async () => {
    api = await new ThingParkApiServer({
      clientId: CLIENT_ID,
      clientSecret: SECRETS['client secret'],
      devices: 12,
      alarms: 2,
      pageSize: 5,
      tokenLifetimeS: 2,
    }).start();
    // The same service account, its secret given through the environment.
    process.env.HOSTILE_TP_SECRET = SECRETS['client secret'];
    red = new NodeRedProcess([], undefined, {
      credentialSecret: 'api-credential-secret-61d',
      logging: { console: { level: 'trace' } },
    });
    await red.start();
  });
  after(async () => {
    delete process.env.HOSTILE_TP_SECRET;
    await red?.dispose();
    await api?.stop();
  });

  const account = (id: string, secret: string) => ({
    id,
    type: 'thingpark-account',
    url: api.url,
    credentials: { clientId: CLIENT_ID, clientSecret: secret },
  });
  const inject = (id: string, operation: string, payload: unknown, target: string) => ({
    id,
    z: 'tab',
    type: 'inject',
    props: [
      { p: 'payload' },
      { p: 'operation', v: operation, vt: 'str' },
      { p: 'devEUI', v: [...api.devices.keys()][0], vt: 'str' },
    ],
    payload: JSON.stringify(payload),
    payloadType: 'json',
    once: true,
    onceDelay: 0.5,
    wires: [[target]],
  });

  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${red.url}${route}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    answers.push(`${route} ${res.status} ${text}`);
    return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
  };

  /** Whether a log entry of the debug node `name` holds every marker (each entry on its own). */
  const debugged = (name: string, ...markers: string[]) =>
    red.output
      .split(/\n(?=\d+ \w+ \d\d:\d\d:\d\d - )/)
      .some((entry) => entry.includes(`[debug:${name}]`) && markers.every((m) => entry.includes(m)));

  const until = async (check: () => boolean, what: string, ms = 20000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${red.output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('runs listings (tokens renewed), refusals, a wrong secret, the one-click endpoint and the account test', async () => {
    const flows = placed([
      { id: 'tab', type: 'tab', label: 'api secrets' },
      account('acct', SECRETS['client secret']),
      account('acctBad', SECRETS['wrong client secret']),
      account('acctEnv', '${HOSTILE_TP_SECRET}'),
      {
        id: 'net',
        type: 'thingpark-network',
        mode: 'mqtt',
        broker: '127.0.0.1:9',
        protocol: 'tcp',
        credentials: { username: 'u', password: 'stored-net-password' },
      },
      {
        id: 'api',
        z: 'tab',
        type: 'thingpark-api',
        account: 'acct',
        operation: 'msg',
        output: 'pages',
        wires: [['dbgApi']],
      },
      {
        id: 'apiBad',
        z: 'tab',
        type: 'thingpark-api',
        account: 'acctBad',
        operation: 'msg',
        wires: [['dbgApi']],
      },
      {
        id: 'apiEnv',
        z: 'tab',
        type: 'thingpark-api',
        account: 'acctEnv',
        operation: 'msg',
        wires: [['dbgApi']],
      },
      inject('list', 'listDevices', {}, 'api'),
      inject('alarms', 'listDeviceAlarms', {}, 'api'),
      inject('refused', 'createDevice', { connectivity: 'LORAWAN', EUI: 'bad' }, 'api'),
      inject('wrong', 'listDevices', {}, 'apiBad'),
      inject('env', 'getDevice', {}, 'apiEnv'),
      consoleDebug('dbgApi', 'api'),
      { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['dbgCaught']] },
      consoleDebug('dbgCaught', 'caught'),
      { id: 'statuses', z: 'tab', type: 'status', scope: null, wires: [['dbgStatus']] },
      consoleDebug('dbgStatus', 'status'),
    ] as Array<Record<string, unknown>>);
    const deployed = await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flows),
    });
    assert.equal(deployed.status, 204, await deployed.text());
    await until(() => debugged('api', "operation: 'listDevices'", 'page: 3'), 'the three pages of devices');
    await until(() => debugged('api', "operation: 'listDeviceAlarms'", 'status: 200'), 'the alarms');
    await until(() => debugged('caught', "id: 'api'", 'ThingPark answered 400'), 'the refused device');
    await until(
      () => debugged('caught', "id: 'apiBad'", 'ThingPark answered 401: token request refused'),
      'the wrong secret',
    );
    await until(() => debugged('api', "operation: 'getDevice'", 'status: 200'), 'the ${ENV} account working');
    await until(() => debugged('status', "text: 'HTTP 401'"), 'status texts');

    // Tokens live 2 s: a later listing needs a new one.
    await new Promise((r) => setTimeout(r, 2100));
    const page = await post('/thingpark/account/call', { account: 'acct', operation: 'listDevices' });
    assert.equal((page.json.payload as unknown[]).length, 5);
    const created = await post('/thingpark/account/call', {
      account: 'acct',
      operation: 'createHttpConnection',
      payload: {
        name: 'secrets',
        contentType: 'jsontyped',
        destinations: [
          { addresses: ['https://edge.example.com/thingpark/uplink'], ports: '*', strategy: 'SEQUENTIAL' },
        ],
        downlinkSecurity: {
          downlinkAsKey: SECRETS['AS key sent through the one-click'],
          maxTimestampDeviation: 120,
          status: 'DOWNLINK_AS_KEY',
        },
      },
    });
    assert.equal(created.json.ok, true);
    assert.match(String(created.json.asId), /\.AS$/);
    assert.equal(
      (created.json.payload as { downlinkSecurity: { downlinkAsKey: string } }).downlinkSecurity
        .downlinkAsKey,
      '***',
    );
    const iotFlow = await post('/thingpark/account/call', {
      account: 'acct',
      network: 'net',
      operation: 'createIotFlowConnection',
      payload: {
        connectorId: 'actility-mqtt-iot',
        name: 'secrets',
        configuration: {
          uplinkTopicPattern: 'mqtt/things/{DevEUI}/uplink',
          downlinkTopicPattern: 'mqtt/things/{DevEUI}/downlink',
          hostName: 'edge.example.com:8883',
          protocol: 'SSL',
          username: 'u',
          password: SECRETS['IoT Flow password sent through the one-click'],
        },
      },
    });
    assert.equal(iotFlow.json.ok, true);
    // The placeholder of an unchanged password: the network node's stored one is sent, and not shown.
    const stored = await post('/thingpark/account/call', {
      account: 'acct',
      network: 'net',
      operation: 'createIotFlowConnection',
      payload: {
        connectorId: 'actility-mqtt-iot',
        name: 'stored',
        configuration: {
          uplinkTopicPattern: 'a',
          downlinkTopicPattern: 'b',
          hostName: 'h:1',
          protocol: 'SSL',
          username: 'u',
          password: '__PWRD__',
        },
      },
    });
    assert.equal(stored.json.ok, true);
    assert.equal((api.connections[1].configuration as { password: string }).password, 'stored-net-password');
    assert.ok(!JSON.stringify(stored.json).includes('stored-net-password'));
    const refused = await post('/thingpark/account/call', { account: 'acctBad', operation: 'listDevices' });
    assert.equal(refused.json.ok, false);
    const notAllowed = await post('/thingpark/account/call', {
      account: 'acct',
      operation: 'deleteDevice',
      devEUI: '70B3D5E75E100000',
    });
    assert.equal(notAllowed.status, 400, 'only the one-click operations');
    const wrongType = await post('/thingpark/account/call', { account: 'net', operation: 'listDevices' });
    assert.equal(wrongType.status, 404);
    for (const credentials of [
      { clientId: CLIENT_ID, clientSecret: SECRETS['client secret'] },
      { clientId: CLIENT_ID, clientSecret: '__PWRD__' },
    ]) {
      const tested = await post('/thingpark/account/test', {
        id: 'acct',
        config: { url: api.url },
        credentials,
      });
      assert.equal(tested.json.ok, true, JSON.stringify(tested.json));
    }
    const wrong = await post('/thingpark/account/test', {
      id: 'x',
      config: { url: api.url },
      credentials: { clientId: CLIENT_ID, clientSecret: SECRETS['wrong client secret'] },
    });
    assert.equal(wrong.json.code, 'not-authorised');
    for (const id of ['acct', 'acctBad', 'acctEnv']) {
      const res = await fetch(`${red.url}/credentials/thingpark-account/${id}`);
      answers.push(`credentials ${id}: ${res.status} ${await res.text()}`);
    }
    answers.push(`flows: ${await (await fetch(`${red.url}/flows`)).text()}`);
    assert.ok(api.tokens.size >= 3, `tokens were renewed (${api.tokens.size})`);
    await red.kill('SIGTERM');
  });

  it('no secret, and no token, in the log, debug output, status, errors, admin answers or the user directory', () => {
    const tokens = Object.fromEntries([...api.tokens.keys()].map((t, i) => [`access token ${i + 1}`, t]));
    const leaks = leakFinder({ ...SECRETS, ...tokens });
    assert.deepEqual(leaks(red.output), [], `in Node-RED's output:\n${red.output.slice(-3000)}`);
    for (const answer of answers) assert.deepEqual(leaks(answer), [], answer.slice(0, 500));
    const files = filesUnder(red.userDir).filter((f) => path.basename(f) !== 'flows_cred.json');
    assert.ok(files.some((f) => path.basename(f) === 'flows.json'));
    for (const file of files) assert.deepEqual(leaks(fs.readFileSync(file)), [], file);
    assert.deepEqual(
      leaks(fs.readFileSync(path.join(red.userDir, 'flows_cred.json'))),
      [],
      'credentials encrypted',
    );
  });
});

describe('the one-click admin endpoint needs thingpark-account.write (adminAuth)', function () {
  this.timeout(60000);
  let red: NodeRedProcess;
  before(async () => {
    const editorApi = path.dirname(
      require.resolve('@node-red/editor-api/package.json', {
        paths: [path.dirname(require.resolve(`${runtimePackage}/package.json`))],
      }),
    );
    const bcrypt = require(require.resolve('bcryptjs', { paths: [editorApi] })) as {
      hashSync(password: string, rounds: number): string;
    };
    red = new NodeRedProcess([], undefined, {
      adminAuth: {
        type: 'credentials',
        users: [{ username: 'viewer', password: bcrypt.hashSync('viewer-pass', 4), permissions: 'read' }],
        default: { permissions: 'read' },
      },
    });
    await red.start();
  });
  after(() => red?.dispose());

  it('refuses a caller who may only read, before looking at the account', async () => {
    for (const route of ['/thingpark/account/call', '/thingpark/account/test']) {
      const res = await fetch(`${red.url}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ account: 'acct', operation: 'listDevices' }),
      });
      assert.equal(res.status, 401, route);
    }
  });
});
