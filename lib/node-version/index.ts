// The Node.js floor of the package (package.json `engines.node`): node:sqlite without a flag arrived in
// 22.13. The palette (npm --engine-strict) refuses older versions; a manual install reaches
// ./require-supported, which every node file loads first so that Node-RED reports this one reason.

export const MIN_NODE_VERSION = '22.13.0';
export const PACKAGE_NAME = '@thingpark-edge/node-red-connectors';

function parts(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split('.')
    .map((p) => parseInt(p, 10) || 0);
}

/** True when `version` (e.g. process.versions.node) is at least `minimum`. */
export function isAtLeast(version: string, minimum = MIN_NODE_VERSION): boolean {
  const have = parts(version);
  const need = parts(minimum);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) !== (need[i] ?? 0)) return (have[i] ?? 0) > (need[i] ?? 0);
  }
  return true;
}

/** The one line a user sees when this Node.js is too old, or undefined when it is recent enough. */
export function unsupportedNodeMessage(version: string = process.versions.node): string | undefined {
  if (isAtLeast(version)) return undefined;
  return `${PACKAGE_NAME} needs Node.js ${MIN_NODE_VERSION} or later (this is Node.js ${version})`;
}
