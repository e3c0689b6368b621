// The job record's state logic (src/agent/jobs/jobState.ts): pure functions, so every case is a
// row of a table: the record before, the news, the change expected.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LedgerJob } from '../../src/agent/Ledger.js';
import { changeOnAccept, changeOnEnd, changeOnEvent, changeOnPeerEnd, failedStatus, jobView, requestOutcome, type JobRecord, type PeerEnd } from '../../src/agent/jobs/jobState.js';
import type { JobEvent } from '../../src/core/jobs/index.js';
import type { JobStatusValue } from '../../src/core/schemas/jobs.js';

const rec = (status: JobStatusValue, extra: Partial<JobRecord> = {}): JobRecord => ({ status, ...extra });
const status = (s: JobStatusValue, message?: string): JobEvent => ({ type: 'status', job_id: 'j', seq: 1, t: 0, status: s, ...(message ? { message } : {}) });
const queuedAt = (position: number): JobEvent => ({ type: 'status', job_id: 'j', seq: 1, t: 0, status: 'queued', position });
const progress: JobEvent = { type: 'progress', job_id: 'j', seq: 1, t: 0, data: { event: 'epoch_end', epoch: 1, logs: { 'train/loss': 0.5 } } };
const complete: JobEvent = { type: 'job_complete', job_id: 'j', seq: 9, model_id: 'm1', s3_path: 's3://b/rooms/lab/models/m1/', metrics: { 'val/loss': 0.1 } };
const failed = (code: string, message = 'it broke'): JobEvent => ({ type: 'job_failed', job_id: 'j', seq: 9, error: { code, message } });
const model = { model_id: 'm1', s3_path: 's3://b/rooms/lab/models/m1/', metrics: { 'val/loss': 0.1 } };
const oldError = { code: 'earlier', message: 'said first' };

describe('changeOnEvent: what an event from the DataChannel does to the record', () => {
  const rows: Array<[string, JobRecord, JobEvent, ReturnType<typeof changeOnEvent>]> = [
    ['progress changes nothing', rec('training'), progress, undefined],
    ['a new status is taken', rec('accepted'), status('downloading'), { status: 'downloading' }],
    ['the same status again changes nothing (no ledger write)', rec('training'), status('training'), undefined],
    ['paused, then training again', rec('paused'), status('training'), { status: 'training' }],
    ['a failed status with a message records it as the error', rec('training'), status('failed', 'out of memory'), { status: 'failed', error: { code: 'failed', message: 'out of memory' } }],
    ['a failed status keeps an error already recorded', rec('training', { error: oldError }), status('failed', 'out of memory'), { status: 'failed' }],
    ['a failed status without a message sets no error', rec('training'), status('failed'), { status: 'failed' }],
    ["queued in the worker's queue: its position", rec('queued'), queuedAt(2), { status: 'queued', queuePosition: 2 }],
    ['moved up in the queue: the new position', rec('queued', { queuePosition: 2 }), queuedAt(1), { status: 'queued', queuePosition: 1 }],
    ['the same position again changes nothing', rec('queued', { queuePosition: 1 }), queuedAt(1), undefined],
    ['out of the queue: the position is cleared', rec('queued', { queuePosition: 1 }), status('accepted'), { status: 'accepted', queuePosition: undefined }],
    ['a final status stays final (a late status event is ignored)', rec('stopped'), status('training'), undefined],
    ['job_complete: the model, and completed', rec('training'), complete, { model, status: 'completed' }],
    ['job_complete after a stop: the model only, stopped stays', rec('stopped'), complete, { model }],
    ['job_failed: its error, and failed', rec('training'), failed('trainer_crashed'), { error: { code: 'trainer_crashed', message: 'it broke' }, status: 'failed' }],
    ['job_failed with code cancelled: cancelled', rec('training'), failed('cancelled', 'by the user'), { error: { code: 'cancelled', message: 'by the user' }, status: 'cancelled' }],
    ['job_failed after a final status: the error replaces, the status stays', rec('cancelled', { error: oldError }), failed('cancelled', 'by the user'), { error: { code: 'cancelled', message: 'by the user' } }],
  ];
  for (const [what, before, e, want] of rows) test(what, () => assert.deepEqual(changeOnEvent(before, e), want));

  test('the record passed in is not changed (the caller applies the change)', () => {
    const before = rec('training');
    changeOnEvent(before, complete);
    assert.deepEqual(before, rec('training'));
  });
});

describe('changeOnEnd: the agent\'s own verdict', () => {
  const lost = { code: 'worker_lost', message: 'gone' };
  const rows: Array<[string, JobRecord, JobStatusValue, { code: string; message: string } | undefined, ReturnType<typeof changeOnEnd>]> = [
    ['a running job ends with the status and error given', rec('training'), 'failed', lost, { status: 'failed', error: lost }],
    ['without an error only the status', rec('training'), 'completed', undefined, { status: 'completed' }],
    ['a queued job cancelled', rec('queued'), 'cancelled', { code: 'cancelled', message: 'by the user' }, { status: 'cancelled', error: { code: 'cancelled', message: 'by the user' } }],
    ['a job cancelled in the queue loses its position', rec('queued', { queuePosition: 3 }), 'cancelled', undefined, { status: 'cancelled', queuePosition: undefined }],
    ['a final job keeps its status; an error it lacked is filled in', rec('completed'), 'failed', lost, { error: lost }],
    ['a final job with an error keeps both', rec('failed', { error: oldError }), 'failed', lost, {}],
    ['a final job and no error: nothing to change (the record is still written)', rec('stopped'), 'failed', undefined, {}],
  ];
  for (const [what, before, s, error, want] of rows) test(what, () => assert.deepEqual(changeOnEnd(before, s, error), want));
});

describe('changeOnPeerEnd: a final message over signaling', () => {
  const done: PeerEnd = { type: 'job_complete', completion: model };
  const crash: PeerEnd = { type: 'job_failed', error: { code: 'trainer_crashed', message: 'it broke' } };
  const cancel: PeerEnd = { type: 'job_failed', error: { code: 'cancelled', message: 'by the user' } };
  const rows: Array<[string, JobRecord, PeerEnd, ReturnType<typeof changeOnPeerEnd>]> = [
    ['job_complete: the model, and completed', rec('training'), done, { model, status: 'completed' }],
    ['job_failed: failed with its error', rec('downloading'), crash, { status: 'failed', error: crash.type === 'job_failed' ? crash.error : undefined }],
    ['job_failed with code cancelled: cancelled', rec('paused'), cancel, { status: 'cancelled', error: { code: 'cancelled', message: 'by the user' } }],
    ['a job already final (the DataChannel told first) is left alone', rec('stopped'), done, undefined],
    ['also for a failure', rec('completed'), crash, undefined],
  ];
  for (const [what, before, end, want] of rows) test(what, () => assert.deepEqual(changeOnPeerEnd(before, end), want));
});

describe('requestOutcome and changeOnAccept: the answer to a job_request', () => {
  const rows: Array<[string, { accepted: boolean; reason?: string; position?: number }, ReturnType<typeof requestOutcome>]> = [
    ['accepted', { accepted: true }, { accepted: true }],
    ["accepted into the worker's queue: its position", { accepted: true, position: 2 }, { accepted: true, position: 2 }],
    ['duplicate_job: an earlier try got through, so it runs', { accepted: false, reason: 'duplicate_job: job-1 is known' }, { accepted: true }],
    ['a coded refusal keeps the worker\'s code', { accepted: false, reason: 'busy: training job-0' }, { accepted: false, reason: 'busy: training job-0', workerCode: 'busy' }],
    ['a bare code', { accepted: false, reason: 'unknown_trainer' }, { accepted: false, reason: 'unknown_trainer', workerCode: 'unknown_trainer' }],
    ['a reason that is not a code: refused', { accepted: false, reason: 'Worker Busy' }, { accepted: false, reason: 'Worker Busy', workerCode: 'refused' }],
    ['no reason at all', { accepted: false }, { accepted: false, reason: 'no reason given', workerCode: 'refused' }],
    ['the agent\'s own cancel', { accepted: false, reason: 'cancelled: by the user before the worker answered' }, { accepted: false, reason: 'cancelled: by the user before the worker answered', workerCode: 'cancelled' }],
  ];
  for (const [what, answer, want] of rows) test(what, () => assert.deepEqual(requestOutcome(answer), want));

  test('acceptance moves a queued job to accepted and leaves a later status', () => {
    assert.deepEqual(changeOnAccept({ status: 'queued' }), { accepted: true, status: 'accepted' });
    assert.deepEqual(changeOnAccept({ status: 'downloading' }), { accepted: true });
  });

  test("acceptance into the worker's queue keeps the job queued, at its position", () => {
    assert.deepEqual(changeOnAccept({ status: 'queued' }, 3), { accepted: true, queuePosition: 3 });
    assert.deepEqual(changeOnAccept({ status: 'downloading' }, 3), { accepted: true });
  });

  test('failedStatus: cancelled is the worker\'s cancel, anything else a failure', () => {
    assert.equal(failedStatus({ code: 'cancelled', message: '' }), 'cancelled');
    assert.equal(failedStatus({ code: 'worker_lost', message: '' }), 'failed');
  });
});

describe('jobView: the API\'s view of a record', () => {
  const job: LedgerJob = { id: 'job-1', status: 'training', dataset: '/d/labels.slp', config: { trainer: 'builtin', trainer_config: {} } as LedgerJob['config'], worker: 'w1', createdAt: 'c', updatedAt: 'u', uploadId: 'up_1', datasetRef: { type: 's3', path: 's3://b/k', size_bytes: 1, checksum: 'sha256:x' } };

  test('last_seq only while followed; optional fields only when set', () => {
    assert.deepEqual(jobView(job, 12), { id: 'job-1', status: 'training', dataset: '/d/labels.slp', dataset_s3_path: 's3://b/k', upload_id: 'up_1', worker: 'w1', created_at: 'c', updated_at: 'u', last_seq: 12 });
    assert.equal('last_seq' in jobView(job), false);
    assert.equal(jobView(job, 0).last_seq, 0, 'a job followed from the start has last_seq 0');
    const bare: LedgerJob = { id: 'job-2', status: 'queued', dataset: 's3://b/k', config: job.config, createdAt: 'c', updatedAt: 'u' };
    assert.deepEqual(jobView(bare), { id: 'job-2', status: 'queued', dataset: 's3://b/k', created_at: 'c', updated_at: 'u' });
    assert.deepEqual(jobView({ ...bare, status: 'failed', error: oldError, model }).error, oldError);
  });

  test("queue_position while queued in the worker's queue; resubmitted once the agent resubmitted", () => {
    const waiting: LedgerJob = { ...job, status: 'queued', accepted: true, queuePosition: 2 };
    assert.equal(jobView(waiting).queue_position, 2);
    assert.equal('queue_position' in jobView({ ...waiting, status: 'training' }), false, 'a stale position is not shown');
    assert.equal('resubmitted' in jobView(waiting), false);
    assert.equal(jobView({ ...waiting, resubmit: { seqBase: 4 } }).resubmitted, true);
  });
});
