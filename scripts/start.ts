/**
 * `npm start`: a local Node-RED on 127.0.0.1:1880 with this package, a fresh user directory, the demo
 * flow deployed, a simulator standing in for ThingPark (signed uplinks in, an LRC for downlinks) and an
 * embedded MQTT broker standing in for the platform.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { FakeLrc } from '../testkit/simulator/fake-lrc';
import { sampleUplink } from '../testkit/simulator/sample-documents';
import { postTunnelDocument } from '../testkit/simulator/uplink-poster';
import { ThingParkApiServer } from '../testkit/thingpark-api-server';

const root = path.resolve(__dirname, '..', '..');
const userDir = path.join(root, '.demo');
const port = Number(process.env.PORT) || 1880;
const base = `http://127.0.0.1:${port}`;
const AS_KEY = 'demo-as-key-0123456789';
const DEVICES = ['70B3D5E75E000001', '70B3D5E75E000002', '70B3D5E75E000003'];
const LRC_PORT = Number(process.env.DEMO_LRC_PORT) || 1881;
const UPLINK_EVERY_MS = Number(process.env.DEMO_UPLINK_MS) || 5000;
const MQTT_PORT = Number(process.env.DEMO_MQTT_PORT) || 1883;
const API_PORT = Number(process.env.DEMO_API_PORT) || 1882;
/** The ThingPark API simulator's service account (examples/ThingPark devices and alarms.json uses it). */
const API_ACCOUNT = { clientId: 'demo-service-account', clientSecret: 'demo-client-secret' };

// aedes is an ES module; TypeScript's CommonJS output would turn a plain import() into require().
const importEsm = new Function('specifier', 'return import(specifier)') as (s: string) => Promise<unknown>;

/** The platform's stand-in: an in-process MQTT broker (aedes) on 127.0.0.1. */
async function startPlatformBroker(): Promise<{ stop(): Promise<void> }> {
  const { Aedes } = (await importEsm('aedes')) as typeof import('aedes');
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle as (socket: net.Socket) => void);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`port ${MQTT_PORT} is taken: stop the MQTT broker there or set DEMO_MQTT_PORT`)
          : err,
      ),
    );
    server.listen(MQTT_PORT, '127.0.0.1', () => resolve());
  });
  return {
    stop: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
      }),
  };
}

function prepareUserDir(): void {
  fs.rmSync(userDir, { recursive: true, force: true });
  const link = path.join(userDir, 'node_modules', '@thingpark-edge', 'node-red-connectors');
  fs.mkdirSync(path.dirname(link), { recursive: true });
  fs.symlinkSync(root, link, 'dir');
  fs.copyFileSync(path.join(root, 'scripts', 'demo-settings.js'), path.join(userDir, 'settings.js'));
  fs.writeFileSync(path.join(userDir, 'flows.json'), '[]');
}

async function waitForEditor(timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${base}/flows`, { headers: { 'Node-RED-API-Version': 'v2' } });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`Node-RED did not start on ${base}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function deployDemo(): Promise<void> {
  const flow = JSON.parse(
    fs.readFileSync(path.join(root, 'examples', 'Demo - simulated ThingPark.json'), 'utf8'),
  ) as Array<Record<string, unknown>>;
  // The ThingPark API tab, its account pointed at the simulator.
  flow.push(
    ...(JSON.parse(
      fs.readFileSync(path.join(root, 'examples', 'ThingPark devices and alarms.json'), 'utf8'),
    ) as Array<Record<string, unknown>>),
  );
  for (const node of flow) {
    if (node.type === 'thingpark-account') {
      node.url = `http://127.0.0.1:${API_PORT}`;
      node.credentials = API_ACCOUNT;
    }
    if (node.type === 'thingpark-network') {
      node.credentials = { asKey: AS_KEY };
      node.lrcUrl = String(node.lrcUrl).replace(':1881/', `:${LRC_PORT}/`);
    } else if (node.type === 'thingpark-wmw') {
      node.hostName = `127.0.0.1:${MQTT_PORT}`;
    } else if (node.type === 'mqtt-broker') {
      node.port = String(MQTT_PORT);
    }
  }
  const res = await fetch(`${base}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify(flow),
  });
  if (!res.ok) throw new Error(`deploying the demo flow failed: ${res.status} ${await res.text()}`);
}

async function main(): Promise<void> {
  prepareUserDir();
  const uplinkTarget = { url: `${base}/thingpark/uplink`, asId: 'demo.as', asKey: AS_KEY };
  const platform = await startPlatformBroker();
  const lrc = await new FakeLrc({ asKey: AS_KEY, reportTo: uplinkTarget }).start(LRC_PORT);
  const thingparkApi = await new ThingParkApiServer({
    ...API_ACCOUNT,
    devices: DEVICES.map((EUI, i) => ({ EUI, name: `Demo sensor ${i + 1}` })),
    alarms: 2,
  }).start(API_PORT);
  const red = spawn(
    process.execPath,
    [require.resolve('node-red/red.js'), '-u', userDir, '-s', path.join(userDir, 'settings.js')],
    {
      stdio: 'inherit',
      cwd: root,
    },
  );
  let stopping = false;
  const stop = (code = 0) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    red.kill('SIGINT');
    const exited = new Promise((resolve) => (red.exitCode === null ? red.once('exit', resolve) : resolve(0)));
    void Promise.allSettled([lrc.stop(), thingparkApi.stop(), exited.then(() => platform.stop())]).finally(
      () => process.exit(code),
    );
  };
  red.on('exit', (code) => stop(code ?? 0));
  process.on('SIGINT', () => stop());
  process.on('SIGTERM', () => stop());

  await waitForEditor(60000);
  await deployDemo();
  console.log(`\n  ThingPark demo running: open ${base}/ and the Debug sidebar.`);
  console.log(
    `  Simulated uplinks every ${UPLINK_EVERY_MS / 1000} s from ${DEVICES.length} devices; LRC simulator on 127.0.0.1:${LRC_PORT};`,
  );
  console.log(`  platform broker (embedded MQTT) on 127.0.0.1:${MQTT_PORT};`);
  console.log(`  ThingPark API simulator on 127.0.0.1:${API_PORT} (tab "ThingPark devices and alarms").\n`);

  let fCnt = 0;
  const timer = setInterval(() => {
    const devEUI = DEVICES[fCnt % DEVICES.length];
    fCnt++;
    postTunnelDocument(uplinkTarget, 'DevEUI_uplink', sampleUplink(devEUI, fCnt)).then(
      (res) => res.status !== 200 && console.warn(`simulator: uplink refused ${res.status} ${res.text}`),
      (err: Error) => !stopping && console.warn(`simulator: ${err.message}`),
    );
  }, UPLINK_EVERY_MS);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
