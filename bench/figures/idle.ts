import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import { APP_KEY, AlwaysOnProcess } from '../lib/alwayson';
import { emptyFlow, idleCredentials, idleFlow } from '../lib/flows';
import { sleep } from '../lib/load';
import { Broker, NodeRed, connectionsTo, using } from '../lib/procs';
import { MB, eachRun, waitFor } from './common';
import { CEILING_CONNECTIONS, monitorCeilingBytes } from './monitor-ceiling';

/*
 * Figure 6: resident memory of an idle Node-RED: alone (no package, empty flow), with the package
 * installed (empty flow), and with a flow per platform deployed (uplink in → wmw out, thingworx out,
 * cumulocity out; downlink in → downlink out; WMW and Cumulocity connected to a local broker, ThingWorx
 * to the AlwaysOn test server in its own process). The three run side by side and are read after
 * BENCH_IDLE_SETTLE_S seconds. Then the ceiling of the sidebar's history (monitor-ceiling.ts): what it holds
 * full, whatever runs, on top of these figures.
 */

export const idle: Figure = {
  id: 'idle',
  title: '6. Idle memory: Node-RED with the package and a flow per platform vs Node-RED alone',
  async run(ctx: BenchContext): Promise<FigureResult> {
    const { config } = ctx;
    const metrics = new MetricSet();
    const runs: unknown[] = [];
    const notes: string[] = [];
    await eachRun(ctx, metrics, notes, async (run) => {
      await using(async (own) => {
        const broker = own(new Broker());
        await broker.start();
        const alwaysOn = own(new AlwaysOnProcess(10));
        await alwaysOn.start();
        const alone = own(new NodeRed({ name: 'alone', flows: emptyFlow(), withPackage: false }));
        const loaded = own(new NodeRed({ name: 'package, empty flow', flows: emptyFlow() }));
        const flows = own(
          new NodeRed({
            name: 'package + flows',
            flows: idleFlow(broker.port, alwaysOn.port),
            credentials: idleCredentials(APP_KEY),
          }),
        );
        await Promise.all([alone.start(), loaded.start(), flows.start()]);
        // WMW and Cumulocity (the only clients of that broker) and ThingWorx are up before the settle time.
        await waitFor('WMW and Cumulocity connected', 20000, () => connectionsTo(broker.port) >= 2);
        await waitFor('ThingWorx connected', 20000, () => connectionsTo(alwaysOn.port) > 0);
        await sleep(config.idleSettleS * 1000);
        const r = { run, alone: alone.rss(), loaded: loaded.rss(), flows: flows.rss() };
        runs.push(r);
        ctx.log(
          `  run ${run}: alone ${(r.alone / MB).toFixed(1)} MB, package ${(r.loaded / MB).toFixed(1)} MB, ` +
            `package + flows ${(r.flows / MB).toFixed(1)} MB`,
        );
        metrics.add('Node-RED alone (empty flow)', 'MB', r.alone / MB, { digits: 1 });
        metrics.add('with the package (empty flow)', 'MB', r.loaded / MB, { digits: 1 });
        metrics.add('with the package + a flow per platform', 'MB', r.flows / MB, { digits: 1 });
        metrics.add('cost of package + flows (− alone)', 'MB', (r.flows - r.alone) / MB, { digits: 1 });
      });
    });
    const ceiling = monitorCeilingBytes();
    ctx.log(`  sidebar history at its ceiling: ${(ceiling / MB).toFixed(2)} MB`);
    metrics.add('sidebar history at its ceiling (heap after GC)', 'MB', ceiling / MB, { digits: 2 });
    return {
      metrics: metrics.list(),
      notes: [
        ...notes,
        `VmRSS after ${config.idleSettleS} s idle; platforms deployed: WMW, ThingWorx (1 pipe), Cumulocity`,
        `sidebar history at its ceiling: 1 000 devices × 20 uplinks (text fields at their 64-character bound) and an hour per minute for ${CEILING_CONNECTIONS} connections, measured in the bench process (heap + array buffers after GC); it grows no further`,
      ],
      details: { runs },
    };
  },
};
