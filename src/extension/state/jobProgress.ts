import type { JobEvent } from '../../core/jobs/index.js';

/** What the Jobs view and the status bar show of a running job, folded from its events. */
export interface JobProgress {
  epoch?: number;
  maxEpochs?: number;
  trainLoss?: number;
  valLoss?: number;
  batchLoss?: number;
  /** The last seq folded in: events at or below it are ignored (replays, history pages). */
  lastSeq: number;
}

type Logs = Record<string, number>;
/** sleap-nn and the builtin trainer name the same losses differently; the first key found wins. */
export const TRAIN_LOSS_KEYS = ['train/loss', 'train_loss', 'loss'];
export const VAL_LOSS_KEYS = ['val/loss', 'val_loss'];
export const BATCH_LOSS_KEYS = ['loss', 'train/loss', 'train_loss'];

export function pick(logs: Logs, keys: string[]): number | undefined {
  for (const k of keys) if (typeof logs[k] === 'number') return logs[k];
  return undefined;
}

/** Folds events (in seq order) into `p`; returns whether anything changed. */
export function foldProgress(p: JobProgress, events: Iterable<JobEvent>): boolean {
  let changed = false;
  for (const e of events) {
    if (e.seq <= p.lastSeq) continue;
    p.lastSeq = e.seq;
    if (e.type !== 'progress') continue;
    const d = e.data;
    if (d.event === 'epoch_begin') {
      p.epoch = d.epoch;
      changed = true;
    } else if (d.event === 'epoch_end') {
      p.epoch = d.epoch;
      p.trainLoss = pick(d.logs, TRAIN_LOSS_KEYS) ?? p.trainLoss;
      p.valLoss = pick(d.logs, VAL_LOSS_KEYS) ?? p.valLoss;
      changed = true;
    } else if (d.event === 'batch_end') {
      p.batchLoss = pick(d.logs, BATCH_LOSS_KEYS) ?? p.batchLoss;
      changed = true;
    }
  }
  return changed;
}

/** max_epochs as the trainers read it (builtin and sleap-nn default to 10 when unset). */
export function maxEpochsOf(config: { trainer_config?: Record<string, unknown> } | undefined): number | undefined {
  const m = config?.trainer_config?.max_epochs;
  return typeof m === 'number' ? m : config ? 10 : undefined;
}
