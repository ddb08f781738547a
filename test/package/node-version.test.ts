import { strict as assert } from 'assert';
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as semver from 'semver';
import { MIN_NODE_VERSION, isAtLeast, unsupportedNodeMessage } from '../../lib/node-version';
import { freePort } from '../../testkit/broker';
import { repoRoot } from '../../testkit/paths';
import { prepareUserDir } from './offline-install';
import { packedPackage, run, type PackageManifest } from './packed';

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as PackageManifest;
const NODE_FILES = Object.entries(manifest['node-red']?.nodes ?? {});

/** A Node.js older than the floor on this machine (the system's, outside this repository), if any. */
function olderNode(): { bin: string; version: string } | undefined {
  const dirs = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => d && !path.resolve(d).startsWith(repoRoot));
  for (const dir of [...dirs, '/usr/local/bin', '/usr/bin']) {
    const bin = path.join(dir, 'node');
    if (!fs.existsSync(bin)) continue;
    const version = spawnSync(bin, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    if (semver.valid(version) && !isAtLeast(version)) return { bin: fs.realpathSync(bin), version };
  }
  return undefined;
}

describe('Node.js floor: 22.13', function () {
  this.timeout(120000);

  it('the check compares versions as Node.js numbers them', () => {
    assert.equal(MIN_NODE_VERSION, semver.minVersion(manifest.engines!.node!)!.version, 'engines.node');
    for (const v of ['22.13.0', '22.13.1', '22.23.3', '23.0.0', '24.0.0', '26.12.1', 'v22.14.0'])
      assert.equal(unsupportedNodeMessage(v), undefined, v);
    for (const v of ['22.12.9', '22.9.0', '20.20.2', '18.20.8', '21.99.0', '3.1.0'])
      assert.equal(
        unsupportedNodeMessage(v),
        `@thingpark-edge/node-red-connectors needs Node.js 22.13.0 or later (this is Node.js ${v})`,
        v,
      );
  });

  describe('on an older Node.js (the system one)', function () {
    const old = olderNode();
    before(function () {
      if (!old) {
        console.log(
          `    skipped: no Node.js older than ${MIN_NODE_VERSION} on this machine (PATH, /usr/local/bin, /usr/bin)`,
        );
        this.skip();
      }
    });

    it('loading any node file fails with the one line naming the minimum version', () => {
      for (const [type, file] of NODE_FILES) {
        const r = spawnSync(old!.bin, ['-e', `require(${JSON.stringify(path.join(repoRoot, file))})`], {
          encoding: 'utf8',
        });
        assert.notEqual(r.status, 0, `${type} loaded on Node.js ${old!.version}`);
        const errors = r.stderr.split('\n').filter((l) => /^\w*Error\b/.test(l));
        assert.deepEqual(
          errors,
          [
            `Error: @thingpark-edge/node-red-connectors needs Node.js 22.13.0 or later (this is Node.js ${old!.version})`,
          ],
          `${type}: ${r.stderr}`,
        );
      }
    });

    it('Node-RED 4.1 keeps running and names the reason for each node type', async () => {
      const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-old-node-'));
      const link = path.join(userDir, 'node_modules', '@thingpark-edge', 'node-red-connectors');
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(repoRoot, link, 'dir');
      const port = await freePort();
      fs.writeFileSync(
        path.join(userDir, 'settings.js'),
        `module.exports = ${JSON.stringify({ uiHost: '127.0.0.1', uiPort: port, credentialSecret: false })};`,
      );
      let output = '';
      const red: ChildProcess = spawn(
        old!.bin,
        [require.resolve('node-red/red.js'), '-u', userDir, '-s', path.join(userDir, 'settings.js')],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      red.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      red.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      try {
        const end = Date.now() + 60000;
        while (!/Server now running/.test(output)) {
          assert.ok(Date.now() < end && red.exitCode === null, `Node-RED did not start:\n${output}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        assert.ok((await fetch(`http://127.0.0.1:${port}/flows`)).ok, 'Node-RED answers');
        for (const [type] of NODE_FILES) {
          const line = `[warn] [@thingpark-edge/node-red-connectors/${type}] Error: @thingpark-edge/node-red-connectors needs Node.js 22.13.0 or later (this is Node.js ${old!.version})`;
          assert.ok(output.includes(line), `${type}:\n${output}`);
        }
        assert.doesNotMatch(output, /sqlite|classic-level|Cannot find module/i, 'no other reason given');
      } finally {
        const exited = new Promise((r) => red.once('exit', r));
        red.kill('SIGTERM');
        await exited;
        fs.rmSync(userDir, { recursive: true, force: true });
      }
    });

    it('the palette refuses the install (npm --engine-strict, as Node-RED runs it)', async () => {
      const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-old-palette-'));
      try {
        prepareUserDir(await packedPackage(), userDir);
        const npmCli = fs.realpathSync(
          spawnSync('sh', ['-c', 'command -v npm'], {
            encoding: 'utf8',
            env: { ...process.env, PATH: path.dirname(old!.bin) + path.delimiter + process.env.PATH },
          }).stdout.trim(),
        );
        const r = await run(
          old!.bin,
          [npmCli, 'ci', '--offline', '--no-audit', '--no-fund', '--omit=dev', '--engine-strict'],
          { cwd: userDir },
        );
        assert.notEqual(r.status, 0, `installed on Node.js ${old!.version}:\n${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /EBADENGINE/);
        assert.match(r.stderr, /@thingpark-edge\/node-red-connectors/);
        assert.match(r.stderr, /Required: \{"node":">=22\.13"\}/);
        assert.ok(!fs.existsSync(path.join(userDir, 'node_modules', '@thingpark-edge')), 'nothing installed');
      } finally {
        fs.rmSync(userDir, { recursive: true, force: true });
      }
    });
  });
});
