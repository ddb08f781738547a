import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import { ENTERPRISE, oursMqttFlow } from '../lib/flows';
import {
  closedLoop,
  devEUIs,
  now,
  publisher,
  publishQos1,
  subscriber,
  Tracker,
  uplinkBody,
} from '../lib/load';
import { Broker, NodeRed, using } from '../lib/procs';
import { collectProfile, eachRun, pct, profileArgs, waitEndToEnd } from './common';

/*
 * Figure 2: IoT Flow MQTT uplinks (`thingpark-network` mode mqtt, `uplink in` on mqtt/things/+/uplink)
 * → `wmw out` to the same broker, against the ceiling: the raw mqtt client publishing the same
 * documents with QoS 1 to that broker, straight to the subscriber.
 */

interface Result {
  rate: number;
  p50: number;
  p99: number;
  lost: number;
  duplicates: number;
  cpuUsPerUplink?: number;
  mainThreadBusy?: number;
  mainThreadStarved?: number;
}

export const mqttIngest: Figure = {
  id: 'mqtt',
  title: '2. MQTT ingest (IoT Flow mode) → platform broker, ours vs raw mqtt client',
  async run(ctx: BenchContext): Promise<FigureResult> {
    const { config } = ctx;
    const metrics = new MetricSet();
    const runs: unknown[] = [];
    const profiles: unknown[] = [];
    const devices = devEUIs(config.devices);

    const notes: string[] = [];
    await eachRun(ctx, metrics, notes, async (run) => {
      await using(async (own) => {
        const broker = own(new Broker());
        await broker.start();
        const red = own(
          new NodeRed({
            name: 'ours-mqtt',
            flows: oursMqttFlow(broker.port, broker.port),
            nodeArgs: profileArgs(ctx, `mqtt-ours-run${run}`),
          }),
        );
        await red.start();
        const pub = await publisher(broker.url);
        try {
          const measure = async (side: 'ours' | 'raw'): Promise<Result> => {
            const prefix = side === 'ours' ? 'mqtt/things' : 'raw/things';
            const tracker = new Tracker();
            const sub = await subscriber(
              broker.url,
              side === 'ours' ? `uplink_${ENTERPRISE}` : `${prefix}/+/uplink`,
              (fCnt, at) => tracker.delivered(fCnt, at),
            );
            const send = (seq: number) => {
              const dev = devices[seq % devices.length];
              const doc = JSON.stringify({ DevEUI_uplink: uplinkBody('full', dev, seq) });
              return publishQos1(pub, `${prefix}/${dev}/uplink`, doc);
            };
            try {
              await waitEndToEnd(tracker, send, `${side} MQTT ingest`, red);
              const loop = { concurrency: config.window, window: config.window };
              await closedLoop(tracker, send, { ...loop, ms: config.warmupS * 1000 });
              const cpu0 = red.cpuMs();
              const meter = red.threadMeter();
              const t0 = now();
              await closedLoop(tracker, send, { ...loop, ms: config.durationS * 1000 });
              const t1 = now();
              const cpu1 = red.cpuMs();
              const thread = meter.read();
              await tracker.settle(10000);
              const rate = tracker.deliveryRate(t0, t1);
              const lat = tracker.latency(t0, t1);
              return {
                rate,
                p50: lat.p50,
                p99: lat.p99,
                lost: lat.lost,
                duplicates: tracker.duplicates,
                cpuUsPerUplink:
                  side === 'ours' ? ((cpu1 - cpu0) * 1000) / ((rate * (t1 - t0)) / 1000) : undefined,
                mainThreadBusy: side === 'ours' ? thread.busy : undefined,
                mainThreadStarved: side === 'ours' ? thread.starved : undefined,
              };
            } finally {
              await sub.endAsync(true);
            }
          };
          const order: Array<'ours' | 'raw'> = run % 2 ? ['ours', 'raw'] : ['raw', 'ours'];
          const result: Partial<Record<'ours' | 'raw', Result>> = {};
          for (const side of order) {
            result[side] = await measure(side);
            const r = result[side]!;
            ctx.log(
              `  run ${run} ${side}: ${r.rate.toFixed(0)} uplinks/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms` +
                (r.cpuUsPerUplink !== undefined
                  ? `, Node-RED ${r.cpuUsPerUplink.toFixed(0)} µs CPU/uplink, main thread ${pct(r.mainThreadBusy!)} busy ` +
                    `${pct(r.mainThreadStarved!)} waiting for a CPU`
                  : ''),
            );
          }
          const ours = result.ours!;
          const raw = result.raw!;
          metrics.add('ours: uplinks/s sustained', '/s', ours.rate);
          metrics.add('raw mqtt client: messages/s', '/s', raw.rate);
          metrics.add('ours / raw throughput', '×', ours.rate / raw.rate, { goal: { op: '>=', value: 0.5 } });
          metrics.add('ours: latency p50', 'ms', ours.p50, { digits: 1 });
          metrics.add('ours: latency p99', 'ms', ours.p99, { digits: 1 });
          metrics.add('ours: Node-RED CPU per uplink', 'µs', ours.cpuUsPerUplink!);
          runs.push({ run, order, ...result });
        } finally {
          await pub.endAsync(true);
        }
        const p = await collectProfile(ctx, red, `mqtt-ours-run${run}`);
        if (p) profiles.push(p);
      });
    });
    return {
      metrics: metrics.list(),
      notes: [
        ...notes,
        `closed loop: at most ${config.window} QoS 1 publishes undelivered; the full sample uplink (~590 B); ` +
          `one broker for IoT Flow and the platform; publisher and subscriber in the bench process for both sides`,
      ],
      details: { runs, profiles },
    };
  },
};
