/**
 * Regenerates docs/demo-flow.png, the README's picture of the demo: runs `npm start`'s script on free
 * ports, lets uplinks and one downlink flow, and photographs the editor with the Debug sidebar open.
 * `npm run build && node dist/scripts/demo-screenshot.js` (needs /usr/bin/chromium).
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { freePort } from '../testkit/broker';
import { launchChromium } from '../test/helpers/chromium';

const root = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const [port, lrcPort, mqttPort] = [await freePort(), await freePort(), await freePort()];
  const demo = spawn(process.execPath, [path.join(root, 'dist', 'scripts', 'start.js')], {
    env: {
      ...process.env,
      PORT: String(port),
      DEMO_LRC_PORT: String(lrcPort),
      DEMO_MQTT_PORT: String(mqttPort),
      DEMO_UPLINK_MS: '1500',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  try {
    while (!output.includes('ThingPark demo running')) {
      if (demo.exitCode !== null) throw new Error(`the demo stopped:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1500, height: 760 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 30000 });
    await page.click('#red-ui-tab-debug-link-button').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 5000));
    await fetch(`http://127.0.0.1:${port}/inject/0617283940a5b6c7`, { method: 'POST' });
    await new Promise((r) => setTimeout(r, 4000));
    await page.mouse.move(700, 700);
    await page.screenshot({ path: path.join(root, 'docs', 'demo-flow.png') });
    await browser.close();
    console.log('docs/demo-flow.png written');
  } finally {
    demo.kill('SIGINT');
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
