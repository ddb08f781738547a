import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChildRegistry } from '../../lib/cumulocity/state/child-registry';
import { CumulocityClient } from '../../lib/cumulocity/cumulocity-client';
import { prepareDocument } from '../../lib/cumulocity/mapping/prepare-document';
import { MappingError } from '../../lib/cumulocity/errors';
import { JsonFile } from '../../lib/cumulocity/state/json-file';
import { OperationStore, type OperationRecord } from '../../lib/cumulocity/state/operation-store';
import { DEVEUI, TIME, loraUplink } from './fixtures';

const child = (i: number) => i.toString(16).padStart(16, '0');

describe('cumulocity state: JSON files, child registry, operation store', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'c8y-state-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('JsonFile', () => {
    it('writes atomically (no temporary file left) and coalesces saves into few writes of the latest value', async () => {
      let value = 0;
      let snapshots = 0;
      const file = new JsonFile(path.join(dir, 'sub', 'state.json'), () => {
        snapshots++;
        return { value };
      });
      const saves: Promise<void>[] = [];
      for (let i = 1; i <= 50; i++) {
        value = i;
        saves.push(file.save());
      }
      await Promise.all(saves);
      assert.ok(snapshots <= 2, `${snapshots} writes for 50 saves`);
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'sub', 'state.json'), 'utf8')), {
        value: 50,
      });
      assert.deepEqual(fs.readdirSync(path.join(dir, 'sub')), ['state.json']);
      assert.deepEqual(file.readSync(), { value: 50 });
    });

    it('a save made during a write is written after it, and its promise waits for that second write', async () => {
      let value = 'first';
      const file = new JsonFile(path.join(dir, 'state.json'), () => ({ value }));
      const first = file.save();
      value = 'second';
      const second = file.save();
      await first;
      await second;
      assert.deepEqual(file.readSync(), { value: 'second' });
    });

    it('a missing file reads as undefined; a corrupt one is moved aside and reported', () => {
      const file = new JsonFile(path.join(dir, 'state.json'), () => ({}));
      assert.equal(file.readSync(), undefined);
      fs.writeFileSync(path.join(dir, 'state.json'), '{"half":');
      const reports: string[] = [];
      assert.equal(
        file.readSync((m) => reports.push(m)),
        undefined,
      );
      assert.equal(reports.length, 1);
      assert.match(reports[0], /state\.json was not valid JSON; moved to state\.json\.corrupt-\d+/);
      assert.equal(fs.existsSync(path.join(dir, 'state.json')), false);
    });

    it('without a file nothing is written', async () => {
      const file = new JsonFile(undefined, () => ({}));
      await file.save();
      assert.equal(file.readSync(), undefined);
    });
  });

  describe('ChildRegistry', () => {
    const file = () => path.join(dir, 'children.json');

    it('persists only acknowledged registrations and restores identities across a restart', async () => {
      const registry = new ChildRegistry({ file: file(), gatewayId: 'gw', maxChildren: 2 });
      assert.equal(registry.load(), undefined);
      for (let i = 1; i <= 5; i++) registry.allocate(child(i));
      assert.deepEqual(registry.counts, [2, 2, 1]);
      await registry.markRegistered(child(1), false);
      await registry.markRegistered(child(3), true);
      await registry.markRegistered(child(5), false);
      assert.deepEqual(JSON.parse(fs.readFileSync(file(), 'utf8')), {
        version: 1,
        gatewayId: 'gw',
        children: { [child(1)]: 0, [child(3)]: 1, [child(5)]: 2 },
        cellular: [child(3)],
      });

      const again = new ChildRegistry({ file: file(), gatewayId: 'gw', maxChildren: 2 });
      assert.equal(again.load(), undefined);
      assert.equal(again.isRegistered(child(1)), true);
      assert.equal(again.isRegistered(child(2)), false, 'never acknowledged: registered again');
      assert.equal(again.isCellular(child(3)), true);
      assert.equal(again.gatewayOf(child(5)), 2);
      assert.deepEqual(again.gatewayIndices(), [0, 1, 2]);
      assert.deepEqual(again.childrenOf(1), [child(3)]);
      // The free slots are reused: identity 0 has room for one more.
      assert.equal(again.allocate(child(6)).gatewayIndex, 0);
    });

    it("ignores another gateway's registry and an unknown format, saying why", async () => {
      const registry = new ChildRegistry({ file: file(), gatewayId: 'gw' });
      registry.allocate(child(1));
      await registry.markRegistered(child(1), false);
      const other = new ChildRegistry({ file: file(), gatewayId: 'other' });
      assert.match(other.load()!, /belongs to gateway "gw"; children will be registered again under "other"/);
      assert.equal(other.isRegistered(child(1)), false);
      fs.writeFileSync(file(), JSON.stringify({ version: 7 }));
      assert.match(new ChildRegistry({ file: file(), gatewayId: 'gw' }).load()!, /unknown format/);
      fs.writeFileSync(
        file(),
        JSON.stringify({ version: 1, gatewayId: 'gw', children: { 'not-a-child': 0 } }),
      );
      assert.match(new ChildRegistry({ file: file(), gatewayId: 'gw' }).load()!, /invalid/);
    });
  });

  describe('OperationStore', () => {
    const record = (correlationId: string, extra: Partial<OperationRecord> = {}): OperationRecord => ({
      correlationId,
      operationId: '42',
      externalId: child(1),
      gateway: 0,
      createdAt: 1000,
      state: 'handed',
      ...extra,
    });

    it('keeps pending operations by CorrelationID (any case) and handled ids across a restart', async () => {
      const store = new OperationStore({ file: path.join(dir, 'operations.json'), handledMax: 3 });
      store.add(record('abcdef0123456789'));
      store.add(record('1111111111111111', { operationId: undefined, text: 'cafe' }));
      for (const id of ['1', '2', '3', '4']) store.markHandled(id, 5);
      await store.save();
      const again = new OperationStore({ file: path.join(dir, 'operations.json'), handledMax: 3 });
      assert.equal(again.load(), undefined);
      assert.equal(again.get('ABCDEF0123456789')?.operationId, '42');
      assert.equal(again.get('1111111111111111')?.text, 'cafe');
      assert.deepEqual(again.handledIds(), ['2', '3', '4'], 'the oldest id is forgotten beyond handledMax');
      assert.equal(again.wasHandled('1'), false);
      const moved = again.rekey('abcdef0123456789', 'fedcba9876543210');
      assert.equal(moved?.correlationId, 'FEDCBA9876543210');
      assert.equal(again.get('ABCDEF0123456789'), undefined);
      assert.equal(again.remove('FEDCBA9876543210')?.operationId, '42');
      assert.equal(again.size, 1);
    });

    it('drops invalid records from a damaged file, keeping the good ones', () => {
      fs.writeFileSync(
        path.join(dir, 'operations.json'),
        JSON.stringify({
          version: 1,
          pending: [record('AA'), { correlationId: 'BB' }],
          handled: [['x', 1], 'bad'],
        }),
      );
      const store = new OperationStore({ file: path.join(dir, 'operations.json') });
      assert.match(store.load()!, /invalid pending operation/);
      assert.equal(store.size, 1);
      assert.deepEqual(store.handledIds(), ['x']);
    });
  });

  describe('prepareDocument (what cumulocity out queues)', () => {
    const NOW = new Date('2030-05-06T07:08:09.000Z');

    it('keeps a document with its own Time as it is', () => {
      const doc = loraUplink();
      assert.equal(prepareDocument(doc, NOW), doc);
    });

    it('stamps a document without Time with its reception time, so a late delivery keeps it', () => {
      const doc = { DevEUI_notification: { DevEUI: DEVEUI, Type: 'join' } };
      assert.deepEqual(prepareDocument(doc, NOW), {
        DevEUI_notification: { DevEUI: DEVEUI, Type: 'join', Time: '2030-05-06T07:08:09.000+00:00' },
      });
    });

    it('skips documents with nothing for Cumulocity and refuses bad ones with a MappingError', () => {
      assert.equal(prepareDocument({ DevEUI_multicast_summary: { McFCnt: 1 } }, NOW), undefined);
      assert.equal(
        prepareDocument({ DevEUI_downlink_Sent: { DevEUI: DEVEUI, Time: TIME, DeliveryStatus: 1 } }, NOW),
        undefined,
      );
      assert.throws(
        () => prepareDocument({ DevEUI_alarm: { DevEUI: DEVEUI, ID: 4, State: 9 } }, NOW),
        (err: unknown) => err instanceof MappingError && err.reason === 'invalid-field',
      );
    });
  });

  describe('CumulocityClient without a broker', () => {
    it('refuses an unusable gateway id, loads stored state and reports what it could not use', () => {
      assert.throws(
        () => new CumulocityClient({ host: 'h', tenantId: 't', username: 'u', gatewayId: 'a:b' }),
        /gateway id must be non-empty without ':'/,
      );
      fs.writeFileSync(path.join(dir, 'children.json'), '{oops');
      const client = new CumulocityClient({
        host: 'h',
        tenantId: 't',
        username: 'u',
        gatewayId: 'gw',
        stateDir: dir,
      });
      assert.equal(client.loadWarnings.length, 1);
      assert.match(client.loadWarnings[0], /children\.json was not valid JSON/);
      assert.equal(client.state, 'disconnected');
      assert.deepEqual(client.gatewayIds, ['gw']);
    });

    it('a delivery while stopped is retried later; a bad document is refused for good', async () => {
      const client = new CumulocityClient({ host: 'h', tenantId: 't', username: 'u', gatewayId: 'gw' });
      const entry = (body: Record<string, unknown>) => ({
        key: DEVEUI,
        body,
        json: JSON.stringify(body),
        seq: 1,
        attempts: 0,
      });
      assert.equal((await client.deliver(entry(loraUplink()))).kind, 'retryable');
      assert.equal(
        (await client.deliver(entry({ DevEUI_alarm: { DevEUI: DEVEUI, ID: 4, State: 9 } }))).kind,
        'permanent',
      );
      assert.equal((await client.deliver(entry({ DevEUI_multicast_summary: { McFCnt: 1 } }))).kind, 'ack');
    });
  });
});
