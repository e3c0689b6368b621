import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobView } from '../../src/core/schemas/agent.js';
import { openMonitorPage } from './support/monitorPage.js';
import { syntheticRun } from './support/synthetic.js';

const JOB = 'job-race';
const view = (status: JobView['status'], last_seq: number): JobView => ({ id: JOB, status, dataset: '/d/mice.pkg.slp', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', last_seq });

// Regression (seen in CI): the worker acknowledges a pause before it pauses, so the command's
// answer (status training, an older last_seq) can reach the webview after the job's 'paused'
// state; it must not take the monitor back to 'training' (Resume stayed disabled).
test("the monitor: a command's answer older than the job's last state does not undo it", async () => {
  const m = await openMonitorPage();
  try {
    const { page } = m;
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((p) => p.type === 'ready'));
    const events = syntheticRun({ jobId: JOB, epochs: 3, batchesPerEpoch: 5, bestEpoch: 1, running: true });
    const last = events[events.length - 1].seq;
    await m.send({ type: 'init', job_id: JOB, job: view('training', last), config: { trainer: 'builtin' } });
    await m.send({ type: 'events', job_id: JOB, events });
    // The state 'paused' (with the status event's seq) first, the older answer after it.
    await m.send({ type: 'job', job: view('paused', last + 1) });
    await m.send({ type: 'ack', request_id: 'r1', ok: true, message: 'pause: acknowledged by the worker', job: view('training', last) });
    await m.send({ type: 'events', job_id: JOB, events: [{ type: 'status', job_id: JOB, seq: last + 1, status: 'paused', t: Date.now() }] });
    await page.waitForFunction(() => document.getElementById('monitor')?.dataset.status === 'paused');
    const enabled = await page.evaluate(() => [...document.querySelectorAll<HTMLButtonElement>('button[data-command]')].filter((b) => !b.disabled).map((b) => b.dataset.command));
    assert.deepEqual(enabled, ['resume', 'stop', 'cancel']);
    // A newer view still wins over an older stream status.
    await m.send({ type: 'job', job: view('training', last + 5) });
    await page.waitForFunction(() => document.getElementById('monitor')?.dataset.status === 'training');
  } finally {
    await m.close();
  }
});

test('regression: losses that reach ~0 (6.9e-33, subnormal) draw at once on the log axis', async () => {
  const m = await openMonitorPage();
  try {
    const { page } = m;
    await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((p) => p.type === 'ready'));
    const events = syntheticRun({ jobId: JOB, epochs: 30, batchesPerEpoch: 20, bestEpoch: 5, running: true });
    // The batch losses of a one-frame dataset: down to 1e-33 and below, as a user saw.
    let k = 0;
    for (const e of events) {
      if (e.type !== 'progress' || e.data.event !== 'batch_end') continue;
      const v = 10 ** -(k++ / 18) * (k % 50 === 0 ? 5e-300 : 1) * (k % 77 === 0 ? 0 : 1);
      for (const key of Object.keys(e.data.logs)) e.data.logs[key] = v;
    }
    await m.send({ type: 'init', job_id: JOB, job: view('training', events.at(-1)!.seq), config: { trainer: 'builtin' } });
    await m.send({ type: 'events', job_id: JOB, events });
    await page.waitForFunction(() => Number(document.getElementById('monitor')?.dataset.pointsDrawn) > 0, undefined, { timeout: 10_000 });
    const d = await m.data();
    const decades = Math.log10(Number(d.yMax) / Number(d.yMin));
    assert.ok(decades > 1 && decades <= 8.5, `the log axis spans ${decades.toFixed(1)} decades (${d.yMin} .. ${d.yMax})`);
    assert.deepEqual(await m.problems(), []);
  } finally {
    await m.close();
  }
});
