/**
 * A setting from Node-RED's environment for one of the package's V8 bounds: unset, empty or `on` is
 * `fallback`, `off` is 0, an integer within [min, max] is itself, anything else `fallback`.
 */
export function boundSetting(
  setting: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (setting === undefined || setting === '' || setting === 'on') return fallback;
  if (setting === 'off') return 0;
  const value = Number(setting);
  return Number.isInteger(value) && value >= min && value <= max ? value : fallback;
}

/** True when a V8 flag matching `flag` was given on Node.js's command line or in NODE_OPTIONS. */
export function flagGivenByUser(flag: RegExp, execArgv: readonly string[], nodeOptions: string): boolean {
  return execArgv.some((a) => flag.test(a)) || flag.test(nodeOptions);
}

/**
 * One of the package's V8 settings for the whole process, applied while at least one holder keeps it:
 * `hold(value, apply)` applies `value` when it is not the one applied (`apply` returns what undoes it),
 * and each hold returns its own let-go; the last let-go undoes it. `value` 0 is "not applied".
 */
export class HeldSetting {
  private holders = 0;
  private applied = 0;
  private undo: (() => void) | undefined;

  hold(value: number, apply: (value: number) => () => void): () => void {
    this.holders++;
    if (this.applied !== value) {
      this.undo?.();
      this.undo = apply(value);
      this.applied = value;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.holders--;
      if (this.holders === 0) {
        const undo = this.undo;
        this.undo = undefined;
        this.applied = 0;
        undo?.();
      }
    };
  }

  /** The value applied now; 0 when none is. */
  get value(): number {
    return this.applied;
  }
}
