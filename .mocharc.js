'use strict';
module.exports = {
  spec: ['dist/test/**/*.test.js'],
  reporter: './test/summary-reporter.js',
  require: ['./test/fc-seed.js'],
  timeout: 20000,
  exit: true,
};
