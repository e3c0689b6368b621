import assert from 'node:assert/strict';
import { test } from 'node:test';
import { webviewMessage, type ExtensionMessage } from '../../src/core/monitor/protocol.js';
import type { JobView } from '../../src/core/schemas/agent.js';
import { openMonitorPage } from './support/monitorPage.js';
import { syntheticRun } from './support/synthetic.js';

const JOB = 'job-flies-1';
const EPOCHS = 20;
const NB = 10;
const TOTAL = EPOCHS * (NB + 2); // batch + train + val points

function jobView(status: JobView['status'], extra: Partial<JobView> = {}): JobView {
  return { id: JOB, status, dataset: 's3://room/datasets/flies.pkg.slp', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:10:00Z', ...extra };
}

test('the Training Monitor in Chromium: draws a 20-epoch job, marks the best epoch, commands, dedupe, exports', async () => {
  const m = await openMonitorPage();
  try {
    const { page } = m;
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((p) => p.type === 'ready'));

    // A training job, still running: everything up to epoch 19's end, no final status.
    const events = syntheticRun({ jobId: JOB, epochs: EPOCHS, batchesPerEpoch: NB, bestEpoch: 13, running: true });
    const init: ExtensionMessage = {
      type: 'init',
      job_id: JOB,
      job: jobView('training'),
      config: { trainer: 'sleap-nn', trainer_config: { max_epochs: 40, train_data_loader: { batch_size: 4 } }, model_config: { head_configs: { centroid: {} }, backbone_config: { unet: {} } } },
      summary: { file: 'flies.pkg.slp', format: 'pkg.slp', format_version: 1.2, labeled_frames: 1200, instances: 2400, user_instances: 2400, predicted_instances: 0, videos: [{ filename: 'a.mp4', embedded: true }], skeletons: [{ name: 'fly', nodes: ['head', 'thorax', 'abdomen'] }], external_videos: [] },
    };
    // History in two pages that overlap by 40 events.
    await m.send(init, { type: 'events', job_id: JOB, events: events.slice(0, 150) }, { type: 'events', job_id: JOB, events: events.slice(110) });
    await page.waitForFunction((n) => document.getElementById('monitor')?.dataset.pointsTotal === String(n), TOTAL);
    let d = await m.data();
    assert.equal(d.jobId, JOB);
    assert.equal(d.bestEpoch, '13');
    assert.equal(d.status, 'training');
    assert.ok(Number(d.pointsDrawn) > 0, `points drawn: ${d.pointsDrawn}`);

    // Buttons by status: training -> pause, stop, cancel.
    const enabled = () => page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('button[data-command]')].filter((b) => !b.disabled).map((b) => b.dataset.command));
    assert.deepEqual(await enabled(), ['pause', 'stop', 'cancel']);

    // The side panel and the canvas' label say what the chart shows.
    const side = await page.locator('#stats').innerText();
    assert.match(side, /Epochs done\s+20 \/ 40/);
    assert.match(side, /Best validation\s+\S+ \(epoch 14\)/);
    assert.match(await page.locator('#dataset').innerText(), /Labelled frames\s+1,200/);
    assert.match(await page.locator('#config').innerText(), /Model\s+centroid · unet/);
    const aria = await page.locator('.chart-plot canvas').getAttribute('aria-label');
    assert.match(aria ?? '', /best validation loss .* at epoch 14/);

    // Pause posts a command; the worker's ack shows in the status line; the new state enables Resume.
    await page.getByRole('button', { name: 'Pause' }).click();
    const command = await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.find((p) => p.type === 'command')).then((h) => h.jsonValue() as Promise<unknown> as Promise<{ request_id: string; job_id: string; command: string }>);
    assert.equal(command.command, 'pause');
    assert.equal(command.job_id, JOB);
    assert.deepEqual(await enabled(), ['stop', 'cancel'], 'Pause stays disabled while in flight');
    await m.send({ type: 'ack', request_id: command.request_id, ok: true, message: 'paused after batch 9', job: jobView('paused') });
    await page.waitForFunction(() => document.getElementById('status-line')?.textContent?.includes('paused after batch 9'));
    await page.waitForFunction(() => document.getElementById('monitor')?.dataset.status === 'paused');
    assert.deepEqual(await enabled(), ['resume', 'stop', 'cancel']);

    // The whole history again (an agent restart replays it): no point is added.
    const renders = async () => (await m.posted()).filter((p) => (p as { type: string }).type === 'rendered').length;
    const before = await renders();
    await m.send({ type: 'events', job_id: JOB, events });
    await page.waitForFunction((n) => (window as unknown as { __posted: { type: string }[] }).__posted.filter((p) => p.type === 'rendered').length > n, before);
    d = await m.data();
    assert.equal(d.pointsTotal, String(TOTAL));
    assert.equal(d.bestEpoch, '13');
    assert.equal(d.status, 'paused', 'old status events replayed do not override the newer state');

    // Settings persist in the webview state (not the points).
    await page.getByLabel('X axis').selectOption('step');
    await page.getByRole('checkbox', { name: 'Log scale' }).uncheck();
    const state = await page.evaluate(() => (window as unknown as { __state: Record<string, unknown> }).__state);
    assert.equal(state.axis, 'step');
    assert.equal(state.log, false);
    assert.equal(state.job_id, JOB);
    assert.equal('points' in state, false);

    // Exports: CSV is the extension's job (full history); PNG is the canvas as a data URL.
    await page.getByRole('button', { name: 'Export CSV' }).click();
    await page.getByRole('button', { name: 'Export PNG' }).click();
    const png = await page.waitForFunction(() => (window as unknown as { __posted: { type: string; format?: string }[] }).__posted.find((p) => p.type === 'export' && p.format === 'png')).then((h) => h.jsonValue() as Promise<unknown> as Promise<{ data_url: string }>);
    assert.match(png.data_url, /^data:image\/png;base64,/);
    const bytes = Buffer.from(png.data_url.split(',')[1], 'base64');
    assert.deepEqual([...bytes.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.ok(bytes.length > 5000, `a real image (${bytes.length} bytes)`);

    // The job ends: no button stays enabled.
    await m.send({ type: 'job', job: jobView('completed') });
    await page.waitForFunction(() => document.getElementById('monitor')?.dataset.status === 'completed');
    assert.deepEqual(await enabled(), []);

    // Everything posted is a valid protocol message; the page broke no CSP rule and threw nothing.
    const posted = await m.posted();
    for (const p of posted) assert.ok(webviewMessage.safeParse(p).success, JSON.stringify(p).slice(0, 120));
    assert.ok(posted.some((p) => (p as { type: string; format?: string }).type === 'export' && (p as { format?: string }).format === 'csv'));
    const rendered = posted.filter((p) => (p as { type: string }).type === 'rendered') as { points: number; best_epoch?: number }[];
    assert.ok(rendered.length >= 2 && rendered.at(-1)!.points > 0 && rendered.at(-1)!.best_epoch === 13);
    assert.deepEqual(await m.problems(), []);
  } finally {
    await m.close();
  }
});
