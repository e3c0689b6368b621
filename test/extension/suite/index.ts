// The tests entry VS Code loads into the extension host (extensionTestsPath): bundled by
// scripts/build/extensionTests.mjs into dist/test/extension/index.cjs, mocha left external.
// Run here by test/support/vscode/runSuite.ts (code-server), on a desktop by ../runTests.ts.
//
// Add each suite file as a static import BELOW the mocha import (see mocha.ts for why the order
// matters). Suite files use mocha's tdd ui: `import { suite, test } from 'mocha';`.
import './mocha.js';
import './commands.suite.js';
import './uploads.suite.js';
import './training.suite.js';
import './errors.suite.js';
import './stack.suite.js';

export { run } from './mocha.js';
