import { documentEntries, PipePool } from '../../lib/thingworx';
import { AlwaysOnProcess, APP_KEY, templateProperties, type AlwaysOnStats } from '../lib/alwayson';
import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import { emptyFlow, thingworxFlow } from '../lib/flows';
import { closedLoop, devEUIs, now, publisher, publishQos1, sleep, Tracker, uplinkBody } from '../lib/load';
import { Broker, NodeRed, peakRssOf, resetPeakRss, using } from '../lib/procs';
import { collectProfile, eachRun, MB, pct, profileArgs, queueStats, waitEndToEnd, waitFor } from './common';

/*
 * Figure 4: ThingWorx. Our strict AlwaysOn test server runs in a process of its own (bench/lib/alwayson.ts)
 * holding N Things of our template. A Node-RED started with an empty flow gets `uplink in` (IoT Flow MQTT)
 * → `thingworx out` deployed through the admin API; timed from the deploy until the server has every
 * Thing bound. Then IoT Flow uplinks spread over the N devices are pushed as uplinkData (closed loop,
 * counted when the server stored them), side by side with the ceiling: our AlwaysOn client (PipePool) in
 * the bench process pushing the same property values straight to the same server, no Node-RED.
 */

interface PushResult {
  rate: number;
  p50: number;
  p99: number;
  lost: number;
  duplicates: number;
  /** Node-RED (ours) or the bench process (raw): CPU time per uplink, µs. */
  cpuUsPerUplink: number;
  serverCpuUsPerUplink: number;
  /** The AlwaysOn server's JavaScript thread: share of the time on a CPU. */
  serverBusy: number;
  /** Bytes on the wire per uplink: edge → platform, platform → edge (TCP, as the server's sockets count them). */
  bytesInPerUplink: number;
  bytesOutPerUplink: number;
  /** Whether the side's sockets negotiated permessage-deflate. */
  compressed: boolean;
  mainThreadBusy?: number;
  mainThreadStarved?: number;
}

interface BindResult {
  things: number;
  /** Deploy → every Thing bound, and its parts (s). */
  totalS: number;
  untilAuthS: number;
  listingS: number;
  bindingS: number;
  /** Every Thing bound → the connection says connected (s). */
  connectedAfterS: number;
  nodeRedCpuMs: number;
  serverCpuMs: number;
  bindMessages: number;
  rssBefore: number;
  rssPeak: number;
  rssBound: number;
}

export const thingworx: Figure = {
  id: 'thingworx',
  title:
    '4. ThingWorx: bind N Things at deploy, then uplinks pushed as uplinkData, ours vs raw AlwaysOn client',
  async run(ctx: BenchContext): Promise<FigureResult> {
    const { config } = ctx;
    const N = config.twxThings;
    const metrics = new MetricSet();
    const runs: unknown[] = [];
    const profiles: unknown[] = [];
    const notes: string[] = [];
    const devices = devEUIs(N);
    const properties = templateProperties();
    const k = (n: number) => (n >= 1000 ? `${(n / 1000).toLocaleString('en-US')}k` : String(n));

    await eachRun(ctx, metrics, notes, async (run) => {
      await using(async (own) => {
        const server = own(new AlwaysOnProcess(N));
        const broker = own(new Broker());
        await Promise.all([server.start(), broker.start()]);
        const red = own(
          new NodeRed({
            name: 'ours-thingworx',
            flows: emptyFlow(),
            nodeArgs: profileArgs(ctx, `thingworx-run${run}`),
          }),
        );
        await red.start();

        // ---- bind at deploy
        await sleep(1000);
        const rssBefore = red.rss();
        await server.resetMarks();
        const peakReset = resetPeakRss(red.pid);
        const cpu0 = red.cpuMs();
        const scpu0 = server.cpuMs();
        const t0 = now();
        await red.deploy(
          thingworxFlow(broker.port, server.port, APP_KEY, config.twxPipes, config.twxCompression),
        );
        let stats: AlwaysOnStats | undefined;
        await waitFor(`${N} Things bound`, 60000 + 3 * N, async () => {
          stats = await server.stats();
          return stats.marks.boundAllAt !== undefined;
        });
        const cpu1 = red.cpuMs();
        const scpu1 = server.cpuMs();
        const boundAt = stats!.marks.boundAllAt!;
        await waitFor('ThingWorx connected', 30000, async () => {
          return (await queueStats(red)).connection === 'connected';
        });
        const connectedAt = now();
        await sleep(2000);
        const rssPeak = peakReset ? peakRssOf(red.pid) : NaN;
        const m = stats!.marks;
        const bind: BindResult = {
          things: stats!.boundCount,
          totalS: (boundAt - t0) / 1000,
          untilAuthS: ((m.authAt ?? NaN) - t0) / 1000,
          listingS: ((m.listLastAt ?? NaN) - (m.listFirstAt ?? NaN)) / 1000,
          bindingS: (boundAt - (m.bindFirstAt ?? NaN)) / 1000,
          connectedAfterS: (connectedAt - boundAt) / 1000,
          nodeRedCpuMs: cpu1 - cpu0,
          serverCpuMs: scpu1 - scpu0,
          bindMessages: stats!.bindMessages,
          rssBefore,
          rssPeak,
          rssBound: red.rss(),
        };
        ctx.log(
          `  run ${run} bind: ${N} Things in ${bind.totalS.toFixed(2)} s (deploy → AUTH ${bind.untilAuthS.toFixed(2)} s, ` +
            `listing ${bind.listingS.toFixed(2)} s, binding ${bind.bindingS.toFixed(2)} s in ${bind.bindMessages} BINDs); ` +
            `Node-RED ${bind.nodeRedCpuMs.toFixed(0)} ms CPU, server ${bind.serverCpuMs.toFixed(0)} ms; ` +
            `RSS ${(rssBefore / MB).toFixed(1)} → ${(bind.rssBound / MB).toFixed(1)} MB (peak ${(rssPeak / MB).toFixed(1)})`,
        );

        // ---- uplinks pushed as uplinkData
        const pub = await publisher(broker.url);
        const pool = new PipePool({
          host: '127.0.0.1',
          port: server.port,
          appKey: APP_KEY,
          allowInsecure: true,
          pipeCount: config.twxPipes,
          // The reference without permessage-deflate: what compression saves (bytes) and costs (CPU) shows against it.
          compression: false,
        });
        try {
          const measure = async (side: 'ours' | 'raw'): Promise<PushResult> => {
            const tracker = new Tracker();
            server.onDelivered = (fCnt, at) => tracker.delivered(fCnt, at);
            const send =
              side === 'ours'
                ? (seq: number) => {
                    const dev = devices[seq % N];
                    const doc = JSON.stringify({ DevEUI_uplink: uplinkBody('full', dev, seq) });
                    return publishQos1(pub, `mqtt/things/${dev}/uplink`, doc);
                  }
                : (seq: number) => {
                    // What the connector pushes for this document: uplinkData plus the template's flattened values.
                    const dev = devices[seq % N];
                    const body = uplinkBody('full', dev, seq);
                    const entries = documentEntries(
                      { DevEUI_uplink: body },
                      Date.parse(String(body.Time)),
                      properties,
                    );
                    return pool.updateProperties(dev, entries).then(
                      () => true,
                      () => false,
                    );
                  };
            if (side === 'raw') {
              pool.start();
              await pool.whenConnected(15000);
            }
            await waitEndToEnd(tracker, send, `${side} ThingWorx push`, red);
            const loop = { concurrency: config.window, window: config.window };
            await closedLoop(tracker, send, { ...loop, ms: config.warmupS * 1000 });
            const cpuA = side === 'ours' ? red.cpuMs() : 0;
            const ownA = process.cpuUsage();
            const scpuA = server.cpuMs();
            const wireA = await server.stats();
            const meter = red.threadMeter();
            const serverMeter = server.threadMeter();
            const ta = now();
            await closedLoop(tracker, send, { ...loop, ms: config.durationS * 1000 });
            const tb = now();
            const thread = meter.read();
            const serverThread = serverMeter.read();
            const cpuB = side === 'ours' ? red.cpuMs() : 0;
            const own = process.cpuUsage(ownA);
            const scpuB = server.cpuMs();
            const wireB = await server.stats();
            await tracker.settle(10000);
            const rate = tracker.deliveryRate(ta, tb);
            const lat = tracker.latency(ta, tb);
            const uplinks = (rate * (tb - ta)) / 1000;
            const cpuMs = side === 'ours' ? cpuB - cpuA : (own.user + own.system) / 1000;
            return {
              rate,
              p50: lat.p50,
              p99: lat.p99,
              lost: lat.lost,
              duplicates: tracker.duplicates,
              cpuUsPerUplink: (cpuMs * 1000) / uplinks,
              serverCpuUsPerUplink: ((scpuB - scpuA) * 1000) / uplinks,
              serverBusy: serverThread.busy,
              bytesInPerUplink: (wireB.wireIn - wireA.wireIn) / uplinks,
              bytesOutPerUplink: (wireB.wireOut - wireA.wireOut) / uplinks,
              // Ours' sockets and the raw pool's are open together while raw is measured: raw counts as compressed
              // only if every socket is.
              compressed: side === 'ours' ? wireB.compressed > 0 : wireB.compressed === wireB.connections,
              mainThreadBusy: side === 'ours' ? thread.busy : undefined,
              mainThreadStarved: side === 'ours' ? thread.starved : undefined,
            };
          };
          const order: Array<'ours' | 'raw'> = run % 2 ? ['ours', 'raw'] : ['raw', 'ours'];
          const result: Partial<Record<'ours' | 'raw', PushResult>> = {};
          for (const side of order) {
            const r = (result[side] = await measure(side));
            ctx.log(
              `  run ${run} ${side}: ${r.rate.toFixed(0)} uplinks/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ` +
                `${side === 'ours' ? 'Node-RED' : 'bench client'} ${r.cpuUsPerUplink.toFixed(0)} µs CPU/uplink, ` +
                `server ${r.serverCpuUsPerUplink.toFixed(0)} µs/uplink (${pct(r.serverBusy)} busy), ` +
                `wire ${r.bytesInPerUplink.toFixed(0)} B in / ${r.bytesOutPerUplink.toFixed(0)} B out per uplink ` +
                `(${r.compressed ? 'permessage-deflate' : 'uncompressed'})` +
                (r.mainThreadBusy !== undefined
                  ? `, Node-RED main thread ${pct(r.mainThreadBusy)} busy ${pct(r.mainThreadStarved!)} waiting for a CPU`
                  : ''),
            );
          }
          const ours = result.ours!;
          const raw = result.raw!;
          const rssEnd = red.rss();
          const serverStats = await server.stats();
          if (serverStats.violations.length > 0) {
            throw new Error(`AlwaysOn protocol violations: ${serverStats.violations.slice(0, 3).join('; ')}`);
          }

          metrics.add(`bind time, ${k(N)} Things (deploy → all bound)`, 's', bind.totalS, { digits: 2 });
          metrics.add('  of which listing them', 's', bind.listingS, { digits: 2 });
          metrics.add('  of which binding them', 's', bind.bindingS, { digits: 2 });
          metrics.add('Node-RED CPU per 1000 Things bound', 'ms', (bind.nodeRedCpuMs * 1000) / N, {
            digits: 1,
          });
          metrics.add('Node-RED RSS before deploy (empty flow)', 'MB', rssBefore / MB, { digits: 1 });
          metrics.add(`Node-RED RSS, ${k(N)} Things bound`, 'MB', bind.rssBound / MB, { digits: 1 });
          metrics.add('Node-RED RSS peak (deploy → 2 s after bound)', 'MB', rssPeak / MB, { digits: 1 });
          metrics.add('ours: uplinks/s pushed as uplinkData', '/s', ours.rate);
          metrics.add('raw AlwaysOn client: uplinks/s', '/s', raw.rate);
          metrics.add('ours / raw throughput', '×', ours.rate / raw.rate);
          metrics.add('ours: latency p50', 'ms', ours.p50, { digits: 1 });
          metrics.add('ours: latency p99', 'ms', ours.p99, { digits: 1 });
          metrics.add('ours: Node-RED CPU per uplink', 'µs', ours.cpuUsPerUplink);
          metrics.add('server CPU per uplink (own process)', 'µs', ours.serverCpuUsPerUplink);
          metrics.add('raw (no Node-RED): client CPU per uplink, uncompressed', 'µs', raw.cpuUsPerUplink);
          metrics.add('raw: server CPU per uplink, uncompressed', 'µs', raw.serverCpuUsPerUplink);
          metrics.add('ours: bytes on the wire per uplink, edge → platform', 'B', ours.bytesInPerUplink);
          metrics.add('ours: bytes on the wire per uplink, platform → edge', 'B', ours.bytesOutPerUplink);
          metrics.add('raw, uncompressed: bytes per uplink, edge → platform', 'B', raw.bytesInPerUplink);
          metrics.add('raw, uncompressed: bytes per uplink, platform → edge', 'B', raw.bytesOutPerUplink);
          metrics.add('Node-RED RSS after pushing', 'MB', rssEnd / MB, { digits: 1 });
          runs.push({ run, order, bind, ours, raw, rssEnd, server: serverStats });
        } finally {
          server.onDelivered = undefined;
          await pool.close(500);
          await pub.endAsync(true);
        }
        const p = await collectProfile(ctx, red, `thingworx-run${run}`);
        if (p) profiles.push(p);
      });
    });
    return {
      metrics: metrics.list(),
      notes: [
        ...notes,
        `${N} Things, ${config.twxPipes} AlwaysOn socket(s); the strict AlwaysOn test server in its own process ` +
          `(its CPU is not Node-RED's; it shares the 2 cores); uplinks over IoT Flow MQTT, at most ${config.window} ` +
          `undelivered, counted when the server stored them; raw = our PipePool in the bench process, no BIND, same values, ` +
          `without permessage-deflate (` +
          (config.twxCompression
            ? 'ours offers it and the server accepts'
            : 'ours does not offer it either: BENCH_TWX_COMPRESSION=0') +
          `; bytes on the wire are TCP bytes counted by the server's sockets)`,
      ],
      details: { runs, profiles },
    };
  },
};
