import * as fs from 'fs';
import { QUEUE_APP_ID } from './sqlite-damage';

const SQLITE_HEADER = 'SQLite format 3\0';

/**
 * Deletes a closed queue's database file and its write-ahead log. Refuses a file that is not a
 * queue's (another SQLite database, a user's file, a folder), so a wrong path is never wiped.
 */
export async function removeStoreFile(file: string): Promise<void> {
  let head: Buffer;
  try {
    const stat = await fs.promises.stat(file);
    if (!stat.isFile()) throw new Error(`not removing ${file}: it is not a queue file`);
    const fh = await fs.promises.open(file, 'r');
    try {
      head = Buffer.alloc(72);
      await fh.read(head, 0, 72, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const isQueue =
    head.every((b) => b === 0) ||
    (head.toString('latin1', 0, 16) === SQLITE_HEADER && head.readUInt32BE(68) === QUEUE_APP_ID);
  if (!isQueue) throw new Error(`not removing ${file}: it is not a queue file`);
  for (const f of [file, file + '-wal', file + '-shm']) await fs.promises.rm(f, { force: true });
}
