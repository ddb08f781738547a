'use strict';
// Compiles the TypeScript, then places each node's editor HTML, locales and the icons beside its
// compiled runtime file: Node-RED looks for them next to the .js named in package.json.
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

fs.rmSync(dist, { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });

const pkg = require(path.join(root, 'package.json'));
for (const target of Object.values(pkg['node-red'].nodes)) {
  const outDir = path.join(root, path.dirname(target));
  const name = path.basename(target, '.js');
  const srcDir = path.join(root, path.relative(dist, outDir));
  fs.copyFileSync(path.join(srcDir, `${name}.html`), path.join(outDir, `${name}.html`));
  for (const lang of fs.readdirSync(path.join(root, 'locales'))) {
    const langDir = path.join(outDir, 'locales', lang);
    for (const ext of ['json', 'html']) {
      const file = path.join(root, 'locales', lang, `${name}.${ext}`);
      if (fs.existsSync(file)) {
        fs.mkdirSync(langDir, { recursive: true });
        fs.copyFileSync(file, path.join(langDir, `${name}.${ext}`));
      }
    }
  }
  fs.cpSync(path.join(root, 'icons'), path.join(outDir, 'icons'), { recursive: true });
}
