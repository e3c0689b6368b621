// One job from the submit flow to its end, as a researcher drives it: the QuickPick, the live
// monitor, each button reaching the worker, the agent killed mid-job, a webview reload.
import assert from 'node:assert/strict';
import { suite, suiteSetup, test } from 'mocha';
import * as vscode from 'vscode';
import type { JobEvent } from '../../../src/core/jobs/index.js';
import type { JobDetail, JobView } from '../../../src/core/schemas/agent.js';
import type { SleapRtcApi } from '../../../src/extension/extension.js';
import { click, keys, QUICK_INPUT, screenshot, waitForSelector } from './bridge.js';
import { sleap, until } from './env.js';
import { expectedFromHistory, monitorDom } from './monitorDom.js';

/** Every event of a job, paged from the agent. */
async function history(api: SleapRtcApi, jobId: string): Promise<JobEvent[]> {
  const client = await api.services.agent.ensure();
  const all: JobEvent[] = [];
  for (;;) {
    const page = await client.call<JobDetail>('GET', `/api/jobs/${jobId}?after_seq=${all.at(-1)?.seq ?? 0}&limit=5000`);
    all.push(...page.events);
    if (page.events.length < 5000) return all;
  }
}
const lastProgressSeq = (events: JobEvent[]) => events.filter((e) => e.type === 'progress').at(-1)?.seq ?? 0;

/** Answers one step of the submit flow with Enter, once that step's title shows. */
async function enterOn(step: string): Promise<void> {
  await waitForSelector(`${QUICK_INPUT} .quick-input-title:has-text("${step}")`, { timeoutMs: 20_000 });
  await keys({ waitFor: QUICK_INPUT, press: ['Enter'] });
}

suite('a training job, from the submit flow to the end', () => {
  let api: SleapRtcApi;
  let job: JobView;
  suiteSetup(async () => {
    api = await sleap();
  });

  test('Enter four times in the submit flow trains, and the monitor opens', async () => {
    const submitted = vscode.commands.executeCommand<JobView | undefined>('sleapRtc.submitJob');
    await enterOn('(1/4)');
    await enterOn('(2/4)');
    await enterOn('(3/4)');
    await enterOn('(4/4)');
    const j = await submitted;
    assert.ok(j?.id, 'the flow returns the submitted job');
    job = j;
    assert.ok(api.monitors.get(job.id), 'the monitor of the job is open');
    assert.equal(api.monitors.get(job.id)!.panel.title, `Monitor: mice.pkg.slp · ${job.id.slice(-6)}`);
    const entry = await until(() => api.state.jobs.get(job.id)?.job.config, 20_000, () => 'the job has no config');
    assert.equal((entry.trainer_config as Record<string, unknown>).max_epochs, 200, 'the default config file (train.yaml) and its epochs were used');
  });

  test('the monitor receives live progress and draws it', async () => {
    await until(() => api.state.jobs.get(job.id)?.job.status === 'training', 60_000, () => `job is ${api.state.jobs.get(job.id)?.job.status}`);
    const dom = await until(async () => {
      const d = await monitorDom(job.id);
      return d.drawn > 0 && d.total >= 20 && d.bestEpoch !== undefined ? d : undefined;
    }, 60_000, () => 'no points drawn yet');
    assert.equal(dom.jobId, job.id);
    assert.equal(dom.status, 'training');
    await screenshot('monitor-training');
    const rows = api.views.providers.jobs.getChildren();
    const row = rows.find((n) => n.id === `job:${job.id}`);
    assert.ok(row, 'the Jobs view lists the job');
    assert.match(row.row.description, /^training · epoch \d+\/200 · loss /);
    assert.match(api.statusBar.text, /^\$\(pulse\) epoch \d+\/200/);
  });

  test('Pause reaches the worker: no progress for 2 s, then Resume brings it back', async () => {
    await click('#cmd-pause', { frameMatch: `data-job-id=${job.id}` });
    await until(() => api.state.jobs.get(job.id)?.job.status === 'paused', 20_000, () => `job is ${api.state.jobs.get(job.id)?.job.status}`);
    const acked = await until(async () => ((await monitorDom(job.id)).text.match(/pause: acknowledged by the worker/) ? true : undefined), 10_000, () => 'no ack shown');
    assert.ok(acked);
    const before = lastProgressSeq(await history(api, job.id));
    // The observation itself: a paused worker sends no progress over a 2 s window.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(lastProgressSeq(await history(api, job.id)), before, 'a paused job made progress');
    await click('#cmd-resume', { frameMatch: `data-job-id=${job.id}` });
    await until(async () => lastProgressSeq(await history(api, job.id)) > before, 20_000, () => 'no progress after resume');
    assert.equal(api.state.jobs.get(job.id)?.job.status, 'training');
  });

  test('the agent killed mid-job is restarted, and the curve has no gap and no duplicate', async () => {
    const old = api.link.supervisor.agent;
    assert.ok(old, 'connected to an agent');
    process.kill(old.pid, 'SIGKILL');
    await until(() => api.link.supervisor.state === 'connected' && api.link.supervisor.agent && api.link.supervisor.agent.pid !== old.pid, 60_000, () => `agent ${api.link.supervisor.state} ${api.link.supervisor.message ?? ''}`);
    const after = lastProgressSeq(await history(api, job.id));
    await until(async () => lastProgressSeq(await history(api, job.id)) > after + 20, 60_000, () => 'no progress after the agent restart');
  });

  test('Stop Early reaches the worker: the job stops with a model', async () => {
    const seen: string[] = [];
    await until(async () => {
      const s = (await monitorDom(job.id)).status;
      if (seen.at(-1) !== s) seen.push(s);
      return s === 'training' ? true : undefined;
    }, 20_000, () => `the monitor showed ${seen.join(' -> ')}; the agent says ${api.state.jobs.get(job.id)?.job.status}`);
    await click('#cmd-stop', { frameMatch: `data-job-id=${job.id}` });
    const done = await until(() => {
      const j = api.state.jobs.get(job.id)?.job;
      return j?.status === 'stopped' && j.model ? j : undefined;
    }, 60_000, () => `job is ${api.state.jobs.get(job.id)?.job.status}`);
    assert.ok(done.model?.model_id);
    await until(() => api.state.models.some((m) => m.id === done.model!.model_id), 20_000, () => 'the Models view does not list the model');
    // The four views are filled from the agent: the upload, the job, the worker, the model.
    const model = api.views.providers.models.getChildren().find((n) => n.id === `model:${done.model!.model_id}`);
    assert.ok(model, 'the Models view lists the model');
    assert.equal(api.views.providers.models.getTreeItem(model).contextValue, 'model');
    await api.state.loadWorkers();
    const workers = api.views.providers.workers.getChildren();
    assert.ok(workers.length >= 1, 'the Workers view lists the stack worker');
    assert.match(workers[0].row.description, /^(available|busy) · builtin · /);
    assert.ok(api.views.providers.uploads.getChildren().some((n) => n.id.startsWith('upload:')), 'the Uploads view lists the dataset');
    assert.match(api.views.providers.jobs.getChildren().find((n) => n.id === `job:${job.id}`)?.row.description ?? '', /^stopped/);
    // Read again from the agent (as after a window reload): the row still says where it ended.
    await api.state.loadJobs();
    assert.match(api.views.providers.jobs.getChildren().find((n) => n.id === `job:${job.id}`)?.row.description ?? '', /^stopped · epoch \d+\/\d+ · loss [\d.e-]+ \/ val [\d.e-]+ · worker-/);
    await vscode.commands.executeCommand('workbench.view.extension.sleapRtc');
    await screenshot('sidebar-after-training');
    let want = expectedFromHistory([]);
    let where = '';
    const dom = await until(async () => {
      want = expectedFromHistory(await history(api, job.id));
      const d = await monitorDom(job.id);
      where = `monitor at seq ${d.lastSeq}, history at ${want.lastSeq}`;
      return d.lastSeq === want.lastSeq ? d : undefined;
    }, 20_000, () => where);
    assert.equal(dom.total, want.total, 'every point of the history once: no gap, no duplicate');
    assert.equal(dom.bestEpoch, want.bestEpoch, 'the best validation epoch');
    assert.equal(dom.status, 'stopped');
  });

  test('the monitor reloaded shows the same points', async () => {
    const before = await monitorDom(job.id);
    await vscode.commands.executeCommand('workbench.action.webview.reloadWebviewAction');
    const after = await until(async () => {
      const d = await monitorDom(job.id).catch(() => undefined);
      return d && d.total === before.total && d.lastSeq === before.lastSeq ? d : undefined;
    }, 30_000, () => 'the reloaded monitor differs');
    assert.equal(after.bestEpoch, before.bestEpoch);
  });

  test('a monitor restored by its serializer (as after a window reload) shows the same points', async () => {
    // The frame of the webview reloaded just before may still be replaced: read it once it holds.
    const before = await until(() => monitorDom(job.id).catch(() => undefined), 20_000, () => 'the monitor cannot be read');
    api.monitors.get(job.id)!.dispose();
    await until(() => !api.monitors.get(job.id), 10_000, () => 'the monitor is still open');
    // What VS Code does after a reload: a panel of our view type and the state the webview saved.
    const panel = vscode.window.createWebviewPanel('sleapRtc.monitor', 'Monitor: mice.pkg.slp', vscode.ViewColumn.Active, {});
    await api.monitors.serializer.deserializeWebviewPanel(panel, { job_id: job.id });
    const after = await until(async () => {
      const d = await monitorDom(job.id).catch(() => undefined);
      return d && d.lastSeq === before.lastSeq ? d : undefined;
    }, 30_000, () => 'the restored monitor did not get the history');
    assert.equal(after.total, before.total);
    assert.equal(after.bestEpoch, before.bestEpoch);
    assert.ok(api.monitors.get(job.id), 'the restored panel is tracked (a second open reveals it)');
  });

  test('a monitor opened mid-training (history, then live) and Cancel reaching the worker', async () => {
    const client = await api.services.agent.ensure();
    const other = await client.call<JobView>('POST', '/api/jobs', { dataset: job.dataset, config: { trainer: 'builtin', trainer_config: { max_epochs: 200, min_train_steps_per_epoch: 2000 } } });
    await until(async () => (await history(api, other.id)).filter((e) => e.type === 'progress').length > 20, 60_000, () => `job is ${api.state.jobs.get(other.id)?.job.status}`);
    await vscode.commands.executeCommand('sleapRtc.openMonitor', other.id);
    await until(async () => ((await monitorDom(other.id)).status === 'training' ? true : undefined), 20_000, () => 'the monitor does not show training');
    // Cancel discards the run: the button asks for a second click.
    await click('#cmd-cancel', { frameMatch: `data-job-id=${other.id}` });
    await click('#cmd-cancel', { frameMatch: `data-job-id=${other.id}` });
    await until(() => api.state.jobs.get(other.id)?.job.status === 'cancelled', 30_000, () => `job is ${api.state.jobs.get(other.id)?.job.status}`);
    // Both read again until they agree on the last event (the agent records the last ones a moment after it relays them).
    let want = expectedFromHistory([]);
    let seen = '';
    const dom = await until(async () => {
      want = expectedFromHistory(await history(api, other.id));
      const d = await monitorDom(other.id);
      seen = `monitor ${d.status} at seq ${d.lastSeq}, history at ${want.lastSeq}`;
      return d.status === 'cancelled' && d.lastSeq === want.lastSeq ? d : undefined;
    }, 20_000, () => seen);
    assert.equal(dom.total, want.total, 'the history read mid-way and the live events join with no gap and no duplicate');
  });
});
