/** The software the gateway reports as its agent (`122`, c8y_Agent): this package, by name and version. */
import * as fs from 'fs';
import * as path from 'path';

const PACKAGE_NAME = '@thingpark-edge/node-red-connectors';

export interface AgentInfo {
  name: string;
  version: string;
  url?: string;
  maintainer?: string;
}

let cached: AgentInfo | undefined;

/** Read from our package.json, found upwards from here (the same from lib/ and from dist/lib/). */
export function packageAgent(): AgentInfo {
  if (cached) return cached;
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === PACKAGE_NAME && typeof pkg.version === 'string') {
        return (cached = { name: pkg.name, version: pkg.version });
      }
    } catch {
      // not here: one level up
    }
    dir = path.dirname(dir);
  }
  return (cached = { name: PACKAGE_NAME, version: 'unknown' });
}
