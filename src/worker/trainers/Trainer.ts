import type { ErrorCode } from '../../core/errors.js';
import type { ProgressEvent } from '../../core/schemas/datachannel.js';
import type { z } from 'zod';
import type { trainerKind, TrainingConfig } from '../../core/schemas/jobs.js';

export type TrainerKind = z.infer<typeof trainerKind>;

/**
 * One interface for every way the worker trains a model: the in-process `builtin` trainer,
 * sleap-nn as a child process speaking ZMQ, and any `command` printing JSON-lines progress.
 * Progress uses sleap-nn's event vocabulary (`progressEvent`), so the rest of the system never
 * knows which trainer ran.
 */

export interface TrainerJob {
  jobId: string;
  /** Local path of the labels file (.slp / .pkg.slp). */
  datasetPath: string;
  config: TrainingConfig;
  /** The run folder: the model and logs land here, and every file in it is an artifact. */
  outDir: string;
  /** Aborting it cancels the run. */
  signal: AbortSignal;
}

/** `training` and `paused` while running; the rest are final. */
export type TrainerStatus = 'training' | 'paused' | TrainerOutcome;
export type TrainerOutcome = 'completed' | 'stopped' | 'cancelled' | 'failed';

export interface TrainerResult {
  status: TrainerOutcome;
  /** From the last epoch: `epochs`, `train_loss`, `val_loss`, `best_val_loss`, `duration_sec` (finite values only). */
  metrics: Record<string, number>;
  /** Files in outDir, relative to it, sorted. A cancelled run leaves no model (*.ckpt) behind. */
  artifacts: string[];
  error?: { code: ErrorCode; message: string };
}

export interface TrainerRun {
  readonly jobId: string;
  readonly status: TrainerStatus;
  /**
   * Progress events, validated and with batch events throttled (at most one `batch_start` and
   * one `batch_end` per 50 ms by default). Nothing is emitted while paused. Trainers emit nothing
   * before start() has returned, so subscribing right after start() misses nothing.
   */
  onProgress(listener: (event: ProgressEvent) => void): () => void;
  onStatus(listener: (status: TrainerStatus, message?: string) => void): () => void;
  /** Resolves once paused: no progress is emitted until resume(). Rejects (conflict) after the run ended. */
  pause(): Promise<void>;
  /** Resolves once running again. Rejects (conflict) after the run ended. */
  resume(): Promise<void>;
  /** Stop early and keep the model. Resolves once training has stopped; `done` then says `stopped`. */
  stop(): Promise<void>;
  /** Stop now and keep no model. Resolves once the trainer is gone; `done` then says `cancelled`. */
  cancel(): Promise<void>;
  /** Never rejects: failures are a `failed` result with an error. */
  readonly done: Promise<TrainerResult>;
}

export interface Trainer {
  readonly kind: TrainerKind;
  start(job: TrainerJob): TrainerRun;
}
