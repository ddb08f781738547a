import * as v8 from 'v8';
import * as vm from 'vm';

export type GcFunction = (options?: { type?: string; execution?: string; flavor?: string }) => void;

/**
 * V8's gc() from a fresh context, with --expose-gc set only for as long as it takes to get it, so
 * contexts made afterwards (function nodes) do not see it. Undefined where V8 refuses.
 */
export function exposedGc(): GcFunction | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as GcFunction | undefined;
    return typeof gc === 'function' ? gc : undefined;
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}
