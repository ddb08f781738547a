/**
 * Remembers the tokens of recently accepted tunnel requests so a captured request cannot be replayed
 * while its Time is still inside the window. Bounded in count.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries = 50000,
  ) {}

  /** True the first time a token is seen within the window. */
  accept(token: string, now = Date.now()): boolean {
    this.evict(now);
    if (this.seen.has(token)) return false;
    if (this.seen.size >= this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(token, now + this.windowMs);
    return true;
  }

  private evict(now: number): void {
    for (const [token, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(token);
    }
  }
}
