import { strict as assert } from 'assert';
import * as v8 from 'v8';
import * as vm from 'vm';
import {
  LastSeenDevices,
  MinuteHistory,
  escapeLabel,
  monitorFamilies,
  renderPrometheus,
  scrub,
  type ConnectionSnapshot,
} from '../../lib/monitor';
import { createMemoryQueue, permanent, ack } from '../../lib/delivery';

const MIN = 60000;
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

describe('monitor: per-minute history', () => {
  it('keeps the highest gauge and the growth of the total per minute, 60 minutes at most', () => {
    const h = new MinuteHistory();
    h.sample(T0, 5, 100);
    h.sample(T0 + 10000, 9, 103);
    h.sample(T0 + 20000, 2, 110);
    h.sample(T0 + MIN, 1, 112);
    assert.deepEqual(h.points(T0 + MIN + 1), [
      { t: T0, gauge: 9, count: 10 },
      { t: T0 + MIN, gauge: 1, count: 2 },
    ]);
    for (let m = 0; m < 200; m++) h.sample(T0 + m * MIN, m, 200 + m);
    const points = h.points(T0 + 199 * MIN);
    assert.equal(points.length, 60);
    assert.equal(points[0].t, T0 + 140 * MIN);
    assert.equal(points.at(-1)!.gauge, 199);
  });

  it('leaves out minutes nobody sampled, and a total that went down (restart) counts from 0', () => {
    const h = new MinuteHistory();
    h.sample(T0, 1, 50);
    h.sample(T0 + 30 * MIN, 3, 4);
    assert.deepEqual(
      h.points(T0 + 30 * MIN).map((p) => [p.t, p.count]),
      [
        [T0, 0],
        [T0 + 30 * MIN, 4],
      ],
    );
    assert.deepEqual(h.points(T0 + 90 * MIN), [], 'an hour later nothing is left');
  });
});

describe('monitor: last-seen devices', () => {
  const sighting = (devEUI: string, rssi: unknown = -80, snr: unknown = 7.5) => ({
    devEUI,
    time: '2026-01-01T10:00:00.000Z',
    type: 'DevEUI_uplink',
    connectivity: 'LORAWAN',
    rssi,
    snr,
  });

  it('keeps the 1000 most recent devices and the last 20 uplinks of each (10 000 recorded)', () => {
    const d = new LastSeenDevices();
    for (let i = 0; i < 10000; i++) d.record('net', sighting(i.toString(16).padStart(16, '0')), T0 + i);
    assert.equal(d.size, 1000);
    const { total, devices } = d.list();
    assert.equal(total, 1000);
    assert.equal(devices[0].devEUI, (9999).toString(16).padStart(16, '0').toUpperCase(), 'newest first');
    for (let i = 0; i < 50; i++) d.record('net', sighting('FFFF00000000FFFF', -100 + i, i), T0 + 20000 + i);
    const aa = d.list('ffff0000').devices;
    assert.equal(aa.length, 1);
    assert.equal(aa[0].uplinks.length, 20);
    assert.deepEqual(
      aa[0].uplinks.map((u) => u.snr),
      Array.from({ length: 20 }, (_, i) => 30 + i),
      'the last 20, oldest first',
    );
    assert.equal(d.size, 1000);
  });

  it('moves a device seen again to the front, and takes only finite numbers as radio figures', () => {
    const d = new LastSeenDevices(3, 4);
    d.record('net', sighting('A1'), T0);
    d.record('net', sighting('B2'), T0 + 1);
    d.record('net', sighting('A1', 'x', Infinity), T0 + 2);
    d.record('net', sighting('C3'), T0 + 3);
    d.record('net', sighting('D4'), T0 + 4);
    assert.deepEqual(
      d.list().devices.map((x) => x.devEUI),
      ['D4', 'C3', 'A1'],
      'B2, least recently seen, went',
    );
    const a1 = d.list('a1').devices[0];
    assert.equal(a1.rssi, null);
    // What `list` gave is a copy: a later uplink of the device changes the next list, not this one.
    d.record('net', sighting('A1', -60, 3), T0 + 5);
    assert.deepEqual([a1.rssi, a1.seenAt], [null, T0 + 2]);
    assert.deepEqual([d.list('a1').devices[0].rssi, d.list('a1').devices[0].seenAt], [-60, T0 + 5]);
    assert.deepEqual(
      a1.uplinks.map((u) => [u.rssi, u.snr]),
      [
        [-80, 7.5],
        [null, null],
      ],
    );
  });

  it('stays under its stated ceiling: 1000 devices × 20 uplinks in about 1.2 MiB', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const mem = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = mem();
    const d = new LastSeenDevices();
    for (let round = 0; round < 25; round++)
      for (let i = 0; i < 1000; i++)
        d.record(`net-${round % 2}`, sighting(`00000000${i.toString(16).padStart(8, '0')}`), T0 + i);
    gc();
    const used = mem() - before;
    assert.ok(used < 1.5 * 1024 * 1024, `${used} bytes`);
    assert.equal(d.size, 1000);
  });
});

describe('monitor: Prometheus text', () => {
  const conn: ConnectionSnapshot = {
    id: 'c1',
    type: 'thingpark-wmw',
    name: 'Plant "A"\\north\nline',
    platform: 'WMW',
    state: 'connected',
    reconnects: 2,
    queued: 7,
    bytes: 700,
    delivered: 42,
    dropped: 1,
    rejected: 0,
    retries: 3,
    deadLetters: 1,
    history: [],
  };

  it('writes one HELP and TYPE per family and one sample per connection, labels escaped', () => {
    const text = renderPrometheus(
      monitorFamilies([conn, { ...conn, id: 'c2', state: 'disconnected' }], [], 5),
    );
    const lines = text.trimEnd().split('\n');
    assert.ok(text.endsWith('\n'));
    assert.equal(lines.filter((l) => l === '# TYPE thingpark_delivered_total counter').length, 1);
    assert.ok(
      lines.includes(
        'thingpark_queue_entries{id="c1",name="Plant \\"A\\"\\\\north\\nline",type="thingpark-wmw",platform="WMW"} 7',
      ),
      text,
    );
    assert.ok(lines.some((l) => /^thingpark_connection_up\{id="c2".*\} 0$/.test(l)));
    assert.ok(lines.includes('thingpark_devices_seen 5'));
    // Every sample line: name, optional labels, a number.
    const sample = /^[a-z_]+(\{([a-z]+="([^"\\\n]|\\["\\n])*",?)*\})? -?[0-9.e+]+$/;
    for (const l of lines.filter((x) => !x.startsWith('#'))) assert.match(l, sample);
    assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  });
});

describe('monitor: scrub', () => {
  it('removes URL user info and every given secret', () => {
    assert.equal(
      scrub('connect to mqtts://bob:hunter22@host:8883 failed with hunter22', ['hunter22']),
      'connect to mqtts://***@host:8883 failed with ***',
    );
    assert.equal(scrub('bad key abc', ['abc', '']), 'bad key ***');
    assert.equal(scrub(undefined, ['x']), undefined);
  });
});

describe('DeliveryQueue.discardDeadLetters', () => {
  it('forgets the chosen dead letters only, keeping the others in order', async () => {
    const refused = new Set(['r1', 'r2', 'r3']);
    const queue = createMemoryQueue<{ n: number }>({
      deliver: async (e) => (refused.has(e.key) ? permanent(new Error(`no ${e.key}`)) : ack()),
      autoStart: true,
    });
    await queue.ready;
    for (const key of ['r1', 'ok', 'r2', 'r3']) await queue.push(key, { n: 1 });
    for (let i = 0; i < 100 && queue.stats().deadLetters < 3; i++)
      await new Promise((r) => setTimeout(r, 10));
    const letters = await queue.deadLetters();
    assert.deepEqual(
      letters.map((l) => l.key),
      ['r1', 'r2', 'r3'],
    );
    assert.equal(await queue.discardDeadLetters([letters[1].seq, 999999]), 1);
    assert.deepEqual(
      (await queue.deadLetters()).map((l) => [l.key, l.error]),
      [
        ['r1', 'no r1'],
        ['r3', 'no r3'],
      ],
    );
    assert.equal(queue.stats().deadLetters, 2);
    assert.equal(await queue.discardDeadLetters([]), 0);
    await queue.close();
  });
});
