import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/chromium';
import { NodeRedProcess } from '../helpers/node-red-process';
import { runtimePackage } from '../helpers/node-red';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { repoRoot } from '../../testkit/paths';
import {
  BaseType,
  EntityType,
  MessageCode,
  parseJsonValue,
  Typed,
  type InfoTable,
} from '../../lib/thingworx';

const APP_KEY = 'sidebar-test-app-key-5f1e9a';
const TPL = 'ThingParkDeviceTemplate';
const DEV_A = '0018B2000000A001';
const DEV_B = '0018B2000000B002';
const REFUSAL =
  'Unable to Invoke Service UpdateSubscribedPropertyValues on 0018B2000000B002 : uplinkData is not bound';

/**
 * The ThingPark sidebar in a real Node-RED (adminAuth: an admin, anonymous users read only) and a real
 * Chromium: an outage of ThingWorx (its application key revoked, then restored), a message the platform
 * refuses for good (0x80, until its administrator fixes the Thing), Resend and Discard, checked at the AlwaysOn test server.
 */
const describeEditor = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeEditor('the ThingPark sidebar (admin endpoints and editor tab)', function () {
  this.timeout(180000);
  let red: NodeRedProcess;
  let server: AlwaysOnTestServer;
  let browser: Browser;
  let refuse = false;
  let adminToken = '';
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  /** UpdateSubscribedPropertyValues of DEV_B refused with BAD_REQUEST while `refuse` is set. */
  const interceptor = (msg: { body: Record<string, unknown> & { entityName: string } }) => {
    const b = msg.body as { entityType: number; entityName: string; characteristicName: string };
    if (refuse && b.characteristicName === 'UpdateSubscribedPropertyValues' && b.entityName === DEV_B)
      return { code: MessageCode.BAD_REQUEST, reason: REFUSAL };
    if (
      b.entityType !== EntityType.THINGTEMPLATES ||
      b.characteristicName !== 'GetInstancePropertyDefinitions'
    )
      return undefined;
    // Not implemented by the strict server: the template's properties, from its store.
    const rows: InfoTable['rows'] = [];
    for (let t = server.templates.get(b.entityName); t; t = server.templates.get(t.base))
      for (const [name, type] of t.properties)
        rows.push({
          name: Typed.string(name),
          description: Typed.string(''),
          baseType: { baseType: BaseType.BASETYPENAME, value: type },
        });
    const dataShape: Array<{ name: string; baseType: number }> = ['name', 'description'].map((name) => ({
      name,
      baseType: BaseType.STRING,
    }));
    dataShape.push({ name: 'baseType', baseType: BaseType.BASETYPENAME });
    return { code: MessageCode.SUCCESS, content: { dataShape, rows } as InfoTable };
  };

  /** FCntUp of the uplink ThingWorx holds now for a Thing (its uplinkData property). */
  const stored = (thing: string): number | undefined => {
    const v = server.value(thing, 'uplinkData');
    return v
      ? (parseJsonValue(v.value) as { DevEUI_uplink: { FCntUp: number } }).DevEUI_uplink.FCntUp
      : undefined;
  };

  type Monitor = {
    connections: Array<{ id: string; state: string; queued: number; deadLetters: number; delivered: number }>;
  };
  const monitor = async (): Promise<Monitor> =>
    (await (await fetch(`${red.url}/thingpark/monitor`)).json()) as Monitor;
  const twx = async () => (await monitor()).connections.find((c) => c.id === 'twx')!;
  const until = async (check: () => Promise<boolean>, what: string, ms = 20000) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${red.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  const uplink = (dev: string, fCntUp: number) =>
    fetch(`${red.url}/thingpark/uplink`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ DevEUI_uplink: sampleUplink(dev, fCntUp) }),
    }).then((r) => assert.equal(r.status, 200));
  /** Refused for good while `refuse` is set: it becomes a dead letter. */
  const deadLetter = async (fCntUp: number) => {
    const before = (await twx()).deadLetters;
    refuse = true;
    await uplink(DEV_B, fCntUp);
    await until(async () => (await twx()).deadLetters >= before + 1, 'a dead letter');
    refuse = false;
  };

  before(async () => {
    server = await new AlwaysOnTestServer({ appKey: APP_KEY }).start();
    server.addConnectorTemplate(TPL);
    server.addThing(DEV_A, TPL);
    server.addThing(DEV_B, TPL);
    server.interceptor = interceptor as never;
    const editorApi = path.dirname(
      require.resolve('@node-red/editor-api/package.json', {
        paths: [path.dirname(require.resolve(`${runtimePackage}/package.json`))],
      }),
    );
    const bcrypt = require(require.resolve('bcryptjs', { paths: [editorApi] })) as {
      hashSync(password: string, rounds: number): string;
    };
    const flows = [
      { id: 'tab', type: 'tab', label: 'sidebar' },
      {
        id: 'net',
        type: 'thingpark-network',
        name: 'LRC',
        mode: 'http',
        asId: 'sidebar.as',
        acceptUnverified: true,
      },
      {
        id: 'up',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'net',
        path: '/thingpark/uplink',
        wires: [['out']],
      },
      { id: 'out', z: 'tab', type: 'thingpark-thingworx-out', thingworx: 'twx', wires: [] },
      {
        id: 'twx',
        type: 'thingpark-thingworx',
        name: 'Plant ThingWorx',
        hostName: `127.0.0.1:${server.port}`,
        thingTemplateName: TPL,
        thingNamePrefix: '',
        pipeCount: 1,
        tls: '',
        allowInsecure: true,
        bufferMax: 100000,
        bufferPolicy: 'drop-oldest',
      },
    ];
    red = new NodeRedProcess(
      flows,
      { twx: { applicationKey: APP_KEY } },
      {
        adminAuth: {
          type: 'credentials',
          users: [{ username: 'admin', password: bcrypt.hashSync('admin-pass', 4), permissions: '*' }],
          default: { permissions: 'read' },
        },
      },
    );
    await red.start();
    const login = await fetch(`${red.url}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-editor',
        grant_type: 'password',
        scope: '*',
        username: 'admin',
        password: 'admin-pass',
      }),
    });
    adminToken = ((await login.json()) as { access_token: string }).access_token;
    assert.ok(adminToken);
    browser = await launchChromium();
    await until(async () => (await twx())?.state === 'connected', 'ThingWorx connected');
  });

  after(async () => {
    await browser?.close();
    await red?.dispose();
    await server?.close();
  });

  /** The editor with the ThingPark tab shown; `admin` logs in, else anonymous (read only). */
  const openEditor = async (admin: boolean, locale = 'en-US'): Promise<Page> => {
    const context = await browser.newContext({ locale, viewport: { width: 1500, height: 900 } });
    contexts.push(context);
    if (admin)
      await context.addInitScript(
        (token) =>
          localStorage.setItem(
            'auth-tokens',
            JSON.stringify({ access_token: token, expires_in: 3600, token_type: 'Bearer' }),
          ),
        adminToken,
      );
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // An exception in an $.ajax callback is no page error: jQuery catches it and warns.
    page.on('console', (m) => {
      if (m.text().startsWith('jQuery.Deferred exception')) pageErrors.push(m.text());
    });
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(red.url);
    await page.waitForSelector('.thingpark-sidebar', { timeout: 60000, state: 'attached' });
    // The tab bar may have folded it into its menu: show it the way the menu does.
    await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 60000 });
    await page.waitForFunction(() => {
      const sel = '.thingpark-sidebar';
      if (!(document.querySelector(sel) as HTMLElement | null)?.offsetParent)
        (window as unknown as { RED: { sidebar: { show(id: string): void } } }).RED.sidebar.show('thingpark');
      return !!(document.querySelector(sel) as HTMLElement | null)?.offsetParent;
    });
    await page
      .waitForSelector('.thingpark-connection[data-id="twx"]', { timeout: 20000 })
      .catch(async (err: Error) => {
        await page.screenshot({ path: path.join(repoRoot, 'test', 'artifacts', 'sidebar-failed.png') });
        throw new Error(`${err.message}\npage errors: ${pageErrors.join('\n')}`);
      });
    return page;
  };
  const card = '.thingpark-connection[data-id="twx"]';

  it('answers the read endpoints to a read-only user, with no secret, and refuses Resend/Discard (401)', async () => {
    await uplink(DEV_A, 1);
    await until(async () => stored(DEV_A) === 1, 'the first uplink delivered');
    await deadLetter(2);
    for (const route of [
      '/thingpark/monitor',
      '/thingpark/monitor/devices',
      '/thingpark/metrics',
      '/thingpark/monitor/connections/twx/dead-letters',
    ]) {
      const res = await fetch(`${red.url}${route}`);
      assert.equal(res.status, 200, route);
      const text = await res.text();
      assert.ok(!text.includes(APP_KEY), `${route} holds no secret`);
    }
    const letters = (await (
      await fetch(`${red.url}/thingpark/monitor/connections/twx/dead-letters`)
    ).json()) as {
      letters: Array<{ device: string; error: string }>;
    };
    assert.equal(letters.letters[0].device, DEV_B);
    assert.match(letters.letters[0].error, /uplinkData is not bound/);
    const devices = (await (await fetch(`${red.url}/thingpark/monitor/devices?filter=a001`)).json()) as {
      devices: Array<{ devEUI: string; connectivity: string; rssi: number; uplinks: unknown[] }>;
    };
    assert.deepEqual(
      devices.devices.map((d) => [d.devEUI, d.connectivity, d.rssi, d.uplinks.length]),
      [[DEV_A, 'LORAWAN', -81, 1]],
    );
    const metrics = await (await fetch(`${red.url}/thingpark/metrics`)).text();
    assert.match(
      metrics,
      /^thingpark_dead_letters\{id="twx",name="Plant ThingWorx",type="thingpark-thingworx",platform="ThingWorx"\} 1$/m,
    );
    assert.match(metrics, /^thingpark_uplinks_total\{id="net",name="LRC",mode="http"\} 2$/m);
    for (const action of ['resend', 'discard']) {
      const res = await fetch(`${red.url}/thingpark/monitor/connections/twx/dead-letters/${action}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ all: true }),
      });
      assert.equal(res.status, 401, action);
    }
    assert.equal((await twx()).deadLetters, 1, 'nothing was done');
    // The admin may: the letter is discarded, never delivered.
    const res = await fetch(`${red.url}/thingpark/monitor/connections/twx/dead-letters/discard`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ all: true }),
    });
    assert.deepEqual(await res.json(), { discarded: 1 });
    assert.equal((await twx()).deadLetters, 0);
    assert.equal(stored(DEV_B), undefined);
  });

  it('shows an outage (queued count, plot points), then a refused message that Resend delivers and Discard removes', async () => {
    // The outage: ThingWorx revokes the key; uplinks wait in the queue.
    server.appKey = 'revoked-for-the-outage';
    for (let n = 10; n < 14; n++) await uplink(DEV_A, n);
    await until(async () => (await twx()).state !== 'connected', 'the connection lost');
    await until(async () => (await twx()).queued === 4, 'four queued');
    const page = await openEditor(true);
    await page.waitForFunction(
      (sel) =>
        document.querySelector(`${sel} .thingpark-queued .thingpark-figure-value`)?.textContent === '4',
      card,
    );
    assert.ok(
      (await page.locator(`${card} .thingpark-series-gauge circle`).count()) >= 1,
      'the plot has points',
    );
    assert.match((await page.locator(`${card} .thingpark-state`).textContent())!, /disconnected|connecting/);
    if (process.env.SIDEBAR_PICTURE) {
      // The README's picture (docs/sidebar-outage.png): the sidebar widened, photographed alone.
      const bar = (await page.locator('#red-ui-sidebar-separator').boundingBox())!;
      await page.mouse.move(bar.x + bar.width / 2, bar.y + 300);
      await page.mouse.down();
      await page.mouse.move(bar.x - 260, bar.y + 300, { steps: 10 });
      await page.mouse.up();
      await new Promise((r) => setTimeout(r, 3500));
      await page.locator('#red-ui-sidebar').screenshot({ path: process.env.SIDEBAR_PICTURE });
    }

    // The key is back: the queue drains, in order.
    server.appKey = APP_KEY;
    await until(async () => (await twx()).queued === 0, 'the queue drained', 60000);
    assert.equal(stored(DEV_A), 13);

    // Refused for good: listed with the platform's reason; Resend delivers it.
    await deadLetter(20);
    const row = page.locator(`${card} .thingpark-dead-letter`);
    await row.first().waitFor({ timeout: 10000 });
    assert.equal(await row.count(), 1);
    assert.equal(await row.locator('.thingpark-dead-device').textContent(), DEV_B);
    assert.match((await row.locator('.thingpark-dead-reason').textContent())!, /uplinkData is not bound/);
    await row.locator('.thingpark-resend').click();
    await until(async () => stored(DEV_B) === 20, 'the resent message at ThingWorx');
    await until(async () => (await twx()).deadLetters === 0, 'the dead letter gone');
    await page.waitForFunction(
      (sel) => document.querySelectorAll(`${sel} .thingpark-dead-letter`).length === 0,
      card,
    );

    // Discard removes one without sending it.
    await deadLetter(21);
    await row.first().waitFor({ timeout: 10000 });
    await row.locator('.thingpark-discard').click();
    await until(async () => (await twx()).deadLetters === 0, 'discarded');
    await page.waitForFunction(
      (sel) => document.querySelectorAll(`${sel} .thingpark-dead-letter`).length === 0,
      card,
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(stored(DEV_B), 20, 'the discarded message never reached ThingWorx');

    // Devices: DevEUI filter, and the RSSI/SNR plot of a device's last uplinks.
    await page.fill('.thingpark-device-filter', 'a001');
    await page.waitForFunction(() => document.querySelectorAll('.thingpark-device').length === 1);
    await page.click(`.thingpark-device[data-deveui="${DEV_A}"]`);
    await page.waitForSelector('.thingpark-device-plot .thingpark-series-rssi circle');
    assert.equal(await page.locator('.thingpark-device-plot .thingpark-series-rssi circle').count(), 5);
    assert.deepEqual(pageErrors, []);
  });

  it('lets a read-only user see the dead letters but not act on them; speaks French', async () => {
    await deadLetter(30);
    const page = await openEditor(false, 'fr-FR');
    const row = page.locator(`${card} .thingpark-dead-letter`);
    await row.first().waitFor({ timeout: 10000 });
    assert.equal(await row.locator('.thingpark-resend').isDisabled(), true);
    assert.equal(await row.locator('.thingpark-discard').isDisabled(), true);
    assert.equal(await page.locator(`${card} .thingpark-resend-all`).isDisabled(), true);
    assert.match((await page.locator('.thingpark-read-only').first().textContent())!, /Lecture seule/);
    assert.equal(await page.locator('.thingpark-sidebar h3').first().textContent(), 'Connexions');
    assert.equal(
      await page.locator(`${card} .thingpark-queued .thingpark-figure-label`).textContent(),
      'En file',
    );
    assert.equal(
      await page.locator(`${card} .thingpark-dead-head span`).textContent(),
      'Messages rejetés (1)',
    );
    // Even called directly from that page, the runtime refuses.
    const status = await page.evaluate(() =>
      fetch('thingpark/monitor/connections/twx/dead-letters/resend', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ all: true }),
      }).then((r) => r.status),
    );
    assert.equal(status, 401);
    assert.equal((await twx()).deadLetters, 1);
    const english = await openEditor(false);
    assert.equal(await english.locator('.thingpark-sidebar h3').first().textContent(), 'Connections');
    assert.equal(
      await english.locator(`${card} .thingpark-dead-head .thingpark-resend-all`).textContent(),
      'Resend all',
    );
    assert.deepEqual(pageErrors, []);
  });
});
