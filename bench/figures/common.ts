import * as fs from 'fs';
import * as path from 'path';
import type { BenchContext, MetricSet } from '../lib/figure';
import { formatProfile, summariseProfile, type ProfileSummary } from '../lib/profile';
import type { NodeRed } from '../lib/procs';
import { now, sleep, type Tracker } from '../lib/load';
import { STATS_PATH } from '../lib/flows';
import { repoRoot } from '../../testkit/paths';

/** node flags that make a Node-RED process write a CPU profile into bench/results/profiles/ on exit. */
export function profileArgs(ctx: BenchContext, name: string): string[] {
  if (!ctx.config.profile) return [];
  const dir = path.join(ctx.resultsDir, 'profiles');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.cpuprofile`);
  fs.rmSync(file, { force: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];
}

/** Stops a profiled Node-RED (so the profile is written) and summarises the profile. */
export async function collectProfile(
  ctx: BenchContext,
  red: NodeRed,
  name: string,
): Promise<ProfileSummary | undefined> {
  if (!ctx.config.profile) return undefined;
  await red.stop();
  const file = path.join(ctx.resultsDir, 'profiles', `${name}.cpuprofile`);
  if (!fs.existsSync(file)) {
    ctx.log(`  no profile written at ${file}`);
    return undefined;
  }
  const summary = summariseProfile(file);
  const text = formatProfile(summary);
  fs.writeFileSync(file.replace(/\.cpuprofile$/, '.txt'), text + '\n');
  ctx.log(text);
  return summary;
}

/** Sends `send(seq)` until one uplink is delivered: the flow is deployed and both ends connected. */
export async function waitEndToEnd(
  tracker: Tracker,
  send: (seq: number) => Promise<boolean>,
  what: string,
  red?: NodeRed,
  timeoutMs = 30000,
): Promise<void> {
  const end = now() + timeoutMs;
  while (tracker.received === 0) {
    if (now() > end) {
      throw new Error(`${what}: nothing delivered within ${timeoutMs} ms\n${red?.output ?? ''}`);
    }
    await send(tracker.allocate(now()));
    await tracker.waitProgress(500);
  }
  await tracker.settle(5000);
}

/** The platform connection's queue counters, read through the flow's stats endpoint. */
export interface QueueStatsReply {
  queued: number;
  pending: number;
  inflight: number;
  delivered: number;
  dropped: number;
  bytes: number;
  connection: string;
  storage: string;
}

export async function queueStats(red: NodeRed): Promise<QueueStatsReply> {
  const res = await fetch(`${red.url}${STATS_PATH}`, { signal: AbortSignal.timeout(10000) });
  if (!res.ok) throw new Error(`stats: HTTP ${res.status}`);
  return (await res.json()) as QueueStatsReply;
}

export async function waitFor(
  what: string,
  ms: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const end = now() + ms;
  while (!(await check())) {
    if (now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

export const MB = 1024 * 1024;

export const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * Runs `fn` for runs 1..BENCH_RUNS. A failed run is tried once more (another engineer's `npm run build`
 * may have emptied dist/ under a starting Node-RED), its values rolled back first; a run failing twice
 * ends the figure's runs, with a note, keeping the runs done so far.
 */
export async function eachRun(
  ctx: BenchContext,
  metrics: MetricSet,
  notes: string[],
  fn: (run: number) => Promise<void>,
): Promise<void> {
  for (let run = 1; run <= ctx.config.runs; run++) {
    const mark = metrics.mark();
    try {
      await fn(run);
    } catch (err) {
      metrics.rollback(mark);
      ctx.log(`  run ${run} failed, once more: ${(err as Error).message.split('\n')[0]}`);
      await waitForBuild();
      try {
        await fn(run);
      } catch (again) {
        metrics.rollback(mark);
        const text = (again as Error).stack ?? String(again);
        ctx.log(`  run ${run} failed again: ${text}`);
        notes.push(`FAILED run ${run} (twice): ${(again as Error).message.split('\n')[0]}`);
        return;
      }
    }
  }
}

async function waitForBuild(): Promise<void> {
  const pkg = path.join(repoRoot, 'package.json');
  const end = Date.now() + 120000;
  for (;;) {
    const nodes = Object.values(
      (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { 'node-red': { nodes: Record<string, string> } })[
        'node-red'
      ].nodes,
    );
    if (nodes.every((file) => fs.existsSync(path.join(repoRoot, file)))) return;
    if (Date.now() > end) return;
    await sleep(2000);
  }
}
