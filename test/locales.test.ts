import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../testkit/paths';

// Translations under locales/<lang>/ against the English reference in locales/en-US/, and the message keys
// that the editor HTML and the runtime code use against the English catalogs.

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const localesDir = path.join(repoRoot, 'locales');
const nodesDir = path.join(repoRoot, 'nodes');
const REFERENCE = 'en-US';
const referenceDir = path.join(localesDir, REFERENCE);

/** Values a translation may leave as in English: product, protocol and host names. */
const SAME_IN_EVERY_LANGUAGE = [
  'TLS',
  'AS ID',
  'WMW',
  'ThingWorx',
  'Cumulocity',
  'ThingPark',
  'URL',
  'IoT Flow MQTT',
  'thingworx.example.com:443',
];
/** Words that a given language writes exactly as English does. */
const SAME_IN_LANGUAGE: Record<string, string[]> = {
  fr: ['messages', 'minutes', 'position'],
};
const allowedSame = (lang: string): Set<string> =>
  new Set([...SAME_IN_EVERY_LANGUAGE, ...(SAME_IN_LANGUAGE[lang] ?? [])]);

// ---------------------------------------------------------------------------------------------------------
// Helpers: pure functions that return the problems they find, so that the self-checks at the end can prove
// that each of them reports a broken translation.

function readJson(file: string): Json {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Json;
}

function filesOf(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

function isObject(value: Json | undefined): value is { [key: string]: Json } | Json[] {
  return typeof value === 'object' && value !== null;
}

/** Every leaf of a catalog by its key path ("a.b.c"); an empty object counts as a leaf. */
function leaves(value: Json, prefix = '', out = new Map<string, Json>()): Map<string, Json> {
  const entries = isObject(value) ? Object.entries(value) : [];
  if (prefix && entries.length === 0) out.set(prefix, value);
  for (const [key, child] of entries) leaves(child, prefix ? `${prefix}.${key}` : key, out);
  return out;
}

function compareKeys(reference: Json, translation: Json): { missing: string[]; extra: string[] } {
  const ref = leaves(reference);
  const tr = leaves(translation);
  return {
    missing: [...ref.keys()].filter((k) => !tr.has(k)),
    extra: [...tr.keys()].filter((k) => !ref.has(k)),
  };
}

/** Key paths whose translated value is not of the English value's type (e.g. a number for a string). */
function typeMismatches(reference: Json, translation: Json): string[] {
  const tr = leaves(translation);
  const kind = (v: Json | undefined): string => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);
  return [...leaves(reference)]
    .filter(([k, v]) => tr.has(k) && kind(v) !== kind(tr.get(k)))
    .map(([k, v]) => `${k}: ${kind(tr.get(k))} instead of ${kind(v)}`);
}

function placeholders(text: string): string[] {
  return [...new Set(text.match(/__[A-Za-z0-9_.-]+?__/g) ?? [])].sort();
}

/** Interpolation placeholders of an English value missing from its translation, or unknown to English. */
function placeholderProblems(reference: Json, translation: Json): string[] {
  const tr = leaves(translation);
  const problems: string[] = [];
  for (const [key, en] of leaves(reference)) {
    const value = tr.get(key);
    if (typeof en !== 'string' || typeof value !== 'string') continue;
    const want = placeholders(en);
    const have = placeholders(value);
    const missing = want.filter((p) => !have.includes(p));
    const unknown = have.filter((p) => !want.includes(p));
    if (missing.length) problems.push(`${key}: missing ${missing.join(', ')} in ${JSON.stringify(value)}`);
    if (unknown.length) problems.push(`${key}: unknown ${unknown.join(', ')} in ${JSON.stringify(value)}`);
  }
  return problems;
}

/** String values left exactly as in English, other than the allowed terms. */
function untranslatedValues(reference: Json, translation: Json, allowed: Set<string>): string[] {
  const tr = leaves(translation);
  return [...leaves(reference)]
    .filter(([k, en]) => typeof en === 'string' && tr.get(k) === en && !allowed.has(en))
    .map(([k, en]) => `${k}: ${JSON.stringify(en)}`);
}

const stripComments = (html: string): string => html.replace(/<!--[\s\S]*?-->/g, '');

function helpNames(html: string): string[] {
  return [...stripComments(html).matchAll(/\bdata-help-name\s*=\s*(["'])(.*?)\1/g)].map((m) => m[2]);
}

/** Tag names in document order, closing tags as "/name". */
function tagSequence(html: string): string[] {
  return [...stripComments(html).matchAll(/<(\/?)([A-Za-z][A-Za-z0-9-]*)/g)].map(
    (m) => `${m[1]}${m[2].toLowerCase()}`,
  );
}

/** Where two tag sequences part, with a few tags of context; undefined when they are the same. */
function tagDifference(reference: string, translation: string): string | undefined {
  const a = tagSequence(reference);
  const b = tagSequence(translation);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length && i === b.length) return undefined;
  const around = (s: string[]): string => s.slice(Math.max(0, i - 3), i + 4).join(' ') || '(end)';
  return `tag #${i + 1} differs: English "${around(a)}", translation "${around(b)}"`;
}

const BLOCK_TAGS = new Set([
  'script',
  'p',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'dl',
  'dt',
  'dd',
  'ul',
  'ol',
  'li',
]);
const CODE_TAGS = new Set(['code', 'pre']);

/** The prose of each block element (text outside <code>/<pre>, whitespace collapsed), in document order. */
function proseBlocks(html: string): string[] {
  const blocks: string[] = [];
  let current = '';
  let inCode = 0;
  for (const m of stripComments(html).matchAll(/<(\/?)([A-Za-z][A-Za-z0-9-]*)[^>]*>|[^<]+|</g)) {
    const tag = m[2]?.toLowerCase();
    if (!tag) {
      if (!inCode) current += m[0];
    } else if (CODE_TAGS.has(tag)) {
      inCode = Math.max(0, inCode + (m[1] ? -1 : 1));
      current += ' ';
    } else if (BLOCK_TAGS.has(tag)) {
      blocks.push(current.replace(/\s+/g, ' ').trim());
      current = '';
    }
  }
  blocks.push(current.replace(/\s+/g, ' ').trim());
  return blocks;
}

/**
 * Blocks of a help file whose prose is the English prose unchanged, code aside, unless all its words (of
 * three letters or more) belong to allowed terms, e.g. "TLS" or ": position ( )".
 */
function untranslatedBlocks(reference: string, translation: string, allowed: Set<string>): string[] {
  const words = (text: string): string[] => text.match(/[A-Za-z][A-Za-z0-9]{2,}/g) ?? [];
  const allowedWords = new Set([...allowed].flatMap(words));
  const a = proseBlocks(reference);
  const b = proseBlocks(translation);
  return a
    .filter((text, i) => text === b[i] && words(text).some((w) => !allowedWords.has(w)))
    .map((text) => JSON.stringify(text));
}

interface KeyUse {
  file: string;
  key: string;
}

function lineOf(source: string, index: number): number {
  return source.slice(0, index).split('\n').length;
}

/** Message keys of an editor HTML file: data-i18n attributes and this._('…') calls. */
function editorKeys(source: string, file: string): KeyUse[] {
  const uses: KeyUse[] = [];
  for (const m of source.matchAll(/\bdata-i18n\s*=\s*(["'])(.*?)\1/g)) {
    for (const part of m[2].split(';')) {
      const key = part.replace(/^\s*\[[^\]]*\]/, '').trim();
      if (key) uses.push({ file: `${file}:${lineOf(source, m.index!)}`, key });
    }
  }
  for (const m of source.matchAll(/\bthis\._\(\s*(['"`])(.*?)\1/g)) {
    uses.push({ file: `${file}:${lineOf(source, m.index!)}`, key: m[2] });
  }
  return uses;
}

/** Message keys of runtime code: RED._('…') calls (template literals keep their `${…}` parts). */
function runtimeKeys(source: string, file: string): KeyUse[] {
  return [...source.matchAll(/\bRED\._\(\s*(['"`])((?:(?!\1)[^\\]|\\.)*)\1/g)].map((m) => ({
    file: `${file}:${lineOf(source, m.index!)}`,
    key: m[2],
  }));
}

/**
 * Keys that do not resolve in the English catalogs. `catalogs` maps a catalog file name (common.json,
 * <node>.json) to its content; `ownCatalog` gives, for a using file, the node catalog Node-RED gives it
 * (undefined for shared code, which only has common.json for sure).
 */
function keyProblems(
  uses: KeyUse[],
  catalogs: Map<string, Json>,
  ownCatalog: (file: string) => string | undefined,
): string[] {
  const problems: string[] = [];
  for (const { file, key } of uses) {
    if (key.startsWith('node-red:')) continue;
    const fail = (why: string): void => {
      problems.push(`${file}: '${key}' ${why}`);
    };
    if (key.includes(':')) {
      fail('names a namespace other than node-red: (ours have none)');
      continue;
    }
    const dynamic = key.indexOf('${');
    const keyPath = dynamic >= 0 ? key.slice(0, dynamic).replace(/\.$/, '') : key;
    const [top, ...rest] = keyPath.split('.');
    const node = /^thingpark-(.+)$/.exec(top)?.[1];
    if (!node || rest.length === 0) {
      fail('is not of the form thingpark-<node>.<key>');
      continue;
    }
    const catalogFile = node === 'common' ? 'common.json' : `${node}.json`;
    const catalog = catalogs.get(catalogFile);
    if (catalog === undefined) {
      fail(`needs locales/${REFERENCE}/${catalogFile}, which does not exist`);
      continue;
    }
    let value: Json | undefined = catalog;
    for (const part of [top, ...rest])
      value =
        isObject(value) && Object.hasOwn(value, part) ? (value as Record<string, Json>)[part] : undefined;
    if (dynamic >= 0 && !isObject(value)) fail(`needs ${keyPath} to be a group of keys in ${catalogFile}`);
    else if (dynamic < 0 && value === undefined) fail(`is missing from ${catalogFile}`);
    else if (dynamic < 0 && typeof value !== 'string') fail(`is not a text in ${catalogFile}`);
    const own = ownCatalog(file);
    if (catalogFile !== 'common.json' && catalogFile !== own)
      fail(
        own
          ? `is not in this node's catalog (${own} + common.json): Node-RED would not find it`
          : 'is used by shared code, which can only rely on common.json',
      );
  }
  return problems;
}

/**
 * Message keys of the shared editor script (resources/*.js), written there as whole string literals; a
 * literal ending in '.' is the start of a key completed at run time, so it must name a group of keys.
 */
function scriptKeys(source: string, file: string): KeyUse[] {
  return [...source.matchAll(/(['"])(thingpark-[a-z-]+\.[A-Za-z0-9_.-]*)\1/g)].map((m) => ({
    file: `${file}:${lineOf(source, m.index!)}`,
    key: m[2].endsWith('.') ? `${m[2]}\${` : m[2],
  }));
}

// ---------------------------------------------------------------------------------------------------------

const referenceFiles = filesOf(referenceDir);
const languages = fs
  .readdirSync(localesDir, { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== REFERENCE)
  .map((e) => e.name)
  .sort();

describe('locales: translations match the English reference', () => {
  it(`has English catalogs and help, and at least one translation`, () => {
    assert.ok(
      referenceFiles.some((f) => f.endsWith('.json')) && referenceFiles.some((f) => f.endsWith('.html')),
      `locales/${REFERENCE} has no .json or no .html file: ${referenceFiles.join(', ')}`,
    );
    assert.ok(languages.length > 0, `no translation folder beside locales/${REFERENCE}`);
  });

  for (const lang of languages) {
    describe(`locales/${lang}`, () => {
      const dir = path.join(localesDir, lang);
      const present = referenceFiles.filter((f) => fs.existsSync(path.join(dir, f)));
      const jsonFiles = present.filter((f) => f.endsWith('.json'));
      const htmlFiles = present.filter((f) => f.endsWith('.html'));
      const allowed = allowedSame(lang);

      it(`has the same files as ${REFERENCE}`, () => {
        const files = filesOf(dir);
        assert.deepEqual(
          {
            missing: referenceFiles.filter((f) => !files.includes(f)),
            extra: files.filter((f) => !referenceFiles.includes(f)),
          },
          { missing: [], extra: [] },
          `locales/${lang} differs from locales/${REFERENCE}`,
        );
      });

      for (const file of jsonFiles) {
        const load = (): { en: Json; tr: Json } => ({
          en: readJson(path.join(referenceDir, file)),
          tr: readJson(path.join(dir, file)),
        });

        it(`${file}: the same key paths as ${REFERENCE}`, () => {
          const { en, tr } = load();
          assert.deepEqual(
            compareKeys(en, tr),
            { missing: [], extra: [] },
            `locales/${lang}/${file}: keys differ from ${REFERENCE}`,
          );
          assert.deepEqual(typeMismatches(en, tr), [], `locales/${lang}/${file}: values of another type`);
        });

        it(`${file}: every __placeholder__ of the English text is kept`, () => {
          const { en, tr } = load();
          assert.deepEqual(placeholderProblems(en, tr), [], `locales/${lang}/${file}: placeholders differ`);
        });

        it(`${file}: no value left in English`, () => {
          const { en, tr } = load();
          assert.deepEqual(
            untranslatedValues(en, tr, allowed),
            [],
            `locales/${lang}/${file}: values identical to ${REFERENCE} (allowed: ${[...allowed].join(', ')})`,
          );
        });
      }

      for (const file of htmlFiles) {
        const load = (): { en: string; tr: string } => ({
          en: fs.readFileSync(path.join(referenceDir, file), 'utf8'),
          tr: fs.readFileSync(path.join(dir, file), 'utf8'),
        });

        it(`${file}: the same data-help-name and the same tags as ${REFERENCE}`, () => {
          const { en, tr } = load();
          assert.ok(helpNames(en).length > 0, `locales/${REFERENCE}/${file} has no data-help-name`);
          assert.deepEqual(helpNames(tr), helpNames(en), `locales/${lang}/${file}: data-help-name differs`);
          const difference = tagDifference(en, tr);
          assert.equal(difference, undefined, `locales/${lang}/${file}: ${difference}`);
        });

        it(`${file}: no paragraph, heading or item left in English`, () => {
          const { en, tr } = load();
          assert.deepEqual(
            untranslatedBlocks(en, tr, allowed),
            [],
            `locales/${lang}/${file}: prose identical to ${REFERENCE}`,
          );
        });
      }
    });
  }
});

describe(`locales: every message key used by the nodes exists in ${REFERENCE}`, () => {
  const catalogs = new Map(
    referenceFiles.filter((f) => f.endsWith('.json')).map((f) => [f, readJson(path.join(referenceDir, f))]),
  );
  /** nodes/<dir>/… belongs to the node set whose catalog is <dir>.json; nodes/shared/ to none. */
  const ownCatalog = (file: string): string | undefined => {
    const dir = file.split(/[\\/]/)[1];
    return dir && dir !== 'shared' ? `${dir}.json` : undefined;
  };
  const relative = (file: string): string => path.relative(repoRoot, file).split(path.sep).join('/');

  function walk(dir: string): string[] {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  }

  it('editor HTML (nodes/*/*.html): data-i18n and this._() keys', () => {
    const files = fs
      .readdirSync(nodesDir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e) => filesOf(path.join(nodesDir, e.name)).map((f) => path.join(nodesDir, e.name, f)))
      .filter((f) => f.endsWith('.html'));
    const uses = files.flatMap((f) => editorKeys(fs.readFileSync(f, 'utf8'), relative(f)));
    assert.ok(
      uses.some((u) => !u.key.startsWith('node-red:')),
      `no message key of ours found in ${files.length} editor files`,
    );
    assert.deepEqual(keyProblems(uses, catalogs, ownCatalog), []);
  });

  it('runtime code (nodes/**/*.ts): RED._() keys', () => {
    const files = walk(nodesDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    const uses = files.flatMap((f) => runtimeKeys(fs.readFileSync(f, 'utf8'), relative(f)));
    assert.ok(uses.length > 0, `no RED._() call found in ${files.length} files under nodes/`);
    assert.deepEqual(keyProblems(uses, catalogs, ownCatalog), []);
  });

  it('shared editor script (resources/*.js): keys of common.json only', () => {
    const dir = path.join(repoRoot, 'resources');
    const files = filesOf(dir)
      .filter((f) => f.endsWith('.js'))
      .map((f) => path.join(dir, f));
    const uses = files.flatMap((f) => scriptKeys(fs.readFileSync(f, 'utf8'), relative(f)));
    assert.ok(uses.length > 0, `no message key found in ${files.length} files under resources/`);
    assert.deepEqual(
      keyProblems(uses, catalogs, () => undefined),
      [],
    );
  });
});

describe('locales: the checks above report broken translations', () => {
  const en: Json = { 'thingpark-x': { label: { a: 'Host name', b: '__count__ queued' }, tls: 'TLS' } };
  const enHelp =
    '<script type="text/html" data-help-name="thingpark-x"><p>Sends <code>msg.payload</code>.</p>' +
    '<h3>Details</h3><dl><dt>TLS</dt><dd>Optional.</dd></dl></script>';
  const allowed = allowedSame('fr');

  it('missing, extra and mistyped keys', () => {
    const tr: Json = { 'thingpark-x': { label: { a: "Nom d'hôte", c: 'x' }, tls: 1 } };
    assert.deepEqual(compareKeys(en, tr), {
      missing: ['thingpark-x.label.b'],
      extra: ['thingpark-x.label.c'],
    });
    assert.deepEqual(typeMismatches(en, tr), ['thingpark-x.tls: number instead of string']);
  });

  it('lost or unknown placeholders', () => {
    const tr: Json = {
      'thingpark-x': { label: { a: "Nom d'hôte", b: '__nombre__ en attente' }, tls: 'TLS' },
    };
    assert.equal(placeholderProblems(en, tr).length, 2);
  });

  it('values left in English, except the allowed terms', () => {
    const tr: Json = { 'thingpark-x': { label: { a: 'Host name', b: '__count__ en attente' }, tls: 'TLS' } };
    assert.deepEqual(untranslatedValues(en, tr, allowed), ['thingpark-x.label.a: "Host name"']);
  });

  it('another data-help-name, other tags, prose left in English', () => {
    const fr =
      '<script type="text/html" data-help-name="thingpark-x"><p>Envoie <code>msg.payload</code>.</p>' +
      '<h3>Détails</h3><dl><dt>TLS</dt><dd>Facultatif.</dd></dl></script>';
    assert.equal(tagDifference(enHelp, fr), undefined);
    assert.deepEqual(untranslatedBlocks(enHelp, fr, allowed), []);
    assert.notDeepEqual(helpNames(fr.replace('thingpark-x', 'thingpark-y')), helpNames(enHelp));
    assert.match(tagDifference(enHelp, fr.replace('<p>Envoie', '<p><b>Envoie</b>')) ?? '', /tag #3/);
    assert.deepEqual(untranslatedBlocks(enHelp, fr.replace('Détails', 'Details'), allowed), ['"Details"']);
  });

  it('keys used but absent, or outside the node catalog', () => {
    const catalogs = new Map<string, Json>([
      ['x.json', en],
      ['common.json', { 'thingpark-common': { status: { queued: 'q' } } }],
    ]);
    const own = (): string => 'x.json';
    const uses: KeyUse[] = [
      ...editorKeys(
        '<span data-i18n="[placeholder]thingpark-x.label.z;node-red:common.label.name"></span>',
        'x',
      ),
      ...runtimeKeys("RED._('thingpark-common.status.gone'); RED._(`thingpark-x.label.${s}`)", 'x.ts'),
      ...runtimeKeys("RED._('thingpark-y.label.a'); RED._('other:thing')", 'x.ts'),
    ];
    assert.deepEqual(
      keyProblems(uses, catalogs, own).map((p) => p.split("'")[1]),
      ['thingpark-x.label.z', 'thingpark-common.status.gone', 'thingpark-y.label.a', 'other:thing'],
    );
    // A node's own key used from shared code (nodes/shared/): only common.json is certain to be there.
    assert.equal(keyProblems(uses.slice(3, 4), catalogs, () => undefined).length, 1);
    const script = scriptKeys(
      "t(node, 'thingpark-common.status.queued'); t(node, 'thingpark-common.status.' + c); t('thingpark-x.label.a')",
      'resources/x.js',
    );
    assert.deepEqual(
      keyProblems(script, catalogs, () => undefined).map((p) => p.split("'")[1]),
      ['thingpark-x.label.a'],
    );
    assert.deepEqual(
      keyProblems(scriptKeys("t(node, 'thingpark-common.status.queued.')", 'x.js'), catalogs, () => undefined)
        .length,
      1,
    );
  });
});
