import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { BuiltinTrainer } from './BuiltinTrainer.js';
import { CommandTrainer, type CommandOptions } from './CommandTrainer.js';
import { SleapNnTrainer, type SleapNnOptions } from './SleapNnTrainer.js';
import type { Trainer, TrainerKind } from './Trainer.js';

export { BuiltinTrainer, BUILTIN_CHECKPOINT_FORMAT } from './BuiltinTrainer.js';
export { CommandTrainer, type CommandOptions } from './CommandTrainer.js';
export { SleapNnTrainer, type SleapNnOptions } from './SleapNnTrainer.js';
export type { Trainer, TrainerJob, TrainerKind, TrainerOutcome, TrainerResult, TrainerRun, TrainerStatus } from './Trainer.js';

export interface TrainersConfig {
  logger?: Logger;
  sleapNn?: SleapNnOptions;
  /** Without it the worker offers no `command` trainer. */
  command?: CommandOptions;
}

/** The trainer for a job's `config.trainer`, configured from the worker's own config. */
export function createTrainer(kind: TrainerKind, cfg: TrainersConfig = {}): Trainer {
  switch (kind) {
    case 'builtin':
      return new BuiltinTrainer({ logger: cfg.logger });
    case 'sleap-nn':
      return new SleapNnTrainer({ logger: cfg.logger, ...cfg.sleapNn });
    case 'command':
      if (!cfg.command) throw new AppError('bad_request', 'this worker has no command trainer configured; use the builtin or sleap-nn trainer');
      return new CommandTrainer({ logger: cfg.logger, ...cfg.command });
  }
}
