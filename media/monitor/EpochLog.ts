/**
 * What a run's epochs say, for the numbers beside the chart: last losses, the best validation
 * epoch, mean epoch time and the ETA. Epochs are few (hundreds to thousands), so they live in a
 * Map keyed by epoch; every update is order-independent (pages may arrive out of order), and
 * stats are computed when asked (once per drawn frame at most).
 */
import type { JobStatusValue } from '../../src/core/schemas/jobs.js';

export interface EpochInfo {
  epoch: number;
  beginT?: number;
  endT?: number;
  /** seq of the epoch_end kept (a repeated epoch, e.g. after a restart, keeps the latest). */
  endSeq?: number;
  train?: number;
  val?: number;
  lr?: number;
}

export interface RunStats {
  status?: JobStatusValue;
  /** Epochs that ended. */
  epochsDone: number;
  /** The last epoch that ended (sleap-nn's 0-based index). */
  lastEpoch?: number;
  maxEpochs?: number;
  lastTrain?: number;
  lastVal?: number;
  lastLr?: number;
  /** The lowest validation loss (the train loss when the run has no validation at all); ties: the earliest. */
  best?: { epoch: number; value: number; by: 'val' | 'train' };
  epochsSinceBest?: number;
  /** Mean wall time of an epoch (epoch_end to epoch_end, the first from its epoch_begin), time paused left out. */
  meanEpochMs?: number;
  /** (max_epochs - epochs done) x mean epoch time, while the job has not ended. */
  etaMs?: number;
}

const FINAL: ReadonlySet<string> = new Set(['completed', 'stopped', 'cancelled', 'failed']);

export class EpochLog {
  private readonly epochs = new Map<number, EpochInfo>();
  /** Status changes by seq (few): for the latest status and the time spent paused. */
  private readonly statuses: { seq: number; t: number; status: JobStatusValue }[] = [];
  private finalSeq = 0;
  private finalStatus?: JobStatusValue;

  constructor(public maxEpochs?: number) {}

  private info(epoch: number): EpochInfo {
    let e = this.epochs.get(epoch);
    if (!e) this.epochs.set(epoch, (e = { epoch }));
    return e;
  }

  begin(epoch: number, t: number): void {
    const e = this.info(epoch);
    if (e.beginT === undefined || t < e.beginT) e.beginT = t;
  }

  end(epoch: number, seq: number, t: number, v: { train?: number; val?: number; lr?: number }): void {
    const e = this.info(epoch);
    if (e.endSeq !== undefined && e.endSeq > seq) return;
    e.endSeq = seq;
    e.endT = t;
    e.train = v.train;
    e.val = v.val;
    e.lr = v.lr;
  }

  hasEnded(epoch: number): boolean {
    return this.epochs.get(epoch)?.endT !== undefined;
  }

  status(seq: number, t: number, status: JobStatusValue): void {
    let i = this.statuses.length;
    while (i > 0 && this.statuses[i - 1].seq > seq) i--;
    this.statuses.splice(i, 0, { seq, t, status });
  }

  /** job_complete / job_failed (they carry no status of their own and no time). */
  finish(seq: number, status: JobStatusValue): void {
    if (seq > this.finalSeq) {
      this.finalSeq = seq;
      this.finalStatus = status;
    }
  }

  get latestStatus(): { seq: number; status: JobStatusValue } | undefined {
    const last = this.statuses[this.statuses.length - 1];
    if (this.finalStatus && (!last || this.finalSeq > last.seq)) return { seq: this.finalSeq, status: this.finalStatus };
    return last && { seq: last.seq, status: last.status };
  }

  /** The epoch with the lowest validation loss (train loss if none has one). */
  best(): RunStats['best'] {
    let best: RunStats['best'];
    const hasVal = [...this.epochs.values()].some((e) => isFiniteNumber(e.val));
    const by = hasVal ? 'val' : 'train';
    for (const e of this.epochs.values()) {
      const v = hasVal ? e.val : e.train;
      if (!isFiniteNumber(v)) continue;
      if (!best || v < best.value || (v === best.value && e.epoch < best.epoch)) best = { epoch: e.epoch, value: v, by };
    }
    return best;
  }

  /** Time spent paused within [a, b] (a pause still open counts up to `now`). */
  pausedWithin(a: number, b: number, now: number): number {
    let total = 0;
    for (let i = 0; i < this.statuses.length; i++) {
      if (this.statuses[i].status !== 'paused') continue;
      const start = this.statuses[i].t;
      const end = i + 1 < this.statuses.length ? this.statuses[i + 1].t : now;
      total += Math.max(0, Math.min(b, end) - Math.max(a, start));
    }
    return total;
  }

  stats(now = Date.now()): RunStats {
    const ended = [...this.epochs.values()].filter((e) => e.endT !== undefined).sort((a, b) => a.epoch - b.epoch);
    const last = ended[ended.length - 1];
    const status = this.latestStatus?.status;
    const best = this.best();
    let sum = 0;
    let count = 0;
    for (let i = 0; i < ended.length; i++) {
      const e = ended[i];
      const prev = i > 0 && ended[i - 1].epoch === e.epoch - 1 ? ended[i - 1] : undefined;
      const start = prev?.endT ?? e.beginT;
      if (start === undefined || e.endT === undefined || e.endT < start) continue;
      sum += e.endT - start - this.pausedWithin(start, e.endT, now);
      count++;
    }
    const meanEpochMs = count > 0 ? sum / count : undefined;
    const running = status === undefined || !FINAL.has(status);
    const done = ended.length;
    return {
      status,
      epochsDone: done,
      lastEpoch: last?.epoch,
      maxEpochs: this.maxEpochs,
      lastTrain: last?.train,
      lastVal: [...ended].reverse().find((e) => isFiniteNumber(e.val))?.val,
      lastLr: last?.lr,
      best,
      epochsSinceBest: best && last ? last.epoch - best.epoch : undefined,
      meanEpochMs,
      etaMs: running && meanEpochMs !== undefined && this.maxEpochs !== undefined ? Math.max(0, this.maxEpochs - done) * meanEpochMs : undefined,
    };
  }
}

function isFiniteNumber(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v);
}
