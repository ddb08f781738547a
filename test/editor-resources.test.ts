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
