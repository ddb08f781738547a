import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ack, legacyQueueDir, openQueue } from '../../lib/delivery';
import type { Store } from '../../lib/delivery/store';
import { recorder, TempDirs, waitFor } from './helpers';

describe('delivery queue: an older LevelDB queue folder beside the file', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('hands the folder and the open store to the importer before loading, so what it writes is queued', async () => {
    const file = dirs.make();
    const legacy = legacyQueueDir(file)!;
    assert.equal(legacy, file.slice(0, -'.sqlite'.length));
    fs.mkdirSync(legacy, { recursive: true });
    fs.writeFileSync(path.join(legacy, 'CURRENT'), 'MANIFEST-000001\n');
    const calls: string[] = [];
    const importLegacy = async (dir: string, store: Store) => {
      calls.push(dir);
      const json = JSON.stringify({ n: 7 });
      await store.write({
        puts: [{ seq: 0, key: 'dev', json, size: json.length + 3 }],
        deletes: [],
        counters: [{ key: 'dev', count: 1, bytes: json.length + 3 }],
        deadPuts: [],
        deadDeletes: [],
      });
      fs.rmSync(dir, { recursive: true });
      return { entries: 1, deadLetters: 0, damaged: 0 };
    };
    const rec = recorder();
    const { queue } = await openQueue({ file, deliver: rec.deliver, importLegacy, autoStart: true });
    assert.deepEqual(calls, [legacy]);
    await waitFor(() => rec.acked.length === 1, 2000, 'the imported entry delivered');
    assert.equal(rec.acked[0].body.n, 7);
    await queue.close();
    const again = await openQueue({ file, deliver: async () => ack(), importLegacy });
    assert.deepEqual(calls, [legacy], 'not imported again once the folder is gone');
    await again.queue.close();
  });

  it('a LevelDB folder that cannot be read (no MANIFEST) is left as it is and reported; the queue opens', async () => {
    const file = dirs.make();
    const legacy = legacyQueueDir(file)!;
    fs.mkdirSync(legacy, { recursive: true });
    fs.writeFileSync(path.join(legacy, 'CURRENT'), 'MANIFEST-000001\n');
    const errors: string[] = [];
    const { queue } = await openQueue({
      file,
      deliver: async () => ack(),
      onError: (e) => errors.push(e.message),
    });
    assert.ok(
      errors.some((e) => e.includes(legacy) && /could not be imported/.test(e)),
      errors.join('; '),
    );
    assert.ok(fs.existsSync(path.join(legacy, 'CURRENT')), 'untouched');
    await queue.close();
  });
});
