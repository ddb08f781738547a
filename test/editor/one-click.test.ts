import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/chromium';
import { NodeRedProcess } from '../helpers/node-red-process';
import { leakFinder } from '../hostile/leaks';
import { repoRoot } from '../../testkit/paths';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { OSS, ThingParkApiServer } from '../../testkit/thingpark-api-server';

const artifacts = path.join(repoRoot, 'test', 'artifacts');
const CLIENT_ID = 'sa-oneclick';
const CLIENT_SECRET = 'oneclick-S3cret-5d0c7a';
const MQTT_PASSWORD = 'iotflow-S3cret-b27e';

type Red = {
  editor: { editConfig(name: string, type: string, id: string): void };
  nodes: { node(id: string): Record<string, unknown> | null };
};

const describeEditor = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeEditor('"Create in ThingPark" in the ThingPark connection dialog, in a real browser', function () {
  this.timeout(180000);
  let api: ThingParkApiServer;
  let red: NodeRedProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  /** Every answer of the one-click endpoint, as the browser received it. */
  const answers: string[] = [];

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    api = await new ThingParkApiServer({
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      devices: 6,
    }).start();
    red = new NodeRedProcess([], undefined, { credentialSecret: 'one-click-secret' });
    await red.start();
    const deployed = await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify([
        { id: 'tab', type: 'tab', label: 'one click' },
        {
          id: 'acct',
          type: 'thingpark-account',
          name: 'My ThingPark account',
          url: api.url,
          credentials: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
        },
        {
          id: 'net',
          type: 'thingpark-network',
          name: 'To ThingPark',
          mode: 'http',
          maxTimeDeviation: 90,
          lrcUrl: 'http://127.0.0.1:9/x',
        },
        {
          id: 'up',
          z: 'tab',
          x: 200,
          y: 100,
          type: 'thingpark-uplink-in',
          network: 'net',
          path: '/oneclick/uplink',
          wires: [[]],
        },
      ]),
    });
    assert.equal(deployed.status, 204, await deployed.text());
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1100 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('response', (res) => {
      if (res.url().includes('/thingpark/account/call'))
        void res.text().then(
          (text) => answers.push(text),
          () => undefined,
        );
    });
    await page.goto(red.url);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="thingpark-api"]', { timeout: 60000 });
  });

  after(async () => {
    await browser?.close();
    await red?.dispose();
    await api?.stop();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`) });
  const written = () => api.requests.filter((r) => r.method !== 'GET' && r.path.startsWith('/thingpark/'));

  async function openNetwork(id: string): Promise<void> {
    await page.evaluate(
      (nodeId) => (window as unknown as { RED: Red }).RED.editor.editConfig('', 'thingpark-network', nodeId),
      id,
    );
    await page.waitForSelector('#node-config-thingpark-oneclick .thingpark-oneclick-create', {
      state: 'visible',
    });
    // The tray slides in, then Node-RED focuses its first field: wait for that before typing.
    await page.waitForFunction(() => {
      const trays = document.querySelectorAll('.red-ui-tray');
      return trays.length > 0 && document.activeElement?.closest('.red-ui-tray') === trays[trays.length - 1];
    });
  }

  /** Deploys, then waits until the runtime serves flows that satisfy `check` (the button greys out earlier). */
  async function deploy(check: (flows: Array<Record<string, unknown>>) => boolean): Promise<void> {
    await page.click('#red-ui-header-button-deploy');
    const end = Date.now() + 20000;
    while (!check((await (await fetch(`${red.url}/flows`)).json()) as Array<Record<string, unknown>>)) {
      if (Date.now() > end) throw new Error('the deploy did not reach the runtime');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function result(selector: string): Promise<{ state: string; text: string }> {
    const shown = page.locator(`${selector}:not([data-state="busy"])`);
    await shown.waitFor({ state: 'visible', timeout: 20000 });
    await page.waitForFunction(
      (s) => document.querySelector(s)?.getAttribute('data-state') !== 'busy',
      selector,
    );
    return {
      state: (await shown.getAttribute('data-state')) ?? '',
      text: (await shown.textContent())?.trim() ?? '',
    };
  }

  it('Basic HTTPS: shows the request, creates the connection, fills AS ID and key, attaches the chosen devices, deploys', async () => {
    await openNetwork('net');
    assert.deepEqual(await page.locator('#node-config-thingpark-oneclick-account option').allTextContents(), [
      'My ThingPark account',
    ]);
    await page.click('.thingpark-oneclick-create');
    const preview = page.locator('.thingpark-oneclick-preview');
    await preview.waitFor({ state: 'visible' });
    assert.equal(await page.inputValue('.thingpark-oneclick-url'), `${red.url}/oneclick/uplink`);
    await page.fill('.thingpark-oneclick-name', 'Edge gateway 7');
    const shown = (await preview.textContent()) ?? '';
    const [first, ...json] = shown.split('\n');
    assert.equal(first, `POST ${api.url}${OSS}/appServers`);
    const body = JSON.parse(json.join('\n')) as {
      contentType: string;
      destinations: Array<{ addresses: string[] }>;
      downlinkSecurity: { downlinkAsKey: string; maxTimestampDeviation: number; status: string };
      name: string;
    };
    assert.equal(body.contentType, 'jsontyped');
    assert.deepEqual(body.destinations[0].addresses, [`${red.url}/oneclick/uplink`]);
    assert.equal(body.downlinkSecurity.maxTimestampDeviation, 90);
    assert.equal(body.downlinkSecurity.status, 'DOWNLINK_AS_KEY');
    assert.equal(body.name, 'Edge gateway 7');
    const asKey = body.downlinkSecurity.downlinkAsKey;
    assert.match(asKey, /^[0-9A-F]{32}$/);
    await shot('one-click-preview');
    assert.deepEqual(written(), [], 'nothing sent to ThingPark before Send');

    await page.click('.thingpark-oneclick-send');
    assert.equal((await result('.thingpark-oneclick-result')).state, 'ok');
    assert.equal(written().length, 1);
    assert.deepEqual(JSON.parse(written()[0].body), body, 'ThingPark received exactly what was shown');
    const asId = String(api.appServers[0].ID);
    assert.equal(await page.inputValue('#node-config-input-asId'), asId);
    assert.equal(await page.inputValue('#node-config-input-asKey'), asKey);
    assert.match((await preview.textContent()) ?? '', new RegExp(`${asKey}.*shown only this once`));

    // The device picker: two devices chosen, their updates shown, then sent.
    const boxes = page.locator('.thingpark-oneclick-device-list input[type="checkbox"]');
    await boxes.first().waitFor({ state: 'visible' });
    assert.equal(await boxes.count(), 6);
    const euis = [...api.devices.keys()].sort().slice(0, 2);
    api.devices.get(euis[1])!.appServers = [{ ID: 'TWA_OTHER.1.AS' }];
    api.appServers.push({ ID: 'TWA_OTHER.1.AS', name: 'other' });
    for (const eui of euis) await page.check(`#thingpark-oneclick-device-${eui}`);
    await page.click('.thingpark-oneclick-attach');
    const attachPreview = page.locator('.thingpark-oneclick-attach-preview');
    await attachPreview.waitFor({ state: 'visible' });
    const updates = (await attachPreview.textContent()) ?? '';
    assert.ok(updates.includes(`PUT ${api.url}${OSS}/devices/e${euis[0]}`), updates);
    assert.ok(updates.includes(`PUT ${api.url}${OSS}/devices/e${euis[1]}`), updates);
    assert.equal(written().length, 1, 'the updates wait for Send');
    await shot('one-click-attach');
    await page.click('.thingpark-oneclick-attach-send');
    assert.deepEqual(await result('.thingpark-oneclick-attach-result'), {
      state: 'ok',
      text: '2 devices attached',
    });
    assert.deepEqual(api.devices.get(euis[0])!.appServers, [{ ID: asId }]);
    assert.deepEqual(
      api.devices.get(euis[1])!.appServers,
      [{ ID: 'TWA_OTHER.1.AS' }, { ID: asId }],
      'the connection the device had is kept',
    );

    await page.click('#node-config-dialog-ok');
    await page.waitForSelector('#node-config-dialog-ok', { state: 'detached' });
    await deploy((flows) => flows.some((n) => n.id === 'net' && n.asId === asId));
    const creds = await (await fetch(`${red.url}/credentials/thingpark-network/net`)).json();
    assert.deepEqual(creds, { has_asKey: true, username: '', has_password: false });
    // ThingPark signs with the key it was given: the deployed uplink in now verifies it.
    // The flows start after the deploy answered: wait for the route, then post as ThingPark would.
    const target = { url: `${red.url}/oneclick/uplink`, asId, asKey };
    let posted = await postTunnelDocument(target, 'DevEUI_uplink', sampleUplink(euis[0], 1));
    for (let i = 0; posted.status === 404 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      posted = await postTunnelDocument(target, 'DevEUI_uplink', sampleUplink(euis[0], 2 + i));
    }
    assert.equal(posted.status, 200, posted.text);
    const cred = fs.readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8');
    assert.deepEqual(leakFinder({ 'AS key': asKey })(cred), [], 'the key is stored encrypted');
    assert.deepEqual(
      answers.flatMap((a) => leakFinder({ 'AS key': asKey, 'client secret': CLIENT_SECRET })(a)),
      [],
      'no admin answer carries the AS key or the client secret',
    );
    const tokens = [...api.tokens.keys()];
    assert.ok(tokens.length > 0);
    assert.deepEqual(
      answers.filter((a) => tokens.some((t) => a.includes(t))),
      [],
      'nor a token',
    );
  });

  it('IoT Flow: an actility-mqtt-iot connection with our broker and topics, the password masked in what is shown', async () => {
    await page.evaluate(() =>
      (window as unknown as { RED: Red }).RED.editor.editConfig('', 'thingpark-network', ''),
    );
    await page.waitForSelector('#node-config-thingpark-oneclick .thingpark-oneclick-create', {
      state: 'visible',
    });
    await page.waitForFunction(() => {
      const trays = document.querySelectorAll('.red-ui-tray');
      return trays.length > 0 && document.activeElement?.closest('.red-ui-tray') === trays[trays.length - 1];
    });
    await page.selectOption('#node-config-input-mode', 'mqtt');
    await page.fill('#node-config-input-broker', 'edge.example.com:8883');
    await page.fill('#node-config-input-username', 'edge-user');
    await page.fill('#node-config-input-password', MQTT_PASSWORD);
    await page.click('.thingpark-oneclick-create');
    const preview = page.locator('.thingpark-oneclick-preview');
    await preview.waitFor({ state: 'visible' });
    const shown = (await preview.textContent()) ?? '';
    assert.ok(shown.startsWith(`POST ${api.url}/thingpark/dx/core/latest/api/connections\n`), shown);
    assert.ok(!shown.includes(MQTT_PASSWORD), 'the password is not displayed');
    const body = JSON.parse(shown.split('\n').slice(1).join('\n')) as {
      configuration: Record<string, string>;
    };
    assert.deepEqual(body.configuration, {
      uplinkTopicPattern: 'mqtt/things/{DevEUI}/uplink',
      downlinkTopicPattern: 'mqtt/things/{DevEUI}/downlink',
      hostName: 'edge.example.com:8883',
      protocol: 'SSL',
      username: 'edge-user',
      password: '••••',
    });
    await page.click('.thingpark-oneclick-send');
    const done = await result('.thingpark-oneclick-result');
    assert.equal(done.state, 'ok', done.text);
    const sent = JSON.parse(written()[written().length - 1].body) as {
      connectorId: string;
      configuration: Record<string, string>;
    };
    assert.equal(sent.connectorId, 'actility-mqtt-iot');
    assert.equal(sent.configuration.password, MQTT_PASSWORD, 'ThingPark got the real password');
    const server = api.appServers.find(
      (a) => (a.tpxIotFlow as { connectionId?: string } | undefined)?.connectionId === '1114',
    );
    assert.ok(server, 'ThingPark refers to the connection through an application server');
    assert.ok(done.text.includes(String(server.ID)), done.text);
    await page
      .locator('.thingpark-oneclick-device-list input[type="checkbox"]')
      .first()
      .waitFor({ state: 'visible' });
    await shot('one-click-iotflow');
    assert.deepEqual(
      answers.flatMap((a) => leakFinder({ 'MQTT password': MQTT_PASSWORD })(a)),
      [],
    );
    await page.click('#node-config-dialog-cancel');
    await page.waitForSelector('.red-ui-tray', { state: 'detached' });
  });

  it('the account dialog: presets or a base URL of its own, the token URL it implies, "Test connection" gets a token', async () => {
    await page.evaluate(() =>
      (window as unknown as { RED: Red }).RED.editor.editConfig('', 'thingpark-account', ''),
    );
    await page.waitForSelector('#node-config-thingpark-test .thingpark-test-button', { state: 'visible' });
    assert.deepEqual(await page.locator('#node-config-input-urlPreset option').allTextContents(), [
      'community.thingpark.io',
      'thingparkenterprise.eu.actility.com',
      'thingparkenterprise.us.actility.com',
      'thingparkenterprise.au.actility.com',
      'Other (base URL below)',
    ]);
    assert.equal(await page.isVisible('#node-config-input-url'), false, 'a preset needs no URL typed');
    await page.selectOption('#node-config-input-urlPreset', '');
    await page.fill('#node-config-input-url', api.url);
    await page.locator('#node-config-input-url').press('End');
    assert.equal(
      await page.getAttribute('#node-config-input-tokenUrl', 'placeholder'),
      `${api.url}/users-auth/protocol/openid-connect/token`,
    );
    await page.fill('#node-config-input-clientId', CLIENT_ID);
    await page.fill('#node-config-input-clientSecret', 'not-the-secret');
    const verdict = async () => {
      await page.click('#node-config-thingpark-test .thingpark-test-button');
      const shown = page.locator(
        '#node-config-thingpark-test .thingpark-test-result:not([data-result="testing"])',
      );
      await shown.waitFor({ state: 'visible', timeout: 20000 });
      return (await shown.textContent())?.trim();
    };
    assert.equal(await verdict(), 'Not authorised: check the user, password or key (HTTP 401)');
    await page.fill('#node-config-input-clientSecret', CLIENT_SECRET);
    assert.equal(await verdict(), 'Connected: the platform accepted these settings');
    await shot('account-dialog');
    await page.click('#node-config-dialog-cancel');
  });

  it('raised no error in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
