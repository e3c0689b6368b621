import { Emitter } from '../Emitter.js';
import { AppError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { AppMessage, CloseReason, OutgoingMessage } from '../rtc/RtcLink.js';
import type { JobCommandName } from '../schemas/datachannel.js';
import type { JobStatusValue } from '../schemas/jobs.js';
import { commandMessage, PendingCommands, type CommandAck } from './commands.js';
import type { JobEvent } from './JobEventLog.js';

/** What a JobChannel needs of a link (RtcLink has it). */
export interface JobLink {
  sendJson(msg: OutgoingMessage): void;
  onMessage(listener: (m: AppMessage) => void): () => void;
  onClose(listener: (reason: CloseReason) => void): () => void;
}

export interface JobChannelOptions {
  /** Events up to this seq were seen already (e.g. by an earlier process). Default 0. */
  afterSeq?: number;
  /** How long command() waits for its ack. Default 10 s. */
  commandTimeoutMs?: number;
  log?: Logger;
}

type FinalEvent = Extract<JobEvent, { type: 'job_complete' | 'job_failed' }>;

/**
 * The client's view of one job over a DataChannel. `attach(link)` says hello with the last seq
 * seen, so after a reconnect the worker replays exactly what was missed; events are delivered in
 * seq order and never twice (duplicates are dropped, a gap asks for a replay). `command()` sends
 * pause/resume/stop/cancel and resolves with the worker's ack. Survives any number of links.
 */
export class JobChannel {
  private link: JobLink | undefined;
  private unsubs: Array<() => void> = [];
  private seq: number;
  private readonly history: JobEvent[] = [];
  private readonly received = new Emitter<JobEvent>((e) => this.log.warn('a job event listener threw', { error: String(e) }));
  private readonly pending = new PendingCommands();
  private readonly commandTimeoutMs: number;
  private readonly log: Logger;
  private _status: JobStatusValue | undefined;
  private _duplicates = 0;
  private settleDone!: (e: FinalEvent) => void;
  /** Resolves with job_complete or job_failed. */
  readonly done: Promise<FinalEvent>;

  constructor(
    readonly jobId: string,
    opts: JobChannelOptions = {},
  ) {
    this.seq = opts.afterSeq ?? 0;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 10_000;
    this.log = (opts.log ?? createLogger('jobs')).child('channel', { job_id: jobId });
    this.done = new Promise((resolve) => (this.settleDone = resolve));
  }

  get lastSeq(): number {
    return this.seq;
  }
  get status(): JobStatusValue | undefined {
    return this._status;
  }
  /** Events received through this channel, in order. */
  get events(): readonly JobEvent[] {
    return this.history;
  }
  /** Events that arrived a second time (after a replay) and were dropped. */
  get duplicatesDropped(): number {
    return this._duplicates;
  }

  /** Uses `link` from now on (the previous one is let go) and asks for every event after lastSeq. */
  attach(link: JobLink): void {
    this.detach();
    this.link = link;
    this.unsubs.push(
      link.onMessage((m) => this.onMessage(m)),
      link.onClose((reason) => {
        if (this.link !== link) return;
        this.detach();
        this.pending.rejectAll(new AppError('aborted', `the link closed (${reason}) before the command was acknowledged`));
      }),
    );
    this.hello();
  }

  /** Stops listening to the current link (it stays open). */
  detach(): void {
    for (const f of this.unsubs.splice(0)) f();
    this.link = undefined;
  }

  onEvent(listener: (e: JobEvent) => void): () => void {
    return this.received.event(listener);
  }

  /** The first event (already received or to come) satisfying `pred`. */
  waitFor(pred: (e: JobEvent) => boolean, timeoutMs = 10_000): Promise<JobEvent> {
    const seen = this.history.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const off = this.onEvent((e) => {
        if (!pred(e)) return;
        off();
        clearTimeout(timer);
        resolve(e);
      });
      const timer = setTimeout(() => {
        off();
        reject(new AppError('timeout', `job ${this.jobId}: no matching event within ${timeoutMs} ms (last seq ${this.seq}, status ${this._status})`));
      }, timeoutMs);
    });
  }

  /** Sends a command and resolves with its ack (ok or not); rejects on timeout or when the link closes. */
  async command(command: JobCommandName, opts: { timeoutMs?: number } = {}): Promise<CommandAck> {
    if (!this.link) throw new AppError('conflict', `job ${this.jobId}: no link attached to send ${command}`);
    const msg = commandMessage(this.jobId, command);
    const ack = this.pending.expect(msg.command_id, `${command} for job ${this.jobId}`, opts.timeoutMs ?? this.commandTimeoutMs);
    try {
      this.link.sendJson(msg);
    } catch (e) {
      this.pending.settle({ type: 'command_ack', job_id: this.jobId, command_id: msg.command_id, ok: false, error: 'not_sent' });
      throw e;
    }
    return ack;
  }

  private hello(): void {
    this.link?.sendJson({ type: 'hello', job_id: this.jobId, after_seq: this.seq });
  }

  private onMessage(m: AppMessage): void {
    if (!('job_id' in m) || m.job_id !== this.jobId) return;
    if (m.type === 'command_ack') {
      if (!this.pending.settle(m)) this.log.debug('ack of no pending command', { command_id: m.command_id });
      return;
    }
    if (m.type !== 'status' && m.type !== 'progress' && m.type !== 'job_complete' && m.type !== 'job_failed') return;
    if (m.seq <= this.seq) {
      this._duplicates++;
      return;
    }
    if (m.seq > this.seq + 1) {
      this.log.warn('gap in job events: asking for a replay', { expected: this.seq + 1, got: m.seq });
      this.hello();
      return;
    }
    this.seq = m.seq;
    this.history.push(m);
    if (m.type === 'status') this._status = m.status;
    // The job's end is settled first: a listener that throws must not leave `done` hanging.
    if (m.type === 'job_complete' || m.type === 'job_failed') this.settleDone(m);
    this.received.fire(m);
  }
}
