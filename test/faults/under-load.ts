import type { Memory } from './checks';
import { describeMemory } from './checks';
import { faultSeed, faultTimes, noteRefusals, seededRandom } from './rig';
import type { FaultStage } from './stage';
import { sleep } from './traffic';

export interface UnderLoadOptions {
  devices: string[];
  /** Uplinks sent before the faults start (the memory baseline is taken after them). */
  warmup: number;
  /** Uplinks in all, warm-up included. */
  total: number;
  rate: number;
  faults: number;
  /** Least time between two faults. */
  gapMs: number;
  /** Injects one fault; returns what it did, for the log. */
  fault: (random: () => number) => Promise<string>;
  /** How long delivery may take once the last uplink is sent. */
  settleMs?: number;
}

export interface UnderLoadResult {
  settled: boolean;
  before: Memory;
  after: Memory;
}

/**
 * Sends a steady load with faults injected at random moments (seeded, the seed printed), waits until
 * everything accepted was delivered, and measures Node-RED's memory before the faults and after
 * recovery (both after a full garbage collection).
 */
export async function runUnderFaults(
  stage: FaultStage,
  what: string,
  options: UnderLoadOptions,
): Promise<UnderLoadResult> {
  const random = seededRandom(faultSeed(what));
  const { ledger } = stage;
  const { devices, warmup, total, rate } = options;

  await stage.load({ devices, rate, total: warmup }).run();
  if (!(await ledger.settled(15000)))
    throw new Error(`warm-up not delivered: ${JSON.stringify(ledger.summary())}`);
  const before = await stage.memory();

  const sending = stage.load({ devices, rate, total: total - warmup }).run();
  const durationMs = ((total - warmup) * 1000) / rate;
  const started = Date.now();
  const faulting = (async () => {
    for (const at of faultTimes(random, options.faults, 500, durationMs - 1000, options.gapMs)) {
      await sleep(Math.max(0, at - (Date.now() - started)));
      const did = await options.fault(random);
      console.log(`      ${Date.now() - started} ms: ${did} (${ledger.deliveredCount} delivered so far)`);
    }
  })();
  await Promise.all([sending, faulting]);
  const settled = await ledger.settled(options.settleMs ?? 25000);
  noteRefusals(stage.red, ledger);
  const rssBeforeGc = stage.rss();
  const after = await stage.memory();
  console.log(`      ${JSON.stringify(ledger.summary())}`);
  console.log(
    `      memory after GC: ${describeMemory(before)} before the faults, ${describeMemory(after)} after` +
      ` (RSS ${(rssBeforeGc / 1048576).toFixed(1)} MB before that GC)`,
  );
  return { settled, before, after };
}
