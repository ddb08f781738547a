import * as fs from 'fs';
import * as path from 'path';

/** The files LevelDB keeps in its directory. */
const LEVELDB_FILE = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(log|ldb|sst|dbtmp))$/;

/**
 * Deletes a queue's directory. Refuses one holding anything LevelDB did not write, so a wrong path
 * (a user directory, a project folder) is never wiped.
 */
export async function removeStoreDir(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const foreign = names.filter((n) => !LEVELDB_FILE.test(n));
  if (foreign.length > 0) {
    throw new Error(
      `not removing ${dir}: it holds files that are not a queue's (${foreign.slice(0, 3).join(', ')})`,
    );
  }
  await fs.promises.rm(path.resolve(dir), { recursive: true, force: true });
}
