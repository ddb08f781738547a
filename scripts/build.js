'use strict';
// Compiles the TypeScript, then places each node's editor HTML, locales and the icons beside its
// compiled runtime file: Node-RED looks for them next to the .js named in package.json.
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');

if (!process.argv.includes('--copy-only')) {
  fs.rmSync(dist, { recursive: true, force: true });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
}

const pkg = require(path.join(root, 'package.json'));
for (const target of Object.values({ ...pkg['node-red'].nodes, ...pkg['node-red'].plugins })) {
  const outDir = path.join(root, path.dirname(target));
  const name = path.basename(target, '.js');
  const srcDir = path.join(root, path.relative(dist, outDir));
  fs.copyFileSync(path.join(srcDir, `${name}.html`), path.join(outDir, `${name}.html`));
  for (const lang of fs.readdirSync(path.join(root, 'locales'))) {
    const langDir = path.join(outDir, 'locales', lang);
    const help = path.join(root, 'locales', lang, `${name}.html`);
    const catalog = path.join(root, 'locales', lang, `${name}.json`);
    // Texts shared by several nodes (status, buffer, errors) are merged into each node's catalog,
    // since Node-RED gives every node set its own message namespace.
    const common = path.join(root, 'locales', lang, 'common.json');
    if (!fs.existsSync(help) && !fs.existsSync(catalog)) continue;
    fs.mkdirSync(langDir, { recursive: true });
    if (fs.existsSync(help)) fs.copyFileSync(help, path.join(langDir, `${name}.html`));
    const messages = {
      ...(fs.existsSync(common) ? JSON.parse(fs.readFileSync(common, 'utf8')) : {}),
      ...(fs.existsSync(catalog) ? JSON.parse(fs.readFileSync(catalog, 'utf8')) : {}),
    };
    fs.writeFileSync(path.join(langDir, `${name}.json`), JSON.stringify(messages, null, 2));
  }
  fs.cpSync(path.join(root, 'icons'), path.join(outDir, 'icons'), { recursive: true });
}
