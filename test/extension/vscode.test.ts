// The extension's suite (test/extension/suite/) inside a real VS Code: code-server with Debian's
// Chromium, against a real stack (store, server, builtin worker) started here. The extension
// starts its own agent (the bundled CLI, as a user's would) against that stack.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readAgentConnection } from '../../src/core/agentConnection.js';
import { AgentProcess } from '../../src/extension/agent/AgentProcess.js';
import { repoRoot, spawnCli, type Spawned } from '../support/proc.js';
import { writeSyntheticSlp } from '../support/slpFixtures.js';
import { codeServerMissing } from '../support/vscode/codeServer.js';
import { runVsCodeSuite } from '../support/vscode/runSuite.js';

let root: string;
let stack: Spawned | undefined;

before(async () => {
  const missing = codeServerMissing();
  if (missing) throw new Error(`${missing} (install it with: bash scripts/install-code-server.sh)`);
  root = await mkdtemp(join(tmpdir(), 'sleap-rtc-vscode-'));
});

after(async () => {
  // The extension started its agent detached (it outlives windows, by design): stop it here.
  const agent = root ? readAgentConnection(join(root, 'data')) : undefined;
  if (agent) await AgentProcess.stop(agent.pid).catch(() => undefined);
  await stack?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

test('the extension suite passes inside a real VS Code against a real stack', { timeout: 15 * 60_000 }, async () => {
  const data = join(root, 'data');
  const workspace = join(root, 'workspace');
  const scratch = join(root, 'scratch');
  const artifacts = join(repoRoot, '.data', 'vscode-artifacts');
  await Promise.all([mkdir(data, { recursive: true }), mkdir(workspace, { recursive: true }), mkdir(scratch, { recursive: true })]);
  const dataset = join(workspace, 'mice.pkg.slp');
  await writeSyntheticSlp(dataset, { frames: 40, instancesPerFrame: 1, nodes: ['head', 'thorax', 'tail'], embedded: true });
  // Long enough epochs that pause, resume and an agent restart happen mid-training.
  await writeFile(join(workspace, 'train.yaml'), 'trainer: builtin\ntrainer_config:\n  max_epochs: 200\n  min_train_steps_per_epoch: 2000\n');
  await writeFile(join(workspace, 'notes.txt'), 'not a dataset\n');
  stack = await spawnCli(['stack', '--no-agent', '--data', data, '--store-port', '0', '--server-port', '0'], { waitFor: /^stack ready/m, built: true, timeoutMs: 60_000, env: { SLEAP_RTC_DATA: data } });

  const result = await runVsCodeSuite({
    workspace,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: join(repoRoot, 'dist', 'test', 'extension', 'index.cjs'),
    env: { SLEAP_RTC_TEST_DATA: data, SLEAP_RTC_TEST_DATASET: dataset, SLEAP_RTC_TEST_SCRATCH: scratch, ...(process.env.SLEAP_RTC_TEST_GREP ? { SLEAP_RTC_TEST_GREP: process.env.SLEAP_RTC_TEST_GREP } : {}) },
    settings: { 'sleapRtc.dataFolder': data, 'sleapRtc.defaultConfigFile': 'train.yaml', 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': false },
    timeoutMs: 12 * 60_000,
    artifactsDir: artifacts,
  });
  // The agent's log (the extension started it) and the stack's stderr, for a failure's reader.
  await copyFile(join(data, 'agent', 'agent.log'), join(artifacts, 'agent.log')).catch(() => undefined);
  await writeFile(join(artifacts, 'stack-stderr.log'), stack.stderrTail());
  const summary = result.log.map((l) => /^(\d+) passed, (\d+) failed$/.exec(l.trim())).find(Boolean);
  assert.ok(summary, `the suite printed no "N passed, N failed" line (exit ${result.exitCode}${result.timedOut ? ', timed out' : ''}); artifacts in ${artifacts}`);
  assert.equal(Number(summary[2]), 0, `${summary[2]} test(s) failed inside VS Code; see the [vscode] lines above and ${artifacts}`);
  // With SLEAP_RTC_TEST_GREP a subset runs; the whole suite has every test below.
  if (!process.env.SLEAP_RTC_TEST_GREP) assert.ok(Number(summary[1]) >= 16, `only ${summary[1]} tests ran inside VS Code`);
  assert.equal(result.exitCode, 0);
});
