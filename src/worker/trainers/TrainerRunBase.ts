import { Emitter } from '../../core/Emitter.js';
import { AppError, toAppError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/log.js';
import { progressEvent, type ProgressEvent } from '../../core/schemas/datachannel.js';
import { listArtifacts, removeModels } from './runFiles.js';
import type { TrainerJob, TrainerOutcome, TrainerResult, TrainerRun, TrainerStatus } from './Trainer.js';

export interface RunBaseOptions {
  logger?: Logger;
  /** Minimum spacing of emitted batch_start / batch_end events; default 50 ms (20/s). */
  batchIntervalMs?: number;
}

/**
 * What every trainer run shares: listeners, status, the pause gate (progress is held while
 * paused), batch-event throttling, metrics from epoch_end logs, and the final result. Subclasses
 * drive the training and implement the four do* hooks; pause/resume are applied one at a time,
 * stop and cancel act at once (a cancel never waits behind a slow stop).
 */
export abstract class TrainerRunBase implements TrainerRun {
  readonly jobId: string;
  readonly done: Promise<TrainerResult>;
  protected readonly job: TrainerJob;
  protected readonly log: Logger;
  /** Set by stop()/cancel(); a cancel overrides a stop. */
  protected requested: 'stop' | 'cancel' | undefined;

  private _status: TrainerStatus = 'training';
  private finished = false;
  private readonly progressE = new Emitter<ProgressEvent>((err) => this.log.warn('progress listener threw', { error: String(err) }));
  private readonly statusE = new Emitter<{ status: TrainerStatus; message?: string }>((e) => this.log.warn('status listener threw', { error: String(e) }));
  private holding = false;
  private held: ProgressEvent[] = [];
  private readonly batchIntervalMs: number;
  private lastBatchAt = { batch_start: Number.NEGATIVE_INFINITY, batch_end: Number.NEGATIVE_INFINITY };
  private invalidEvents = 0;
  private readonly metrics: Record<string, number> = {};
  private readonly startedAt = Date.now();
  private serial: Promise<unknown> = Promise.resolve();
  private stopPromise?: Promise<void>;
  private cancelPromise?: Promise<void>;
  private resolveDone!: (r: TrainerResult) => void;

  constructor(job: TrainerJob, opts: RunBaseOptions = {}) {
    this.job = job;
    this.jobId = job.jobId;
    this.log = (opts.logger ?? silentLogger).child('trainer', { job_id: job.jobId });
    this.batchIntervalMs = opts.batchIntervalMs ?? 50;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const onAbort = () => void this.cancel();
    if (job.signal.aborted) queueMicrotask(onAbort);
    else job.signal.addEventListener('abort', onAbort, { once: true });
    void this.done.then(() => job.signal.removeEventListener('abort', onAbort));
  }

  get status(): TrainerStatus {
    return this._status;
  }

  onProgress(listener: (event: ProgressEvent) => void): () => void {
    return this.progressE.event(listener);
  }

  onStatus(listener: (status: TrainerStatus, message?: string) => void): () => void {
    return this.statusE.event(({ status, message }) => listener(status, message));
  }

  pause(): Promise<void> {
    return this.inOrder(async () => {
      this.assertRunning('pause');
      if (this._status === 'paused' || this.requested) return;
      this.holding = true;
      await this.doPause();
      if (this.finished || this.requested) return;
      this.setStatus('paused');
    });
  }

  resume(): Promise<void> {
    return this.inOrder(async () => {
      this.assertRunning('resume');
      if (this._status !== 'paused' || this.requested) return;
      await this.doResume();
      this.release();
      this.setStatus('training');
    });
  }

  stop(): Promise<void> {
    if (this.finished || this.requested === 'cancel') return Promise.resolve();
    if (this.stopPromise) return this.stopPromise;
    this.requested = 'stop';
    this.log.info('stop requested');
    // A paused (or pausing) run is resumed to finish its batch and save the model.
    if (this.holding) this.release();
    if (this._status === 'paused') this.setStatus('training');
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  cancel(): Promise<void> {
    if (this.finished) return Promise.resolve();
    if (this.cancelPromise) return this.cancelPromise;
    this.requested = 'cancel';
    this.holding = true;
    this.held = [];
    this.log.info('cancel requested');
    this.cancelPromise = this.doCancel();
    return this.cancelPromise;
  }

  /** Pause the trainer; resolve when it has stopped producing work. */
  protected abstract doPause(): Promise<void>;
  protected abstract doResume(): Promise<void>;
  /**
   * Ask the trainer to stop early, resuming it first if it is paused or pausing; resolve when
   * training has stopped (the run may still be saving its model).
   */
  protected abstract doStop(): Promise<void>;
  /** Stop the trainer now, paused or not; resolve when it is gone. */
  protected abstract doCancel(): Promise<void>;

  /** Validates, throttles and delivers one progress event (dropped with a warning if invalid). */
  protected emitProgress(raw: unknown): void {
    if (this.finished) return;
    const parsed = progressEvent.safeParse(raw);
    if (!parsed.success) {
      if (this.invalidEvents++ < 5) this.log.warn('dropped a progress event that does not match the schema', { issue: parsed.error.issues[0]?.message });
      return;
    }
    const e = parsed.data;
    if (e.event === 'epoch_end') this.recordEpoch(e.epoch, e.logs);
    if (e.event === 'batch_start' || e.event === 'batch_end') {
      const now = performance.now();
      if (now - this.lastBatchAt[e.event] < this.batchIntervalMs) return;
      this.lastBatchAt[e.event] = now;
    }
    if (this.holding) {
      if (this.requested !== 'cancel') this.held.push(e);
      return;
    }
    this.deliver(e);
  }

  protected setStatus(status: TrainerStatus, message?: string): void {
    if (this._status === status && message === undefined) return;
    this._status = status;
    this.statusE.fire({ status, message });
  }

  /** Ends the run: a cancel removes models, then artifacts and metrics are collected. */
  protected async finish(outcome: TrainerOutcome, error?: unknown): Promise<void> {
    if (this.finished) return;
    const status: TrainerOutcome = this.requested === 'cancel' ? 'cancelled' : outcome;
    const err = status === 'failed' ? toAppError(error ?? new AppError('internal', 'the trainer failed without saying why')) : undefined;
    if (status !== 'cancelled') this.release();
    let artifacts: string[] = [];
    try {
      if (status === 'cancelled') await removeModels(this.job.outDir);
      artifacts = await listArtifacts(this.job.outDir);
    } catch (e) {
      this.log.warn('could not list the run folder', { error: String(e) });
    }
    this.finished = true;
    this.metrics.duration_sec = (Date.now() - this.startedAt) / 1000;
    const result: TrainerResult = {
      status,
      metrics: Object.fromEntries(Object.entries(this.metrics).filter(([, v]) => Number.isFinite(v))),
      artifacts,
      ...(err ? { error: { code: err.code, message: err.message } } : {}),
    };
    this.log.info('run finished', { status, ...(err ? { error: err.message } : {}) });
    this.setStatus(status, err?.message);
    this.resolveDone(result);
  }

  protected get isFinished(): boolean {
    return this.finished;
  }

  /** Read through a method so narrowing of `requested` does not survive an await. */
  protected wants(command: 'stop' | 'cancel'): boolean {
    return this.requested === command;
  }

  private recordEpoch(epoch: number, logs: Record<string, number>): void {
    const train = logs['train/loss'] ?? logs.train_loss ?? logs.loss;
    const val = logs['val/loss'] ?? logs.val_loss;
    this.metrics.epochs = epoch + 1;
    if (train !== undefined) this.metrics.train_loss = train;
    if (val !== undefined) {
      this.metrics.val_loss = val;
      this.metrics.best_val_loss = Math.min(this.metrics.best_val_loss ?? Number.POSITIVE_INFINITY, val);
    }
  }

  private release(): void {
    this.holding = false;
    const held = this.held;
    this.held = [];
    for (const e of held) this.deliver(e);
  }

  private deliver(e: ProgressEvent): void {
    this.progressE.fire(e);
  }

  private assertRunning(command: string): void {
    if (this.finished) throw new AppError('conflict', `cannot ${command} job ${this.jobId}: the run has already ended (${this._status})`);
  }

  private inOrder<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.serial.then(fn);
    this.serial = p.catch(() => undefined);
    return p;
  }
}
