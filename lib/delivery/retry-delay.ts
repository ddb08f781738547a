import type { RetryOptions } from './types';

/** Delay before the next attempt after `failures` consecutive failures (≥ 1): exponential, capped, jittered. */
export function retryDelay(
  failures: number,
  options: RetryOptions = {},
  random: () => number = Math.random,
): number {
  const initialMs = options.initialMs ?? 1000;
  const maxMs = options.maxMs ?? 60000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const ceiling = Math.min(maxMs, initialMs * factor ** Math.min(Math.max(0, failures - 1), 64));
  return Math.max(0, Math.round(ceiling * (1 - jitter * random())));
}
