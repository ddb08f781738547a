import fc from 'fast-check';
import {
  BaseType,
  MessageCode,
  STRING_BASE_TYPES,
  type AlwaysOnMessage,
  type FieldDefinition,
  type InfoTable,
  type InfoTableRow,
  type RequestBody,
  type ResponseBody,
  type TypedValue,
} from '../../lib/thingworx';

/** fc.record with ordinary prototypes (fast-check 4 may otherwise make null-prototype objects). */
function rec<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

/** Own enumerable property even for `__proto__`. */
export function put<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Short strings over the whole Unicode range (no lone surrogates), sometimes long enough for the 4-byte form. */
export const anyString = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.string({ unit: 'binary', maxLength: 10 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 125, maxLength: 140 }) },
    { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', '') },
  );

const u32 = fc.integer({ min: 0, max: 0xffffffff });

export const scalarValue = (): fc.Arbitrary<TypedValue> =>
  fc.oneof(
    rec({ baseType: fc.constantFrom(...STRING_BASE_TYPES), value: anyString() }),
    rec({ baseType: fc.constant(BaseType.NUMBER), value: fc.double() }),
    rec({
      baseType: fc.constant(BaseType.INTEGER),
      value: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    }),
    rec({ baseType: fc.constant(BaseType.BOOLEAN), value: fc.boolean() }),
    rec({
      baseType: fc.constant(BaseType.DATETIME),
      value: fc.oneof(fc.maxSafeInteger(), fc.integer({ min: 0, max: 4102444800000 })),
    }),
    rec({
      baseType: fc.constant(BaseType.LOCATION),
      value: rec({ longitude: fc.double(), latitude: fc.double(), elevation: fc.double() }),
    }),
    rec({
      baseType: fc.constantFrom(BaseType.BLOB, BaseType.IMAGE),
      value: fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
    }),
    fc.constant<TypedValue>({ baseType: BaseType.NOTHING, value: null }),
  ) as fc.Arbitrary<TypedValue>;

const ALL_TYPES = Object.values(BaseType);

function optionalKey<T extends object, K extends string, V>(obj: T, key: K, v: V | undefined): T {
  if (v !== undefined) (obj as Record<string, unknown>)[key] = v;
  return obj;
}

/** TypedValues of every base type, nesting VARIANT and INFOTABLE up to `maxDepth` levels. */
export function arbitraries(maxDepth = 3): {
  value: fc.Arbitrary<TypedValue>;
  table: fc.Arbitrary<InfoTable>;
} {
  const tree = fc.letrec<{ value: TypedValue; table: InfoTable }>((tie) => ({
    value: fc.oneof(
      { maxDepth, depthIdentifier: 'tw' },
      scalarValue(),
      tie('value').map((v): TypedValue => ({ baseType: BaseType.VARIANT, value: v })),
      tie('table').map((t): TypedValue => ({ baseType: BaseType.INFOTABLE, value: t })),
    ),
    table: fc.uniqueArray(anyString(), { maxLength: 4 }).chain((names) =>
      rec({
        fields: fc.tuple(
          ...names.map((name) =>
            fc
              .record({
                baseType: fc.constantFrom(...ALL_TYPES),
                description: fc.option(
                  anyString().filter((s) => s !== ''),
                  { nil: undefined },
                ),
                aspects: fc.option(
                  fc.uniqueArray(fc.tuple(anyString(), scalarValue()), {
                    minLength: 1,
                    maxLength: 2,
                    selector: (t) => t[0],
                  }),
                  { nil: undefined },
                ),
              })
              .map((f) => {
                const def: FieldDefinition = { name, baseType: f.baseType };
                optionalKey(def, 'description', f.description);
                if (f.aspects) {
                  const aspects: Record<string, TypedValue> = {};
                  for (const [k, v] of f.aspects) put(aspects, k, v);
                  def.aspects = aspects;
                }
                return def;
              }),
          ),
        ),
        rows: fc.array(fc.tuple(...names.map(() => tie('value'))), { maxLength: 3 }),
      }).map(({ fields, rows }): InfoTable => ({
        dataShape: fields,
        rows: rows.map((vals) => {
          const row: InfoTableRow = {};
          names.forEach((n, i) => put(row, n, vals[i]));
          return row;
        }),
      })),
    ),
  }));
  return { value: tree.value, table: tree.table };
}

export const requestBody = (table: fc.Arbitrary<InfoTable>): fc.Arbitrary<RequestBody> =>
  fc
    .record({
      entityType: fc.integer({ min: 0, max: 255 }),
      entityName: anyString(),
      characteristic: fc.integer({ min: 0, max: 255 }),
      characteristicName: anyString(),
      headers: fc.array(rec({ name: anyString(), value: anyString() }), { maxLength: 3 }),
      params: fc.option(table, { nil: undefined }),
    })
    .map(({ params, ...rest }) =>
      optionalKey<RequestBody, 'params', InfoTable>({ ...rest }, 'params', params),
    );

export const responseBody = (table: fc.Arbitrary<InfoTable>): fc.Arbitrary<ResponseBody> =>
  fc
    .record({
      reason: fc.option(anyString(), { nil: undefined }),
      content: fc.option(table, { nil: undefined }),
    })
    .map(({ reason, content }) =>
      optionalKey(optionalKey<ResponseBody, 'reason', string>({}, 'reason', reason), 'content', content),
    );

export const message = (table: fc.Arbitrary<InfoTable>): fc.Arbitrary<AlwaysOnMessage> => {
  const ids = { requestId: u32, endpointId: u32, sessionId: u32 };
  return fc.oneof(
    rec({
      kind: fc.constant('request' as const),
      code: fc.constantFrom(MessageCode.GET, MessageCode.PUT, MessageCode.POST, MessageCode.DEL),
      ...ids,
      body: requestBody(table),
    }),
    rec({
      kind: fc.constant('response' as const),
      code: fc.integer({ min: 0x40, max: 0xff }),
      ...ids,
      body: responseBody(table),
    }),
    rec({
      kind: fc.constant('auth' as const),
      code: fc.constant(MessageCode.AUTH),
      ...ids,
      body: rec({ claims: fc.array(rec({ name: anyString(), value: anyString() }), { maxLength: 2 }) }),
    }),
    rec({
      kind: fc.constant('bind' as const),
      code: fc.constantFrom(MessageCode.BIND, MessageCode.UNBIND),
      ...ids,
      body: fc
        .record({
          gateway: fc.option(rec({ name: anyString(), type: anyString() }), { nil: undefined }),
          names: fc.array(anyString(), { maxLength: 5 }),
        })
        .map(({ gateway, names }) => optionalKey({ names }, 'gateway', gateway)),
    }),
    rec({ kind: fc.constant('keepAlive' as const), code: fc.constant(MessageCode.KEEP_ALIVE), ...ids }),
  );
};
