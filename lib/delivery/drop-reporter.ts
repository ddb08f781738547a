/** Sums drops and reports them at most once per interval, so a burst gives one report, not one per entry. */
export class DropReporter {
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly report: (count: number) => void,
  ) {}

  add(count: number): void {
    if (count <= 0) return;
    this.pending += count;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.intervalMs);
    this.timer.unref();
  }

  /** Reports what is pending now (used on close). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const count = this.pending;
    this.pending = 0;
    if (count > 0) this.report(count);
  }
}
