'use strict';
// Mocha's spec reporter, closing with the line CI reads: "N passed, N failed".
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      if (process.env.MOCHA_SUMMARY_FILE) {
        require('fs').writeFileSync(
          process.env.MOCHA_SUMMARY_FILE,
          JSON.stringify({ passed: s.passes || 0, failed: s.failures || 0, skipped: s.pending || 0 }),
        );
      }
      process.stdout.write(
        `\n${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`,
      );
    });
  }
}
module.exports = SummaryReporter;
