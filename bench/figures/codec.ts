import { Codec } from '../../lib/codec';
import { MetricSet, type BenchContext, type Figure, type FigureResult } from '../lib/figure';
import { eachRun } from './common';

/*
 * Figure 7: decodes per second of a small codec (TS013, 4 bytes → 3 values) through the codec
 * sandbox as the node uses it (worker thread + vm context, hex in, payload and points out), with
 * N_DECODES uplinks in flight as a busy flow would have them.
 */
const N_DECODES = 100_000;
const IN_FLIGHT = 1000;
const SMALL_CODEC = `function decodeUplink(input) {
  var b = input.bytes;
  return { data: { temperature: ((b[0] << 8) | b[1]) / 10, humidity: b[2], battery: b[3] / 10 } };
}`;

export const codec: Figure = {
  id: 'codec',
  title: '7. Codec: decodes per second of a small TS013 codec in the sandbox',
  async run(ctx: BenchContext): Promise<FigureResult> {
    const metrics = new MetricSet();
    const notes: string[] = [];
    const runs: unknown[] = [];
    await eachRun(ctx, metrics, notes, async (run) => {
      const c = new Codec(SMALL_CODEC, { format: 'auto', timeoutMs: 50 });
      try {
        await c.functions();
        const started = process.hrtime.bigint();
        let next = 0;
        const worker = async () => {
          while (next < N_DECODES) {
            next++;
            await c.decodeUplink('00d7281e', 1, '2026-11-20T10:00:00.000+00:00');
          }
        };
        await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const rate = N_DECODES / seconds;
        runs.push({ run, decodes: N_DECODES, seconds });
        ctx.log(`  run ${run}: ${N_DECODES} decodes in ${seconds.toFixed(2)} s, ${rate.toFixed(0)}/s`);
        metrics.add('decodes per second (small codec)', '/s', rate, { goal: { op: '>=', value: 20000 } });
      } finally {
        await c.close();
      }
    });
    return {
      metrics: metrics.list(),
      notes: [...notes, `${N_DECODES} decodes, ${IN_FLIGHT} in flight, one codec (one worker)`],
      details: { runs },
    };
  },
};
