// Run by young-generation.test.ts in a child process started with --max-semi-space-size=64: a burst
// whose objects survive a few rounds, with or without the cap; prints the young generation's largest
// size (MB) on one JSON line.
import * as v8 from 'v8';
import { capYoungGeneration } from '../../lib/memory';

const MB = 1024 * 1024;
const newSpace = () =>
  (v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / MB;

async function main(mode: string): Promise<void> {
  const letGo = mode === 'capped' ? capYoungGeneration(32 * MB) : () => undefined;
  const kept: unknown[][] = [];
  let largest = newSpace();
  for (let round = 0; round < 2000; round++) {
    const batch: unknown[] = [];
    for (let i = 0; i < 2000; i++) batch.push({ text: `uplink ${i} ${round}`, fields: [i, round, { i }] });
    kept.push(batch);
    if (kept.length > 20) kept.shift();
    largest = Math.max(largest, newSpace());
    // The cap acts after minor collections, reported between turns of the event loop.
    if (round % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  letGo();
  process.stdout.write(`${JSON.stringify({ largest })}\n`);
}

void main(process.argv[2] ?? 'free');
