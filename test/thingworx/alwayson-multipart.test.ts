import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  AlwaysOnDecodeError,
  AlwaysOnEncodeError,
  BaseType,
  buildBindMessage,
  buildResponse,
  buildServiceCall,
  decodeChunk,
  decodeHeader,
  decodeMessage,
  DEFAULT_CHUNK_SIZE,
  encodeFrames,
  encodeHeader,
  encodeMessage,
  encodeString,
  HEADER_SIZE,
  MultipartReassembler,
  splitMessage,
  Typed,
  type AlwaysOnMessage,
  type MessageHeader,
} from '../../lib/thingworx';
import { hex } from './vectors';

const THING = '0018B20000000B20';

/** A request (or response) whose encoded size is exactly `size` bytes: the filler is a BLOB param. */
function messageOfSize(size: number, kind: 'request' | 'response', thing = THING): AlwaysOnMessage {
  const make = (blobLen: number): AlwaysOnMessage => {
    const params = {
      dataShape: [{ name: 'b', baseType: BaseType.BLOB }],
      rows: [{ b: Typed.blob(Buffer.alloc(blobLen, 0xab)) }],
    };
    const ids = { requestId: 77, endpointId: 3, sessionId: 99 };
    return kind === 'request'
      ? buildServiceCall(thing, 'Svc', params, ids)
      : buildResponse(ids, 0x40, params);
  };
  const base = encodeMessage(make(0)).length;
  assert.ok(size >= base, `size ${size} below the minimum ${base}`);
  const msg = make(size - base);
  assert.equal(encodeMessage(msg).length, size);
  return msg;
}

function expectDecodeError(fn: () => unknown, reason?: string): AlwaysOnDecodeError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AlwaysOnDecodeError, `expected AlwaysOnDecodeError, got ${String(e)}`);
    if (reason) assert.equal(e.reason, reason);
    return e;
  }
  assert.fail('expected an AlwaysOnDecodeError');
}

/** Feed frames in the given order, expecting completion exactly at the last one. */
function reassemble(frames: Buffer[], r = new MultipartReassembler()): Buffer {
  let out: Buffer | undefined;
  frames.forEach((f, i) => {
    const got = r.push(f);
    if (i < frames.length - 1)
      assert.equal(got, undefined, `completed early at frame ${i + 1}/${frames.length}`);
    else out = got;
  });
  assert.ok(out, 'not completed');
  assert.equal(r.pendingCount, 0);
  assert.equal(r.pendingBytes, 0);
  return out;
}

/** Chunks as the C SDK cuts them: chunk 1 carries the body's own first bytes, later chunks get the prefix added. */
function sdkStyleChunks(frame: Buffer, chunkSize: number): Buffer[] {
  const header = frame.subarray(0, HEADER_SIZE);
  const body = frame.subarray(HEADER_SIZE);
  const nameLen = body[1];
  const prefix = body.subarray(0, 2 + nameLen);
  const eff = chunkSize - HEADER_SIZE - 6 - (2 + nameLen);
  const count = Math.floor(body.length / eff) + 1;
  const out: Buffer[] = [];
  for (let i = 1; i <= count; i++) {
    const h = Buffer.from(header);
    h[14] = 1;
    const mp = Buffer.alloc(6);
    mp.writeUInt16BE(i, 0);
    mp.writeUInt16BE(count, 2);
    mp.writeUInt16BE(chunkSize, 4);
    const data = body.subarray((i - 1) * eff, i * eff);
    out.push(Buffer.concat(i === 1 ? [h, mp, data] : [h, mp, prefix, data]));
  }
  return out;
}

describe('thingworx AlwaysOn codec: multipart', () => {
  const entityPrefix = Buffer.concat([Buffer.from([0x0a]), encodeString(THING)]);

  it('sends a message that fits in 8192 bytes as one frame, unchanged', () => {
    const msg = messageOfSize(DEFAULT_CHUNK_SIZE, 'request');
    const frames = encodeFrames(msg);
    assert.equal(frames.length, 1);
    assert.equal(hex(frames[0]), hex(encodeMessage(msg)));
    assert.equal(frames[0][14], 0);
  });

  for (const kind of ['request', 'response'] as const) {
    // Around the single-frame limit, then around each multiple of the data a chunk carries.
    const per = DEFAULT_CHUNK_SIZE - 21 - (kind === 'request' ? 2 + THING.length : 0);
    const edge = (k: number) => HEADER_SIZE + (kind === 'request' ? 2 + THING.length : 0) + k * per;
    const sizes = [8193, 8194, edge(2) - 1, edge(2), edge(2) + 1, edge(3) - 1, edge(3), edge(3) + 1, 150000];
    for (const size of sizes) {
      it(`splits a ${size}-byte ${kind} into chunks of <= 8192 bytes and joins it back`, () => {
        const msg = messageOfSize(size, kind);
        const whole = encodeMessage(msg);
        const frames = encodeFrames(msg);
        const prefix = kind === 'request' ? entityPrefix : Buffer.alloc(0);
        const perChunk = DEFAULT_CHUNK_SIZE - 21 - prefix.length;
        const bodyRest = whole.length - HEADER_SIZE - prefix.length;
        assert.equal(frames.length, Math.ceil(bodyRest / perChunk));
        frames.forEach((f, i) => {
          assert.ok(f.length <= DEFAULT_CHUNK_SIZE, `chunk ${i + 1} has ${f.length} bytes`);
          // Same header as the whole message but the multipart flag.
          assert.equal(hex(f.subarray(0, 14)), hex(whole.subarray(0, 14)));
          assert.equal(f[14], 1);
          assert.equal(f.readUInt16BE(15), i + 1, 'chunkId counts from 1');
          assert.equal(f.readUInt16BE(17), frames.length, 'chunkCount');
          assert.equal(f.readUInt16BE(19), DEFAULT_CHUNK_SIZE, 'chunkSize');
          assert.equal(
            hex(f.subarray(21, 21 + prefix.length)),
            hex(prefix),
            'entity repeated in every chunk',
          );
        });
        const joined = reassemble(frames);
        assert.equal(hex(joined), hex(whole));
        assert.deepStrictEqual(decodeMessage(joined), msg);
      });
    }
  }

  it('round-trips random sizes, chunk sizes and arrival orders', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 40, max: 700 }),
        fc.constantFrom('request' as const, 'response' as const),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 100 }),
        (extra, chunkSize, kind, keys) => {
          const msg = messageOfSize(80 + extra, kind, 'T');
          const whole = encodeMessage(msg);
          const frames = splitMessage(whole, { chunkSize });
          for (const f of frames) assert.ok(f.length <= chunkSize);
          if (whole.length <= chunkSize) assert.deepStrictEqual(frames, [whole]);
          const order = frames.map((f, i) => ({ f, k: keys[i % keys.length] + i * 1e-9 }));
          order.sort((a, b) => a.k - b.k);
          const r = new MultipartReassembler();
          const outs = order.map((o) => r.push(o.f)).filter((x): x is Buffer => x !== undefined);
          assert.equal(outs.length, 1);
          assert.equal(hex(outs[0]), hex(whole));
          assert.equal(r.pendingCount, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('joins chunks cut the C SDK way (entity only added from chunk 2, data shifted)', () => {
    // 16321 = 15 + 2 × 8153: the SDK then sends a third chunk with no data at all.
    for (const size of [8193, 16321, 20000, 100000]) {
      const whole = encodeMessage(messageOfSize(size, 'request'));
      const frames = sdkStyleChunks(whole, DEFAULT_CHUNK_SIZE);
      assert.ok(frames.length > 1);
      for (const f of frames) assert.ok(f.length <= DEFAULT_CHUNK_SIZE);
      assert.equal(hex(reassemble(frames)), hex(whole));
    }
  });

  it('accept() decodes single frames directly and chunked ones once complete', () => {
    const r = new MultipartReassembler();
    const small = buildResponse({ requestId: 1, endpointId: 0, sessionId: 5 });
    assert.deepStrictEqual(r.accept(encodeMessage(small)), small);
    const big = messageOfSize(20000, 'response');
    const frames = encodeFrames(big);
    const results = frames.map((f) => r.accept(f));
    assert.deepStrictEqual(
      results.slice(0, -1),
      frames.slice(0, -1).map(() => undefined),
    );
    assert.deepStrictEqual(results[results.length - 1], big);
  });

  it('keeps requests and responses with the same requestId apart', () => {
    const req = encodeFrames(messageOfSize(9000, 'request'));
    const resp = encodeFrames(messageOfSize(9000, 'response'));
    const r = new MultipartReassembler();
    assert.equal(r.push(req[0]), undefined);
    assert.equal(r.push(resp[0]), undefined);
    assert.equal(r.pendingCount, 2);
    assert.deepStrictEqual(decodeMessage(r.push(req[1])!), messageOfSize(9000, 'request'));
    assert.deepStrictEqual(decodeMessage(r.push(resp[1])!), messageOfSize(9000, 'response'));
  });

  it('refuses to split what it cannot (BIND, over 1 MiB, tiny chunk size) with AlwaysOnEncodeError', () => {
    const names = Array.from({ length: 700 }, (_, i) => `thing-${i}-${'x'.repeat(10)}`);
    const bind = buildBindMessage(names, { requestId: 1 });
    assert.ok(encodeMessage(bind).length > DEFAULT_CHUNK_SIZE);
    assert.throws(() => encodeFrames(bind), AlwaysOnEncodeError);
    assert.throws(() => encodeFrames(messageOfSize(1024 * 1024 + 1, 'response')), AlwaysOnEncodeError);
    assert.equal(encodeFrames(messageOfSize(1024 * 1024, 'response')).length, 129);
    assert.throws(() => encodeFrames(messageOfSize(9000, 'request'), { chunkSize: 21 }), AlwaysOnEncodeError);
    assert.throws(
      () => encodeFrames(messageOfSize(9000, 'request'), { chunkSize: 70000 }),
      AlwaysOnEncodeError,
    );
  });

  it('parses a chunk: ids, counts, entity prefix stripped', () => {
    const frames = encodeFrames(messageOfSize(9000, 'request'));
    const c = decodeChunk(frames[1]);
    assert.equal(c.chunkId, 2);
    assert.equal(c.chunkCount, 2);
    assert.equal(c.chunkSize, 8192);
    assert.deepStrictEqual(c.entity, { type: 0x0a, name: THING });
    assert.equal(c.data.length, frames[1].length - 21 - entityPrefix.length);
    expectDecodeError(() => decodeChunk(encodeMessage(messageOfSize(100, 'request'))), 'not-multipart');
    expectDecodeError(() => decodeMessage(frames[0]), 'unexpected-multipart');
  });

  describe('reassembler bounds and consistency', () => {
    const header = (over: Partial<MessageHeader> = {}): Buffer =>
      encodeHeader({
        version: 1,
        code: 0x40,
        requestId: 1,
        endpointId: 0,
        sessionId: 0,
        multipart: true,
        ...over,
      });
    const chunk = (
      id: number,
      count: number,
      data: Buffer,
      over: Partial<MessageHeader> = {},
      size = 8192,
    ) => {
      const mp = Buffer.alloc(6);
      mp.writeUInt16BE(id, 0);
      mp.writeUInt16BE(count, 2);
      mp.writeUInt16BE(size, 4);
      return Buffer.concat([header(over), mp, data]);
    };

    it('rejects chunk ids outside 1..count and a zero count', () => {
      const r = new MultipartReassembler();
      expectDecodeError(() => r.push(chunk(0, 2, Buffer.from('00', 'hex'))), 'bad-chunk');
      expectDecodeError(() => r.push(chunk(3, 2, Buffer.from('00', 'hex'))), 'bad-chunk');
      expectDecodeError(() => r.push(chunk(1, 0, Buffer.from('00', 'hex'))), 'bad-chunk');
      expectDecodeError(() => r.push(chunk(1, 2, Buffer.alloc(0), { code: 0x0a })), 'bad-chunk');
      assert.equal(r.pendingCount, 0);
    });

    it('rejects a chunk that disagrees with the first one and drops the partial message', () => {
      const cases: [string, Buffer][] = [
        ['chunk count', chunk(2, 3, Buffer.from('ff', 'hex'))],
        ['chunk size', chunk(2, 2, Buffer.from('ff', 'hex'), {}, 4096)],
        ['code', chunk(2, 2, Buffer.from('ff', 'hex'), { code: 0x84 })],
        ['session', chunk(2, 2, Buffer.from('ff', 'hex'), { sessionId: 9 })],
        ['endpoint', chunk(2, 2, Buffer.from('ff', 'hex'), { endpointId: 9 })],
      ];
      for (const [what, bad] of cases) {
        const r = new MultipartReassembler();
        assert.equal(r.push(chunk(1, 2, Buffer.from('00', 'hex'))), undefined);
        expectDecodeError(() => r.push(bad), 'inconsistent-chunk');
        assert.equal(r.pendingCount, 0, what);
        assert.equal(r.pendingBytes, 0, what);
      }
      // Request chunks must name the same entity.
      const frames = encodeFrames(messageOfSize(9000, 'request'));
      const other = encodeFrames(messageOfSize(9000, 'request', '0018B20000000B21'));
      const r = new MultipartReassembler();
      r.push(frames[0]);
      expectDecodeError(() => r.push(other[1]), 'inconsistent-chunk');
      assert.equal(r.pendingCount, 0);
    });

    it('rejects a duplicate chunk', () => {
      const r = new MultipartReassembler();
      r.push(chunk(1, 3, Buffer.from('00', 'hex')));
      expectDecodeError(() => r.push(chunk(1, 3, Buffer.from('00', 'hex'))), 'duplicate-chunk');
      assert.equal(r.pendingCount, 0);
    });

    it('rejects a message growing over maxMessageSize without holding more than the limit', () => {
      const r = new MultipartReassembler({ maxMessageSize: 20000 });
      const data = Buffer.alloc(8000);
      r.push(chunk(1, 60000, data));
      r.push(chunk(2, 60000, data));
      assert.ok(r.pendingBytes <= 20000);
      expectDecodeError(() => r.push(chunk(3, 60000, data)), 'too-large');
      assert.equal(r.pendingCount, 0);
      assert.equal(r.pendingBytes, 0);
    });

    it('a huge declared chunk count allocates nothing up front', () => {
      const r = new MultipartReassembler();
      const before = process.memoryUsage().arrayBuffers;
      for (let id = 1; id <= 50; id++) r.push(chunk(id, 0xffff, Buffer.from('00', 'hex'), { requestId: id }));
      assert.equal(r.pendingBytes, 16);
      assert.equal(r.pendingCount, 16);
      assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
    });

    it('evicts the oldest partial message past maxPendingMessages and tells onEvict', () => {
      const evicted: number[] = [];
      const r = new MultipartReassembler({
        maxPendingMessages: 3,
        onEvict: (e) => {
          assert.equal(e.reason, 'capacity');
          evicted.push(e.requestId);
        },
      });
      for (let id = 1; id <= 5; id++) r.push(chunk(1, 2, Buffer.from('00', 'hex'), { requestId: id }));
      assert.deepEqual(evicted, [1, 2]);
      assert.equal(r.pendingCount, 3);
      // A late chunk of an evicted message starts over instead of completing.
      assert.equal(r.push(chunk(2, 2, Buffer.from('ff', 'hex'), { requestId: 1 })), undefined);
      // One still held completes.
      assert.equal(
        hex(r.push(chunk(2, 2, Buffer.from('ff', 'hex'), { requestId: 5 }))!.subarray(15)),
        '00ff',
      );
    });

    it('evicts the oldest partial messages past maxPendingBytes', () => {
      const r = new MultipartReassembler({ maxPendingBytes: 10000 });
      r.push(chunk(1, 2, Buffer.alloc(6000), { requestId: 1 }));
      r.push(chunk(1, 2, Buffer.alloc(3000), { requestId: 2 }));
      r.push(chunk(1, 2, Buffer.alloc(3000), { requestId: 3 }));
      assert.equal(r.pendingCount, 2);
      assert.equal(r.pendingBytes, 6000);
      expectDecodeError(() => r.push(chunk(1, 2, Buffer.alloc(11000), { requestId: 4 })), 'too-many-pending');
      assert.ok(r.pendingBytes <= 10000);
    });

    it('drops a partial message after timeoutMs (on push and on evictExpired)', () => {
      let now = 1000;
      const reasons: string[] = [];
      const r = new MultipartReassembler({
        timeoutMs: 500,
        now: () => now,
        onEvict: (e) => reasons.push(e.reason),
      });
      r.push(chunk(1, 2, Buffer.from('00', 'hex'), { requestId: 1 }));
      now = 1499;
      assert.equal(r.evictExpired(), 0);
      now = 1500;
      assert.equal(r.evictExpired(), 1);
      assert.equal(r.pendingCount, 0);
      r.push(chunk(1, 2, Buffer.from('00', 'hex'), { requestId: 2 }));
      now = 5000;
      // The second chunk arrives too late: its first half is gone, so it starts a new partial message.
      assert.equal(r.push(chunk(2, 2, Buffer.from('ff', 'hex'), { requestId: 2 })), undefined);
      assert.deepEqual(reasons, ['timeout', 'timeout']);
      assert.equal(r.pendingCount, 1);
    });

    it('passes frames that are not multipart through, refusing oversized ones', () => {
      const r = new MultipartReassembler({ maxMessageSize: 100 });
      const f = encodeMessage(buildResponse({ requestId: 1, endpointId: 0, sessionId: 0 }));
      assert.equal(r.push(f), f);
      expectDecodeError(() => r.push(Buffer.concat([f, Buffer.alloc(100)])), 'too-large');
      expectDecodeError(() => r.push(f.subarray(0, 10)), 'truncated');
      assert.equal(decodeHeader(f).multipart, false);
    });
  });
});
