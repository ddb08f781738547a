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

  /** Drops expired tokens; true when none is left. */
  expireAll(now = Date.now()): boolean {
    this.evict(now);
    return this.seen.size === 0;
  }

  private evict(now: number): void {
    for (const [token, expires] of this.seen) {
      if (expires > now) break;
      this.seen.delete(token);
    }
  }
}

const guards = new Map<string, ReplayGuard>();

/**
 * The guard of one network config node and window, kept across redeploys (a redeploy recreates the
 * nodes while a captured request's Time may still be in the window). Guards left by removed config
 * nodes are dropped once all their tokens have expired.
 */
export function sharedReplayGuard(networkId: string, windowMs: number, now = Date.now()): ReplayGuard {
  for (const [key, guard] of guards) if (guard.expireAll(now)) guards.delete(key);
  const key = `${networkId}|${windowMs}`;
  let guard = guards.get(key);
  if (!guard) guards.set(key, (guard = new ReplayGuard(windowMs)));
  return guard;
}
