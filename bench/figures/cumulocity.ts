import * as fs from 'fs';
import * as path from 'path';
import * as mqtt from 'mqtt';
import { childDeviceFromDocument, childRegistration, mapDocument, type Publish } from '../../lib/cumulocity';
import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import { AS_ID, AS_KEY, C8Y_ID, UPLINK_PATH, cumulocityCredentials, cumulocityFlow } from '../lib/flows';
import {
  closedLoop,
  devEUIs,
  fCntOf,
  now,
  publisher,
  sleep,
  Tracker,
  TunnelPoster,
  uplinkBody,
} from '../lib/load';
import { MEM_SETTINGS, memProbe, readMem } from '../lib/memprobe';
import { BENCH_BROKER_LIMITS, Broker, NodeRed, peakRssOf, resetPeakRss, using } from '../lib/procs';
import { median, percentiles } from '../lib/stats';
import { collectProfile, eachRun, MB, pct, profileArgs, queueStats, waitFor } from './common';

/*
 * Figure 5: Cumulocity. A mosquitto plays Cumulocity's MQTT endpoint; a subscriber on it plays the
 * platform (our client waits for nothing from Cumulocity but PUBACKs, so nothing has to answer). Node-RED
 * runs `uplink in` (signed HTTP tunnel uplinks) → `cumulocity out`. Measured, in one run:
 * - the first uplink of a new device, one at a time: from its POST to its measurement (`201` on
 *   s/us/<child>) at the subscriber, registration (`101`, `110/114/117`, the registry on disk) included,
 *   and the same for a device already registered: their ratio is what registration costs;
 * - new devices under load: N devices each sending its first uplink (closed loop), new devices/s and
 *   Node-RED CPU per new device;
 * - steady state: the same N devices, now registered, sending again (closed loop), uplinks/s counted by
 *   their uplink event (event/events/create, which carries FCntUp and follows the measurement);
 * - side by side, the ceiling: the raw mqtt client publishing the same SmartREST lines and events with
 *   QoS 1 (with the registration lines for new devices), no Node-RED and no HTTP.
 */

/** The platform side: measurements by child and uplink events by FCntUp, with their arrival time. */
class Platform {
  onMeasurement?: (childId: string, at: number) => void;
  onEvent?: (fCnt: number, at: number) => void;
  private constructor(readonly client: mqtt.MqttClient) {}

  static async connect(url: string): Promise<Platform> {
    const client = await mqtt.connectAsync(url, {
      clientId: `bench-c8y-platform-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      clean: true,
      reconnectPeriod: 0,
    });
    const platform = new Platform(client);
    client.on('message', (topic, payload) => {
      const at = now();
      if (topic === 'event/events/create') platform.onEvent?.(fCntOf(payload), at);
      // `201,…`: measurement lines (a registration's own lines start 110 / 114 / 117).
      else if (topic.startsWith('s/us/') && payload[0] === 0x32 && payload[1] === 0x30 && payload[2] === 0x31)
        platform.onMeasurement?.(topic.slice(5), at);
    });
    await client.subscribeAsync(['s/us/#', 'event/events/create'], { qos: 1 });
    return platform;
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Measurements of new devices, one uplink each: child id → its sequence number. */
function trackNewDevices(platform: Platform, tracker: Tracker): Map<string, number> {
  const waiting = new Map<string, number>();
  platform.onMeasurement = (childId, at) => {
    const seq = waiting.get(childId);
    if (seq === undefined) return;
    waiting.delete(childId);
    tracker.delivered(seq, at);
  };
  return waiting;
}

/** What Cumulocity receives for an uplink: its lines and event, after the registration of a new device. */
function publishesFor(devEUI: string, seq: number, isNew: boolean): Publish[] {
  const doc = { DevEUI_uplink: uplinkBody('full', devEUI, seq) };
  const data = mapDocument(doc).publishes;
  return isNew ? [...childRegistration(childDeviceFromDocument(doc.DevEUI_uplink)), ...data] : data;
}

interface PhaseResult {
  rate: number;
  p50: number;
  p99: number;
  lost: number;
  cpuUsPerUplink?: number;
  mainThreadBusy?: number;
  mainThreadStarved?: number;
}

export const cumulocity: Figure = {
  id: 'cumulocity',
  title:
    '5. Cumulocity: first uplink of a new device (registration) and steady state, ours vs raw mqtt client',
  async run(ctx: BenchContext): Promise<FigureResult> {
    const { config } = ctx;
    const N = config.c8yDevices;
    const K = config.c8yProbes;
    const metrics = new MetricSet();
    const runs: unknown[] = [];
    const profiles: unknown[] = [];
    const notes: string[] = [];
    // Probe devices, the N devices registered under load, and the raw side's own new devices.
    const all = devEUIs(K + 2 * N);
    const probes = all.slice(0, K);
    const loaded = all.slice(K, K + N);
    const rawNew = all.slice(K + N);
    const childOf = (devEUI: string) => devEUI.toLowerCase();
    const loop = { concurrency: config.httpConcurrency, window: config.window };

    await eachRun(ctx, metrics, notes, async (run) => {
      await using(async (own) => {
        // mosquitto Nagles its PUBACKs by default: the second of two back-to-back QoS 1 publishes
        // (registration lines, measurement + event) waits for the first's delayed TCP ACK, ~40 ms.
        const broker = own(new Broker([...BENCH_BROKER_LIMITS, 'set_tcp_nodelay true']));
        await broker.start();
        const red = own(
          new NodeRed({
            name: 'ours-cumulocity',
            flows: [...cumulocityFlow(broker.port), ...memProbe('t')],
            settings: MEM_SETTINGS,
            credentials: cumulocityCredentials(),
            nodeArgs: profileArgs(ctx, `cumulocity-run${run}`),
          }),
        );
        await red.start();
        const platform = await Platform.connect(broker.url);
        const raw = await publisher(broker.url);
        const post = new TunnelPoster(red.url + UPLINK_PATH, AS_ID, AS_KEY, 1, config.httpConcurrency);
        try {
          await waitFor('Cumulocity connected', 30000, async () => {
            return (await queueStats(red)).connection === 'connected';
          });
          await sleep(1000);
          const rssBefore = red.rss();

          // ---- one at a time: a new device's first uplink, then the same devices registered
          const probe = async (): Promise<number[]> => {
            const latencies: number[] = [];
            const seqs = new Tracker(); // FCntUp values unique in the bench run
            for (const dev of probes) {
              const child = childOf(dev);
              const arrived = new Promise<number>((resolve, reject) => {
                const timer = setTimeout(
                  () => reject(new Error(`${dev}: no measurement within 15 s`)),
                  15000,
                );
                platform.onMeasurement = (c, at) => {
                  if (c !== child) return;
                  clearTimeout(timer);
                  resolve(at);
                };
              });
              arrived.catch(() => undefined); // awaited below unless the POST fails first
              const t0 = now();
              const status = await post.post(seqs.allocate(t0), dev);
              if (status !== 200) throw new Error(`POST of ${dev}: HTTP ${status}`);
              latencies.push((await arrived) - t0);
            }
            platform.onMeasurement = undefined;
            return latencies;
          };
          const firstUnloaded = await probe();
          const registeredUnloaded = await probe();

          // ---- N new devices under load, each with its first uplink
          const ours = async (): Promise<{ fresh: PhaseResult; steady: PhaseResult; rssPeak: number }> => {
            const tracker = new Tracker();
            const waiting = trackNewDevices(platform, tracker);
            const base = tracker.base;
            const send = async (seq: number) => {
              const dev = loaded[seq - base];
              waiting.set(childOf(dev), seq);
              return (await post.post(seq, dev)) === 200;
            };
            const peakReset = resetPeakRss(red.pid);
            const cpu0 = red.cpuMs();
            const meter = red.threadMeter();
            const t0 = now();
            await closedLoop(tracker, send, { ...loop, ms: 60000 + 20 * N, count: N });
            await tracker.settle(30000);
            const t1 = tracker.lastAt;
            const cpu1 = red.cpuMs();
            const thread = meter.read();
            const rssPeak = peakReset ? peakRssOf(red.pid) : NaN;
            if (tracker.received < N)
              throw new Error(`${N - tracker.received} of ${N} new devices never got their measurement`);
            const lat = tracker.latency(t0, Infinity);
            const fresh: PhaseResult = {
              rate: (tracker.received * 1000) / (t1 - t0),
              p50: lat.p50,
              p99: lat.p99,
              lost: lat.lost,
              cpuUsPerUplink: ((cpu1 - cpu0) * 1000) / N,
              mainThreadBusy: thread.busy,
              mainThreadStarved: thread.starved,
            };
            platform.onMeasurement = undefined;

            // ---- steady state: the same devices, registered
            const st = new Tracker();
            platform.onEvent = (fCnt, at) => st.delivered(fCnt, at);
            const sendAgain = async (seq: number) => (await post.post(seq, loaded[seq % N])) === 200;
            await closedLoop(st, sendAgain, { ...loop, ms: config.warmupS * 1000 });
            const cpuA = red.cpuMs();
            const meterA = red.threadMeter();
            const ta = now();
            await closedLoop(st, sendAgain, { ...loop, ms: config.durationS * 1000 });
            const tb = now();
            const cpuB = red.cpuMs();
            const threadA = meterA.read();
            await st.settle(10000);
            platform.onEvent = undefined;
            const rate = st.deliveryRate(ta, tb);
            const sl = st.latency(ta, tb);
            return {
              fresh,
              steady: {
                rate,
                p50: sl.p50,
                p99: sl.p99,
                lost: sl.lost,
                cpuUsPerUplink: ((cpuB - cpuA) * 1000) / ((rate * (tb - ta)) / 1000),
                mainThreadBusy: threadA.busy,
                mainThreadStarved: threadA.starved,
              },
              rssPeak,
            };
          };

          // ---- the raw mqtt client, the same lines: new devices, then registered ones
          const rawSide = async (): Promise<{ fresh: PhaseResult; steady: PhaseResult }> => {
            const publishAll = (publishes: Publish[]) =>
              Promise.all(publishes.map((p) => raw.publishAsync(p.topic, p.payload, { qos: 1 }))).then(
                () => true,
                () => false,
              );
            const tracker = new Tracker();
            const waiting = trackNewDevices(platform, tracker);
            const base = tracker.base;
            const sendNew = (seq: number) => {
              const dev = rawNew[seq - base];
              waiting.set(childOf(dev), seq);
              return publishAll(publishesFor(dev, seq, true));
            };
            const rawLoop = { concurrency: config.window, window: config.window };
            const t0 = now();
            await closedLoop(tracker, sendNew, { ...rawLoop, ms: 60000 + 20 * N, count: N });
            await tracker.settle(30000);
            platform.onMeasurement = undefined;
            const lat = tracker.latency(t0, Infinity);
            const fresh: PhaseResult = {
              rate: (tracker.received * 1000) / (tracker.lastAt - t0),
              p50: lat.p50,
              p99: lat.p99,
              lost: lat.lost,
            };
            const st = new Tracker();
            platform.onEvent = (fCnt, at) => st.delivered(fCnt, at);
            const send = (seq: number) => publishAll(publishesFor(rawNew[seq % N], seq, false));
            await closedLoop(st, send, { ...rawLoop, ms: config.warmupS * 1000 });
            const ta = now();
            await closedLoop(st, send, { ...rawLoop, ms: config.durationS * 1000 });
            const tb = now();
            await st.settle(10000);
            platform.onEvent = undefined;
            const sl = st.latency(ta, tb);
            return {
              fresh,
              steady: { rate: st.deliveryRate(ta, tb), p50: sl.p50, p99: sl.p99, lost: sl.lost },
            };
          };

          const order: Array<'ours' | 'raw'> = run % 2 ? ['ours', 'raw'] : ['raw', 'ours'];
          let o: Awaited<ReturnType<typeof ours>> | undefined;
          let r: Awaited<ReturnType<typeof rawSide>> | undefined;
          for (const side of order) {
            if (side === 'ours') {
              o = await ours();
              ctx.log(
                `  run ${run} ours: ${N} new devices at ${o.fresh.rate.toFixed(0)}/s, Node-RED ${o.fresh.cpuUsPerUplink!.toFixed(0)} µs CPU per new device ` +
                  `(main thread ${pct(o.fresh.mainThreadBusy!)} busy ${pct(o.fresh.mainThreadStarved!)} waiting); ` +
                  `steady ${o.steady.rate.toFixed(0)} uplinks/s, p50 ${o.steady.p50.toFixed(1)} ms, p99 ${o.steady.p99.toFixed(1)} ms, ` +
                  `${o.steady.cpuUsPerUplink!.toFixed(0)} µs CPU/uplink (main thread ${pct(o.steady.mainThreadBusy!)} busy ` +
                  `${pct(o.steady.mainThreadStarved!)} waiting)`,
              );
            } else {
              r = await rawSide();
              ctx.log(
                `  run ${run} raw: ${N} new devices at ${r.fresh.rate.toFixed(0)}/s; steady ${r.steady.rate.toFixed(0)} uplinks/s, ` +
                  `p50 ${r.steady.p50.toFixed(1)} ms`,
              );
            }
          }
          const rssEnd = red.rss();
          // What stays once registered: a full GC, then the time the package takes to give pages back.
          await readMem(red.url, true);
          await sleep(7000);
          const rssAfterGc = (await readMem(red.url)).now.rss;
          const stats = await queueStats(red);
          const registry = JSON.parse(
            fs.readFileSync(path.join(red.userDir, 'thingpark-cumulocity', C8Y_ID, 'children.json'), 'utf8'),
          ) as { children: Record<string, number> };
          const registered = Object.keys(registry.children).length;
          if (registered !== K + N)
            throw new Error(`children.json holds ${registered} children, not ${K + N}`);
          const identities = new Set(Object.values(registry.children)).size;

          const newP50 = median(firstUnloaded);
          const regP50 = median(registeredUnloaded);
          ctx.log(
            `  run ${run} one at a time: new device ${newP50.toFixed(1)} ms, registered ${regP50.toFixed(1)} ms (p50 of ${K}); ` +
              `RSS ${(rssBefore / MB).toFixed(1)} → ${(rssEnd / MB).toFixed(1)} MB (peak while registering ${(o!.rssPeak / MB).toFixed(1)}); ` +
              `${registered} children on ${identities} gateway identities`,
          );
          metrics.add('first uplink, new device, one at a time: p50', 'ms', newP50, { digits: 1 });
          metrics.add('uplink, registered device, one at a time: p50', 'ms', regP50, { digits: 1 });
          metrics.add('registration cost (new / registered p50)', '×', newP50 / regP50);
          metrics.add(
            `ours: new devices/s (${N.toLocaleString('en-US')}, first uplinks)`,
            '/s',
            o!.fresh.rate,
          );
          metrics.add('raw mqtt client: new devices/s', '/s', r!.fresh.rate);
          metrics.add('ours / raw, new devices', '×', o!.fresh.rate / r!.fresh.rate);
          metrics.add('ours: Node-RED CPU per new device', 'µs', o!.fresh.cpuUsPerUplink!);
          metrics.add('ours: steady uplinks/s (registered devices)', '/s', o!.steady.rate);
          metrics.add('raw mqtt client: steady uplinks/s', '/s', r!.steady.rate);
          metrics.add('ours / raw, steady', '×', o!.steady.rate / r!.steady.rate);
          metrics.add('ours: steady latency p50', 'ms', o!.steady.p50, { digits: 1 });
          metrics.add('ours: steady latency p99', 'ms', o!.steady.p99, { digits: 1 });
          metrics.add('ours: Node-RED CPU per registered uplink', 'µs', o!.steady.cpuUsPerUplink!);
          metrics.add('Node-RED RSS, connected, no device', 'MB', rssBefore / MB, { digits: 1 });
          metrics.add('Node-RED RSS peak while registering', 'MB', o!.rssPeak / MB, { digits: 1 });
          metrics.add(
            `Node-RED RSS at the end (${(K + N).toLocaleString('en-US')} children)`,
            'MB',
            rssEnd / MB,
            {
              digits: 1,
            },
          );
          metrics.add(
            `RSS growth over connected, no device, after a full GC (${(K + N).toLocaleString('en-US')} children)`,
            'MB',
            (rssAfterGc - rssBefore) / MB,
            { digits: 1, goal: { op: '<=', value: 30 } },
          );
          runs.push({
            run,
            order,
            rssAfterGc,
            unloaded: {
              firstUplink: percentiles(firstUnloaded),
              registered: percentiles(registeredUnloaded),
            },
            ours: o,
            raw: r,
            rssBefore,
            rssEnd,
            children: registered,
            gatewayIdentities: identities,
            queue: stats,
          });
        } finally {
          post.close();
          await raw.endAsync(true);
          await platform.end();
        }
        const p = await collectProfile(ctx, red, `cumulocity-run${run}`);
        if (p) profiles.push(p);
      });
    });
    return {
      metrics: metrics.list(),
      notes: [
        ...notes,
        `signed HTTP tunnel uplinks (the full sample uplink), ${config.httpConcurrency} POSTs in flight, at most ${config.window} undelivered; ` +
          `${K} devices one at a time (POST → their measurement at the broker), then ${N} new devices (≤ 1000 children per gateway identity); ` +
          `steady state counted by the uplink events; raw = the same lines and events published by one mqtt client, QoS 1, no HTTP`,
      ],
      details: { runs, profiles },
    };
  },
};
