import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../testkit/paths';

// A node's editor HTML that loads a missing resource stops the whole editor from loading (Node-RED
// waits for every <script src> of a node set), so each one must exist and be published.

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  name: string;
  files: string[];
  'node-red': { nodes: Record<string, string> };
};

describe('editor resources loaded by the node HTML', () => {
  const sources = Object.values(pkg['node-red'].nodes).map((target) => {
    const name = path.basename(target, '.js');
    const file = path.join('nodes', path.basename(path.dirname(target)), `${name}.html`);
    return { file, html: fs.readFileSync(path.join(repoRoot, file), 'utf8') };
  });
  const scripts = sources.flatMap(({ file, html }) =>
    [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => ({ file, src: m[1] })),
  );

  it('are resources of this package, present in resources/ and in the published files', () => {
    assert.ok(scripts.length > 0, 'no node HTML loads a resource');
    const prefix = `resources/${pkg.name}/`;
    for (const { file, src } of scripts) {
      assert.ok(src.startsWith(prefix), `${file}: ${src} is not under ${prefix}`);
      const local = path.join('resources', src.slice(prefix.length));
      assert.ok(fs.existsSync(path.join(repoRoot, local)), `${file}: ${local} does not exist`);
    }
    assert.ok(pkg.files.includes('resources'), 'package.json "files" does not publish resources/');
  });
});

describe('shared editor rows named in the node HTML (resources/editor-forms.js)', () => {
  const forms = fs.readFileSync(path.join(repoRoot, 'resources', 'editor-forms.js'), 'utf8');
  const blocksSource = forms.slice(
    forms.indexOf('var BLOCKS = {'),
    forms.indexOf('\n  };', forms.indexOf('var BLOCKS = {')),
  );
  const blocks = new Set([...blocksSource.matchAll(/^ {4}(\w+): function/gm)].map((m) => m[1]));
  const htmlFiles = fs
    .readdirSync(path.join(repoRoot, 'nodes'))
    .map((dir) => path.join('nodes', dir, `${dir}.html`))
    .filter((file) => fs.existsSync(path.join(repoRoot, file)));

  it('name only blocks the helper has (a typo would stop the dialog from opening)', () => {
    assert.ok(
      blocks.has('credentials') && blocks.has('durability'),
      `blocks found: ${[...blocks].join(', ')}`,
    );
    let uses = 0;
    for (const file of htmlFiles) {
      const html = fs.readFileSync(path.join(repoRoot, file), 'utf8');
      for (const m of html.matchAll(/data-thingpark-blocks="([^"]*)"/g))
        for (const block of m[1].split(/\s+/).filter(Boolean)) {
          uses++;
          assert.ok(blocks.has(block.split(':')[0]), `${file}: no block "${block}"`);
        }
    }
    assert.ok(uses > 10, `only ${uses} blocks used`);
  });

  it('every connection with a queue offers the durability setting and says so in its help, in every language', () => {
    for (const node of ['wmw', 'cumulocity', 'thingworx']) {
      const html = fs.readFileSync(path.join(repoRoot, 'nodes', node, `${node}.html`), 'utf8');
      assert.match(
        html,
        /data-thingpark-blocks="[^"]*\bdurability\b/,
        `${node}.html places the durability row`,
      );
      assert.match(html, /\bqueue: true\b/, `${node}.html declares its queue (durability default)`);
      for (const lang of fs.readdirSync(path.join(repoRoot, 'locales'))) {
        const help = fs.readFileSync(path.join(repoRoot, 'locales', lang, `${node}.html`), 'utf8');
        assert.match(help, /<dt>Durabilit[yé]<\/dt>/, `locales/${lang}/${node}.html explains durability`);
      }
    }
  });
});
