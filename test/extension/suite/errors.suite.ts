// Errors a user can cause: each gives a message that says what was wrong and what to do next
// (with buttons), never a stack trace.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite, suiteSetup, suiteTeardown, test } from 'mocha';
import * as vscode from 'vscode';
import type { JobView, UploadView } from '../../../src/core/schemas/agent.js';
import type { SleapRtcApi } from '../../../src/extension/extension.js';
import { sleap, testEnv, until } from './env.js';
import { monitorDom } from './monitorDom.js';

interface Shown {
  message: string;
  actions: string[];
}

suite('errors a user can cause', () => {
  let api: SleapRtcApi;
  const shown: Shown[] = [];
  let off: () => void;
  suiteSetup(async () => {
    api = await sleap();
    off = api.onDidShowError((e) => shown.push(e));
  });
  suiteTeardown(() => off?.());

  /** The next error message shown after `act` runs. */
  async function errorOf(act: () => Thenable<unknown> | Promise<unknown>): Promise<Shown> {
    const before = shown.length;
    await act();
    const e = await until(() => shown[before], 30_000, () => 'no error message was shown');
    assert.doesNotMatch(e.message, /\n\s+at |\bat .+\.(c?js|ts):\d+/, 'no stack trace reaches the user');
    assert.ok(e.actions.includes('Show Log'), 'every error offers the log');
    return e;
  }
  const config = vscode.workspace.getConfiguration('sleapRtc');

  test('a file that is not a dataset', async () => {
    const notes = join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'notes.txt');
    const e = await errorOf(() => vscode.commands.executeCommand('sleapRtc.uploadDataset', vscode.Uri.file(notes)));
    assert.match(e.message, /Upload Dataset failed: .*notes\.txt/);
    assert.match(e.message, /\.slp|\.pkg\.slp|\.zip|folder/);
  });

  test('a busy worker: the next job waits in its queue, "queued (1)" in the Jobs view, and cancel takes it out', async () => {
    const client = await api.services.agent.ensure();
    const busy = await client.call<JobView>('POST', '/api/jobs', { dataset: testEnv.dataset(), config: { trainer: 'builtin', trainer_config: { max_epochs: 200, min_train_steps_per_epoch: 2000 } } });
    try {
      await until(() => api.state.jobs.get(busy.id)?.job.status === 'training', 60_000, () => `job is ${api.state.jobs.get(busy.id)?.job.status}`);
      // The stack's one worker is busy: the job is not refused, it waits behind the first.
      const next = await client.call<JobView>('POST', '/api/jobs', { dataset: testEnv.dataset(), config: { trainer: 'builtin', trainer_config: { max_epochs: 2 } } });
      await until(() => api.state.jobs.get(next.id)?.job.queue_position === 1, 30_000, () => `job is ${JSON.stringify(api.state.jobs.get(next.id)?.job)}`);
      const row = (): string => api.views.providers.jobs.getChildren().find((n) => n.id === `job:${next.id}`)?.row.description ?? '';
      await until(() => /^queued \(1\) · worker-/.test(row()), 10_000, () => `row: ${row()}`);
      await client.call('POST', `/api/jobs/${next.id}/commands`, { command: 'cancel' });
      await until(() => api.state.jobs.get(next.id)?.job.status === 'cancelled', 30_000, () => `job is ${api.state.jobs.get(next.id)?.job.status}`);
    } finally {
      await client.call('POST', `/api/jobs/${busy.id}/commands`, { command: 'cancel' });
      await until(() => api.state.jobs.get(busy.id)?.job.status === 'cancelled', 30_000, () => `job is ${api.state.jobs.get(busy.id)?.job.status}`);
    }
  });

  test('a job that fails on the worker: its error is shown in the monitor', async () => {
    const client = await api.services.agent.ensure();
    // The agent accepts it (the fraction is the trainer's to check); the worker refuses it.
    const bad = await client.call<JobView>('POST', '/api/jobs', { dataset: testEnv.dataset(), config: { trainer: 'builtin', data_config: { validation_fraction: 2 } } });
    await vscode.commands.executeCommand('sleapRtc.openMonitor', bad.id);
    const failed = await until(() => (api.state.jobs.get(bad.id)?.job.status === 'failed' ? api.state.jobs.get(bad.id)!.job : undefined), 60_000, () => `job is ${api.state.jobs.get(bad.id)?.job.status}`);
    assert.match(failed.error?.message ?? '', /validation_fraction/);
    const dom = await until(async () => {
      const d = await monitorDom(bad.id);
      return d.status === 'failed' && /validation_fraction/.test(d.text) ? d : undefined;
    }, 20_000, () => 'the monitor does not show the error');
    assert.match(dom.text, /failed/i);
  });

  test('a wrong room token: the Workers view and a failed upload say the server refused it', async () => {
    await vscode.commands.executeCommand('sleapRtc.setRoomToken', 'this-is-not-the-room-token-0123');
    try {
      await until(() => api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state}`);
      await api.state.loadWorkers();
      const why = api.state.errors.get('workers') ?? '';
      assert.match(why, /token/i, `the Workers view says: ${why}`);
      const copy = join(testEnv.scratch(), 'token-check.pkg.slp');
      await copyFile(testEnv.dataset(), copy);
      const up = (await vscode.commands.executeCommand('sleapRtc.uploadDataset', vscode.Uri.file(copy))) as UploadView;
      const failed = await until(() => (api.state.uploads.get(up.id)?.state === 'failed' ? api.state.uploads.get(up.id) : undefined), 30_000, () => `upload is ${api.state.uploads.get(up.id)?.state}`);
      assert.match(failed.error?.message ?? '', /token/i, `the upload's error: ${failed.error?.message}`);
    } finally {
      await vscode.commands.executeCommand('sleapRtc.setRoomToken', '');
      await until(() => api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state}`);
    }
    await api.state.loadWorkers();
    assert.equal(api.state.errors.get('workers'), undefined, 'the stack token works again');
  });

  test('no agent and auto-start off: commands say how to start one', async () => {
    await config.update('autoStartAgent', false, vscode.ConfigurationTarget.Global);
    try {
      const pid = api.link.supervisor.agent!.pid;
      process.kill(pid, 'SIGKILL');
      await until(() => api.link.supervisor.state === 'unreachable', 30_000, () => `agent ${api.link.supervisor.state}`);
      const e = await errorOf(() => vscode.commands.executeCommand('sleapRtc.refresh'));
      assert.match(e.message, /autoStartAgent is off/);
      assert.ok(e.actions.includes('Restart Agent') || e.actions.includes('Start Local Stack'), `actions: ${e.actions.join(', ')}`);
    } finally {
      await config.update('autoStartAgent', undefined, vscode.ConfigurationTarget.Global);
    }
    await until(() => api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state}`);
  });

  test('agent unreachable: sleapRtc.agentUrl names an agent that does not answer', async () => {
    // A port that was just free: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    await config.update('agentUrl', url, vscode.ConfigurationTarget.Global);
    try {
      await until(() => api.link.supervisor.state === 'unreachable', 30_000, () => `agent ${api.link.supervisor.state}`);
      const e = await errorOf(() => vscode.commands.executeCommand('sleapRtc.refresh'));
      assert.match(e.message, new RegExp(`the agent at ${url.replace(/\./g, '\\.')} \\(sleapRtc\\.agentUrl\\) does not answer`));
      assert.match(e.message, /start it, or clear sleapRtc\.agentUrl/, 'the message says what to do');
    } finally {
      await config.update('agentUrl', undefined, vscode.ConfigurationTarget.Global);
    }
    await until(() => api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state}`);
  });

  test('no server known: the message names the setting and the local stack', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'sleap-rtc-empty-'));
    await config.update('dataFolder', empty, vscode.ConfigurationTarget.Global);
    try {
      await until(() => api.link.dataFolder === empty && api.link.supervisor.state === 'unreachable', 30_000, () => `agent ${api.link.supervisor.state} in ${api.link.dataFolder}`);
      const e = await errorOf(() => vscode.commands.executeCommand('sleapRtc.refresh'));
      assert.match(e.message, /no server: set sleapRtc\.serverUrl, or start the local stack/);
      assert.ok(e.actions.includes('Start Local Stack'), `actions: ${e.actions.join(', ')}`);
    } finally {
      await config.update('dataFolder', testEnv.data(), vscode.ConfigurationTarget.Global);
    }
    await until(() => api.link.dataFolder === testEnv.data() && api.link.supervisor.state === 'connected', 60_000, () => `agent ${api.link.supervisor.state}`);
  });
});
