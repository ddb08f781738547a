'use strict';
// Mocha's spec reporter, closing with the line CI reads: "N passed, N failed". The failed tests' titles
// and first error lines (with an assertion's actual and expected values) also go to the summary file, so that scripts/test.js can repeat them right
// before its last line (CI shows the end of the output).
const Mocha = require('mocha');
const { inspect } = require('util');
const { EVENT_RUN_END, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failures = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      let message = String((err && err.message) || err).split('\n')[0];
      // An assertion's first line says only that values differed: name them, so CI's tail shows why.
      if (err && 'actual' in err && 'expected' in err) {
        // Mocha has already turned both into multi-line strings for its diff.
        const show = (v) =>
          (typeof v === 'string' ? v : inspect(v, { depth: 4, breakLength: Infinity })).replace(
            /\s*\n\s*/g,
            ' ',
          );
        message += ` actual: ${show(err.actual)}, expected: ${show(err.expected)}`;
      }
      message = message.slice(0, 500);
      failures.push({ title: test.fullTitle(), file: test.file || '', message });
    });
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      if (process.env.MOCHA_SUMMARY_FILE) {
        require('fs').writeFileSync(
          process.env.MOCHA_SUMMARY_FILE,
          JSON.stringify({
            passed: s.passes || 0,
            failed: s.failures || 0,
            skipped: s.pending || 0,
            failures,
          }),
        );
      }
      process.stdout.write(
        `\n${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`,
      );
    });
  }
}
module.exports = SummaryReporter;
