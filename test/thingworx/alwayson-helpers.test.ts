import { strict as assert } from 'assert';
import {
  AlwaysOnEncodeError,
  BaseType,
  buildAuthMessage,
  buildBindMessage,
  buildNamedVtqTable,
  buildResponse,
  buildUpdateSubscribedPropertyValues,
  Characteristic,
  decodeMessage,
  decodeRequestBody,
  encodeBindBody,
  encodeMessage,
  encodeRequestBody,
  encodeResponseBody,
  MessageCode,
  parseJsonValue,
  propertyPutParams,
  readPropertyPut,
  singleRowTable,
  Typed,
  unwrapVariant,
} from '../../lib/thingworx';
import { hex, loadVectors } from './vectors';

const vectors = loadVectors();
const body = (prefix: string): string => {
  const v = vectors.bodies.find((b) => b.name.startsWith(prefix));
  assert.ok(v, `no vector ${prefix}`);
  return v.hex;
};

describe('thingworx AlwaysOn helpers', () => {
  it('builds UpdateSubscribedPropertyValues byte-identical to the SDK vector', () => {
    const msg = buildUpdateSubscribedPropertyValues(
      '0018B20000000B20',
      [{ name: 'uplinkData', value: Typed.json({ a: 1 }), time: 1700000000000 }],
      { requestId: 12, sessionId: 34 },
    );
    assert.equal(msg.code, MessageCode.POST);
    assert.equal(hex(encodeRequestBody(msg.body)), body('REQUEST body POST'));
    const frame = encodeMessage(msg);
    assert.equal(hex(frame.subarray(0, 15)), '01030000000c0000000000000022' + '00');
  });

  it('NamedVTQ rows: value wrapped once in VARIANT, time defaults to now, quality to GOOD', () => {
    const t = buildNamedVtqTable(
      [
        { name: 'p', value: Typed.integer(5) },
        { name: 'q', value: Typed.variant(Typed.string('s')), time: new Date(5), quality: 'BAD' },
      ],
      () => 42,
    );
    assert.deepEqual(
      t.dataShape.map((f) => [f.name, f.baseType]),
      [
        ['name', BaseType.STRING],
        ['value', BaseType.VARIANT],
        ['time', BaseType.DATETIME],
        ['quality', BaseType.STRING],
      ],
    );
    assert.deepStrictEqual(t.rows, [
      {
        name: { baseType: BaseType.STRING, value: 'p' },
        value: { baseType: BaseType.VARIANT, value: { baseType: BaseType.INTEGER, value: 5 } },
        time: { baseType: BaseType.DATETIME, value: 42 },
        quality: { baseType: BaseType.STRING, value: 'GOOD' },
      },
      {
        name: { baseType: BaseType.STRING, value: 'q' },
        value: { baseType: BaseType.VARIANT, value: { baseType: BaseType.STRING, value: 's' } },
        time: { baseType: BaseType.DATETIME, value: 5 },
        quality: { baseType: BaseType.STRING, value: 'BAD' },
      },
    ]);
  });

  it("reads a property PUT's value from the SDK vector (downlinkData or downlink)", () => {
    const req = decodeRequestBody(Buffer.from(body('REQUEST body PUT'), 'hex'));
    const put = readPropertyPut(req);
    assert.deepStrictEqual(put, {
      property: 'downlinkData',
      value: { baseType: BaseType.JSON, value: '{"DevEUI_downlink":{"FPort":1}}' },
    });
    assert.deepStrictEqual(parseJsonValue(put.value), { DevEUI_downlink: { FPort: 1 } });
    assert.equal(readPropertyPut(req, 'downlink'), undefined);
    const renamed = decodeRequestBody(
      encodeRequestBody({
        ...req,
        characteristicName: 'downlink',
        params: propertyPutParams('downlink', Typed.json('{"x":2}')),
      }),
    );
    assert.deepStrictEqual(readPropertyPut(renamed), {
      property: 'downlink',
      value: { baseType: BaseType.JSON, value: '{"x":2}' },
    });
    assert.equal(readPropertyPut({ ...req, characteristic: Characteristic.SERVICES }), undefined);
    assert.equal(readPropertyPut({ ...req, params: undefined }), undefined);
    assert.equal(readPropertyPut({ ...req, params: { ...req.params!, rows: [] } }), undefined);
  });

  it('builds property PUT params byte-identical to the SDK vector', () => {
    const params = propertyPutParams('downlinkData', Typed.json({ DevEUI_downlink: { FPort: 1 } }));
    const bytes = encodeRequestBody({
      entityType: 0x0a,
      entityName: '0018B20000000B20',
      characteristic: Characteristic.PROPERTIES,
      characteristicName: 'downlinkData',
      params,
    });
    assert.equal(hex(bytes), body('REQUEST body PUT'));
  });

  it('builds AUTH with sessionId 0xFFFFFFFF and the SDK body', () => {
    const msg = buildAuthMessage('0d820ccd-4683-4f6d-8e87-3f6c0cf23e0d', { requestId: 1 });
    const frame = encodeMessage(msg);
    assert.equal(hex(frame), '0114' + '00000001' + '00000000' + 'ffffffff' + '00' + body('AUTH'));
    assert.deepStrictEqual(decodeMessage(frame), { ...msg, sessionId: 0xffffffff });
  });

  it('builds BIND / UNBIND, with and without gateway, as in the SDK vectors', () => {
    const names = ['0018B20000000B20', '0018B20000000B21'];
    assert.equal(
      hex(encodeBindBody(buildBindMessage(names, { requestId: 1 }).body)),
      body('BIND body, names'),
    );
    const gw = buildBindMessage(names, { requestId: 1, gateway: { name: 'lnsGateway', type: 'SDKGateway' } });
    assert.equal(hex(encodeBindBody(gw.body)), body('BIND body, same names, gateway'));
    assert.equal(buildBindMessage(names, { requestId: 1 }).code, MessageCode.BIND);
    assert.equal(
      encodeMessage(buildBindMessage(names, { requestId: 1, unbind: true }))[1],
      MessageCode.UNBIND,
    );
    assert.throws(() => buildBindMessage(new Array(70000).fill('x'), { requestId: 1 }), AlwaysOnEncodeError);
  });

  it('builds responses echoing requestId, endpointId and sessionId', () => {
    const req = { requestId: 0xfffffffe, endpointId: 5, sessionId: 6 };
    const ok = buildResponse(req);
    assert.equal(
      hex(encodeMessage(ok)),
      '0140' + 'fffffffe' + '00000005' + '00000006' + '00' + body('RESPONSE'),
    );
    const notFound = buildResponse(req, MessageCode.NOT_FOUND, undefined, 'no such thing');
    assert.equal(
      hex(encodeResponseBody(notFound.body)),
      '010d' + Buffer.from('no such thing').toString('hex') + 'ff',
    );
    const meta = buildResponse(req, MessageCode.SUCCESS, singleRowTable({ result: Typed.json({ a: 1 }) }));
    assert.equal(
      hex(encodeResponseBody(meta.body)),
      '00' +
        '05' +
        '0106726573756c740008000000' +
        '010001' +
        '0807' +
        Buffer.from('{"a":1}').toString('hex') +
        '00',
    );
    assert.deepStrictEqual(decodeMessage(encodeMessage(meta)), meta);
    assert.throws(() => buildResponse(req, 0x03), AlwaysOnEncodeError);
  });

  it('Typed.variant does not wrap twice; unwrapVariant unwraps any depth', () => {
    const v = Typed.variant(Typed.variant(Typed.number(1)));
    assert.deepStrictEqual(v, { baseType: BaseType.VARIANT, value: { baseType: BaseType.NUMBER, value: 1 } });
    assert.deepStrictEqual(unwrapVariant({ baseType: BaseType.VARIANT, value: v }), Typed.number(1));
    assert.equal(parseJsonValue(Typed.string('not json')), undefined);
  });

  it('refuses a message whose kind and code disagree', () => {
    const ok = buildResponse({ requestId: 1, endpointId: 0, sessionId: 0 });
    assert.throws(() => encodeMessage({ ...ok, code: MessageCode.POST }), AlwaysOnEncodeError);
    assert.throws(() => encodeMessage({ ...ok, requestId: 2 ** 32 }), AlwaysOnEncodeError);
  });
});
