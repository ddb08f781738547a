import fc from 'fast-check';
import { sampleDownlinkSent, sampleUplink } from '../../testkit/simulator/sample-documents';
import type { DocumentType } from '../../lib/thingpark/mapping/document-types';

/**
 * Hostile ThingPark documents and downlink requests for property-based tests: realistic documents
 * with fields deleted, replaced by values of the wrong type, huge, deeply nested, or named like
 * Object.prototype's members; random roots; JSON, untyped JSON and XML; text truncated or garbled.
 */

export const DEV = '0018B20000000B20';

/** A JSON object kept as its entries, so any key (`__proto__`, `constructor`, duplicates) reaches the text as written. */
export class Obj {
  constructor(readonly entries: ReadonlyArray<readonly [string, Tree]>) {}
}

/** Text put in the document as it is: numbers JSON.stringify cannot write, nesting too deep to build as a tree. */
export class Raw {
  constructor(
    readonly json: string,
    readonly xml: string,
    readonly label: string,
  ) {}
}

export type Tree = null | boolean | number | string | Tree[] | Obj | Raw;

/** A plain JS value (a sample document) as a tree. */
export function toTree(value: unknown): Tree {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(toTree);
  if (value instanceof Obj || value instanceof Raw) return value;
  return new Obj(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, toTree(v)] as const));
}

/** JSON text; `untyped` writes every number and boolean as a string, as ThingPark's untyped JSON does. */
export function jsonText(tree: Tree, untyped = false): string {
  if (tree instanceof Raw) return untyped && !/^[[{]/.test(tree.json) ? JSON.stringify(tree.json) : tree.json;
  if (tree instanceof Obj)
    return `{${tree.entries.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v, untyped)}`).join(',')}}`;
  if (Array.isArray(tree)) return `[${tree.map((v) => jsonText(v, untyped)).join(',')}]`;
  if (untyped && (typeof tree === 'number' || typeof tree === 'boolean')) return JSON.stringify(String(tree));
  return JSON.stringify(tree) ?? 'null';
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface XmlStyle {
  /** Prefix for child element names (`ns2:`), as some XML writers use. */
  prefix: string;
  cdata: boolean;
}

/** XML elements for a value; arrays become repeated elements, as in ThingPark's XML. */
export function xmlText(name: string, tree: Tree, style: XmlStyle = { prefix: '', cdata: false }): string {
  if (Array.isArray(tree)) return tree.map((v) => xmlText(name, v, style)).join('');
  if (tree === null) return `<${name}/>`;
  let inner: string;
  if (tree instanceof Raw) inner = tree.xml;
  else if (tree instanceof Obj)
    inner = tree.entries.map(([k, v]) => xmlText(`${style.prefix}${k}`, v, style)).join('');
  else inner = style.cdata ? `<![CDATA[${String(tree)}]]>` : escapeXml(String(tree));
  return `<${name}>${inner}</${name}>`;
}

// ---------------------------------------------------------------------------------------------
// Realistic documents of every type (typed JSON bodies).

const TIME = '2024-05-01T10:00:00.000+00:00';
export const BASE_BODIES: Record<Exclude<DocumentType, 'DevEUI_downlink'>, Record<string, unknown>> = {
  DevEUI_uplink: sampleUplink(DEV, 7, new Date(TIME)),
  DevEUI_location: {
    Time: TIME,
    DevEUI: DEV,
    DevLAT: 45.1,
    DevLON: 1.2,
    DevAlt: 10,
    CustomerID: '1100000077',
  },
  DevEUI_notification: { Time: TIME, DevEUI: DEV, Type: 'join', CustomerID: '1100000077' },
  DevEUI_downlink_Sent: sampleDownlinkSent(DEV, 12, 'C0FFEE0123456789', new Date(TIME)),
  DevEUI_downlink_Rejected: {
    Time: TIME,
    DevEUI: DEV,
    DownlinkRejectionCause: 'DOWNLINK_REJECTED_INVALID_FPORT',
    CorrelationID: 'C0FFEE0123456790',
  },
  DevEUI_multicast_summary: {
    Time: TIME,
    McAddr: '0123ABCD',
    TransmissionStatus: 1,
    LrrCnt: 2,
    LrrSuccessCnt: 1,
    LrrFailedCnt: 1,
  },
  DevEUI_alarm: { Time: TIME, DevEUI: DEV, ID: 1, State: 1, Occurrence: 2 },
  BS_alarm: { Time: TIME, LrrID: 'FF0109A4', ID: 2, State: 1 },
};
const CELLULAR_UPLINK = {
  Time: TIME,
  DevEUI: 'F03D290000000001',
  FCntUp: 3,
  payload_hex: '0102',
  IMEI: '356938035643809',
};
export const TYPES = Object.keys(BASE_BODIES) as Array<keyof typeof BASE_BODIES>;

/** Field names the code looks at, and names that exist on every object through its prototype. */
export const FIELD_NAMES = [
  'DevEUI', 'FPort', 'FCntUp', 'FCntDn', 'payload_hex', 'Time', 'CustomerID', 'CorrelationID', 'LrrID',
  'LrrId', 'McAddr', 'Lrrs', 'Lrr', 'Lrrid', 'LrrRSSI', 'LrrSNR', 'SpFact', 'DevAddr', 'ID', 'State', 'Type',
  'DevLAT', 'DevLON', 'DeliveryStatus', 'TransmissionSlot', 'DownlinkRejectionCause', 'TransmissionStatus',
  'LrrCnt', 'LrrSuccessCnt', 'IMEI', 'RAN', 'payload', 'points', 'Confirmed', 'CustomerData',
]; // prettier-ignore
export const PROTO_KEYS = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__',
  '__lookupGetter__', 'isPrototypeOf', 'toJSON',
]; // prettier-ignore

// ---------------------------------------------------------------------------------------------
// Hostile values.

const o = (...entries: Array<readonly [string, Tree]>) => new Obj(entries);

export const deepArray = (depth: number) =>
  new Raw('['.repeat(depth) + ']'.repeat(depth), '<a>'.repeat(depth) + '</a>'.repeat(depth), `[×${depth}]`);
export const deepObject = (depth: number, key = 'a') =>
  new Raw(
    `{${JSON.stringify(key)}:`.repeat(depth) + '0' + '}'.repeat(depth),
    '<a>'.repeat(depth) + '0' + '</a>'.repeat(depth),
    `{${key}:×${depth}}`,
  );

const SCALARS: Tree[] = [
  null, true, false, 0, -1, 1.5, 256, 1e308, -1e308, 2 ** 53 + 2, 5e-324, '', ' ', '0', '1', ' 12 ', '+7',
  '1e3', '1e400', '0x10', '0b1', 'NaN', 'Infinity', '-Infinity', 'true', 'null', 'undefined', '\u0000', '\uFEFF',
  '\u2028', '\uD800', 'é', '__proto__', 'constructor', DEV, DEV.toLowerCase(), `${DEV}0`, ` ${DEV}`, 'zz', '0a0',
  'GG', '2024-13-45T99:99:99Z', 'yesterday', '<DevEUI>', '&amp;', '{"a":1}', '[]', '${HOME}',
]; // prettier-ignore

const OBJECTS: Tree[] = [
  [],
  [DEV],
  [1, 2],
  [[]],
  o(),
  o(['toString', 1]),
  o(['valueOf', o()], ['toString', o()]),
  o(['toString', null], ['valueOf', null]),
  o(['toJSON', 1]),
  o(['__proto__', o(['DevEUI', DEV], ['FPort', 5], ['payload_hex', '00'], ['polluted', 'yes'])]),
  o(['__proto__', null]),
  o(['__proto__', []]),
  o(['constructor', o(['prototype', o(['polluted', 'yes'], ['DevEUI', DEV])])]),
  o(['prototype', o(['polluted', 'yes'])]),
  o(['length', 1e9]),
  o(['Lrr', o(['Lrrid', 1], ['__proto__', o(['polluted', 'yes'])])]),
  o(['Lrr', [o(['Chain', 'x']), null, 'str', o(['constructor', o(['prototype', o(['polluted', 1])])])]]),
  new Raw('1e400', '1e400', '1e400'),
  new Raw('-0', '-0', '-0'),
  new Raw('123456789012345678901234567890', '123456789012345678901234567890', 'bigint-like'),
  new Raw('{"a":1,"a":2}', '<a>1</a><a>2</a>', 'duplicate key'),
  new Raw(
    '{"__proto__":{"__proto__":{"polluted":"yes"}}}',
    '<__proto__><polluted>yes</polluted></__proto__>',
    'nested __proto__',
  ),
];

/** Long strings, some made to look like numbers or hex up to the point where they stop matching. */
const hugeString: fc.Arbitrary<string> = fc
  .record({
    unit: fc.constantFrom('1', '9', '0', 'a', 'F', 'ab', '1.', 'é', '<', '&', '"', '\\', ' ', '\u0000', '%'),
    count: fc.integer({ min: 1000, max: 8000 }),
    tail: fc.constantFrom('', '', 'x', '.', 'e', '.5', 'e+', '-'),
  })
  .map(({ unit, count, tail }) => unit.repeat(count) + tail);

const deepValue: fc.Arbitrary<Tree> = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 2, max: 200 }), fc.integer({ min: 1000, max: 12000 })),
    kind: fc.constantFrom('array', 'object', 'proto'),
  })
  .map(({ depth, kind }) =>
    kind === 'array' ? deepArray(depth) : deepObject(depth, kind === 'proto' ? '__proto__' : 'a'),
  );

const anyKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...FIELD_NAMES) },
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'DevEUI ', 'devEUI', 'DEVEUI', 'a:b', '1abc', 'x y') },
);

/** Random JSON, keys included the hostile ones. */
const randomJson: fc.Arbitrary<Tree> = fc.letrec<{ value: Tree }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom<Tree>(...SCALARS),
    fc.double().map((d) => (Number.isFinite(d) ? d : 0)),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.tuple(anyKey, tie('value')), { maxLength: 4 }).map((entries) => new Obj(entries)),
  ),
})).value;

export const hostileValue: fc.Arbitrary<Tree> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SCALARS) },
  { weight: 3, arbitrary: fc.constantFrom(...OBJECTS) },
  { weight: 1, arbitrary: deepValue },
  { weight: 1, arbitrary: hugeString },
  { weight: 2, arbitrary: randomJson },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.integer().map((n) => n) },
);

// ---------------------------------------------------------------------------------------------
// Mutations of a realistic body.

export type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'set'; at: number; value: Tree }
  | { op: 'put'; key: string; value: Tree };

export const mutation = (keys: readonly string[]): fc.Arbitrary<Mutation> =>
  fc.oneof(
    fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: hostileValue }),
    fc.record({
      op: fc.constant('put' as const),
      key: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...keys) }, { weight: 2, arbitrary: anyKey }),
      value: hostileValue,
    }),
  );

export function mutate(body: Obj, mutations: readonly Mutation[]): Obj {
  const entries = [...body.entries];
  for (const m of mutations) {
    if (m.op === 'put') {
      const i = entries.findIndex(([k]) => k === m.key);
      if (i >= 0 && m.key !== '__proto__') entries[i] = [m.key, m.value];
      else entries.push([m.key, m.value]);
    } else if (entries.length > 0) {
      const at = m.at % entries.length;
      if (m.op === 'delete') entries.splice(at, 1);
      else entries[at] = [entries[at][0], m.value];
    }
  }
  return new Obj(entries);
}

// ---------------------------------------------------------------------------------------------
// Whole document texts.

export type Format = 'json' | 'untyped' | 'xml';

export interface TextCase {
  format: Format;
  text: string;
  /** What was done to the document, for the report of a failing case. */
  note: string;
}

const describeCase = (c: TextCase) =>
  `${c.note} as ${c.format}, ${c.text.length} chars: ${c.text.length > 300 ? `${c.text.slice(0, 300)}…` : c.text}`;

const withToString = (c: TextCase): TextCase =>
  Object.assign(c, { [fc.toStringMethod]: () => describeCase(c), toString: () => describeCase(c) });

type Garble =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'prefix'; text: string };

const garble: fc.Arbitrary<Garble> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.constantFrom(
        '<',
        '>',
        '"',
        '{',
        '}',
        ',',
        ':',
        '&',
        '\u0000',
        '\\',
        '<!DOCTYPE x>',
        '<!ENTITY a "b">',
      ),
      fc.constantFrom(
        '<![CDATA[',
        ']]>',
        '&amp;',
        '&#0;',
        '&#xD800;',
        '&unknown;',
        '<!-- ',
        '<?pi x?>',
        '\uFFFF',
      ),
      fc.string({ unit: 'binary', maxLength: 6 }),
    ),
  }),
  fc.record({
    kind: fc.constant('prefix' as const),
    text: fc.constantFrom('\uFEFF', '   \n', '<?xml version="1.0" encoding="UTF-8"?>', '\uFEFF\uFEFF', 'x'),
  }),
);

function applyGarble(text: string, g: Garble): string {
  if (g.kind === 'prefix') return g.text + text;
  const at = text.length ? g.at % text.length : 0;
  return g.kind === 'truncate' ? text.slice(0, at) : text.slice(0, at) + g.text + text.slice(at);
}

type RootKind = 'typed' | 'rootless' | 'other' | 'two' | 'array' | 'primitive';

const rootName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ...PROTO_KEYS,
    'DevEUI_downlink',
    'devEUI_uplink',
    'DevEUI_Uplink',
    'DevEUI_uplink ',
    'root',
  ),
  fc.constantFrom<string>('DevEUI_uplink', 'BS_alarm', 'DevEUI_location'),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 10 }),
);

/** One document text as it could arrive in an uplink request body or on an IoT Flow topic. */
export const documentCase: fc.Arbitrary<TextCase> = fc
  .record({
    base: fc.constantFrom(...TYPES, 'cellular' as const),
    rootType: fc.option(fc.constantFrom(...TYPES), { freq: 4 }),
    root: fc.constantFrom<RootKind>(
      'typed',
      'typed',
      'typed',
      'typed',
      'rootless',
      'other',
      'two',
      'array',
      'primitive',
    ),
    other: rootName,
    mutations: fc.array(mutation(FIELD_NAMES), { maxLength: 4 }),
    nested: fc.option(
      fc.array(mutation(['Lrrid', 'Chain', 'LrrRSSI', 'LrrSNR', 'LrrESP']), { maxLength: 2 }),
      {
        freq: 5,
      },
    ),
    format: fc.constantFrom<Format>('json', 'untyped', 'xml'),
    xmlns: fc.boolean(),
    style: fc.record({ prefix: fc.constantFrom('', '', '', 'ns2:', 'x:'), cdata: fc.boolean() }),
    garble: fc.option(garble, { freq: 5 }),
    primitive: hostileValue,
  })
  .map((r) => {
    const baseBody = r.base === 'cellular' ? CELLULAR_UPLINK : BASE_BODIES[r.base];
    const type = r.rootType ?? (r.base === 'cellular' ? 'DevEUI_uplink' : r.base);
    let body = mutate(toTree(baseBody) as Obj, r.mutations);
    if (r.nested) {
      // Mutate the first Lrr of the uplink's Lrrs, which is typed field by field as well.
      body = new Obj(
        body.entries.map(([k, v]) => {
          if (k !== 'Lrrs' || !(v instanceof Obj)) return [k, v] as const;
          const lrr = v.entries.find(([name]) => name === 'Lrr')?.[1];
          const first = Array.isArray(lrr) && lrr[0] instanceof Obj ? lrr[0] : new Obj([]);
          return [k, new Obj([['Lrr', [mutate(first, r.nested!)]]])] as const;
        }),
      );
    }
    let tree: Tree;
    let rootKey = type as string;
    switch (r.root) {
      case 'typed':
        tree = new Obj([[type, body]]);
        break;
      case 'rootless':
        tree = body;
        break;
      case 'other':
        rootKey = r.other;
        tree = new Obj([[r.other, body]]);
        break;
      case 'two':
        tree = new Obj([
          [type, body],
          [r.other, body],
        ]);
        break;
      case 'array':
        tree = [new Obj([[type, body]])];
        break;
      case 'primitive':
        tree = r.primitive;
        break;
    }
    let text: string;
    if (r.format === 'xml') {
      if (r.root === 'primitive') text = jsonText(tree);
      else if (r.root === 'two') text = xmlText(type, body, r.style) + xmlText(r.other, body, r.style);
      else {
        text = xmlText(rootKey, body, r.style);
        if (r.xmlns && text.startsWith(`<${rootKey}>`))
          text = `<${rootKey} xmlns="http://uri.actility.com/lora">${text.slice(rootKey.length + 2)}`;
      }
    } else {
      text = jsonText(tree, r.format === 'untyped');
    }
    if (r.garble) text = applyGarble(text, r.garble);
    const changes = [
      ...r.mutations.map((m) =>
        m.op === 'delete' ? `delete #${m.at}` : `${m.op} ${'key' in m ? m.key : `#${m.at}`}`,
      ),
      ...(r.nested ? ['Lrr mutated'] : []),
      ...(r.garble ? [`garbled (${r.garble.kind})`] : []),
    ];
    return withToString({
      format: r.format,
      text,
      note: `${r.base} body, root ${r.root}${r.root === 'other' || r.root === 'two' ? ` "${r.other}"` : ''}${
        changes.length ? `, ${changes.join(', ')}` : ''
      }`,
    });
  });

/** Fields the code reads beyond validation: the token's body elements and the topic of documents without DevEUI. */
export const SENSITIVE_FIELDS = [
  'CustomerID',
  'FCntUp',
  'FCntDn',
  'FPort',
  'DevEUI',
  'LrrID',
  'LrrId',
  'McAddr',
  'Time',
];

/** A valid document of any type with one hostile value on a field the code reads after validation. */
export const targetedCase: fc.Arbitrary<TextCase> = fc
  .record({
    type: fc.constantFrom(...TYPES),
    field: fc.constantFrom(...SENSITIVE_FIELDS),
    value: hostileValue,
    format: fc.constantFrom<Format>('json', 'untyped', 'xml'),
  })
  .map(({ type, field, value, format }) => {
    const body = mutate(toTree(BASE_BODIES[type]) as Obj, [{ op: 'put', key: field, value }]);
    const text =
      format === 'xml' ? xmlText(type, body) : jsonText(new Obj([[type, body]]), format === 'untyped');
    return withToString({ format, text, note: `${type} with a hostile ${field}` });
  });

// ---------------------------------------------------------------------------------------------
// Downlink requests.

export const DOWNLINK_BODIES: Array<Record<string, unknown>> = [
  { DevEUI: DEV, FPort: 12, payload_hex: 'beef' },
  {
    DevEUI: DEV,
    FPort: 1,
    payload_hex: '0102030405',
    Confirmed: 1,
    FlushDownlinkQueue: 0,
    ValidityTime: '2030-01-01T00:00:00Z',
    FCntDn: 3,
    CorrelationID: 'ABCDEF0123456789',
  },
  { DevEUI: DEV.toLowerCase(), FPort: '223', payload_hex: 'AA', Confirmed: 'true', FCntDn: '7' },
  { DevEUI: 'F03D290000000001', RAN: 'CELLULAR', payload_hex: 'ab'.repeat(1400) },
  { DevEUI: DEV, FPort: 5, payload: { temperature: 21.5, on: true } },
  { DevEUI: DEV, FPort: 5, Payload: 'beef' },
  { DevEUI: DEV, FPort: 2, payload_hex: 'ab'.repeat(242) },
];

export const DOWNLINK_FIELDS = [
  'DevEUI', 'FPort', 'payload_hex', 'Payload', 'payload', 'Confirmed', 'FlushDownlinkQueue', 'ValidityTime',
  'FCntDn', 'CorrelationID', 'RAN', 'DevEUI_downlink',
]; // prettier-ignore

/** A downlink request as a JSON tree: the forms WMW, a function node or a platform could send. */
export const downlinkTree: fc.Arbitrary<{ tree: Tree; note: string }> = fc
  .record({
    base: fc.nat({ max: DOWNLINK_BODIES.length - 1 }),
    mutations: fc.array(mutation(DOWNLINK_FIELDS), { maxLength: 3 }),
    root: fc.constantFrom('typed', 'typed', 'typed', 'rootless', 'other', 'two', 'array', 'primitive'),
    other: rootName,
    primitive: hostileValue,
  })
  .map((r) => {
    const body = mutate(toTree(DOWNLINK_BODIES[r.base]) as Obj, r.mutations);
    const trees: Record<string, Tree> = {
      typed: new Obj([['DevEUI_downlink', body]]),
      rootless: body,
      other: new Obj([[r.other, body]]),
      two: new Obj([
        ['DevEUI_downlink', body],
        [r.other, body],
      ]),
      array: [new Obj([['DevEUI_downlink', body]])],
      primitive: r.primitive,
    };
    const changes = r.mutations.map((m) =>
      m.op === 'delete' ? `delete #${m.at}` : `${m.op} ${'key' in m ? m.key : `#${m.at}`}`,
    );
    return {
      tree: trees[r.root],
      note: `downlink #${r.base}, root ${r.root}${changes.length ? `, ${changes.join(', ')}` : ''}`,
    };
  });

/** Values a function node can put in a message that JSON cannot carry. */
const EXOTIC: Array<() => unknown> = [
  () => 10n,
  () => 300n,
  () => Symbol('x'),
  () => () => DEV,
  () => new Date(NaN),
  () => new Date(0),
  () => new Map([['DevEUI', DEV]]),
  () => new Set([1]),
  () => Buffer.from('beef', 'hex'),
  () => new Uint8Array([1, 2]),
  () => {
    const a: Record<string, unknown> = { DevEUI: DEV };
    a.self = a;
    return a;
  },
  () => Object.assign(Object.create(null), { DevEUI: DEV, FPort: 1, payload_hex: '00' }),
  () => new Number(5),
  () => new String(DEV),
  () => NaN,
  () => Infinity,
  () => -0,
  () => undefined,
  // eslint-disable-next-line no-sparse-arrays
  () => [, 1],
  () =>
    new (class Request {
      DevEUI = DEV;
      FPort = 2;
    })(),
  () => Object.defineProperty({}, 'DevEUI', { get: () => DEV, enumerable: true }),
  () => {
    let v: unknown[] = [];
    for (let i = 0; i < 10000; i++) v = [v];
    return v;
  },
];

/** A downlink request as a JS value with one exotic field, or an exotic value as the whole payload. */
export const exoticDownlink: fc.Arbitrary<{ value: unknown; note: string }> = fc
  .record({
    base: fc.nat({ max: DOWNLINK_BODIES.length - 1 }),
    field: fc.constantFrom(...DOWNLINK_FIELDS),
    exotic: fc.nat({ max: EXOTIC.length - 1 }),
    root: fc.constantFrom('typed', 'rootless', 'whole'),
  })
  .map(({ base, field, exotic, root }) => {
    const value = EXOTIC[exotic]();
    const body: Record<string, unknown> = { ...DOWNLINK_BODIES[base], [field]: value };
    const note = `downlink #${base} with ${field} = exotic #${exotic} (${preview(value)}), root ${root}`;
    const result =
      root === 'whole'
        ? { value, note: `exotic #${exotic} as the whole payload` }
        : { value: root === 'typed' ? { DevEUI_downlink: body } : body, note };
    // fast-check would print the value itself, which may be circular or too deep to print.
    return Object.assign(result, { [fc.toStringMethod]: () => result.note });
  });

// ---------------------------------------------------------------------------------------------
// Checks.

/** What must never change: the members of the built-in prototypes. */
export function prototypeSnapshot(): string {
  const names = (p: object) =>
    Object.getOwnPropertyNames(p)
      .sort()
      .map((n) => {
        const d = Object.getOwnPropertyDescriptor(p, n)!;
        return `${n}:${typeof d.value}:${typeof d.get}`;
      })
      .join(',');
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype]
    .map((p) => `${names(p)}|${String(Object.getPrototypeOf(p))}`)
    .join('\n');
}

/** Fails when anything reached Object.prototype (or a plain object sees a field it does not own). */
export function assertNotPolluted(before: string): void {
  const probe: Record<string, unknown> = {};
  for (const key of ['polluted', 'DevEUI', 'FPort', 'payload_hex', 'Time', 'a', '0']) {
    if (probe[key] !== undefined)
      throw new Error(`Object.prototype polluted: ({}).${key} = ${String(probe[key])}`);
  }
  const after = prototypeSnapshot();
  if (after !== before) throw new Error('a built-in prototype changed');
}

/** A short text for an assertion message. */
export function preview(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} chars)` : text;
}
