import { asBuffer, Reader, Writer } from './binary';
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_MESSAGE_SIZE,
  HEADER_SIZE,
  isRequestCode,
  isResponseCode,
  MULTIPART_HEADER_SIZE,
} from './constants';
import { AlwaysOnDecodeError, AlwaysOnEncodeError } from './errors';
import {
  decodeMessage,
  encodeMessage,
  readHeader,
  writeHeader,
  type AlwaysOnMessage,
  type MessageDecodeOptions,
  type MessageHeader,
} from './messages';

export interface SplitOptions {
  /** Largest frame, header included (default 8192; at most 65535 since it travels as a u16). */
  chunkSize?: number;
  /** Largest whole message, header included (default 1 MiB). */
  maxMessageSize?: number;
}

/** One multipart chunk as received. */
export interface MultipartChunk {
  header: MessageHeader;
  chunkId: number;
  chunkCount: number;
  chunkSize: number;
  /** Present for request chunks, which repeat entityType + entityName after the 6 multipart bytes. */
  entity?: { type: number; name: string };
  /** This chunk's share of the body (entity prefix stripped). */
  data: Buffer;
}

const CHUNK_OVERHEAD = HEADER_SIZE + MULTIPART_HEADER_SIZE;

/**
 * Cut an encoded whole message (multipart flag 0) into frames of at most `chunkSize` bytes. A message that fits
 * is returned as is. Only requests and responses can be split (the SDK reassembles nothing else); every request
 * chunk repeats entityType + entityName after the 6 multipart bytes.
 */
export function splitMessage(frame: Uint8Array, opts: SplitOptions = {}): Buffer[] {
  const buf = asBuffer(frame);
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize <= CHUNK_OVERHEAD || chunkSize > 0xffff) {
    throw new AlwaysOnEncodeError(`chunk size ${chunkSize} must be in ${CHUNK_OVERHEAD + 1}..65535`);
  }
  if (buf.length > maxMessageSize) {
    throw new AlwaysOnEncodeError(`message of ${buf.length} bytes is over the ${maxMessageSize}-byte limit`);
  }
  if (buf.length <= chunkSize) return [buf];
  let header: MessageHeader;
  let prefixEnd = HEADER_SIZE;
  try {
    const r = new Reader(buf);
    header = readHeader(r);
    if (isRequestCode(header.code)) {
      r.u8();
      r.string();
      prefixEnd = r.pos;
    }
  } catch (e) {
    if (e instanceof AlwaysOnDecodeError)
      throw new AlwaysOnEncodeError(`not an encoded message: ${e.message}`);
    throw e;
  }
  if (header.multipart) throw new AlwaysOnEncodeError('message is already a multipart chunk');
  if (!isRequestCode(header.code) && !isResponseCode(header.code)) {
    throw new AlwaysOnEncodeError(
      `code 0x${header.code.toString(16)} cannot be sent in chunks (split BIND names into batches instead)`,
    );
  }
  const prefix = buf.subarray(HEADER_SIZE, prefixEnd);
  const rest = buf.subarray(prefixEnd);
  const perChunk = chunkSize - CHUNK_OVERHEAD - prefix.length;
  if (perChunk < 1) throw new AlwaysOnEncodeError('entity name too long for the chunk size');
  const count = Math.ceil(rest.length / perChunk);
  if (count > 0xffff) throw new AlwaysOnEncodeError(`${count} chunks exceed the u16 chunk count`);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const piece = rest.subarray(i * perChunk, (i + 1) * perChunk);
    const w = new Writer(CHUNK_OVERHEAD + prefix.length + piece.length);
    writeHeader(w, { ...header, multipart: true });
    w.u16(i + 1)
      .u16(count)
      .u16(chunkSize);
    w.bytes(prefix);
    w.bytes(piece);
    out.push(w.toBuffer());
  }
  return out;
}

/** Encode a message and cut it into frames ready to send (one frame when it fits). */
export function encodeFrames(msg: AlwaysOnMessage, opts: SplitOptions = {}): Buffer[] {
  return splitMessage(encodeMessage(msg), opts);
}

/** Parse one multipart chunk (header byte 14 = 1). Throws only `AlwaysOnDecodeError`. */
export function decodeChunk(frame: Uint8Array): MultipartChunk {
  const r = new Reader(asBuffer(frame));
  const header = readHeader(r);
  if (!header.multipart) throw new AlwaysOnDecodeError('not-multipart', 14, 'multipart flag is 0');
  const isRequest = isRequestCode(header.code);
  if (!isRequest && !isResponseCode(header.code)) {
    throw new AlwaysOnDecodeError('bad-chunk', 1, `code 0x${header.code.toString(16)} cannot be multipart`);
  }
  const idAt = r.pos;
  const chunkId = r.u16('chunkId');
  const chunkCount = r.u16('chunkCount');
  const chunkSize = r.u16('chunkSize');
  if (chunkCount < 1 || chunkId < 1 || chunkId > chunkCount) {
    throw new AlwaysOnDecodeError('bad-chunk', idAt, `chunk ${chunkId} of ${chunkCount}`);
  }
  const chunk: MultipartChunk = { header, chunkId, chunkCount, chunkSize, data: Buffer.alloc(0) };
  if (isRequest) {
    const type = r.u8('entityType');
    const name = r.string('entityName');
    chunk.entity = { type, name };
  }
  chunk.data = r.bytes(r.remaining, 'chunk data');
  return chunk;
}

export type EvictionReason = 'timeout' | 'capacity';

export interface ReassemblerOptions {
  /** Largest reassembled message, header included (default 1 MiB). */
  maxMessageSize?: number;
  /** Most messages being reassembled at once; the oldest is evicted to make room (default 16). */
  maxPendingMessages?: number;
  /** Most bytes held across all partial messages; the oldest are evicted to make room (default 4 MiB). */
  maxPendingBytes?: number;
  /** A partial message is dropped this long after its first chunk (default 30 s). */
  timeoutMs?: number;
  /** Clock, for tests (default Date.now). */
  now?: () => number;
  /** Told when a partial message is dropped without an error being thrown. */
  onEvict?: (info: { requestId: number; code: number; reason: EvictionReason }) => void;
  /** Passed to `decodeMessage` by `accept`. */
  decode?: MessageDecodeOptions;
}

interface Pending {
  header: MessageHeader;
  chunkCount: number;
  chunkSize: number;
  entity?: { type: number; name: string };
  chunks: Map<number, Buffer>;
  bytes: number;
  deadline: number;
}

/**
 * Joins multipart chunks back into whole frames, with bounded memory: per-message size limit, a cap on the number
 * of partial messages and on their total bytes, and a timeout. Chunks are stored sparsely (no array sized by a
 * declared chunk count). An inconsistent chunk (other code, ids, counts, size or entity than the first, duplicate
 * id, message over the limit) drops that partial message and throws `AlwaysOnDecodeError`. No timers are started:
 * expiry is checked on every `push`, and `evictExpired()` can be called from the caller's own timer.
 */
export class MultipartReassembler {
  private readonly pending = new Map<string, Pending>();
  private heldBytes = 0;
  private readonly maxMessageSize: number;
  private readonly maxPendingMessages: number;
  private readonly maxPendingBytes: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ReassemblerOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxPendingMessages = Math.max(1, options.maxPendingMessages ?? 16);
    this.maxPendingBytes = options.maxPendingBytes ?? 4 * DEFAULT_MAX_MESSAGE_SIZE;
    this.timeoutMs = options.timeoutMs ?? 30000;
    this.now = options.now ?? Date.now;
  }

  /** Number of messages being reassembled. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Bytes held by partial messages. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /** Drop every partial message. */
  clear(): void {
    this.pending.clear();
    this.heldBytes = 0;
  }

  /** Drop partial messages whose time is up; returns how many were dropped. */
  evictExpired(): number {
    const now = this.now();
    let n = 0;
    for (const [key, p] of this.pending) {
      if (now >= p.deadline) {
        this.drop(key, 'timeout');
        n++;
      }
    }
    return n;
  }

  /**
   * Feed one received frame. A non-multipart frame is returned as is; a chunk returns undefined until its message
   * is complete, then the whole message as one frame (multipart flag 0), ready for `decodeMessage`.
   */
  push(frame: Uint8Array): Buffer | undefined {
    const buf = asBuffer(frame);
    this.evictExpired();
    if (buf.length > this.maxMessageSize) {
      throw new AlwaysOnDecodeError('too-large', 0, `${buf.length} > ${this.maxMessageSize} bytes`);
    }
    const header = readHeader(new Reader(buf));
    if (!header.multipart) return buf;
    const key = `${isRequestCode(header.code) ? 'req' : 'resp'}:${header.requestId}`;
    let chunk: MultipartChunk;
    try {
      chunk = decodeChunk(buf);
    } catch (e) {
      this.drop(key);
      throw e;
    }
    let p = this.pending.get(key);
    if (p) {
      const h = p.header;
      const same =
        h.code === header.code &&
        h.endpointId === header.endpointId &&
        h.sessionId === header.sessionId &&
        p.chunkCount === chunk.chunkCount &&
        p.chunkSize === chunk.chunkSize &&
        p.entity?.type === chunk.entity?.type &&
        p.entity?.name === chunk.entity?.name;
      if (!same) {
        this.drop(key);
        throw new AlwaysOnDecodeError(
          'inconsistent-chunk',
          0,
          `chunk ${chunk.chunkId} of request ${h.requestId}`,
        );
      }
      if (p.chunks.has(chunk.chunkId)) {
        this.drop(key);
        throw new AlwaysOnDecodeError(
          'duplicate-chunk',
          15,
          `chunk ${chunk.chunkId} of request ${h.requestId}`,
        );
      }
    } else {
      p = {
        header: { ...header, multipart: false },
        chunkCount: chunk.chunkCount,
        chunkSize: chunk.chunkSize,
        entity: chunk.entity,
        chunks: new Map(),
        bytes: 0,
        deadline: this.now() + this.timeoutMs,
      };
    }
    const nameLen = chunk.entity ? Buffer.byteLength(chunk.entity.name) : 0;
    const prefixLen = chunk.entity ? 1 + (nameLen < 0x80 ? 1 : 4) + nameLen : 0;
    if (HEADER_SIZE + prefixLen + p.bytes + chunk.data.length > this.maxMessageSize) {
      this.drop(key);
      throw new AlwaysOnDecodeError(
        'too-large',
        0,
        `message ${header.requestId} grows over ${this.maxMessageSize}`,
      );
    }
    // Make room: other partial messages go, oldest first.
    if (!this.pending.has(key)) {
      while (this.pending.size >= this.maxPendingMessages) this.dropOldest(key);
      this.pending.set(key, p);
    }
    while (this.heldBytes + chunk.data.length > this.maxPendingBytes && this.pending.size > 1)
      this.dropOldest(key);
    if (this.heldBytes + chunk.data.length > this.maxPendingBytes) {
      this.drop(key);
      throw new AlwaysOnDecodeError('too-many-pending', 0, 'message larger than the pending-bytes budget');
    }
    p.chunks.set(chunk.chunkId, chunk.data);
    p.bytes += chunk.data.length;
    this.heldBytes += chunk.data.length;
    if (p.chunks.size < p.chunkCount) return undefined;
    this.drop(key);
    return this.assemble(p);
  }

  /** `push`, then `decodeMessage` on a completed frame. */
  accept(frame: Uint8Array): AlwaysOnMessage | undefined {
    const whole = this.push(frame);
    return whole
      ? decodeMessage(whole, { maxMessageSize: this.maxMessageSize, ...this.options.decode })
      : undefined;
  }

  private assemble(p: Pending): Buffer {
    const w = new Writer(HEADER_SIZE + p.bytes + 16);
    writeHeader(w, p.header);
    if (p.entity) {
      w.u8(p.entity.type);
      w.string(p.entity.name);
    }
    for (let id = 1; id <= p.chunkCount; id++) w.bytes(p.chunks.get(id)!);
    return w.toBuffer();
  }

  private dropOldest(except: string): void {
    for (const key of this.pending.keys()) {
      if (key !== except) {
        this.drop(key, 'capacity');
        return;
      }
    }
  }

  private drop(key: string, reason?: EvictionReason): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    this.heldBytes -= p.bytes;
    if (reason) this.options.onEvict?.({ requestId: p.header.requestId, code: p.header.code, reason });
  }
}
