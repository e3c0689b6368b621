// Keeps the VS Code test harness (test/support/vscode/) honest, independent of the real extension:
// a throwaway extension (one command opening a webview) and mocha suite, plain CommonJS written
// here at test time, run in real VS Code (code-server + headless Chromium). Checks that a passing
// suite exits 0 with its test names in the log, that a failing one exits non-zero, that env vars
// and user settings reach the extension host, and that the bridge reads webview text and saves a real PNG.
// Skips when code-server is not installed (scripts/install-code-server.sh) or Chromium is missing.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumMissing } from '../support/vscode/browser.js';
import { codeServerMissing } from '../support/vscode/codeServer.js';
import { runVsCodeSuite } from '../support/vscode/runSuite.js';

const skip = codeServerMissing() ?? chromiumMissing() ?? false;
const mochaPath = createRequire(import.meta.url).resolve('mocha');

const manifest = {
  name: 'harness-probe',
  publisher: 'sleap-rtc-test',
  version: '0.0.1',
  engines: { vscode: '^1.96.0' },
  main: './extension.js',
  activationEvents: ['onCommand:harnessProbe.open'],
  contributes: { commands: [{ command: 'harnessProbe.open', title: 'Harness Probe: Open' }] },
};

const extensionJs = `
const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(vscode.commands.registerCommand('harnessProbe.open', () => {
    const panel = vscode.window.createWebviewPanel('harnessProbe', 'Harness Probe', vscode.ViewColumn.One, {});
    panel.webview.html = '<!DOCTYPE html><html><head><title>Harness Probe</title></head>'
      + '<body data-probe="harness"><h1 id="msg">probe text 4711</h1></body></html>';
  }));
};
`;

// The tests entry: mocha set up as test/extension/suite/mocha.ts does, in plain CJS.
const indexJs = `
const Mocha = require(${JSON.stringify(mochaPath)});
const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 30000 });
mocha.suite.emit('pre-require', globalThis, 'harness', mocha);
require('./probe.suite.js');
exports.run = () => new Promise((resolve, reject) => {
  const runner = mocha.run((failures) => {
    console.log(runner.stats.passes + ' passed, ' + runner.stats.failures + ' failed');
    failures ? reject(new Error(failures + ' failed')) : resolve();
  });
});
`;

// Talks to the bridge with plain fetch, as test/extension/suite/bridge.ts does.
const suiteJs = `
const assert = require('node:assert/strict');
const vscode = require('vscode');
async function bridge(route, body) {
  const res = await fetch(process.env.SLEAP_RTC_TEST_BRIDGE + route, { method: 'POST', body: JSON.stringify(body) });
  const reply = await res.json();
  if (reply.error) throw new Error(route + ': ' + reply.error);
  return reply;
}
suite('harness probe', () => {
  test('env and settings from the runner reach the extension host', () => {
    assert.equal(process.env.SLEAP_RTC_TEST_HARNESS, 'env-ok-93');
    assert.ok(process.env.SLEAP_RTC_TEST_BRIDGE, 'bridge URL in env');
    assert.equal(vscode.workspace.getConfiguration('harnessProbe').get('greeting'), 'from-settings');
  });
  test('the bridge reads the webview and takes a screenshot', async () => {
    await vscode.commands.executeCommand('harnessProbe.open');
    const { value } = await bridge('/webview', { match: 'data-probe=harness', expression: 'document.getElementById("msg").textContent' });
    console.log('webview said: ' + value);
    assert.equal(value, 'probe text 4711');
    const { path } = await bridge('/screenshot', { name: 'probe' });
    console.log('screenshot: ' + path);
  });
  test('fails when asked to', () => {
    assert.notEqual(process.env.SLEAP_RTC_TEST_HARNESS_FAIL, '1', 'failing on purpose');
  });
});
`;

let dir = '';
let keep = false; // a failed test keeps the temp folder (artifacts: logs, screenshots) to look at
before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'sleap-rtc-harness-'));
  await mkdir(join(dir, 'ext'));
  await mkdir(join(dir, 'tests'));
  await mkdir(join(dir, 'ws'));
  await writeFile(join(dir, 'ext', 'package.json'), JSON.stringify(manifest, null, 2));
  await writeFile(join(dir, 'ext', 'extension.js'), extensionJs);
  await writeFile(join(dir, 'tests', 'index.js'), indexJs);
  await writeFile(join(dir, 'tests', 'probe.suite.js'), suiteJs);
});
after(async () => {
  if (dir && !keep) await rm(dir, { recursive: true, force: true });
  else if (dir) console.error(`harness artifacts kept in ${dir}`);
});

function keepOnFailure(fn: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await fn();
    } catch (e) {
      keep = true;
      throw e;
    }
  };
}

async function run(name: string, env: Record<string, string>) {
  return await runVsCodeSuite({
    workspace: join(dir, 'ws'),
    extensionDevelopmentPath: join(dir, 'ext'),
    extensionTestsPath: join(dir, 'tests', 'index.js'),
    env: { SLEAP_RTC_TEST_HARNESS: 'env-ok-93', ...env },
    settings: { 'harnessProbe.greeting': 'from-settings' },
    timeoutMs: 45_000,
    artifactsDir: join(dir, 'artifacts', name),
    echo: false,
  });
}

test('a passing suite exits 0; env reaches the host; the bridge reads the webview and saves a PNG', { skip, timeout: 60_000 }, keepOnFailure(async () => {
  const r = await run('pass', {});
  const log = r.log.join('\n');
  assert.equal(r.exitCode, 0, `exit ${r.exitCode}; log:\n${log}`);
  assert.equal(r.timedOut, false);
  for (const name of ['env and settings from the runner reach the extension host', 'the bridge reads the webview and takes a screenshot', 'fails when asked to']) {
    assert.ok(log.includes(name), `log names "${name}"`);
  }
  assert.match(log, /^3 passed, 0 failed$/m);
  assert.match(log, /^webview said: probe text 4711$/m);
  const shot = /^screenshot: (.+\.png)$/m.exec(log)?.[1];
  assert.ok(shot, 'the suite logged the screenshot path');
  const png = await readFile(shot);
  assert.ok(png.length > 5000, `screenshot of the workbench is ${png.length} bytes`);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  console.error(`passing suite: ${r.durationMs} ms`);
}));

test('a failing suite exits non-zero and says which test failed', { skip, timeout: 60_000 }, keepOnFailure(async () => {
  const r = await run('fail', { SLEAP_RTC_TEST_HARNESS_FAIL: '1' });
  const log = r.log.join('\n');
  assert.notEqual(r.exitCode, 0, `a failing suite must not exit 0; log:\n${log}`);
  assert.equal(r.timedOut, false);
  assert.match(log, /^2 passed, 1 failed$/m);
  assert.match(log, /failing on purpose/);
  console.error(`failing suite: ${r.durationMs} ms`);
}));
