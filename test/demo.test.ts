import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import WebSocket from 'ws';
import { freePort } from '../testkit/broker';
import { repoRoot } from '../testkit/paths';

interface DebugMessage {
  id: string;
  name: string;
  msg: string;
}

describe('npm start: the demo works with no account', function () {
  this.timeout(60000);
  let proc: ChildProcess;
  let port = 0;
  let output = '';

  before(async () => {
    port = await freePort();
    const lrcPort = await freePort();
    const mqttPort = await freePort();
    const apiPort = await freePort();
    proc = spawn(process.execPath, [path.join(repoRoot, 'dist', 'scripts', 'start.js')], {
      env: {
        ...process.env,
        PORT: String(port),
        DEMO_LRC_PORT: String(lrcPort),
        DEMO_MQTT_PORT: String(mqttPort),
        DEMO_API_PORT: String(apiPort),
        DEMO_UPLINK_MS: '300',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const end = Date.now() + 40000;
    while (!output.includes('ThingPark demo running')) {
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`demo did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGINT');
      await exited;
    }
  });

  it('shows decoded uplinks, what the embedded platform broker received, and a downlink from the platform with its sent report', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
    const seen: DebugMessage[] = [];
    ws.on('message', (data) => {
      for (const event of JSON.parse(data.toString()) as Array<{ topic: string; data: DebugMessage }>) {
        if (event.topic === 'debug') seen.push(event.data);
      }
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ subscribe: 'debug' }));
    const waitFor = async (check: () => boolean, what: string) => {
      const end = Date.now() + 15000;
      while (!check()) {
        if (Date.now() > end)
          throw new Error(`no ${what} in the debug sidebar; seen: ${JSON.stringify(seen).slice(0, 500)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor(() => seen.some((m) => m.name === 'uplinks'), 'decoded uplink');
    const decoded = JSON.parse(seen.find((m) => m.name === 'uplinks')!.msg) as {
      temperature: number;
      humidity: number;
    };
    assert.equal(typeof decoded.temperature, 'number');
    assert.equal(typeof decoded.humidity, 'number');

    await waitFor(
      () => seen.some((m) => m.name === 'platform received'),
      'uplink received by the platform broker',
    );
    const received = seen.find((m) => m.name === 'platform received')!.msg;
    assert.match(received, /70B3D5E75E00000[123]/, `the platform got a demo device's uplink: ${received}`);

    const inject = await fetch(`http://127.0.0.1:${port}/inject/0617283940a5b6c7`, { method: 'POST' });
    assert.equal(inject.status, 200);
    await waitFor(() => seen.some((m) => m.name === 'downlink result'), 'downlink result');
    const result = JSON.parse(seen.find((m) => m.name === 'downlink result')!.msg) as {
      status: string;
      CorrelationID: string;
    };
    assert.equal(result.status, 'queued');
    await waitFor(
      () =>
        seen.some((m) => m.name === 'reports and other documents' && m.msg.includes(result.CorrelationID)),
      'DevEUI_downlink_Sent report',
    );
    ws.close();
  });
});
