import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';

/*
 * Loaded into a Node-RED process with `--require` (figure 3): watches its event loop with
 * perf_hooks.monitorEventLoopDelay. On SIGURG (ignored by default; Node-RED exits on SIGUSR2) it writes what it saw since the last signal to
 * `<tmp>/bench-loop-delay-<pid>.json` (read by `readLoopDelay` in outage.ts) and starts again: so the bench reads one phase at a time (queueing, draining).
 */

const histogram = monitorEventLoopDelay({ resolution: 5 });
histogram.enable();
process.on('SIGURG', () => {
  const ms = (ns: number) => ns / 1e6;
  const seen = {
    p50: ms(histogram.percentile(50)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    samples: histogram.count,
  };
  histogram.reset();
  fs.writeFileSync(path.join(os.tmpdir(), `bench-loop-delay-${process.pid}.json`), JSON.stringify(seen));
});
