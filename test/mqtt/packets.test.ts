import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import {
  decodeConnack,
  decodePublish,
  encodeAck,
  encodeConnect,
  encodePublish,
  encodeSubscribe,
  encodeUnsubscribe,
  frameAt,
  MqttProtocolError,
  PacketReader,
  packetId,
  subackCodes,
  type ConnectPacket,
  type Frame,
} from '../../lib/mqtt/packets';

/*
 * Our MQTT 3.1.1 packets against mqtt-packet, the codec of mqtt.js (an implementation we did not write),
 * and against the examples of the OASIS standard.
 */
interface Generated {
  cmd: string;
  [field: string]: unknown;
}
interface MqttPacketModule {
  generate(packet: Generated, options?: { protocolVersion: number }): Buffer;
}
const mqttPacket = require('mqtt-packet') as MqttPacketModule;
const generate = (p: Generated) => mqttPacket.generate(p, { protocolVersion: 4 });

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const topic = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
  .filter((t) => !t.includes('+') && !t.includes('#') && !t.includes('\u0000'));
const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));
const id = fc.integer({ min: 1, max: 65_535 });

describe('MQTT packets (MQTT 3.1.1)', () => {
  it('writes and reads the Remaining Length as the standard’s table 2.4 does, 1 to 4 bytes', () => {
    const table: [number, number[]][] = [
      [0, [0x00]],
      [127, [0x7f]],
      [128, [0x80, 0x01]],
      [16_383, [0xff, 0x7f]],
      [16_384, [0x80, 0x80, 0x01]],
      [2_097_151, [0xff, 0xff, 0x7f]],
      [2_097_152, [0x80, 0x80, 0x80, 0x01]],
      [268_435_455, [0xff, 0xff, 0xff, 0x7f]],
    ];
    for (const [length, encoded] of table) {
      const header = Buffer.from([0x30, ...encoded]);
      const frame = frameAt(header, 0);
      if (length === 0) assert.deepEqual(frame, { first: 0x30, start: 2, end: 2 });
      // Only the header is there: the whole body is still missing.
      else assert.equal(frame, -length, `remaining length ${length}`);
      if (length >= 3 && length <= 2_097_152) {
        // A QoS 0 PUBLISH to topic "t" has 3 bytes before its payload.
        const packet = encodePublish('t', Buffer.alloc(length - 3), 0, 0);
        assert.deepEqual([...packet.subarray(1, 1 + encoded.length)], encoded, `encoded ${length}`);
        assert.equal(packet.length, 1 + encoded.length + length);
      }
    }
    assert.throws(() => frameAt(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), 0), MqttProtocolError);
    assert.equal(frameAt(Buffer.from([0x30]), 0), -1);
    assert.equal(frameAt(Buffer.from([0x30, 0x80]), 0), -1, 'the length goes on in the next byte');
  });

  it('writes CONNECT byte for byte as mqtt-packet does, whatever the fields (property)', () => {
    const connect = fc.record({
      clientId: text,
      clean: fc.boolean(),
      keepalive: fc.integer({ min: 0, max: 65_535 }),
      username: fc.option(text, { nil: undefined }),
      password: fc.option(text, { nil: undefined }),
      will: fc.option(
        fc.record({ topic, payload: bytes, qos: fc.constantFrom<0 | 1>(0, 1), retain: fc.boolean() }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(connect, (c: ConnectPacket) => {
        if ((c.username === undefined && c.password !== undefined) || (c.clientId === '' && !c.clean)) {
          // MQTT 3.1.1: no password without a user name (3.1.2.9), no empty client id for a kept session (3.1.3.1).
          assert.throws(() => encodeConnect(c), MqttProtocolError);
          return;
        }
        const theirs = generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: c.clientId,
          clean: c.clean,
          keepalive: c.keepalive,
          ...(c.username !== undefined ? { username: c.username } : {}),
          ...(c.password !== undefined ? { password: Buffer.from(c.password) } : {}),
          ...(c.will ? { will: { ...c.will } } : {}),
        });
        assert.deepEqual(encodeConnect(c), theirs);
      }),
      { numRuns: 300 },
    );
  });

  it('writes PUBLISH, SUBSCRIBE, UNSUBSCRIBE and the acknowledgements as mqtt-packet does (property)', () => {
    fc.assert(
      fc.property(
        topic,
        fc.oneof(bytes, text),
        fc.constantFrom<0 | 1>(0, 1),
        id,
        fc.boolean(),
        (t, payload, qos, messageId, dup) => {
          const theirs = generate({
            cmd: 'publish',
            topic: t,
            payload,
            qos,
            dup,
            retain: false,
            ...(qos > 0 ? { messageId } : {}),
          });
          assert.deepEqual(encodePublish(t, payload, qos, messageId, dup), theirs);
        },
      ),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(
        id,
        fc.array(topic, { minLength: 1, maxLength: 5 }),
        fc.constantFrom<0 | 1>(0, 1),
        (i, filters, qos) => {
          assert.deepEqual(
            encodeSubscribe(i, filters, qos),
            generate({
              cmd: 'subscribe',
              messageId: i,
              subscriptions: filters.map((f) => ({ topic: f, qos })),
            }),
          );
          assert.deepEqual(
            encodeUnsubscribe(i, filters),
            generate({ cmd: 'unsubscribe', messageId: i, unsubscriptions: filters }),
          );
          for (const [type, cmd] of [
            [4, 'puback'],
            [5, 'pubrec'],
            [6, 'pubrel'],
            [7, 'pubcomp'],
          ] as const)
            assert.deepEqual(encodeAck(type, i), generate({ cmd, messageId: i }), cmd);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads what a broker sends, in whatever chunks it arrives (property)', () => {
    const brokerPacket = fc.oneof(
      fc.record({
        cmd: fc.constant('publish'),
        topic,
        payload: bytes,
        qos: fc.constantFrom(0, 1, 2),
        messageId: id,
        dup: fc.boolean(),
        retain: fc.boolean(),
      }),
      fc.record({ cmd: fc.constantFrom('puback', 'pubrel', 'unsuback'), messageId: id }),
      fc.record({
        cmd: fc.constant('suback'),
        messageId: id,
        granted: fc.array(fc.constantFrom(0, 1, 2, 0x80), { minLength: 1, maxLength: 4 }),
      }),
      fc.record({
        cmd: fc.constant('connack'),
        sessionPresent: fc.boolean(),
        returnCode: fc.integer({ min: 0, max: 5 }),
      }),
      fc.constant({ cmd: 'pingresp' }),
    );
    fc.assert(
      fc.property(
        fc.array(brokerPacket, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }),
        (packets, cuts) => {
          const stream = Buffer.concat(packets.map((p) => generate(p as Generated)));
          const reader = new PacketReader();
          const read: unknown[] = [];
          const take = () => {
            for (let f = reader.next(); f; f = reader.next()) read.push(readBack(reader.buf, f));
          };
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const end = Math.min(stream.length, at + cuts[i % cuts.length]);
            if (reader.push(Buffer.from(stream.subarray(at, end)))) take();
            at = end;
          }
          take();
          assert.deepEqual(read, packets.map(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('joins a packet that arrives in many chunks once, when its last byte is there', () => {
    const packet = encodePublish('big/one', Buffer.alloc(1_000_000, 7), 1, 42);
    const reader = new PacketReader();
    const says: boolean[] = [];
    for (let at = 0; at < packet.length; at += 1000) {
      says.push(reader.push(packet.subarray(at, Math.min(packet.length, at + 1000))));
      if (says[says.length - 1]) assert.equal(reader.next() === undefined, at + 1000 < packet.length);
    }
    // The first chunk tells the length; every later one but the last needs no look.
    assert.deepEqual(
      says.map((s, i) => (s ? i : -1)).filter((i) => i >= 0),
      [0, says.length - 1],
    );
  });

  it('refuses what MQTT 3.1.1 does not allow', () => {
    const frameOf = (b: number[]): { buf: Buffer; frame: Frame } => {
      const buf = Buffer.from(b);
      return { buf, frame: frameAt(buf, 0) as Frame };
    };
    const cases: [string, number[], (buf: Buffer, f: Frame) => unknown][] = [
      ['QoS 3', [0x36, 5, 0, 1, 0x74, 0, 1], decodePublish],
      ['a topic longer than the packet', [0x30, 3, 0, 9, 0x74], decodePublish],
      ['no room for the packet identifier', [0x32, 3, 0, 1, 0x74], decodePublish],
      ['packet identifier 0', [0x32, 5, 0, 1, 0x74, 0, 0], decodePublish],
      ['no topic length', [0x30, 1, 0], decodePublish],
      ['a CONNACK of 3 bytes', [0x20, 3, 0, 0, 0], decodeConnack],
      ['a PUBACK without its identifier', [0x40, 1, 0], packetId],
    ];
    for (const [what, b, decode] of cases) {
      const { buf, frame } = frameOf(b);
      assert.throws(() => decode(buf, frame), MqttProtocolError, what);
    }
    assert.throws(() => encodePublish('x'.repeat(65_536), '', 0, 0), MqttProtocolError);
    assert.throws(
      () => encodeConnect({ clientId: 'é'.repeat(40_000), clean: true, keepalive: 0 }),
      MqttProtocolError,
    );
  });
});

function readBack(buf: Buffer, frame: Frame): unknown {
  const type = frame.first >> 4;
  if (type === 3) {
    const p = decodePublish(buf, frame);
    return {
      cmd: 'publish',
      topic: p.topic,
      payload: [...p.payload],
      qos: p.qos,
      id: p.id,
      dup: p.dup,
      retain: p.retain,
    };
  }
  if (type === 2) return { cmd: 'connack', ...decodeConnack(buf, frame) };
  if (type === 9) return { cmd: 'suback', id: packetId(buf, frame), codes: subackCodes(buf, frame) };
  if (type === 13) return { cmd: 'pingresp' };
  return { type, id: packetId(buf, frame) };
}

function expected(p: Record<string, unknown>): unknown {
  const cmd = p.cmd as string;
  if (cmd === 'publish') {
    const qos = p.qos as number;
    return {
      cmd,
      topic: p.topic,
      payload: [...(p.payload as Buffer)],
      qos,
      id: qos > 0 ? p.messageId : 0,
      dup: p.dup,
      retain: p.retain,
    };
  }
  if (cmd === 'connack') return { cmd, sessionPresent: p.sessionPresent, returnCode: p.returnCode };
  if (cmd === 'suback') return { cmd, id: p.messageId, codes: p.granted };
  if (cmd === 'pingresp') return { cmd };
  return { type: { puback: 4, pubrel: 6, unsuback: 11 }[cmd], id: p.messageId };
}
