import { FINAL_STATUSES, type JobCompletion, type JobError, type JobEvent } from '../../core/jobs/index.js';
import type { JobView } from '../../core/schemas/agent.js';
import type { JobStatusValue } from '../../core/schemas/jobs.js';
import type { LedgerJob } from '../Ledger.js';

/**
 * What happens to a job's record, as pure functions of the record and the news (no I/O, no
 * clocks): the JobManager applies the change, writes the ledger and tells its listeners. Once a
 * job's status is final it stays: later news only fills in what the record still lacks (the
 * model of a stopped job, the error of a failed one).
 */

/** The part of a record that events change. */
export type JobRecord = Pick<LedgerJob, 'status' | 'error' | 'model' | 'queuePosition'>;
/** The fields to set; undefined: the record stays as it is (nothing to write). */
export type JobRecordChange = Partial<JobRecord> | undefined;

/** A job that had a place in its worker's queue loses it (the field is cleared only when it was set). */
const leaveQueue = (job: JobRecord): Partial<JobRecord> => (job.queuePosition !== undefined ? { queuePosition: undefined } : {});

export const isFinal = (status: JobStatusValue): boolean => FINAL_STATUSES.has(status);

/** The final status a worker's error stands for: its own cancel, or a failure. */
export const failedStatus = (error: JobError): JobStatusValue => (error.code === 'cancelled' ? 'cancelled' : 'failed');

/** The change an event from the job's channel makes (progress changes nothing). */
export function changeOnEvent(job: JobRecord, e: JobEvent): JobRecordChange {
  const final = isFinal(job.status);
  switch (e.type) {
    case 'status':
      if (final) return undefined;
      // A queued job that moves in its worker's queue: the same status at another place.
      if (e.status === 'queued' && e.position !== undefined) return job.status === 'queued' && job.queuePosition === e.position ? undefined : { status: 'queued', queuePosition: e.position };
      if (job.status === e.status) return undefined;
      return { status: e.status, ...leaveQueue(job), ...(e.status === 'failed' && e.message && !job.error ? { error: { code: 'failed', message: e.message } } : {}) };
    case 'job_complete':
      return { model: { model_id: e.model_id, s3_path: e.s3_path, metrics: e.metrics }, ...(final ? {} : { status: 'completed' }) };
    case 'job_failed':
      return { error: e.error, ...(final ? {} : { status: failedStatus(e.error) }) };
    default:
      return undefined;
  }
}

/**
 * The change of ending a job with `status` (the agent's own verdict: worker lost, cancelled
 * before it was taken, failed to start). A job already final keeps its status; only an error it
 * lacks is filled in. Always a change: the record is written (its updatedAt moves) either way.
 */
export function changeOnEnd(job: JobRecord, status: JobStatusValue, error?: JobError): Partial<JobRecord> {
  if (isFinal(job.status)) return error && !job.error ? { error } : {};
  return { status, ...leaveQueue(job), ...(error ? { error } : {}) };
}

/** A final peer message (job_complete / job_failed over signaling) as an end of the job. */
export type PeerEnd = { type: 'job_complete'; completion: JobCompletion } | { type: 'job_failed'; error: JobError };

/**
 * The change a final peer message makes to a job not final yet (a final one ignores it: the
 * DataChannel, which says more, got there first).
 */
export function changeOnPeerEnd(job: JobRecord, end: PeerEnd): JobRecordChange {
  if (isFinal(job.status)) return undefined;
  if (end.type === 'job_complete') return { model: end.completion, ...changeOnEnd(job, 'completed') };
  return changeOnEnd(job, failedStatus(end.error), end.error);
}

/** The answer to a job_request, as the job's next step. */
export type RequestOutcome = { accepted: true; position?: number } | { accepted: false; reason: string; workerCode: string };

/**
 * A worker's job_response: accepted, or refused with its reason. A `duplicate_job` refusal means
 * an earlier try of this same request got through (the job runs): it counts as accepted. The
 * worker's code is the reason's leading `snake_case` word (`busy: ...` -> busy), else `refused`.
 */
export function requestOutcome(r: { accepted: boolean; reason?: string; position?: number }): RequestOutcome {
  if (r.accepted) return { accepted: true, ...(r.position !== undefined ? { position: r.position } : {}) };
  if (r.reason?.startsWith('duplicate_job')) return { accepted: true };
  const reason = r.reason ?? 'no reason given';
  return { accepted: false, reason, workerCode: /^([a-z_]+)(:|$)/.exec(reason)?.[1] ?? 'refused' };
}

/**
 * The change of a worker's acceptance: a queued job becomes accepted, or stays queued at the
 * worker's `position` when the worker put it in its queue (a later status stays).
 */
export function changeOnAccept(job: Pick<LedgerJob, 'status'>, position?: number): Pick<LedgerJob, 'accepted'> & Partial<Pick<LedgerJob, 'status' | 'queuePosition'>> {
  if (job.status !== 'queued') return { accepted: true };
  return position === undefined ? { accepted: true, status: 'accepted' } : { accepted: true, queuePosition: position };
}

/** The API's view of a job; `lastSeq` is given while the agent follows the job. */
export function jobView(j: LedgerJob, lastSeq?: number): JobView {
  return {
    id: j.id,
    status: j.status,
    dataset: j.dataset,
    ...(j.datasetRef ? { dataset_s3_path: j.datasetRef.path } : {}),
    ...(j.uploadId ? { upload_id: j.uploadId } : {}),
    ...(j.worker ? { worker: j.worker } : {}),
    ...(j.status === 'queued' && j.queuePosition !== undefined ? { queue_position: j.queuePosition } : {}),
    ...(j.resubmit ? { resubmitted: true } : {}),
    created_at: j.createdAt,
    updated_at: j.updatedAt,
    ...(lastSeq !== undefined ? { last_seq: lastSeq } : {}),
    ...(j.model ? { model: j.model } : {}),
    ...(j.error ? { error: j.error } : {}),
  };
}
