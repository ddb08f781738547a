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
