import fc from 'fast-check';
import { hostileValue, jsonText, mutate, mutation, Obj, preview, toTree, type Tree } from './arbitraries';

/**
 * What Cumulocity (or anything on its topics) could send a gateway: operation notifications as JSON of every
 * shape on `devicecontrol/notifications`, SmartREST lines of every shape on `s/ds`, and the command texts inside.
 */

/** Child ids the JSON operations name; the `s/ds` runs use others, so no operation is taken for another's twin. */
export const JSON_CHILDREN = ['0018b20000000b20', '0018b2000000cc01'];
export const SMARTREST_CHILDREN = ['70b3d5e75e00aa01', '70b3d5e75e00aa02'];

/** Stands for a fresh operation id, filled in when the case runs (ids are remembered across cases). */
export const FRESH_ID = '\u0000FRESH-ID\u0000';
/** The same, written as a JSON number. */
export const FRESH_NUMERIC_ID = '\u0000FRESH-NUMBER\u0000';

export interface PayloadCase {
  /** The MQTT payload, with FRESH_ID / FRESH_NUMERIC_ID placeholders still in it. */
  text: string;
  note: string;
}

/** Command texts in the three forms in use. */
const validCommandText = fc.constantFrom(
  'raw 2 0102ab',
  '  RAW   223   00  ',
  'raw 1 0A0b',
  'beef',
  'BEEF:7',
  'c0ffee:223',
  '00:1',
  'ab'.repeat(242),
);

/** Command texts: the three forms in use, with every kind of damage. */
export const commandText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: validCommandText },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'raw',
      'raw 2',
      'raw 2 01 02',
      'raw x 01',
      'raw 2.5 01',
      'raw 0 01',
      'raw 224 01',
      'raw -1 01',
      'raw +7 01',
      'raw 1e2 01',
      'raw 99999999999999999999 01',
      'raw 2 zz',
      'raw 2 0x01',
      'raw 2 012',
      'beef:',
      ':7',
      'beef:0',
      'beef:2:3',
      'beef :7',
      'be ef',
      '0x01',
      'raw\t2\t01',
      'raw 2 01\n',
      'raw\u00a02\u00a001',
      'raw ２ ０１',
      'ｒａｗ 2 01',
      'é',
      '\u0000',
      '\uD800',
      '"raw 2 01"',
      'raw,2,01',
      '${HOME}',
      '__proto__',
      'constructor',
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('raw ', '', 'RAW '),
        fc.oneof(fc.integer({ min: -5, max: 300 }).map(String), fc.string({ maxLength: 4 })),
        fc.constantFrom(' ', ':', '  '),
        fc.oneof(
          fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), maxLength: 12 }),
          fc.string({ unit: 'binary', maxLength: 8 }),
        ),
      )
      .map(([prefix, port, sep, hex]) => (prefix ? `${prefix}${port}${sep}${hex}` : `${hex}${sep}${port}`)),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        unit: fc.constantFrom('a', '0', 'ab', ' ', ',', '"', 'é', 'raw '),
        count: fc.integer({ min: 1000, max: 20000 }),
      })
      .map(({ unit, count }) => unit.repeat(count)),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);

// ---------------------------------------------------------------------------------------------
// JSON operations on devicecontrol/notifications.

const OPERATION_FIELDS = [
  'id', 'status', 'c8y_Command', 'c8y_LoRaDownlink', 'externalSource', 'description', 'deviceId',
  'creationTime', 'delivery', 'text', 'fPort', 'payloadHex', 'confirmed', 'externalId', 'type',
]; // prettier-ignore

/** A realistic operation; `id` is a placeholder so every case gets its own. */
function baseOperation(kind: number, child: string, text: string): Obj {
  const source = { externalId: child, type: 'c8y_Serial' };
  const common = {
    id: FRESH_ID,
    status: 'PENDING',
    creationTime: '2024-05-01T10:00:00.000Z',
    deviceId: '4711',
    description: 'Downlink from the hostile test',
  };
  const bodies: Array<Record<string, unknown>> = [
    { ...common, c8y_Command: { text }, externalSource: source },
    {
      ...common,
      c8y_LoRaDownlink: { fPort: 12, payloadHex: 'BEEF', confirmed: true },
      externalSource: source,
    },
    { ...common, id: FRESH_NUMERIC_ID, c8y_Command: { text }, externalSource: source },
    {
      ...common,
      c8y_Command: { text },
      c8y_LoRaDownlink: { fPort: '7', payloadHex: ' 00 ', confirmed: 'false' },
      externalSource: source,
    },
    { ...common, status: 'EXECUTING', c8y_Command: { text }, externalSource: source },
  ];
  return toTree(bodies[kind % bodies.length]) as Obj;
}

/** Mutations inside one nested object of an operation (`c8y_Command`, `c8y_LoRaDownlink`, `externalSource`). */
const nestedMutation = fc.record({
  field: fc.constantFrom('c8y_Command', 'c8y_LoRaDownlink', 'externalSource'),
  mutations: fc.array(mutation(['text', 'fPort', 'payloadHex', 'confirmed', 'externalId', 'type']), {
    minLength: 1,
    maxLength: 2,
  }),
});

const operationTree: fc.Arbitrary<{ tree: Tree; note: string }> = fc
  .record({
    kind: fc.nat({ max: 4 }),
    child: fc.constantFrom(...JSON_CHILDREN),
    text: commandText,
    mutations: fc.array(mutation(OPERATION_FIELDS), { maxLength: 2 }),
    nested: fc.option(nestedMutation, { freq: 2 }),
  })
  .map(({ kind, child, text, mutations, nested }) => {
    let body = mutate(baseOperation(kind, child, text), mutations);
    const notes = [`operation #${kind}`, ...mutations.map(describeMutation)];
    if (nested) {
      const entries = body.entries.map(([key, value]) =>
        key === nested.field && value instanceof Obj
          ? ([key, mutate(value, nested.mutations)] as const)
          : ([key, value] as const),
      );
      body = new Obj(entries);
      notes.push(...nested.mutations.map((m) => `${nested.field}: ${describeMutation(m)}`));
    }
    return { tree: body, note: notes.join(', ') };
  });

function describeMutation(m: { op: string; at?: number; key?: string }): string {
  return m.op === 'delete' ? `delete #${m.at}` : `${m.op} ${m.key ?? `#${m.at}`}`;
}

/** A whole payload on devicecontrol/notifications: one operation, several (lines or an array), garbage. */
export const notificationPayload: fc.Arbitrary<PayloadCase> = fc
  .oneof(
    { weight: 6, arbitrary: operationTree.map(({ tree, note }) => ({ text: jsonText(tree), note })) },
    {
      weight: 2,
      arbitrary: fc
        .array(
          fc.oneof(
            operationTree,
            hostileValue.map((tree) => ({ tree, note: 'a hostile value' })),
          ),
          {
            minLength: 2,
            maxLength: 4,
          },
        )
        .chain((ops) =>
          fc.constantFrom('lines', 'crlf', 'array', 'pretty').map((layout) => {
            const texts = ops.map((o) => jsonText(o.tree));
            const text =
              layout === 'array'
                ? `[${texts.join(',')}]`
                : layout === 'pretty'
                  ? texts.map((t) => t.replace(/,"/g, ',\n  "')).join('\n')
                  : texts.join(layout === 'crlf' ? '\r\n' : '\n');
            return {
              text,
              note: `${ops.length} operations as ${layout}: ${ops.map((o) => o.note).join(' | ')}`,
            };
          }),
        ),
    },
    { weight: 1, arbitrary: hostileValue.map((tree) => ({ text: jsonText(tree), note: 'a hostile value' })) },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '',
            '\n\n',
            'null',
            '[]',
            '{}',
            '{',
            'not json',
            '\uFEFF{"id":"1"}',
            '{"id":"1"}\n{',
            JSON.stringify({
              id: FRESH_ID,
              externalSource: { externalId: JSON_CHILDREN[0] },
              c8y_Command: { text: 'ab'.repeat(150000) },
            }),
          ),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
        )
        .map((text) => ({ text, note: 'garbage' })),
    },
  )
  .map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.note}: ${preview(c.text)}` }));

/** Fills the placeholders of a case (as jsonText wrote them) with new ids: `"hostile-<n>"` or the number `<n>`. */
export function withFreshIds(text: string, next: () => number): string {
  return text
    .replaceAll(JSON.stringify(FRESH_NUMERIC_ID), () => String(next()))
    .replaceAll(JSON.stringify(FRESH_ID), () => `"hostile-${next()}"`);
}

// ---------------------------------------------------------------------------------------------
// SmartREST on s/ds.

/** One SmartREST field as it could be written: plain, quoted with either escape, broken. */
const smartRestField = (value: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(
      value,
      // Unbiased: fast-check would otherwise pick the rare broken forms far more often than their weight.
      fc.noBias(
        fc.oneof(
          { weight: 12, arbitrary: fc.constantFrom('plain', 'quoted', 'backslash') },
          { weight: 1, arbitrary: fc.constantFrom('open', 'after') },
        ),
      ),
    )
    .map(([v, how]) => {
      switch (how) {
        case 'quoted':
          return `"${v.replace(/"/g, '""')}"`;
        case 'backslash':
          return `"${v.replace(/"/g, '\\"')}"`;
        case 'open':
          return `"${v}`;
        case 'after':
          return `"${v}"x`;
        default:
          return v;
      }
    });

const serial = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...SMARTREST_CHILDREN) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      SMARTREST_CHILDREN[0].toUpperCase(),
      `${SMARTREST_CHILDREN[0]}0`,
      ` ${SMARTREST_CHILDREN[0]}`,
      'sdevice',
      's:1',
      's/x',
      's+#',
      's\u0000',
      '__proto__',
      'constructor',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `s${s}`) },
);

const template = fc.oneof(
  { weight: 16, arbitrary: fc.constant('511') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('510', '512', '5111', '', ' 511', '511 ', 'abc', '"511"', '0', '-1', '１'),
  },
);

const smartRestLine: fc.Arbitrary<string> = fc
  .record({
    template,
    serial: smartRestField(serial),
    text: smartRestField(fc.oneof(validCommandText, commandText)),
    extra: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(smartRestField(fc.string({ maxLength: 6 })), { maxLength: 3 }) },
    ),
    shape: fc.noBias(
      fc.oneof(
        { weight: 9, arbitrary: fc.constant('full') },
        { weight: 1, arbitrary: fc.constantFrom('template only', 'no text', 'trailing comma') },
      ),
    ),
  })
  .map(({ template, serial, text, extra, shape }) => {
    if (shape === 'template only') return template;
    if (shape === 'no text') return `${template},${serial}`;
    const line = [template, serial, text, ...extra].join(',');
    return shape === 'trailing comma' ? `${line},` : line;
  });

/** A whole payload on s/ds: one line, several (with LF or CRLF, blank lines), or garbage. */
export const smartRestPayload: fc.Arbitrary<PayloadCase> = fc
  .oneof(
    { weight: 6, arbitrary: smartRestLine.map((text) => ({ text, note: 'one line' })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          fc.array(smartRestLine, { minLength: 2, maxLength: 5 }),
          fc.constantFrom('\n', '\r\n', '\n\n', '\r'),
        )
        .map(([lines, sep]) => ({
          text: lines.join(sep),
          note: `${lines.length} lines joined by ${JSON.stringify(sep)}`,
        })),
    },
    {
      weight: 1,
      arbitrary: fc
        .oneof(
          fc.constantFrom(
            '',
            '\n',
            ',',
            ',,,',
            '"',
            '""',
            '511',
            '511,',
            '511,"',
            `511,${SMARTREST_CHILDREN[0]},"raw 2 01`,
          ),
          fc.constantFrom(
            `511,${SMARTREST_CHILDREN[0]},${'ab'.repeat(100000)}`,
            `511,${'s'.repeat(50000)},beef`,
          ),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
        )
        .map((text) => ({ text, note: 'garbage' })),
    },
  )
  .map((c) => Object.assign(c, { [fc.toStringMethod]: () => `${c.note}: ${preview(c.text)}` }));
