import type { JobEvent } from '../../../src/core/jobs/JobEventLog.js';
import type { JobStatusValue } from '../../../src/core/schemas/jobs.js';

/**
 * A synthetic training run's events, as the worker numbers them: statuses, train_begin, then per
 * epoch epoch_begin, batch_ends and epoch_end (train and validation loss falling, validation
 * lowest at `bestEpoch` and rising after it), ending with train_end unless `running`.
 * Deterministic: the "noise" is a fixed function of the step (tests compare exact values).
 */
export interface SyntheticRun {
  jobId?: string;
  epochs?: number;
  batchesPerEpoch?: number;
  /** sleap-nn's keys (batch `loss`, `train/lr`) or the builtin trainer's (batch `train/loss`, `learning_rate`). */
  vocabulary?: 'sleap-nn' | 'builtin';
  bestEpoch?: number;
  /** Worker clock of the first event, ms; each batch takes `batchMs`. */
  t0?: number;
  batchMs?: number;
  /** Stop after the last epoch_end with status training (no train_end, no final status). */
  running?: boolean;
}

export function valLossAt(epoch: number, bestEpoch: number): number {
  // Falls until bestEpoch, then rises (overfitting): the minimum is at bestEpoch only.
  return 0.5 / (1 + Math.min(epoch, bestEpoch)) + 0.02 * Math.max(0, epoch - bestEpoch) + 0.001;
}

export function syntheticRun(o: SyntheticRun = {}): JobEvent[] {
  const job_id = o.jobId ?? 'job-synthetic';
  const epochs = o.epochs ?? 20;
  const nb = o.batchesPerEpoch ?? 10;
  const best = o.bestEpoch ?? 13;
  const sleap = (o.vocabulary ?? 'sleap-nn') === 'sleap-nn';
  const batchMs = o.batchMs ?? 50;
  let t = o.t0 ?? 1_767_225_600_000;
  let seq = 0;
  const out: JobEvent[] = [];
  const status = (s: JobStatusValue) => out.push({ type: 'status', job_id, seq: ++seq, status: s, t });
  for (const s of ['queued', 'accepted', 'downloading', 'training'] as const) {
    status(s);
    t += 100;
  }
  out.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'train_begin', wandb_url: null }, t });
  let step = 0;
  for (let e = 0; e < epochs; e++) {
    out.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'epoch_begin', epoch: e }, t });
    let sum = 0;
    for (let b = 0; b < nb; b++) {
      step++;
      t += batchMs;
      const loss = 1 / (1 + step / nb) + 0.05 * Math.abs(Math.sin(step * 12.9898));
      sum += loss;
      out.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'batch_end', epoch: e, batch: b, logs: sleap ? { loss } : { 'train/loss': loss } }, t });
    }
    t += batchMs;
    const lr = 1e-3 * 0.95 ** e;
    const logs: Record<string, number> = sleap ? { 'train/loss': sum / nb, 'val/loss': valLossAt(e, best), 'train/lr': lr, 'train/time': (nb * batchMs) / 1000 } : { 'train/loss': sum / nb, 'val/loss': valLossAt(e, best), learning_rate: lr };
    out.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'epoch_end', epoch: e, logs }, t });
  }
  if (!o.running) {
    out.push({ type: 'progress', job_id, seq: ++seq, data: { event: 'train_end' }, t });
    status('uploading');
    t += 100;
    status('completed');
    out.push({ type: 'job_complete', job_id, seq: ++seq, model_id: 'm1', s3_path: 's3://b/models/m1', metrics: { best_val_loss: valLossAt(best, best) } });
  }
  return out;
}

/** `events` cut into pages of `size`, each overlapping the previous by `overlap` events. */
export function overlappingPages<T>(events: readonly T[], size: number, overlap: number): T[][] {
  const pages: T[][] = [];
  for (let i = 0; i < events.length; i += size - overlap) {
    pages.push(events.slice(i, i + size));
    if (i + size >= events.length) break;
  }
  return pages;
}
