'use strict';
// Mocha's spec reporter, closing with the line CI reads: "N passed, N failed". The failed tests' titles
// and first error lines also go to the summary file, so that scripts/test.js can repeat them right
// before its last line (CI shows the end of the output).
const Mocha = require('mocha');
const { EVENT_RUN_END, EVENT_TEST_FAIL } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const failures = [];
    runner.on(EVENT_TEST_FAIL, (test, err) => {
      const message = String((err && err.message) || err)
        .split('\n')[0]
        .slice(0, 300);
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
