// Runs the extension suite in DESKTOP VS Code through @vscode/test-electron, for people with
// internet: test-electron downloads VS Code from Microsoft's update server on first use.
//
// NOT run in this project's CI or dev machine: they reach only the npm registry and apt, so the
// download fails (ENOTFOUND). There the same suite runs in code-server instead: see
// test/support/vscode/runSuite.ts and test/support/vscode/README.md. Both load the same bundle,
// dist/test/extension/index.cjs (mocha, tdd, `run()`), built from test/extension/suite/index.ts.
//
//   npm run build && node --import tsx test/extension/runTests.ts
//
// Under test-electron there is no browser bridge (SLEAP_RTC_TEST_BRIDGE unset): suites skip their
// screenshot/webview-DOM checks when bridgeAvailable() is false.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { repoRoot } from '../support/proc.js';

async function main(): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), 'sleap-rtc-ext-ws-'));
  await runTests({
    version: '1.96.4', // the VS Code that code-server 4.96.4 embeds: both runs test the same API
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: join(repoRoot, 'dist', 'test', 'extension', 'index.cjs'),
    extensionTestsEnv: Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith('SLEAP_RTC_TEST_') && v !== undefined)) as Record<string, string>,
    // A throwaway workspace, no other extensions, no trust prompt.
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
