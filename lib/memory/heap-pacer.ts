import * as v8 from 'v8';
import { exposedGc, type GcFunction } from './exposed-gc';

const MB = 1024 * 1024;

export interface HeapPacerOptions {
  /** Garbage allowed on top of what was live after the last major collection. */
  headroomBytes?: number;
  /** How often the heap is read (a few microseconds each). */
  everyMs?: number;
  /** Runs a major collection; undefined where it cannot be had. */
  collect?: (() => void) | undefined;
  /** Bytes of the V8 heap in use now. */
  used?: () => number;
}

/**
 * Keeps the V8 heap within `headroomBytes` of what was live after the last major collection. V8 sizes
 * its heap for the machine's memory, not for the share a gateway gives Node-RED: during a burst (an
 * outage backlog pouring in) it let garbage pile up to ~300 MB before collecting, with 60 MB live
 * (bench figure 3). A major collection of a heap that is mostly garbage is short (10–30 ms).
 */
export class HeapPacer {
  collections = 0;
  readonly headroom: number;
  private readonly everyMs: number;
  private readonly collect: (() => void) | undefined;
  private readonly used: () => number;
  private timer: NodeJS.Timeout | undefined;
  private floor = Infinity;

  constructor(options: HeapPacerOptions = {}) {
    this.headroom = options.headroomBytes ?? 64 * MB;
    this.everyMs = options.everyMs ?? 100;
    this.collect = 'collect' in options ? options.collect : majorGc();
    this.used = options.used ?? (() => v8.getHeapStatistics().used_heap_size);
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer || !this.collect || this.headroom <= 0) return;
    this.floor = this.used();
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reading; collects when the garbage on top of the live heap reached the headroom. */
  tick(): boolean {
    const used = this.used();
    // V8 collected on its own: what is left is the new floor.
    if (used < this.floor) this.floor = used;
    if (!this.collect || used - this.floor < this.headroom) return false;
    this.collect();
    this.collections++;
    this.floor = this.used();
    return true;
  }
}

/** An ordinary, synchronous major collection. */
export function majorGc(gc: GcFunction | undefined = exposedGc()): (() => void) | undefined {
  return gc && (() => gc({ type: 'major', execution: 'sync' }));
}
