import { JobChannel, type JobEvent } from '../../core/jobs/index.js';
import type { Logger } from '../../core/log.js';
import type { RtcLink } from '../../core/rtc/RtcLink.js';
import { JobHistory } from './JobHistory.js';

/**
 * A job the agent follows now: its JobChannel to the worker and its history file, kept in step.
 * Events are recorded in the order they come, each after the write that must precede it (the
 * ledger write of the record change it made), through one promise chain, `persisted`. What is
 * pending for the job (its release, a final peer message's wait) is set here once and cleared
 * when it is dropped.
 */
export class FollowedJob {
  readonly channel: JobChannel;
  readonly history: JobHistory;
  /** Events recorded so far: for each, the write it waits for, then the history append. */
  persisted: Promise<void> = Promise.resolve();
  /** The link the channel listens to (a new link re-attaches every job of its worker once). */
  link?: RtcLink;
  private readonly offs: Array<() => void> = [];
  private readonly timers: { release?: NodeJS.Timeout; peerEnd?: NodeJS.Timeout } = {};

  constructor(
    historyDir: string,
    readonly jobId: string,
    private readonly log: Logger,
    onEvent: (e: JobEvent) => void,
  ) {
    this.history = new JobHistory(historyDir, jobId);
    this.channel = new JobChannel(jobId, { afterSeq: this.history.lastSeq, log });
    this.offs.push(this.channel.onEvent(onEvent));
  }

  /** The last event this agent holds: received (channel) or recorded (history), whichever is later. */
  get lastSeq(): number {
    return Math.max(this.channel.lastSeq, this.history.lastSeq);
  }

  /** The channel listens to `link` and says hello with its last seq (the worker replays what is missing). */
  follow(link: RtcLink): void {
    this.link = link;
    this.channel.attach(link);
  }

  /** Appends `e` to the history once the events before it and `before` (if any) are done. */
  record(e: JobEvent, before?: () => Promise<void>): void {
    this.persisted = this.persisted.then(async () => {
      if (before) await before();
      this.append(e);
    });
  }

  /** Runs `fn` after `ms`, unless this job is dropped first; a second call while one waits is ignored. */
  later(what: 'release' | 'peerEnd', ms: number, fn: () => void): void {
    if (this.timers[what]) return;
    this.timers[what] = setTimeout(() => {
      this.timers[what] = undefined;
      fn();
    }, ms).unref();
  }

  /**
   * Runs `fn` once the channel has received no event for `ms`, unless this job is dropped first
   * (a second call while one waits is ignored). A channel still delivering is behind the worker
   * (a long replay after a re-attach): its last events, still to come, say more than `fn` knows.
   */
  whenQuiet(what: 'peerEnd', ms: number, fn: () => void): void {
    const seen = this.lastSeq;
    this.later(what, ms, () => (this.lastSeq > seen ? this.whenQuiet(what, ms, fn) : fn()));
  }

  /** Stops following; the history closes once what is being recorded is written. */
  drop(): Promise<void> {
    clearTimeout(this.timers.release);
    clearTimeout(this.timers.peerEnd);
    this.timers.release = this.timers.peerEnd = undefined;
    for (const f of this.offs.splice(0)) f();
    this.channel.detach();
    return this.persisted.then(() => this.history.close());
  }

  private append(e: JobEvent): void {
    const history = this.history;
    const wasWriting = !history.failure;
    try {
      history.append(e);
    } catch (err) {
      this.log.error('could not record a job event', { job_id: this.jobId, error: String(err) });
    }
    const failure = history.failure;
    if (wasWriting && failure) {
      this.log.warn('the job history file stopped taking events: they are kept in memory, and a restarted agent asks the worker again; free disk space under the data folder', { job_id: this.jobId, file: history.file, error: failure.message });
    }
  }
}
