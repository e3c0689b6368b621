import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobView, UploadView } from '../../src/core/schemas/agent.js';
import { foldProgress, maxEpochsOf } from '../../src/extension/state/jobProgress.js';
import { jobRow, uploadRow, workerRow } from '../../src/extension/views/describe.js';
import { statusText } from '../../src/extension/views/statusText.js';
import { readSettings } from '../../src/extension/settings.js';
import type { JobEvent } from '../../src/core/jobs/index.js';

const upload = (o: Partial<UploadView>): UploadView => ({ id: 'u1', path: '/d/labels.pkg.slp', state: 'uploading', size: 100 * 1024 * 1024, bytes_done: 42 * 1024 * 1024, rate_bps: 10 * 1024 * 1024, eta_s: 6, warnings: [], ...o });
const job = (o: Partial<JobView>): JobView => ({ id: 'job-1', status: 'training', dataset: '/d/labels.pkg.slp', worker: 'worker-a', created_at: '2026-12-01T10:00:00.000Z', updated_at: '2026-12-01T10:00:00.000Z', ...o });
const progress = (seq: number, data: Record<string, unknown>): JobEvent => ({ type: 'progress', job_id: 'job-1', seq, data: data as never, t: seq });

test('an upload row: state, percent, rate, ETA; inline actions by context value', () => {
  const r = uploadRow(upload({}));
  assert.equal(r.label, 'labels.pkg.slp');
  assert.equal(r.description, 'uploading · 42 % · 10.0 MiB/s · ETA 6 s');
  assert.equal(r.context, 'upload-active');
  assert.equal(uploadRow(upload({ state: 'paused' })).context, 'upload-paused');
  assert.equal(uploadRow(upload({ state: 'failed', error: { code: 'x', message: 'boom' } })).context, 'upload-failed');
  assert.match(uploadRow(upload({ state: 'failed', error: { code: 'x', message: 'boom' } })).tooltip, /error: boom/);
  assert.equal(uploadRow(upload({ state: 'completed', bytes_done: 100 * 1024 * 1024 })).description, 'completed · 100 MiB');
  assert.match(uploadRow(upload({ warnings: ['videos outside the file'] })).tooltip, /warning: videos outside the file/);
});

test('an upload waiting for S3: the row says so with the time waited, the tooltip names the endpoint and the reason', () => {
  const since = '2026-12-01T10:00:00.000Z';
  const r = uploadRow(upload({ waiting: { since, service: 'S3', endpoint: 'http://127.0.0.1:9000', reason: 'ECONNREFUSED', waited_s: 3 } }), Date.parse(since) + 12_000);
  assert.equal(r.description, 'uploading · 42 % · waiting for S3 (12 s)');
  assert.match(r.tooltip, /waiting for http:\/\/127\.0\.0\.1:9000: unreachable since 2026-12-01T10:00:00\.000Z \(ECONNREFUSED\)/);
  assert.equal(uploadRow(upload({ waiting: { since, service: 'backend', endpoint: 'http://127.0.0.1:8080', reason: 'HTTP 503', waited_s: 70 } }), Date.parse(since) + 70_000).description, 'uploading · 42 % · waiting for the backend (1 min 10 s)');
});

test('a job row folds epoch and losses from events, once per seq', () => {
  const p = { lastSeq: 0, maxEpochs: maxEpochsOf({ trainer_config: { max_epochs: 20 } }) };
  const events = [progress(1, { event: 'epoch_begin', epoch: 0 }), progress(2, { event: 'batch_end', epoch: 0, batch: 0, logs: { loss: 0.5 } }), progress(3, { event: 'epoch_end', epoch: 0, logs: { 'train/loss': 0.25, 'val/loss': 0.3 } })];
  assert.equal(foldProgress(p, events), true);
  assert.equal(foldProgress(p, events), false, 'a replay of the same seqs changes nothing');
  const r = jobRow({ job: job({}), progress: p });
  assert.equal(r.description, 'training · epoch 1/20 · loss 0.25 / val 0.3 · worker-a');
  assert.equal(r.context, 'job-training');
  assert.equal(jobRow({ job: job({ status: 'downloading' }), progress: { lastSeq: 0 } }).context, 'job-running-downloading');
  assert.equal(jobRow({ job: job({ status: 'queued', queue_position: 2 }), progress: { lastSeq: 0 } }).description, 'queued (2) · worker-a', "a job in its worker's queue shows its place");
  assert.equal(jobRow({ job: job({ status: 'queued' }), progress: { lastSeq: 0 } }).description, 'queued · worker-a');
  assert.equal(maxEpochsOf({}), 10, 'the trainers default to 10 epochs');
  assert.equal(maxEpochsOf(undefined), undefined);
});

test('a worker row: status, trainer, GPU and memory', () => {
  const r = workerRow({ peer_id: 'worker-a', role: 'worker', metadata: { tags: ['worker', 'builtin'], properties: { status: 'available', gpu_model: 'RTX 4090', gpu_memory_mb: 24576 } } });
  assert.equal(r.description, 'available · builtin · RTX 4090 24.0 GiB');
});

test('the status bar shows the active transfer first, else the running job, else nothing', () => {
  const p = { lastSeq: 3, epoch: 2, maxEpochs: 10, trainLoss: 0.125 };
  assert.equal(statusText([upload({})], [{ job: job({}), progress: p }])?.text, '$(cloud-upload) 42 % · 10.0 MiB/s · ETA 6 s');
  const j = statusText([upload({ state: 'completed' })], [{ job: job({}), progress: p }]);
  assert.equal(j?.text, '$(pulse) epoch 3/10 · loss 0.125');
  assert.deepEqual(j?.target, { kind: 'job', jobId: 'job-1' });
  assert.equal(statusText([], [{ job: job({ status: 'completed' }), progress: p }]), undefined);
});

test('settings: a wrong value falls back to its default and is reported', () => {
  const values: Record<string, unknown> = { concurrency: 200, serverUrl: 'not a url', room: 'lab', autoStartAgent: false };
  const { settings, problems } = readSettings((k) => values[k]);
  assert.equal(settings.concurrency, undefined, 'the default: unset, so the agent adapts it');
  assert.equal(settings.serverUrl, '');
  assert.equal(settings.room, 'lab');
  assert.equal(settings.autoStartAgent, false);
  assert.equal(problems.length, 2);
  assert.match(problems.join('\n'), /sleapRtc\.concurrency/);
});
