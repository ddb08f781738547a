import { strict as assert } from 'assert';
import { loadSqlite } from '../../lib/delivery/sqlite-db';
import { seqRuns, SqliteStore } from '../../lib/delivery/sqlite-store';
import type { StoreBatch } from '../../lib/delivery/store';
import { TempDirs } from './helpers';

function puts(entries: Array<[number, string]>): StoreBatch {
  return {
    puts: entries.map(([seq, key]) => ({ seq, key, json: JSON.stringify({ seq }), size: 10 })),
    deletes: [],
    counters: [],
    deadPuts: [],
    deadDeletes: [],
  };
}

const seqsOf = (rows: Array<{ seq: number }>): number[] => rows.map((r) => r.seq);

describe('delivery queue: the SQLite store', function () {
  this.timeout(30000);
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  // The index finds a key's entries one stretch of 4096 seqs at a time.
  const A = [0, 4095, 4096, 9000, 9001, 50000, 200000];

  async function storeWithA(file: string): Promise<SqliteStore> {
    const store = new SqliteStore(loadSqlite(), file);
    await store.open({ verify: true });
    const entries: Array<[number, string]> = A.map((seq) => [seq, 'a']);
    for (let seq = 1; seq < 12000; seq += 7) if (!A.includes(seq)) entries.push([seq, 'b']);
    await store.write(puts(entries));
    return store;
  }

  it("reads a key's entries in order across stretches, from anywhere, up to the limit", async () => {
    const store = await storeWithA(dirs.make());
    try {
      const [all] = await store.readKeys([{ key: 'a', afterSeq: -1, limit: 100 }]);
      assert.deepEqual(seqsOf(all), A);
      assert.deepEqual(JSON.parse(all[3].json), { seq: 9000 });
      assert.equal(all[3].size, 10, 'the size as written, not measured again');
      for (let i = 0; i < A.length; i++) {
        for (const limit of [1, 2, 3, 10]) {
          const [rows] = await store.readKeys([{ key: 'a', afterSeq: A[i], limit }]);
          assert.deepEqual(seqsOf(rows), A.slice(i + 1, i + 1 + limit), `after ${A[i]}, limit ${limit}`);
        }
      }
      const [mid] = await store.readKeys([{ key: 'a', afterSeq: 5000, limit: 2 }]);
      assert.deepEqual(seqsOf(mid), [9000, 9001]);
      const [none, b, missing] = await store.readKeys([
        { key: 'a', afterSeq: 0, limit: 0 },
        { key: 'b', afterSeq: 4090, limit: 3 },
        { key: 'c', afterSeq: -1, limit: 5 },
      ]);
      assert.deepEqual(none, []);
      assert.deepEqual(seqsOf(b), [4103, 4110, 4117]);
      assert.deepEqual(missing, []);
    } finally {
      await store.close();
    }
  });

  it('reads a key present in more stretches than one statement looks into (16), in order, to the limit', async () => {
    const store = new SqliteStore(loadSqlite(), dirs.make());
    await store.open({ verify: true });
    try {
      // Key 'd' in 40 consecutive stretches, twice in each; 'e' in between.
      const d: number[] = [];
      const entries: Array<[number, string]> = [];
      for (let s = 3; s < 43; s++) {
        d.push(s * 4096 + 5, s * 4096 + 4000);
        entries.push([s * 4096 + 5, 'd'], [s * 4096 + 6, 'e'], [s * 4096 + 4000, 'd']);
      }
      await store.write(puts(entries));
      const [all] = await store.readKeys([{ key: 'd', afterSeq: -1, limit: 1000 }]);
      assert.deepEqual(seqsOf(all), d);
      for (const [from, limit] of [
        [0, 33],
        [17, 40],
        [31, 5],
        [79, 3],
      ]) {
        const [rows] = await store.readKeys([{ key: 'd', afterSeq: d[from], limit }]);
        assert.deepEqual(
          seqsOf(rows),
          d.slice(from + 1, from + 1 + limit),
          `after ${d[from]}, limit ${limit}`,
        );
      }
    } finally {
      await store.close();
    }
  });

  it('finds entries whose seqs are past 2^31 (a queue that has taken billions of uplinks)', async () => {
    const store = new SqliteStore(loadSqlite(), dirs.make());
    await store.open({ verify: true });
    try {
      const high = [2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 4096, 2 ** 32 + 1, 2 ** 40, 2 ** 40 + 4095];
      await store.write(puts(high.map((seq) => [seq, 'a'])));
      const [all] = await store.readKeys([{ key: 'a', afterSeq: 2 ** 31 - 3, limit: 100 }]);
      assert.deepEqual(seqsOf(all), high);
      const [after] = await store.readKeys([{ key: 'a', afterSeq: 2 ** 31, limit: 2 }]);
      assert.deepEqual(seqsOf(after), [2 ** 31 + 4096, 2 ** 32 + 1]);
    } finally {
      await store.close();
    }
  });

  it("finds a key's later entries after a reopen", async () => {
    const file = dirs.make();
    await (await storeWithA(file)).close();
    const store = new SqliteStore(loadSqlite(), file);
    await store.open({ verify: false });
    try {
      const [rows] = await store.readKeys([{ key: 'a', afterSeq: 9001, limit: 5 }]);
      assert.deepEqual(seqsOf(rows), [50000, 200000]);
    } finally {
      await store.close();
    }
  });

  it("opens a file with the earlier index (key, seq, size) and finds the key's entries with the new one", async () => {
    const file = dirs.make();
    await (await storeWithA(file)).close();
    const Database = loadSqlite();
    const db = new Database(file);
    db.exec('DROP INDEX entries_by_stretch');
    db.exec('CREATE INDEX entries_by_key ON entries (key, seq, size)');
    db.close();

    const store = new SqliteStore(Database, file);
    await store.open({ verify: false });
    try {
      const [rows] = await store.readKeys([{ key: 'a', afterSeq: 4095, limit: 3 }]);
      assert.deepEqual(seqsOf(rows), [4096, 9000, 9001]);
    } finally {
      await store.close();
    }
    const check = new Database(file);
    try {
      const indexes = check
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'")
        .all()
        .map((r) => r.name);
      assert.deepEqual(indexes, ['entries_by_stretch']);
    } finally {
      check.close();
    }
  });
});

describe('delivery queue: SQLite deletes as runs of seqs', () => {
  it('turns any set of seqs into the runs of consecutive ones, lowest first, each seq once', () => {
    const runs = (seqs: number[]) => seqRuns(seqs.map((seq) => ({ seq })));
    assert.deepEqual(runs([]), []);
    assert.deepEqual(runs([7]), [[7, 7]]);
    assert.deepEqual(runs([5, 3, 4, 9, 10, 12, 4]), [
      [3, 5],
      [9, 10],
      [12, 12],
    ]);
    for (let trial = 0; trial < 200; trial++) {
      const seqs = Array.from({ length: 1 + (trial % 40) }, () => Math.floor(Math.random() * 60));
      const covered = new Set<number>();
      let previousEnd = -2;
      for (const [from, to] of runs(seqs)) {
        assert.ok(
          from <= to && from > previousEnd + 1,
          `runs apart and in order: ${JSON.stringify(runs(seqs))}`,
        );
        previousEnd = to;
        for (let s = from; s <= to; s++) covered.add(s);
      }
      assert.deepEqual(
        [...covered].sort((a, b) => a - b),
        [...new Set(seqs)].sort((a, b) => a - b),
      );
    }
  });
});
