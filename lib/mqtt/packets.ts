/**
 * MQTT 3.1.1 packets, as a client writes and reads them (OASIS MQTT 3.1.1, section 2 and 3). Pure: no
 * sockets, no timers. Each packet a client writes is built in one buffer.
 */

export const CONNACK = 2;
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;
export const SUBACK = 9;
export const UNSUBACK = 11;
export const PINGRESP = 13;

/** The largest Remaining Length MQTT can express (four bytes of seven bits). */
export const MAX_REMAINING_LENGTH = 268_435_455;

export class MqttProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MqttProtocolError';
  }
}

export interface ConnectPacket {
  clientId: string;
  clean: boolean;
  /** Seconds; 0 turns the keep-alive off. */
  keepalive: number;
  username?: string;
  password?: string;
  will?: { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean };
}

function lengthBytes(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Writes the fixed header at 0 and returns where the variable header starts. */
function fixedHeader(buf: Buffer, first: number, remaining: number): number {
  buf[0] = first;
  let at = 1;
  do {
    let byte = remaining % 128;
    remaining = Math.floor(remaining / 128);
    if (remaining > 0) byte |= 128;
    buf[at++] = byte;
  } while (remaining > 0);
  return at;
}

function packet(first: number, remaining: number): { buf: Buffer; at: number } {
  if (remaining > MAX_REMAINING_LENGTH) throw new MqttProtocolError(`packet too large (${remaining} bytes)`);
  const buf = Buffer.allocUnsafe(1 + lengthBytes(remaining) + remaining);
  return { buf, at: fixedHeader(buf, first, remaining) };
}

function writeString(buf: Buffer, at: number, bytes: Buffer): number {
  buf.writeUInt16BE(bytes.length, at);
  bytes.copy(buf, at + 2);
  return at + 2 + bytes.length;
}

function utf8(value: string, what: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 65_535) throw new MqttProtocolError(`${what} longer than 65535 bytes`);
  return bytes;
}

export function encodeConnect(c: ConnectPacket): Buffer {
  const id = utf8(c.clientId, 'client id');
  const will = c.will && { topic: utf8(c.will.topic, 'will topic'), payload: c.will.payload };
  if (will && will.payload.length > 65_535)
    throw new MqttProtocolError('will payload longer than 65535 bytes');
  const user = c.username !== undefined ? utf8(c.username, 'user name') : undefined;
  const pass = c.password !== undefined ? utf8(c.password, 'password') : undefined;
  if (id.length === 0 && !c.clean)
    throw new MqttProtocolError('an empty client id needs a clean session (MQTT 3.1.1)');
  if (pass && !user) throw new MqttProtocolError('a password needs a user name (MQTT 3.1.1)');
  let flags = c.clean ? 0x02 : 0;
  if (will) flags |= 0x04 | (c.will!.qos << 3) | (c.will!.retain ? 0x20 : 0);
  if (pass) flags |= 0x40;
  if (user) flags |= 0x80;
  let remaining = 10 + 2 + id.length;
  if (will) remaining += 4 + will.topic.length + will.payload.length;
  if (user) remaining += 2 + user.length;
  if (pass) remaining += 2 + pass.length;
  const { buf, at: start } = packet(0x10, remaining);
  let at = writeString(buf, start, Buffer.from('MQTT'));
  buf[at++] = 4; // protocol level: 3.1.1
  buf[at++] = flags;
  buf.writeUInt16BE(c.keepalive, at);
  at = writeString(buf, at + 2, id);
  if (will) at = writeString(buf, writeString(buf, at, will.topic), will.payload);
  if (user) at = writeString(buf, at, user);
  if (pass) writeString(buf, at, pass);
  return buf;
}

export function encodePublish(
  topic: string,
  payload: Buffer | string,
  qos: 0 | 1,
  id: number,
  dup = false,
): Buffer {
  const topicLength = Buffer.byteLength(topic, 'utf8');
  if (topicLength > 65_535) throw new MqttProtocolError('topic longer than 65535 bytes');
  const payloadLength = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.length;
  const { buf, at: start } = packet(
    0x30 | (dup ? 0x08 : 0) | (qos << 1),
    2 + topicLength + (qos > 0 ? 2 : 0) + payloadLength,
  );
  buf.writeUInt16BE(topicLength, start);
  let at = start + 2 + buf.write(topic, start + 2, 'utf8');
  if (qos > 0) {
    buf.writeUInt16BE(id, at);
    at += 2;
  }
  if (typeof payload === 'string') buf.write(payload, at, 'utf8');
  else payload.copy(buf, at);
  return buf;
}

/** PUBACK, PUBREC, PUBREL (flags 0010) and PUBCOMP: four bytes. */
export function encodeAck(type: 4 | 5 | 6 | 7, id: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf[0] = (type << 4) | (type === PUBREL ? 0x02 : 0);
  buf[1] = 2;
  buf.writeUInt16BE(id, 2);
  return buf;
}

export function encodeSubscribe(id: number, filters: readonly string[], qos: 0 | 1): Buffer {
  const bytes = filters.map((f) => utf8(f, 'topic filter'));
  const { buf, at: start } = packet(0x82, 2 + bytes.reduce((n, b) => n + 3 + b.length, 0));
  buf.writeUInt16BE(id, start);
  let at = start + 2;
  for (const b of bytes) {
    at = writeString(buf, at, b);
    buf[at++] = qos;
  }
  return buf;
}

export function encodeUnsubscribe(id: number, filters: readonly string[]): Buffer {
  const bytes = filters.map((f) => utf8(f, 'topic filter'));
  const { buf, at: start } = packet(0xa2, 2 + bytes.reduce((n, b) => n + 2 + b.length, 0));
  buf.writeUInt16BE(id, start);
  let at = start + 2;
  for (const b of bytes) at = writeString(buf, at, b);
  return buf;
}

export const PINGREQ_PACKET: Readonly<Buffer> = Buffer.from([0xc0, 0]);
export const DISCONNECT_PACKET: Readonly<Buffer> = Buffer.from([0xe0, 0]);

/** A packet's place in a buffer: its type and flags (first byte), and where its body starts and ends. */
export interface Frame {
  first: number;
  start: number;
  end: number;
}

/**
 * The packet starting at `at`, or the number of bytes needed to know more (a negative count: -n means
 * "at least n more bytes"). Throws on a Remaining Length longer than four bytes.
 */
export function frameAt(buf: Buffer, at: number): Frame | number {
  const available = buf.length - at;
  if (available < 2) return -(2 - available);
  let remaining = 0;
  let multiplier = 1;
  let i = at + 1;
  for (;;) {
    if (i >= buf.length) return -1;
    const byte = buf[i++];
    remaining += (byte & 127) * multiplier;
    if ((byte & 128) === 0) break;
    multiplier *= 128;
    if (i - at > 4) throw new MqttProtocolError('malformed remaining length');
  }
  const end = i + remaining;
  if (end > buf.length) return -(end - buf.length);
  return { first: buf[at], start: i, end };
}

/**
 * The packets in a byte stream, whatever chunks it arrives in. A packet split over chunks is joined
 * once, when its last byte is there (not at each chunk: a large one would be copied again and again).
 */
export class PacketReader {
  /** Where the packet `next` returned lies (valid until the next call to `next` or `push`). */
  buf: Buffer = EMPTY;
  private at = 0;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private needed = 2;

  /** Adds received bytes; false when no further whole packet can be there yet. */
  push(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    return this.buf.length - this.at + this.chunkBytes >= this.needed;
  }

  /** The next whole packet (its bytes in `buf`), or undefined until more bytes arrive. */
  next(): Frame | undefined {
    if (this.chunkBytes > 0 && this.buf.length - this.at + this.chunkBytes >= this.needed) {
      const parts = this.at < this.buf.length ? [this.buf.subarray(this.at), ...this.chunks] : this.chunks;
      this.buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
      this.at = 0;
      this.chunks = [];
      this.chunkBytes = 0;
    }
    const frame = frameAt(this.buf, this.at);
    if (typeof frame === 'number') {
      this.needed = this.buf.length - this.at - frame;
      return undefined;
    }
    this.at = frame.end;
    this.needed = 2;
    return frame;
  }

  /** Drops what is buffered. */
  clear(): void {
    this.buf = EMPTY;
    this.at = 0;
    this.chunks = [];
    this.chunkBytes = 0;
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

export interface Publish {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  /** 0 at QoS 0. */
  id: number;
  dup: boolean;
  retain: boolean;
}

/** A PUBLISH body; the payload is a view into `buf`, not a copy. */
export function decodePublish(buf: Buffer, frame: Frame): Publish {
  const qos = (frame.first >> 1) & 3;
  if (qos === 3) throw new MqttProtocolError('PUBLISH with QoS 3');
  let at = frame.start;
  if (frame.end - at < 2) throw new MqttProtocolError('PUBLISH without a topic');
  const topicEnd = at + 2 + buf.readUInt16BE(at);
  const bodyStart = topicEnd + (qos > 0 ? 2 : 0);
  if (bodyStart > frame.end) throw new MqttProtocolError('PUBLISH shorter than its topic');
  const topic = buf.toString('utf8', at + 2, topicEnd);
  at = topicEnd;
  const id = qos > 0 ? buf.readUInt16BE(at) : 0;
  if (qos > 0 && id === 0) throw new MqttProtocolError('PUBLISH with packet identifier 0');
  return {
    topic,
    payload: buf.subarray(bodyStart, frame.end),
    qos: qos as 0 | 1 | 2,
    id,
    dup: (frame.first & 0x08) !== 0,
    retain: (frame.first & 0x01) !== 0,
  };
}

/** The packet identifier of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK. */
export function packetId(buf: Buffer, frame: Frame): number {
  if (frame.end - frame.start < 2) throw new MqttProtocolError(`packet type ${frame.first >> 4} too short`);
  return buf.readUInt16BE(frame.start);
}

/** CONNACK's return code (0: accepted) and session-present flag. */
export function decodeConnack(buf: Buffer, frame: Frame): { returnCode: number; sessionPresent: boolean } {
  if (frame.end - frame.start !== 2) throw new MqttProtocolError('CONNACK of the wrong length');
  return { sessionPresent: (buf[frame.start] & 1) === 1, returnCode: buf[frame.start + 1] };
}

/** SUBACK's return codes, one per filter: the granted QoS, or 0x80 for a refusal. */
export function subackCodes(buf: Buffer, frame: Frame): number[] {
  return [...buf.subarray(frame.start + 2, frame.end)];
}

/** CONNACK return codes 1-5 as MQTT 3.1.1 (3.2.2.3) names them. */
export const CONNACK_REFUSALS: Readonly<Record<number, string>> = {
  1: 'Unacceptable protocol version',
  2: 'Identifier rejected',
  3: 'Server unavailable',
  4: 'Bad user name or password',
  5: 'Not authorized',
};
