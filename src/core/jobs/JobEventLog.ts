import { Emitter, rethrow } from '../Emitter.js';
import type { DataChannelMessage, ProgressEvent } from '../schemas/datachannel.js';
import type { JobStatusValue } from '../schemas/jobs.js';

/** The DataChannel messages that carry a job's history; each has the job's next `seq`. */
export type JobEvent = Extract<DataChannelMessage, { type: 'status' | 'progress' | 'job_complete' | 'job_failed' }>;
export type JobCompletion = Pick<Extract<JobEvent, { type: 'job_complete' }>, 'model_id' | 's3_path' | 'metrics'>;
export type JobError = { code: string; message: string };

/** Final statuses: after one of them only `job_complete` or `job_failed` may follow. */
export const FINAL_STATUSES: ReadonlySet<JobStatusValue> = new Set(['completed', 'stopped', 'cancelled', 'failed']);

/** Where a JobEventLog keeps its events (seq 1, 2, 3, ... appended in order). */
export interface JobEventStore {
  append(e: JobEvent): void;
  /** Every event with seq > `seq`, in order; read synchronously, one at a time. */
  after(seq: number): Iterable<JobEvent>;
  /** Frees what the store holds (a file, buffers); the log is not used afterwards. */
  close?(): void;
}

/** All events in memory: for short histories and tests. */
export class MemoryEventStore implements JobEventStore {
  private readonly events: JobEvent[] = [];
  append(e: JobEvent): void {
    this.events.push(e);
  }
  after(seq: number): JobEvent[] {
    return this.events.slice(Math.max(0, Math.floor(seq)));
  }
}

/**
 * A job's events in order, numbered from 1 by `seq` (from `seqBase` + 1 for a job resubmitted
 * after a worker restart: the client's history goes on where it was; the store still holds
 * them as 1, 2, 3, ... and the log shifts them on the way in and out). The worker appends; every connection of a
 * client replays `after(its last seq)` and then follows `onAppend`, so a client that reconnects
 * gets each event it missed exactly once. The log is finished once `job_complete` or
 * `job_failed` was appended; appending after that is a programming error.
 */
export class JobEventLog {
  private count = 0;
  // A follower's failure is the appender's, as before: rethrown, not swallowed.
  private readonly appended = new Emitter<JobEvent>(rethrow);
  private _status: JobStatusValue | undefined;
  private _finished = false;

  constructor(
    readonly jobId: string,
    private readonly now: () => number = Date.now,
    private readonly store: JobEventStore = new MemoryEventStore(),
    private readonly seqBase = 0,
  ) {}

  get lastSeq(): number {
    return this.seqBase + this.count;
  }
  get status(): JobStatusValue | undefined {
    return this._status;
  }
  /** True once job_complete or job_failed was appended. */
  get finished(): boolean {
    return this._finished;
  }

  /** `position`: a queued job's place in the worker's queue. */
  appendStatus(status: JobStatusValue, message?: string, position?: number): JobEvent {
    this._status = status;
    return this.push({ type: 'status', job_id: this.jobId, seq: this.nextSeq(), status, ...(message === undefined ? {} : { message }), ...(position === undefined ? {} : { position }), t: this.now() });
  }

  appendProgress(data: ProgressEvent): JobEvent {
    return this.push({ type: 'progress', job_id: this.jobId, seq: this.nextSeq(), data, t: this.now() });
  }

  appendComplete(c: JobCompletion): JobEvent {
    const e = this.push({ type: 'job_complete', job_id: this.jobId, seq: this.nextSeq(), model_id: c.model_id, s3_path: c.s3_path, metrics: c.metrics });
    this._finished = true;
    return e;
  }

  appendFailed(error: JobError): JobEvent {
    const e = this.push({ type: 'job_failed', job_id: this.jobId, seq: this.nextSeq(), error: { code: error.code, message: error.message } });
    this._finished = true;
    return e;
  }

  /** Every event with seq > `seq`, in order. */
  after(seq: number): JobEvent[] {
    return [...this.stored(seq)];
  }

  /** Called synchronously for every event appended from now on. */
  onAppend(listener: (e: JobEvent) => void): () => void {
    return this.appended.event(listener);
  }

  /**
   * Replays `after(seq)` to `listener`, then follows new events, with no gap and no duplicate.
   * With `replay`, the events missed are handed over as one iterable instead (to be sent at the
   * reader's pace: a long history is then read from its store as it goes out, never all held).
   */
  follow(seq: number, listener: (e: JobEvent) => void, replay?: (missed: Iterable<JobEvent>) => void): () => void {
    const missed = this.stored(seq);
    if (replay) replay(missed);
    else for (const e of missed) listener(e);
    return this.onAppend(listener);
  }

  /** Frees the store (its file, if any); the log is not used afterwards. */
  close(): void {
    this.appended.dispose();
    this.store.close?.();
  }

  private nextSeq(): number {
    if (this._finished) throw new Error(`job ${this.jobId} has finished: no more events`);
    return this.seqBase + this.count + 1;
  }

  /** The store's events after `seq`, numbered as clients see them. */
  private stored(seq: number): Iterable<JobEvent> {
    const base = this.seqBase;
    if (base === 0) return this.store.after(seq);
    const inner = this.store.after(Math.max(0, seq - base));
    return {
      *[Symbol.iterator]() {
        for (const e of inner) yield { ...e, seq: e.seq + base };
      },
    };
  }

  private push(e: JobEvent): JobEvent {
    this.store.append(this.seqBase === 0 ? e : { ...e, seq: e.seq - this.seqBase });
    this.count++;
    this.appended.fire(e);
    return e;
  }
}
