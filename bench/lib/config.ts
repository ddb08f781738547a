/** Every knob of the benchmark, read from the environment once (see bench/README.md). */

function num(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, not ${raw}`);
  return value;
}

function list(name: string): string[] | undefined {
  const raw = process.env[name];
  if (!raw) return undefined;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export interface BenchConfig {
  /** Runs per figure; every figure reports the median and min–max over them. */
  runs: number;
  /** Multiplies the sizes: outage uplinks, ThingWorx Things, new Cumulocity devices (BENCH_SCALE=0.05: a quick run). */
  scale: number;
  /** Figures to run (ids), all when unset. */
  figures?: string[];
  /** Seconds of sustained load measured per throughput figure, after `warmupS`. */
  durationS: number;
  warmupS: number;
  /** Seconds per latency step (figure 1 chart), after a short warm-up. */
  stepS: number;
  /** Load of each latency step, as a fraction of the slower side's sustained rate. */
  steps: number[];
  devices: number;
  /** HTTP requests in flight at once (figure 1). */
  httpConcurrency: number;
  /** Uplinks sent but not yet seen at the subscriber, at most (closed-loop flow control). */
  window: number;
  /** Uplinks queued during the outage (figure 3). */
  outageCount: number;
  /** Uplinks fed but not yet in the queue, at most (figure 3). */
  outageWindow: number;
  /** Seconds Node-RED is left alone before its idle RSS is read (figure 6). */
  idleSettleS: number;
  /** Things on the AlwaysOn test server, all bound at deploy (figure 4; 100 000 × BENCH_SCALE). */
  twxThings: number;
  /** AlwaysOn sockets of the ThingWorx connection (figure 4). */
  twxPipes: number;
  /** The ThingWorx connection offers permessage-deflate (figure 4; its default, on). */
  twxCompression: boolean;
  /** New devices registered by their first uplink under load (figure 5; 10 000 × BENCH_SCALE). */
  c8yDevices: number;
  /** New and registered devices sent one at a time, for the unloaded first-uplink latency (figure 5). */
  c8yProbes: number;
  /** Profile the Node-RED processes under load (node --cpu-prof) and summarise the profiles. */
  profile: boolean;
}

export function readConfig(): BenchConfig {
  const scale = num('BENCH_SCALE', 1);
  const steps = list('BENCH_STEPS')?.map(Number) ?? [0.2, 0.4, 0.6, 0.8, 1.0];
  if (steps.some((s) => !Number.isFinite(s) || s <= 0)) throw new Error('BENCH_STEPS: positive fractions');
  return {
    runs: Math.round(num('BENCH_RUNS', 3)),
    scale,
    figures: list('BENCH_FIGURES'),
    durationS: num('BENCH_DURATION_S', 6),
    warmupS: num('BENCH_WARMUP_S', 2),
    stepS: num('BENCH_STEP_S', 2.5),
    steps,
    devices: Math.round(num('BENCH_DEVICES', 1000)),
    httpConcurrency: Math.round(num('BENCH_HTTP_CONCURRENCY', 48)),
    window: Math.round(num('BENCH_WINDOW', 256)),
    outageCount: Math.round(num('BENCH_OUTAGE_COUNT', 200000) * scale),
    outageWindow: Math.round(num('BENCH_OUTAGE_WINDOW', 5000)),
    idleSettleS: num('BENCH_IDLE_SETTLE_S', 10),
    twxThings: Math.max(1, Math.round(num('BENCH_TWX_THINGS', 100000) * scale)),
    twxPipes: Math.round(num('BENCH_TWX_PIPES', 1)),
    twxCompression: process.env.BENCH_TWX_COMPRESSION !== '0',
    c8yDevices: Math.max(1, Math.round(num('BENCH_C8Y_DEVICES', 10000) * scale)),
    c8yProbes: Math.round(num('BENCH_C8Y_PROBES', 50)),
    profile: process.env.BENCH_PROFILE === '1',
  };
}
