export const HISTORY_MINUTES = 60;
const MINUTE_MS = 60000;

/** One minute of a history: the highest gauge sampled in it and how much the counter grew. */
export interface MinutePoint {
  /** Start of the minute, ms since the epoch. */
  t: number;
  gauge: number;
  count: number;
}

/**
 * Per-minute figures of the last hour in fixed arrays (about 1 KiB whatever runs): a gauge (queued
 * entries) kept at its highest in each minute, and a growing total (delivered) kept as its growth per
 * minute. Minutes nobody sampled (Node-RED stopped) stay out of `points()`.
 */
export class MinuteHistory {
  private readonly gauge: Float64Array;
  private readonly count: Float64Array;
  private readonly sampled: Uint8Array;
  /** Minute number (ms / 60 000) of the newest slot, -1 before the first sample. */
  private minute = -1;
  private lastTotal: number | undefined;

  constructor(readonly minutes = HISTORY_MINUTES) {
    this.gauge = new Float64Array(minutes);
    this.count = new Float64Array(minutes);
    this.sampled = new Uint8Array(minutes);
  }

  /** Records the gauge now and the counter's total now (a total that went down starts again from 0). */
  sample(now: number, gauge: number, total: number): void {
    const minute = Math.floor(now / MINUTE_MS);
    if (minute < this.minute) return; // the clock went back: keep what we have
    this.advanceTo(minute);
    const i = minute % this.minutes;
    const grown = this.lastTotal === undefined ? 0 : total >= this.lastTotal ? total - this.lastTotal : total;
    this.lastTotal = total;
    if (!this.sampled[i]) {
      this.sampled[i] = 1;
      this.gauge[i] = gauge;
      this.count[i] = grown;
    } else {
      if (gauge > this.gauge[i]) this.gauge[i] = gauge;
      this.count[i] += grown;
    }
  }

  /** The sampled minutes of the last `minutes`, oldest first. */
  points(now: number): MinutePoint[] {
    this.advanceTo(Math.floor(now / MINUTE_MS));
    const out: MinutePoint[] = [];
    if (this.minute < 0) return out;
    for (let m = this.minute - this.minutes + 1; m <= this.minute; m++) {
      if (m < 0) continue;
      const i = m % this.minutes;
      if (this.sampled[i]) out.push({ t: m * MINUTE_MS, gauge: this.gauge[i], count: this.count[i] });
    }
    return out;
  }

  private advanceTo(minute: number): void {
    if (minute <= this.minute) return;
    const from = this.minute < 0 ? minute : Math.max(this.minute + 1, minute - this.minutes + 1);
    for (let m = from; m <= minute; m++) this.sampled[m % this.minutes] = 0;
    this.minute = minute;
  }
}
