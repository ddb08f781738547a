import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { coreNode, helper, servingHttpNodes, type NodeModule } from './helpers/node-red';
import { repoRoot } from './helpers/paths';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  'node-red': { nodes: Record<string, string> };
};
const ours: NodeModule[] = Object.values(pkg['node-red'].nodes).map((file) =>
  require(path.join(repoRoot, file)),
);
const core = (file: string): NodeModule => coreNode(`core/${file}`);
const coreModules = [
  core('common/20-inject.js'),
  core('common/21-debug.js'),
  core('common/90-comment.js'),
  core('function/10-function.js'),
  core('function/10-switch.js'),
  core('function/15-change.js'),
  core('network/05-tls.js'),
];
const examplesDir = path.join(repoRoot, 'examples');
const examples = fs.readdirSync(examplesDir).filter((f) => f.endsWith('.json'));

describe('examples/: every flow loads in the real runtime', function () {
  this.timeout(30000);
  let userDir: string;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-examples-'));
    helper.settings({ userDir });
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('has an example for every flow node of the package', () => {
    const used = new Set(
      examples.flatMap((f) =>
        (JSON.parse(fs.readFileSync(path.join(examplesDir, f), 'utf8')) as Array<{ type: string }>).map(
          (n) => n.type,
        ),
      ),
    );
    const flowNodes = Object.keys(pkg['node-red'].nodes).filter((t) => /-(in|out)$/.test(t));
    assert.deepEqual(
      flowNodes.filter((t) => !used.has(t)),
      [],
    );
  });

  for (const file of examples) {
    it(`${file}: every node is created, none reports an error on start`, async () => {
      const flow = JSON.parse(fs.readFileSync(path.join(examplesDir, file), 'utf8')) as Array<
        Record<string, unknown>
      >;
      await helper.load(servingHttpNodes([...ours, ...coreModules]), flow);
      for (const n of flow) {
        if (n.type === 'tab') continue;
        const node = helper.getNode(n.id);
        assert.ok(node, `${n.type} ${n.id} was created`);
      }
      // An example ships without the user's hosts and keys: the only errors allowed on start are
      // the ones naming a setting still to fill in.
      const errors = helper._logSpy.args
        .filter((a: Array<{ level: number }>) => a[0]?.level <= 20)
        .map((a: Array<{ msg: unknown }>) => String(a[0].msg))
        .filter(
          (text: string) =>
            !/^\w+ (host name|enterprise ID|tenant|application key)[\w ]* missing$/.test(text),
        );
      assert.deepEqual(errors, []);
    });
  }
});
