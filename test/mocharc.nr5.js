'use strict';
// The second and third runs of `npm test`: the tests that exercise Node-RED itself, on Node.js 24 and on
// Node.js 26, with Node-RED 5.x (scripts/test.js).
module.exports = {
  ...require('../.mocharc.js'),
  spec: [
    'dist/test/nodes/**/*.test.js',
    'dist/test/examples.test.js',
    'dist/test/editor/**/*.test.js',
    'dist/test/hostile/http-abuse.test.js',
    'dist/test/thingpark-api/nodes.test.js',
    'dist/test/thingpark-api/example.test.js',
    'dist/test/hostile/secrets-thingpark-api.test.js',
    'dist/test/codec/codec-node.test.js',
  ],
};
