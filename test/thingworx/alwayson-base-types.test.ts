import { strict as assert } from 'assert';
import {
  AlwaysOnClientError,
  AlwaysOnDecodeError,
  BaseType,
  buildResponse,
  decodeTypedValue,
  encodeMessage,
  encodeTypedValue,
  singleRowTable,
  typedValue,
  Typed,
  type RequestMessage,
} from '../../lib/thingworx';
import { Fixture, TEMPLATE } from './client-fixtures';

describe('AlwaysOn base types newer than SDK 2.2.1 (issue 15)', function () {
  this.timeout(20000);
  const fx = new Fixture();
  afterEach(() => fx.cleanup());

  it('LONG (23) is a big-endian 64-bit integer both ways; one beyond ±2^53 fails with a reason', () => {
    const bytes = encodeTypedValue(Typed.long(2 ** 40 + 5));
    assert.equal(bytes.toString('hex'), '17' + '0000010000000005');
    assert.deepEqual(decodeTypedValue(bytes), { baseType: BaseType.LONG, value: 2 ** 40 + 5 });
    assert.deepEqual(decodeTypedValue(Buffer.from('17ffffffffffffffff', 'hex')), {
      baseType: BaseType.LONG,
      value: -1,
    });
    assert.throws(
      () => decodeTypedValue(Buffer.from('177fffffffffffffff', 'hex')),
      (e: unknown) => e instanceof AlwaysOnDecodeError && e.reason === 'out-of-range',
    );
    assert.deepEqual(typedValue('LONG', 2 ** 33), Typed.long(2 ** 33));
    assert.equal(typedValue('LONG', 1.5), undefined);
  });

  it('names newer than SDK 2.2.1 are strings; TIMESPAN, VEC2/3/4 and THINGCODE fail naming the type', () => {
    for (const t of [99, 121, 122, 123, 0x80, 0x81, 0x82]) {
      const bytes = Buffer.from([t, 3, 0x61, 0x62, 0x63]);
      assert.deepEqual(decodeTypedValue(bytes), { baseType: t, value: 'abc' });
      assert.deepEqual(encodeTypedValue(decodeTypedValue(bytes)), bytes);
    }
    for (const [t, name] of [
      [4, 'TIMESPAN'],
      [124, 'VEC2'],
      [125, 'VEC3'],
      [126, 'VEC4'],
      [127, 'THINGCODE'],
    ] as const) {
      assert.throws(
        () => decodeTypedValue(Buffer.from([t, 0, 0, 0, 0, 0, 0, 0, 0])),
        (e: unknown) =>
          e instanceof AlwaysOnDecodeError && e.reason === 'unknown-base-type' && e.message.includes(name),
      );
    }
  });

  it('an answer carrying a value we cannot represent fails that request at once, with the reason; the connection goes on', async () => {
    const server = await fx.server();
    server.addConnectorTemplate(TEMPLATE);
    server.addThing('T1', TEMPLATE);
    const c = fx.client(server, { requestTimeoutMs: 10000 });
    c.start();
    await c.whenConnected();
    let conn = 0;
    const answers: RequestMessage[] = [];
    server.interceptor = (msg, id) => {
      if (msg.body.characteristicName !== 'GetCounters') return undefined;
      conn = id;
      answers.push(msg);
      return 'ignore';
    };
    // A LONG the platform sends (a row count) decodes…
    const ok = c.callService('T1', 'GetCounters');
    await new Promise((r) => setTimeout(r, 50));
    server.sendFrames(conn, [
      encodeMessage(buildResponse(answers[0], 0x40, singleRowTable({ count: Typed.long(2 ** 40) }))),
    ]);
    assert.deepEqual((await ok)!.rows[0].count, Typed.long(2 ** 40));
    // …one beyond what a JS number holds exactly fails that request, now, not after the 10 s timeout.
    const t0 = Date.now();
    const bad = c.callService('T1', 'GetCounters');
    await new Promise((r) => setTimeout(r, 50));
    const frame = encodeMessage(
      buildResponse(answers[1], 0x40, singleRowTable({ count: Typed.long(0x0102030405) })),
    );
    const at = frame.indexOf(Buffer.from('170000000102030405', 'hex'));
    frame[at + 1] = 0x7f;
    server.sendFrames(conn, [frame]);
    const e = await bad.then(
      () => assert.fail('expected a rejection'),
      (err: unknown) => err as AlwaysOnClientError,
    );
    assert.ok(e instanceof AlwaysOnClientError);
    assert.equal(e.kind, 'protocol');
    assert.match(e.message, /LONG .* beyond a safe JS integer/);
    assert.ok(Date.now() - t0 < 2000);
    server.interceptor = undefined;
    await c.pushUplink('T1', { ok: true });
    assert.equal(c.state, 'connected');
  });
});
