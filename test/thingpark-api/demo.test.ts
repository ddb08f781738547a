import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import WebSocket from 'ws';
import { freePort } from '../../testkit/broker';
import { repoRoot } from '../../testkit/paths';

const example = JSON.parse(
  fs.readFileSync(path.join(repoRoot, 'examples', 'ThingPark devices and alarms.json'), 'utf8'),
) as Array<{ id: string; type: string; name?: string }>;

describe('npm start: the ThingPark API tab works against the simulator, with no account', function () {
  this.timeout(60000);
  let demo: ChildProcess;
  let port = 0;
  let output = '';

  before(async () => {
    const ports = {
      PORT: await freePort(),
      DEMO_LRC_PORT: await freePort(),
      DEMO_MQTT_PORT: await freePort(),
      DEMO_API_PORT: await freePort(),
    };
    port = ports.PORT;
    demo = spawn(process.execPath, [path.join(repoRoot, 'dist', 'scripts', 'start.js')], {
      env: {
        ...process.env,
        ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
        DEMO_UPLINK_MS: '60000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const end = Date.now() + 40000;
    while (!output.includes('ThingPark demo running')) {
      if (Date.now() > end || demo.exitCode !== null) throw new Error(`demo did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    if (demo.exitCode !== null) return;
    const exited = new Promise((r) => demo.once('exit', r));
    demo.kill('SIGINT');
    await exited;
  });

  it('"list devices" shows the demo devices in the debug sidebar, "list alarms" their alarms', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
    const seen: Array<{ name: string; msg: string }> = [];
    ws.on('message', (data) => {
      for (const event of JSON.parse(data.toString()) as Array<{
        topic: string;
        data: { name: string; msg: string };
      }>)
        if (event.topic === 'debug') seen.push(event.data);
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ subscribe: 'debug' }));
    const press = async (name: string) => {
      const id = example.find((n) => n.type === 'inject' && n.name === name)!.id;
      assert.equal((await fetch(`http://127.0.0.1:${port}/inject/${id}`, { method: 'POST' })).status, 200);
    };
    const until = async (check: () => boolean, what: string) => {
      const end = Date.now() + 15000;
      while (!check()) {
        if (Date.now() > end)
          throw new Error(`no ${what}; seen ${JSON.stringify(seen).slice(0, 500)}\n${output.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await press('list devices');
    await until(() => seen.some((m) => m.name === 'devices'), 'device table');
    const rows = JSON.parse(seen.find((m) => m.name === 'devices')!.msg) as Array<{
      EUI: string;
      name: string;
    }>;
    assert.deepEqual(
      rows.map((r) => r.EUI),
      ['70B3D5E75E000001', '70B3D5E75E000002', '70B3D5E75E000003'],
    );
    assert.equal(rows[0].name, 'Demo sensor 1');
    await press('list alarms');
    await until(() => seen.filter((m) => m.name === 'alarms').length === 2, 'two alarms');
    await until(() => seen.filter((m) => m.name === 'errors and alarms').length === 2, 'two alarms caught');
    for (const caught of seen.filter((m) => m.name === 'errors and alarms'))
      assert.match(caught.msg, /^ThingPark alarm \d+ \(\w+\) on 70B3D5E75E00000[123]$/);
    ws.close();
  });
});
