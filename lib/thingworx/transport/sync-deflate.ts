import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type WebSocket from 'ws';

/**
 * permessage-deflate (RFC 7692) on the event loop instead of the thread pool.
 *
 * `ws` negotiates the extension and frames the messages; this replaces only how its extension object compresses and
 * decompresses. `ws` runs Node's asynchronous zlib streams for every message: each one is two trips through the thread
 * pool and a turn of the event loop, about 5-7x the CPU of an uncompressed uplink (bench/README.md, figure 4).
 * One synchronous zlib call per message costs a fraction of that.
 *
 * Context takeover without a stream: the peer's inflater keeps, as its window, the last bytes of what we sent (RFC
 * 7692, context takeover). Compressing each message alone with the last `SENT_HISTORY` bytes we sent as its preset
 * dictionary refers only to bytes that window holds, so the peer decodes it as the continuation of one stream.
 * Incoming messages are inflated the same way, with the last window of what the peer sent as dictionary.
 */

/**
 * How much of what we sent a message may refer back to, and the compressor's window: 2 KiB of history compresses
 * figure 4's messages to within a few bytes of `ws`'s 32 KiB stream, and a 4 KiB window is cheaper to set up.
 */
const SENT_HISTORY = 2048;
const DEFLATE_WINDOW_BITS = 12;
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const EMPTY = Buffer.alloc(0);

type Callback = (err: Error | null, result?: Buffer) => void;

/** The parts of `ws`'s PerMessageDeflate object this replaces or reads (ws 8). */
interface WsPerMessageDeflate {
  params: Record<string, boolean | number | undefined> | null;
  compress(data: Buffer | string, fin: boolean, callback: Callback): void;
  decompress(data: Buffer, fin: boolean, callback: Callback): void;
}

/** The last `size` bytes of a byte stream, kept in one buffer twice that size. */
class History {
  private readonly buf: Buffer;
  private len = 0;

  constructor(readonly size: number) {
    this.buf = Buffer.allocUnsafe(size * 2);
  }

  append(data: Buffer): void {
    const { buf, size } = this;
    if (data.length >= size) {
      data.copy(buf, 0, data.length - size);
      this.len = size;
      return;
    }
    if (this.len + data.length > buf.length) {
      const keep = size - data.length;
      buf.copy(buf, 0, this.len - keep, this.len);
      this.len = keep;
    }
    data.copy(buf, this.len);
    this.len += data.length;
  }

  /** The kept bytes, or undefined while there are none (zlib takes no empty dictionary). */
  window(): Buffer | undefined {
    if (this.len === 0) return undefined;
    return this.buf.subarray(Math.max(0, this.len - this.size), this.len);
  }
}

function tooLarge(): Error {
  return Object.assign(new RangeError('Max payload size exceeded'), {
    code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH',
  });
}

function windowBits(value: boolean | number | undefined): number {
  return typeof value === 'number' ? value : 15;
}

/**
 * Switch an open socket's negotiated permessage-deflate to synchronous zlib. Returns false, leaving `ws` as it is,
 * when nothing was negotiated, when the `ws` in use does not have the shape this was written for, or when the
 * platform asked for 8-bit windows (zlib's raw deflate cannot make them).
 */
export function useSyncDeflate(ws: WebSocket, maxPayload: number): boolean {
  const ext = (ws as unknown as { _extensions?: Record<string, WsPerMessageDeflate> })._extensions?.[
    'permessage-deflate'
  ];
  if (!ext || !ext.params || typeof ext.compress !== 'function' || typeof ext.decompress !== 'function')
    return false;
  const params = ext.params;
  const ourBits = windowBits(params.client_max_window_bits);
  const theirBits = windowBits(params.server_max_window_bits);
  if (ourBits < 9 || theirBits < 9) return false;

  const deflateBits = Math.min(ourBits, DEFLATE_WINDOW_BITS);
  const sent = params.client_no_context_takeover
    ? undefined
    : new History(Math.min(SENT_HISTORY, 1 << ourBits));
  const received = params.server_no_context_takeover ? undefined : new History(1 << theirBits);
  const pending: Buffer[] = [];

  ext.compress = (data, fin, callback) => {
    const input = typeof data === 'string' ? Buffer.from(data) : data;
    let out: Buffer;
    try {
      out = deflateRawSync(input, {
        windowBits: deflateBits,
        dictionary: sent?.window(),
        finishFlush: constants.Z_SYNC_FLUSH,
      });
    } catch (err) {
      callback(err as Error);
      return;
    }
    sent?.append(input);
    callback(null, fin ? out.subarray(0, out.length - TAIL.length) : out);
  };

  ext.decompress = (data, fin, callback) => {
    // A fragment may end inside a deflate block: inflate the message whole once its last fragment is in. What
    // waits is bounded: ws refuses a message whose frames carry more than maxPayload bytes, compressed or not.
    pending.push(data);
    if (!fin) {
      process.nextTick(callback, null, EMPTY);
      return;
    }
    const input = Buffer.concat([...pending.splice(0), TAIL]);
    let out: Buffer;
    try {
      out = inflateRawSync(input, {
        windowBits: theirBits,
        dictionary: received?.window(),
        finishFlush: constants.Z_SYNC_FLUSH,
        ...(maxPayload > 0 ? { maxOutputLength: maxPayload } : {}),
      });
    } catch (err) {
      // The close codes ws's own inflater gives: 1009 too big, 1007 not deflate data.
      const tooBig = (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE';
      ws.close(tooBig ? 1009 : 1007);
      process.nextTick(callback, tooBig ? tooLarge() : err);
      return;
    }
    received?.append(out);
    // ws's receiver must get this callback on a later tick, as from its own zlib: it re-enters its parsing loop.
    process.nextTick(callback, null, out);
  };
  return true;
}
