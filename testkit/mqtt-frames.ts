/**
 * Splits an MQTT 3.1.1 byte stream into packets (fixed header, then the remaining length's bytes),
 * whatever the chunks it arrives in. Only for watching a connection in tests: it answers nothing.
 */
export class MqttFrames {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onPacket: (first: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    for (;;) {
      const header = remainingLength(buf);
      if (!header || buf.length < header.start + header.length) break;
      this.onPacket(buf[0], buf.subarray(header.start, header.start + header.length));
      buf = buf.subarray(header.start + header.length);
    }
    this.pending = Buffer.from(buf);
  }
}

/** The remaining length and where the packet's body starts, once the whole header is there. */
function remainingLength(buf: Buffer): { length: number; start: number } | undefined {
  let length = 0;
  for (let i = 1; i <= 4; i++) {
    if (buf.length <= i) return undefined;
    length += (buf[i] & 0x7f) * 128 ** (i - 1);
    if ((buf[i] & 0x80) === 0) return { length, start: i + 1 };
  }
  throw new Error('malformed MQTT remaining length');
}

/** A QoS 1 or 2 PUBLISH's packet identifier, topic and payload; undefined for any other packet. */
export function publishOf(
  first: number,
  body: Buffer,
): { id: number; topic: string; payload: Buffer } | undefined {
  if (first >> 4 !== 3 || ((first >> 1) & 3) === 0) return undefined;
  const topicLength = body.readUInt16BE(0);
  const topic = body.toString('utf8', 2, 2 + topicLength);
  const id = body.readUInt16BE(2 + topicLength);
  return { id, topic, payload: body.subarray(4 + topicLength) };
}

/** A PUBACK's packet identifier; undefined for any other packet. */
export function pubackOf(first: number, body: Buffer): number | undefined {
  return first >> 4 === 4 ? body.readUInt16BE(0) : undefined;
}
