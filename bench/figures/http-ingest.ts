import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import {
  AS_ID,
  AS_KEY,
  CORE_PATH,
  CORE_SETTINGS,
  CORE_TOPIC,
  ENTERPRISE,
  UPLINK_PATH,
  coreHttpFlow,
  networkCredentials,
  oursHttpFlow,
} from '../lib/flows';
import { closedLoop, now, openLoop, subscriber, Tracker, TunnelPoster } from '../lib/load';
import { Broker, NodeRed, using } from '../lib/procs';
import { median } from '../lib/stats';
import { collectProfile, eachRun, pct, profileArgs, waitEndToEnd } from './common';

/*
 * Figure 1: ThingPark Basic HTTPS uplinks → the platform broker. Ours (`uplink in` with the AS key
 * set → `wmw out`, durable queue, QoS 1) against the same job in core nodes (`http in` → `function`
 * checking the token with crypto → `http response` + `mqtt out` QoS 1), each in its own Node-RED
 * process, both alive during the run and measured one after the other (order alternating per run).
 */

interface Side {
  name: 'ours' | 'core';
  red: NodeRed;
  url: string;
  topic: string;
  rate?: number;
}

export interface LatencyStep {
  fraction: number;
  side: 'ours' | 'core';
  /** Offered and actually sent rates, uplinks/s. */
  offered: number;
  sent: number;
  delivered: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  lost: number;
}

export const httpIngest: Figure = {
  id: 'http',
  title: '1. HTTP ingest (signed tunnel uplinks) → platform broker, ours vs core nodes',
  async run(ctx: BenchContext): Promise<FigureResult> {
    const { config } = ctx;
    const metrics = new MetricSet();
    const runs: unknown[] = [];
    const steps: LatencyStep[][] = [];
    const profiles: unknown[] = [];

    const notes: string[] = [];
    await eachRun(ctx, metrics, notes, async (run) => {
      await using(async (own) => {
        const broker = own(new Broker());
        await broker.start();
        const ours = own(
          new NodeRed({
            name: 'ours',
            flows: oursHttpFlow(broker.port),
            credentials: networkCredentials(),
            nodeArgs: profileArgs(ctx, `http-ours-run${run}`),
          }),
        );
        const core = own(
          new NodeRed({
            name: 'core',
            flows: coreHttpFlow(broker.port),
            withPackage: false,
            settings: CORE_SETTINGS,
            nodeArgs: profileArgs(ctx, `http-core-run${run}`),
          }),
        );
        await Promise.all([ours.start(), core.start()]);
        const sides: Side[] = [
          { name: 'ours', red: ours, url: ours.url + UPLINK_PATH, topic: `uplink_${ENTERPRISE}` },
          { name: 'core', red: core, url: core.url + CORE_PATH, topic: CORE_TOPIC },
        ];
        if (run % 2 === 0) sides.reverse();

        const record: Record<string, unknown> = { run, order: sides.map((s) => s.name) };
        for (const side of sides) {
          const r = await sustained(ctx, broker, side);
          side.rate = r.rate;
          record[side.name] = r;
          ctx.log(
            `  run ${run} ${side.name}: ${r.rate.toFixed(0)} uplinks/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ` +
              `Node-RED ${r.cpuUsPerUplink.toFixed(0)} µs CPU/uplink, main thread ${pct(r.mainThreadBusy)} busy ` +
              `${pct(r.mainThreadStarved)} waiting for a CPU; bench ${pct(r.benchCpuShare)}${r.failed ? `; ${r.failed} refused` : ''}`,
          );
        }
        const oursR = record.ours as SustainedResult;
        const coreR = record.core as SustainedResult;
        metrics.add('ours: uplinks/s sustained', '/s', oursR.rate);
        metrics.add('core: uplinks/s sustained', '/s', coreR.rate);
        // Issues 17 and 24: HTTP ingest at least 1.2× core nodes.
        metrics.add('ours / core throughput', '×', oursR.rate / coreR.rate, {
          goal: { op: '>=', value: 1.2 },
        });
        metrics.add('core / ours Node-RED CPU per uplink', '×', coreR.cpuUsPerUplink / oursR.cpuUsPerUplink);
        metrics.add('ours: latency p50', 'ms', oursR.p50, { digits: 1 });
        metrics.add('ours: latency p99', 'ms', oursR.p99, { digits: 1 });
        metrics.add('core: latency p50', 'ms', coreR.p50, { digits: 1 });
        metrics.add('core: latency p99', 'ms', coreR.p99, { digits: 1 });
        metrics.add('ours: Node-RED CPU per uplink', 'µs', oursR.cpuUsPerUplink);
        metrics.add('core: Node-RED CPU per uplink', 'µs', coreR.cpuUsPerUplink);

        // Latency under rising load: the same offered rates for both sides.
        const base = Math.min(oursR.rate, coreR.rate);
        const runSteps: LatencyStep[] = [];
        for (const fraction of config.steps) {
          for (const side of sides) {
            const step = await latencyStep(ctx, broker, side, fraction, base * fraction);
            runSteps.push(step);
            ctx.log(
              `  run ${run} ${side.name} @ ${step.offered.toFixed(0)}/s: p50 ${step.p50.toFixed(1)} p90 ${step.p90.toFixed(1)} p99 ${step.p99.toFixed(1)} ms`,
            );
          }
        }
        steps.push(runSteps);
        runs.push(record);
        for (const side of sides) {
          const p = await collectProfile(ctx, side.red, `http-${side.name}-run${run}`);
          if (p) profiles.push(p);
        }
      });
    });

    return {
      metrics: metrics.list(),
      notes: [
        ...notes,
        `closed loop: ${config.httpConcurrency} POSTs in flight, at most ${config.window} uplinks undelivered, ${config.devices} devices; ` +
          `${config.warmupS} s warm-up, ${config.durationS} s measured; latency = POST sent → message at the broker subscriber`,
      ],
      details: { runs, latencySteps: steps, chart: chartSeries(steps, config.steps), profiles },
    };
  },
};

interface SustainedResult {
  rate: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  lost: number;
  failed: number;
  duplicates: number;
  cpuUsPerUplink: number;
  nodeRedCpuShare: number;
  benchCpuShare: number;
  /** Node-RED's JavaScript thread: share of the time on a CPU, and runnable but waiting for one. */
  mainThreadBusy: number;
  mainThreadStarved: number;
}

async function sustained(ctx: BenchContext, broker: Broker, side: Side): Promise<SustainedResult> {
  const { config } = ctx;
  const tracker = new Tracker();
  const sub = await subscriber(broker.url, side.topic, (fCnt, at) => tracker.delivered(fCnt, at));
  const poster = new TunnelPoster(side.url, AS_ID, AS_KEY, config.devices, config.httpConcurrency);
  const send = async (seq: number) => (await poster.post(seq)) === 200;
  try {
    await waitEndToEnd(tracker, send, `${side.name} HTTP ingest`, side.red);
    const loop = { concurrency: config.httpConcurrency, window: config.window };
    await closedLoop(tracker, send, { ...loop, ms: config.warmupS * 1000 });
    const cpu0 = side.red.cpuMs();
    const meter = side.red.threadMeter();
    const own0 = process.cpuUsage();
    const t0 = now();
    await closedLoop(tracker, send, { ...loop, ms: config.durationS * 1000 });
    const t1 = now();
    const cpu1 = side.red.cpuMs();
    const own1 = process.cpuUsage(own0);
    const thread = meter.read();
    await tracker.settle(10000);
    const rate = tracker.deliveryRate(t0, t1);
    const lat = tracker.latency(t0, t1);
    return {
      rate,
      p50: lat.p50,
      p90: lat.p90,
      p99: lat.p99,
      max: lat.max,
      lost: lat.lost,
      failed: tracker.failed,
      duplicates: tracker.duplicates,
      cpuUsPerUplink: ((cpu1 - cpu0) * 1000) / ((rate * (t1 - t0)) / 1000),
      nodeRedCpuShare: (cpu1 - cpu0) / (t1 - t0),
      benchCpuShare: (own1.user + own1.system) / 1000 / (t1 - t0),
      mainThreadBusy: thread.busy,
      mainThreadStarved: thread.starved,
    };
  } finally {
    poster.close();
    await sub.endAsync(true);
  }
}

async function latencyStep(
  ctx: BenchContext,
  broker: Broker,
  side: Side,
  fraction: number,
  rate: number,
): Promise<LatencyStep> {
  const { config } = ctx;
  const tracker = new Tracker();
  const sub = await subscriber(broker.url, side.topic, (fCnt, at) => tracker.delivered(fCnt, at));
  const poster = new TunnelPoster(side.url, AS_ID, AS_KEY, config.devices, config.httpConcurrency);
  const send = async (seq: number) => (await poster.post(seq)) === 200;
  try {
    const warm = 500;
    const t0 = now() + warm;
    const sent = await openLoop(tracker, send, {
      rate,
      ms: warm + config.stepS * 1000,
      maxInFlight: config.httpConcurrency * 4,
      window: config.window,
    });
    const t1 = now();
    await tracker.settle(10000);
    const lat = tracker.latency(t0, t1);
    return {
      fraction,
      side: side.name,
      offered: rate,
      sent,
      delivered: tracker.deliveryRate(t0, t1),
      p50: lat.p50,
      p90: lat.p90,
      p99: lat.p99,
      max: lat.max,
      lost: lat.lost,
    };
  } finally {
    poster.close();
    await sub.endAsync(true);
  }
}

export interface ChartPoint {
  fraction: number;
  rate: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Per side and step, the median over runs of the offered rate and of each percentile. */
function chartSeries(steps: LatencyStep[][], fractions: number[]): Record<'ours' | 'core', ChartPoint[]> {
  const series = { ours: [] as ChartPoint[], core: [] as ChartPoint[] };
  for (const side of ['ours', 'core'] as const) {
    for (const fraction of fractions) {
      const all = steps.flat().filter((s) => s.side === side && s.fraction === fraction);
      series[side].push({
        fraction,
        rate: median(all.map((s) => s.offered)),
        p50: median(all.map((s) => s.p50)),
        p90: median(all.map((s) => s.p90)),
        p99: median(all.map((s) => s.p99)),
      });
    }
  }
  return series;
}
