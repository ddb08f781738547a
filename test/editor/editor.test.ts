import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from '../helpers/chromium';
import { AlwaysOnTestServer } from '../../testkit/alwayson-server';
import { refusedPort } from '../../testkit/broker';
import { NodeRedProcess } from '../helpers/node-red-process';
import { repoRoot } from '../../testkit/paths';

const artifacts = path.join(repoRoot, 'test', 'artifacts');
const examplesDir = path.join(repoRoot, 'examples');
const nodeTypes = Object.keys(
  (
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      'node-red': { nodes: object };
    }
  )['node-red'].nodes,
);
const flowNodeTypes = nodeTypes.filter((t) => /-(in|out)$/.test(t));

/** Real Node-RED, real editor in Debian's Chromium, driven by playwright-core. */
const describeEditor = fs.existsSync(CHROMIUM) ? describe : describe.skip;

describeEditor('the editor in a real browser', function () {
  this.timeout(180000);
  let red: NodeRedProcess;
  let browser: Browser;
  let page: Page;
  let thingworx: AlwaysOnTestServer;
  let closedPort: number;
  const pageErrors: string[] = [];
  const APP_KEY = 'twx-editor-app-key-8c1f';

  before(async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    thingworx = await new AlwaysOnTestServer({ appKey: APP_KEY }).start();
    closedPort = await refusedPort();
    red = new NodeRedProcess([], undefined, { credentialSecret: 'editor-test-secret' });
    await red.start();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // Leaving the editor with undeployed changes (reload after a failure) asks first: go on.
    page.on(
      'dialog',
      (dialog) => void (dialog.type() === 'beforeunload' ? dialog.accept() : dialog.dismiss()),
    );
    await page.goto(red.url);
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="thingpark-uplink-in"]', {
      timeout: 60000,
    });
  });

  after(async () => {
    await browser?.close();
    await red?.dispose();
    await thingworx?.close();
  });

  // A failed test may leave a dialog open: start the next one from a fresh editor.
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return;
    await page.reload();
    await page.waitForSelector('.red-ui-palette-node[data-palette-type="thingpark-uplink-in"]', {
      timeout: 60000,
    });
  });

  const shot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`) });

  const countOf = (type: string) =>
    page.evaluate(
      (t) =>
        (
          window as unknown as { RED: { nodes: { filterNodes(f: { type: string }): unknown[] } } }
        ).RED.nodes.filterNodes({
          type: t,
        }).length,
      type,
    );

  /** Drags a node from the palette onto the workspace, as a user does; returns its id. */
  async function dropNode(type: string, x: number, y: number): Promise<string> {
    const before = await countOf(type);
    const paletteNode = page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).first();
    for (let attempt = 0; attempt < 3 && (await countOf(type)) === before; attempt++) {
      await paletteNode.scrollIntoViewIfNeeded();
      const box = (await paletteNode.boundingBox())!;
      const chart = (await page.locator('#red-ui-workspace-chart').boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width, box.y + box.height / 2, { steps: 5 });
      await page.mouse.move(chart.x + x, chart.y + y + attempt * 40, { steps: 20 });
      await page.mouse.up();
      await page.waitForTimeout(300);
    }
    assert.equal(await countOf(type), before + 1, `${type} dropped on the workspace`);
    return page.evaluate((t) => {
      const RED = (
        window as unknown as { RED: { nodes: { filterNodes(f: { type: string }): Array<{ id: string }> } } }
      ).RED;
      const found = RED.nodes.filterNodes({ type: t });
      return found[found.length - 1].id;
    }, type);
  }

  /**
   * Opens a node's dialog and waits until it has slid in: Node-RED appends the tray off screen and
   * slides it in a moment later (tray.js); under load, a click made before that ("+" beside a
   * connection) went to where the button was not yet, and no config dialog opened.
   */
  async function openNode(id: string): Promise<void> {
    await page.locator(`[id="${id}"] .red-ui-flow-node`).dblclick();
    await page.waitForSelector('#node-dialog-ok', { state: 'visible' });
    await trayInPlace(page, '#node-dialog-ok');
  }

  /** Waits until the tray holding `selector` stands at the right edge, its slide over. */
  async function trayInPlace(p: Page, selector: string): Promise<void> {
    await p.waitForFunction((sel) => {
      const tray = document.querySelector(sel)?.closest('.red-ui-tray');
      return !!tray && getComputedStyle(tray).right === '0px';
    }, selector);
  }

  async function closeDialog(): Promise<void> {
    await page.click('#node-dialog-ok');
    await page.waitForSelector('#node-dialog-ok', { state: 'detached' });
  }

  /**
   * Closes the config dialog opened from a node's dialog, and waits until the node's dialog is back in
   * place: Node-RED detaches it while the config dialog is open, appends it again 250 ms after the
   * close and slides it in; a click made while it slides can land beside its buttons.
   */
  async function closeConfigDialog(button: 'ok' | 'cancel'): Promise<void> {
    await page.click(`#node-config-dialog-${button}`);
    await page.waitForSelector('#node-config-dialog-ok', { state: 'detached' });
    await trayInPlace(page, '#node-dialog-ok');
  }

  /** Deploys and waits until the runtime serves a flow that satisfies `check`. */
  async function deploy(check: (flows: Array<Record<string, unknown>>) => boolean): Promise<void> {
    await page.click('#red-ui-header-button-deploy');
    const confirm = page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy');
    const end = Date.now() + 20000;
    for (;;) {
      // An example with settings still to fill in asks to confirm, as it would a user.
      if (await confirm.isVisible()) await confirm.click({ timeout: 2000 }).catch(() => undefined);
      const idle = (await page.locator('#red-ui-header-button-deploy.disabled').count()) > 0;
      // The editor marks itself clean only when the deploy's answer arrives, after the runtime has the
      // flows: wait for that too, or a change made next (an import) would be marked clean with it.
      if (idle && check(await adminFlows()) && !(await editorDirty())) return;
      if (Date.now() > end) {
        await shot('deploy-timeout');
        const notes = await page.locator('.red-ui-notification').allInnerTexts();
        const tabs = (await adminFlows()).filter((n) => n.type === 'tab').map((n) => n.label);
        const dirty = await page.evaluate(() =>
          (window as unknown as { RED: { nodes: { dirty(): boolean } } }).RED.nodes.dirty(),
        );
        throw new Error(
          `deploy did not reach the runtime; the editor says: ${JSON.stringify(notes)}, runtime tabs ${JSON.stringify(tabs)}, dirty ${dirty}`,
        );
      }
      await page.waitForTimeout(200);
    }
  }

  const has =
    (...ids: string[]) =>
    (flows: Array<Record<string, unknown>>) =>
      ids.every((id) => flows.some((n) => n.id === id));

  function editorDirty(): Promise<boolean> {
    return page.evaluate(() =>
      (window as unknown as { RED: { nodes: { dirty(): boolean } } }).RED.nodes.dirty(),
    );
  }

  async function adminFlows(): Promise<Array<Record<string, unknown>>> {
    return (await (await fetch(`${red.url}/flows`)).json()) as Array<Record<string, unknown>>;
  }

  /** What the editor returns of a node's credentials (never a password, only has_<name>). */
  async function adminCredentials(type: string, id: unknown): Promise<unknown> {
    return (await fetch(`${red.url}/credentials/${type}/${String(id)}`)).json();
  }

  function credentialsFile(): string {
    return fs.readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8');
  }

  /**
   * Waits until a connection dialog is fully open: its fields show before Node-RED has loaded the
   * credentials, filled the fields and attached the validation (which ends with our oneditprepare:
   * the test button), and once the tray has slid in Node-RED moves the focus to its first field,
   * which would cut short any typing begun before.
   */
  async function configDialogReady(p: Page): Promise<void> {
    await p.waitForSelector('#node-config-thingpark-test .thingpark-test-button', { state: 'visible' });
    await trayInPlace(p, '#node-config-dialog-ok');
    await p.waitForFunction(() => {
      const active = document.activeElement;
      const trays = document.querySelectorAll('.red-ui-tray');
      return !!active && trays.length > 0 && active.closest('.red-ui-tray') === trays[trays.length - 1];
    });
  }

  /** Types key by key, as a user does: the editor validates the field on every key. */
  async function typeInto(p: Page, selector: string, text: string): Promise<void> {
    await p.fill(selector, '');
    await p.locator(selector).pressSequentially(text);
    assert.equal(await p.inputValue(selector), text, `typed into ${selector}`);
  }

  /**
   * Asserts what the editor says of a field: the message of its tooltip on hover when it is marked
   * invalid, or null when it is valid.
   */
  async function expectFieldError(p: Page, selector: string, expected: string | null): Promise<void> {
    const input = p.locator(selector);
    const state = await input.evaluate((el) => ({
      value: (el as HTMLInputElement).value,
      invalid: el.classList.contains('input-error'),
    }));
    let shown: string | null = null;
    if (state.invalid) {
      await input.hover();
      const tip = p.locator('.red-ui-popover:visible').last();
      await tip.waitFor({ state: 'visible', timeout: 5000 });
      shown = (await tip.textContent())?.trim() ?? '';
      await p.mouse.move(1, 1);
      await tip.waitFor({ state: 'hidden', timeout: 5000 }).catch(() => undefined);
    }
    assert.equal(shown, expected, `${selector} holding ${JSON.stringify(state.value)}`);
  }

  /** Clicks "Test connection" in the open config dialog; resolves with the verdict shown. */
  async function testConnection(p: Page): Promise<{ result: string; text: string }> {
    await p.click('#node-config-thingpark-test .thingpark-test-button');
    const shown = p.locator(
      '#node-config-thingpark-test .thingpark-test-result:not([data-result="testing"])',
    );
    await shown.waitFor({ state: 'visible', timeout: 20000 });
    return {
      result: (await shown.getAttribute('data-result')) ?? '',
      text: (await shown.textContent())?.trim() ?? '',
    };
  }

  /** The title of the topmost editor tray (Node-RED names the node by its paletteLabel there). */
  async function trayTitle(p: Page): Promise<string> {
    return ((await p.locator('.red-ui-tray-titlebar').last().textContent()) ?? '').trim();
  }

  it('shows the ThingPark palette category with every node', async () => {
    for (const type of flowNodeTypes) {
      assert.equal(await page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`).count(), 1, type);
    }
    await shot('palette');
  });

  it('uplink in: dropped, its ThingPark connection added through "+", filled, deployed; credentials encrypted', async () => {
    const id = await dropNode('thingpark-uplink-in', 200, 120);
    await openNode(id);
    await page.fill('#node-input-path', '/edge/uplink');
    await page.click('#node-input-btn-network-add, #node-input-edit-network');
    await configDialogReady(page);
    assert.match(await trayTitle(page), /ThingPark connection/);
    assert.equal(await page.locator('#node-config-input-durability').count(), 0, 'no queue, no durability');
    await page.fill('#node-config-input-name', 'My ThingPark');
    await page.fill('#node-config-input-asId', 'TWA_100.200.AS');
    await page.fill('#node-config-input-asKey', 'super-secret-as-key');
    await page.fill('#node-config-input-maxTimeDeviation', '90');
    await page.selectOption('#node-config-input-lrcPreset', 'community.thingpark.io');
    await shot('network-dialog');
    await closeConfigDialog('ok');
    await page.waitForSelector('#node-input-url:has-text("/edge/uplink")');
    const url = await page.textContent('#node-input-url');
    assert.equal(url, `${red.url}/edge/uplink`);
    await shot('uplink-in-dialog');
    await closeDialog();
    await deploy(has(id));

    const flows = await adminFlows();
    const up = flows.find((n) => n.id === id)!;
    assert.equal(up.path, '/edge/uplink');
    const net = flows.find((n) => n.id === up.network)!;
    assert.equal(net.type, 'thingpark-network');
    assert.equal(net.asId, 'TWA_100.200.AS');
    assert.equal(net.maxTimeDeviation, '90');
    assert.equal(net.lrcUrl, 'https://community.thingpark.io/thingpark/lrc/rest/downlink');
    assert.equal(JSON.stringify(net).includes('super-secret-as-key'), false, 'no secret in the flow');

    const credFile = fs.readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8');
    assert.ok(/^\{\s*"\$":\s*"[0-9a-f]+/.test(credFile), 'flows_cred.json is encrypted');
    assert.equal(credFile.includes('super-secret-as-key'), false);
    const creds = await (await fetch(`${red.url}/credentials/thingpark-network/${String(net.id)}`)).json();
    assert.deepEqual(creds, { has_asKey: true, username: '', has_password: false });

    const unsigned = {
      DevEUI_uplink: { DevEUI: '0018B20000000B20', FPort: 1, FCntUp: 1, payload_hex: '00' },
    };
    const post = await fetch(`${red.url}/edge/uplink`, { method: 'POST', body: JSON.stringify(unsigned) });
    assert.equal(post.status, 401, 'the deployed endpoint checks tokens');
  });

  it('wmw out: WMW connection with region, enterprise id and password, deployed', async () => {
    const id = await dropNode('thingpark-wmw-out', 200, 220);
    await openNode(id);
    await page.click('#node-input-btn-wmw-add, #node-input-edit-wmw');
    await configDialogReady(page);
    await page.selectOption('#node-config-input-region', 'custom');
    await page.fill('#node-config-input-hostName', `127.0.0.1:${closedPort}`);
    await page.fill('#node-config-input-enterpriseId', '4321');
    await page.fill('#node-config-input-username', 'gw-user');
    await page.fill('#node-config-input-password', 'wmw-secret-password');
    await page.fill('#node-config-input-bufferMax', '5000');
    assert.equal(await page.inputValue('#node-config-input-durability'), 'process', 'durability by default');
    assert.deepEqual(await page.locator('#node-config-input-durability option').allTextContents(), [
      'survives a crash of Node-RED',
      'survives losing power',
    ]);
    await page.selectOption('#node-config-input-durability', 'power');
    assert.match(await trayTitle(page), /WMW connection/);
    assert.doesNotMatch(await trayTitle(page), /thingpark-wmw/);
    await shot('wmw-dialog');
    await closeConfigDialog('ok');
    await closeDialog();
    await deploy(has(id));
    const flows = await adminFlows();
    const out = flows.find((n) => n.id === id)!;
    const wmw = flows.find((n) => n.id === out.wmw)!;
    assert.equal(wmw.enterpriseId, '4321');
    assert.equal(wmw.hostName, `127.0.0.1:${closedPort}`);
    assert.equal(wmw.bufferMax, '5000');
    assert.equal(wmw.durability, 'power');
    const creds = await (await fetch(`${red.url}/credentials/thingpark-wmw/${String(wmw.id)}`)).json();
    assert.deepEqual(creds, { username: 'gw-user', has_password: true });
    assert.equal(
      fs.readFileSync(path.join(red.userDir, 'flows_cred.json'), 'utf8').includes('wmw-secret'),
      false,
    );
  });

  it('downlink in and downlink out: dropped, wired to existing connections, deployed', async () => {
    const dlin = await dropNode('thingpark-downlink-in', 200, 320);
    await openNode(dlin);
    const wmwOptions = await page.locator('#node-input-wmw option').allTextContents();
    assert.ok(
      wmwOptions.some((t) => /WMW 4321/.test(t)),
      `WMW connection offered: ${wmwOptions.join(', ')}`,
    );
    await page.selectOption('#node-input-wmw', { label: wmwOptions.find((t) => /WMW 4321/.test(t))! });
    await closeDialog();
    const dlout = await dropNode('thingpark-downlink-out', 450, 320);
    await openNode(dlout);
    const networks = await page.locator('#node-input-network option').allTextContents();
    assert.ok(networks.includes('My ThingPark'), `ThingPark connection offered: ${networks.join(', ')}`);
    await page.selectOption('#node-input-network', { label: 'My ThingPark' });
    await closeDialog();
    await deploy(has(dlin, dlout));
    const flows = await adminFlows();
    assert.ok(flows.find((n) => n.id === dlin)!.wmw, 'downlink in uses the WMW connection');
    assert.ok(flows.find((n) => n.id === dlout)!.network, 'downlink out uses the ThingPark connection');
    await shot('flow');
  });

  it('cumulocity out: Cumulocity connection through "+", fields checked as typed, tabs, deployed', async () => {
    const id = await dropNode('thingpark-cumulocity-out', 200, 420);
    await openNode(id);
    await page.click('#node-input-btn-cumulocity-add');
    await configDialogReady(page);
    assert.match(await trayTitle(page), /Cumulocity connection/);
    await page.fill('#node-config-input-name', 'My Cumulocity');
    await typeInto(page, '#node-config-input-hostName', 'c8y.example.com:99999');
    await expectFieldError(page, '#node-config-input-hostName', 'The port must be a number from 1 to 65535');
    await typeInto(page, '#node-config-input-hostName', `127.0.0.1:${closedPort}`);
    await expectFieldError(page, '#node-config-input-hostName', null);
    await typeInto(page, '#node-config-input-tenantId', 't 42');
    await expectFieldError(page, '#node-config-input-tenantId', "Only letters, digits, '-' and '_'");
    await typeInto(page, '#node-config-input-tenantId', '${C8Y_TENANT}');
    await expectFieldError(page, '#node-config-input-tenantId', null);
    await typeInto(page, '#node-config-input-tenantId', 't4242');
    await page.fill('#node-config-input-username', 'c8y-user');
    await page.fill('#node-config-input-password', 'c8y-secret-password');
    await page.check('#node-config-input-insecure');
    await page.click('#red-ui-tab-thingpark-cumulocity-tab-gateway a');
    await page.fill('#node-config-input-gatewayId', 'edge-gateway-7');
    await typeInto(page, '#node-config-input-maxChildren', '0');
    await expectFieldError(page, '#node-config-input-maxChildren', 'Expected a whole number of at least 1');
    await typeInto(page, '#node-config-input-maxChildren', '500');
    await page.click('#red-ui-tab-thingpark-cumulocity-tab-delivery a');
    await page.selectOption('#node-config-input-successOn', 'queued');
    await page.fill('#node-config-input-bufferMax', '2000');
    await shot('cumulocity-dialog');
    await closeConfigDialog('ok');
    await page.uncheck('#node-input-type-BS_alarm');
    await closeDialog();
    await deploy(has(id));

    const flows = await adminFlows();
    const out = flows.find((n) => n.id === id)!;
    assert.equal((out.types as string[]).includes('BS_alarm'), false);
    assert.equal((out.types as string[]).includes('DevEUI_uplink'), true);
    const c8y = flows.find((n) => n.id === out.cumulocity)!;
    assert.deepEqual(
      [c8y.type, c8y.name, c8y.hostName, c8y.tenantId, c8y.insecure],
      ['thingpark-cumulocity', 'My Cumulocity', `127.0.0.1:${closedPort}`, 't4242', true],
    );
    assert.deepEqual(
      [c8y.gatewayId, c8y.maxChildren, c8y.successOn, c8y.bufferMax],
      ['edge-gateway-7', '500', 'queued', '2000'],
    );
    assert.equal(c8y.durability, 'process', 'durability left at its default');
    assert.equal(JSON.stringify(c8y).includes('c8y-secret'), false, 'no secret in the flow');
    assert.deepEqual(await adminCredentials('thingpark-cumulocity', c8y.id), {
      username: 'c8y-user',
      has_password: true,
    });
    assert.ok(/^\{\s*"\$":\s*"[0-9a-f]+/.test(credentialsFile()), 'flows_cred.json is encrypted');
    assert.equal(credentialsFile().includes('c8y-secret'), false);
  });

  it('thingworx out: ThingWorx connection through "+", "Test connection" in the dialog, deployed', async () => {
    const id = await dropNode('thingpark-thingworx-out', 200, 520);
    await openNode(id);
    await page.click('#node-input-btn-thingworx-add');
    await configDialogReady(page);
    assert.match(await trayTitle(page), /ThingWorx connection/);
    assert.equal(await page.inputValue('#node-config-input-durability'), 'process');
    await page.fill('#node-config-input-name', 'My ThingWorx');
    await page.fill('#node-config-input-hostName', `127.0.0.1:${thingworx.port}`);
    await page.check('#node-config-input-allowInsecure');
    await page.fill('#node-config-input-applicationKey', 'not-the-key');
    const refused = await testConnection(page);
    assert.deepEqual(refused, {
      result: 'fail',
      text: 'Not authorised: check the user, password or key (401)',
    });
    await page.fill('#node-config-input-applicationKey', APP_KEY);
    const accepted = await testConnection(page);
    assert.deepEqual(accepted, { result: 'ok', text: 'Connected: the platform accepted these settings' });
    await shot('thingworx-dialog');
    await typeInto(page, '#node-config-input-pipeCount', '300');
    await expectFieldError(page, '#node-config-input-pipeCount', 'Expected a whole number from 1 to 255');
    await typeInto(page, '#node-config-input-pipeCount', '2');
    await page.fill('#node-config-input-thingNamePrefix', 'tp-');
    await closeConfigDialog('ok');
    await closeDialog();
    await deploy(has(id));

    const flows = await adminFlows();
    const out = flows.find((n) => n.id === id)!;
    const twx = flows.find((n) => n.id === out.thingworx)!;
    assert.deepEqual(
      [twx.type, twx.name, twx.hostName, twx.pipeCount, twx.thingNamePrefix, twx.allowInsecure],
      ['thingpark-thingworx', 'My ThingWorx', `127.0.0.1:${thingworx.port}`, '2', 'tp-', true],
    );
    assert.equal(JSON.stringify(twx).includes(APP_KEY), false, 'no secret in the flow');
    assert.deepEqual(await adminCredentials('thingpark-thingworx', twx.id), { has_applicationKey: true });
    assert.equal(credentialsFile().includes(APP_KEY), false);

    // Opened again, the key field holds a placeholder: the test uses the stored key.
    await openNode(id);
    await page.click('#node-input-btn-thingworx-edit');
    await configDialogReady(page);
    assert.equal(await page.inputValue('#node-config-input-applicationKey'), '__PWRD__');
    assert.deepEqual(await testConnection(page), {
      result: 'ok',
      text: 'Connected: the platform accepted these settings',
    });
    await closeConfigDialog('cancel');
    await page.click('#node-dialog-cancel');
    await page.waitForSelector('#node-dialog-ok', { state: 'detached' });
  });

  it('codec: the per-device drivers list is edited in the dialog, checked, deployed and shown again', async () => {
    const id = await dropNode('thingpark-codec', 200, 440);
    await openNode(id);
    const rows = page.locator('#node-input-drivers-container > li');
    const add = page.locator('.thingpark-codec-drivers .red-ui-editableList-addButton');
    await add.click();
    await add.click();
    assert.equal(await rows.count(), 2);
    const first = rows.nth(0);
    await first.locator('.thingpark-driver-model').fill('ACME-T1/2');
    await first.locator('.thingpark-driver-from').fill('0018B20000000000');
    await first.locator('.thingpark-driver-to').fill('0018B2FFFFFFFFFX');
    await first.locator('.thingpark-driver-source').selectOption('module');
    await first.locator('.thingpark-driver-ref').fill('acme-driver');
    await first.locator('.thingpark-driver-format').selectOption('iotflow');
    const second = rows.nth(1);
    await second.locator('.thingpark-driver-model').fill('42');
    await second.locator('.thingpark-driver-source').selectOption('inline');
    assert.equal(await second.locator('.thingpark-driver-ref').isVisible(), false, 'no path for inline code');
    await second.locator('.thingpark-driver-code').fill('function decodeUplink(i) { return { data: {} }; }');
    await closeDialog();
    const valid = () =>
      page.evaluate(
        (nodeId) =>
          (window as unknown as { RED: { nodes: { node(i: string): { valid: boolean } } } }).RED.nodes.node(
            nodeId,
          ).valid,
        id,
      );
    assert.equal(await valid(), false, 'a DevEUI that is not 16 hexadecimal digits marks the node invalid');
    await openNode(id);
    await rows.nth(0).locator('.thingpark-driver-to').fill('0018B2FFFFFFFFFF');
    await closeDialog();
    assert.equal(await valid(), true);
    await deploy(has(id));
    const drivers = (await adminFlows()).find((n) => n.id === id)!.drivers;
    assert.deepEqual(drivers, [
      {
        model: 'ACME-T1/2',
        devEUIFrom: '0018B20000000000',
        devEUITo: '0018B2FFFFFFFFFF',
        source: 'module',
        module: 'acme-driver',
        format: 'iotflow',
      },
      {
        model: '42',
        source: 'inline',
        code: 'function decodeUplink(i) { return { data: {} }; }',
        format: 'auto',
      },
    ]);
    await openNode(id);
    assert.equal(await rows.count(), 2, 'shown again');
    assert.equal(await rows.nth(0).locator('.thingpark-driver-ref').inputValue(), 'acme-driver');
    assert.equal(
      await rows.nth(1).locator('.thingpark-driver-code').inputValue(),
      drivers && (drivers as Array<{ code: string }>)[1].code,
    );
    await closeDialog();
  });

  it('in French: the dialog, its validation messages and the test button are translated', async () => {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1600, height: 1000 } });
    const fr = await context.newPage();
    fr.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await fr.goto(red.url);
      await fr.waitForSelector('.red-ui-palette-node[data-palette-type="thingpark-wmw-out"]', {
        timeout: 60000,
      });
      await fr.evaluate(() => {
        const RED = (window as unknown as { RED: { editor: { editConfig(...a: unknown[]): void } } }).RED;
        RED.editor.editConfig('', 'thingpark-wmw', '');
      });
      await configDialogReady(fr);
      assert.equal(
        (await fr.textContent('#node-config-thingpark-test button'))?.trim(),
        'Tester la connexion',
      );
      assert.match(await trayTitle(fr), /Connexion WMW/);
      assert.deepEqual(await fr.locator('#node-config-input-durability option').allTextContents(), [
        'résiste à un plantage de Node-RED',
        'résiste à une coupure de courant',
      ]);
      await typeInto(fr, '#node-config-input-bufferMax', '12x');
      await expectFieldError(fr, '#node-config-input-bufferMax', "Nombre entier d'au moins 1 attendu");
      await typeInto(fr, '#node-config-input-hostName', 'wmw.example.com:0');
      await expectFieldError(fr, '#node-config-input-hostName', 'Le port doit être un nombre de 1 à 65535');
      await fr.fill('#node-config-input-enterpriseId', '');
      await fr.locator('#node-config-input-enterpriseId').press('Backspace');
      await expectFieldError(fr, '#node-config-input-enterpriseId', 'Obligatoire');
      await fr.screenshot({ path: path.join(artifacts, 'wmw-dialog-fr.png') });
    } finally {
      await context.close();
    }
  });

  it('shows help for every node in the sidebar', async () => {
    for (const type of nodeTypes) {
      const help = await page.evaluate(
        (t) =>
          (window as unknown as { RED: { nodes: { getNodeHelp(t: string): string } } }).RED.nodes.getNodeHelp(
            t,
          ),
        type,
      );
      assert.ok(help && help.length > 200, `help for ${type}`);
    }
  });

  for (const file of fs.existsSync(examplesDir)
    ? fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json'))
    : []) {
    it(`imports the example "${file}" and deploys it`, async () => {
      const flow = fs.readFileSync(path.join(examplesDir, file), 'utf8');
      const tabLabel = (JSON.parse(flow) as Array<{ type: string; label?: string }>).find(
        (n) => n.type === 'tab',
      )!.label;
      await page.evaluate((json) => {
        const RED = (window as unknown as { RED: { view: { importNodes(n: unknown, o?: unknown): void } } })
          .RED;
        RED.view.importNodes(JSON.parse(json), { generateIds: true, addFlow: true });
      }, flow);
      await deploy((flows) => flows.some((n) => n.type === 'tab' && n.label === tabLabel));
      await shot(`example-${file.replace(/\W+/g, '-')}`);
    });
  }

  it('raised no error in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
