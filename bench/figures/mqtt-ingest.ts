import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import { ENTERPRISE, coreMqttRelayFlow, oursMqttFlow } from '../lib/flows';
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
import { Broker, cpuMsOf, NodeRed, using } from '../lib/procs';
import { collectProfile, eachRun, pct, profileArgs, waitEndToEnd } from './common';

/*
 * Figure 2: IoT Flow MQTT uplinks (`thingpark-network` mode mqtt, `uplink in` on mqtt/things/+/uplink)
 * → `wmw out` to the same broker, against the ceiling: the raw mqtt client publishing the same
 * documents with QoS 1 to that broker, straight to the subscriber.
 */

type Side = 'ours' | 'raw' | 'core';

/** Where each side's uplinks are published; the core relay forwards its own to CORE_RELAY_TOPIC. */
const PREFIX: Record<Side, string> = { ours: 'mqtt/things', raw: 'raw/things', core: 'core/things' };
const CORE_RELAY_TOPIC = 'uplink_core_relay';

interface Result {
  rate: number;
  p50: number;
  p99: number;
  lost: number;
  duplicates: number;
  cpuUsPerUplink?: number;
  mainThreadBusy?: number;
  mainThreadStarved?: number;
  brokerUsPerUplink: number;
  benchUsPerUplink: number;
}

export const mqttIngest: Figure = {
  id: 'mqtt',
  title: '2. MQTT ingest (IoT Flow mode) → platform broker, ours vs raw mqtt client and core relay',
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
        const coreRed = own(
          new NodeRed({
            name: 'core-mqtt-relay',
            flows: coreMqttRelayFlow(broker.port, `${PREFIX.core}/+/uplink`, CORE_RELAY_TOPIC),
            withPackage: false,
            nodeArgs: profileArgs(ctx, `mqtt-core-run${run}`),
          }),
        );
        await Promise.all([red.start(), coreRed.start()]);
        const pub = await publisher(broker.url);
        try {
          const measure = async (side: Side): Promise<Result> => {
            const prefix = PREFIX[side];
            const proc = side === 'core' ? coreRed : red;
            const measured = side !== 'raw';
            const tracker = new Tracker();
            const sub = await subscriber(
              broker.url,
              side === 'ours'
                ? `uplink_${ENTERPRISE}`
                : side === 'core'
                  ? CORE_RELAY_TOPIC
                  : `${prefix}/+/uplink`,
              (fCnt, at) => tracker.delivered(fCnt, at),
            );
            const send = (seq: number) => {
              const dev = devices[seq % devices.length];
              const doc = JSON.stringify({ DevEUI_uplink: uplinkBody('full', dev, seq) });
              return publishQos1(pub, `${prefix}/${dev}/uplink`, doc);
            };
            try {
              await waitEndToEnd(tracker, send, `${side} MQTT ingest`, proc);
              const loop = { concurrency: config.window, window: config.window };
              await closedLoop(tracker, send, { ...loop, ms: config.warmupS * 1000 });
              const cpu0 = proc.cpuMs();
              const broker0 = cpuMsOf(broker.pid!);
              const bench0 = process.cpuUsage();
              const meter = proc.threadMeter();
              const t0 = now();
              await closedLoop(tracker, send, { ...loop, ms: config.durationS * 1000 });
              const t1 = now();
              const cpu1 = proc.cpuMs();
              const broker1 = cpuMsOf(broker.pid!);
              const bench1 = process.cpuUsage(bench0);
              const thread = meter.read();
              await tracker.settle(10000);
              const rate = tracker.deliveryRate(t0, t1);
              const delivered = (rate * (t1 - t0)) / 1000;
              const lat = tracker.latency(t0, t1);
              return {
                rate,
                p50: lat.p50,
                p99: lat.p99,
                lost: lat.lost,
                duplicates: tracker.duplicates,
                cpuUsPerUplink: measured ? ((cpu1 - cpu0) * 1000) / delivered : undefined,
                brokerUsPerUplink: ((broker1 - broker0) * 1000) / delivered,
                benchUsPerUplink: (bench1.user + bench1.system) / delivered,
                mainThreadBusy: measured ? thread.busy : undefined,
                mainThreadStarved: measured ? thread.starved : undefined,
              };
            } finally {
              await sub.endAsync(true);
            }
          };
          const sides: Side[] = ['ours', 'raw', 'core'];
          const order = sides.map((_, i) => sides[(i + run) % sides.length]);
          const result: Partial<Record<Side, Result>> = {};
          for (const side of order) {
            result[side] = await measure(side);
            const r = result[side]!;
            ctx.log(
              `  run ${run} ${side}: ${r.rate.toFixed(0)} uplinks/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms` +
                (r.cpuUsPerUplink !== undefined
                  ? `, Node-RED ${r.cpuUsPerUplink.toFixed(0)} µs CPU/uplink, main thread ${pct(r.mainThreadBusy!)} busy ` +
                    `${pct(r.mainThreadStarved!)} waiting for a CPU`
                  : '') +
                `, broker ${r.brokerUsPerUplink.toFixed(0)} µs, bench ${r.benchUsPerUplink.toFixed(0)} µs CPU/uplink`,
            );
          }
          const ours = result.ours!;
          const raw = result.raw!;
          const core = result.core!;
          metrics.add('ours: uplinks/s sustained', '/s', ours.rate);
          metrics.add('raw mqtt client: messages/s', '/s', raw.rate);
          metrics.add('ours / raw throughput', '×', ours.rate / raw.rate, { goal: { op: '>=', value: 0.5 } });
          metrics.add('ours: latency p50', 'ms', ours.p50, { digits: 1 });
          metrics.add('ours: latency p99', 'ms', ours.p99, { digits: 1 });
          metrics.add('ours: Node-RED CPU per uplink', 'µs', ours.cpuUsPerUplink!);
          metrics.add('core relay (mqtt in → mqtt out): messages/s', '/s', core.rate);
          metrics.add('core relay / raw throughput', '×', core.rate / raw.rate);
          metrics.add('ours / core relay throughput', '×', ours.rate / core.rate, {
            goal: { op: '>=', value: 1 },
          });
          metrics.add('core relay: Node-RED CPU per message', 'µs', core.cpuUsPerUplink!);
          const named = [
            ['ours', ours],
            ['core relay', core],
            ['raw', raw],
          ] as const;
          for (const [name, r] of named) {
            metrics.add(`${name}: broker CPU per message`, 'µs', r.brokerUsPerUplink);
          }
          for (const [name, r] of named) {
            metrics.add(`${name}: bench CPU per message (publisher + subscriber)`, 'µs', r.benchUsPerUplink);
          }
          runs.push({ run, order, ...result });
        } finally {
          await pub.endAsync(true);
        }
        for (const [proc, name] of [
          [red, `mqtt-ours-run${run}`],
          [coreRed, `mqtt-core-run${run}`],
        ] as const) {
          const p = await collectProfile(ctx, proc, name);
          if (p) profiles.push(p);
        }
      });
    });
    return {
      metrics: metrics.list(),
      notes: [
        ...notes,
        `closed loop: at most ${config.window} QoS 1 publishes undelivered; the full sample uplink (~590 B); ` +
          `one broker for IoT Flow and the platform; publisher and subscriber in the bench process for every side; ` +
          `core relay = Node-RED core nodes only (mqtt in, JSON, → mqtt out, QoS 1), no validation and no queue: ` +
          `the cost of any Node-RED flow on the way`,
      ],
      details: { runs, profiles },
    };
  },
};
