import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { FakeLrc } from '../../testkit/simulator/fake-lrc';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { refusedPort, Mosquitto } from '../../testkit/broker';
import { makeTestCerts, type TestCerts } from '../helpers/certs';
import { coreNode, helper, networkNode, runtimePackage, servingHttpNodes } from '../helpers/node-red';
import { NodeRedProcess } from '../helpers/node-red-process';
import { repoRoot } from '../../testkit/paths';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const wmwNode = require(nodeFile('wmw'));
const cumulocityNode = require(nodeFile('cumulocity'));
const thingworxNode = require(nodeFile('thingworx'));
const tlsNode = coreNode('core/network/05-tls.js');

const RIGHT = 'right-pass-7f3a';
const WRONG = 'wrong-pass-91c2';
const APP_KEY = 'twx-app-key-5d1e';

interface Answer {
  ok: boolean;
  code: string;
  message: string;
  detail?: string;
}

/** POSTs a test request to the admin API of the helper's runtime; returns status and body text. */
async function post(route: string, body: unknown): Promise<{ status: number; text: string; answer: Answer }> {
  const res = await helper.request().post(route).send(body);
  return { status: res.status, text: res.text, answer: JSON.parse(res.text) as Answer };
}

describe('"Test connection" admin endpoints, against a real mosquitto (passwords, TLS) and AlwaysOn server', function () {
  this.timeout(60000);
  let certs: TestCerts;
  let broker: Mosquitto;
  let alwaysOn: AlwaysOnTestServer;
  let lrc: FakeLrc;
  let closedPort: number;
  let userDir: string;

  before(async () => {
    certs = makeTestCerts();
    broker = new Mosquitto({
      users: { 'edge-gw': RIGHT, 't100/c8y-user': RIGHT },
      tls: { certFile: certs.certFile, keyFile: certs.keyFile },
    });
    await broker.start();
    alwaysOn = await new AlwaysOnTestServer({ appKey: APP_KEY }).start();
    lrc = await new FakeLrc({ asKey: 'as-key' }).start();
    closedPort = await refusedPort();
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
    await broker.dispose();
    await alwaysOn.close();
    await lrc.stop();
    fs.rmSync(certs.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-user-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  const tlsConfig = {
    id: 'tls',
    type: 'tls-config',
    cert: '',
    key: '',
    ca: '',
    verifyservercert: true,
    servername: '',
  };
  /** The runtime: a tls-config with the test CA, and stored connections whose secrets are right. */
  const load = () =>
    helper.load(
      servingHttpNodes([tlsNode, networkNode, wmwNode, cumulocityNode, thingworxNode]),
      [
        { ...tlsConfig, ca: certs.caFile },
        { id: 'wmw', type: 'thingpark-wmw', region: 'custom', hostName: 'old.invalid', enterpriseId: '1' },
        { id: 'c8y', type: 'thingpark-cumulocity', hostName: 'old.invalid', tenantId: 't100' },
        { id: 'twx', type: 'thingpark-thingworx', hostName: 'old.invalid' },
        { id: 'net', type: 'thingpark-network', mode: 'mqtt', broker: 'old.invalid' },
      ],
      {
        wmw: { username: 'edge-gw', password: RIGHT },
        c8y: { username: 'c8y-user', password: RIGHT },
        twx: { applicationKey: APP_KEY },
        net: { username: 'edge-gw', password: RIGHT },
      },
    );

  const wmw = (password: string, config: Record<string, unknown> = {}, id = 'new-wmw') => ({
    id,
    config: {
      region: 'custom',
      hostName: `127.0.0.1:${broker.port}`,
      enterpriseId: '42',
      tls: 'tls',
      ...config,
    },
    credentials: { username: 'edge-gw', password },
  });

  describe('WMW (MQTT over TLS)', () => {
    it('right credentials and TLS configuration: ok', async () => {
      await load();
      const { status, answer } = await post('/thingpark/wmw/test', wmw(RIGHT));
      assert.equal(status, 200);
      assert.deepEqual([answer.ok, answer.code], [true, 'ok']);
      assert.equal(answer.message, 'Connected: the platform accepted these settings');
    });

    it('wrong password: not authorised, and the password is not in the answer', async () => {
      await load();
      const { status, text, answer } = await post('/thingpark/wmw/test', wmw(WRONG));
      assert.equal(status, 200);
      assert.deepEqual([answer.ok, answer.code], [false, 'not-authorised']);
      assert.match(answer.message, /^Not authorised/);
      assert.equal(text.includes(WRONG), false);
    });

    it('unchanged password (__PWRD__): the stored one of that connection is used', async () => {
      await load();
      const stored = await post('/thingpark/wmw/test', wmw('__PWRD__', {}, 'wmw'));
      assert.deepEqual([stored.answer.ok, stored.answer.code], [true, 'ok']);
      assert.equal(stored.text.includes(RIGHT), false);
      // Another node's id, or one not deployed: nothing stored to use.
      for (const id of ['net', 'not-deployed']) {
        const other = await post('/thingpark/wmw/test', wmw('__PWRD__', {}, id));
        assert.equal(other.answer.code, 'not-authorised', id);
      }
    });

    it('${ENV} values are resolved', async () => {
      await load();
      process.env.TP_TEST_WMW_HOST = `127.0.0.1:${broker.port}`;
      process.env.TP_TEST_WMW_PASS = RIGHT;
      try {
        const { answer } = await post('/thingpark/wmw/test', {
          ...wmw('${TP_TEST_WMW_PASS}'),
          config: { region: 'custom', hostName: '${TP_TEST_WMW_HOST}', enterpriseId: '42', tls: 'tls' },
        });
        assert.equal(answer.code, 'ok');
      } finally {
        delete process.env.TP_TEST_WMW_HOST;
        delete process.env.TP_TEST_WMW_PASS;
      }
    });

    it('server certificate from an unknown CA (no TLS configuration): TLS error', async () => {
      await load();
      const { answer } = await post('/thingpark/wmw/test', wmw(RIGHT, { tls: '' }));
      assert.deepEqual([answer.ok, answer.code], [false, 'tls']);
      assert.match(answer.message, /^TLS error/);
    });

    it('nothing listening: unreachable', async () => {
      await load();
      const { answer } = await post(
        '/thingpark/wmw/test',
        wmw(RIGHT, { hostName: `127.0.0.1:${closedPort}` }),
      );
      assert.deepEqual([answer.ok, answer.code, answer.detail], [false, 'unreachable', 'ECONNREFUSED']);
    });

    it('a TLS configuration not deployed yet, a missing host, a malformed request', async () => {
      await load();
      assert.equal(
        (await post('/thingpark/wmw/test', wmw(RIGHT, { tls: 'new-tls' }))).answer.code,
        'tls-config',
      );
      const noHost = await post('/thingpark/wmw/test', wmw(RIGHT, { hostName: '' }));
      assert.deepEqual([noHost.answer.code, noHost.answer.detail], ['incomplete', 'Host name']);
      const bad = await post('/thingpark/wmw/test', { config: 'x' });
      assert.deepEqual([bad.status, bad.answer.code], [400, 'invalid']);
    });
  });

  describe('Cumulocity (MQTT, user <tenant>/<user>)', () => {
    const c8y = (password: string, id = 'new-c8y') => ({
      id,
      config: { hostName: `127.0.0.1:${broker.port}`, tenantId: 't100', tls: 'tls', insecure: false },
      credentials: { username: 'c8y-user', password },
    });

    it('right, wrong and stored password', async () => {
      await load();
      assert.equal((await post('/thingpark/cumulocity/test', c8y(RIGHT))).answer.code, 'ok');
      const wrong = await post('/thingpark/cumulocity/test', c8y(WRONG));
      assert.equal(wrong.answer.code, 'not-authorised');
      assert.equal(wrong.text.includes(WRONG), false);
      assert.equal((await post('/thingpark/cumulocity/test', c8y('__PWRD__', 'c8y'))).answer.code, 'ok');
    });

    it('a missing tenant is named', async () => {
      await load();
      const body = c8y(RIGHT);
      body.config.tenantId = '';
      const { answer } = await post('/thingpark/cumulocity/test', body);
      assert.deepEqual([answer.code, answer.detail], ['incomplete', 'Tenant ID']);
    });
  });

  describe('ThingWorx (AlwaysOn WebSocket + AUTH)', () => {
    const twx = (key: string, id = 'new-twx', port = alwaysOn.port) => ({
      id,
      config: { hostName: `127.0.0.1:${port}`, allowInsecure: true, tls: '' },
      credentials: { applicationKey: key },
    });

    it('right key: ok (one AUTH accepted), no protocol violation', async () => {
      await load();
      const before = alwaysOn.counters.authOk;
      const { answer } = await post('/thingpark/thingworx/test', twx(APP_KEY));
      assert.deepEqual([answer.ok, answer.code], [true, 'ok']);
      assert.equal(alwaysOn.counters.authOk, before + 1);
      assert.equal(alwaysOn.counters.framesIn > 0, true);
      assert.deepEqual(alwaysOn.violations, []);
    });

    it('wrong key: not authorised, the key not in the answer; the stored key is used when unchanged', async () => {
      await load();
      const wrong = await post('/thingpark/thingworx/test', twx('wrong-key-0000'));
      assert.deepEqual([wrong.answer.ok, wrong.answer.code], [false, 'not-authorised']);
      assert.equal(wrong.text.includes('wrong-key-0000'), false);
      const stored = await post('/thingpark/thingworx/test', twx('__PWRD__', 'twx'));
      assert.equal(stored.answer.code, 'ok');
      assert.equal(stored.text.includes(APP_KEY), false);
    });

    it('nothing listening: unreachable', async () => {
      await load();
      const { answer } = await post('/thingpark/thingworx/test', twx(APP_KEY, 'new-twx', closedPort));
      assert.deepEqual([answer.code, answer.detail], ['unreachable', 'ECONNREFUSED']);
    });

    it('a server that never answers: timeout after about 10 s', async function () {
      const silent = net.createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        await load();
        const started = Date.now();
        const { answer } = await post('/thingpark/thingworx/test', twx(APP_KEY, 'new-twx', port));
        const took = Date.now() - started;
        assert.deepEqual([answer.ok, answer.code], [false, 'timeout']);
        assert.ok(took >= 9500 && took < 15000, `answered after ${took} ms`);
      } finally {
        silent.close();
      }
    });
  });

  describe('ThingPark connection', () => {
    it('MQTT mode: right, wrong and stored password', async () => {
      await load();
      const body = (password: string, id = 'new-net') => ({
        id,
        config: { mode: 'mqtt', broker: `127.0.0.1:${broker.port}`, protocol: 'ssl', tls: 'tls' },
        credentials: { username: 'edge-gw', password },
      });
      assert.equal((await post('/thingpark/network/test', body(RIGHT))).answer.code, 'ok');
      assert.equal((await post('/thingpark/network/test', body(WRONG))).answer.code, 'not-authorised');
      assert.equal((await post('/thingpark/network/test', body('__PWRD__', 'net'))).answer.code, 'ok');
    });

    it('HTTP mode: the LRC URL answers (reachable), or nothing listens (unreachable)', async () => {
      await load();
      const http = (lrcUrl: string) => ({
        id: 'new-net',
        config: { mode: 'http', lrcUrl, tls: '' },
        credentials: {},
      });
      const up = await post('/thingpark/network/test', http(`${lrc.url}?AS_ID=x&Token=secret-token-1`));
      assert.deepEqual([up.answer.ok, up.answer.code], [true, 'reachable']);
      assert.match(up.answer.detail ?? '', /^HTTP \d{3}$/);
      assert.equal(up.text.includes('secret-token-1'), false);
      const down = await post('/thingpark/network/test', http(`http://127.0.0.1:${closedPort}/lrc`));
      assert.deepEqual([down.answer.ok, down.answer.code], [false, 'unreachable']);
    });
  });
});

describe('"Test connection" admin endpoints need the node type\'s write permission (adminAuth)', function () {
  this.timeout(60000);
  let red: NodeRedProcess;
  const body = { id: 'x', config: { region: 'custom', hostName: '', enterpriseId: '1' }, credentials: {} };

  before(async () => {
    // bcryptjs, as Node-RED's editor API uses it to check passwords.
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
        users: [{ username: 'admin', password: bcrypt.hashSync('admin-pass', 4), permissions: '*' }],
        // Anyone may look: reading the flows works without a login, testing a connection does not.
        default: { permissions: 'read' },
      },
    });
    await red.start();
  });
  after(() => red?.dispose());

  const post = (route: string, token?: string) =>
    fetch(`${red.url}${route}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('refuses an anonymous (read-only) call with 401, answers a logged-in admin', async () => {
    for (const kind of ['wmw', 'cumulocity', 'thingworx', 'network']) {
      assert.equal((await post(`/thingpark/${kind}/test`)).status, 401, kind);
    }
    const login = await fetch(`${red.url}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-admin',
        grant_type: 'password',
        scope: '*',
        username: 'admin',
        password: 'admin-pass',
      }),
    });
    assert.equal(login.status, 200);
    const { access_token: token } = (await login.json()) as { access_token: string };
    const res = await post('/thingpark/wmw/test', token);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      ok: false,
      code: 'incomplete',
      message: 'Missing value (Host name)',
      detail: 'Host name',
    });
  });
});
