// Mocha for a bundled test entry. esbuild bundles index.ts and its suites into one file, so mocha
// cannot `require` suite files itself (mocha.addFile + loadFiles). Instead this module creates the
// Mocha instance and emits 'pre-require' at import time, which installs the tdd globals (suite,
// test, setup, ...) and makes mocha's own exports (`import { suite, test } from 'mocha'`) work; the
// suite modules that index.ts imports after this one then register their tests as they evaluate.
// ES imports evaluate in order, so `import './mocha.js'` must be index.ts's first import.
import Mocha from 'mocha';

export const mocha = new Mocha({
  ui: 'tdd',
  color: false, // the log goes through VS Code's console to a file, not a terminal
  timeout: 60_000,
  // SLEAP_RTC_TEST_GREP=<substring> runs only the tests whose full title contains it.
  grep: process.env.SLEAP_RTC_TEST_GREP || undefined,
});
mocha.suite.emit('pre-require', globalThis, 'bundle', mocha);

/** Runs the registered tests; rejects when any failed or none ran (a grep that matches nothing). */
export function run(): Promise<void> {
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const stats = runner.stats ?? { passes: 0, failures, pending: 0 };
      // A plain last line for the runner (and people) to read: "N passed, N failed".
      console.log(`${stats.passes} passed, ${stats.failures} failed`);
      if (stats.pending) console.log(`${stats.pending} pending`);
      if (failures > 0) reject(new Error(`${failures} test(s) failed`));
      else if (stats.passes + stats.pending === 0) reject(new Error(`no tests ran${process.env.SLEAP_RTC_TEST_GREP ? ` (SLEAP_RTC_TEST_GREP=${process.env.SLEAP_RTC_TEST_GREP})` : ''}`));
      else resolve();
    });
  });
}
