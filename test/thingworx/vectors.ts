import * as fs from 'fs';
import * as path from 'path';

export interface AlwaysOnVectors {
  source: string;
  header_example: { hex: string; meaning: string };
  bodies: { name: string; hex: string }[];
  values: { name: string; hex?: string; prefix_hex?: string; length?: number }[];
}

const RELATIVE = path.join('..', 'shared', 'vectors', 'thingworx-alwayson.json');

/**
 * The vectors live in `../shared` beside the repository root. The root is the nearest folder holding package.json
 * (and a `../shared` with the file), searched above this file first — it may run from dist/ or from a build
 * directory outside the tree — then above the working directory. A checkout nested one level deeper (a git
 * worktree beside others) finds the `shared` of the folder above.
 */
export function findVectorsFile(): string {
  const starts = [__dirname, process.cwd()];
  for (const needRoot of [true, false]) {
    for (const start of starts) {
      let dir = path.resolve(start);
      for (;;) {
        const candidate = path.resolve(dir, RELATIVE);
        const isRoot = !needRoot || fs.existsSync(path.join(dir, 'package.json'));
        if (isRoot && fs.existsSync(candidate)) return candidate;
        const parent = path.dirname(dir);
        if (parent === dir) break;
        dir = parent;
      }
    }
  }
  throw new Error(`thingworx-alwayson.json not found above ${starts.join(' or ')}`);
}

export function loadVectors(): AlwaysOnVectors {
  return JSON.parse(fs.readFileSync(findVectorsFile(), 'utf8')) as AlwaysOnVectors;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
