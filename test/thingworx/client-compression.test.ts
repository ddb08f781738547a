import { strict as assert } from 'assert';
import zlib from 'zlib';
import { parseJsonValue } from '../../lib/thingworx';
import { Fixture, TEMPLATE } from './client-fixtures';

describe('AlwaysOn compression (issue 15)', function () {
  this.timeout(20000);
  const fx = new Fixture();
  afterEach(() => fx.cleanup());

  /** A large, repetitive document (what a decoder's payload with many points looks like). */
  const doc = {
    DevEUI_uplink: {
      DevEUI: 'T1',
      points: Object.fromEntries(
        Array.from({ length: 500 }, (_, i) => [`temperature_${i}`, { unitId: 'Cel', record: 20 + (i % 7) }]),
      ),
    },
  };
  const size = Buffer.byteLength(JSON.stringify(doc));

  /** zlib streams made while `fn` runs (`ws` makes one each way per socket for its own permessage-deflate). */
  async function countZlibStreams<T>(fn: () => Promise<T>): Promise<[T, number]> {
    const names = ['createDeflateRaw', 'createInflateRaw'] as const;
    const originals = names.map((name) => Object.getOwnPropertyDescriptor(zlib, name)!);
    let made = 0;
    names.forEach((name, i) => {
      const make = originals[i].value as (...a: unknown[]) => unknown;
      // Node defines them read-only but configurable.
      Object.defineProperty(zlib, name, {
        ...originals[i],
        value: (...a: unknown[]) => (made++, make(...a)),
      });
    });
    try {
      return [await fn(), made];
    } finally {
      names.forEach((name, i) => Object.defineProperty(zlib, name, originals[i]));
    }
  }

  async function push(compression: boolean): Promise<{ extensions?: string; bytesIn: number }> {
    const server = await fx.server();
    server.addConnectorTemplate(TEMPLATE);
    server.addThing('T1', TEMPLATE);
    const c = fx.client(server, { compression });
    c.start();
    await c.bind(['T1']);
    await c.whenConnected();
    const before = server.wireBytes().in;
    await c.pushUplink('T1', doc);
    assert.deepEqual(parseJsonValue(server.value('T1', 'uplinkData')!.value), doc);
    assert.deepEqual(server.violations, []);
    return {
      extensions: server.extensionsOf(server.connectionIds[0]),
      bytesIn: server.wireBytes().in - before,
    };
  }

  it('offers permessage-deflate as the SDK does; the platform accepting it, an uplink takes a fraction of its size on the wire', async () => {
    assert.ok(size > 20000, `${size} bytes`);
    const [on, streams] = await countZlibStreams(() => push(true));
    assert.match(on.extensions ?? '', /permessage-deflate/);
    assert.ok(on.bytesIn < size / 4, `${on.bytesIn} bytes on the wire for ${size}`);
    // Only the test server's ws (asynchronous zlib): ours compresses on the event loop (sync-deflate.ts).
    assert.equal(streams, 2);
  });

  it('without it (compression: false), the same uplink goes as it is', async () => {
    const off = await push(false);
    assert.equal(off.extensions, '');
    assert.ok(off.bytesIn > size, `${off.bytesIn} bytes on the wire for ${size}`);
  });
});
