import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../../testkit/paths';
import type { Packed, Run } from './packed';

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/**
 * Makes `userDir` a Node-RED user directory that depends on the packed tarball, with a lockfile, so
 * that `npm ci --offline` installs it there from npm's cache alone: the tarball's runtime dependencies
 * at the versions our own lockfile resolved (the ones `npm ci` of this repository put in the cache).
 */
export function prepareUserDir(p: Packed, userDir: string): void {
  const tarball = 'thingpark.tgz';
  fs.copyFileSync(p.tarball, path.join(userDir, tarball));
  const spec = `file:${tarball}`;
  const ours = p.manifest.name;
  fs.writeFileSync(
    path.join(userDir, 'package.json'),
    JSON.stringify({
      name: 'node-red-project',
      version: '0.0.1',
      private: true,
      dependencies: { [ours]: spec },
    }),
  );
  const source = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const packages: Record<string, unknown> = {
    '': { name: 'node-red-project', version: '0.0.1', dependencies: { [ours]: spec } },
    [`node_modules/${ours}`]: {
      version: p.manifest.version,
      resolved: spec,
      integrity: `sha512-${crypto.createHash('sha512').update(fs.readFileSync(p.tarball)).digest('base64')}`,
      license: p.manifest.license,
      dependencies: p.manifest.dependencies,
      engines: p.manifest.engines,
    },
  };
  for (const [key, entry] of Object.entries(source.packages)) {
    if (key.startsWith('node_modules/') && !entry.dev && !entry.devOptional) packages[key] = entry;
  }
  fs.writeFileSync(
    path.join(userDir, 'package-lock.json'),
    JSON.stringify({
      name: 'node-red-project',
      version: '0.0.1',
      lockfileVersion: 3,
      requires: true,
      packages,
    }),
  );
}

/** `npm ci --offline` in a prepared user directory; throws with npm's output when it fails. */
export async function installOffline(
  userDir: string,
  npm: (args: string[], cwd: string) => Promise<Run>,
): Promise<Run> {
  const r = await npm(['ci', '--offline', '--no-audit', '--no-fund', '--omit=dev'], userDir);
  if (r.status !== 0)
    throw new Error(`npm ci --offline in the user directory failed (${r.status}):\n${r.stderr}`);
  return r;
}
