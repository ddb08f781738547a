import * as fs from 'fs';
import * as path from 'path';
import { keyFromStore } from '../sqlite-keys';
import type { KeyCounter, Store, StoreBatch } from '../store';
import { isLevelDbDir, readLevelDb } from './read-leveldb';

export interface LegacyImport {
  /** Queued entries carried over, in their order. */
  entries: number;
  deadLetters: number;
  /** Parts of the old files that could not be read (log records, table files). */
  damaged: number;
}

/** The files LevelDB keeps in its directory (as the queue of versions before 0.2 wrote them). */
const LEVELDB_FILE = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(log|ldb|sst|dbtmp))$/;

/** "e!<escaped key>\0<16 hex seq>" → key and seq (the layout the LevelDB queue wrote). */
function parseEntryKey(k: string): { key: string; seq: number } | undefined {
  const nul = k.lastIndexOf('\x00');
  if (nul < 2 || k.length - nul !== 17) return undefined;
  const seq = parseInt(k.slice(nul + 1), 16);
  if (!Number.isSafeInteger(seq)) return undefined;
  return { key: keyFromStore(k.slice(2, nul)), seq };
}

/** Does `dir` hold a queue that a version on LevelDB left? */
export function hasLegacyQueue(dir: string): boolean {
  return isLevelDbDir(dir);
}

/**
 * Carries a LevelDB queue (left by a version before the SQLite store) into `store`, keeping each
 * entry's seq, so order per key and across keys stays what it was; then deletes LevelDB's files.
 * Run before the queue takes its snapshot and before anything else is written: it is idempotent
 * (the same seqs and absolute counters again), so a crash half-way is repaired by running it again.
 */
export async function importLegacyQueue(dir: string, store: Store, batchSize = 500): Promise<LegacyImport> {
  const contents = readLevelDb(dir);
  const counters = new Map<string, KeyCounter>();
  const result: LegacyImport = { entries: 0, deadLetters: 0, damaged: 0 };
  let batch = emptyBatch();
  let touched = new Set<string>();
  const flush = async () => {
    batch.counters = [...touched].map((k) => ({ ...(counters.get(k) as KeyCounter) }));
    if (batch.puts.length + batch.deadPuts.length > 0) await store.write(batch);
    batch = emptyBatch();
    touched = new Set();
  };
  for (const record of contents.records) {
    const k = record.key.toString('utf8');
    if (k.startsWith('e!')) {
      const parsed = parseEntryKey(k);
      if (!parsed) {
        result.damaged++;
        continue;
      }
      const json = record.value.toString('utf8');
      const size = Buffer.byteLength(json) + Buffer.byteLength(parsed.key);
      batch.puts.push({ seq: parsed.seq, key: parsed.key, json, size });
      let c = counters.get(parsed.key);
      if (!c) counters.set(parsed.key, (c = { key: parsed.key, count: 0, bytes: 0 }));
      c.count++;
      c.bytes += size;
      touched.add(parsed.key);
      result.entries++;
    } else if (k.startsWith('d!')) {
      const id = parseInt(k.slice(2), 16);
      if (!Number.isSafeInteger(id)) {
        result.damaged++;
        continue;
      }
      batch.deadPuts.push({ id, record: record.value.toString('utf8') });
      result.deadLetters++;
    }
    // g! (global index) and k! (counters) are derived from the entries: rebuilt, not copied.
    if (batch.puts.length + batch.deadPuts.length >= batchSize) await flush();
  }
  await flush();
  result.damaged += contents.damaged();
  await removeLevelDbFiles(dir);
  return result;
}

function emptyBatch(): StoreBatch {
  return { puts: [], deletes: [], counters: [], deadPuts: [], deadDeletes: [] };
}

/** Deletes LevelDB's own files from `dir`, and `dir` itself when nothing else is left in it. */
async function removeLevelDbFiles(dir: string): Promise<void> {
  const names = await fs.promises.readdir(dir);
  // CURRENT first: once it is gone the directory no longer reads as a queue to import, so a crash
  // while deleting never leads to a half-deleted LevelDB read as whole (at worst, files are left).
  await fs.promises.rm(path.join(dir, 'CURRENT'), { force: true });
  for (const n of names.filter((n) => LEVELDB_FILE.test(n) && n !== 'CURRENT')) {
    await fs.promises.rm(path.join(dir, n), { force: true });
  }
  if ((await fs.promises.readdir(dir)).length === 0) await fs.promises.rmdir(dir);
}
