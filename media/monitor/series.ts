/**
 * A run's points, built incrementally from its JobEvents: train and validation loss per epoch,
 * batch loss per global step (the running count of batch_end events), learning rate per epoch;
 * each point with its seq, epoch, batch, step and worker wall time. Pure (no DOM): the webview
 * draws from it, node tests drive it.
 *
 * Each seq is kept once (SeqSet), so pages that overlap (history, live, a replay after an agent
 * restart) never duplicate a point. Events newer than everything held are appended; older ones
 * that fill a gap are merged in seq order and the steps and epoch-axis positions recomputed.
 */
import type { JobEvent } from '../../src/core/jobs/JobEventLog.js';
import { EpochLog, type RunStats } from './EpochLog.js';
import { BATCH_LOSS_KEYS, EPOCH_TRAIN_KEYS, EPOCH_VAL_KEYS, LR_KEYS, pick } from '../../src/core/monitor/metrics.js';
import { PointBuffer, type PointInput } from './PointBuffer.js';
import { SeqSet } from './seqSet.js';

export type SeriesKind = 'train' | 'val' | 'batch';
export const SERIES_KINDS: readonly SeriesKind[] = ['train', 'val', 'batch'];

/** Batches per epoch, as known so far: `count` the most seen, `denom` what x positions used. */
interface EpochBatches {
  count: number;
  denom: number;
  ended: boolean;
}

export class RunSeries {
  readonly seen = new SeqSet();
  readonly train = new PointBuffer(256);
  readonly val = new PointBuffer(256);
  readonly batch = new PointBuffer(4096);
  readonly lr = new PointBuffer(256);
  readonly epochs: EpochLog;
  /** Earliest worker time seen: the origin of the time axis. */
  t0?: number;
  private readonly batches = new Map<number, EpochBatches>();
  /** Bumped on every change that moves x positions (a merge, an epoch's batch count settling). */
  xRevision = 0;

  constructor(
    readonly jobId: string,
    opts: { maxEpochs?: number } = {},
  ) {
    this.epochs = new EpochLog(opts.maxEpochs);
  }

  buffer(kind: SeriesKind): PointBuffer {
    return kind === 'train' ? this.train : kind === 'val' ? this.val : this.batch;
  }

  /** Points held (train + val + batch). */
  get points(): number {
    return this.train.length + this.val.length + this.batch.length;
  }
  get lastSeq(): number {
    return this.seen.max;
  }

  stats(now?: number): RunStats {
    return this.epochs.stats(now);
  }

  /** Adds the events not seen yet; returns how many were new. */
  add(events: readonly JobEvent[]): number {
    const sorted = isSorted(events) ? events : [...events].sort((a, b) => a.seq - b.seq);
    const late: Record<'train' | 'val' | 'batch' | 'lr', PointInput[]> = { train: [], val: [], batch: [], lr: [] };
    let added = 0;
    for (const e of sorted) {
      const newest = e.seq > this.seen.max;
      if (!this.seen.add(e.seq)) continue;
      added++;
      this.apply(e, newest ? undefined : late);
    }
    if (late.train.length + late.val.length + late.batch.length + late.lr.length > 0) this.mergeLate(late);
    return added;
  }

  private apply(e: JobEvent, late: Record<'train' | 'val' | 'batch' | 'lr', PointInput[]> | undefined): void {
    if (e.type === 'job_complete') return this.epochs.finish(e.seq, 'completed');
    if (e.type === 'job_failed') return this.epochs.finish(e.seq, 'failed');
    if (this.t0 === undefined || e.t < this.t0) this.t0 = e.t;
    if (e.type === 'status') return this.epochs.status(e.seq, e.t, e.status);
    const d = e.data;
    if (d.event === 'epoch_begin') return this.epochs.begin(d.epoch, e.t);
    if (d.event === 'batch_end') {
      const value = pick(d.logs, BATCH_LOSS_KEYS);
      if (value === undefined) return;
      const p: PointInput = { seq: e.seq, epoch: d.epoch, batch: d.batch, step: this.batch.length + 1, t: e.t, value };
      if (late) late.batch.push(p);
      else this.pushBatch(p);
      return;
    }
    if (d.event === 'epoch_end') {
      const train = pick(d.logs, EPOCH_TRAIN_KEYS);
      const val = pick(d.logs, EPOCH_VAL_KEYS);
      const lr = pick(d.logs, LR_KEYS);
      this.epochs.end(d.epoch, e.seq, e.t, { train, val, lr });
      const base = { seq: e.seq, epoch: d.epoch, batch: -1, step: this.batch.length, t: e.t };
      for (const [kind, value] of [['train', train], ['val', val], ['lr', lr]] as const) {
        if (value === undefined) continue;
        if (late) late[kind].push({ ...base, value });
        else this[kind].push({ ...base, value }, d.epoch + 1);
      }
      if (!late) this.settleEpoch(d.epoch);
    }
  }

  private pushBatch(p: PointInput): void {
    let b = this.batches.get(p.epoch);
    if (!b) {
      const prev = this.batches.get(p.epoch - 1);
      b = { count: 0, denom: Math.max(prev?.count ?? 1, p.batch + 1), ended: false };
      this.batches.set(p.epoch, b);
    }
    b.count = Math.max(b.count, p.batch + 1);
    if (b.count > b.denom) {
      // The running epoch has more batches than guessed: double the guess (amortised O(1)).
      let denom = b.denom;
      while (denom < b.count) denom *= 2;
      this.setEpochDenom(p.epoch, b, denom);
    }
    this.batch.push(p, xOf(p.epoch, p.batch, b.denom));
  }

  /** An epoch ended: its batch count is final, so its batch points sit exactly in [epoch, epoch + 1). */
  private settleEpoch(epoch: number): void {
    const b = this.batches.get(epoch);
    if (!b) return;
    b.ended = true;
    if (b.count !== b.denom) this.setEpochDenom(epoch, b, b.count);
  }

  private setEpochDenom(epoch: number, b: EpochBatches, denom: number): void {
    b.denom = denom;
    const buf = this.batch;
    // Usually the tail; scan back while the epoch matches (points of one epoch are contiguous).
    for (let i = buf.length - 1; i >= 0 && buf.epoch[i] >= epoch; i--) {
      if (buf.epoch[i] === epoch) buf.xEpoch[i] = xOf(epoch, buf.batch[i], denom);
    }
    this.xRevision++;
  }

  /** Older events that filled a gap: merge them, then recompute steps and epoch-axis x. */
  private mergeLate(late: Record<'train' | 'val' | 'batch' | 'lr', PointInput[]>): void {
    if (late.batch.length > 0) {
      const from = this.batch.merge(late.batch);
      for (let i = from; i < this.batch.length; i++) this.batch.step[i] = i + 1;
    }
    for (const kind of ['train', 'val', 'lr'] as const) {
      const buf = this[kind];
      if (late[kind].length > 0) buf.merge(late[kind]);
      // Steps of epoch points: the batch_ends before them (few points: one search each).
      for (let i = 0; i < buf.length; i++) {
        buf.step[i] = this.batch.lowerBound(buf.seq[i]);
        buf.xEpoch[i] = buf.epoch[i] + 1;
      }
    }
    this.recomputeBatchX();
  }

  private recomputeBatchX(): void {
    const buf = this.batch;
    const counts = new Map<number, number>();
    for (let i = 0; i < buf.length; i++) counts.set(buf.epoch[i], Math.max(counts.get(buf.epoch[i]) ?? 0, buf.batch[i] + 1));
    for (const [epoch, count] of counts) {
      const ended = this.epochs.hasEnded(epoch);
      this.batches.set(epoch, { count, ended, denom: ended ? count : Math.max(count, counts.get(epoch - 1) ?? 0) });
    }
    for (let i = 0; i < buf.length; i++) buf.xEpoch[i] = xOf(buf.epoch[i], buf.batch[i], this.batches.get(buf.epoch[i])!.denom);
    this.xRevision++;
  }
}

/** Batch `batch` of `epoch` ends at epoch + (batch + 1) / batches: the epoch's point sits at epoch + 1. */
function xOf(epoch: number, batch: number, denom: number): number {
  return epoch + (batch + 1) / Math.max(1, denom);
}

function isSorted(events: readonly JobEvent[]): boolean {
  for (let i = 1; i < events.length; i++) if (events[i].seq < events[i - 1].seq) return false;
  return true;
}
