import { AppError } from '../../../core/errors.js';
import type { TrainingConfig } from '../../../core/schemas/jobs.js';

/**
 * The builtin trainer's settings, read from sleap-nn's config sections where sleap-nn keeps
 * them, so one config drives either trainer. Defaults follow sleap-nn's where they make sense.
 */
export interface BuiltinSettings {
  maxEpochs: number;
  batchSize: number;
  /** Batches per epoch: `train_steps_per_epoch`, else max(ceil(train / batch), min_train_steps_per_epoch). */
  stepsPerEpoch?: number;
  minStepsPerEpoch: number;
  learningRate: number;
  optimizer: 'Adam' | 'SGD';
  validationFraction: number;
  seed: number;
  hiddenUnits: number;
  earlyStopping?: { patience: number; minDelta: number };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

export function builtinSettings(config: TrainingConfig): BuiltinSettings {
  const tc = obj(config.trainer_config);
  const dc = obj(config.data_config);
  const loader = obj(tc.train_data_loader);
  const es = obj(tc.early_stopping);
  const builtin = obj(obj(config.model_config).builtin);
  const optName = String(tc.optimizer_name ?? 'Adam');
  const s: BuiltinSettings = {
    maxEpochs: int(tc.max_epochs, 10, 'trainer_config.max_epochs', 1),
    batchSize: int(tc.batch_size ?? loader.batch_size, 4, 'trainer_config.batch_size', 1),
    stepsPerEpoch: tc.train_steps_per_epoch == null ? undefined : int(tc.train_steps_per_epoch, 1, 'trainer_config.train_steps_per_epoch', 1),
    minStepsPerEpoch: int(tc.min_train_steps_per_epoch, 200, 'trainer_config.min_train_steps_per_epoch', 0),
    learningRate: positive(obj(tc.optimizer).lr, 1e-3, 'trainer_config.optimizer.lr'),
    optimizer: /^sgd$/i.test(optName) ? 'SGD' : 'Adam',
    validationFraction: fraction(dc.validation_fraction, 0.1, 'data_config.validation_fraction'),
    seed: int(tc.seed, 42, 'trainer_config.seed', 0),
    hiddenUnits: int(builtin.hidden_units, 16, 'model_config.builtin.hidden_units', 1),
  };
  if (es.stop_training_on_plateau === true) {
    s.earlyStopping = { patience: int(es.patience, 5, 'trainer_config.early_stopping.patience', 1), minDelta: Math.max(0, Number(es.min_delta ?? 0) || 0) };
  }
  return s;
}

function int(v: unknown, fallback: number, name: string, min: number): number {
  if (v === undefined || v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new AppError('config_invalid', `${name} must be an integer >= ${min} (got ${JSON.stringify(v)})`);
  return n;
}

function positive(v: unknown, fallback: number, name: string): number {
  if (v === undefined || v === null) return fallback;
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new AppError('config_invalid', `${name} must be a positive number (got ${JSON.stringify(v)})`);
  return n;
}

function fraction(v: unknown, fallback: number, name: string): number {
  if (v === undefined || v === null) return fallback;
  const n = Number(v);
  if (!(n >= 0 && n < 1)) throw new AppError('config_invalid', `${name} must be in [0, 1) (got ${JSON.stringify(v)})`);
  return n;
}
