import { asBuffer, Reader, Writer } from './binary';
import {
  BaseType,
  DEFAULT_MAX_MESSAGE_SIZE,
  HEADER_SIZE,
  isRequestCode,
  isResponseCode,
  MessageCode,
  PROTOCOL_VERSION,
  type RequestCode,
} from './constants';
import { AlwaysOnDecodeError, AlwaysOnEncodeError } from './errors';
import {
  expectEnd,
  maxDepthOf,
  readInfoTable,
  writeInfoTable,
  type DecodeOptions,
  type InfoTable,
} from './values';

/** The 15-byte header. Ids are unsigned 32-bit numbers once decoded. */
export interface MessageHeader {
  version: number;
  code: number;
  requestId: number;
  endpointId: number;
  sessionId: number;
  multipart: boolean;
}

export interface RequestHeaderEntry {
  name: string;
  value: string;
}

export interface RequestBody {
  /** `EntityType.THING`, `EntityType.RESOURCE`, … (any byte is carried). */
  entityType: number;
  entityName: string;
  /** `Characteristic.PROPERTIES` / `SERVICES` / `EVENTS` (any byte is carried). */
  characteristic: number;
  characteristicName: string;
  /** Up to 255 (name, value) pairs; decoding always yields an array. */
  headers?: RequestHeaderEntry[];
  /** Absent = `FF` on the wire. */
  params?: InfoTable;
}

export interface ResponseBody {
  /** Absent = reason flag `00`. */
  reason?: string;
  /** Absent = `FF` on the wire. */
  content?: InfoTable;
}

export interface AuthClaim {
  name: string;
  value: string;
}

export interface AuthBody {
  /** Up to 255 claims; ThingWorx expects one, `appKey`. */
  claims: AuthClaim[];
}

export interface BindGateway {
  name: string;
  type: string;
}

export interface BindBody {
  gateway?: BindGateway;
  /** Up to 65535 names; bind in batches of a few hundred. */
  names: string[];
}

/** Ids of a message. Encoding accepts -1 for 0xFFFFFFFF; decoding yields unsigned numbers. */
export interface MessageIds {
  requestId: number;
  endpointId: number;
  sessionId: number;
}

export interface RequestMessage extends MessageIds {
  kind: 'request';
  code: RequestCode;
  body: RequestBody;
}

export interface ResponseMessage extends MessageIds {
  kind: 'response';
  /** >= 0x40: `MessageCode.SUCCESS`, `MessageCode.NOT_FOUND`, … */
  code: number;
  body: ResponseBody;
}

export interface AuthMessage extends MessageIds {
  kind: 'auth';
  code: typeof MessageCode.AUTH;
  body: AuthBody;
}

export interface BindMessage extends MessageIds {
  kind: 'bind';
  code: typeof MessageCode.BIND | typeof MessageCode.UNBIND;
  body: BindBody;
}

/** KEEP_ALIVE (0x1F) carries no body here (the SDK never sends it; WebSocket pings keep the link alive). */
export interface KeepAliveMessage extends MessageIds {
  kind: 'keepAlive';
  code: typeof MessageCode.KEEP_ALIVE;
}

export type AlwaysOnMessage = RequestMessage | ResponseMessage | AuthMessage | BindMessage | KeepAliveMessage;

export interface MessageDecodeOptions extends DecodeOptions {
  /** Frames longer than this are refused before anything is parsed (default 1 MiB). */
  maxMessageSize?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Header

export function writeHeader(w: Writer, h: MessageHeader): void {
  if (!Number.isInteger(h.version) || h.version < 0 || h.version > 0xff) {
    throw new AlwaysOnEncodeError(`version ${h.version} is not a byte`);
  }
  if (!Number.isInteger(h.code) || h.code < 0 || h.code > 0xff) {
    throw new AlwaysOnEncodeError(`code ${h.code} is not a byte`);
  }
  w.u8(h.version);
  w.u8(h.code);
  w.u32(h.requestId, 'requestId');
  w.u32(h.endpointId, 'endpointId');
  w.u32(h.sessionId, 'sessionId');
  w.u8(h.multipart ? 1 : 0);
}

export function encodeHeader(h: MessageHeader): Buffer {
  const w = new Writer(HEADER_SIZE);
  writeHeader(w, h);
  return w.toBuffer();
}

/** Reads the header and checks the version; the multipart byte must be 0 or 1. */
export function readHeader(r: Reader): MessageHeader {
  r.need(HEADER_SIZE, 'header');
  const at = r.pos;
  const version = r.u8();
  if (version !== PROTOCOL_VERSION) throw new AlwaysOnDecodeError('bad-version', at, `version ${version}`);
  const code = r.u8();
  const requestId = r.u32();
  const endpointId = r.u32();
  const sessionId = r.u32();
  const mpAt = r.pos;
  const mp = r.u8();
  if (mp > 1) throw new AlwaysOnDecodeError('bad-marker', mpAt, `multipart flag ${mp}`);
  return { version, code, requestId, endpointId, sessionId, multipart: mp === 1 };
}

/** Decode the first 15 bytes of a frame. */
export function decodeHeader(bytes: Uint8Array): MessageHeader {
  return readHeader(new Reader(asBuffer(bytes)));
}

// ---------------------------------------------------------------------------------------------------------------
// Bodies: writers

function checkByte(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xff) throw new AlwaysOnEncodeError(`${what} ${v} is not a byte`);
}

export function writeAuthBody(w: Writer, b: AuthBody): void {
  if (!b || !Array.isArray(b.claims)) throw new AlwaysOnEncodeError('AUTH body needs a claims array');
  if (b.claims.length > 0xff) throw new AlwaysOnEncodeError('more than 255 AUTH claims');
  w.u8(b.claims.length);
  for (const c of b.claims) {
    w.string(c.name, 'claim name');
    w.string(c.value, 'claim value');
  }
}

export function writeBindBody(w: Writer, b: BindBody): void {
  if (!b || !Array.isArray(b.names)) throw new AlwaysOnEncodeError('BIND body needs a names array');
  if (b.gateway) {
    w.u8(0x01);
    w.string(b.gateway.name, 'gateway name');
    w.string(b.gateway.type, 'gateway type');
  } else {
    w.u8(0x00);
  }
  w.u16(b.names.length, 'BIND name count');
  for (const n of b.names) w.string(n, 'BIND name');
}

export function writeRequestBody(w: Writer, b: RequestBody): void {
  if (!b || typeof b !== 'object') throw new AlwaysOnEncodeError('request body is not an object');
  checkByte(b.entityType, 'entityType');
  checkByte(b.characteristic, 'characteristic');
  w.u8(b.entityType);
  w.string(b.entityName, 'entityName');
  w.u8(b.characteristic);
  w.string(b.characteristicName, 'characteristicName');
  const headers = b.headers ?? [];
  if (headers.length > 0xff) throw new AlwaysOnEncodeError('more than 255 request headers');
  w.u8(headers.length);
  for (const h of headers) {
    w.string(h.name, 'header name');
    w.string(h.value, 'header value');
  }
  if (b.params) {
    w.u8(BaseType.INFOTABLE);
    writeInfoTable(w, b.params);
  } else {
    w.u8(BaseType.NOTHING);
  }
}

export function writeResponseBody(w: Writer, b: ResponseBody): void {
  if (!b || typeof b !== 'object') throw new AlwaysOnEncodeError('response body is not an object');
  if (b.reason !== undefined) {
    w.u8(0x01);
    w.string(b.reason, 'reason');
  } else {
    w.u8(0x00);
  }
  if (b.content) {
    w.u8(BaseType.INFOTABLE);
    writeInfoTable(w, b.content);
  } else {
    w.u8(BaseType.NOTHING);
  }
}

function encodeWith<T>(fn: (w: Writer, b: T) => void, b: T): Buffer {
  const w = new Writer();
  fn(w, b);
  return w.toBuffer();
}

export const encodeAuthBody = (b: AuthBody): Buffer => encodeWith(writeAuthBody, b);
export const encodeBindBody = (b: BindBody): Buffer => encodeWith(writeBindBody, b);
export const encodeRequestBody = (b: RequestBody): Buffer => encodeWith(writeRequestBody, b);
export const encodeResponseBody = (b: ResponseBody): Buffer => encodeWith(writeResponseBody, b);

// ---------------------------------------------------------------------------------------------------------------
// Bodies: readers

export function readAuthBody(r: Reader): AuthBody {
  const at = r.pos;
  const count = r.u8('claim count');
  if (count * 2 > r.remaining) throw new AlwaysOnDecodeError('bad-count', at, `${count} claims`);
  const claims: AuthClaim[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.string('claim name');
    const value = r.string('claim value');
    claims.push({ name, value });
  }
  return { claims };
}

export function readBindBody(r: Reader): BindBody {
  const at = r.pos;
  const flag = r.u8('gateway flag');
  const body: BindBody = { names: [] };
  if (flag === 0x01) {
    const name = r.string('gateway name');
    const type = r.string('gateway type');
    body.gateway = { name, type };
  } else if (flag !== 0x00) {
    throw new AlwaysOnDecodeError('bad-marker', at, `gateway flag ${flag}`);
  }
  const countAt = r.pos;
  const count = r.u16('BIND name count');
  if (count > r.remaining) throw new AlwaysOnDecodeError('bad-count', countAt, `${count} names`);
  for (let i = 0; i < count; i++) body.names.push(r.string('BIND name'));
  return body;
}

function readOptionalInfoTable(r: Reader, maxDepth: number, what: string): InfoTable | undefined {
  const at = r.pos;
  const marker = r.u8(`${what} marker`);
  if (marker === BaseType.NOTHING) return undefined;
  if (marker !== BaseType.INFOTABLE)
    throw new AlwaysOnDecodeError('bad-marker', at, `${what} marker ${marker}`);
  return readInfoTable(r, 0, maxDepth);
}

export function readRequestBody(r: Reader, maxDepth: number): RequestBody {
  const entityType = r.u8('entityType');
  const entityName = r.string('entityName');
  const characteristic = r.u8('characteristic');
  const characteristicName = r.string('characteristicName');
  const countAt = r.pos;
  const count = r.u8('header count');
  if (count * 2 > r.remaining) throw new AlwaysOnDecodeError('bad-count', countAt, `${count} headers`);
  const headers: RequestHeaderEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.string('header name');
    const value = r.string('header value');
    headers.push({ name, value });
  }
  const body: RequestBody = { entityType, entityName, characteristic, characteristicName, headers };
  const params = readOptionalInfoTable(r, maxDepth, 'params');
  if (params) body.params = params;
  return body;
}

export function readResponseBody(r: Reader, maxDepth: number): ResponseBody {
  const at = r.pos;
  const flag = r.u8('reason flag');
  const body: ResponseBody = {};
  if (flag === 0x01) body.reason = r.string('reason');
  else if (flag !== 0x00) throw new AlwaysOnDecodeError('bad-marker', at, `reason flag ${flag}`);
  const content = readOptionalInfoTable(r, maxDepth, 'content');
  if (content) body.content = content;
  return body;
}

function decodeWhole<T>(bytes: Uint8Array, fn: (r: Reader) => T): T {
  const r = new Reader(asBuffer(bytes));
  const v = fn(r);
  expectEnd(r);
  return v;
}

export const decodeAuthBody = (bytes: Uint8Array): AuthBody => decodeWhole(bytes, readAuthBody);
export const decodeBindBody = (bytes: Uint8Array): BindBody => decodeWhole(bytes, readBindBody);
export const decodeRequestBody = (bytes: Uint8Array, opts?: DecodeOptions): RequestBody =>
  decodeWhole(bytes, (r) => readRequestBody(r, maxDepthOf(opts)));
export const decodeResponseBody = (bytes: Uint8Array, opts?: DecodeOptions): ResponseBody =>
  decodeWhole(bytes, (r) => readResponseBody(r, maxDepthOf(opts)));

// ---------------------------------------------------------------------------------------------------------------
// Whole messages

/** The `kind` a code belongs to, or undefined for a code this codec does not know. */
export function kindOfCode(code: number): AlwaysOnMessage['kind'] | undefined {
  if (isRequestCode(code)) return 'request';
  if (isResponseCode(code)) return 'response';
  if (code === MessageCode.AUTH) return 'auth';
  if (code === MessageCode.BIND || code === MessageCode.UNBIND) return 'bind';
  if (code === MessageCode.KEEP_ALIVE) return 'keepAlive';
  return undefined;
}

/**
 * Encode a whole message as one frame (multipart flag 0), whatever its size; use `encodeFrames` / `splitMessage`
 * to cut it into chunks of at most 8192 bytes.
 */
export function encodeMessage(msg: AlwaysOnMessage): Buffer {
  if (!msg || typeof msg !== 'object') throw new AlwaysOnEncodeError('message is not an object');
  const kind = kindOfCode(msg.code);
  if (kind === undefined || kind !== msg.kind) {
    throw new AlwaysOnEncodeError(`code 0x${Number(msg.code).toString(16)} does not fit kind ${msg.kind}`);
  }
  const w = new Writer();
  writeHeader(w, {
    version: PROTOCOL_VERSION,
    code: msg.code,
    requestId: msg.requestId,
    endpointId: msg.endpointId,
    sessionId: msg.sessionId,
    multipart: false,
  });
  switch (msg.kind) {
    case 'request':
      writeRequestBody(w, msg.body);
      break;
    case 'response':
      writeResponseBody(w, msg.body);
      break;
    case 'auth':
      writeAuthBody(w, msg.body);
      break;
    case 'bind':
      writeBindBody(w, msg.body);
      break;
    case 'keepAlive':
      break;
  }
  return w.toBuffer();
}

/**
 * Decode one whole (non-multipart) frame. Multipart chunks go through `MultipartReassembler` first. Throws only
 * `AlwaysOnDecodeError`.
 */
export function decodeMessage(frame: Uint8Array, opts?: MessageDecodeOptions): AlwaysOnMessage {
  const buf = asBuffer(frame);
  const limit = opts?.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
  if (buf.length > limit) throw new AlwaysOnDecodeError('too-large', 0, `${buf.length} > ${limit} bytes`);
  const maxDepth = maxDepthOf(opts);
  const r = new Reader(buf);
  const h = readHeader(r);
  if (h.multipart) throw new AlwaysOnDecodeError('unexpected-multipart', 14, 'reassemble chunks first');
  const ids: MessageIds = { requestId: h.requestId, endpointId: h.endpointId, sessionId: h.sessionId };
  let msg: AlwaysOnMessage;
  const kind = kindOfCode(h.code);
  switch (kind) {
    case 'request':
      msg = { kind, code: h.code as RequestCode, ...ids, body: readRequestBody(r, maxDepth) };
      break;
    case 'response':
      msg = { kind, code: h.code, ...ids, body: readResponseBody(r, maxDepth) };
      break;
    case 'auth':
      msg = { kind, code: MessageCode.AUTH, ...ids, body: readAuthBody(r) };
      break;
    case 'bind':
      msg = { kind, code: h.code as BindMessage['code'], ...ids, body: readBindBody(r) };
      break;
    case 'keepAlive':
      msg = { kind, code: MessageCode.KEEP_ALIVE, ...ids };
      break;
    default:
      throw new AlwaysOnDecodeError('unknown-code', 1, `message code 0x${h.code.toString(16)}`);
  }
  expectEnd(r);
  return msg;
}
