import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ack, type DeliveryResult, type QueueEntry } from '../../lib/delivery';

/** Temporary queue files, each in its own directory, removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tp-queue-'));
    this.dirs.push(dir);
    return path.join(dir, 'queue.sqlite');
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  }
}

type Closable = { close(options?: { drainMs?: number }): Promise<void> };

/**
 * Queue files for a suite's tests, and the queues they open: after each test the queues are closed
 * (without waiting for deliveries) and the files removed.
 */
export function queueSandbox(): { file(): string; track<Q extends Closable>(queue: Q): Q } {
  const dirs = new TempDirs();
  const opened: Closable[] = [];
  afterEach(async () => {
    for (const queue of opened.splice(0)) await queue.close({ drainMs: 0 });
    dirs.cleanup();
  });
  return {
    file: () => dirs.make(),
    track: (queue) => {
      opened.push(queue);
      return queue;
    },
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Body {
  n: number;
  [k: string]: unknown;
}

/** A deliver function that records every attempt and answers with `answer` (ack by default). */
export function recorder(
  answer: (e: QueueEntry<Body>) => DeliveryResult | Promise<DeliveryResult> = () => ack(),
) {
  const attempts: Array<QueueEntry<Body>> = [];
  const acked: Array<QueueEntry<Body>> = [];
  const deliver = async (e: QueueEntry<Body>): Promise<DeliveryResult> => {
    attempts.push(e);
    const r = await answer(e);
    if (r.kind === 'ack') acked.push(e);
    return r;
  };
  /** Acked bodies' n, per key, in ack order. */
  const byKey = (): Map<string, number[]> => {
    const m = new Map<string, number[]>();
    for (const e of acked) {
      let list = m.get(e.key);
      if (!list) m.set(e.key, (list = []));
      list.push(e.body.n);
    }
    return m;
  };
  return { deliver, attempts, acked, byKey };
}

export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}
