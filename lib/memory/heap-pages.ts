import { performance, type EventLoopUtilization } from 'perf_hooks';
import { exposedGc, type GcFunction } from './exposed-gc';

/**
 * Gives back to the system the memory a shrinking V8 heap keeps.
 *
 * Node.js 22 and later (V8 12+) keep the pages a heap gives up after a burst (an outage backlog written,
 * a drain, an ingest peak) mapped and resident for reuse: RSS stays at its high-water mark, a full GC
 * does not lower it, and on a gateway that memory is lost to everything else. V8's last-resort GC
 * (what it runs before giving up on memory) releases them. This watches the gap between RSS and the
 * V8 heap and, once it has grown by `thresholdBytes` over the smallest gap seen, runs one such GC
 * (about 0.1 s for a 50 MB live heap) when the process is calm again (the heap not growing, the event
 * loop mostly idle since the last reading: within a burst the pages would be taken again at once and
 * the pause would cost), at most once per `minGapMs`.
 */

export interface HeapReading {
  rss: number;
  heapTotal: number;
}

export interface HeapPageReleaseOptions {
  /** How often the gap is read. */
  everyMs?: number;
  /** Growth of the gap (RSS − V8 heap) over its smallest that makes a release worth its pause. */
  thresholdBytes?: number;
  /** Least time between two releases. */
  minGapMs?: number;
  read?: () => HeapReading;
  /** Share of the time since the last call the event loop was busy (0–1). */
  busy?: () => number;
  /** Runs the last-resort GC; undefined where it cannot be had. */
  collect?: (() => void) | undefined;
  now?: () => number;
}

export interface HeapPageReleaseStats {
  releases: number;
  /** RSS given back by all releases, in bytes. */
  freedBytes: number;
}

const MB = 1024 * 1024;
/** Above this share of busy event loop since the last reading, a burst is still on. */
const BUSY_SHARE = 0.5;

/** V8's last-resort collection: the one that gives the pooled pages back. */
export function lastResortGc(gc: GcFunction | undefined = exposedGc()): (() => void) | undefined {
  return gc && (() => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }));
}

/** Busy share of the event loop between two calls. */
function eventLoopBusy(): () => number {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return share;
  };
}

function readProcess(): HeapReading {
  const m = process.memoryUsage();
  return { rss: m.rss, heapTotal: m.heapTotal };
}

export class HeapPageRelease {
  readonly stats: HeapPageReleaseStats = { releases: 0, freedBytes: 0 };
  private readonly everyMs: number;
  private readonly thresholdBytes: number;
  private readonly minGapMs: number;
  private readonly read: () => HeapReading;
  private readonly busy: () => number;
  private readonly collect: (() => void) | undefined;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private smallestGap = Infinity;
  private lastHeapTotal = 0;
  private lastRelease = -Infinity;

  constructor(options: HeapPageReleaseOptions = {}) {
    this.everyMs = options.everyMs ?? 2000;
    this.thresholdBytes = options.thresholdBytes ?? 32 * MB;
    this.minGapMs = options.minGapMs ?? 10000;
    this.read = options.read ?? readProcess;
    this.busy = options.busy ?? eventLoopBusy();
    this.collect = 'collect' in options ? options.collect : lastResortGc();
    this.now = options.now ?? Date.now;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Starts reading; the first reading, now, is the floor a later burst is measured from. */
  start(): void {
    if (this.timer || !this.collect) return;
    const r = this.read();
    this.smallestGap = Math.min(this.smallestGap, r.rss - r.heapTotal);
    this.lastHeapTotal = r.heapTotal;
    this.timer = setInterval(() => this.check(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reading; releases when it is worth it. True when it released. */
  check(): boolean {
    const r = this.read();
    const gap = r.rss - r.heapTotal;
    const growing = r.heapTotal > this.lastHeapTotal;
    this.lastHeapTotal = r.heapTotal;
    const busy = this.busy() > BUSY_SHARE;
    if (gap < this.smallestGap) this.smallestGap = gap;
    if (!this.collect || growing || busy || gap - this.smallestGap < this.thresholdBytes) return false;
    if (this.now() - this.lastRelease < this.minGapMs) return false;
    this.lastRelease = this.now();
    this.collect();
    const after = this.read();
    this.busy(); // the GC's own pause is not load
    this.lastHeapTotal = after.heapTotal;
    const freed = Math.max(0, r.rss - after.rss);
    this.stats.releases++;
    this.stats.freedBytes += freed;
    // What did not come back is not the heap's: count it as the new floor, not as a reason to try again.
    const afterGap = after.rss - after.heapTotal;
    if (afterGap - this.smallestGap >= this.thresholdBytes / 2) this.smallestGap = afterGap;
    return true;
  }
}
