import { strict as assert } from 'assert';
import {
  BaseType,
  Characteristic,
  decodeAuthBody,
  decodeBindBody,
  decodeHeader,
  decodeMessage,
  decodeRequestBody,
  decodeResponseBody,
  decodeTypedValue,
  encodeAuthBody,
  encodeBindBody,
  encodeHeader,
  encodeMessage,
  encodeRequestBody,
  encodeResponseBody,
  encodeTypedValue,
  EntityType,
  MessageCode,
  type AuthBody,
  type BindBody,
  type MessageHeader,
  type RequestBody,
  type ResponseBody,
  type TypedValue,
} from '../../lib/thingworx';
import { hex, loadVectors } from './vectors';

const vectors = loadVectors();

type BodyCase =
  | { kind: 'auth'; model: AuthBody }
  | { kind: 'bind'; model: BindBody }
  | { kind: 'request'; model: RequestBody }
  | { kind: 'response'; model: ResponseBody };

const NAMES = ['0018B20000000B20', '0018B20000000B21'];

/** Models written by hand from the vector descriptions (not derived from the decoder). */
const BODY_MODELS: Record<string, BodyCase> = {
  'AUTH body, claim appKey=0d820ccd-4683-4f6d-8e87-3f6c0cf23e0d': {
    kind: 'auth',
    model: { claims: [{ name: 'appKey', value: '0d820ccd-4683-4f6d-8e87-3f6c0cf23e0d' }] },
  },
  'BIND body, names 0018B20000000B20 and 0018B20000000B21, no gateway': {
    kind: 'bind',
    model: { names: NAMES },
  },
  'BIND body, same names, gateway lnsGateway / SDKGateway': {
    kind: 'bind',
    model: { gateway: { name: 'lnsGateway', type: 'SDKGateway' }, names: NAMES },
  },
  [`REQUEST body POST Things/0018B20000000B20/Services/UpdateSubscribedPropertyValues, values = one NamedVTQ row {name:'uplinkData', value: VARIANT(JSON '{"a":1}'), time: 1700000000000, quality:'GOOD'}`]:
    {
      kind: 'request',
      model: {
        entityType: EntityType.THING,
        entityName: '0018B20000000B20',
        characteristic: Characteristic.SERVICES,
        characteristicName: 'UpdateSubscribedPropertyValues',
        headers: [],
        params: {
          dataShape: [{ name: 'values', baseType: BaseType.INFOTABLE }],
          rows: [
            {
              values: {
                baseType: BaseType.INFOTABLE,
                value: {
                  dataShape: [
                    { name: 'name', baseType: BaseType.STRING },
                    { name: 'value', baseType: BaseType.VARIANT },
                    { name: 'time', baseType: BaseType.DATETIME },
                    { name: 'quality', baseType: BaseType.STRING },
                  ],
                  rows: [
                    {
                      name: { baseType: BaseType.STRING, value: 'uplinkData' },
                      value: {
                        baseType: BaseType.VARIANT,
                        value: { baseType: BaseType.JSON, value: '{"a":1}' },
                      },
                      time: { baseType: BaseType.DATETIME, value: 1700000000000 },
                      quality: { baseType: BaseType.STRING, value: 'GOOD' },
                    },
                  ],
                },
              },
            },
          ],
        },
      },
    },
  [`REQUEST body PUT Things/0018B20000000B20/Properties/downlinkData, value JSON '{"DevEUI_downlink":{"FPort":1}}' (what the platform sends for a downlink)`]:
    {
      kind: 'request',
      model: {
        entityType: EntityType.THING,
        entityName: '0018B20000000B20',
        characteristic: Characteristic.PROPERTIES,
        characteristicName: 'downlinkData',
        headers: [],
        params: {
          dataShape: [{ name: 'downlinkData', baseType: BaseType.JSON }],
          rows: [{ downlinkData: { baseType: BaseType.JSON, value: '{"DevEUI_downlink":{"FPort":1}}' } }],
        },
      },
    },
  'RESPONSE body, no reason, no content': { kind: 'response', model: {} },
};

const VALUE_MODELS: Record<string, TypedValue> = {
  'NUMBER -80.0': { baseType: BaseType.NUMBER, value: -80 },
  'INTEGER 1174': { baseType: BaseType.INTEGER, value: 1174 },
  'BOOLEAN true': { baseType: BaseType.BOOLEAN, value: true },
  'LOCATION longitude 1.26623, latitude 45.851032, elevation 0': {
    baseType: BaseType.LOCATION,
    value: { longitude: 1.26623, latitude: 45.851032, elevation: 0 },
  },
  "STRING of 200 'x' (first 6 bytes; 205 bytes in all)": {
    baseType: BaseType.STRING,
    value: 'x'.repeat(200),
  },
  'BLOB 010203': { baseType: BaseType.BLOB, value: Buffer.from([1, 2, 3]) },
};

function encodeBody(c: BodyCase): Buffer {
  switch (c.kind) {
    case 'auth':
      return encodeAuthBody(c.model);
    case 'bind':
      return encodeBindBody(c.model);
    case 'request':
      return encodeRequestBody(c.model);
    case 'response':
      return encodeResponseBody(c.model);
  }
}

function decodeBody(kind: BodyCase['kind'], bytes: Buffer): unknown {
  switch (kind) {
    case 'auth':
      return decodeAuthBody(bytes);
    case 'bind':
      return decodeBindBody(bytes);
    case 'request':
      return decodeRequestBody(bytes);
    case 'response':
      return decodeResponseBody(bytes);
  }
}

describe('thingworx AlwaysOn codec: SDK byte vectors', () => {
  it('has a hand-written model for every vector in the file', () => {
    assert.deepEqual(vectors.bodies.map((b) => b.name).sort(), Object.keys(BODY_MODELS).sort());
    assert.deepEqual(vectors.values.map((v) => v.name).sort(), Object.keys(VALUE_MODELS).sort());
  });

  describe('header example', () => {
    const model: MessageHeader = {
      version: 1,
      code: MessageCode.POST,
      requestId: 0,
      endpointId: 0,
      sessionId: 1,
      multipart: false,
    };
    it('encodes byte for byte', () => {
      assert.equal(hex(encodeHeader(model)), vectors.header_example.hex);
    });
    it('decodes to the documented fields', () => {
      assert.deepEqual(decodeHeader(Buffer.from(vectors.header_example.hex, 'hex')), model);
    });
  });

  describe('bodies', () => {
    for (const v of vectors.bodies) {
      const c = BODY_MODELS[v.name];
      if (!c) continue; // reported by the coverage test above
      it(`encodes: ${v.name}`, () => {
        assert.equal(hex(encodeBody(c)), v.hex);
      });
      it(`decodes: ${v.name}`, () => {
        assert.deepStrictEqual(decodeBody(c.kind, Buffer.from(v.hex, 'hex')), c.model);
      });
      it(`decodes inside a whole message, then re-encodes it byte for byte: ${v.name}`, () => {
        const code = {
          auth: MessageCode.AUTH,
          bind: MessageCode.BIND,
          request: v.name.includes(' PUT ') ? MessageCode.PUT : MessageCode.POST,
          response: MessageCode.SUCCESS,
        }[c.kind];
        const frame = Buffer.concat([
          encodeHeader({
            version: 1,
            code,
            requestId: 7,
            endpointId: 0xffffffff,
            sessionId: 42,
            multipart: false,
          }),
          Buffer.from(v.hex, 'hex'),
        ]);
        const msg = decodeMessage(frame);
        assert.equal(msg.kind, c.kind);
        assert.equal(msg.code, code);
        assert.equal(msg.requestId, 7);
        assert.equal(msg.endpointId, 0xffffffff);
        assert.equal(msg.sessionId, 42);
        assert.ok('body' in msg);
        assert.deepStrictEqual(msg.body, c.model);
        assert.equal(hex(encodeMessage(msg)), hex(frame));
      });
    }
  });

  describe('values', () => {
    for (const v of vectors.values) {
      const model = VALUE_MODELS[v.name];
      if (!model) continue;
      if (v.hex !== undefined) {
        const expected = v.hex;
        it(`encodes: ${v.name}`, () => {
          assert.equal(hex(encodeTypedValue(model)), expected);
        });
        it(`decodes: ${v.name}`, () => {
          assert.deepStrictEqual(decodeTypedValue(Buffer.from(expected, 'hex')), model);
        });
      } else {
        const prefix = v.prefix_hex!;
        const length = v.length!;
        it(`encodes with the right prefix and total length: ${v.name}`, () => {
          const bytes = encodeTypedValue(model);
          assert.equal(bytes.length, length);
          assert.equal(hex(bytes.subarray(0, prefix.length / 2)), prefix);
        });
        it(`decodes prefix + payload: ${v.name}`, () => {
          const head = Buffer.from(prefix, 'hex');
          // The prefix already holds the first payload byte after type + 4 length bytes; the rest is more 'x'.
          const payload = Buffer.from('x'.repeat(length - head.length), 'utf8');
          const bytes = Buffer.concat([head, payload]);
          assert.equal(bytes.length, length);
          assert.deepStrictEqual(decodeTypedValue(bytes), model);
        });
      }
    }
  });
});
