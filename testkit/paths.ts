import * as fs from 'fs';
import * as path from 'path';

function findRoot(start: string): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The repository root: the nearest folder above this file (or the working directory) with package.json. */
export const repoRoot = findRoot(__dirname) ?? findRoot(process.cwd()) ?? process.cwd();

/** `../shared` beside the repository, where the vectors from the real systems live. */
export const sharedDir = path.resolve(repoRoot, '..', 'shared');

export function readVectors<T>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(sharedDir, 'vectors', name), 'utf8')) as T;
}
