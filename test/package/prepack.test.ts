import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../../testkit/paths';
import { npmPack, type PackageManifest } from './packed';

// What a fresh clone is: the sources, no dist/. Build output, installs and local state stay out.
const NOT_SOURCES = new Set(['node_modules', 'dist', '.git', '.demo', 'bench/results', 'test/artifacts']);

describe('npm pack on a fresh clone builds first and ships dist/', function () {
  this.timeout(240000);
  let clone: string;
  let files: string[];
  let manifest: PackageManifest;

  before(async () => {
    clone = fs.mkdtempSync(path.join(os.tmpdir(), 'thingpark-clone-'));
    fs.cpSync(repoRoot, clone, {
      recursive: true,
      filter: (src) => !NOT_SOURCES.has(path.relative(repoRoot, src).split(path.sep).join('/')),
    });
    fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
    assert.ok(!fs.existsSync(path.join(clone, 'dist')), 'the clone has no dist/');
    manifest = JSON.parse(fs.readFileSync(path.join(clone, 'package.json'), 'utf8')) as PackageManifest;
    files = (await npmPack(clone, clone)).files;
  });
  after(() => fs.rmSync(clone, { recursive: true, force: true }));

  it('every node file package.json names, with its editor .html, French and English locales and icons', () => {
    const nodes = Object.values(manifest['node-red']?.nodes ?? {});
    assert.ok(nodes.length >= 10);
    for (const js of nodes) {
      const dir = path.posix.dirname(js);
      const name = path.posix.basename(js, '.js');
      for (const f of [
        js,
        `${dir}/${name}.html`,
        `${dir}/locales/en-US/${name}.json`,
        `${dir}/locales/fr/${name}.json`,
      ]) {
        assert.ok(files.includes(f), `${f} is in the package`);
      }
      assert.ok(
        files.some((f) => f.startsWith(`${dir}/icons/`)),
        `${dir}/icons/`,
      );
    }
    assert.ok(files.includes('dist/lib/node-version/require-supported.js'));
  });

  it('what the README and the help texts point to: licence, ThingWorx template and permissions, examples', () => {
    for (const f of [
      'LICENSE',
      'README.md',
      'CHANGELOG.md',
      'package.json',
      'resources/thingworx/ThingParkDeviceTemplate.xml',
      'resources/thingworx/README.md',
      'resources/editor.js',
      'examples/ThingPark to WMW.json',
    ]) {
      assert.ok(files.includes(f), `${f} is in the package`);
    }
  });

  it('no tests, stand-ins, benches, scripts or TypeScript sources', () => {
    const stray = files.filter(
      (f) =>
        /^dist\/(test|testkit|bench|scripts)\//.test(f) ||
        (/\.ts$/.test(f) && !/\.d\.ts$/.test(f)) ||
        /^(test|testkit|bench|scripts|lib|nodes)\//.test(f),
    );
    assert.deepEqual(stray, []);
  });
});
