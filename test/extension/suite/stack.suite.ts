// SLEAP: Start Local Stack (the walkthrough's first step) on a data folder of its own, and the
// monitor's CSV export through the save dialog, as a user does them.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite, test } from 'mocha';
import * as vscode from 'vscode';
import { readStackInfo } from '../../../src/core/stackInfo.js';
import type { JobDetail } from '../../../src/core/schemas/agent.js';
import { click, keys, QUICK_INPUT, screenshot, waitForSelector } from './bridge.js';
import { sleap, testEnv, until } from './env.js';

suite('local stack and export', () => {
  test('Export CSV writes every value of the job through the save dialog', async function () {
    this.timeout(90_000);
    const api = await sleap();
    const done = api.state.jobList().find((e) => e.job.status === 'stopped' || e.job.status === 'completed');
    assert.ok(done, 'a finished job from the training suite');
    await vscode.commands.executeCommand('sleapRtc.openMonitor', done.job.id);
    // The save dialog proposes <workspace>/<job id>.csv: Enter accepts it (code-server's dialog
    // is VS Code's simple file dialog, a path in a quick input, filled once its title shows).
    const target = join(vscode.workspace.workspaceFolders![0].uri.fsPath, `${done.job.id}.csv`);
    await click('#export-csv', { frameMatch: `data-job-id=${done.job.id}` });
    await waitForSelector(`${QUICK_INPUT} .quick-input-title:has-text("Export the full training history")`, { timeoutMs: 20_000 });
    await screenshot('csv-save-dialog');
    await keys({ waitFor: QUICK_INPUT, press: ['Enter'] });
    const text = await until(async () => {
      const t = await readFile(target, 'utf8').catch(() => '');
      return t.endsWith('\n') && t.split('\n').length > 2 ? t : undefined;
    }, 30_000, () => `no CSV at ${target}`);
    const client = await api.services.agent.ensure();
    const events = (await client.call<JobDetail>('GET', `/api/jobs/${done.job.id}?limit=100000`)).events;
    const values = events.reduce((n, e) => n + (e.type === 'progress' && (e.data.event === 'batch_end' || e.data.event === 'epoch_end') ? Object.keys(e.data.logs).length : 0), 0);
    const lines = text.trim().split('\n');
    assert.equal(lines[0], 'series,seq,epoch,batch,step,time_ms,value');
    assert.equal(lines.length - 1, values, 'one row per logged value, every one of them');
  });

  test('Start Local Stack runs store, server, worker and agent, and the views fill from it', async function () {
    this.timeout(120_000);
    const api = await sleap();
    const config = vscode.workspace.getConfiguration('sleapRtc');
    const fresh = await mkdtemp(join(tmpdir(), 'sleap-rtc-local-stack-'));
    await config.update('dataFolder', fresh, vscode.ConfigurationTarget.Global);
    try {
      await until(() => api.link.dataFolder === fresh, 10_000, () => `data folder ${api.link.dataFolder}`);
      const info = (await vscode.commands.executeCommand('sleapRtc.startLocalStack')) as { server_url: string; room: string } | undefined;
      assert.ok(info?.server_url, 'the command returns the stack it started');
      await until(() => api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state} ${api.link.supervisor.message ?? ''}`);
      assert.equal(api.link.supervisor.agent?.pid, readStackInfo(fresh)?.pid, "the stack's own agent is the one in use");
      await until(async () => {
        await api.state.loadWorkers();
        return api.state.workers.length > 0;
      }, 30_000, () => 'no worker in the local stack');
      assert.match(api.views.providers.workers.getChildren()[0].row.description, /available · builtin/);
    } finally {
      const pid = readStackInfo(fresh)?.pid;
      if (pid) process.kill(pid, 'SIGTERM');
      await until(() => readStackInfo(fresh) === undefined, 30_000, () => 'the local stack did not stop');
      await config.update('dataFolder', testEnv.data(), vscode.ConfigurationTarget.Global);
    }
    await until(() => api.link.dataFolder === testEnv.data() && api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state}`);
  });
});
