import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { openQueue } from '../../lib/delivery';
import {
  DEFAULT_HEAP_GROWTH_PERCENT,
  DEFAULT_YOUNG_GENERATION_MB,
  heldHeapGrowth,
  heldYoungGenerationCap,
} from '../../lib/memory';
import { Mosquitto } from '../../testkit/broker';
import { helper, servingHttpNodes, waitFor, withRuntimeHooks } from '../helpers/node-red';
import { repoRoot } from '../../testkit/paths';

const nodeFile = (name: string) => path.join(repoRoot, 'dist', 'nodes', name, `${name}.js`);
const modules = () =>
  servingHttpNodes(
    ['network', 'uplink-in', 'downlink-in', 'wmw', 'wmw-out'].map((n) =>
      withRuntimeHooks(require(nodeFile(n))),
    ),
  );

/** This process's open file descriptors on `file` (or its write-ahead log). */
function openFds(file: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(file)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Handles that keep the process alive (sockets, servers, timers), by type. */
function handleCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const h of (process as unknown as { _getActiveHandles(): object[] })._getActiveHandles()) {
    const name = h.constructor?.name ?? 'unknown';
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('connection lifecycle in the real runtime', function () {
  this.timeout(120000);
  const broker = new Mosquitto();
  let userDir: string;
  before(async () => {
    await broker.start();
    await helper.startServer();
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-life-'));
    helper.settings({ userDir });
  });
  after(async () => {
    await helper.stopServer();
    await broker.dispose();
    fs.rmSync(userDir, { recursive: true, force: true });
  });
  afterEach(() => helper.unload());

  const wmw = {
    id: 'wmw',
    type: 'thingpark-wmw',
    region: 'custom',
    hostName: `127.0.0.1:${0}`,
    enterpriseId: 'life',
    insecure: true,
  };
  const flow = (withUser: boolean) => [
    { id: 'tab', type: 'tab', label: 'life' },
    { ...wmw, hostName: `127.0.0.1:${broker.port}` },
    ...(withUser ? [{ id: 'out', z: 'tab', type: 'thingpark-wmw-out', wmw: 'wmw', wires: [[]] }] : []),
  ];

  it('connects only while a flow node uses the connection, and disconnects when the last one leaves', async () => {
    await helper.load(modules(), flow(false));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(helper.getNode('wmw').connection.client.state, 'disconnected', 'no user: no connection');
    await helper.setFlows(flow(true));
    await waitFor(() => helper.getNode('wmw').connection.client.state === 'connected', 10000, 'connected');
    const config = helper.getNode('wmw');
    await helper.setFlows(flow(false), 'nodes');
    const after = helper.getNode('wmw');
    assert.equal(after, config, 'the config node itself was not redeployed');
    await waitFor(() => after.connection.client.state === 'disconnected', 5000, 'disconnected with no user');
  });

  it("keeps V8's heap growth and young generation at the package's defaults while a connection is deployed, and gives them back after", async () => {
    assert.deepEqual([heldHeapGrowth(), heldYoungGenerationCap()], [0, 0], 'before: V8 chooses');
    await helper.load(modules(), flow(true));
    assert.deepEqual(
      [heldHeapGrowth(), heldYoungGenerationCap()],
      [DEFAULT_HEAP_GROWTH_PERCENT, DEFAULT_YOUNG_GENERATION_MB],
    );
    await helper.setFlows([{ id: 'tab', type: 'tab', label: 'life' }]);
    assert.deepEqual(
      [heldHeapGrowth(), heldYoungGenerationCap()],
      [0, 0],
      'no connection left: V8 chooses again',
    );
    process.env.THINGPARK_HEAP_GROWTH = 'off';
    try {
      await helper.setFlows(flow(true));
      assert.equal(heldHeapGrowth(), 0, 'THINGPARK_HEAP_GROWTH=off');
    } finally {
      delete process.env.THINGPARK_HEAP_GROWTH;
    }
  });

  it('a changed connection keeps its queued messages; a removed one deletes its store', async () => {
    await broker.stop();
    await helper.load(modules(), flow(true));
    const out = helper.getNode('out');
    for (let i = 0; i < 50; i++)
      out.receive({
        payload: { DevEUI_uplink: { DevEUI: '0018B20000000B20', FCntUp: i, payload_hex: '00' } },
      });
    await waitFor(() => helper.getNode('wmw').connection.stats().queued === 50, 5000, '50 queued');
    const file = path.join(userDir, 'thingpark-queues', 'wmw.sqlite');
    assert.ok(fs.existsSync(file), 'the queue lives under the user directory');

    const changed = flow(true).map((n) => (n.id === 'wmw' ? { ...n, bufferMax: 5000 } : n));
    await helper.setFlows(changed, 'nodes');
    await helper.getNode('wmw').connection.queue.ready;
    assert.equal(helper.getNode('wmw').connection.stats().queued, 50, 'kept across the change');

    await helper.setFlows([{ id: 'tab', type: 'tab', label: 'life' }], 'full');
    await waitFor(() => !fs.existsSync(file), 5000, 'store deleted');
    await broker.start();
  });

  it('leaves no timer behind when closed while connecting with messages queued', async () => {
    // A server that accepts TCP but never answers CONNACK keeps the connection "connecting".
    const open = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      open.add(socket);
      socket.resume();
      socket.on('error', () => undefined);
      socket.on('close', () => open.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as net.AddressInfo).port;
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    try {
      const before = timers();
      await helper.load(
        modules(),
        flow(true).map((n) => (n.id === 'wmw' ? { ...n, hostName: `127.0.0.1:${port}` } : n)),
      );
      const out = helper.getNode('out');
      for (let i = 0; i < 20; i++) {
        out.receive({
          payload: { DevEUI_uplink: { DevEUI: '0018B20000000B21', FCntUp: i, payload_hex: '00' } },
        });
      }
      await waitFor(() => helper.getNode('wmw').connection.stats().queued === 20, 5000, '20 queued');
      assert.equal(helper.getNode('wmw').connection.client.state, 'connecting');
      await helper.unload();
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(timers() <= before, `timers before ${before}, after close ${timers()}`);
      assert.equal(open.size, 0, 'the half-made connection was closed');
    } finally {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('closes within a few seconds even when the broker does not answer', async () => {
    await helper.load(modules(), flow(true));
    await waitFor(() => helper.getNode('wmw').connection.client.state === 'connected', 10000, 'connected');
    await broker.stop();
    const started = Date.now();
    await helper.unload();
    assert.ok(Date.now() - started < 5000, `closed in ${Date.now() - started} ms`);
    await broker.start();
  });

  it('100 deploy cycles leave no growth in handles or listeners', async () => {
    const cycle = async () => {
      await helper.load(modules(), flow(true));
      await waitFor(() => helper.getNode('wmw').connection.client.state === 'connected', 10000, 'connected');
      await helper.unload();
    };
    for (let i = 0; i < 5; i++) await cycle();
    await new Promise((r) => setTimeout(r, 200));
    const before = handleCounts();
    const listenersBefore = process.listenerCount('uncaughtException') + process.listenerCount('exit');
    for (let i = 0; i < 100; i++) await cycle();
    await new Promise((r) => setTimeout(r, 500));
    const afterCounts = handleCounts();
    const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
    assert.ok(
      total(afterCounts) <= total(before) + 2,
      `handles ${JSON.stringify(before)} → ${JSON.stringify(afterCounts)}`,
    );
    assert.equal(process.listenerCount('uncaughtException') + process.listenerCount('exit'), listenersBefore);
    // The queue file is closed and unlocked: nothing holds it, and another opener gets it at once.
    const file = path.join(userDir, 'thingpark-queues', 'wmw.sqlite');
    assert.equal(openFds(file), 0, 'no descriptor left open on the queue file');
    const started = Date.now();
    const { queue } = await openQueue({ file, deliver: async () => ({ kind: 'ack' }) });
    assert.ok(Date.now() - started < 500, `opened in ${Date.now() - started} ms: no lock left behind`);
    await queue.close();
  });

  it('a damaged queue file neither stops Node-RED nor fails the connection: status, log, file kept aside, fresh queue', async () => {
    const dir = path.join(userDir, 'thingpark-queues');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'wmw.sqlite');
    fs.writeFileSync(file, 'this is not a database, it was overwritten by something else\n'.repeat(200));
    await broker.stop();
    await helper.load(modules(), flow(true));
    const config = helper.getNode('wmw');
    await config.connection.queue.ready;
    const kept = fs.readdirSync(dir).filter((f) => f.startsWith('wmw.sqlite.damaged-'));
    assert.equal(kept.length, 1, `kept aside under a name that says so: ${fs.readdirSync(dir).join(', ')}`);
    assert.match(fs.readFileSync(path.join(dir, kept[0]), 'utf8'), /^this is not a database/);
    const spied = (fn: unknown) => ((fn as { args: unknown[][] }).args ?? []).map((a) => String(a[0]));
    const logged = spied(config.error).find((t) => /damaged/.test(t));
    assert.ok(logged?.includes(kept[0]), `logged with the file it was moved to: ${logged}`);
    assert.match(logged!, /0 messages that could be read, an unknown number could not be recovered/);
    const out = helper.getNode('out');
    const statuses = () =>
      (out.status as unknown as { args: Array<[{ text?: string }]> }).args.map((a) => a[0]?.text ?? '');
    await waitFor(() => statuses().some((t) => /buffer file damaged/.test(t)), 5000, 'the status says so');
    out.receive({ payload: { DevEUI_uplink: { DevEUI: '0018B20000000B21', FCntUp: 1, payload_hex: '00' } } });
    await waitFor(() => config.connection.stats().queued === 1, 5000, 'a fresh queue takes messages');
    assert.equal(config.connection.stats().storage, 'sqlite');
    await helper.unload();
    // Reopened: the fresh file is sound, nothing more is set aside (no loop).
    await helper.load(modules(), flow(true));
    await helper.getNode('wmw').connection.queue.ready;
    assert.equal(helper.getNode('wmw').connection.stats().queued, 1, 'the fresh queue kept its message');
    assert.equal(fs.readdirSync(dir).filter((f) => f.includes('.damaged-')).length, 1);
    await helper.unload();
    fs.rmSync(path.join(dir, kept[0]));
    await broker.start();
  });
});
