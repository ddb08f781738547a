'use strict';
// The second run of `npm test`: the tests that exercise Node-RED itself, on Node.js 22 + Node-RED 5.x.
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
  ],
};
