import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ack, openQueue } from '../../lib/delivery';
import { loadSqlite } from '../../lib/delivery/sqlite-db';
import { SqliteStore } from '../../lib/delivery/sqlite-store';
import { TempDirs } from './helpers';

// Each one-entry commit adds about 12 KB (three pages) to the log: 200 stay below the 4 MB checkpoint.
const COUNT = 200;
const hasStrace = spawnSync('strace', ['-V']).status === 0;

/** Entries in the database file alone, without its write-ahead log (a copy of it, opened on its own). */
function entriesInMainFile(file: string): number {
  const copy = `${file}.main-only`;
  fs.copyFileSync(file, copy);
  const db = new (loadSqlite())(copy);
  try {
    return Number(db.prepare('SELECT count(*) AS n FROM entries').get()?.n);
  } catch {
    return 0; // not even the table: everything is in the log
  } finally {
    db.close();
  }
}

/**
 * Runs the power-writer child (under strace when available, recording its fsync calls with the path
 * of each descriptor) and returns what it confirmed and the fsyncs of the write-ahead log.
 */
function runWriter(file: string, durability: string): { confirmed: number; walSyncs: number | undefined } {
  const okFile = path.join(path.dirname(file), `${durability}.ok`);
  const trace = path.join(path.dirname(file), `${durability}.trace`);
  const args = [path.join(__dirname, 'fixtures', 'power-writer.js'), file, durability, okFile, String(COUNT)];
  const res = hasStrace
    ? spawnSync('strace', [
        '-f',
        '-y',
        '-qq',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        trace,
        process.execPath,
        ...args,
      ])
    : spawnSync(process.execPath, args);
  assert.ok(
    res.signal === 'SIGKILL' || res.status === 128 + 9 || res.status === 137,
    `the writer was cut off by SIGKILL (${res.signal} ${res.status}): ${res.stderr}`,
  );
  const confirmed = fs.readFileSync(okFile, 'utf8').split('\n').filter(Boolean).length;
  const walSyncs = hasStrace
    ? fs
        .readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => /^\d+\s+f(data)?sync\(\d+<[^>]*-wal>\)/.test(l)).length
    : undefined;
  return { confirmed, walSyncs };
}

describe('delivery queue: durability (process or power)', function () {
  this.timeout(60000);
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('"power" sets synchronous=FULL, "process" (the default) synchronous=NORMAL', async () => {
    for (const [durability, expected] of [
      [undefined, 1],
      ['process', 1],
      ['power', 2],
    ] as const) {
      const store = new SqliteStore(loadSqlite(), dirs.make(), { durability });
      await store.open({ verify: true });
      assert.equal(store.synchronous(), expected, `durability ${durability}`);
      await store.close();
    }
  });

  it('"power": every acknowledged push is flushed to the disk in the log, and found again when the process is cut before the next checkpoint', async () => {
    const file = dirs.make();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { confirmed, walSyncs } = runWriter(file, 'power');
    assert.equal(confirmed, COUNT, 'every push resolved before the kill');
    if (walSyncs === undefined) console.log('      (strace not installed: the fsync count is not checked)');
    else assert.ok(walSyncs >= COUNT, `the log was flushed at every commit (${walSyncs} fsyncs of the log)`);
    assert.ok(fs.statSync(`${file}-wal`).size > 0, 'the entries are in the write-ahead log');
    assert.ok(entriesInMainFile(file) < COUNT, 'and not yet checkpointed into the database file');
    const { queue } = await openQueue({ file, deliver: async () => ack(), durability: 'power' });
    assert.equal(queue.length, COUNT, 'every acknowledged entry is there after reopening');
    await queue.close();
  });

  it('"process": the same cut loses nothing either, but the log is not flushed to the disk at each commit', async function () {
    if (!hasStrace) this.skip();
    const file = dirs.make();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const { confirmed, walSyncs } = runWriter(file, 'process');
    assert.equal(confirmed, COUNT);
    assert.ok(walSyncs! < COUNT / 10, `the log is left to the operating system (${walSyncs} fsyncs)`);
    const { queue } = await openQueue({ file, deliver: async () => ack() });
    assert.equal(queue.length, COUNT, 'a killed process loses nothing acknowledged');
    await queue.close();
  });

  it('Node 22 warns that SQLite is experimental at most once per process, however many queues open', () => {
    const dir = path.dirname(dirs.make());
    fs.mkdirSync(dir, { recursive: true });
    const script = `
      const { openQueue } = require(${JSON.stringify(path.join(__dirname, '../../lib/delivery'))});
      (async () => {
        for (let i = 0; i < 3; i++) {
          const { queue } = await openQueue({ file: ${JSON.stringify(dir)} + '/q' + i + '.sqlite', deliver: async () => ({ kind: 'ack' }) });
          await queue.push('k', { i });
          await queue.close();
        }
        console.log('ok');
      })();`;
    const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(res.stdout.trim(), 'ok', res.stderr);
    const warnings = res.stderr.split('\n').filter((l) => /ExperimentalWarning/.test(l));
    assert.ok(warnings.length <= 1, `warned ${warnings.length} times: ${res.stderr}`);
  });
});
